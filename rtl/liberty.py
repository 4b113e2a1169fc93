"""Liberty (.lib) files: the figures the area and power estimates need.

`read_liberty` parses a (possibly gzip'd) Liberty file into a `Library`:
per cell its area, leakage, pins (direction, capacitance, logic function),
the internal energy per pin toggle and its flip-flop, in the file's units
converted to um^2, nW, pF and pJ. Parsed libraries are cached as JSON beside
the build directory, keyed by the file's SHA-256.

`prepared_copy` writes the plain-text copy Yosys reads, with ``dont_use``
set on cells that must not appear in a mapped netlist (power-gating,
clock-gating, latches, tri-states, scan and fill cells): Yosys 0.23's ``abc``
has no ``-dont_use`` option. `cell_models` writes Verilog simulation models
of the cells a netlist uses, from the library's own functions.
"""

import gzip
import hashlib
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from quant.errors import BadInput, first_line

__all__ = ["Library", "Cell", "read_liberty", "liberty_groups", "table_templates", "table_value", "sram_libraries", "pdk_dir", "prepared_copy", "cell_models", "inline_cell", "DONT_USE",
           "LibertyError", "default_liberty", "PDK_HINT"]

#: Cells a synthesized netlist must not use (names matched anywhere in the cell name).
DONT_USE = re.compile(r"lpflow|dlclkp|lgcp|probe|lsbuf|__tap|fill|decap|diode|sparecell|ebuf|einv|"
                      r"sighold|antenna|__dl|_dl[a-z]|sdf|sedf|dfbb|__conb|tie|bufz|mux2i_|"
                      r"__clkdly|isobuf|srsdf|inputiso")

PDK_HINT = ("pass --liberty FILE (a .lib or .lib.gz) or set BITFORGE_PDK to the folder holding "
            "sky130hd/ and ihp-sg13g2/ (the workplace copy is ../shared/pdk)")

_DEFAULTS = {"sky130": "sky130hd/sky130hd_tt.lib.gz",
             "ihp": "ihp-sg13g2/sg13g2_stdcell_typ_1p20V_25C.lib.gz"}


class LibertyError(BadInput):
    """A Liberty file that cannot be read or lacks what an estimate needs."""


def pdk_dir():
    """The folder holding the PDK libraries: ``BITFORGE_PDK``, else ../shared/pdk beside the checkout."""
    env = os.environ.get("BITFORGE_PDK")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[1]
    return here.parent / "shared" / "pdk"


def default_liberty(name="sky130"):
    """Path of a named standard-cell library (``sky130`` or ``ihp``); FileNotFoundError with the fix."""
    if name not in _DEFAULTS:
        raise ValueError(f"library must be one of {', '.join(_DEFAULTS)}, not {name!r}")
    path = pdk_dir() / _DEFAULTS[name]
    if not path.is_file():
        raise FileNotFoundError(f"liberty file {path} not found; {PDK_HINT}")
    return path


def sram_libraries():
    """The IHP SG13G2 SRAM macro libraries found under `pdk_dir`."""
    return sorted((pdk_dir() / "ihp-sg13g2").glob("RM_IHPSG13_1P_*.lib.gz"))


# -- parsing -----------------------------------------------------------------

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}();:,]|[^\s{}();:,"]+')


def _read_text(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"liberty file {path} not found; {PDK_HINT}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise LibertyError(f"liberty file {path} is a corrupt gzip file: {e}") from None
    text = raw.decode("latin-1")
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return text.replace("\\\n", " ").replace("\\\r\n", " ")


def _unquote(tok):
    return tok[1:-1] if tok.startswith('"') else tok


def _parse(text, path):
    """Nested groups: each ``{"type", "args", "attrs": {name: value}, "complex": {name: [args]}, "groups": []}``
    (``complex`` keeps a statement's first occurrence; ``repeated`` has them all, e.g. ``fanout_length``)."""
    tokens = _TOKEN.findall(text)
    root = {"type": "", "args": [], "attrs": {}, "complex": {}, "groups": []}
    stack, i, n = [root], 0, len(tokens)
    try:
        while i < n:
            tok = tokens[i]
            if tok == "}":
                stack.pop()
                i += 1
                continue
            if tok == ";":
                i += 1
                continue
            nxt = tokens[i + 1]
            if nxt == ":":  # simple attribute: one value token (some files omit the ';')
                stack[-1]["attrs"][tok] = _unquote(tokens[i + 2])
                i += 3
            elif nxt == "(":
                j, args = i + 2, []
                while tokens[j] != ")":
                    if tokens[j] != ",":
                        args.append(_unquote(tokens[j]))
                    j += 1
                j += 1
                if j < n and tokens[j] == "{":
                    group = {"type": tok, "args": args, "attrs": {}, "complex": {}, "groups": []}
                    stack[-1]["groups"].append(group)
                    stack.append(group)
                    i = j + 1
                else:
                    stack[-1]["complex"].setdefault(tok, args)
                    stack[-1].setdefault("repeated", {}).setdefault(tok, []).append(args)
                    i = j
            else:
                i += 1
    except IndexError:
        raise LibertyError(f"liberty file {path} ends inside a statement (truncated?)") from None
    if len(stack) > 1 and any(g["type"] == "library" for g in root["groups"]):
        raise LibertyError(f"liberty file {path} ends inside group {stack[-1]['type']} (truncated?)")
    libs = [g for g in root["groups"] if g["type"] == "library"]
    if not libs:
        raise LibertyError(f"{path} is not a liberty file (no library group)")
    return libs[0]


# -- units -------------------------------------------------------------------

_PREFIX = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0}


def _unit(text, base, default):
    """Scale of a unit string like ``1nW`` relative to ``base`` (e.g. 1e-9 for nW)."""
    if not text:
        return default
    match = re.fullmatch(r"\s*([0-9.eE+-]*)\s*([fpnum]?)[A-Za-z]+\s*", str(text))
    if not match:
        raise LibertyError(f"unit {text!r} not understood")
    number = float(match.group(1) or 1)
    return number * _PREFIX[match.group(2)] / base


def _numbers(values):
    out = []
    for item in values:
        out.extend(float(v) for v in str(item).replace(",", " ").split())
    return out


# -- the library model ---------------------------------------------------------

@dataclass
class Pin:
    name: str
    direction: str
    capacitance: float = 0.0          # pF
    function: str = None
    energy: float = 0.0               # pJ per toggle of this pin (output pins: at no load)
    energy_loads: list = None         # output pins: load points (pF) of the internal-energy curve
    energy_values: list = None        # output pins: pJ per toggle at those loads (at `NOMINAL_SLEW_NS`)

    def energy_at(self, load_pf):
        """Internal energy (pJ) per toggle of this pin driving ``load_pf``: the library's table read at
        `NOMINAL_SLEW_NS`, interpolated linearly in load and extrapolated from the end segments."""
        if not self.energy_loads:
            return self.energy
        return _interpolate(self.energy_loads, self.energy_values, load_pf)


@dataclass
class Cell:
    name: str
    area: float                       # um^2
    leakage: float                    # nW
    pins: dict = field(default_factory=dict)
    ff: dict = None                   # {"state", "clocked_on", "next_state", "clear", "preset"}
    dont_use: bool = False
    memory: dict = None               # SRAM macros: {"words", "width", "read_pj", "write_pj"}

    @property
    def inputs(self):
        return [p for p in self.pins.values() if p.direction == "input"]

    @property
    def outputs(self):
        return [p for p in self.pins.values() if p.direction == "output"]


@dataclass
class Library:
    name: str
    path: str
    voltage: float
    cells: dict
    wire_load: dict = None            # {"name", "capacitance" (pF per length unit), "slope", "fanout_length"}

    def wire_capacitance(self, fanout):
        """Wire capacitance (pF) of a net with ``fanout`` sink pins by the default wire-load model (0 without
        one): its length from the ``fanout_length`` table, interpolated, and past its end ``slope`` per pin."""
        wl = self.wire_load
        if not wl or fanout <= 0:
            return 0.0
        points = sorted(wl["fanout_length"])
        fans, lengths = [f for f, _ in points], [length for _, length in points]
        if fanout >= fans[-1]:
            length = lengths[-1] + wl["slope"] * (fanout - fans[-1])
        elif fanout <= fans[0]:
            length = lengths[0] * fanout / fans[0]
        else:
            length = _interpolate(fans, lengths, fanout)
        return wl["capacitance"] * length

    def cell(self, name):
        try:
            return self.cells[name]
        except KeyError:
            raise LibertyError(f"cell {name!r} is not in library {self.name}") from None

    def to_json(self):
        return {"name": self.name, "path": self.path, "voltage": self.voltage, "wire_load": self.wire_load,
                "cells": {n: {**{k: v for k, v in vars(c).items() if k != "pins"},
                              "pins": {p.name: vars(p) for p in c.pins.values()}}
                          for n, c in self.cells.items()}}

    @classmethod
    def from_json(cls, data):
        cells = {}
        for n, c in data["cells"].items():
            pins = {p: Pin(**v) for p, v in c["pins"].items()}
            cells[n] = Cell(**{**{k: v for k, v in c.items() if k != "pins"}, "pins": pins})
        return cls(data["name"], data["path"], data["voltage"], cells, wire_load=data.get("wire_load"))


def _interpolate(index, values, x):
    """Piecewise-linear ``values`` over ``index`` at ``x``, extrapolated from the end segments (as OpenSTA does)."""
    if len(index) < 2:
        return values[0]
    k = 0
    while k < len(index) - 2 and x > index[k + 1]:
        k += 1
    t = (x - index[k]) / (index[k + 1] - index[k])
    return values[k] + (values[k + 1] - values[k]) * t


def _table_axes(group, templates):
    """``(values, [(index, variable)])`` of a table group, its indices from the group or its template."""
    values = _numbers(group["complex"].get("values", ["0"]))
    template = templates.get(group["args"][0] if group["args"] else "", {})
    axes = []
    for k in (1, 2):
        index = _numbers(group["complex"].get(f"index_{k}", template.get(f"index_{k}", [])))
        if index:
            axes.append((index, template.get(f"variable_{k}", "input_transition_time")))
    return values, axes


def liberty_groups(path):
    """The parsed ``library`` group of ``path`` (.lib or .lib.gz): nested ``{"type", "args", "attrs",
    "complex", "repeated", "groups"}`` dicts, for readers of what `Library` does not keep (timing arcs)."""
    return _parse(_read_text(path), path)


def table_templates(lib):
    """``{template name: {variable_k, index_k}}`` of a parsed library's table templates."""
    return {g["args"][0]: {**g["attrs"], **g["complex"]} for g in lib["groups"]
            if g["type"] in ("power_lut_template", "lu_table_template") and g["args"]}


def table_value(group, templates, load_pf, slew_ns):
    """A table group's value at an output load and input slew (library units), as `_table_value`."""
    return _table_value(group, templates, load_pf, slew_ns)


def _table_value(group, templates, load_pf, slew_ns):
    """A table's value at the given input slew and output load: bilinear within the table, linear
    extrapolation outside it (the Liberty convention OpenSTA follows)."""
    values, axes = _table_axes(group, templates)
    if len(values) == 1 or not axes:
        return values[0]
    x = [load_pf if "capacitance" in var else slew_ns for _, var in axes]
    if len(axes) == 1:
        return _interpolate(axes[0][0], values, x[0])
    idx1, idx2 = axes[0][0], axes[1][0]
    cols = len(idx2)
    rows = [_interpolate(idx2, values[r * cols:(r + 1) * cols], x[1]) for r in range(len(idx1))]
    return _interpolate(idx1, rows, x[0])


#: Input slew at which internal-energy tables are read (ns).
NOMINAL_SLEW_NS = 0.05


def _internal_energy(groups, templates, load_pf):
    """Internal energy per toggle (pJ in library units) at ``load_pf`` and `NOMINAL_SLEW_NS`.

    Each ``internal_power`` group (one related pin, one ``when`` condition) gives (rise + fall) / 2, a
    toggle being a rise or a fall in turn; the groups are averaged with equal weight, since a zero-delay
    toggle count does not say which input or state caused the toggle."""
    energies = []
    for ip in groups:
        parts = [g for g in ip["groups"] if g["type"] in ("rise_power", "fall_power", "power")]
        if not parts:
            continue
        vals = [_table_value(g, templates, load_pf, NOMINAL_SLEW_NS) for g in parts]
        energies.append(sum(vals) / len(vals))
    return sum(energies) / len(energies) if energies else 0.0


def _load_points(groups, templates):
    """The union of the load indices of ``groups``' power tables (pF, library units)."""
    points = set()
    for ip in groups:
        for g in ip["groups"]:
            if g["type"] in ("rise_power", "fall_power", "power"):
                _, axes = _table_axes(g, templates)
                points.update(v for index, var in axes if "capacitance" in var for v in index)
    return sorted(points)


def _wire_load(lib, cap_scale):
    """The library's default wire-load model in pF, or None."""
    name = lib["attrs"].get("default_wire_load")
    for g in lib["groups"]:
        if g["type"] == "wire_load" and g["args"] and g["args"][0] == name:
            fanout = [[float(a) for a in args[:2]] for args in g.get("repeated", {}).get("fanout_length", [])]
            return {"name": name, "capacitance": float(g["attrs"].get("capacitance", 0)) * cap_scale,
                    "slope": float(g["attrs"].get("slope", 0)), "fanout_length": fanout}
    return None


def _build(lib, path):
    attrs = lib["attrs"]
    cap_scale = 1.0
    if "capacitive_load_unit" in lib["complex"]:
        number, unit = lib["complex"]["capacitive_load_unit"][:2]
        cap_scale = float(number) * _PREFIX[unit.lower()[0] if unit.lower() != "ff" else "f"] / 1e-12 \
            if unit.lower() in ("pf", "ff", "nf") else float(number)
    leak_scale = _unit(attrs.get("leakage_power_unit"), 1e-9, 1.0)
    volt_scale = _unit(attrs.get("voltage_unit"), 1.0, 1.0)
    voltage = None
    for g in lib["groups"]:
        if g["type"] == "operating_conditions" and "voltage" in g["attrs"]:
            voltage = float(g["attrs"]["voltage"])
            break
    if voltage is None:
        voltage = float(attrs.get("nom_voltage", 0) or 0)
    if voltage <= 0:
        raise LibertyError(f"{path}: no operating voltage (operating_conditions or nom_voltage)")
    voltage *= volt_scale
    energy_scale = cap_scale * volt_scale ** 2  # internal power tables: cap unit * V^2 (pF V^2 = pJ)
    templates = {}
    for g in lib["groups"]:
        if g["type"] in ("power_lut_template", "lu_table_template") and g["args"]:
            templates[g["args"][0]] = {**g["attrs"], **g["complex"]}
    cells = {}
    for g in lib["groups"]:
        if g["type"] != "cell" or not g["args"]:
            continue
        name = g["args"][0]
        a = g["attrs"]
        leak = a.get("cell_leakage_power")
        if leak is None:
            vals = [float(lp["attrs"]["value"]) for lp in g["groups"]
                    if lp["type"] == "leakage_power" and "value" in lp["attrs"]]
            leak = sum(vals) / len(vals) if vals else 0.0
        cell = Cell(name=name, area=float(a.get("area", 0) or 0), leakage=float(leak) * leak_scale,
                    dont_use=str(a.get("dont_use", "false")).lower() == "true")
        pin_groups = []
        for sub in g["groups"]:
            if sub["type"] == "pin":
                pin_groups.extend((pname, sub) for pname in sub["args"])
            elif sub["type"] == "bus":
                bus_dir = sub["attrs"].get("direction", "")
                for p in sub["groups"]:
                    if p["type"] == "pin":
                        p = {**p, "attrs": {"direction": bus_dir, **p["attrs"]}}
                        pin_groups.extend((pname, p) for pname in p["args"])
            elif sub["type"] in ("ff", "latch"):
                cell.ff = {"kind": sub["type"], "state": sub["args"],
                           **{k: sub["attrs"][k] for k in ("clocked_on", "next_state", "clear", "preset",
                                                           "enable", "data_in") if k in sub["attrs"]}}
            elif sub["type"] == "memory":
                cell.memory = {"words": 2 ** int(sub["attrs"].get("address_width", 0)),
                               "width": int(sub["attrs"].get("word_width", 0))}
        for pname, p in pin_groups:
            pa = p["attrs"]
            ips = [x for x in p["groups"] if x["type"] == "internal_power"]
            pin = Pin(name=pname, direction=pa.get("direction", "input"),
                      capacitance=float(pa.get("capacitance", 0) or 0) * cap_scale,
                      function=pa.get("function"))
            if pin.direction == "output":
                loads = _load_points(ips, templates) or [0.0]
                pin.energy_loads = [x * cap_scale for x in loads]
                pin.energy_values = [_internal_energy(ips, templates, x) * energy_scale for x in loads]
                pin.energy = pin.energy_at(0.0)
            else:
                pin.energy = _internal_energy(ips, templates, 0.0) * energy_scale
            if cell.memory is not None and ips:
                _memory_energies(cell.memory, ips, energy_scale)
            cell.pins[pname] = pin
        cells[name] = cell
    return Library(name=lib["args"][0] if lib["args"] else Path(path).stem, path=str(path),
                   voltage=voltage, cells=cells, wire_load=_wire_load(lib, cap_scale))


def _memory_energies(memory, ips, scale):
    """Per-access energies of an SRAM macro's clock pin, from its ``when``-conditioned tables."""
    for ip in ips:
        when = ip["attrs"].get("when", "").replace(" ", "")
        vals = [sum(_numbers(x["complex"].get("values", ["0"]))) for x in ip["groups"]
                if x["type"] in ("rise_power", "fall_power")]
        if not vals:
            continue
        energy = sum(vals) * scale
        on = lambda s: re.search(rf"(?<![!\w]){s}(?!\w)", when) is not None
        if on("A_MEN") and on("A_REN") and not on("A_WEN"):
            memory["read_pj"] = max(memory.get("read_pj", 0.0), energy)
        elif on("A_MEN") and on("A_WEN") and not on("A_REN"):
            memory["write_pj"] = max(memory.get("write_pj", 0.0), energy)


_CACHE_VERSION = 4


def _cache_dir():
    from quant.fsio import default_build_root
    return Path(os.environ.get("BITFORGE_CACHE", default_build_root() / "liberty"))


def read_liberty(path):
    """The `Library` in ``path`` (.lib or .lib.gz), parsed once and cached."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"liberty file {path} not found; {PDK_HINT}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    cache = _cache_dir() / f"{path.name}.{digest}.v{_CACHE_VERSION}.json"
    if cache.is_file():
        try:
            return Library.from_json(json.loads(cache.read_text()))
        except (ValueError, KeyError, TypeError):
            pass
    try:
        lib = _build(_parse(_read_text(path), path), path)
    except LibertyError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, ZeroDivisionError, RecursionError) as e:
        raise LibertyError(f"liberty file {path} is malformed: {type(e).__name__}: "
                           f"{first_line(e, 200)}") from None
    if not lib.cells:
        raise LibertyError(f"liberty file {path} defines no cells")
    from quant.fsio import atomic_write_text  # a unique temporary: concurrent readers may race here
    cache.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cache, json.dumps(lib.to_json()))
    return lib


def prepared_copy(path, directory):
    """Plain-text copy of ``path`` for Yosys with `DONT_USE` cells marked; returns its path."""
    text = _read_text(path)
    out = Path(directory) / (Path(path).name.removesuffix(".gz").removesuffix(".lib") + ".prepared.lib")

    def mark(match):
        name = match.group(2)
        return match.group(0) + (" dont_use : true;" if DONT_USE.search(name) else "")

    text = re.sub(r'(\bcell\s*\(\s*"?)([^")\s]+)"?\s*\)\s*\{', mark, text)
    out.write_text(text)
    return out


# -- Verilog models of cells --------------------------------------------------------------

_EXPR_TOKEN = re.compile(r"\s*([A-Za-z_][\w\[\]]*|[01]|[!'&|^*+()])")


def verilog_expr(function, names=None):
    """A Liberty function (``!``, ``'``, ``&``/``*``/juxtaposition, ``|``/``+``, ``^``) in Verilog;
    ``names`` maps pin names to the Verilog expressions that replace them (default: the names)."""
    names = names or {}
    tokens = [t for t in _EXPR_TOKEN.findall(function) if t]
    out = []
    for tok in tokens:
        if tok == "'":  # postfix negation of the previous operand
            if out and out[-1] == ")":
                depth, k = 0, len(out) - 1
                while k >= 0:
                    depth += out[k] == ")"
                    depth -= out[k] == "("
                    if depth == 0:
                        break
                    k -= 1
                out.insert(k, "~")
            else:
                out.insert(len(out) - 1, "~")
            continue
        operand_start = tok not in ("&", "|", "^", "*", "+", ")")
        if out and operand_start and (out[-1] == ")" or re.match(r"\w", out[-1])):
            out.append("&")
        out.append({"!": "~", "*": "&", "+": "|", "0": "1'b0", "1": "1'b1"}.get(tok) or names.get(tok, tok))
    return " ".join(out)


def inline_cell(cell, pins, name):
    """Verilog lines that compute the outputs of one instance of ``cell`` in place: ``pins`` maps each
    connected pin to its Verilog expression, ``name`` prefixes the instance's own wires. Same semantics as
    `cell_models` (zero delay, flops start at 0), without a module per cell: what Verilator compiles
    fastest for large flat netlists."""
    names = {p: f"({e})" for p, e in pins.items()}
    lines = []
    if cell.ff:
        ff = cell.ff
        if ff["kind"] != "ff" or "clocked_on" not in ff:
            raise LibertyError(f"cell {cell.name}: only flip-flops are modelled, not {ff['kind']}")
        q = f"{name}_q"
        lines += [f"  reg {q} = 1'b0;", f"  wire {name}_clk = {verilog_expr(ff['clocked_on'], names)};"]
        states = ff["state"] + ["_unused_qn"]
        names[states[0]], names[states[1]] = q, f"(~{q})"
        edges, body = [f"posedge {name}_clk"], []
        for kind, level in (("clear", "1'b0"), ("preset", "1'b1")):
            if kind in ff:
                lines.append(f"  wire {name}_{kind} = {verilog_expr(ff[kind], names)};")
                edges.append(f"posedge {name}_{kind}")
                body.append(f"if ({name}_{kind}) {q} <= {level}; else ")
        lines.append(f"  always @({' or '.join(edges)}) {''.join(body)}{q} <= {verilog_expr(ff['next_state'], names)};")
    for p in cell.outputs:
        if p.name not in pins:
            continue
        if p.function is None:
            raise LibertyError(f"cell {cell.name}: output {p.name} has no function")
        lines.append(f"  assign {pins[p.name]} = {verilog_expr(p.function, names)};")
    return lines


def _specify(cell):
    """A specify block with a zero-delay path from every input an output depends on (flops: from the
    clock, clear and preset): the paths an SDF file's IOPATH entries annotate."""
    state = set(cell.ff["state"]) if cell.ff else set()
    inputs = {p.name for p in cell.inputs}

    def pins_of(expr):
        return [t for t in _EXPR_TOKEN.findall(expr or "") if t in inputs]

    lines = []
    for out in cell.outputs:
        sources = pins_of(out.function)
        if state and any(t in state for t in _EXPR_TOKEN.findall(out.function or "")):
            for key in ("clocked_on", "clear", "preset"):
                sources += pins_of(cell.ff.get(key))
        for src in dict.fromkeys(sources):
            lines.append(f"    ({src} => {out.name}) = (0, 0);")
    return ["  specify", *lines, "  endspecify"] if lines else []


def cell_models(library, names, *, specify=False):
    """Verilog modules for the cells ``names`` of ``library`` (zero-delay, flops start at 0). ``specify``:
    each with a specify block of zero-delay paths (`_specify`), for a simulation annotated with SDF."""
    parts = []
    for name in sorted(names):
        cell = library.cell(name)
        ports = list(cell.pins)
        lines = [f"module {name} ({', '.join(ports)});"]
        for p in cell.pins.values():
            lines.append(f"  {'output' if p.direction == 'output' else 'input'} {p.name};")
        if specify:
            lines += _specify(cell)
        if cell.ff:
            ff = cell.ff
            if ff["kind"] != "ff" or "clocked_on" not in ff:
                raise LibertyError(f"cell {name}: only flip-flops are modelled, not {ff['kind']}")
            q, qn = (ff["state"] + ["_unused_qn"])[:2]
            lines += [f"  reg {q} = 1'b0;", f"  wire {qn} = ~{q};",
                      f"  wire _clk = {verilog_expr(ff['clocked_on'])};",
                      f"  wire _d = {verilog_expr(ff['next_state'])};"]
            edges, body = ["posedge _clk"], []
            if "clear" in ff:
                lines.append(f"  wire _clr = {verilog_expr(ff['clear'])};")
                edges.append("posedge _clr")
                body.append(f"if (_clr) {q} <= 1'b0; else ")
            if "preset" in ff:
                lines.append(f"  wire _pre = {verilog_expr(ff['preset'])};")
                edges.append("posedge _pre")
                body.append(f"if (_pre) {q} <= 1'b1; else ")
            lines.append(f"  always @({' or '.join(edges)}) {''.join(body)}{q} <= _d;")
        for p in cell.outputs:
            if p.function is None:
                raise LibertyError(f"cell {name}: output {p.name} has no function")
            lines.append(f"  assign {p.name} = {verilog_expr(p.function)};")
        lines.append("endmodule")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"
