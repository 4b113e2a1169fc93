"""TaxoNN golden model: online SGD on P time-multiplexed multipliers, bit-exact, with its cycle count.

Arithmetic (integer codes throughout; ``wf, af, ef, gf`` are the fractional
bits of the weight, activation, error and gradient formats):

Forward, layer l (``W`` is ``n_l x n_{l-1}``, bias ``b`` in the weight format)
    ``acc = W @ a + (b << af)`` exactly (the accumulator is wide enough by
    construction, see `TaxoNNConfig.acc_bits`); ``z = requantize(acc, wf+af, a_fmt)``
    with round-to-nearest (ties up) and saturation. Hidden layers:
    ``a = max(z, 0)`` (ReLU) or ``a = sigmoid_pwl(z)``; output layer:
    ``a = z`` (linear) or ``sigmoid_pwl(z)``. Inputs: ``quantize(x, a_fmt)``.
Output error
    ``d_L = requantize(a_L - onehot(y), af, e_fmt)``, the one-hot 1.0 being ``1 << af``.
Back-propagation, l = L .. 2 (with W_l before this step's update)
    ``e = requantize(W_l^T @ d_l, wf+ef, e_fmt)``; ReLU: ``d = e where z > 0 else 0``;
    sigmoid: ``p = requantize(a * ((1 << af) - a), 2af, a_fmt)``,
    ``d = requantize(e * p, ef+af, e_fmt)`` (two products on the multipliers).
Update, every layer
    ``g = requantize(d_i * a_j, ef+af, g_fmt)`` (the multiplier's output bus),
    ``delta = shift_round(g, gf + k - wf, rounding, r)`` (the learning-rate
    shifter, eta = 2^-k: the one place stochastic rounding is used),
    ``W_ij = saturate_w(W_ij - delta)``. Bias: ``g = requantize(d_i, ef, g_fmt)``,
    the same shifter and subtraction, in a dedicated bias unit.

Every requantization except the shifter rounds to nearest; the shifter uses
the configured rounding. Stochastic draws come from a bank of P + 1 LFSR lanes
(quant.lfsr, seed ``lfsr_seed``); see `update_draws` for which draw serves
which weight. The bank is advanced only in stochastic mode.

Schedule (cycles; ``C_l = ceil(n_{l-1} / P)`` chunks of P weights per row)
    FW    layer l = 1..L: rows i in order, chunks c in order, one cycle each:
          P products ``W[i, cP..cP+P-1] * a[cP..]`` into the adder tree and the
          row accumulator; the bias add, requantization and activation of a
          row overlap the next row's chunks. ``n_l * C_l + FW_DRAIN`` cycles.
    ERR   ``ceil(n_L / P) + ERR_DRAIN`` cycles: P subtractors.
    BWU   layer l = L..1: for each row i and chunk c, one weight read serves a
          BW cycle (l >= 2: P products ``W[i, cP..] * d[i]`` added into the e
          accumulators ``e[cP..]``) and a WU cycle (P products ``d[i] * a[cP..]``
          through the shifter into the write-back). Shared multipliers: BW and
          WU take a cycle each, ``n_l * C_l * (2 if l >= 2 else 1) + BWU_DRAIN``
          cycles. Dedicated arrays (``multipliers="dedicated"``, the baseline):
          BW and WU of one read overlap, one (row, chunk) per cycle in every
          layer, ``n_l * C_l + BWU_DRAIN`` cycles, counted as update cycles
          (see `schedule`).
    DERIV after BWU of layer l >= 2: ``e`` of layer l-1 is requantized and
          multiplied by the derivative, P elements per cycle:
          ``ceil(n_{l-1} / P) * (1 for ReLU, 2 for sigmoid) + DERIV_DRAIN`` cycles.
Inference runs FW only. The lower bound is the multiplies a sample needs divided
by P: one per weight forward, one per weight of layers 2..L backward, one per
weight for the update, two per hidden neuron for the sigmoid derivative (with
dedicated arrays less the backward ones, which overlap the update).
"""

from dataclasses import dataclass, field
import math

import numpy as np

from quant import (FixedFormat, LFSRBank, PWLActivation, quantize, requantize, shift_round,
                   dequantize)
from quant.rounding import RAND_BITS
from ._config import ConfigMixin, check_choice, check_int

__all__ = ["TaxoNNConfig", "TaxoNNGolden", "baseline_config", "StepResult", "schedule", "update_draws",
           "block_draws", "init_params", "FW_DRAIN", "ERR_DRAIN", "BWU_DRAIN", "DERIV_DRAIN"]

#: Pipeline drain cycles per phase (the RTL's pipeline depths).
FW_DRAIN = 3
ERR_DRAIN = 1
BWU_DRAIN = 2
DERIV_DRAIN = 2

_MAX_ACC = 62  # int64 with headroom


def _ceil_div(a, b):
    return -(-a // b)


@dataclass(frozen=True)
class TaxoNNConfig(ConfigMixin):
    """Everything that defines a TaxoNN network, its arithmetic and its hardware.

    Parameters
    ----------
    layers : tuple of int
        Layer sizes n_0 (inputs) .. n_L (classes).
    pes : int
        Number of multipliers P.
    hidden_activation : {"relu", "sigmoid"}
    output : {"sigmoid", "linear"}
        Output layer: sigmoid (cross-entropy error) or linear (squared error).
    w_fmt, a_fmt, e_fmt, g_fmt : FixedFormat
        Weights (and biases), activations, errors, gradients.
    acc_bits : int
        Accumulator width. 0 means the minimum exact width; a given width must
        be at least that (accumulators never overflow) and at most 62.
    lr_shift : int
        k, the learning rate being 2^-k.
    rounding : {"nearest", "stochastic"}
        Rounding of the learning-rate shifter.
    lfsr_seed : int
        Seed of the stochastic-rounding LFSR bank.
    init_seed : int
        Seed of the initial weights.
    multipliers : {"shared", "dedicated"}
        Hardware only: one set of P multipliers time-multiplexed over every
        phase (TaxoNN), or a dedicated array per phase (the comparison baseline:
        the same arithmetic, more multipliers, and the schedule they permit,
        back-propagation overlapped with the update; see `schedule`).
    """

    #: The values each choice field accepts (the CLI lists them).
    CHOICES = {"hidden_activation": ("relu", "sigmoid"), "output": ("sigmoid", "linear"),
                "rounding": ("nearest", "stochastic"), "multipliers": ("shared", "dedicated")}

    layers: tuple = (64, 32, 10)
    pes: int = 4
    hidden_activation: str = "relu"
    output: str = "sigmoid"
    w_fmt: FixedFormat = FixedFormat(12, 10)
    a_fmt: FixedFormat = FixedFormat(12, 8)
    e_fmt: FixedFormat = FixedFormat(12, 10)
    g_fmt: FixedFormat = FixedFormat(16, 14)
    acc_bits: int = 0
    lr_shift: int = 7  # chosen by benchmarks/taxonn_mnist.py --lr-sweep (docs/taxonn.md)
    rounding: str = "stochastic"
    lfsr_seed: int = 1
    init_seed: int = 0
    multipliers: str = "shared"

    def __post_init__(self):
        self._coerce_formats()
        if isinstance(self.layers, str):
            object.__setattr__(self, "layers", tuple(int(v) for v in self.layers.split(",")))
        if not isinstance(self.layers, tuple) or len(self.layers) < 2:
            raise ValueError(f"`layers` must list at least 2 sizes (inputs, outputs), not {self.layers!r}")
        for n in self.layers:
            check_int("layer size", n, 1, 65536)
        check_int("pes", self.pes, 1, 256)
        check_choice("hidden_activation", self.hidden_activation, self.CHOICES["hidden_activation"])
        check_choice("output", self.output, self.CHOICES["output"])
        check_choice("rounding", self.rounding, self.CHOICES["rounding"])
        check_choice("multipliers", self.multipliers, self.CHOICES["multipliers"])
        check_int("lr_shift", self.lr_shift, 0, 32)
        check_int("lfsr_seed", self.lfsr_seed, 0, 2**32 - 1)
        check_int("init_seed", self.init_seed, 0, 2**32 - 1)
        check_int("acc_bits", self.acc_bits, 0, _MAX_ACC)
        for name in ("w_fmt", "a_fmt", "e_fmt", "g_fmt"):
            if not getattr(self, name).signed:
                raise ValueError(f"`{name}` must be signed, not {getattr(self, name)}")
        if self.a_fmt.int_bits < 2:
            raise ValueError(f"`a_fmt` must represent 1.0 (at least 2 integer bits with the sign), "
                             f"not {self.a_fmt}")
        need = self.min_acc_bits
        if need > _MAX_ACC:
            raise ValueError(f"these formats and layer sizes need {need}-bit accumulators; at most "
                             f"{_MAX_ACC} are supported (use narrower formats)")
        if self.acc_bits and self.acc_bits < need:
            raise ValueError(f"`acc_bits` must be at least {need} so accumulators cannot overflow, "
                             f"not {self.acc_bits}")

    @property
    def min_acc_bits(self):
        """Bits for an exact forward and backward dot product at any layer."""
        w, a, e = self.w_fmt, self.a_fmt, self.e_fmt
        peak = 0
        for n_in, n_out in zip(self.layers[:-1], self.layers[1:]):
            fw = n_in * (1 << (w.total - 1)) * (1 << (a.total - 1)) + (1 << (w.total - 1 + a.frac))
            bw = n_out * (1 << (w.total - 1)) * (1 << (e.total - 1))
            peak = max(peak, fw, bw)
        return peak.bit_length() + 1

    @property
    def accumulator_bits(self):
        return self.acc_bits or self.min_acc_bits

    @property
    def n_layers(self):
        return len(self.layers) - 1

    @property
    def eta(self):
        return 2.0 ** -self.lr_shift

    @property
    def sigmoid(self):
        return PWLActivation("sigmoid", self.a_fmt, self.a_fmt)


def baseline_config(cfg):
    """The comparison baseline of ``cfg``: dedicated multiplier arrays per phase, 16-bit arithmetic."""
    import dataclasses
    return dataclasses.replace(cfg, multipliers="dedicated", w_fmt=FixedFormat(16, 14),
                               a_fmt=FixedFormat(16, 12), e_fmt=FixedFormat(16, 14),
                               g_fmt=FixedFormat(20, 18), acc_bits=0)


def init_params(cfg):
    """Initial weight and bias codes: Glorot-uniform weights rounded to w_fmt, zero biases."""
    rng = np.random.default_rng(cfg.init_seed)
    params = []
    for n_in, n_out in zip(cfg.layers[:-1], cfg.layers[1:]):
        limit = math.sqrt(6.0 / (n_in + n_out))
        w = quantize(rng.uniform(-limit, limit, size=(n_out, n_in)), cfg.w_fmt)
        params.append((w, np.zeros(n_out, dtype=np.int64)))
    return params


def update_draws(cfg, bank):
    """Stochastic-rounding draws for one step's updates, in the order the hardware takes them.

    Layers L..1; within a layer, rows i, chunks c: every lane of the
    ``P + 1``-lane bank draws once per WU cycle. Lane p < P serves weight
    ``(i, cP + p)``; lane P in chunk 0 serves bias ``i``. Returns
    ``{l: (rand_W, rand_b)}`` with l the 0-based layer index.
    """
    draws, _ = block_draws(cfg, bank, 1)
    return {l: (w[0], b[0]) for l, (w, b) in draws.items()}


def block_draws(cfg, bank, steps, mask=(1 << RAND_BITS) - 1, joined=False):
    """The update draws of ``steps`` successive steps at once, each laid out as `update_draws` says, as
    ``({l: (rand_W (steps, n_out, n_in), rand_b (steps, n_out))}, ends)``, with ``ends[i]`` the bank's
    state after step i's draws (uint64, ``(steps, lanes)``). Advances ``bank`` past all of them. ``mask``
    keeps only the bits of each draw a caller reads (default: all `RAND_BITS`). ``joined``: each layer's
    draws as one array ``(steps, n_out, n_in + 1)`` instead, the bias draws last (``rand_W`` and ``rand_b``
    are views of it either way)."""
    p = cfg.pes
    counts = [(l, cfg.layers[l + 1] * _ceil_div(cfg.layers[l], p)) for l in reversed(range(cfg.n_layers))]
    per_step = sum(c for _, c in counts)
    states = bank.states(steps * per_step).reshape(steps, per_step, p + 1)
    keep = np.uint32(mask & ((1 << RAND_BITS) - 1))
    draws, offset = {}, 0
    for l, count in counts:
        n_in, n_out = cfg.layers[l], cfg.layers[l + 1]
        chunks = count // n_out
        d = states[:, offset:offset + count].reshape(steps, n_out, chunks, p + 1)
        both = np.empty((steps, n_out, chunks * p + 1), dtype=np.int64)  # the weights' draws, then the bias's
        np.bitwise_and(d[..., :p], keep, out=both[..., :chunks * p].reshape(steps, n_out, chunks, p))
        np.bitwise_and(d[:, :, 0, p], keep, out=both[..., n_in])  # over the first unused lane's, if any
        draws[l] = both[..., :n_in + 1] if joined else (both[..., :n_in], both[..., n_in])
        offset += count
    return draws, states[:, -1].astype(np.uint64)


def schedule(cfg, inference=False):
    """Exact cycles per phase, multiplies per phase, the lower bound and utilizations.

    Returns a dict: ``cycles`` (per phase: ``fw``, and for training ``err``,
    ``bw``, ``wu``, ``deriv``; they add up to ``total`` exactly), ``total``,
    ``multiplies`` (per phase), ``overlap`` (training only: cycles of a phase
    spent inside another phase's cycles), ``lower_bound``, ``utilization`` (per
    phase) and ``utilization_total``.

    Shared multipliers (TaxoNN): BW and WU of a (row, chunk) take a cycle each,
    so ``bw = sum_{l>=2} n_l C_l`` and ``wu = sum_l n_l C_l + L * BWU_DRAIN``,
    as in the module docstring. ``overlap`` is ``{"bw": 0}``.

    Dedicated arrays (the baseline): BW (its own array, pipeline stage 1) and WU
    (its own array, stage 2) of the same (row, chunk) share the weight read, so
    every layer issues one (row, chunk) per cycle: ``n_l C_l + BWU_DRAIN``
    cycles per layer, BW included. Those cycles are counted once, as update
    cycles: ``cycles["wu"]`` is the same as for shared multipliers,
    ``cycles["bw"] = 0``, and ``overlap["bw"] = sum_{l>=2} n_l C_l`` says how
    many of the ``wu`` cycles also carry BW. The total is the shared total
    minus that. FW, ERR and DERIV are unchanged (each depends on the phase
    before it).

    ``utilization[phase]`` is the phase's multiplies over P times the cycles in
    which that phase's multipliers issue (its own cycles, or for BW overlapped
    into WU the overlapped cycles), so it means the same in both designs. The
    lower bound is the multiplies on the chain of phases that cannot overlap,
    divided by P: every multiply with shared multipliers; without BW's with
    dedicated arrays (BW's run in WU's cycles on their own array, and a layer's
    WU has at least as many multiplies as its BW), so ``utilization_total =
    lower_bound / total`` stays at most 1.
    """
    p, L = cfg.pes, cfg.n_layers
    sizes = cfg.layers
    chunks = [_ceil_div(sizes[l], p) for l in range(L)]
    fw = sum(sizes[l + 1] * chunks[l] + FW_DRAIN for l in range(L))
    mult = {"fw": sum(sizes[l] * sizes[l + 1] for l in range(L))}
    cycles = {"fw": fw}
    overlap = {}
    if not inference:
        dedicated = cfg.multipliers == "dedicated"
        bw_issues = sum(sizes[l + 1] * chunks[l] for l in range(1, L))
        cycles["err"] = _ceil_div(sizes[L], p) + ERR_DRAIN
        cycles["bw"] = 0 if dedicated else bw_issues
        cycles["wu"] = sum(sizes[l + 1] * chunks[l] for l in range(L)) + L * BWU_DRAIN
        per = 2 if cfg.hidden_activation == "sigmoid" else 1
        cycles["deriv"] = sum(_ceil_div(sizes[l], p) * per + DERIV_DRAIN for l in range(1, L))
        overlap["bw"] = bw_issues if dedicated else 0
        mult["bw"] = sum(sizes[l] * sizes[l + 1] for l in range(1, L))
        mult["wu"] = mult["fw"]
        mult["deriv"] = 2 * sum(sizes[1:L]) if cfg.hidden_activation == "sigmoid" else 0
    total = sum(cycles.values())
    mults = sum(mult.values()) - sum(mult[ph] for ph, c in overlap.items() if c)
    bound = _ceil_div(mults, p)
    issuing = {ph: c + overlap.get(ph, 0) for ph, c in cycles.items()}
    util = {ph: (mult.get(ph, 0) / (p * c) if c else 0.0) for ph, c in issuing.items()}
    return {"cycles": cycles, "total": total, "multiplies": mult, "overlap": overlap, "lower_bound": bound,
            "utilization": util, "utilization_total": bound / total}


@dataclass
class StepResult:
    outputs: np.ndarray      # a_L codes (a_fmt)
    prediction: int
    cycles: dict = field(default_factory=dict)
    total_cycles: int = 0


class TaxoNNGolden:
    """The bit-exact golden model. ``params`` is a list of ``(W, b)`` int64 code arrays."""

    def __init__(self, cfg, params=None):
        if not isinstance(cfg, TaxoNNConfig):
            raise TypeError(f"`cfg` must be a TaxoNNConfig, not {cfg!r}")
        self.cfg = cfg
        self.params = [(w.copy(), b.copy()) for w, b in (params or init_params(cfg))]
        self._check_params()
        self.bank = LFSRBank(cfg.lfsr_seed, cfg.pes + 1)
        self._train_schedule = schedule(cfg)
        self._infer_schedule = schedule(cfg, inference=True)

    def _check_params(self):
        if len(self.params) != self.cfg.n_layers:
            raise ValueError(f"expected {self.cfg.n_layers} layers of parameters, got {len(self.params)}")
        for l, (w, b) in enumerate(self.params):
            shape = (self.cfg.layers[l + 1], self.cfg.layers[l])
            if w.shape != shape or b.shape != shape[:1]:
                raise ValueError(f"layer {l + 1}: W must be {shape} and b ({shape[0]},), "
                                 f"not {w.shape} and {b.shape}")

    # -- arithmetic -----------------------------------------------------------
    def input_codes(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.cfg.layers[0]:
            raise ValueError(f"input must have {self.cfg.layers[0]} features, not {x.shape[-1]}")
        return quantize(x, self.cfg.a_fmt)

    def forward(self, a0):
        """``[(z_l, a_l)]`` for l = 1..L from input codes ``a0`` (batched over leading axes)."""
        cfg = self.cfg
        wf, af = cfg.w_fmt.frac, cfg.a_fmt.frac
        acts, a = [], a0
        for l, (w, b) in enumerate(self.params):
            acc = a @ w.T + (b << af)
            z = requantize(acc, wf + af, cfg.a_fmt)
            last = l == cfg.n_layers - 1
            kind = cfg.output if last else cfg.hidden_activation
            if kind == "relu":
                a = np.maximum(z, 0)
            elif kind == "sigmoid":
                a = cfg.sigmoid(z)
            else:
                a = z
            acts.append((z, a))
        return acts

    def infer(self, x):
        """Output codes and predictions for inputs ``x`` (float, shape (..., n_0))."""
        out = self.forward(self.input_codes(x))[-1][1]
        return out, np.argmax(out, axis=-1)

    def step(self, x, label):
        """One online-SGD step on one sample; updates ``self.params``."""
        cfg = self.cfg
        wf, af, ef, gf = cfg.w_fmt.frac, cfg.a_fmt.frac, cfg.e_fmt.frac, cfg.g_fmt.frac
        a0 = self.input_codes(x)
        acts = self.forward(a0)
        a_in = [a0] + [a for _, a in acts[:-1]]
        out = acts[-1][1]
        target = np.zeros_like(out)
        target[int(label)] = 1 << af
        d = requantize(out - target, af, cfg.e_fmt)
        draws = update_draws(cfg, self.bank) if cfg.rounding == "stochastic" else {}
        shift = gf + cfg.lr_shift - wf
        for l in reversed(range(cfg.n_layers)):
            w, b = self.params[l]
            d_next = None
            if l > 0:  # back-propagate with the weights before the update
                e = requantize(d @ w, wf + ef, cfg.e_fmt)
                z, a = acts[l - 1]
                if cfg.hidden_activation == "relu":
                    d_next = np.where(z > 0, e, 0)
                else:
                    p = requantize(a * ((1 << af) - a), 2 * af, cfg.a_fmt)
                    d_next = requantize(e * p, ef + af, cfg.e_fmt)
            rand_w, rand_b = draws.get(l, (None, None))
            g = requantize(np.outer(d, a_in[l]), ef + af, cfg.g_fmt)
            w_new = w - shift_round(g, shift, cfg.rounding, rand_w)
            gb = requantize(d, ef, cfg.g_fmt)
            b_new = b - shift_round(gb, shift, cfg.rounding, rand_b)
            self.params[l] = (w_new.clip(cfg.w_fmt.min_code, cfg.w_fmt.max_code),
                              b_new.clip(cfg.w_fmt.min_code, cfg.w_fmt.max_code))
            d = d_next
        sched = self._train_schedule
        return StepResult(out, int(np.argmax(out)), dict(sched["cycles"]), sched["total"])

    def float_params(self):
        """Weights and biases as floats: ``{"W1": ..., "b1": ..., ...}``."""
        out = {}
        for l, (w, b) in enumerate(self.params, 1):
            out[f"W{l}"] = dequantize(w, self.cfg.w_fmt)
            out[f"b{l}"] = dequantize(b, self.cfg.w_fmt)
        return out

    def accuracy(self, x, y, batch=2048):
        correct = 0
        for s in range(0, len(x), batch):
            correct += int((self.infer(x[s:s + batch])[1] == y[s:s + batch]).sum())
        return correct / len(x)
