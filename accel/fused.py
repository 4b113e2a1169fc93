"""Sums of products with one rounding, built as a carry-save tree and one carry-propagate adder.

``rq(a1*b1 << s1 + ... + c1 << t1 + ..., frac, fmt)`` (round to nearest, ties up, then
saturate: `accel._fixed.requantize_hw`) is, in a pipelined datapath, one stage too many when
written as multipliers, then an adder, then the rounding adder, then the clamp: three carry
chains in a row. `fused_rq_hw` builds it the way multiplier generators do. Every partial
product of every product, every term, and the rounding constant become rows of one sum;
3:2 carry-save compressors reduce the rows to two (no carries propagate: depth about
log1.5 of the rows, each level one full-adder deep); one adder adds the two; the shift is
wiring; the clamp compares the high bits. With ``register`` given, the two carry-save rows
are registered between the tree and the adder, so the stage boundary falls where the
carry chains begin.

Signed operands use the Baugh-Wooley form: a bit of negative weight ``-x * 2**k`` is
written ``(1 - x) * 2**k - 2**k``, the inverted bit in the tree and ``-2**k`` folded into
one constant row. The rows are ``W`` bits wide, W enough for the exact sum's range, so the
sum modulo ``2**W`` is the exact sum.
"""

from amaranth.hdl import Cat, Const, Signal, Value

from ._fixed import overflow_hw

__all__ = ["fused_rq_hw", "carry_save", "compressor_levels", "add_rows_hw", "sum_bits"]


def _max_abs(width, signed):
    return 1 << (width - 1) if signed else (1 << width) - 1


def sum_bits(products, terms, extra=0):
    """Bits of two's complement that hold every value of ``sum(a*b << s) + sum(c << t) + extra`` exactly."""
    bound = abs(extra)
    for a, b, s in products:
        a, b = Value.cast(a), Value.cast(b)
        bound += _max_abs(len(a), a.shape().signed) * _max_abs(len(b), b.shape().signed) << s
    for c, t in terms:
        c = Value.cast(c)
        bound += _max_abs(len(c), c.shape().signed) << t
    return bound.bit_length() + 1


def compressor_levels(rows):
    """Levels of 3:2 compressors that reduce ``rows`` rows to two (`carry_save`)."""
    levels = 0
    while rows > 2:
        rows = 2 * (rows // 3) + rows % 3
        levels += 1
    return levels


def carry_save(m, products, terms, width, *, const=0, register=None, split=None, name="csa"):
    """Two ``width``-bit rows whose sum is ``sum(a*b << s) + sum(c << t) + const`` modulo ``2**width``.

    Every partial product (Baugh-Wooley rows for signed operands) and term is a row, the constant one more;
    3:2 compressors reduce them to two. ``register``: an enable that registers the two rows (loaded while it
    is high). ``split``: an enable that registers every row halfway, after ``levels // 2`` of the tree's
    `compressor_levels` (the rows themselves when there are none): one cycle of latency that halves the
    tree's depth. The caller adds the rows (one adder) and reads the sum in two's complement when
    ``width`` holds its range (`sum_bits`)."""
    mask = (1 << width) - 1
    rows = []

    def row(vec, w, at):
        """A row: the ``w``-bit vector ``vec`` from column ``at`` on (bits past the width dropped)."""
        keep = min(w, width - at)
        if keep > 0:
            rows.append(Cat(Const(0, at), vec[:keep]) if at else vec[:keep])

    for a, b, at in products:
        a, b = Value.cast(a), Value.cast(b)
        wa, wb = len(a), len(b)
        for j in range(wb):
            bneg = b.shape().signed and j == wb - 1
            # partial product row j: a AND b_j, the bits of negative weight inverted (Baugh-Wooley)
            neg = [i for i in range(wa) if (a.shape().signed and i == wa - 1) != bneg]
            vec = a.as_unsigned() & b[j].replicate(wa)
            if neg:
                vec = vec ^ Const(sum(1 << i for i in neg), wa)
                const -= sum(1 << (at + i + j) for i in neg)
            row(vec, wa, at + j)
    for c, at in terms:
        c = Value.cast(c)
        vec = c.as_unsigned()
        if c.shape().signed:
            const -= 1 << (at + len(c) - 1)
            vec = vec ^ Const(1 << (len(c) - 1), len(c))
        row(vec, len(c), at)
    if const & mask:
        rows.append(Const(const & mask, width))

    level = 0
    cut = compressor_levels(len(rows)) // 2 if split is not None else None
    while len(rows) > 2 or level == cut:
        if level == cut:
            regs = [Signal(width, name=f"{name}_mid{k}") for k in range(len(rows))]
            with m.If(split):
                m.d.sync += [r.eq(v) for r, v in zip(regs, rows)]
            rows, cut = regs, None
            continue
        nxt = []
        full = len(rows) - len(rows) % 3
        for k in range(0, full, 3):
            x, y, z = rows[k:k + 3]
            sm, cy = Signal(width, name=f"{name}_s{level}_{k // 3}"), Signal(width, name=f"{name}_c{level}_{k // 3}")
            m.d.comb += [sm.eq(x ^ y ^ z), cy.eq(((x & y) | (x & z) | (y & z)) << 1)]
            nxt += [sm, cy]
        rows = nxt + rows[full:]
        level += 1
    rows += [Const(0, width)] * (2 - len(rows))
    if register is not None:
        regs = [Signal(width, name=f"{name}_row{k}") for k in range(2)]
        with m.If(register):
            m.d.sync += [r.eq(v) for r, v in zip(regs, rows)]
        rows = regs
    return rows


def add_rows_hw(m, rows, width, name="sum"):
    """The two's complement sum of ``rows`` (unsigned, ``width`` bits each) modulo ``2**width``: one adder
    when there are two, a level of 3:2 compressors first when there are three (as many as `carry_save`
    needs)."""
    if len(rows) > 2:
        rows = carry_save(m, [], [(r, 0) for r in rows], width, name=name)
    total = Signal(width, name=name)
    m.d.comb += total.eq(rows[0] + rows[1] if len(rows) == 2 else rows[0])
    return total.as_signed()


def fused_rq_hw(m, products, terms, frac, fmt, *, register=None, name="fused"):
    """``rq(sum(a*b << s for a, b, s in products) + sum(c << t for c, t in terms), frac, fmt)``.

    ``products``: ``(a, b, shift)``, ``terms``: ``(c, shift)``, Values (signed or unsigned) and
    shifts >= 0 onto ``frac`` fractional bits. ``register``: None, combinational; else an enable:
    the carry-save rows are registered (loaded while it is high) and the adder, shift and clamp
    take the next cycle. Returns a Value of ``fmt``'s shape, equal to `accel._fixed.requantize_hw`
    ``(..., "nearest", "saturate")`` of the exact sum."""
    shift = frac - fmt.frac
    pre = max(0, -shift)                       # a value with fewer fractional bits than fmt: shifted up
    shift = max(0, shift)
    rounding = (1 << (shift - 1)) if shift else 0
    products = [(a, b, s + pre) for a, b, s in products]
    terms = [(c, t + pre) for c, t in terms]
    width = sum_bits(products, terms, rounding)
    rows = carry_save(m, products, terms, width, const=rounding, register=register, name=name)
    return overflow_hw(add_rows_hw(m, rows, width, name=f"{name}_sum") >> shift, fmt, "saturate")
