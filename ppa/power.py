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

import re
from dataclasses import dataclass, field

import numpy as np

from rtl.liberty import NOMINAL_SLEW_NS
from rtl.synth import module_nets
from .activity import BitActivity, SignalActivity, SwitchingActivity, read_header, settled_steps


__all__ = ["net_energies", "analyze_vcd", "busy_runs", "Activity", "METHOD", "METHOD_VERSION"]

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
    switching: SwitchingActivity = None        # per-net T0/T1/TX/TZ/TC of the netlist's nets (for SAIF)
    accounting: dict = field(default_factory=dict)  # every net of the netlist: how it was counted
    top_scope: tuple = ()                      # the VCD scope of the netlist's top module

    @property
    def cycles(self):
        return len(self.busy)


ACCOUNTING = {
    "charged": "nets of the netlist in the VCD, toggles x energy per toggle",
    "no_cell_pins": "nets of the netlist that no standard-cell pin touches (memory and module ports only): no energy",
    "port_names": "VCD names of module ports: aliases of nets counted once under their net name",
    "outside": "VCD signals outside the netlist's module instances (testbench, cell and memory model internals)",
}


def _netlist_nets(synth):
    """``{instance path: set of net bits}`` of every module instance (ports and cell connections)."""
    return {path: module_nets(synth.modules[module]) for path, module in synth.instances()}


def analyze_vcd(synth, vcd_path, *, top_scope=None, clock="clk", clock_path=None, progress=None):
    """Stream ``vcd_path`` (a simulation of ``synth``'s netlist) into an `Activity`.

    Toggles follow `ppa.activity` (a change of a net's settled value between time steps from 0 to 1
    or 1 to 0; rewrites, events inside one time step and changes through x or z are not toggles).
    A time step with a rising ``clock`` starts a new cycle; its toggles belong to that cycle. Every
    net of the netlist is accounted for (`ACCOUNTING`); a net missing from the VCD, or a signal of a
    netlist instance that is neither a net nor a port, raises ValueError. ``clock_path``: the VCD scopes and
    name of the clock when the design has no clock port (a testbench's virtual clock)."""
    say = progress or (lambda message: None)
    energies = net_energies(synth)
    inst = dict(synth.instances())
    blocks = sorted({synth.block_of(p) for p in inst})
    block_index = {b: k for k, b in enumerate(blocks)}
    memories = synth.memories()
    top = top_scope or synth.top

    watched = {}                        # (path, bit) -> [(memory column, "r" | "w")]
    const_reads, const_writes = np.zeros(len(memories), bool), np.zeros(len(memories), bool)
    for k, mem in enumerate(memories):
        for kind, bits in (("r", mem["rd_en"]), ("w", mem["wr_en"])):
            for b in bits:
                if b == "1":
                    (const_reads if kind == "r" else const_writes)[k] = True
                elif isinstance(b, int):
                    watched.setdefault((mem["path"], b), []).append((k, kind))

    with open(vcd_path, "r", errors="replace") as f:
        header = read_header(f)
        base = None
        for decls in header.signals.values():
            for var in decls:
                if top in var.scope:
                    index = var.scope.index(top) + 1
                    base = index if base is None else min(base, index)
        if base is None:
            raise ValueError(f"{vcd_path}: no scope named {top!r}")
        cost, cost_block, levels, watch_of = {}, {}, {}, {}
        seen = {path: set() for path in inst}
        vars_of = {}                    # ident -> the VcdVar of the net (for SAIF)
        names = {"port_names": 0, "outside": 0}
        unmapped = []
        for ident, decls in header.signals.items():
            for var in decls:
                if clock_path is not None and var.scope + (var.name,) == tuple(clock_path):
                    levels[ident] = clock
                    continue
                path = var.scope[base:] if len(var.scope) >= base and var.scope[base - 1] == top else None
                module = inst.get(path) if path is not None else None
                if module is None:
                    names["outside"] += 1
                    continue
                name = var.name
                if path == () and name in (clock, "busy", "phase"):
                    levels[ident] = name
                    vars_of.setdefault(ident, var)
                    continue
                if name[0] == "n" and name[1:].isdigit() and var.width == 1:
                    bit = int(name[1:])
                    seen[path].add(bit)
                    vars_of.setdefault(ident, var)
                    e = energies[module].get(bit)
                    if e:
                        cost[ident] = cost.get(ident, 0.0) + e
                        cost_block[ident] = block_index[synth.block_of(path)]
                    if (path, bit) in watched:
                        watch_of[ident] = watched[(path, bit)]
                elif name in synth.modules[module]["ports"] or _port_name(name, synth.modules[module]["ports"]):
                    names["port_names"] += 1
                else:
                    unmapped.append(var.path)
        nets = _netlist_nets(synth)
        missing = [(p, b) for p, bits in nets.items() for b in sorted(bits - seen[p])]
        if unmapped:
            raise ValueError(f"{vcd_path}: {len(unmapped)} signals of the netlist's instances are neither nets nor "
                             f"ports (first: {unmapped[0]}): the activity cannot account for them")
        if missing:
            path, bit = missing[0]
            raise ValueError(f"{vcd_path}: {len(missing)} nets of the netlist are not in the VCD (first: n{bit} of "
                             f"{'.'.join((top,) + path)}): dump every netlist instance's own nets")
        charged = sum(1 for p, bits in nets.items() for b in bits if energies[inst[p]].get(b))
        accounting = {"charged": charged, "no_cell_pins": sum(map(len, nets.values())) - charged, **names}

        say(f"reading toggles from {vcd_path}")
        clk_id = next((i for i, n in levels.items() if n == clock), None)
        if clk_id is None:
            raise ValueError(f"{vcd_path}: no clock {clock!r} in scope {top}")
        busy_id = next((i for i, n in levels.items() if n == "busy"), None)
        phase_id = next((i for i, n in levels.items() if n == "phase"), None)
        tracked = set(vars_of)
        value = {ident: "x" for ident in tracked}
        since = {}
        spent = {ident: [0, 0, 0, 0] for ident in tracked}      # time at 0, 1, x, z
        toggled = {ident: 0 for ident in tracked}
        level_index = {"0": 0, "1": 1, "x": 2, "z": 3}
        energy_rows, busy_rows, phase_rows, read_rows, write_rows = [], [], [], [], []
        row = np.zeros(len(blocks))
        started = False
        toggles = 0
        first_time = last_time = None

        def number(ident):
            v = value.get(ident, "0")
            return int(v, 2) if v and set(v) <= {"0", "1"} else 0

        for time, changes in settled_steps(f, header):
            if first_time is None:
                first_time = time
                since = dict.fromkeys(tracked, time)       # every net is x until its first value
            last_time = time
            if any(ident == clk_id and v == "1" for ident, v in changes):
                if started:
                    energy_rows.append(row)
                    row = np.zeros(len(blocks))
                    busy_rows.append(number(busy_id) if busy_id else 0)
                    phase_rows.append(number(phase_id) if phase_id else 0)
                    r, w = const_reads.copy(), const_writes.copy()
                    for ident, targets in watch_of.items():
                        if value[ident] == "1":
                            for k, kind in targets:
                                (r if kind == "r" else w)[k] = True
                    read_rows.append(r)
                    write_rows.append(w)
                started = True
            for ident, v in changes:
                if ident not in tracked:
                    continue
                old = value[ident]
                if len(old) == 1:
                    spent[ident][level_index.get(old, 2)] += time - since[ident]
                since[ident], value[ident] = time, v
                if old in ("0", "1") and v in ("0", "1") and len(v) == 1:
                    toggled[ident] += 1
                    c = cost.get(ident)
                    if c is not None and started:
                        row[cost_block[ident]] += c
                        toggles += 1
    if first_time is None:
        raise ValueError(f"{vcd_path}: no time steps after the header")
    busy = np.array(busy_rows, dtype=bool)
    phase = np.array(phase_rows, dtype=np.int64) if phase_id else busy.astype(np.int64)
    runs = busy_runs(busy)
    signals = []
    for ident, var in vars_of.items():
        if var.width != 1:
            continue
        t = spent[ident]
        t[level_index.get(value[ident], 2)] += last_time - since[ident]
        signals.append(SignalActivity(var, (BitActivity(t0=t[0], t1=t[1], tx=t[2], tz=t[3], tc=toggled[ident]),)))
    switching = SwitchingActivity(timescale=header.timescale, start=first_time, end=last_time,
                                  signals=tuple(signals))
    scope = next(iter(vars_of.values())).scope[:base] if vars_of else (top,)
    return Activity(blocks=blocks, energy=np.array(energy_rows).reshape(len(busy), len(blocks)), busy=busy, phase=phase,
                    memories=memories, reads=np.array(read_rows, dtype=bool).reshape(len(busy), len(memories)),
                    writes=np.array(write_rows, dtype=bool).reshape(len(busy), len(memories)),
                    toggles=toggles, runs=runs, switching=switching, accounting=accounting, top_scope=scope)


def busy_runs(busy):
    """``[(first, end))`` cycle ranges where ``busy`` (a bool per cycle) is high."""
    runs, start = [], None
    for c, b in enumerate(busy):
        if b and start is None:
            start = c
        elif not b and start is not None:
            runs.append((start, c))
            start = None
    if start is not None:
        runs.append((start, len(busy)))
    return runs


def _port_name(name, ports):
    """Whether ``name`` is a VCD rendering of one of ``ports`` (sanitized or bit-selected)."""
    base = name.split("[")[0]
    return any(base == re.sub(r"\W", "_", p.lstrip("\\")) for p in ports)
