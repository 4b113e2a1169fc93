"""Switching activity of a VCD under zero-delay semantics: settled values, toggles, time at each level.

Definitions (every function here follows them):

- **Time steps.** A VCD body is a sequence of time steps ``#t`` with non-decreasing ``t``; value
  changes written before the first ``#t`` belong to time 0. Times are integers in VCD time units
  (`VcdHeader.timescale` seconds each).
- **Settled value.** Zero-delay semantics: a net's settled value at time step ``t`` is the last value
  written for it at ``t``. Several events of one net inside one time step collapse into one (``0 -> 1
  -> 0`` at the same ``#t`` is no change; ``0 -> 1 -> 1`` is one change), and a value rewritten
  without change is no change. Before its first value a net is ``x``, as in VCD.
- **Toggle.** A change of a bit's settled value between consecutive time steps from 0 to 1 or from
  1 to 0. X and Z are not logic levels: a change to or from ``x`` or ``z`` is not a toggle, so
  ``0 -> x -> 1`` over three steps counts 0 toggles.
- **Vectors** (``b1010 id``) are split into bits, most significant (leftmost) first. A value shorter
  than the variable's width is left-extended per the VCD rules: with ``0`` when its leftmost bit is
  0 or 1, with ``x`` or ``z`` when it is ``x`` or ``z``. Upper case ``X``/``Z`` read as ``x``/``z``;
  any other character of a value counts as ``x``.
- **Other body content.** ``r`` (real) and ``s`` (string) values are ignored; ``$dumpvars``, ``$dumpall``,
  ``$dumpon``, ``$dumpoff`` and their ``$end`` only frame ordinary value changes (a ``$dumpoff``
  block writes ``x``, which is then time at ``x``); ``$comment ... $end`` is skipped.
- **Aliases.** Several ``$var`` declarations may share one identifier code: the same net under
  several names. Each name gets the net's counts.
- **Window.** `count_activity` measures over ``[start, end)``: T0, T1, TX, TZ are the durations of
  each level inside the window (they add up to ``end - start`` for every bit), TC counts the toggles
  at times ``t`` with ``start < t <= end`` (a toggle at ``t`` ends the phase just before ``t``, so
  windows that tile the time axis count each toggle once). IG, the glitch count, is 0: zero-delay
  simulation has no glitches.

`settled_steps` is the fast streaming core: one pass over the file in pieces of a few megabytes
(multi-gigabyte files are fine), plain value-change lines applied a piece at a time, anything else
read item by item with every check. `count_activity` builds per-bit T0/T1/TX/TZ/TC/IG on it, and
`ppa.saif` writes them out as SAIF.
"""

import contextlib
import os
import re
from dataclasses import dataclass
from operator import itemgetter

__all__ = [
    "BitActivity",
    "SignalActivity",
    "SwitchingActivity",
    "VcdHeader",
    "VcdVar",
    "count_activity",
    "read_header",
    "settled_steps",
]


_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15}
_TIMESCALE = re.compile(r"^(1|10|100)\s*(s|ms|us|ns|ps|fs)$")
_RANGE = re.compile(r"^\[(-?\d+)(?::(-?\d+))?\]$")
_TRAILING_RANGE = re.compile(r"^(.+?)(\[-?\d+(?::-?\d+)?\])$")
_NOT_BITS = frozenset({"real", "realtime", "event", "string"})
_SCALARS = "01xzXZ"
_BODY_KEYWORDS = frozenset({"$dumpvars", "$dumpall", "$dumpon", "$dumpoff", "$end"})
_SKIPPED_BLOCKS = frozenset({"$comment", "$date", "$version"})


@dataclass(frozen=True)
class VcdVar:
    """One ``$var`` declaration.

    ``msb`` and ``lsb`` are the declared index range (``name [7:0]`` gives 7 and 0), both None when
    the declaration has none. ``kind`` is the VCD variable type (``wire``, ``reg``, ``real``...)."""
    ident: str
    scope: tuple
    name: str
    width: int
    msb: int = None
    lsb: int = None
    kind: str = "wire"

    @property
    def indices(self):
        """The bit index of each character of a value, leftmost first; None for a scalar without range."""
        if self.msb is None:
            return tuple(range(self.width - 1, -1, -1)) if self.width > 1 else None
        step = -1 if self.msb >= self.lsb else 1
        return tuple(range(self.msb, self.lsb + step, step))

    @property
    def path(self):
        """The hierarchical name, scopes and name joined with ``.``."""
        return ".".join(self.scope + (self.name,))


@dataclass(frozen=True)
class VcdHeader:
    """The declarations of a VCD.

    ``timescale`` is seconds per VCD time unit, None when the file has no ``$timescale``.
    ``signals`` maps each identifier code to its declarations (several for an alias), in
    declaration order. ``end_line`` is the line number of ``$enddefinitions``."""
    timescale: float
    signals: dict
    end_line: int


def _file_error(name, line, message):
    return ValueError(f"{name}:{line}: {message}")


@contextlib.contextmanager
def _opened(source):
    """An open text file and its name for a path or an already open file (left open)."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "r", encoding="utf-8", errors="replace", buffering=1 << 20) as f:
            yield f, os.fspath(source)
    elif hasattr(source, "readline"):
        yield source, getattr(source, "name", "<vcd>")
    else:
        raise TypeError(f"`source` must be a path or an open text file, not {source!r}")


def _scope_tuple(scope, what):
    if scope is None:
        return None
    if isinstance(scope, str):
        return tuple(scope.split(".")) if scope else ()
    try:
        parts = tuple(scope)
    except TypeError:
        parts = None
    if parts is None or not all(isinstance(p, str) for p in parts):
        raise TypeError(f"`{what}` must be a dotted string or a sequence of scope names, not {scope!r}")
    return parts


def _parse_var(args, scope, name, line):
    if len(args) not in (4, 5):
        raise _file_error(name, line, f"`$var` must be `$var type width id name [range] $end`, "
                                      f"not `$var {' '.join(args)} $end`")
    kind, width_text, ident, ref = args[:4]
    if not (width_text.isdecimal() and int(width_text) > 0):
        raise _file_error(name, line, f"`$var` width must be a positive integer, not {width_text!r}")
    width = int(width_text)
    range_text = args[4] if len(args) == 5 else None
    if range_text is None and kind not in _NOT_BITS:
        # `count[7:0]` written as one token: a range only if it matches the width (`mem[3]` of 8 bits is a name)
        m = _TRAILING_RANGE.match(ref)
        if m:
            r = _RANGE.match(m.group(2))
            msb, lsb = int(r.group(1)), int(r.group(2) if r.group(2) is not None else r.group(1))
            if abs(msb - lsb) + 1 == width:
                ref, range_text = m.group(1), m.group(2)
    msb = lsb = None
    if range_text is not None:
        r = _RANGE.match(range_text)
        if r is None:
            raise _file_error(name, line, f"`$var` range must be `[msb:lsb]` or `[index]`, not {range_text!r}")
        msb, lsb = int(r.group(1)), int(r.group(2) if r.group(2) is not None else r.group(1))
        if abs(msb - lsb) + 1 != width:
            raise _file_error(name, line, f"`$var` range of {ref!r} must span its width {width}, "
                                          f"not {range_text}")
    return VcdVar(ident=ident, scope=tuple(scope), name=ref, width=width, msb=msb, lsb=lsb, kind=kind)


def read_header(source):
    """Read the declarations of a VCD, up to and including ``$enddefinitions $end``.

    Parameters
    ----------
    source : path or open text file
        An open file is left positioned just after the header, ready for `settled_steps`.

    Returns
    -------
    VcdHeader

    Raises
    ------
    ValueError
        One line, ``file:line: ...``, when the header is malformed or never ends (not a VCD).
    """
    with _opened(source) as (f, name):
        signals = {}
        scope = []
        timescale = None
        command, args, start = None, [], 0
        n = 0
        for n, line in enumerate(f, 1):
            tokens = line.split()
            for k, tok in enumerate(tokens):
                if command is None:
                    if not tok.startswith("$") or tok == "$end":
                        raise _file_error(name, n, "expected a VCD declaration keyword such as `$scope`, "
                                                   f"`$var` or `$enddefinitions`, not {tok[:40]!r}")
                    command, args, start = tok, [], n
                    continue
                if tok != "$end":
                    args.append(tok)
                    continue
                if command == "$scope":
                    if len(args) != 2:
                        raise _file_error(name, start, f"`$scope` must be `$scope type name $end`, "
                                                       f"not `$scope {' '.join(args)} $end`")
                    scope.append(args[1])
                elif command == "$upscope":
                    if not scope:
                        raise _file_error(name, start, "`$upscope` must close a `$scope`, not stand alone")
                    scope.pop()
                elif command == "$var":
                    var = _parse_var(args, scope, name, start)
                    known = signals.setdefault(var.ident, [])
                    if known and known[0].width != var.width:
                        raise _file_error(name, start, f"alias {var.path!r} of {known[0].path!r} (id "
                                                       f"{var.ident!r}) must have width {known[0].width}, "
                                                       f"not {var.width}")
                    known.append(var)
                elif command == "$timescale":
                    m = _TIMESCALE.match(" ".join(args))
                    if m is None:
                        raise _file_error(name, start, "`$timescale` must be 1, 10 or 100 and a unit "
                                                       f"(s, ms, us, ns, ps, fs), not {' '.join(args)!r}")
                    timescale = int(m.group(1)) * _UNITS[m.group(2)]
                elif command == "$enddefinitions":
                    if tokens[k + 1:]:
                        raise _file_error(name, n, "`$enddefinitions $end` must end its line, "
                                                   f"not be followed by {' '.join(tokens[k + 1:])[:40]!r}")
                    return VcdHeader(timescale=timescale,
                                     signals={i: tuple(v) for i, v in signals.items()}, end_line=n)
                command = None
        raise _file_error(name, n, "expected `$enddefinitions $end` to end the VCD header, not the end "
                                   "of the file (is it a VCD?)")


def settled_steps(source, header=None):
    """Stream a VCD body as time steps of settled values.

    Parameters
    ----------
    source : path or open text file
    header : VcdHeader, optional
        The header `read_header` already read from the open file ``source`` (left just after the
        header). None (the only choice for a path) reads it here.

    Yields
    ------
    time : int
        Every time step of the file in order (values before the first ``#t`` belong to 0).
    changes : list of (str, str)
        ``(ident, value)`` for each identifier whose settled value at ``time`` differs from its
        settled value at the previous step (``x`` before its first value). ``value`` is the full
        width, lower case, left-extended, most significant bit first. Changes to or from ``x``/``z``
        are included (they are changes, not toggles). Real and string values are left out. Each
        identifier appears at most once, in no particular order; the list may be empty.

    Raises
    ------
    ValueError
        One line, ``file:line: ...``, for a malformed timestamp, a decreasing time, an unknown
        identifier code, a vector value wider than its variable, or anything else unexpected.
    """
    if header is not None and isinstance(source, (str, os.PathLike)):
        raise ValueError("`header` must be None when `source` is a path, not a VcdHeader "
                         "(pass the open file read_header read it from)")
    with _opened(source) as (f, name):
        if header is None:
            header = read_header(f)
        yield from _steps(f, name, header)


def _steps(f, name, header):
    body = _Body(header, name)
    line = header.end_line + 1                   # the number of the first line of the next piece
    for text in _whole_lines(f):
        parts = text.split("\n#")                # each part but the first begins with a timestamp
        for k, part in enumerate(parts):
            first = line
            line += part.count("\n") + (k < len(parts) - 1)
            if k or text[0] == "#":
                if k == 0:
                    part = part[1:]
                head, _, rest = part.partition("\n")
                if body.skipping or not head.isdecimal():
                    yield from body.general(("#" + part).split("\n"), first)
                    continue
                done = body.advance(int(head), first)
                if done is not None:
                    yield done
                part, first = rest, first + 1
            if part and not body.fast(part):
                yield from body.general(part.split("\n"), first)
    yield from body.finish(line - 1)


_CHUNK = 1 << 22


def _whole_lines(f):
    """The text of ``f`` in pieces of about `_CHUNK` characters that end at a line end."""
    carry = ""
    while True:
        data = f.read(_CHUNK)
        if not data:
            if carry:
                yield carry
            return
        text = carry + data
        cut = text.rfind("\n") + 1
        text, carry = text[:cut], text[cut:]
        if text:
            yield text


_FIRST, _REST = itemgetter(0), itemgetter(slice(1, None))
_LEVELS = frozenset("01xz")


class _Body:
    """A VCD body being read: the settled values, the writes pending in the current time step.

    `fast` takes the common case, a piece of lines that are all ``<0|1|x|z><id>`` or ``b<bits> <id>``,
    with whole-piece operations; `general` reads any lines item by item with every check, and is
    what `fast` declines to (so errors always come from `general`, with their line numbers)."""

    def __init__(self, header, name):
        self.name = name
        self.widths = {ident: vars_[0].width for ident, vars_ in header.signals.items()}
        self.scalars = frozenset(ident for ident, w in self.widths.items() if w == 1)
        self.settled = {ident: "x" * w for ident, w in self.widths.items()}
        self.pending = {}
        self.time = 0
        self.have_step = False
        self.skipping = None                     # the `$comment` (or similar) block being skipped

    def error(self, line, message):
        return _file_error(self.name, line, message)

    def flush(self):
        settled = self.settled
        changes = [(ident, value) for ident, value in self.pending.items() if settled[ident] != value]
        settled.update(changes)
        self.pending.clear()
        return changes

    def advance(self, t, line):
        """Start time step ``t``: the finished step ``(time, changes)``, or None."""
        if t < self.time:
            raise self.error(line, f"timestamp must not decrease (last was #{self.time}), not #{t}")
        done = None
        if t > self.time and (self.have_step or self.pending):
            done = (self.time, self.flush())
        self.time = t
        self.have_step = True
        return done

    def finish(self, line):
        """The last time step, at the end of the file (``line`` is its last line)."""
        if self.skipping:
            raise self.error(line, f"expected `$end` to close `{self.skipping}`, not the end of the file")
        if self.have_step or self.pending:
            yield self.time, self.flush()

    def vector(self, value, ident):
        """``value`` lower case and left-extended to the width of ``ident``."""
        value = value.lower()
        width = self.widths[ident]
        if len(value) < width:
            value = (value[0] if value[0] in "xz" else "0") * (width - len(value)) + value
        return value

    def fast(self, part):
        """Apply a piece of plain value-change lines at once; False (nothing applied) if it is not plain."""
        c = part[0]
        if c in "$rs\n" or "\n$" in part or "\nr" in part or "\ns" in part or "\n\n" in part:
            return False
        lines = part.split("\n")
        if not lines[-1]:
            lines.pop()
        writes = dict(zip(map(_REST, lines), map(_FIRST, lines), strict=True))
        vectors = {}
        if c == "b" or "\nb" in part:
            for line in [line for line in lines if line[0] == "b"]:
                writes.pop(line[1:], None)       # the scalar reading of a vector line
                value, _, ident = line[1:].partition(" ")
                if not 0 < len(value) <= self.widths.get(ident, 0):
                    return False
                vectors[ident] = self.vector(value, ident)
            if not vectors.keys().isdisjoint(writes):
                return False                     # one id both ways: the order matters
        if not (writes.keys() <= self.scalars and _LEVELS.issuperset(writes.values())):
            return False                         # unknown ids, scalar writes to vectors, X/Z, odd lines
        writes.update(vectors)
        if self.pending:
            self.pending.update(writes)
        else:
            self.pending = writes
        return True

    def general(self, lines, first):
        """Read ``lines`` (numbered from ``first``) item by item, yielding each finished time step."""
        widths = self.widths
        for n, line in enumerate(lines, first):
            tokens = line.split()
            i = 0
            if self.skipping:
                if "$end" not in tokens:
                    continue
                i = tokens.index("$end") + 1
                self.skipping = None
            while i < len(tokens):
                tok = tokens[i]
                i += 1
                c = tok[0]
                if c == "$":
                    if tok in _SKIPPED_BLOCKS:
                        if "$end" in tokens[i:]:
                            i = tokens.index("$end", i) + 1
                        else:
                            self.skipping = tok
                            break
                    elif tok not in _BODY_KEYWORDS:
                        raise self.error(n, "expected a value change, a timestamp or one of $dumpvars, "
                                            f"$dumpall, $dumpon, $dumpoff, $end, $comment, not {tok[:40]!r}")
                elif c == "#":
                    if not tok[1:].isdecimal():
                        raise self.error(n, f"expected a timestamp, `#` and a non-negative integer, "
                                            f"not {tok[:40]!r}")
                    done = self.advance(int(tok[1:]), n)
                    if done is not None:
                        yield done
                elif c in "bBrRsS":
                    if i == len(tokens):
                        raise self.error(n, f"expected an identifier code after {tok[:40]!r} on the same "
                                            "line, not the end of the line")
                    ident = tokens[i]
                    i += 1
                    if ident not in widths:
                        raise self.error(n, f"identifier code {ident!r} must be declared by a `$var`, "
                                            "not unknown")
                    if c in "bB":
                        if not 0 < len(tok) - 1 <= widths[ident]:
                            raise self.error(n, f"value of {ident!r} must have 1 to {widths[ident]} bits, "
                                                f"not {len(tok) - 1} ({tok[:40]!r})")
                        self.pending[ident] = self.vector(tok[1:], ident)
                elif c in _SCALARS:
                    ident = tok[1:]
                    if ident not in widths:
                        raise self.error(n, f"identifier code {ident!r} must be declared by a `$var`, "
                                            f"not {'missing' if not ident else 'unknown'}")
                    self.pending[ident] = self.vector(c, ident)
                else:
                    raise self.error(n, "expected a value change (0, 1, x, z, b, r, s), a timestamp (#) or "
                                        f"a keyword ($), not {tok[:40]!r}")


@dataclass(frozen=True)
class BitActivity:
    """The activity of one bit over a window: durations in VCD time units, counts.

    ``t0 + t1 + tx + tz`` is the window's duration; ``ig`` (glitches) is 0 under zero delay."""
    t0: int
    t1: int
    tx: int
    tz: int
    tc: int
    ig: int = 0


@dataclass(frozen=True)
class SignalActivity:
    """One declared name of a net and the activity of each of its bits.

    ``bits`` are leftmost (most significant) first; ``indices`` their declared bit indices
    (`VcdVar.indices`), None for a scalar without range."""
    var: VcdVar
    bits: tuple

    @property
    def indices(self):
        return self.var.indices

    def bit(self, index):
        """The activity of the bit with declared index ``index`` (0 for a scalar)."""
        indices = self.indices
        if indices is None:
            if index != 0:
                raise IndexError(f"`index` of scalar {self.var.path!r} must be 0, not {index}")
            return self.bits[0]
        if index not in indices:
            raise IndexError(f"`index` of {self.var.path!r} must be in {indices[0]}..{indices[-1]}, not {index}")
        return self.bits[indices.index(index)]


@dataclass(frozen=True)
class SwitchingActivity:
    """Per-bit activity of the signals of a VCD over the window ``[start, end)``.

    ``timescale`` is seconds per time unit (None if the VCD has no ``$timescale``);
    ``duration == end - start``; ``signals`` has one entry per declared name, grouped by identifier
    code in the order of their first declaration."""
    timescale: float
    start: int
    end: int
    signals: tuple

    @property
    def duration(self):
        return self.end - self.start

    def signal(self, path):
        """The signal with hierarchical name ``path`` (scopes and name joined with ``.``)."""
        for s in self.signals:
            if s.var.path == path:
                return s
        raise KeyError(f"`path` must name a signal of this activity, not {path!r}")


_LEVEL = {"0": 0, "1": 1, "x": 2, "z": 3}


def count_activity(path, *, scope=None, start=None, end=None):
    """Count T0, T1, TX, TZ, TC and IG for every bit of every signal of a VCD.

    Parameters
    ----------
    path : path or open text file
    scope : str or sequence of str, optional
        Only signals at or below this scope path (``"tb.dut"`` or ``("tb", "dut")``).
    start, end : int, optional
        The window ``[start, end)`` in VCD time units; by default the first and the last time step
        of the file. An ``end`` past the last step holds the final values until ``end``.

    Returns
    -------
    SwitchingActivity
        Bit-valued variables only (``real``, ``realtime``, ``event``, ``string`` are left out).
        See the module docstring for the counting rules.
    """
    scope = _scope_tuple(scope, "scope")
    for what, value in (("start", start), ("end", end)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"`{what}` must be a non-negative integer, not {value!r}")
    if start is not None and end is not None and end < start:
        raise ValueError(f"`end` must be at least `start` ({start}), not {end}")
    with _opened(path) as (f, name):
        header = read_header(f)
        vars_ = [v for vs in header.signals.values() for v in vs
                 if v.kind not in _NOT_BITS and (scope is None or v.scope[:len(scope)] == scope)]
        # per identifier: [settled value, per bit: since when at that value, [T0, T1, TX, TZ], TC]
        records = {v.ident: ["x" * v.width, [0] * v.width, [[0, 0, 0, 0] for _ in range(v.width)], [0] * v.width]
                   for v in vars_}
        last = None
        steps = settled_steps(f, header)
        with contextlib.closing(steps):
            for t, changes in steps:
                if start is None:
                    start = t
                if end is not None and t > end:
                    break
                last = t
                in_window = t > start
                hi = t if end is None or t < end else end
                for ident, new in changes:
                    record = records.get(ident)
                    if record is None:
                        continue
                    old, since, levels, toggles = record
                    record[0] = new
                    for k in range(len(new)):
                        a, b = old[k], new[k]
                        if a == b:
                            continue
                        lo = max(since[k], start)
                        if hi > lo:
                            levels[k][_LEVEL.get(a, 2)] += hi - lo
                        since[k] = t
                        if in_window and a in "01" and b in "01":
                            toggles[k] += 1
    if start is None:
        start = 0
    if end is None:
        end = start if last is None else last
        if end < start:
            raise ValueError(f"`start` must be at most the last time step ({end}) of {name}, not {start}")
    bits_of = {}
    for ident, (value, since, levels, toggles) in records.items():
        bits = []
        for k, a in enumerate(value):
            lo = max(since[k], start)
            if end > lo:
                levels[k][_LEVEL.get(a, 2)] += end - lo
            t0, t1, tx, tz = levels[k]
            bits.append(BitActivity(t0=t0, t1=t1, tx=tx, tz=tz, tc=toggles[k]))
        bits_of[ident] = tuple(bits)
    signals = tuple(SignalActivity(var=v, bits=bits_of[v.ident]) for v in vars_)
    return SwitchingActivity(timescale=header.timescale, start=start, end=end, signals=signals)
