"""cocotb testbench: TaxoNN inference against the golden model (job from `sim.taxonn_host`).

Parameters: ``job``, the path of the JSON job; ``report`` (optional), where
the mismatch count and first divergence are written. Python only loads
memories and waits for ``done`` (one trigger per sample, bounded in time).
"""

import cocotb

from sim.tb import host_write, host_read, host_run, start_job, write_report
from sim.taxonn_host import check_inference


@cocotb.test()
async def taxonn_inference(dut):
    params, job = await start_job(dut, ("mem_we", "start", "train"))
    results = []
    for s, writes in enumerate(job["inputs"]):
        for sel, addr, data in writes:
            await host_write(dut, sel, addr, data)
        await host_run(dut, 10 * job["expected_cycles"] + 100, f"sample {s}", job["expected_cycles"])
        pred, cycles = int(dut.pred.value), int(dut.cycles.value)
        words = await host_read(dut, job["out_sel"], job["out_words"])
        results.append((words, pred, cycles))
    mismatches, first = check_inference(job, results)
    write_report(params, {"samples": len(results), "mismatches": mismatches, "first_mismatch": first,
                          "cycles": [r[2] for r in results]})
    assert mismatches == 0, f"{mismatches} mismatches; first: {first}"
