"""Memories costed as SRAM macros: a per-bit model fitted to the IHP SG13G2 macro libraries.

The designs' memories are small and oddly shaped (a few words of P lanes),
so rather than rounding each up to the nearest of the ten macros (64x64 up to
4096x16, mostly far larger than needed) every figure comes from a least-squares
fit over the macros, stated in the reports:

power laws ``y = c * words**a * width**b`` (fitted in log space, so they stay
positive and scale smoothly below the smallest macro) for area (um^2),
leakage (nW) and the energy of a read and of a write (pJ).

A macro is clocked on every cycle its port is enabled; reads and writes are
charged per enabled cycle.
"""

from dataclasses import dataclass

import numpy as np

from rtl.liberty import read_liberty, sram_libraries, PDK_HINT

__all__ = ["SramModel", "fit_sram_model"]


def _law(coef, words, width):
    c, a, b = coef
    return c * words ** a * width ** b


def _law_text(coef, unit):
    return f"{coef[0]:.3g}*words^{coef[1]:.2f}*width^{coef[2]:.2f} {unit}"


@dataclass(frozen=True)
class SramModel:
    area: tuple          # (c, a, b) of c * words**a * width**b
    leakage: tuple
    read: tuple
    write: tuple
    macros: tuple        # names the fit used
    voltage: float

    def cost(self, words, width):
        """{"area_um2", "leakage_nw", "read_pj", "write_pj"} of a ``words`` x ``width`` memory."""
        return {"area_um2": _law(self.area, words, width), "leakage_nw": _law(self.leakage, words, width),
                "read_pj": _law(self.read, words, width), "write_pj": _law(self.write, words, width)}

    def describe(self):
        return (f"SRAM macros: power laws fitted over {len(self.macros)} IHP SG13G2 single-port macro libraries "
                f"(area {_law_text(self.area, 'um^2')}, read {_law_text(self.read, 'pJ')}, "
                f"write {_law_text(self.write, 'pJ')}, leakage {_law_text(self.leakage, 'nW')}), "
                f"a read or write charged per cycle its port is enabled")

    def to_json(self):
        return {"area": list(self.area), "leakage": list(self.leakage), "read": list(self.read),
                "write": list(self.write), "macros": list(self.macros), "voltage": self.voltage}


_MODEL = None


def fit_sram_model():
    """The `SramModel` fitted to the macro libraries under the PDK folder (cached per process)."""
    global _MODEL
    if _MODEL is not None:
        return _MODEL
    paths = sram_libraries()
    if len(paths) < 4:
        raise FileNotFoundError(f"IHP SRAM macro libraries (RM_IHPSG13_1P_*.lib.gz) not found; {PDK_HINT}")
    rows, names, voltage = [], [], None
    for path in paths:
        lib = read_liberty(path)
        for cell in lib.cells.values():
            mem = cell.memory
            if mem and "read_pj" in mem and "write_pj" in mem:
                rows.append((mem["words"], mem["width"], cell.area, cell.leakage, mem["read_pj"], mem["write_pj"]))
                names.append(cell.name)
                voltage = lib.voltage
    data = np.array(rows, dtype=float)
    design = np.stack([np.ones(len(data)), np.log(data[:, 0]), np.log(data[:, 1])], 1)

    def fit(column):
        c, a, b = np.linalg.lstsq(design, np.log(data[:, column]), rcond=None)[0]
        return (float(np.exp(c)), float(a), float(b))

    _MODEL = SramModel(area=fit(2), leakage=fit(3), read=fit(4), write=fit(5),
                       macros=tuple(names), voltage=voltage)
    return _MODEL
