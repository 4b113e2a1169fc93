"""Behavioural test vectors for the building blocks, written once and run at every level.

`block_vectors` gives port-level stimulus and the golden model's expected
outputs; the Amaranth simulator (`sim.amaranth_sim`) and the cocotb
testbench (`sim.tb.vectors_tb`) only differ in how they drive the design.
Inputs are exhaustive when the input space has at most `EXHAUSTIVE_LIMIT`
points, otherwise random (fixed seed) plus the edge cases: extremes of every
input, all-zero, saturation.
"""

from dataclasses import dataclass
import itertools

import numpy as np

from models.activation import activation_model
from models.mulround import mulround_model, MULROUND_LATENCY
from models.ternary_dot import ternary_dot_model, pack_x, pack_codes, TERNARY_DOT_LATENCY
from models.activation import ACTIVATION_LATENCY

__all__ = ["Vectors", "block_vectors", "compare_outputs", "EXHAUSTIVE_LIMIT", "MIN_RANDOM"]

EXHAUSTIVE_LIMIT = 2 ** 16
MIN_RANDOM = 10_000


@dataclass
class Vectors:
    """Per-cycle port values: ``inputs[port][i]`` and ``expected[port][j]`` (ints)."""

    inputs: dict
    expected: dict
    latency: int
    exhaustive: bool

    def __len__(self):
        return len(next(iter(self.inputs.values())))

    def to_json(self):
        return {"inputs": self.inputs, "expected": self.expected, "latency": self.latency,
                "exhaustive": self.exhaustive}


def _codes_range(fmt):
    return np.arange(fmt.min_code, fmt.max_code + 1, dtype=np.int64)


def _random_codes(rng, fmt, n):
    return rng.integers(fmt.min_code, fmt.max_code, size=n, endpoint=True)


def _edges(fmt):
    return sorted({fmt.min_code, fmt.min_code + 1, -1 if fmt.signed else 1, 0, 1,
                   fmt.max_code - 1, fmt.max_code} & set(range(fmt.min_code, fmt.max_code + 1)))


def _mulround(cfg, rng, n):
    space = 2 ** (cfg.a_fmt.total + cfg.b_fmt.total)
    if space <= EXHAUSTIVE_LIMIT:
        a, b = (g.ravel() for g in np.meshgrid(_codes_range(cfg.a_fmt), _codes_range(cfg.b_fmt),
                                               indexing="ij"))
        exhaustive = True
    else:
        ea, eb = zip(*itertools.product(_edges(cfg.a_fmt), _edges(cfg.b_fmt)))
        a = np.concatenate([ea, _random_codes(rng, cfg.a_fmt, n)])
        b = np.concatenate([eb, _random_codes(rng, cfg.b_fmt, n)])
        exhaustive = False
    y = mulround_model(cfg, a, b)
    return Vectors({"a": a.tolist(), "b": b.tolist()}, {"y": y.tolist()}, MULROUND_LATENCY, exhaustive)


def _ternary_dot(cfg, rng, n):
    fmt, k = cfg.x_fmt, cfg.k
    code_values = np.array([-1, 1] if cfg.mode == "binary" else [-1, 0, 1])
    space = 2 ** (fmt.total * k) * len(code_values) ** k
    if space <= EXHAUSTIVE_LIMIT:
        xs = np.array(list(itertools.product(_codes_range(fmt), repeat=k)))
        cs = np.array(list(itertools.product(code_values, repeat=k)))
        x = np.repeat(xs, len(cs), axis=0)
        codes = np.tile(cs, (len(xs), 1))
        exhaustive = True
    else:
        edge_x = [np.full(k, v) for v in (fmt.min_code, fmt.max_code, 0)]
        edge_c = [np.full(k, c) for c in code_values]
        ex, ec = zip(*itertools.product(edge_x, edge_c))
        x = np.concatenate([np.array(ex), _random_codes(rng, fmt, (n, k))])
        codes = np.concatenate([np.array(ec), rng.choice(code_values, size=(n, k))])
        exhaustive = False
    y = ternary_dot_model(cfg, x, codes)
    return Vectors({"x": pack_x(cfg, x), "codes": pack_codes(cfg, codes)}, {"y": y.tolist()},
                   TERNARY_DOT_LATENCY, exhaustive)


def _activation(cfg, rng, n):
    fmt = cfg.in_fmt
    if 2 ** fmt.total <= EXHAUSTIVE_LIMIT:
        x = _codes_range(fmt)
        exhaustive = True
    else:
        x = np.concatenate([_edges(fmt), _random_codes(rng, fmt, n)])
        exhaustive = False
    return Vectors({"x": x.tolist()}, {"y": activation_model(cfg, x).tolist()},
                   ACTIVATION_LATENCY, exhaustive)


_GENERATORS = {"mulround": _mulround, "ternary_dot": _ternary_dot, "activation": _activation}


def block_vectors(block, cfg, *, seed=0, n_random=MIN_RANDOM):
    """Stimulus and expected outputs for block ``block`` with config ``cfg``."""
    if block not in _GENERATORS:
        raise ValueError(f"block must be one of {', '.join(_GENERATORS)}, not {block!r}")
    return _GENERATORS[block](cfg, np.random.default_rng(seed), n_random)


def _bits(value, width):
    return format(value & ((1 << width) - 1), f"0{width}b") if width else ""


def compare_outputs(vectors, actual, widths=None):
    """``(mismatches, first)``: the count and a message for the first divergence, or None.

    ``actual[port]`` lists the output values seen on valid cycles, in order.
    ``widths[port]`` (bits) makes the message show bit patterns.
    """
    widths = widths or {}
    mismatches, first = 0, None
    for port, want in vectors.expected.items():
        got = actual.get(port, [])
        if len(got) != len(want):
            mismatches += abs(len(got) - len(want))
            first = first or f"port {port}: expected {len(want)} valid outputs, got {len(got)}"
        for i, (w, g) in enumerate(zip(want, got)):
            if w != g:
                mismatches += 1
                if first is None:
                    ins = ", ".join(f"{name}={vals[i]}" for name, vals in vectors.inputs.items())
                    width = widths.get(port, 0)
                    first = (f"vector {i} ({ins}): {port} expected {w} [{_bits(w, width)}], "
                             f"got {g} [{_bits(g, width)}]")
    return mismatches, first
