"""cocotb testbench: TaxoNN inference against the golden model (job from `sim.taxonn_host`).

Parameters: ``job``, the path of the JSON job; ``report`` (optional), where
the mismatch count and first divergence are written. Python only loads
memories and waits for ``done`` (one trigger per sample, bounded in time).
"""

import json

import cocotb

from sim.tb import tb_params, clock_and_reset, host_write, host_read, host_run
from sim.taxonn_host import check_inference


@cocotb.test()
async def taxonn_inference(dut):
    params = tb_params()
    with open(params["job"]) as f:
        job = json.load(f)
    await clock_and_reset(dut, ("mem_we", "start", "train"))
    for sel, addr, data in job["loads"]:
        await host_write(dut, sel, addr, data)
    results = []
    for s, writes in enumerate(job["inputs"]):
        for sel, addr, data in writes:
            await host_write(dut, sel, addr, data)
        await host_run(dut, 10 * job["expected_cycles"] + 100, f"sample {s}", job["expected_cycles"])
        pred, cycles = int(dut.pred.value), int(dut.cycles.value)
        words = await host_read(dut, job["out_sel"], job["out_words"])
        results.append((words, pred, cycles))
    mismatches, first = check_inference(job, results)
    if params.get("report"):
        with open(params["report"], "w") as f:
            json.dump({"samples": len(results), "mismatches": mismatches, "first_mismatch": first,
                       "cycles": [r[2] for r in results]}, f)
    assert mismatches == 0, f"{mismatches} mismatches; first: {first}"
