"""cocotb testbench modules and their shared helpers.

Testbench modules are imported inside the simulator process; they read their
parameters with `tb_params` (JSON passed by `sim.runner.run_cocotb`). The
``host_*`` coroutines drive the memory-mapped host interface of the
accelerators (``mem_sel``, ``mem_addr``, ``mem_wdata``, ``mem_we``,
``mem_rdata``, ``start``, ``done``), changing inputs on falling edges.
"""

import json
import os

__all__ = ["tb_params", "period_ns", "PERIOD_NS", "clock_and_reset", "host_write", "host_read", "host_run", "start_job",
           "write_report", "CocotbHost", "run_driver"]

PERIOD_NS = 10


def tb_params():
    """The parameters `run_cocotb` passed to this testbench."""
    return json.loads(os.environ.get("BITFORGE_TB_PARAMS", "{}"))


def period_ns():
    """The clock period: the ``period_ns`` parameter (a netlist simulated with its delays runs at its own
    clock), `PERIOD_NS` by default."""
    return tb_params().get("period_ns", PERIOD_NS)


async def clock_and_reset(dut, idle_inputs=()):
    """Start the clock, hold reset for two cycles with ``idle_inputs`` low."""
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge, RisingEdge
    # the clock toggles in cocotb's C++ layer, not in a Python coroutine (the default
    # without COCOTB_TRUST_INERTIAL_WRITES); safe here: inputs change on falling
    # edges, half a period away from the rising edges that sample them
    # the clock starts low, so no net of a gate-level netlist is clocked from x at time 0: every net is
    # known from the first time step, on Icarus as on Verilator (the same toggles on both)
    cocotb.start_soon(Clock(dut.clk, period_ns(), unit="ns", impl="gpi").start(start_high=False))
    from sim.drivers import HOST_INPUTS
    for name in dict.fromkeys(tuple(idle_inputs) + HOST_INPUTS):
        if hasattr(dut, name):
            getattr(dut, name).value = 0
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def start_job(dut, idle_inputs):
    """Read this run's parameters and its JSON ``job``, start clock and reset, perform the job's
    ``loads`` (host writes); return ``(params, job)``."""
    params = tb_params()
    with open(params["job"]) as f:
        job = json.load(f)
    await clock_and_reset(dut, idle_inputs)
    for sel, addr, data in job["loads"]:
        await host_write(dut, sel, addr, data)
    return params, job


def write_report(params, report):
    """Write ``report`` as JSON where the ``report`` parameter says, if it says."""
    if params.get("report"):
        with open(params["report"], "w") as f:
            json.dump(report, f)


async def host_write(dut, sel, addr, data):
    from cocotb.triggers import FallingEdge
    dut.mem_sel.value = sel
    dut.mem_addr.value = addr
    dut.mem_wdata.value = data
    dut.mem_we.value = 1
    await FallingEdge(dut.clk)
    dut.mem_we.value = 0


async def host_read(dut, sel, count):
    """Words 0 .. count-1 of memory ``sel``."""
    from cocotb.triggers import FallingEdge
    words = []
    for addr in range(count):
        dut.mem_sel.value = sel
        dut.mem_addr.value = addr
        await FallingEdge(dut.clk)
        words.append(int(dut.mem_rdata.value))
    return words


async def host_run(dut, bound_cycles, what, expected_cycles=None):
    """Pulse ``start`` and wait until the run is over; fail after ``bound_cycles``.

    With ``expected_cycles`` (the golden model's count) the wait is one
    `Timer` of that length, then ``busy`` and the sticky ``cycles`` output
    say whether the run ended (a shorter or longer run still shows up in
    ``cycles``); only a run still busy falls back to waiting for ``done``.
    A Timer costs the simulator nothing per cycle, unlike an edge trigger.
    """
    from cocotb.triggers import FallingEdge, RisingEdge, Timer, First
    dut.start.value = 1
    await FallingEdge(dut.clk)
    dut.start.value = 0
    if expected_cycles is not None:
        # land mid-cycle, then re-synchronize on a falling edge: a Timer that ends on an
        # edge's time step would let the next write's edge wait finish in that same step
        period = period_ns()
        await Timer((expected_cycles + 1) * period + period // 4, unit="ns")
        await FallingEdge(dut.clk)
        if not int(dut.busy.value):
            return
    await First(RisingEdge(dut.done), Timer(bound_cycles * period_ns(), unit="ns"))
    assert int(dut.done.value) == 1, f"{what}: done never rose within {bound_cycles} cycles"
    await FallingEdge(dut.clk)


class CocotbHost:
    """The host interface of `sim.drivers` on a cocotb ``dut``."""

    def __init__(self, dut):
        self.dut = dut

    def set(self, port, value):
        getattr(self.dut, port).value = value

    def get(self, port):
        return int(getattr(self.dut, port).value)

    async def write(self, sel, addr, data):
        await host_write(self.dut, sel, addr, data)

    async def read(self, sel, count):
        return await host_read(self.dut, sel, count)

    async def run(self, bound, what, expected_cycles=None):
        await host_run(self.dut, bound, what, expected_cycles)


async def run_driver(dut, driver, keep=()):
    """The whole cocotb test of a job: start it, run ``driver`` (`sim.drivers`), write the report (the
    mismatches, the first one, and the report's ``keep`` entries) and fail on any mismatch."""
    params, job = await start_job(dut, ())
    report = await driver(CocotbHost(dut), job)
    write_report(params, {"mismatches": report["mismatches"], "first_mismatch": report["first_mismatch"],
                          **{k: report[k] for k in keep}})
    assert not report["mismatches"], f"{report['mismatches']} mismatches; first: {report['first_mismatch']}"
