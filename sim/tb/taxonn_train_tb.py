"""cocotb testbench: TaxoNN online-SGD training against the golden model.

Parameters: ``job``, a JSON job from `sim.taxonn_host.training_job`;
``report`` (optional). Per step: write the input, pulse ``start`` with
``train`` and ``label``, wait for ``done`` (one bounded trigger), check the
cycle count, prediction and parameter checksum, and where the job has a
check, read back every weight and bias word and compare with the golden model.
"""

import cocotb

from sim.tb import host_write, host_read, host_run, start_job, write_report
from sim.taxonn_host import check_training_step


@cocotb.test()
async def taxonn_training(dut):
    params, job = await start_job(dut, ("mem_we", "start", "train"))
    problems, cycles_seen, read = [], [], []
    for step, (writes, label) in enumerate(zip(job["inputs"], job["labels"])):
        for sel, addr, data in writes:
            await host_write(dut, sel, addr, data)
        dut.label.value = label
        dut.train.value = 1
        await host_run(dut, 10 * job["expected_cycles"] + 100, f"step {step}", job["expected_cycles"])
        pred, cycles, checksum = int(dut.pred.value), int(dut.cycles.value), int(dut.checksum.value)
        cycles_seen.append(cycles)
        read = []
        if str(step) in job["checks"]:
            for lay in job["layout"]:
                read.append({"w": await host_read(dut, lay["w_sel"], lay["w_words"]),
                             "b": await host_read(dut, lay["b_sel"], lay["b_words"])})
        problems.extend(check_training_step(job, step, pred, cycles, read, checksum))
    first = problems[0] if problems else None
    write_report(params, {"steps": len(job["labels"]), "mismatches": len(problems),
                          "first_mismatch": first, "cycles": cycles_seen, "final_params": read})
    assert not problems, f"{len(problems)} mismatches; first: {first}"
