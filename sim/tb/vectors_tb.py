"""cocotb testbench: drive a block with `sim.vectors` stimulus, one vector per cycle.

Parameters (from `run_cocotb(params=...)`): ``vectors``, the path of a JSON
file written by `Vectors.to_json`; ``signed``, per output port, whether to read
it as signed (default true); ``report`` (optional), a path where the count of
mismatches and the first divergence are written as JSON. Fails with the first
divergence.
"""

import json

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from sim.tb import tb_params
from sim.vectors import Vectors, compare_outputs


@cocotb.test()
async def check_vectors(dut):
    params = tb_params()
    with open(params["vectors"]) as f:
        vectors = Vectors(**json.load(f))
    n = len(vectors)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.valid.value = 0
    for port in vectors.inputs:
        getattr(dut, port).value = 0
    dut.rst.value = 1
    for _ in range(2):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    outputs = {port: [] for port in vectors.expected}
    signed = {port: getattr(dut, port) for port in vectors.expected}
    for i in range(n + vectors.latency + 1):
        # outputs now reflect the rising edge just past; inputs change mid-cycle
        if int(dut.y_valid.value):
            for port, handle in signed.items():
                outputs[port].append(handle.value.to_signed() if params.get("signed", {}).get(port, True)
                                     else handle.value.to_unsigned())
        for port, values in vectors.inputs.items():
            getattr(dut, port).value = values[i] if i < n else 0
        dut.valid.value = int(i < n)
        await FallingEdge(dut.clk)

    widths = {port: len(handle) for port, handle in signed.items()}
    mismatches, first = compare_outputs(vectors, outputs, widths)
    dut._log.info("%d vectors, %d mismatches", n, mismatches)
    if params.get("report"):
        with open(params["report"], "w") as f:
            json.dump({"vectors": n, "mismatches": mismatches, "first_mismatch": first}, f)
    assert mismatches == 0, f"{mismatches} mismatches; first: {first}"
