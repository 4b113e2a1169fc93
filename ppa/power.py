"""Gate-level power from a workload: toggle counts of the mapped netlist x Liberty energies.

`net_energies` gives each net of each module instance its energy per toggle:
the internal energy of the pins it drives and feeds (the library's
``internal_power`` tables, (rise + fall) / 2 at a nominal slew and the net's
load) plus the switching energy 1/2 C V^2 of the input pins on it (no wire
load: a lower bound). `analyze_vcd` streams a VCD of the netlist simulation
(`rtl.synth.Synthesis.write_sim_netlist`), adds each toggle's energy to its
cycle and block, counts the cycles each memory port is enabled, and labels
cycles by the design's ``busy`` (and ``phase``, if any) ports.

Zero-delay simulation has no glitches, so the dynamic figures are a lower
bound; every report says so.
"""

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from rtl.liberty import NOMINAL_SLEW_NS


__all__ = ["net_energies", "analyze_vcd", "Activity", "METHOD", "METHOD_VERSION"]

#: bumped whenever a change here changes any figure (keys the characterization cache)
METHOD_VERSION = 2

METHOD = (f"gate-level, zero-delay: toggles of every net of the synthesized netlist simulated on the workload "
          "(Icarus or Verilator VCD) x (Liberty internal energy per pin toggle, output pins at the net's load, "
          f"tables read at a {NOMINAL_SLEW_NS} ns input slew, related pins and when-conditions averaged + 1/2 C V^2 of the "
          "fan-out pin capacitance and the library's default wire-load capacitance; no glitches: a lower "
          "bound), plus cell leakage; memories as SRAM macros charged per enabled port cycle")


def net_energies(synth):
    """``{module: {net_bit: pJ per toggle}}`` for every module of the netlist.

    A net's energy per toggle: its load C (the fan-out pins' capacitances plus the wire capacitance of
    the library's default wire-load model for that fan-out) switched, C V^2 / 2; the internal energy
    of each driving pin read from its table at that load (`rtl.liberty.Pin.energy_at`); and the
    internal energy of each input pin on the net."""
    v2 = synth.library.voltage ** 2
    out = {}
    for _, module in synth.instances():
        if module in out:
            continue
        sinks, drivers = synth.net_loads(module)
        energies = {}
        for net in set(sinks) | set(drivers):
            pins = sinks.get(net, ())
            load = sum(p.capacitance for p in pins) + synth.library.wire_capacitance(len(pins))
            e = sum(p.energy for p in pins) + 0.5 * load * v2
            e += sum(p.energy_at(load) for p in drivers.get(net, ()))
            energies[net] = max(0.0, e)
        out[module] = energies
    return out


@dataclass
class Activity:
    """Per-cycle results of one VCD: energies in pJ."""
    blocks: list                        # block names, columns of `energy`
    energy: np.ndarray                  # (cycles, blocks) dynamic energy of the standard cells
    busy: np.ndarray                    # (cycles,) bool
    phase: np.ndarray                   # (cycles,) int: the design's phase port, or busy
    memories: list                      # memory descriptions (Synthesis.memories) in column order
    reads: np.ndarray                   # (cycles, memories) bool: read port enabled
    writes: np.ndarray                  # (cycles, memories) bool: a write enable set
    toggles: int = 0
    runs: list = field(default_factory=list)   # [(first, end)) cycle ranges with busy high

    @property
    def cycles(self):
        return len(self.busy)


def analyze_vcd(synth, vcd_path, *, top_scope=None, clock="clk", progress=None):
    """Stream ``vcd_path`` (a simulation of ``synth``'s netlist) into an `Activity`."""
    say = progress or (lambda message: None)
    energies = net_energies(synth)
    inst = dict(synth.instances())
    blocks = sorted({synth.block_of(p) for p in inst})
    block_index = {b: k for k, b in enumerate(blocks)}
    memories = synth.memories()

    # id code -> [(block column, energy)], and the ids of the nets we sample as levels
    cost = defaultdict(float)
    cost_block = {}
    level_ids = {}                      # id -> name of a sampled level ("clk", "busy", "phase", ("n", path, bit))
    top = top_scope or synth.top
    watched = {}                        # (path, bit) -> list of (memory column, kind)
    const_reads, const_writes = np.zeros(len(memories), bool), np.zeros(len(memories), bool)
    for k, mem in enumerate(memories):
        for kind, bits in (("r", mem["rd_en"]), ("w", mem["wr_en"])):
            for b in bits:
                if b == "1":
                    (const_reads if kind == "r" else const_writes)[k] = True
                elif isinstance(b, int):
                    watched.setdefault((mem["path"], b), []).append((k, kind))
    scope = []
    base = None
    with open(vcd_path, "r", errors="replace") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            head = parts[0]
            if head == "$scope":
                scope.append(parts[2])
                if base is None and parts[2] == top:
                    base = len(scope)
            elif head == "$upscope":
                scope.pop()
            elif head == "$var":
                ident, name = parts[3], parts[4]
                if base is None or len(scope) < base:
                    continue
                path = tuple(scope[base:])
                module = inst.get(path)
                if module is None:
                    continue
                if path == () and name in (clock, "busy", "phase"):
                    level_ids[ident] = name
                    continue
                if name[0] == "n" and name[1:].isdigit():
                    bit = int(name[1:])
                    e = energies[module].get(bit)
                    if e:
                        cost[ident] += e
                        cost_block[ident] = block_index[synth.block_of(path)]
                    if (path, bit) in watched:
                        level_ids.setdefault(ident, ("n", path, bit))
            elif head == "$enddefinitions":
                break
        if base is None:
            raise ValueError(f"{vcd_path}: no scope named {top!r}")
        say(f"reading toggles from {vcd_path}")
        watch_of = {ident: watched[(key[1], key[2])] for ident, key in level_ids.items() if isinstance(key, tuple)}
        level = {ident: 0 for ident in level_ids}
        energy_rows, busy_rows, phase_rows, read_rows, write_rows = [], [], [], [], []
        row = np.zeros(len(blocks))
        started = False
        toggles = 0
        clk_id = next((i for i, n in level_ids.items() if n == clock), None)
        busy_id = next((i for i, n in level_ids.items() if n == "busy"), None)
        phase_id = next((i for i, n in level_ids.items() if n == "phase"), None)
        if clk_id is None:
            raise ValueError(f"{vcd_path}: no clock {clock!r} in scope {top}")
        pending = []

        def close_cycle():
            nonlocal row
            energy_rows.append(row)
            row = np.zeros(len(blocks))
            busy_rows.append(level.get(busy_id, 0) if busy_id else 0)
            phase_rows.append(level.get(phase_id, 0) if phase_id else 0)
            r, w = const_reads.copy(), const_writes.copy()
            for ident, targets in watch_of.items():
                if level[ident]:
                    for k, kind in targets:
                        (r if kind == "r" else w)[k] = True
            read_rows.append(r)
            write_rows.append(w)

        def flush():
            nonlocal started, toggles
            if not pending:
                return
            rising = any(ident == clk_id and value == 1 for ident, value in pending)
            if rising:
                if started:
                    close_cycle()
                started = True
            for ident, value in pending:
                if ident in level:
                    level[ident] = value
                c = cost.get(ident)
                if c is not None and started:
                    row[cost_block[ident]] += c
                    toggles += 1
            pending.clear()

        for line in f:
            ch = line[0]
            if ch == "#":
                flush()
            elif ch in "01xz":
                ident = line[1:].strip()
                if ident in cost or ident in level:
                    pending.append((ident, 1 if ch == "1" else 0))
            elif ch == "b":
                value, ident = line[1:].split()
                if ident in level:
                    pending.append((ident, int(value.replace("x", "0").replace("z", "0"), 2)))
        flush()
    busy = np.array(busy_rows, dtype=bool)
    phase = np.array(phase_rows, dtype=np.int64) if phase_id else busy.astype(np.int64)
    runs, start = [], None
    for c, b in enumerate(busy):
        if b and start is None:
            start = c
        elif not b and start is not None:
            runs.append((start, c))
            start = None
    if start is not None:
        runs.append((start, len(busy)))
    return Activity(blocks=blocks, energy=np.array(energy_rows).reshape(len(busy), len(blocks)), busy=busy, phase=phase,
                    memories=memories, reads=np.array(read_rows, dtype=bool).reshape(len(busy), len(memories)),
                    writes=np.array(write_rows, dtype=bool).reshape(len(busy), len(memories)),
                    toggles=toggles, runs=runs)
