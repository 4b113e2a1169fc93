"""cocotb testbench: TaxoNN online-SGD training against the golden model.

Parameters: ``job``, a JSON job from `sim.taxonn_host.training_job`;
``report`` (optional). Per step: write the input, pulse ``start`` with
``train`` and ``label``, wait for ``done`` (one bounded trigger), check the
cycle count and prediction, and where the job has a check, read back every
weight and bias word and compare with the golden model.
"""

import json

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer, First

from sim.tb import tb_params
from sim.taxonn_host import check_training_step

PERIOD_NS = 10


@cocotb.test()
async def taxonn_training(dut):
    params = tb_params()
    with open(params["job"]) as f:
        job = json.load(f)
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.mem_we.value = 0
    dut.start.value = 0
    dut.train.value = 0
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    async def write(sel, addr, data):
        dut.mem_sel.value = sel
        dut.mem_addr.value = addr
        dut.mem_wdata.value = data
        dut.mem_we.value = 1
        await FallingEdge(dut.clk)
        dut.mem_we.value = 0

    async def read_all(sel, n):
        words = []
        for a in range(n):
            dut.mem_sel.value = sel
            dut.mem_addr.value = a
            await FallingEdge(dut.clk)
            words.append(int(dut.mem_rdata.value))
        return words

    for sel, addr, data in job["loads"]:
        await write(sel, addr, data)
    problems, cycles_seen, read = [], [], []
    bound_ns = (10 * job["expected_cycles"] + 100) * PERIOD_NS
    for step, (writes, label) in enumerate(zip(job["inputs"], job["labels"])):
        for sel, addr, data in writes:
            await write(sel, addr, data)
        dut.label.value = label
        dut.train.value = 1
        dut.start.value = 1
        await FallingEdge(dut.clk)
        dut.start.value = 0
        await First(RisingEdge(dut.done), Timer(bound_ns, unit="ns"))
        assert int(dut.done.value) == 1, f"step {step}: done never rose within {bound_ns // PERIOD_NS} cycles"
        await FallingEdge(dut.clk)
        pred, cycles, checksum = int(dut.pred.value), int(dut.cycles.value), int(dut.checksum.value)
        cycles_seen.append(cycles)
        read = []
        if str(step) in job["checks"]:
            for lay in job["layout"]:
                read.append({"w": await read_all(lay["w_sel"], lay["w_words"]),
                             "b": await read_all(lay["b_sel"], lay["b_words"])})
        problems.extend(check_training_step(job, step, pred, cycles, read, checksum))
    first = problems[0] if problems else None
    if params.get("report"):
        with open(params["report"], "w") as f:
            json.dump({"steps": len(job["labels"]), "mismatches": len(problems),
                       "first_mismatch": first, "cycles": cycles_seen, "final_params": read}, f)
    assert not problems, f"{len(problems)} mismatches; first: {first}"
