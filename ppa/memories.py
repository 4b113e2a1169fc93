"""Memories as they would be built: SRAM macros of the cells' own process, or standard cells.

A design memory (``words`` x ``width``, one read and one write port) is built

- from macros of a macro library *of the same process as the standard cells*,
  when one can hold it: the macro shape that gives the least total area when
  tiled ``rows`` x ``cols`` (``ceil(words / macro.words)`` by ``ceil(width /
  macro.width)``). Figures are the macro's own from its Liberty file: area and
  leakage per tile; an access enables one row of tiles, so a read costs
  ``cols`` macro reads and a write ``cols`` macro writes. No law fitted across
  sizes: only real macros, each used as it is.
- from the standard cells otherwise (no macro library of that process, or
  fewer words than the smallest macro: a mostly empty macro is not how anyone
  would build it). Those memories are synthesized with the rest of the design
  (flip-flops and multiplexers, `rtl.synth`), so timing, area and power come
  from the same flow as the logic.

The designs' memories have one read and one write port; a single-port macro
serves them because the schedules never read and write one memory in the
same cycle (the RTL tests check the schedules).
"""

import math
import re
from dataclasses import dataclass

from rtl.liberty import read_liberty, sram_libraries

__all__ = ["Macro", "MemoryPlan", "macros_for", "plan_memory", "process_of", "MIN_MACRO_WORDS_RULE"]

MIN_MACRO_WORDS_RULE = "a memory with fewer words than the smallest macro is built from cells"

#: process of a library, recognized from its cell or macro names
_PROCESSES = (("sky130", re.compile(r"sky130", re.I)), ("ihp-sg13g2", re.compile(r"sg13g2|IHPSG13", re.I)))


def process_of(name):
    """The process a library or macro name belongs to (``"sky130"``, ``"ihp-sg13g2"``), or None."""
    for process, pattern in _PROCESSES:
        if pattern.search(name):
            return process
    return None


@dataclass(frozen=True)
class Macro:
    """One SRAM macro of a Liberty file, with its own figures."""
    name: str
    words: int
    width: int
    area_um2: float
    leakage_nw: float
    read_pj: float
    write_pj: float
    library: str           # the Liberty file it came from

    @property
    def process(self):
        return process_of(self.name)


@dataclass(frozen=True)
class MemoryPlan:
    """How one design memory is built, and what it costs."""
    name: str
    words: int
    width: int
    macro: Macro = None    # None: standard cells
    rows: int = 0
    cols: int = 0

    @property
    def implementation(self):
        return f"macro:{self.macro.name} x {self.rows * self.cols}" if self.macro else "cells"

    @property
    def area_um2(self):
        """Macro area (memories built from cells are counted with the cells)."""
        return self.rows * self.cols * self.macro.area_um2 if self.macro else 0.0

    @property
    def leakage_nw(self):
        return self.rows * self.cols * self.macro.leakage_nw if self.macro else 0.0

    @property
    def read_pj(self):
        return self.cols * self.macro.read_pj if self.macro else 0.0

    @property
    def write_pj(self):
        return self.cols * self.macro.write_pj if self.macro else 0.0

    def to_json(self):
        out = {"name": self.name, "words": self.words, "width": self.width, "bits": self.words * self.width,
               "implementation": self.implementation}
        if self.macro:
            out.update(macro=self.macro.name, macro_library=self.macro.library, tiles=[self.rows, self.cols],
                       area_um2=self.area_um2, leakage_nw=self.leakage_nw, read_pj=self.read_pj,
                       write_pj=self.write_pj)
        return out


def _macros_in(path):
    lib = read_liberty(path)
    out = []
    for cell in lib.cells.values():
        mem = cell.memory
        if mem and "read_pj" in mem and "write_pj" in mem:
            out.append(Macro(name=cell.name, words=mem["words"], width=mem["width"], area_um2=cell.area,
                             leakage_nw=cell.leakage, read_pj=mem["read_pj"], write_pj=mem["write_pj"],
                             library=str(path)))
    return out


def macros_for(library, sram_liberty=None):
    """The macros that may build ``library``'s memories: those of ``sram_liberty`` (a path or a list of
    paths) if given, else the PDK's macro libraries of the same process; ``[]`` when there are none.

    A macro library of another process than ``library`` is refused with ValueError."""
    process = process_of(library.name)
    if sram_liberty is not None:
        paths = [sram_liberty] if isinstance(sram_liberty, (str, bytes)) or hasattr(sram_liberty, "is_file") \
            else list(sram_liberty)
        macros = [m for p in paths for m in _macros_in(p)]
        if not macros:
            raise ValueError(f"`--sram-liberty` must name Liberty files with SRAM macros (a memory group), "
                             f"not {', '.join(map(str, paths))}")
        for m in macros:
            if m.process != process:
                raise ValueError(f"SRAM macro {m.name} is of process {m.process or 'unknown'}, not the standard "
                                 f"cells' {process or library.name}: macros and cells must share a process")
        return macros
    return [m for p in sram_libraries() for m in _macros_in(p) if m.process is not None and m.process == process]


def plan_memory(name, words, width, macros):
    """The `MemoryPlan` of a ``words`` x ``width`` memory: the least-area tiling of one macro shape, or
    cells when no macro is given or the memory has fewer words than the smallest macro."""
    if words < 1 or width < 1:
        raise ValueError(f"memory {name!r} must have at least one word of one bit, not {words} x {width}")
    if not macros or words < min(m.words for m in macros):
        return MemoryPlan(name=name, words=words, width=width)
    best = None
    for m in macros:
        rows, cols = math.ceil(words / m.words), math.ceil(width / m.width)
        key = (rows * cols * m.area_um2, cols * m.read_pj, m.name)
        if best is None or key < best[0]:
            best = (key, MemoryPlan(name=name, words=words, width=width, macro=m, rows=rows, cols=cols))
    return best[1]


#: where a macro's timing tables are read: the input slew and output load a memory port sees (ns, pF)
MACRO_TIMING_POINT = (0.05, 0.005)


def macro_timing(macro):
    """``{"clk_to_q_ns", "setup_ns"}`` of ``macro`` from its Liberty timing arcs: the slowest clock-to-output
    delay (cell_rise/cell_fall of a ``rising_edge`` arc) and the largest setup constraint (``setup_rising``)
    of any pin, read at `MACRO_TIMING_POINT`."""
    from rtl.liberty import liberty_groups, table_templates, table_value
    lib = liberty_groups(macro.library)
    templates = table_templates(lib)
    slew, load = MACRO_TIMING_POINT
    clk_to_q, setup = 0.0, 0.0

    def pins(group):
        for sub in group["groups"]:
            if sub["type"] == "pin":
                yield sub
            elif sub["type"] == "bus":
                yield sub
                yield from pins(sub)

    for cell in lib["groups"]:
        if cell["type"] != "cell" or not cell["args"] or cell["args"][0] != macro.name:
            continue
        for pin in pins(cell):
            for arc in (g for g in pin["groups"] if g["type"] == "timing"):
                kind = arc["attrs"].get("timing_type", "combinational")
                tables = {g["type"]: g for g in arc["groups"]}
                if kind == "rising_edge":
                    for name in ("cell_rise", "cell_fall"):
                        if name in tables:
                            clk_to_q = max(clk_to_q, table_value(tables[name], templates, load, slew))
                elif kind == "setup_rising":
                    for name in ("rise_constraint", "fall_constraint"):
                        if name in tables:
                            setup = max(setup, table_value(tables[name], templates, load, slew))
    if clk_to_q <= 0:
        raise ValueError(f"SRAM macro {macro.name} in {macro.library} has no clock-to-output timing arc")
    return {"clk_to_q_ns": clk_to_q, "setup_ns": setup}
