"""SAIF 2.0 (Switching Activity Interchange Format, IEEE 1801 annex) writing and reading.

`write_saif` writes a `ppa.activity.SwitchingActivity` as a backward SAIF file: the header, then one
``INSTANCE`` block per VCD scope, nested as the scopes are, each with a ``NET`` block holding every
bit of its signals::

    (count\\[3\\]
      (T0 40) (T1 60) (TX 0) (TZ 0)
      (TC 5) (IG 0)
    )

Durations are in ``TIMESCALE`` units and add up to ``DURATION`` for every net. Names are SAIF
identifiers: every character other than a letter, a digit or ``_`` is escaped with a backslash, and
a bus bit is ``name\\[index\\]``. A Verilog escaped name (``\\foo.bar`` in the VCD) loses its
leading backslash first. `read_saif` reads such files back (and those of other tools using the same
constructs), for tests and for reports that start from a SAIF.
"""

import importlib.metadata
import os
import re
import time as _time
from dataclasses import dataclass

from ppa.activity import _scope_tuple

__all__ = ["Saif", "read_saif", "write_saif"]


_UNITS = (("s", 0), ("ms", -3), ("us", -6), ("ns", -9), ("ps", -12), ("fs", -15))
_PLAIN = re.compile(r"[A-Za-z0-9_]")
_TOKEN = re.compile(r'\(|\)|"[^"]*"|(?:\\.|[^\s()"\\])+')
_COUNTS = ("T0", "T1", "TX", "TZ", "TB", "TC", "IG", "TGC")


def _saif_timescale(seconds):
    """``seconds`` as a SAIF timescale, ``"1 ns"``: a multiplier of 1, 10 or 100 and a unit."""
    for unit, exponent in _UNITS:
        multiplier = seconds / 10.0 ** exponent
        for m in (1, 10, 100):
            if abs(multiplier - m) <= 1e-9 * m:
                return f"{m} {unit}"
    raise ValueError(f"`activity.timescale` must be 1, 10 or 100 of s, ms, us, ns, ps or fs, not {seconds!r} s")


def _escape(name):
    name = name.removeprefix("\\")
    return "".join(ch if _PLAIN.match(ch) else "\\" + ch for ch in name)


def _unescape(token):
    return re.sub(r"\\(.)", r"\1", token)


def _version():
    try:
        return importlib.metadata.version("bitforge")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def write_saif(path, activity, *, design=None, top_scope_path=None, date=None,
               program_name="bitforge.ppa.saif"):
    """Write ``activity`` as a SAIF 2.0 file.

    Parameters
    ----------
    path : path
    activity : ppa.activity.SwitchingActivity
    design : str, optional
        The ``DESIGN`` entry; by default the last name of ``top_scope_path`` (empty without one).
    top_scope_path : str or sequence of str, optional
        Only signals at or below this VCD scope (``"tb.dut"``). The file keeps the full instance
        path from the VCD's root (``(INSTANCE tb (INSTANCE dut ...))``), so a reader picks the design
        with the instance path ``tb/dut``.
    date : str, optional
        The ``DATE`` entry; by default now, as ``Mon Nov 30 08:35:00 2025``.
    program_name : str
        The ``PROGRAM_NAME`` entry.

    Raises
    ------
    ValueError
        When the activity has no timescale, or one SAIF cannot state, or no signal lies below
        ``top_scope_path``.
    """
    top = _scope_tuple(top_scope_path, "top_scope_path")
    if activity.timescale is None:
        raise ValueError("`activity.timescale` must be known to write a SAIF, not None (the VCD has no $timescale)")
    timescale = _saif_timescale(activity.timescale)
    if design is None:
        design = top[-1] if top else ""
    if date is None:
        date = _time.strftime("%a %b %d %H:%M:%S %Y")

    tree = ({}, [])                              # (children by name, signals)
    for signal in activity.signals:
        scope = signal.var.scope
        if top is not None and scope[:len(top)] != top:
            continue
        node = tree
        for name in scope:
            node = node[0].setdefault(name, ({}, []))
        node[1].append(signal)
    if top is not None and not tree[0] and not tree[1]:
        raise ValueError(f"`top_scope_path` must name a scope with signals, not {'.'.join(top)!r}")

    with open(path, "w", encoding="utf-8") as f:
        f.write("(SAIFILE\n"
                '(SAIFVERSION "2.0")\n'
                '(DIRECTION "backward")\n'
                f'(DESIGN "{design}")\n'
                f'(DATE "{date}")\n'
                '(VENDOR "bitforge")\n'
                f'(PROGRAM_NAME "{program_name}")\n'
                f'(VERSION "{_version()}")\n'
                "(DIVIDER / )\n"
                f"(TIMESCALE {timescale})\n"
                f"(DURATION {activity.duration})\n")
        _write_nets(f, tree[1], "")
        for name, child in tree[0].items():
            _write_instance(f, name, child, "")
        f.write(")\n")


def _write_instance(f, name, node, indent):
    f.write(f"{indent}(INSTANCE {_escape(name)}\n")
    _write_nets(f, node[1], indent + "  ")
    for child_name, child in node[0].items():
        _write_instance(f, child_name, child, indent + "  ")
    f.write(f"{indent})\n")


def _write_nets(f, signals, indent):
    if not signals:
        return
    f.write(f"{indent}(NET\n")
    inner = indent + "    "
    for signal in signals:
        name = _escape(signal.var.name)
        indices = signal.indices
        for k, bit in enumerate(signal.bits):
            net = name if indices is None else f"{name}\\[{indices[k]}\\]"
            f.write(f"{indent}  ({net}\n"
                    f"{inner}(T0 {bit.t0}) (T1 {bit.t1}) (TX {bit.tx}) (TZ {bit.tz})\n"
                    f"{inner}(TC {bit.tc}) (IG {bit.ig})\n"
                    f"{indent}  )\n")
    f.write(f"{indent})\n")


@dataclass(frozen=True)
class Saif:
    """A SAIF file read back.

    ``timescale`` is seconds per unit; ``duration`` in those units; ``nets`` maps
    ``(instance path, net name)``, names unescaped (``("tb", "dut"), "count[3]"``), to the net's
    counts by keyword (``{"T0": 40, "T1": 60, ...}``, only those the file gives); ``header`` holds
    the other header entries as text (``SAIFVERSION``, ``DIRECTION``, ``DATE``...)."""
    design: str
    timescale: float
    duration: int
    nets: dict
    header: dict


def _tokens(f, name):
    for n, line in enumerate(f, 1):
        for tok in _TOKEN.findall(line):
            yield n, tok


def read_saif(path):
    """Read a SAIF file's header and the counts of every ``NET`` and ``PORT`` entry.

    Raises
    ------
    ValueError
        One line, ``file:line: ...``, when the file is not a well-formed SAIF.
    """
    name = os.fspath(path)
    with open(path, "r", encoding="utf-8") as f:
        tree = _parse(_tokens(f, name), name)
    if not tree or tree[0] != "SAIFILE":
        raise ValueError(f"{name}:1: expected `(SAIFILE ...)`, not {str(tree[0] if tree else '()')[:40]!r}")
    header, nets = {}, {}
    design, timescale, duration = "", None, None
    for entry in tree[1:]:
        if not isinstance(entry, list) or not entry:
            raise ValueError(f"{name}: entries of SAIFILE must be lists, not {entry!r}")
        key = entry[0]
        if key == "INSTANCE":
            _read_instance(entry, (), nets, name)
        elif key == "TIMESCALE":
            text = "".join(entry[1:])
            m = re.fullmatch(r"(1|10|100)(s|ms|us|ns|ps|fs)", text)
            if m is None:
                raise ValueError(f"{name}: TIMESCALE must be 1, 10 or 100 and a unit, not {text!r}")
            timescale = int(m.group(1)) * 10.0 ** dict(_UNITS)[m.group(2)]
        elif key == "DURATION":
            duration = float(entry[1]) if "." in entry[1] else int(entry[1])
        elif key == "DESIGN":
            design = entry[1].strip('"') if len(entry) > 1 else ""
        else:
            header[key] = " ".join(e.strip('"') for e in entry[1:] if isinstance(e, str))
    return Saif(design=design, timescale=timescale, duration=duration, nets=nets, header=header)


def _read_instance(entry, parent, nets, name):
    rest = entry[1:]
    if rest and isinstance(rest[0], str) and rest[0].startswith('"'):
        rest = rest[1:]                          # the optional instance type
    if not rest or not isinstance(rest[0], str):
        raise ValueError(f"{name}: INSTANCE must have a name, not {rest[:1]!r}")
    path = parent + (_unescape(rest[0]),)
    for item in rest[1:]:
        if not isinstance(item, list) or not item:
            continue
        if item[0] in ("NET", "PORT"):
            for net in item[1:]:
                if not isinstance(net, list) or not net or not isinstance(net[0], str):
                    raise ValueError(f"{name}: entries of {item[0]} must be `(name (T0 n) ...)`, not {net!r}"[:200])
                counts = {}
                for count in net[1:]:
                    if isinstance(count, list) and len(count) == 2 and count[0] in _COUNTS:
                        counts[count[0]] = int(count[1])
                nets[(path, _unescape(net[0]))] = counts
        elif item[0] == "INSTANCE":
            _read_instance(item, path, nets, name)


def _parse(tokens, name):
    """The S-expression of a token stream: nested lists of strings."""
    stack = [[]]
    n = 0
    for n, tok in tokens:
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise ValueError(f"{name}:{n}: expected an opening parenthesis before `)`, not a stray `)`")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise ValueError(f"{name}:{n}: expected {len(stack) - 1} more `)`, not the end of the file")
    top = stack[0]
    return top[0] if len(top) == 1 and isinstance(top[0], list) else top
