"""Static timing of a mapped netlist with OpenSTA: critical path, slack, fmax, slew and load checks.

`analyze_timing` takes a `rtl.synth.Synthesis`, writes an SDC (`write_sdc`)
and a Tcl script, runs ``sta`` (OpenSTA) in batch mode on the structural
Verilog netlist (`Synthesis.verilog_path`) and parses its text reports into a
`TimingReport`. `analyze_netlist` does the same for any Verilog netlist of
library cells.

What is timed and how:

- One clock on ``clock_port`` (rising edges, ideal: no clock tree, zero
  clock slew and latency). Inputs other than the clock arrive
  ``input_delay_ns`` after the edge, driven by the buffer synthesis assumed
  (`Synthesis.driving_cell`); outputs must be stable ``output_delay_ns``
  before the next edge and drive the load synthesis assumed. A design with no
  clock port (purely combinational) is timed against a virtual clock, so its
  input-to-output paths are its critical paths.
- Wires: the library's default wire-load model, as OpenSTA applies it
  (``wire_load="library"``), or none (``wire_load=None``: loads are the pin
  capacitances only).
- The critical path needs ``critical_path_ns = period - worst slack`` (data
  arrival + the endpoint's setup or output delay), so ``fmax_mhz`` does not
  depend on the period the design was constrained at.
- Design rules: max_transition from OpenSTA's ``report_check_types``; this
  2019 OpenSTA has no capacitance check, so each driver's load (pins + wire
  model, as OpenSTA computes it) is compared here with its pin's
  ``max_capacitance`` (or the library default).
- Memories kept as ``$mem_v2`` cells (``memories="keep"``) are instances of
  blackbox cells; a small generated Liberty (`write_memory_liberty`) gives each
  shape a clock-to-output delay and setup time, by default 0: memory timing is
  then not modelled, which `TimingReport.memories_timing` says.
"""

import gzip
import hashlib
import json
import math
import re
import shutil
import subprocess
from dataclasses import dataclass, asdict
from pathlib import Path
from typing import NamedTuple

from rtl.liberty import read_liberty
from rtl.synth import ToolNotFound, check_clock_mhz, library_timing, verilog_identifier

__all__ = ["find_sta", "sta_version", "write_sdc", "write_memory_liberty", "analyze_timing", "analyze_netlist",
           "TimingReport", "PathPoint", "STA_HINT", "DEFAULT_PERIOD_NS"]

STA_HINT = "sudo apt-get install -y opensta"
#: Period (ns) the design is constrained at when no clock is given; fmax comes from the slack, not from it.
DEFAULT_PERIOD_NS = 10.0
#: Names of violating pins kept in a report (worst first).
_KEEP_VIOLATORS = 10


def find_sta():
    """Path of OpenSTA's ``sta``; `ToolNotFound` with the install command when it is missing."""
    exe = shutil.which("sta")
    if exe is None:
        raise ToolNotFound(f"OpenSTA not found; install it with: {STA_HINT}")
    return exe


def sta_version(exe=None):
    """OpenSTA's version string, e.g. ``2.0.17``."""
    out = subprocess.run([exe or find_sta(), "-version"], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or out.stderr.strip()


class PathPoint(NamedTuple):
    """One pin of a timing path: its arrival, and the delay added since the previous point."""
    pin: str              # hierarchical pin name as OpenSTA prints it (a port: its name)
    cell: str             # library cell of the pin's instance ("in"/"out" for ports)
    incr_ns: float        # cell delay (at an output pin) or wire delay (at an input pin)
    arrival_ns: float
    edge: str             # "rise" or "fall"


@dataclass(frozen=True)
class TimingReport:
    """Static timing of one netlist at one constraint. Times in ns, capacitances in pF."""
    clock_mhz: float                  # the constraint analysed at
    period_ns: float
    critical_path_ns: float           # period - worst slack: the least period the worst path needs
    worst_slack_ns: float
    fmax_mhz: float                   # 1000 / critical_path_ns (inf when nothing is timed)
    startpoint: str
    endpoint: str
    endpoint_setup_ns: float          # period - data required time: the endpoint's setup or output delay
    blocks: tuple                     # first-level instances the critical path crosses, in order ("top": top cells)
    levels: int                       # cells on the critical path between its start and end points
    path: tuple                       # PathPoint of every pin of the critical path
    slew_violations: int              # pins over max_transition
    slew_violators: tuple             # their names, worst first (at most 10)
    capacitance_violations: int       # drivers over max_capacitance
    capacitance_violators: tuple      # their names, worst first (at most 10)
    clock: str                        # the clock port, or "virtual" (no clock port: combinational design)
    wire_load: str                    # the wire-load model used, or "none"
    memories_timing: str
    library: str
    tool: str

    def to_json(self):
        data = asdict(self)
        data["path"] = [p._asdict() for p in self.path]
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in data.items()}


# -- inputs for OpenSTA ---------------------------------------------------------------------------

def _tcl_name(name):
    return "{" + name + "}"


def write_sdc(path, *, clock_port, period_ns, input_delay_ns=0.0, output_delay_ns=0.0, driving_cell=None,
              load_pf=None):
    """Write an SDC: one clock of ``period_ns`` on ``clock_port`` (None: a virtual clock ``vclk``), every
    other input delayed by ``input_delay_ns`` and driven by ``driving_cell``, every output required
    ``output_delay_ns`` before the edge and loaded by ``load_pf``. Returns the path."""
    if clock_port is None:
        lines = [f"create_clock -name vclk -period {period_ns:.6f}"]
        clock, inputs = "vclk", "[all_inputs]"
    else:
        lines = [f"create_clock -name clk -period {period_ns:.6f} [get_ports {_tcl_name(clock_port)}]"]
        clock, inputs = "clk", f"[delete_from_list [all_inputs] [get_ports {_tcl_name(clock_port)}]]"
    lines += [f"set_input_delay {input_delay_ns:.6f} -clock {clock} {inputs}",
              f"set_output_delay {output_delay_ns:.6f} -clock {clock} [all_outputs]"]
    if driving_cell:
        lines.append(f"set_driving_cell -lib_cell {driving_cell} {inputs}")
    if load_pf is not None:
        lines.append(f"set_load {load_pf:.6f} [all_outputs]")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def _bus(name, width, direction, bit_groups):
    """A pin (width 1) or a bus of per-bit pins; ``bit_groups(i)`` gives bit i's timing groups."""
    if width == 1:
        return [f"    pin ({name}) {{", f"      direction : {direction};", "      capacitance : 0;",
                *bit_groups(0), "    }"]
    lines = [f"    bus ({name}) {{", f"      bus_type : bus{width};", f"      direction : {direction};",
             "      capacitance : 0;"]
    for i in range(width):
        lines += [f"      pin ({name}[{i}]) {{", *("  " + g for g in bit_groups(i)), "      }"]
    return lines + ["    }"]


def _pin_name(name, width, i):
    return name if width == 1 else f"{name}[{i}]"


def _memory_cell(name, shape, clk_to_q_ns, setup_ns):
    bits, abits = shape["WIDTH"], shape["ABITS"]
    rd, wr = shape["RD_PORTS"], shape["WR_PORTS"]

    def table(kind, value):
        return [f"        {kind} (scalar) {{ values (\"{value:.6f}\"); }}"]

    def arc(related, timing_type, tables):
        return ["      timing () {", f"        related_pin : \"{related}\";", f"        timing_type : {timing_type};",
                *tables, "      }"]

    def setup_to(clocks, clk_name, per_port):
        def groups(i):
            k = i // per_port
            if not clocks[k][0]:
                return []
            kind = "setup_rising" if clocks[k][1] else "setup_falling"
            return arc(clk_name(k), kind, table("rise_constraint", setup_ns) + table("fall_constraint", setup_ns))
        return groups

    rd_clocks = [((shape["RD_CLK_ENABLE"] >> k) & 1, (shape["RD_CLK_POLARITY"] >> k) & 1) for k in range(rd)]
    wr_clocks = [((shape["WR_CLK_ENABLE"] >> k) & 1, (shape["WR_CLK_POLARITY"] >> k) & 1) for k in range(wr)]

    def read_data(i):
        k = i // bits
        enabled, rising = rd_clocks[k]
        delay = table("cell_rise", clk_to_q_ns) + table("cell_fall", clk_to_q_ns) + \
            table("rise_transition", 0.0) + table("fall_transition", 0.0)
        if enabled:
            return arc(_pin_name("RD_CLK", rd, k), "rising_edge" if rising else "falling_edge", delay)
        if abits == 0:
            return []
        related = " ".join(_pin_name("RD_ADDR", rd * abits, k * abits + a) for a in range(abits))
        return arc(related, "combinational", delay)

    lines = [f"  cell ({name}) {{", "    area : 0;", "    interface_timing : true;"]
    ports = [("RD_CLK", rd, "input", lambda i: []), ("RD_ARST", rd, "input", lambda i: []),
             ("RD_EN", rd, "input", setup_to(rd_clocks, lambda k: _pin_name("RD_CLK", rd, k), 1)),
             ("RD_SRST", rd, "input", setup_to(rd_clocks, lambda k: _pin_name("RD_CLK", rd, k), 1)),
             ("RD_ADDR", rd * abits, "input", setup_to(rd_clocks, lambda k: _pin_name("RD_CLK", rd, k), abits)),
             ("RD_DATA", rd * bits, "output", read_data),
             ("WR_CLK", wr, "input", lambda i: []),
             ("WR_EN", wr * bits, "input", setup_to(wr_clocks, lambda k: _pin_name("WR_CLK", wr, k), bits)),
             ("WR_ADDR", wr * abits, "input", setup_to(wr_clocks, lambda k: _pin_name("WR_CLK", wr, k), abits)),
             ("WR_DATA", wr * bits, "input", setup_to(wr_clocks, lambda k: _pin_name("WR_CLK", wr, k), bits))]
    widths = set()
    for port, width, direction, groups in ports:
        if width:
            lines += _bus(port, width, direction, groups)
            widths.add(width)
    lines.append("  }")
    return lines, widths


def write_memory_liberty(path, memory_cells, *, clk_to_q_ns=0.0, setup_ns=0.0):
    """Write a Liberty file with one cell per memory shape (`rtl.synth.Synthesis.memory_cells`): clocked
    read data ``clk_to_q_ns`` after the read clock edge (asynchronous read ports: after the address),
    address/enable/data ``setup_ns`` before the clock; zero area, pin capacitance and output slew."""
    cells, widths = [], set()
    for name, shape in sorted(memory_cells.items()):
        lines, w = _memory_cell(name, shape, clk_to_q_ns, setup_ns)
        cells += lines
        widths |= w
    types = [f"  type (bus{w}) {{ base_type : array; data_type : bit; bit_width : {w}; bit_from : {w - 1}; "
             f"bit_to : 0; downto : true; }}" for w in sorted(widths) if w > 1]
    head = ["library (bitforge_memories) {", "  delay_model : table_lookup;", "  time_unit : \"1ns\";",
            "  voltage_unit : \"1V\";", "  current_unit : \"1mA\";", "  capacitive_load_unit (1, pf);",
            "  pulling_resistance_unit : \"1kohm\";", "  leakage_power_unit : \"1nW\";",
            "  nom_process : 1; nom_voltage : 1; nom_temperature : 25;",
            "  input_threshold_pct_rise : 50; input_threshold_pct_fall : 50;",
            "  output_threshold_pct_rise : 50; output_threshold_pct_fall : 50;",
            "  slew_lower_threshold_pct_rise : 20; slew_lower_threshold_pct_fall : 20;",
            "  slew_upper_threshold_pct_rise : 80; slew_upper_threshold_pct_fall : 80;"]
    path = Path(path)
    path.write_text("\n".join(head + types + cells + ["}"]) + "\n")
    return path


def _sta_liberty(liberty, directory, wire_load):
    """Plain-text copy of ``liberty`` for OpenSTA, without its default wire-load model when ``wire_load`` is None."""
    raw = Path(liberty).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    out = Path(directory) / (Path(liberty).name.removesuffix(".gz").removesuffix(".lib") + ".sta.lib")
    if wire_load is None:
        raw = re.sub(rb"(?m)^\s*default_wire_load(_selection)?\s*:[^;\n]*;?", b"", raw)
    out.write_bytes(raw)
    return out


_SCRIPT = """\
{read_libs}
read_verilog {verilog}
link_design {top}
read_sdc {sdc}
puts "@@CHECKS"
report_checks -path_delay max -group_count 1 -fields {{slew capacitance input_pin}} -digits 6
puts "@@WORST"
report_worst_slack -digits 6
puts "@@SLEW"
report_check_types -max_transition -all_violators -digits 6
puts "@@CAP"
set corner [sta::cmd_corner]
foreach inst [get_cells -hierarchical *] {{
  if {{![$inst is_leaf]}} {{ continue }}
  set cell [get_name [$inst liberty_cell]]
  set iter [$inst pin_iterator]
  while {{[$iter has_next]}} {{
    set pin [$iter next]
    if {{[$pin is_driver]}} {{
      set cap [expr {{max([$pin capacitance rise $corner max], [$pin capacitance fall $corner max])}}]
      puts "CAP\\t$cell\\t[get_name [$pin port]]\\t$cap\\t[get_full_name $pin]"
    }}
  }}
  $iter finish
}}
set iter [[sta::top_instance] pin_iterator]
while {{[$iter has_next]}} {{
  set pin [$iter next]
  if {{[$pin is_driver]}} {{
    set cap [expr {{max([$pin capacitance rise $corner max], [$pin capacitance fall $corner max])}}]
    puts "PORT\\t-\\t-\\t$cap\\t[get_full_name $pin]"
  }}
}}
$iter finish
puts "@@END"
"""


# -- parsing OpenSTA's reports ---------------------------------------------------------------

_NUM = r"-?(?:\d+\.?\d*|inf|INF)"
_POINT = re.compile(rf"^\s*(?:{_NUM}\s+)*?({_NUM})\s+({_NUM})\s+([\^v])\s+(\S+)\s+\(([^)]+)\)\s*$")


def _section(text, name):
    start = text.index(f"@@{name}\n") + len(name) + 3
    return text[start:text.index("@@", start)]


def _paths(text):
    """Each path of ``report_checks``: ``{"start", "end", "points", "arrival", "required", "slack"}``."""
    out = []
    for block in re.split(r"(?m)^(?=Startpoint: )", text):
        if not block.startswith("Startpoint: "):
            continue
        start = re.match(r"Startpoint: (\S+)", block).group(1)
        end = re.search(r"(?m)^Endpoint: (\S+)", block).group(1)
        arrival_at = block.index("data arrival time")
        points = []
        for line in block[:arrival_at].splitlines():
            match = _POINT.match(line)
            if match:
                incr, arrival, edge, pin, cell = match.groups()
                points.append(PathPoint(pin, cell, float(incr), float(arrival), "rise" if edge == "^" else "fall"))
        arrival = float(re.search(rf"({_NUM})\s+data arrival time", block).group(1))
        required = float(re.search(rf"({_NUM})\s+data required time", block).group(1))
        slack = float(re.search(rf"({_NUM})\s+slack", block).group(1))
        out.append({"start": start, "end": end, "points": points, "arrival": arrival, "required": required,
                    "slack": slack})
    return out


def _split_hier(pin):
    """A hierarchical pin name's parts, splitting at ``/`` not escaped by a backslash."""
    return [p.replace("\\/", "/") for p in re.split(r"(?<!\\)/", pin)]


def _instance(pin):
    parts = _split_hier(pin)
    return "/".join(parts[:-1]) if len(parts) > 1 else None


def _block(pin):
    parts = _split_hier(pin)
    return verilog_identifier(parts[0].replace("\\", "")) if len(parts) > 2 else "top"


def _path_shape(points, start, end):
    """``(blocks, levels)`` of a path: blocks crossed in order, cells between the start and end points."""
    blocks, cells = [], []
    for p in points:
        inst = _instance(p.pin)
        if inst is None:  # a port
            continue
        block = _block(p.pin)
        if not blocks or blocks[-1] != block:
            blocks.append(block)
        if inst not in cells:
            cells.append(inst)
    levels = len([c for c in cells if c not in (start, end)])
    return tuple(blocks), levels


def _slew_violators(text):
    found = []
    for line in text.splitlines():
        match = re.match(rf"^(\S+)\s+({_NUM})\s+({_NUM})\s+({_NUM})\s+\(VIOLATED\)", line.strip())
        if match:
            found.append((float(match.group(4)), match.group(1)))
    return [name for _, name in sorted(found)]


def _cap_violators(text, facts, cells, driving_cell, clock_port):
    """Drivers over their max_capacitance, worst (largest load / limit) first. Input ports are driven by
    ``driving_cell``; the clock port is not checked (ideal clock: no clock tree is built)."""
    port_limit = facts.max_capacitance_pf.get(driving_cell[0], {}).get(driving_cell[2]) if driving_cell else None
    found = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 5 or parts[0] not in ("CAP", "PORT"):
            continue
        kind, cell, port, cap, name = parts
        if kind == "CAP":
            if cell not in cells:
                continue  # memory blackboxes: no limit
            limit = facts.max_capacitance_pf.get(cell, {}).get(port, facts.default_max_capacitance_pf)
        elif name == clock_port:
            continue
        else:
            limit = port_limit
        load = float(cap) * 1e12  # OpenSTA's Tcl API speaks SI units
        if limit and load > limit * (1 + 1e-6):
            found.append((-load / limit, name))
    return [name for _, name in sorted(found)]


# -- running OpenSTA --------------------------------------------------------------------------

def _check_delay(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number (ns), not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite delay >= 0 ns, not {value!r}")
    return float(value)


def _check_liberty(liberty):
    facts = library_timing(liberty)
    if not facts.has_tables:
        raise ValueError(f"liberty file {liberty} has no timing tables (cell_rise/cell_fall); "
                         f"timing analysis needs a library with delay tables")
    return facts


def analyze_netlist(verilog, liberty, *, top, work_dir, clock_mhz=None, clock_port="clk", input_delay_ns=0.0,
                    output_delay_ns=0.0, driving_cell=None, load_pf=None, wire_load="library",
                    extra_liberty=(), memories_timing="no memories"):
    """Time the structural Verilog netlist ``verilog`` (top module ``top``) of ``liberty``'s cells.

    ``clock_port`` None: a virtual clock (combinational design). ``driving_cell``: a library cell name
    driving the inputs (None: ideal inputs); ``load_pf``: the load on every output. ``extra_liberty``:
    further Liberty files (plain text), e.g. `write_memory_liberty`'s. Other parameters as `analyze_timing`.
    """
    period_ns = DEFAULT_PERIOD_NS if clock_mhz is None else 1000.0 / check_clock_mhz(clock_mhz)
    input_delay_ns = _check_delay(input_delay_ns, "input_delay_ns")
    output_delay_ns = _check_delay(output_delay_ns, "output_delay_ns")
    if wire_load not in ("library", None):
        raise ValueError(f"wire_load must be 'library' or None, not {wire_load!r}")
    facts = _check_liberty(liberty)
    exe = find_sta()
    lib = read_liberty(liberty)
    work = Path(work_dir).resolve()  # sta runs in it: relative names would not resolve
    work.mkdir(parents=True, exist_ok=True)
    sta_lib = _sta_liberty(liberty, work, wire_load)
    sdc = write_sdc(work / "constraints.sdc", clock_port=clock_port, period_ns=period_ns,
                    input_delay_ns=input_delay_ns, output_delay_ns=output_delay_ns, driving_cell=driving_cell,
                    load_pf=load_pf)
    read_libs = "\n".join(f"read_liberty {_tcl_name(str(Path(p).resolve()))}" for p in [sta_lib, *extra_liberty])
    script = work / "timing.tcl"
    script.write_text(_SCRIPT.format(read_libs=read_libs, verilog=_tcl_name(str(Path(verilog).resolve())),
                                     top=top, sdc=_tcl_name(str(sdc.resolve()))))
    proc = subprocess.run([exe, "-no_init", "-no_splash", "-exit", str(script)], cwd=work, capture_output=True,
                          text=True)
    out = proc.stdout + proc.stderr
    (work / "sta.log").write_text(out)
    errors = [line for line in out.splitlines() if line.startswith("Error")]
    if proc.returncode != 0 or errors or "@@END" not in out:
        tail = "\n".join(errors or out.splitlines()[-10:])
        raise RuntimeError(f"OpenSTA failed on {verilog} (exit {proc.returncode}; log {work / 'sta.log'}):\n{tail}")
    paths = _paths(_section(out, "CHECKS"))
    worst = re.search(rf"worst slack\s+({_NUM})", _section(out, "WORST"))
    slew = _slew_violators(_section(out, "SLEW"))
    driver = None
    if driving_cell:
        driver = next((b for b in facts.buffers if b[0] == driving_cell), (driving_cell, None, None))
    cap = _cap_violators(_section(out, "CAP"), facts, lib.cells, driver, clock_port)
    if paths:
        crit = min(paths, key=lambda p: p["slack"])
        slack = float(worst.group(1)) if worst else crit["slack"]
        critical = period_ns - slack
        blocks, levels = _path_shape(crit["points"], crit["start"], crit["end"])
        start, end, points, setup = crit["start"], crit["end"], tuple(crit["points"]), period_ns - crit["required"]
    else:  # nothing constrained: no cells between ports and flops
        slack, critical, blocks, levels, start, end, points, setup = math.inf, 0.0, (), 0, "", "", (), 0.0
    wl = (facts.wire_load or "none") if wire_load == "library" else "none"
    return TimingReport(clock_mhz=1000.0 / period_ns if clock_mhz is None else float(clock_mhz),
                        period_ns=period_ns, critical_path_ns=critical,
                        worst_slack_ns=slack, fmax_mhz=1000.0 / critical if critical > 0 else math.inf,
                        startpoint=start, endpoint=end, endpoint_setup_ns=setup, blocks=blocks, levels=levels,
                        path=points, slew_violations=len(slew), slew_violators=tuple(slew[:_KEEP_VIOLATORS]),
                        capacitance_violations=len(cap), capacitance_violators=tuple(cap[:_KEEP_VIOLATORS]),
                        clock=clock_port or "virtual", wire_load=wl, memories_timing=memories_timing,
                        library=lib.name, tool=f"OpenSTA {sta_version(exe)}")


def analyze_timing(synth, *, clock_mhz=None, clock_port="clk", work_dir=None, input_delay_ns=0.0,
                   output_delay_ns=0.0, wire_load="library", memory_clk_to_q_ns=0.0, memory_setup_ns=0.0):
    """Static timing of a `rtl.synth.Synthesis` with OpenSTA; returns a `TimingReport`.

    Parameters
    ----------
    clock_mhz : float, optional
        The constraint; None: `DEFAULT_PERIOD_NS`. fmax is read from the slack either way.
    clock_port : str
        The clock input; a design without it and without flip-flops is timed against a virtual clock.
    work_dir : path, optional
        Where the SDC, script, library copies and log go (default: beside the synthesis result).
    input_delay_ns, output_delay_ns : float
        External delays of the non-clock inputs and of the outputs, against the clock.
    wire_load : {"library", None}
        The library's default wire-load model, or pin capacitances only.
    memory_clk_to_q_ns, memory_setup_ns : float
        Timing of kept memories (``memories="keep"``); 0 (the default) means not modelled.

    Raises ValueError (bad clock, delays or a library without timing tables) before OpenSTA runs;
    `ToolNotFound` without OpenSTA.
    """
    if clock_mhz is not None:
        check_clock_mhz(clock_mhz)
    clk_to_q = _check_delay(memory_clk_to_q_ns, "memory_clk_to_q_ns")
    setup = _check_delay(memory_setup_ns, "memory_setup_ns")
    _check_liberty(synth.liberty)
    ports = synth.modules[synth.top]["ports"]
    if clock_port not in ports:
        flops = any(synth.library.cell(c["type"]).ff is not None
                    for _, module in synth.instances() for c in synth.cells(module))
        if flops or synth.memories():
            raise ValueError(f"clock_port {clock_port!r} is not a port of {synth.top} "
                             f"(ports: {', '.join(sorted(ports))})")
        clock_port = None
    period = DEFAULT_PERIOD_NS if clock_mhz is None else 1000.0 / clock_mhz
    if work_dir is None:
        key = json.dumps([period, clock_port, input_delay_ns, output_delay_ns, wire_load, clk_to_q, setup])
        work_dir = synth.work_dir / f"sta-{period:g}ns-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    work = Path(work_dir).resolve()  # sta runs in it: relative names would not resolve
    work.mkdir(parents=True, exist_ok=True)
    extra = []
    if synth.memory_cells:
        extra.append(write_memory_liberty(work / "memories.lib", synth.memory_cells, clk_to_q_ns=clk_to_q,
                                          setup_ns=setup))
        if clk_to_q == 0 and setup == 0:
            memories = (f"memory timing not modelled: {len(synth.memories())} memories timed with zero "
                        f"clock-to-output and setup (memory_clk_to_q_ns, memory_setup_ns)")
        else:
            memories = f"memories: clock-to-output {clk_to_q:g} ns, setup {setup:g} ns (given)"
    elif synth.memories_mode == "cells":
        memories = "memories mapped to flip-flops and logic (memories='cells'): timed as standard cells"
    else:
        memories = "no memories"
    report = analyze_netlist(synth.verilog_path, synth.liberty, top=synth.top, work_dir=work, clock_mhz=clock_mhz,
                             clock_port=clock_port, input_delay_ns=input_delay_ns,
                             output_delay_ns=output_delay_ns, driving_cell=synth.driving_cell,
                             load_pf=synth.output_load_pf, wire_load=wire_load, extra_liberty=extra,
                             memories_timing=memories)
    (work / "timing.json").write_text(json.dumps(report.to_json(), indent=1))
    return report
