"""accel.fused: one carry-save tree and one adder for a rounded, saturated sum of products, against quant's
requantize of the exact integer sum (Amaranth's simulator), combinational and with the rows registered."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from accel.fused import fused_rq_hw, sum_bits
from quant import FixedFormat, requantize


def _case(rng):
    """Random operand widths (1 bit included), signedness, shifts and an output format."""
    def operand():
        width = int(rng.integers(1, 9))
        return Signal(signed(width) if width > 1 and rng.random() < 0.8 else unsigned(width))
    products = [(operand(), operand(), int(rng.integers(0, 4))) for _ in range(int(rng.integers(1, 4)))]
    terms = [(operand(), int(rng.integers(0, 5))) for _ in range(int(rng.integers(0, 3)))]
    total = int(rng.integers(2, 10))
    fmt = FixedFormat(total, int(rng.integers(0, total)))
    frac = max(0, fmt.frac + int(rng.integers(-2, 6)))  # shifts down, none, and up
    return products, terms, frac, fmt


def _limits(sig):
    w = len(sig)
    return (-(1 << (w - 1)), (1 << (w - 1)) - 1) if sig.shape().signed else (0, (1 << w) - 1)


def _check(products, terms, frac, fmt, registered, values):
    m = Module()
    en = Signal(init=1)
    out = Signal(signed(fmt.total))
    m.d.comb += out.eq(fused_rq_hw(m, products, terms, frac, fmt, register=en if registered else None))
    toggle = Signal()
    m.d.sync += toggle.eq(~toggle)  # a clock domain for the combinational case too
    inputs = [s for a, b, _ in products for s in (a, b)] + [c for c, _ in terms]
    got = []

    async def bench(ctx):
        for vals in values:
            for sig, v in zip(inputs, vals):
                ctx.set(sig, v)
            if registered:
                await ctx.tick()
            got.append(ctx.get(out))
            if not registered:
                await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for vals, g in zip(values, got):
        it = iter(vals)
        exact = sum((next(it) * next(it)) << s for _, _, s in products) + sum(next(it) << t for _, t in terms)
        want = int(requantize(np.int64(exact), frac, fmt, "nearest", "saturate"))
        assert g == want, f"{vals}: got {g}, expected {want} (exact sum {exact}, frac {frac}, {fmt})"


@pytest.mark.parametrize("seed", range(8))
def test_random_sums_match_requantize_of_the_exact_sum(seed):
    rng = np.random.default_rng(seed)
    products, terms, frac, fmt = _case(rng)
    inputs = [s for a, b, _ in products for s in (a, b)] + [c for c, _ in terms]
    corners = [[_limits(s)[k] for s in inputs] for k in (0, 1)]  # every operand at its minimum, its maximum
    corners.append([_limits(s)[i % 2] for i, s in enumerate(inputs)])
    values = corners + [[int(rng.integers(lo, hi + 1)) for lo, hi in map(_limits, inputs)] for _ in range(120)]
    _check(products, terms, frac, fmt, registered=bool(seed % 2), values=values)


def test_width_holds_the_extreme_sum():
    # two 8x8 signed products, shifted by 0 and 2: |sum| <= 2^14 + 2^16, plus the rounding constant
    a, b, c, d = (Signal(signed(8)) for _ in range(4))
    bits = sum_bits([(a, b, 0), (c, d, 2)], [], 1)
    assert bits == (2 ** 14 + 2 ** 16 + 1).bit_length() + 1 == 18
    _check([(a, b, 0), (c, d, 2)], [], 3, FixedFormat(16, 0), False, [[-128, -128, -128, -128], [-128, 127, 127, -128]])


@pytest.mark.parametrize("fn, segments", [("sigmoid", 16), ("tanh", 32), ("tanh", 512)])  # 512: one code a segment
def test_registered_pwl_unit_equals_the_golden_activation_on_every_input(fn, segments):
    """`accel.units.PWLUnit(registered=True)`: table lookup, register, then the interpolation as one carry-save
    sum; every code of a 10-bit input format against quant's PWL activation."""
    from accel.units import PWLUnit
    from quant import activations
    pwl = getattr(activations, fn)(FixedFormat(10, 6), FixedFormat(9, 7), segments=segments)
    dut = PWLUnit(pwl, registered=True)
    codes = list(range(-512, 512))
    got = []

    async def bench(ctx):
        ctx.set(dut.en, 1)
        for c in codes:
            ctx.set(dut.x, c)
            await ctx.tick()
            got.append(ctx.get(dut.y))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    want = [int(v) for v in pwl(np.array(codes, dtype=np.int64))]
    bad = [(c, g, w) for c, g, w in zip(codes, got, want) if g != w]
    assert not bad, f"{len(bad)} inputs differ, first (x, got, expected): {bad[0]}"


@pytest.mark.parametrize("mode, code_bits", [("binary", 1), ("ternary", 2), ("fixed", 12)])
def test_code_dot_rows_add_up_to_its_sum(mode, code_bits):
    """`accel.units.CodeDot` with ``rows``: the two carry-save rows add up, modulo their width, to the plain
    unit's sum, for every code (the unused ternary code 10 included) and inputs at their extremes."""
    from accel.units import CodeDot
    n, xw, width = 5, 7, 16
    plain, rows = CodeDot(n, mode, code_bits, xw), CodeDot(n, mode, code_bits, xw, rows=width)
    m = Module()
    m.submodules.plain, m.submodules.rows = plain, rows
    codes, xs = Signal(n * code_bits), [Signal(signed(xw)) for _ in range(n)]
    m.d.comb += [plain.codes.eq(codes), rows.codes.eq(codes)]
    m.d.comb += [u.x[k].eq(xs[k]) for u in (plain, rows) for k in range(n)]
    rng = np.random.default_rng(3)
    cases = [(int(rng.integers(0, 1 << (n * code_bits))), [int(v) for v in rng.integers(-64, 64, n)])
             for _ in range(300)]
    cases += [((1 << (n * code_bits)) - 1, [-64] * n), (0, [-64] * n), (0x2AA & ((1 << (n * code_bits)) - 1), [63] * n)]
    bad = []

    async def bench(ctx):
        for code, values in cases:
            ctx.set(codes, code)
            for s, v in zip(xs, values):
                ctx.set(s, v)
            want = ctx.get(plain.y) % (1 << width)
            got = (ctx.get(rows.r0) + ctx.get(rows.r1)) % (1 << width)
            if got != want:
                bad.append((code, values, got, want))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert not bad, f"{len(bad)} cases differ, first (codes, x, rows' sum, sum): {bad[0]}"


@pytest.mark.parametrize("mode, code_bits, n", [("binary", 1, 1), ("ternary", 2, 2), ("ternary", 2, 8),
                                                ("fixed", 12, 1), ("fixed", 12, 8)])
def test_a_split_code_dot_gives_its_sum_a_cycle_later_and_holds_while_disabled(mode, code_bits, n):
    """`CodeDot(split=True)` (pipeline depth 3): the tree registered halfway (after half its compressor levels,
    or its rows when it has none): the rows after a clock edge with ``en`` high add up to the plain unit's sum of
    the inputs before it; with ``en`` low the registered half holds (the rows keep the earlier sum)."""
    from accel.fused import compressor_levels
    from accel.units import CodeDot
    xw, width = 9, 28
    plain, split = CodeDot(n, mode, code_bits, xw), CodeDot(n, mode, code_bits, xw, rows=width, split=True)
    m = Module()
    m.submodules.plain, m.submodules.split = plain, split
    codes, xs = Signal(n * code_bits), [Signal(signed(xw)) for _ in range(n)]
    m.d.comb += [plain.codes.eq(codes), split.codes.eq(codes)]
    m.d.comb += [u.x[k].eq(xs[k]) for u in (plain, split) for k in range(n)]
    rng = np.random.default_rng(n * 10 + code_bits)
    cases = [(int.from_bytes(rng.bytes(n * code_bits // 8 + 1), "little") % (1 << (n * code_bits)),
              [int(v) for v in rng.integers(-256, 256, n)], bool(rng.random() < 0.8)) for _ in range(200)]
    cases += [((1 << (n * code_bits)) - 1, [-256] * n, True), (0, [255] * n, True)]
    bad = []

    async def bench(ctx):
        held = None  # the sum the registered half holds
        for code, values, en in cases:
            ctx.set(codes, code)
            for s, v in zip(xs, values):
                ctx.set(s, v)
            ctx.set(split.en, en)
            now = ctx.get(plain.y) % (1 << width)
            await ctx.tick()
            held = now if en else held
            got = (ctx.get(split.r0) + ctx.get(split.r1)) % (1 << width)
            if held is not None and got != held:
                bad.append((code, values, en, got, held))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not bad, f"{len(bad)} cycles differ, first (codes, x, en, rows' sum, expected): {bad[0]}"
    assert compressor_levels(2) == 0 and compressor_levels(3) == 1 and compressor_levels(97) == 11
    with pytest.raises(ValueError, match="`split` registers the carry-save tree halfway: it needs `rows`"):
        CodeDot(n, mode, code_bits, xw, split=True)
