"""The compiled gate-level simulator (`ppa.native`): toggles against a count known by hand, and the same
count as Icarus's VCD for every net of a BT-LSTM lane and a TaxoNN unit on the same job."""

import shutil

import numpy as np
import pytest

from sim.runner import simulator_status


@pytest.fixture(scope="module")
def verilator():
    ok, message = simulator_status("verilator")
    if not ok:
        pytest.skip(message)


def _counter():
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    class Counter(wiring.Component):
        en: In(1)
        count: Out(5)

        def elaborate(self, platform):
            m = Module()
            with m.If(self.en):
                m.d.sync += self.count.eq(self.count + 1)
            return m

    return Counter()


async def _count(host, job):
    host.set("en", 1)
    host.fall(job["cycles"])
    host.set("en", 0)                                   # one idle cycle: only the clock moves at the end
    host.fall()
    return {"mismatches": 0, "first_mismatch": None, "count": host.get("count")}


def test_counter_toggles_and_time_high_by_hand(tools, verilator, tmp_path):
    """A 5-bit counter enabled for C cycles after reset, then idle for one: bit k toggles floor(C / 2**k)
    times; bit 0 is high for one 10 ns cycle in every two; the clock net toggles twice a cycle; one energy
    row per finished cycle, holding every toggle's energy but the unfinished last cycle's (the clock's)."""
    from ppa.native import native_activity
    from rtl.synth import synthesize
    synth = synthesize(_counter(), tools, top="top")
    cycles = 12
    act, report, info = native_activity(synth, _count, {"loads": [], "cycles": cycles}, build_root=tmp_path)
    assert report["count"] == cycles
    nets = {(s.var.scope, s.var.name): s.bits[0] for s in act.switching.signals}
    top = synth.modules["top"]["ports"]
    for k, net in enumerate(top["count"]["bits"]):
        assert nets[(("top",), f"n{net}")].tc == cycles // 2 ** k, f"count[{k}] (n{net})"
    # time: clock low at 0, reset over two rising edges (5, 15 ns), released at 20 ns; the counter's
    # rising edges at 25, 35, ... ns; the run ends at 20 + 10 (C + 1) ns. Bit 0 is high from edge 1 to 2,
    # 3 to 4, ... (C even: it ends low)
    bit0 = nets[(("top",), f"n{top['count']['bits'][0]}")]
    assert act.switching.end == (20 + 10 * (cycles + 1)) * 1000
    assert bit0.t1 == cycles // 2 * 10_000 and bit0.t0 == act.switching.end - bit0.t1
    clk = nets[(("top",), f"n{top['clk']['bits'][0]}")]
    assert clk.tc == 2 * (3 + cycles) and clk.t1 == (3 + cycles) * 5000
    assert nets[(("top",), f"n{top['en']['bits'][0]}")].tc == 2
    # rows: one per rising edge after the first (3 + C rising edges); the cycle the last edge starts is not
    # finished: its toggles (the idle cycle's clock rising and falling) are in no row
    assert act.cycles == 2 + cycles and act.energy.shape == (act.cycles, len(act.blocks))
    from ppa.power import net_energies
    per_toggle = net_energies(synth)["top"]
    energy = {s.var.name: per_toggle.get(int(s.var.name[1:]), 0.0) for s in act.switching.signals}
    total = sum(energy[s.var.name] * s.bits[0].tc for s in act.switching.signals)
    clock_nets = sum(energy[s.var.name] for s in act.switching.signals if s.bits[0].tc == clk.tc)
    assert act.energy.sum() == pytest.approx(total - 2 * clock_nets, rel=1e-12)
    assert info["build_s"] > 0 and info["nets"] == len(act.switching.signals)


def _lstm_lane_job():
    from models.lstm import LSTMConfig, LSTMGolden, random_weights
    from sim.lstm_host import lstm_job
    cfg = LSTMConfig(input_size=4, hidden=4, lanes=2, inputs_per_cycle=2, mode="ternary")
    rng = np.random.default_rng(7)
    golden = LSTMGolden(cfg, random_weights(cfg, rng))
    from accel.lstm import LSTM
    return LSTM(cfg), lstm_job(golden, rng.uniform(0, 1, (2, 3, 4))), "lstm", "sim.tb.lstm_tb", 1, 6


def _taxonn_unit_job():
    from models.datasets import load_digits
    from models.taxonn import TaxoNNConfig, TaxoNNGolden
    from sim.taxonn_host import training_job
    from accel.taxonn import TaxoNN
    cfg = TaxoNNConfig(layers=(64, 4, 10), pes=2)
    data = load_digits()
    job = training_job(TaxoNNGolden(cfg), data.x_train[:2], data.y_train[:2], check_every=2)
    return TaxoNN(cfg), job, "taxonn-training", "sim.tb.taxonn_train_tb", "cells", 2


@pytest.mark.parametrize("make", [_lstm_lane_job, _taxonn_unit_job], ids=["lstm-lane", "taxonn-unit"])
def test_verilator_and_icarus_count_the_same_toggles(tools, verilator, tmp_path, make):
    """One netlist, one job: Verilator's compiled run and Icarus's VCD give every net the same toggle count
    and the same time at 1, every cycle the same energy, busy and memory enables (the LSTM keeps its memories
    as memory cells: the memory model is in the comparison)."""
    from ppa.native import native_activity
    from ppa.power import analyze_vcd
    from rtl.synth import synthesize
    from sim.drivers import DRIVERS
    from sim.runner import run_job
    if shutil.which("iverilog") is None:
        pytest.skip("Icarus not found; install it with: apt-get install -y iverilog")
    component, job, driver, tb, memories, runs = make()
    synth = synthesize(component, tools, memories=memories)
    native, report, _ = native_activity(synth, DRIVERS[driver], job, build_root=tmp_path)
    assert report["mismatches"] == 0
    paths = synth.write_sim_netlist(tmp_path / "netlist")
    scopes = [".".join((synth.top,) + p) for p, _ in synth.instances()]
    result, tb_report = run_job(paths, job, tmp_path, sim="icarus", test_module=tb, name="gate-level", waves=True,
                                dump_scopes=scopes, build_root=tmp_path)
    assert result.passed and tb_report["mismatches"] == 0, result.summary()
    icarus = analyze_vcd(synth, result.vcd)
    depth = len(icarus.top_scope)
    ours = {(s.var.scope[1:], s.var.name): s.bits[0] for s in native.switching.signals}
    theirs = {(s.var.scope[depth:], s.var.name): s.bits[0] for s in icarus.switching.signals
              if s.var.name[0] == "n" and s.var.name[1:].isdigit()}       # nets, not the ports busy and clk
    assert set(ours) == set(theirs)
    differ = [(k, ours[k], theirs[k]) for k in sorted(ours) if ours[k] != theirs[k]]
    assert not differ, f"{len(differ)} nets differ; first: {differ[0]}"
    assert sum(b.tc for b in ours.values()) > 1000                    # a real workload, not a quiet one
    assert native.cycles == icarus.cycles and native.runs == icarus.runs and len(native.runs) == runs
    assert np.array_equal(native.busy, icarus.busy) and np.array_equal(native.phase, icarus.phase)
    assert np.array_equal(native.reads, icarus.reads) and np.array_equal(native.writes, icarus.writes)
    assert np.allclose(native.energy, icarus.energy, rtol=1e-12, atol=1e-12)
    assert native.toggles == icarus.toggles
    if memories != "cells":
        assert native.memories and native.reads.any() and native.writes.any()


def _wide_memory():
    """1024 words of 72 bits (73,728 bits: wider as one literal than Verilator takes), synchronous read."""
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from amaranth.lib.memory import Memory
    from amaranth.lib.wiring import In, Out

    class Wide(wiring.Component):
        addr: In(10)
        wdata: In(72)
        we: In(1)
        rdata: Out(72)

        def elaborate(self, platform):
            m = Module()
            m.submodules.mem = mem = Memory(shape=72, depth=1024, init=[])
            wr, rd = mem.write_port(), mem.read_port()
            m.d.comb += [wr.addr.eq(self.addr), wr.data.eq(self.wdata), wr.en.eq(self.we), rd.addr.eq(self.addr),
                         self.rdata.eq(rd.data)]
            return m

    return Wide()


async def _write_then_read(host, job):
    got = []
    for addr, word in job["words"]:
        host.set("addr", addr)
        host.fall()
        got.append(("before", addr, host.get("rdata")))  # a word not yet written: the memory starts at zero
        host.set("wdata", word)
        host.set("we", 1)
        host.fall()
        host.set("we", 0)
        host.fall()
        got.append(("after", addr, host.get("rdata")))
    return {"mismatches": 0, "first_mismatch": None, "got": got}


def test_a_kept_memory_wider_than_a_verilator_literal_builds_and_starts_at_zero(tools, verilator, tmp_path):
    """The simulation netlist gives an all-zero memory its contents as the integer 0, not as a
    words x width literal (a 12-bit H=64 LSTM's weight memory failed to build under Verilator)."""
    from ppa.native import native_activity
    from rtl.synth import synthesize
    synth = synthesize(_wide_memory(), tools, top="top")
    assert synth.memory_cells, "the memory should be kept as a memory cell"
    words = [(5, 2 ** 71 + 3), (1023, 2 ** 72 - 1), (0, 0x123456789ABCDEF)]
    _, report, _ = native_activity(synth, _write_then_read, {"loads": [], "words": words}, build_root=tmp_path)
    assert report["got"] == [r for a, w in words for r in (("before", a, 0), ("after", a, w))]
