"""cocotb testbench: a long TaxoNN training run through the stream harness.

Parameters: ``job`` (a `sim.taxonn_host.training_job` whose inputs and labels
the harness already holds, see `sim.taxonn_stream`), ``report``. Loads the
parameters, starts the stream, waits once for the expected number of cycles,
then compares every step's cycles, prediction and checksum and the final
parameters with the golden model.
"""

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge, Timer, First

from sim.tb import host_read, PERIOD_NS, start_job, write_report
from sim.taxonn_host import check_training_step
from sim.taxonn_stream import unpack_result


@cocotb.test()
async def taxonn_stream(dut):
    params, job = await start_job(dut, ("mem_we", "run", "res_addr"))
    steps = len(job["labels"])
    assert set(job["checks"]) <= {str(steps - 1)}, "the stream harness reads the parameters at the end only"
    per_step = len(job["inputs"][0]) + 1 + job["expected_cycles"]  # writes, start, the step
    dut.n_steps.value = steps
    dut.run.value = 1
    await FallingEdge(dut.clk)
    dut.run.value = 0
    # one Timer for the whole run (mid-cycle, then back onto a falling edge), then a bounded wait
    await Timer(steps * per_step * PERIOD_NS + PERIOD_NS // 4, unit="ns")
    await FallingEdge(dut.clk)
    if not int(dut.done.value):
        await First(RisingEdge(dut.done), Timer(steps * 10 * per_step * PERIOD_NS, unit="ns"))
        assert int(dut.done.value) == 1, f"the stream of {steps} steps never finished"
        await FallingEdge(dut.clk)
    results = []
    for step in range(steps):
        dut.res_addr.value = step
        await FallingEdge(dut.clk)
        results.append(unpack_result(int(dut.res_word.value)))
    final = [{"w": await host_read(dut, lay["w_sel"], lay["w_words"]),
              "b": await host_read(dut, lay["b_sel"], lay["b_words"])} for lay in job["layout"]]
    problems = []
    for step, (pred, cycles, checksum) in enumerate(results):
        read = final if str(step) in job["checks"] else []
        problems.extend(check_training_step(job, step, pred, cycles, read, checksum))
    first = problems[0] if problems else None
    write_report(params, {"steps": steps, "mismatches": len(problems), "first_mismatch": first,
                          "cycles": [c for _, c, _ in results], "final_params": final})
    assert not problems, f"{len(problems)} mismatches; first: {first}"
