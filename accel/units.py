"""Combinational datapath units, instantiated as submodules so that synthesis keeps them as blocks.

The area and power reports (`rtl.synth`, `ppa.power`) attribute cells to the
submodule they sit in; these units give the PE array, the adder trees and
the activation units of both accelerators their own modules.
"""

from amaranth.hdl import Module, Mux, Cat, Const, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._fixed import shape_of
from .fused import carry_save, fused_rq_hw

__all__ = ["adder_tree", "Multipliers", "AdderTree", "CodeDot", "PWLUnit", "tree_width"]


def tree_width(width, n):
    """Width of a balanced sum of ``n`` signed ``width``-bit terms."""
    return width + max(0, (n - 1).bit_length())


def adder_tree(terms):
    """Balanced pairwise sum; depth ceil(log2(len(terms)))."""
    terms = list(terms)
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = paired + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]


class Multipliers(wiring.Component):
    """``p[k] = x[k] * y[k]`` for k < n (signed)."""

    def __init__(self, n, x_width, y_width):
        self.n = n
        super().__init__({"x": In(signed(x_width)).array(n), "y": In(signed(y_width)).array(n),
                          "p": Out(signed(x_width + y_width)).array(n)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.p[k].eq(self.x[k] * self.y[k]) for k in range(self.n)]
        return m


class AdderTree(wiring.Component):
    """``y = sum(x[k])``: a balanced tree of two-input adders."""

    def __init__(self, n, width):
        self.n = n
        super().__init__({"x": In(signed(width)).array(n), "y": Out(signed(tree_width(width, n)))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(adder_tree(self.x))
        return m


class CodeDot(wiring.Component):
    """``y = sum(code_k * x_k)`` over k < n: add, subtract or skip per weight code.

    ``mode`` "binary" (1-bit codes, 1 = +1), "ternary" (01 = +1, 11 = -1, 00 = 0: the
    input is isolated from the negator, and the term is 0) or "fixed" (signed codes: real
    multipliers). With ``rows`` (a width) the unit stops short of the last adder: two
    carry-save rows ``r0``, ``r1`` of that many bits whose sum is ``y`` modulo ``2**rows``
    (`accel.fused.carry_save`; a negated term is its inverted bits plus a one), for a
    pipeline register before the adder (an accumulator that wide, whose sums stay in its
    range, adds them exactly). ``split`` (with ``rows``) registers the tree halfway, loaded
    while the ``en`` input is high: the rows come out one cycle later.
    """

    def __init__(self, n, mode, code_bits, x_width, rows=None, split=False):
        if mode not in ("binary", "ternary", "fixed"):
            raise ValueError(f"`mode` must be binary, ternary or fixed, not {mode!r}")
        self.n, self.mode, self.code_bits, self.x_width = n, mode, code_bits, x_width
        self.rows, self.split = rows, split
        term = x_width + 1 if mode != "fixed" else x_width + code_bits
        self.y_width = tree_width(term, n)
        if rows is not None and rows < 1:
            raise ValueError(f"`rows` must be a positive width, not {rows}")
        if split and rows is None:
            self._MustUse__silence = True  # never elaborated
            raise ValueError("`split` registers the carry-save tree halfway: it needs `rows`")
        outputs = {"y": Out(signed(self.y_width))} if rows is None else {"r0": Out(rows), "r1": Out(rows)}
        enable = {"en": In(1)} if split else {}
        super().__init__({"codes": In(n * code_bits), "x": In(signed(x_width)).array(n), **outputs, **enable})

    def elaborate(self, platform):
        m = Module()
        cb = self.code_bits
        terms, products = [], []  # the adder tree's terms, or (with ``rows``) carry-save terms and products
        for k in range(self.n):
            code, v = self.codes[k * cb:(k + 1) * cb], self.x[k]
            if self.mode == "fixed":
                if self.rows is None:
                    terms.append(code.as_signed() * v)
                else:
                    products.append((code.as_signed(), v, 0))
                continue
            if self.mode == "binary":
                value, neg = v, ~code[0]
            else:
                # operand isolation: a zero code (00) holds the negator's input and the term at 0 whatever
                # its input does (the tree still switches when a term goes between 0 and a value)
                value, neg = Mux(code[0], v, Const(0, signed(self.x_width))), code[1]
            if self.rows is None:
                terms.append(Mux(neg, -value, value))
            else:  # -value = ~value + 1: the inverted bits, sign-extended, and a one
                w = self.rows
                ext = Cat(value, value[-1].replicate(w - self.x_width)) if w > self.x_width else value[:w]
                terms += [(ext ^ neg.replicate(w), 0), (neg, 0)]
        if self.rows is None:
            m.d.comb += self.y.eq(adder_tree(terms))
            return m
        r0, r1 = carry_save(m, products, terms, self.rows, split=self.en if self.split else None, name="dot")
        m.d.comb += [self.r0.eq(r0), self.r1.eq(r1)]
        return m


class PWLUnit(wiring.Component):
    """quant.PWLActivation as hardware: combinational, or with ``registered`` a register between the table
    lookup and the interpolation, loaded when ``en`` is high (one cycle of latency), the interpolation then
    built as one carry-save sum (`accel.fused`)."""

    def __init__(self, pwl, registered=False):
        self.pwl, self.registered = pwl, registered
        ports = {"x": In(shape_of(pwl.in_fmt)), "y": Out(shape_of(pwl.out_fmt))}
        if registered:
            ports["en"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        from .activation import pwl_lookup_hw, pwl_finish_hw
        m = Module()
        parts = pwl_lookup_hw(m, self.pwl, self.x)
        if not self.registered:
            m.d.comb += self.y.eq(pwl_finish_hw(self.pwl, *parts))
            return m
        y0, d, t = regs = [Signal(Value.cast(v).shape(), name=name) for v, name in zip(parts, ("y0", "d", "t"))]
        with m.If(self.en):
            m.d.sync += [r.eq(v) for r, v in zip(regs, parts)]
        s, out = self.pwl.seg_shift, self.pwl.out_fmt
        if s:  # y0 + round(d * t / 2**s), clamped: one carry-save sum and one adder (`accel.fused`)
            m.d.comb += self.y.eq(fused_rq_hw(m, [(d, t, 0)], [(y0, s)], s + out.frac, out, name="interp"))
        else:
            m.d.comb += self.y.eq(pwl_finish_hw(self.pwl, y0, d, t))
        return m
