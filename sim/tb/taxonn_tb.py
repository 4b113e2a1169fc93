"""cocotb testbench: TaxoNN inference against the golden model (job from `sim.taxonn_host`).

Parameters: ``job``, the path of the JSON job; ``report`` (optional), where
the mismatch count and first divergence are written. Python only loads
memories and waits for ``done`` (one trigger per sample, bounded in time).
"""

import json

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer, First

from sim.tb import tb_params
from sim.taxonn_host import check_inference

PERIOD_NS = 10


@cocotb.test()
async def taxonn_inference(dut):
    params = tb_params()
    with open(params["job"]) as f:
        job = json.load(f)
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.mem_we.value = 0
    dut.start.value = 0
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

    for sel, addr, data in job["loads"]:
        await write(sel, addr, data)
    results = []
    bound_ns = (10 * job["expected_cycles"] + 100) * PERIOD_NS
    for s, writes in enumerate(job["inputs"]):
        for sel, addr, data in writes:
            await write(sel, addr, data)
        dut.start.value = 1
        await FallingEdge(dut.clk)
        dut.start.value = 0
        fired = await First(RisingEdge(dut.done), Timer(bound_ns, unit="ns"))
        assert fired is not None and int(dut.done.value) == 1, \
            f"sample {s}: done never rose within {bound_ns // PERIOD_NS} cycles"
        await FallingEdge(dut.clk)
        pred, cycles = int(dut.pred.value), int(dut.cycles.value)
        words = []
        for a in range(job["out_words"]):
            dut.mem_sel.value = job["out_sel"]
            dut.mem_addr.value = a
            await FallingEdge(dut.clk)
            words.append(int(dut.mem_rdata.value))
        results.append((words, pred, cycles))
    mismatches, first = check_inference(job, results)
    if params.get("report"):
        with open(params["report"], "w") as f:
            json.dump({"samples": len(results), "mismatches": mismatches, "first_mismatch": first,
                       "cycles": [r[2] for r in results]}, f)
    assert mismatches == 0, f"{mismatches} mismatches; first: {first}"
