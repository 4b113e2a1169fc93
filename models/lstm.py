"""The BT-LSTM accelerator's arithmetic: export contract, configuration and NumPy golden model.

Export contract (one ``.npz``, written by `models.btlstm.fold` +
`LSTMWeights.save`, read by `LSTMWeights.load`; nothing else is accepted):

=========  =============  ==========================================================
key        shape / dtype  meaning
=========  =============  ==========================================================
mode       0-d str        ``binary``, ``ternary`` or ``fixed12``
wx         (4H, I) int    codes: {-1, 1} binary, {-1, 0, 1} ternary (int8);
                          fixed12: [-2047, 2047] (int16)
wh         (4H, H) int    the same for the hidden-to-hidden matrix
sx, sh, b  (4H,) float    pre = sx * (wx @ x) + sh * (wh @ h) + b
sc, bc     (H,) float     h = o * tanh(sc * c + bc)
h0, c0     (H,) float     initial state
head_w     (C, H) float   logits = head_w @ h_T + head_b (after the last step;
head_b     (C,) float     character models apply it after every step)
=========  =============  ==========================================================

Gate order i, f, g, o (rows 0..H-1 are i, H..2H-1 f, 2H..3H-1 g, 3H..4H-1 o).

Hardware arithmetic (`LSTMGolden`, integers only, all rounding to nearest
with ties toward +inf, all results saturated into their format):

* ``sx, sh, sc`` are quantized to ``s_fmt``; ``b, bc`` to ``pre_fmt``;
  for ``fixed12`` the codes are read as 12-bit fixed point with 11 fractional
  bits and ``sx, sh`` are stored times 2**11 (the same products, with scales
  of order one instead of 2**-11);
  ``h0`` to ``h_fmt``, ``c0`` to ``c_fmt``; inputs to ``x_fmt``.
* ``ax = wx @ x``, ``ah = wh @ h``: exact integer sums (add / subtract / skip
  for binary and ternary codes; multiplies for fixed12).
* ``pre = rq(sx*ax + sh*ah + b, pre_fmt)``: the three terms aligned exactly to
  the finest of their fractions, then one rounding.
* ``i, f, o = sigmoid(pre)``, ``g = tanh(pre)``: `quant.activations` PWL units,
  ``pre_fmt`` in, ``act_fmt`` out.
* ``c = rq(f*c + i*g, c_fmt)``; ``n = rq(sc*c + bc, pre_fmt)``;
  ``h = rq(o * tanh(n), h_fmt)``.

The output layer runs on the host in float64 on the dequantized ``h``.
"""

from dataclasses import dataclass
import io
import math

import numpy as np

from quant.errors import BadInput, first_line
from quant.fsio import atomic_write_bytes, read_npz
from quant import FixedFormat, quantize, dequantize, requantize, exact_in_float
from quant import activations
from ._config import ConfigMixin, check_int, check_choice

__all__ = ["LSTMWeights", "LSTMConfig", "LSTMGolden", "forward_folded", "schedule", "MODES", "FIXED12_MAX",
           "CODE_SETS", "post_offsets", "handover", "MAX_PIPELINE", "WEIGHT_BITS"]

#: The deepest `LSTMConfig.pipeline`.
MAX_PIPELINE = 3


def handover(cfg):
    """Cycles from a (gate, chunk) issue to the hold buffer taking the gate's sums: weight read (S0), with
    ``pipeline`` >= 2 the memories' words registered, the adder trees (with ``pipeline`` 3 registered
    halfway), with ``pipeline`` >= 1 their sums registered, the accumulators, the hand-over."""
    return 2 + sum(1 for depth in (1, 2, 3) if cfg.pipeline >= depth)


def post_offsets(cfg):
    """Cycles after a lane's sums enter a shared post-accumulation unit at which, in
    `accel.lstm_post.PostUnit`: ``act``, the gate's activation, is out (the controller keeps i, f, g);
    ``update``, gate o's i, f, g and the old c go in; ``cell``, the new c is out (the controller writes
    it); ``norm``, the cell parameters sc, bc go in; ``h``, the new h is out (the step's last cycle for
    the last unit). ``stages`` = ``h`` + 1. With ``pipeline`` 0 these are the six stages P0..P5; 1 adds a
    register between the carry-save tree and the adder of every product sum and after each activation's
    table lookup; 2 also registers the unit's inputs (the accumulations and the gate memory's word); 3 (the
    array's trees registered halfway) adds nothing here."""
    cut, inputs = int(cfg.pipeline >= 1), int(cfg.pipeline >= 2)
    act = inputs + 1 + 2 * cut         # [inputs] | tree | [rows] adder, round | [lookup] | interpolate
    update = act + 1
    cell = update + cut                # tree | [rows] adder, round
    norm = cell + 1
    h = norm + (1 + cut) + (1 + cut) + cut  # tree | [rows] + bc, round | [lookup] | interpolate | tree | [rows] round
    return {"act": act, "update": update, "cell": cell, "norm": norm, "h": h, "stages": h + 1}


MODES = ("binary", "ternary", "fixed12")
WEIGHT_BITS = {"binary": 1, "ternary": 2, "fixed12": 12}  # memory bits per weight code
FIXED12_MAX = 2047
CODE_SETS = {"binary": "{-1, 1}", "ternary": "{-1, 0, 1}", "fixed12": "[-2047, 2047]"}
_FLOAT_KEYS = ("sx", "sh", "b", "sc", "bc", "h0", "c0", "head_w", "head_b")
_KEYS = ("mode", "wx", "wh") + _FLOAT_KEYS


def _codes_ok(mode, codes):
    if mode == "binary":
        return np.isin(codes, (-1, 1))
    if mode == "ternary":
        return np.isin(codes, (-1, 0, 1))
    return np.abs(codes) <= FIXED12_MAX


@dataclass(frozen=True, eq=False)
class LSTMWeights:
    """A trained BT-LSTM in the export contract (module docstring); validated on creation."""

    mode: str
    wx: np.ndarray
    wh: np.ndarray
    sx: np.ndarray
    sh: np.ndarray
    b: np.ndarray
    sc: np.ndarray
    bc: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    head_w: np.ndarray
    head_b: np.ndarray
    source: str = "weights"

    def __post_init__(self):
        where = self.source
        check_choice(f"{where}: mode", self.mode, MODES)
        for key in ("wx", "wh"):
            arr = np.asarray(getattr(self, key))
            if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"{where}: `{key}` must be a 2-D integer array of codes, "
                                 f"not {arr.dtype} with shape {arr.shape}")
            bad = ~_codes_ok(self.mode, arr)
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise ValueError(f"{where}: `{key}`[{r}, {c}] = {arr[r, c]} is not a {self.mode} code "
                                 f"(expected {CODE_SETS[self.mode]})")
            object.__setattr__(self, key, arr.astype(np.int64))
        four_h, n_in = self.wx.shape
        if four_h % 4 or four_h == 0:
            raise ValueError(f"{where}: `wx` must have 4H rows (gates i, f, g, o), not {four_h}")
        H = four_h // 4
        C = np.asarray(self.head_b).shape[0] if np.asarray(self.head_b).ndim == 1 else -1
        shapes = {"wh": (4 * H, H), "sx": (4 * H,), "sh": (4 * H,), "b": (4 * H,), "sc": (H,), "bc": (H,),
                  "h0": (H,), "c0": (H,), "head_w": (C, H), "head_b": (C,)}
        for key, shape in shapes.items():
            arr = np.asarray(getattr(self, key))
            if arr.shape != shape or C < 1:
                raise ValueError(f"{where}: `{key}` must have shape {shape} (H={H} from wx), not {arr.shape}")
            if key in _FLOAT_KEYS:
                if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
                    raise ValueError(f"{where}: `{key}` must be numeric, not {arr.dtype}")
                arr = arr.astype(np.float64)
                if not np.isfinite(arr).all():
                    index = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
                    raise ValueError(f"{where}: `{key}` has a non-finite value at index {index}")
                object.__setattr__(self, key, arr)

    @property
    def input_size(self):
        return self.wx.shape[1]

    @property
    def hidden(self):
        return self.wh.shape[1]

    @property
    def classes(self):
        return self.head_b.shape[0]

    def weight_bits(self):
        """Bits of weight memory: 1 per binary weight, 2 per ternary, 12 per fixed12."""
        return WEIGHT_BITS[self.mode] * (self.wx.size + self.wh.size)

    def save(self, path):
        """Write the contract ``.npz`` atomically (codes int8, int16 for fixed12)."""
        code_dtype = np.int16 if self.mode == "fixed12" else np.int8
        arrays = {"mode": np.array(self.mode), "wx": self.wx.astype(code_dtype), "wh": self.wh.astype(code_dtype)}
        arrays.update({k: getattr(self, k) for k in _FLOAT_KEYS})
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path):
        """Read and validate a contract ``.npz``; any deviation is a ValueError naming it."""
        name = str(path)
        data = read_npz(path, "LSTM weights")
        keys = set(data)
        missing = [k for k in _KEYS if k not in keys]
        extra = sorted(keys - set(_KEYS))
        arrays = {k: data[k] for k in _KEYS} if not missing and not extra else None
        if missing:
            raise BadInput(f"{name} lacks {', '.join(missing)}; an LSTM export has exactly {', '.join(_KEYS)}")
        if extra:
            raise BadInput(f"{name} has unexpected arrays {', '.join(extra)}; an LSTM export has exactly "
                             f"{', '.join(_KEYS)}")
        mode = arrays.pop("mode")
        if mode.shape != () or mode.dtype.kind != "U":
            raise BadInput(f"{name}: `mode` must be a string, not {mode.dtype} with shape {mode.shape}")
        try:
            return cls(mode=str(mode), source=name, **arrays)
        except (TypeError, ValueError) as e:
            raise BadInput(f"{name}: {first_line(e)}") from None


def random_weights(cfg, rng, classes=10):
    """Random `LSTMWeights` for ``cfg`` (codes uniform over the mode's set; scales that keep the gates
    in range): stimulus for tests and for power estimates of modes without a trained model."""
    H, I = cfg.hidden, cfg.input_size
    codes = {"binary": (-1, 1), "ternary": (-1, 0, 1), "fixed12": tuple(range(-FIXED12_MAX, FIXED12_MAX + 1))}
    scale = 1.0 if cfg.mode != "fixed12" else 2.0 ** -11
    return LSTMWeights(mode=cfg.mode, wx=rng.choice(codes[cfg.mode], (4 * H, I)),
                       wh=rng.choice(codes[cfg.mode], (4 * H, H)),
                       sx=rng.uniform(0.05, 0.6, 4 * H) * scale, sh=rng.uniform(0.05, 0.6, 4 * H) * scale,
                       b=rng.normal(0, 0.5, 4 * H), sc=rng.uniform(0.3, 1.5, H), bc=rng.normal(0, 0.2, H),
                       h0=rng.uniform(-0.5, 0.5, H), c0=rng.uniform(-1, 1, H),
                       head_w=rng.normal(size=(classes, H)), head_b=np.zeros(classes), source="random weights")


def forward_folded(weights, x, state=None):
    """Float64 forward of the folded model with exact sigmoid/tanh: hidden states (B, T, H), (h, c).

    Equals the torch model's eval-mode forward (tested to 1e-5); the reference
    for the fixed-point golden model's error.
    """
    x = np.asarray(x, dtype=np.float64)
    B, T, _ = x.shape
    H = weights.hidden
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))
    h, c = (np.broadcast_to(weights.h0, (B, H)), np.broadcast_to(weights.c0, (B, H))) if state is None else state
    gx = (x @ weights.wx.T.astype(np.float64)) * weights.sx
    outs = np.empty((B, T, H))
    for t in range(T):
        pre = gx[:, t] + weights.sh * (h @ weights.wh.T.astype(np.float64)) + weights.b
        i, f, g, o = (pre[:, k * H:(k + 1) * H] for k in range(4))
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(weights.sc * c + weights.bc)
        outs[:, t] = h
    return outs, (h, c)


@dataclass(frozen=True)
class LSTMConfig(ConfigMixin):
    """The BT-LSTM accelerator: sizes, weight mode, parallelism and number formats.

    Parameters
    ----------
    input_size, hidden : int
        I and H.
    mode : {"binary", "ternary", "fixed12"}
        Weight codes; ``fixed12`` is the baseline with real multipliers.
    lanes : int
        L, output units computed in parallel.
    inputs_per_cycle : int
        K, inputs each lane consumes per cycle.
    x_fmt, h_fmt, c_fmt : FixedFormat
        Inputs, hidden state, cell state.
    pre_fmt : FixedFormat
        Gate pre-activations, biases and the normalized cell (activation inputs).
    act_fmt : FixedFormat
        Sigmoid and tanh outputs.
    s_fmt : FixedFormat
        The folded batch-norm scales sx, sh, sc.
    post_units : int or None
        M, the shared post-accumulation units (gate scaling, activations, cell
        update), 1 <= M <= L; each takes one lane's sums per cycle. None: the
        fewest that never stall the array, ceil(L / (Cx + Ch)) (`units`).
    pipeline : int
        Register stages added for a clock (`post_offsets`, `handover`): 0 none; 1 splits every sum of
        products of the post-accumulation units into a carry-save tree and, a cycle later, the adder,
        rounding and clamp (`accel.fused`), registers every activation's table lookup before its
        interpolation, gate o's inputs from the gate and c registers, and the adder trees' sums before the
        accumulators (6 more cycles per post-unit item, 1 more per hand-over); 2 also registers every
        memory's word before its first use (7 and 2); 3 also registers the adder trees halfway through
        their carry-save levels (7 and 3).
    segments : int
        Linear segments of the sigmoid and tanh units (a power of two; 128 keeps
        a trained model's hidden states within 0.005 of the float model's,
        where 32 let the error grow to 0.04 over 8 steps).
    """

    #: The values each choice field accepts (the CLI lists them).
    CHOICES = {"mode": MODES}
    #: What the fields whose default is None resolve to (the CLI shows it).
    AUTO = {"post_units": "the fewest that never stall the array, ceil(lanes / (Cx + Ch))"}

    input_size: int = 8
    hidden: int = 32
    mode: str = "ternary"
    lanes: int = 4
    inputs_per_cycle: int = 8
    x_fmt: FixedFormat = FixedFormat(10, 8)
    h_fmt: FixedFormat = FixedFormat(12, 10)
    c_fmt: FixedFormat = FixedFormat(16, 12)
    pre_fmt: FixedFormat = FixedFormat(16, 12)
    act_fmt: FixedFormat = FixedFormat(12, 10)
    s_fmt: FixedFormat = FixedFormat(18, 14)
    segments: int = 128
    post_units: int | None = None
    pipeline: int = 0

    def __post_init__(self):
        self._coerce_formats()
        check_int("segments", self.segments, 1, 4096)
        if self.segments & (self.segments - 1):
            raise ValueError(f"`segments` must be a power of two, not {self.segments}")
        check_int("input_size", self.input_size, 1, 65536)
        check_int("hidden", self.hidden, 1, 16384)
        check_choice("mode", self.mode, MODES)
        check_int("lanes", self.lanes, 1, 1024)
        check_int("inputs_per_cycle", self.inputs_per_cycle, 1, 1024)
        if self.post_units is not None:
            check_int("post_units", self.post_units, 1, self.lanes)
        check_int("pipeline", self.pipeline, 0, MAX_PIPELINE)
        for name in ("x_fmt", "h_fmt", "c_fmt", "pre_fmt", "act_fmt", "s_fmt"):
            if not getattr(self, name).signed:
                raise ValueError(f"`{name}` must be signed, not {getattr(self, name)}")
        if self.act_fmt.int_bits < 2:
            raise ValueError(f"`act_fmt` must represent 1.0 (at least 2 integer bits with the sign), not {self.act_fmt}")
        if self.max_product_bits > 62:
            raise ValueError(f"these formats and sizes need {self.max_product_bits}-bit intermediate sums; "
                             f"at most 62 are supported (use narrower formats)")

    @property
    def weight_bits(self):
        return WEIGHT_BITS[self.mode]

    @property
    def weight_frac(self):
        """Fractional bits the hardware reads the weight codes with (11 for fixed12)."""
        return 11 if self.mode == "fixed12" else 0

    def acc_bits(self, n, fmt):
        """Exact width of a sum of ``n`` products of a weight code and a ``fmt`` code."""
        w = 1 if self.mode != "fixed12" else 11
        return fmt.total + w + max(1, math.ceil(math.log2(n))) + (1 if self.mode == "fixed12" else 0)

    @property
    def max_product_bits(self):
        ax, ah = self.acc_bits(self.input_size, self.x_fmt), self.acc_bits(self.hidden, self.h_fmt)
        fx, fh = (self.s_fmt.frac + self.weight_frac + f.frac for f in (self.x_fmt, self.h_fmt))
        frac = max(fx, fh, self.pre_fmt.frac)
        shift = frac - min(fx, fh)
        return self.s_fmt.total + max(ax, ah) + shift + 2

    @property
    def groups(self):
        """G: groups of L units; lane l of group g computes unit g*L + l."""
        return -(-self.hidden // self.lanes)

    @property
    def units(self):
        """M: the shared post-accumulation units (``post_units``, or the fewest that never stall)."""
        if self.post_units is not None:
            return self.post_units
        return max(1, -(-self.lanes // (self.x_chunks + self.h_chunks)))

    @property
    def drain_cycles(self):
        """D = ceil(L / M): cycles the post units take to drain one gate's L sums."""
        return -(-self.lanes // self.units)

    @property
    def x_chunks(self):
        return -(-self.input_size // self.inputs_per_cycle)

    @property
    def h_chunks(self):
        return -(-self.hidden // self.inputs_per_cycle)

    def weight_memory_bits(self):
        """Bits of the weight memory as built: G*4*(Cx+Ch) words of L*K codes (padding included)."""
        words = self.groups * 4 * (self.x_chunks + self.h_chunks)
        return words * self.lanes * self.inputs_per_cycle * self.weight_bits

    def check_weights(self, weights):
        """Raise unless ``weights`` (LSTMWeights) fit this configuration."""
        if (weights.input_size, weights.hidden, weights.mode) != (self.input_size, self.hidden, self.mode):
            raise ValueError(f"{weights.source}: a {weights.mode} LSTM with I={weights.input_size}, "
                             f"H={weights.hidden} does not fit the configuration (I={self.input_size}, "
                             f"H={self.hidden}, mode {self.mode})")

    @classmethod
    def for_weights(cls, weights, **kwargs):
        return cls(input_size=weights.input_size, hidden=weights.hidden, mode=weights.mode, **kwargs)


def schedule(cfg, steps=1):
    """Cycle-exact schedule of the accelerator (the RTL must take exactly these cycles).

    Per time step the controller issues, for each group g of L units and each
    gate q in i, f, g, o, the Cx = ceil(I/K) input chunks and then the
    Ch = ceil(H/K) hidden chunks, C = Cx + Ch cycles per gate: one (gate, chunk)
    per cycle, every lane adding K products of its unit's row into its
    accumulators. `handover` cycles after a gate's last issue its L sums move
    into the hold buffer, which the M post units drain in D = ceil(L/M) cycles
    while the array accumulates the next gate; a hand-over waits for the
    previous drain to end, so gates complete every max(C, D) cycles (D > C
    stalls the array D - C cycles per gate). Counting from cycle 0, which
    issues the first chunk::

        first hand-over        cycle C - 1 + handover
        the 4G - 1 next ones   max(C, D) cycles apart
        last drain cycle       D cycles after the last hand-over (its P0)
        last h written         stages - 1 cycles after that (`post_offsets`), the step's last cycle

    so a step takes C - 1 + handover + (4G - 1) max(C, D) + D + stages cycles.
    The lower bound counts the add/subtract/skip operations of the unpadded
    matrices on L*K adders.
    """
    C, D, G = cfg.x_chunks + cfg.h_chunks, cfg.drain_cycles, cfg.groups
    issue = G * 4 * C
    per_step = C - 1 + handover(cfg) + (4 * G - 1) * max(C, D) + D + post_offsets(cfg)["stages"]
    ops = 4 * cfg.hidden * (cfg.input_size + cfg.hidden)
    lower = -(-ops // (cfg.lanes * cfg.inputs_per_cycle))
    return {"cycles_per_step": per_step, "issue_cycles": issue, "stall_cycles": (4 * G - 1) * max(0, D - C),
            "post_units": cfg.units, "drain_cycles": D, "latency": per_step - issue,
            "cycles": per_step * steps, "lower_bound_per_step": lower,
            "utilization": round(ops / (cfg.lanes * cfg.inputs_per_cycle * per_step), 4),
            "weight_memory_bits": cfg.weight_memory_bits()}


def _aligned(terms, frac):
    """Sum of ``(int64 values, their fraction bits)`` aligned exactly to ``frac`` bits."""
    total = 0
    for v, f in terms:
        total = total + (v << (frac - f))
    return total


class LSTMGolden:
    """Integer model of the accelerator's arithmetic (module docstring), vectorized over a batch."""

    def __init__(self, cfg, weights):
        if not isinstance(cfg, LSTMConfig):
            raise TypeError(f"`cfg` must be an LSTMConfig, not {type(cfg).__name__}")
        cfg.check_weights(weights)
        self.cfg, self.weights = cfg, weights
        q = lambda v, fmt: quantize(np.asarray(v, dtype=np.float64), fmt)
        wscale = 2.0 ** cfg.weight_frac
        self.sx, self.sh = q(weights.sx * wscale, cfg.s_fmt), q(weights.sh * wscale, cfg.s_fmt)
        self.sc = q(weights.sc, cfg.s_fmt)
        self.b, self.bc = q(weights.b, cfg.pre_fmt), q(weights.bc, cfg.pre_fmt)
        self.h0, self.c0 = q(weights.h0, cfg.h_fmt), q(weights.c0, cfg.c_fmt)
        self.saturated = {k: int(np.sum(np.abs(getattr(weights, k) * scale) > fmt.max_value))
                          for k, fmt, scale in (("sx", cfg.s_fmt, wscale), ("sh", cfg.s_fmt, wscale),
                                                ("sc", cfg.s_fmt, 1), ("b", cfg.pre_fmt, 1), ("bc", cfg.pre_fmt, 1))}
        self.sigmoid = activations.sigmoid(cfg.pre_fmt, cfg.act_fmt, segments=cfg.segments)
        self.tanh = activations.tanh(cfg.pre_fmt, cfg.act_fmt, segments=cfg.segments)
        # the weight sums on float64 BLAS where every partial sum provably stays below 2**53 (then exact), else int64
        self._wx, self._wh = (self._matrix(w.T, xy_fmt) for w, xy_fmt in ((weights.wx, cfg.x_fmt),
                                                                          (weights.wh, cfg.h_fmt)))

    @staticmethod
    def _matrix(w, fmt):
        """``w`` (codes, ``(inputs, 4H)``) as float64 when ``codes @ w`` is exact in float64 for any codes of
        ``fmt``, else as int64."""
        peak = int(np.abs(w).max(initial=0))
        exact = exact_in_float(w.shape[0], peak, max(-fmt.min_code, fmt.max_code))
        return w.astype(np.float64 if exact else np.int64)

    def _dot(self, codes, w):
        if w.dtype == np.float64:
            return np.rint(codes @ w).astype(np.int64)
        return codes.astype(np.int64) @ w

    def input_codes(self, x):
        return quantize(np.asarray(x, dtype=np.float64), self.cfg.x_fmt)

    def initial_state(self, batch):
        H = self.cfg.hidden
        return np.broadcast_to(self.h0, (batch, H)).copy(), np.broadcast_to(self.c0, (batch, H)).copy()

    def step(self, xq, h, c):
        """One time step on codes: ``(h, c, pre)`` codes after input codes ``xq`` (B, I)."""
        cfg, H = self.cfg, self.cfg.hidden
        sf, xf, hf, pf, af, cf = (cfg.s_fmt.frac, cfg.x_fmt.frac, cfg.h_fmt.frac, cfg.pre_fmt.frac,
                                  cfg.act_fmt.frac, cfg.c_fmt.frac)
        xf, hf = xf + cfg.weight_frac, hf + cfg.weight_frac  # fractions of the weight sums
        ax, ah = self._dot(xq, self._wx), self._dot(h, self._wh)
        frac = max(sf + xf, sf + hf, pf)
        pre = requantize(_aligned([(self.sx * ax, sf + xf), (self.sh * ah, sf + hf), (self.b, pf)], frac),
                         frac, cfg.pre_fmt)
        i, f, g, o = (pre[:, k * H:(k + 1) * H] for k in range(4))
        i, f, o, g = self.sigmoid(i), self.sigmoid(f), self.sigmoid(o), self.tanh(g)
        frac = max(af + cf, 2 * af)
        c = requantize(_aligned([(f * c, af + cf), (i * g, 2 * af)], frac), frac, cfg.c_fmt)
        frac = max(sf + cf, pf)
        n = requantize(_aligned([(self.sc * c, sf + cf), (self.bc, pf)], frac), frac, cfg.pre_fmt)
        h = requantize(o * self.tanh(n), 2 * af, cfg.h_fmt)
        return h, c, pre

    def run(self, x, state=None):
        """Hidden-state codes of every step ``(B, T, H)`` and the final ``(h, c)`` codes for inputs
        ``x`` (B, T, I floats, quantized to x_fmt)."""
        xq = self.input_codes(x)
        B, T, _ = xq.shape
        h, c = self.initial_state(B) if state is None else state
        out = np.empty((B, T, self.cfg.hidden), dtype=np.int64)
        for t in range(T):
            h, c, _ = self.step(xq[:, t], h, c)
            out[:, t] = h
        return out, (h, c)

    def logits(self, h_codes):
        """Host output layer in float64 on dequantized hidden states (..., H) -> (..., C)."""
        return dequantize(h_codes, self.cfg.h_fmt) @ self.weights.head_w.T + self.weights.head_b

    def classify(self, x):
        """Predicted classes of sequences ``x`` (B, T, I) from the last step's logits."""
        hs, _ = self.run(x)
        return np.argmax(self.logits(hs[:, -1]), axis=1)
