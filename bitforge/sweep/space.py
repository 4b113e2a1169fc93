"""A sweep's space, read from YAML or JSON.

::

    design: taxonn                 # optional; must be the command's DESIGN
    fixed:                         # config fields every trial shares
      layers: [64, 16, 10]
    params:                        # the swept fields
      pes: [2, 4, 8]               #   a list: these values
      lr_shift: {low: 3, high: 6}  #   integers low..high (``step`` 1 unless given)
      rounding: [nearest, stochastic]
    budget:                        # the training of every trial (the design's budget keys)
      epochs: 1
      max_steps: 400

Every name must be a field of the design's config (the error lists them); every point is a valid config,
checked before any trial runs (a grid in full, random and Optuna points as they are drawn).
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from quant.errors import BadInput

__all__ = ["Space", "Choice", "IntRange", "FloatRange", "load_space", "MAX_TRIALS", "MAX_SPACE_BYTES"]

#: at most this many trials in one sweep (a grid larger than this is refused before any work)
MAX_TRIALS = 4096
MAX_SPACE_BYTES = 1 << 20
_TOP = {"design", "fixed", "params", "budget"}


@dataclass(frozen=True)
class Choice:
    """A field taking one of ``values`` (JSON values: numbers, strings, lists)."""
    values: tuple

    def grid(self):
        return list(self.values)

    def sample(self, rng):
        return self.values[int(rng.integers(len(self.values)))]

    def describe(self):
        return ", ".join(json.dumps(v) for v in self.values)


@dataclass(frozen=True)
class IntRange:
    """Integers ``low``, ``low + step``, ... up to ``high``."""
    low: int
    high: int
    step: int = 1

    def grid(self):
        return list(range(self.low, self.high + 1, self.step))

    def sample(self, rng):
        return self.low + self.step * int(rng.integers((self.high - self.low) // self.step + 1))

    def describe(self):
        return f"{self.low}..{self.high}" + (f" step {self.step}" if self.step != 1 else "")


@dataclass(frozen=True)
class FloatRange:
    """Numbers in [``low``, ``high``]: uniform (``log``: log-uniform); a grid needs ``step``."""
    low: float
    high: float
    step: float = None
    log: bool = False

    def grid(self):
        if self.step is None:
            raise BadInput(f"a grid over the range {self.describe()} needs `step` (or give its values as a list)")
        n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return [round(self.low + i * self.step, 12) for i in range(n)]

    def sample(self, rng):
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        if self.step is not None:
            return self.grid()[int(rng.integers(len(self.grid())))]
        return float(rng.uniform(self.low, self.high))

    def describe(self):
        return f"{self.low:g}..{self.high:g}" + (f" step {self.step:g}" if self.step else "") + \
            (" (log)" if self.log else "")


@dataclass
class Space:
    """The swept fields (``params``: name -> `Choice`/`IntRange`/`FloatRange`), the fixed fields and the
    training budget of a design's sweep."""
    design: object
    params: dict
    fixed: dict = field(default_factory=dict)
    budget: dict = field(default_factory=dict)
    source: str = ""

    def grid_size(self):
        n = 1
        for p in self.params.values():
            n *= len(p.grid())
        return n

    def config(self, point):
        """The design's config of ``point`` (a dict of swept values); `BadInput` naming the point if invalid."""
        data = {**self.fixed, **point}
        try:
            return self.design.config.from_json(data)
        except (TypeError, ValueError) as e:
            from quant.errors import first_line
            raise BadInput(f"{self.source}: the point {json.dumps(point, sort_keys=True)} is not a valid "
                           f"{self.design.config.__name__}: {first_line(e)}") from None

    def to_json(self):
        return {"design": self.design.name, "fixed": self.fixed, "budget": self.budget,
                "params": {k: p.describe() for k, p in self.params.items()}}


def _read(path):
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"space file {str(path)!r} does not exist (a .yaml or .json file; see docs/sweep.md)")
    if path.stat().st_size > MAX_SPACE_BYTES:
        raise BadInput(f"space file {str(path)!r} is {path.stat().st_size:,} bytes; at most {MAX_SPACE_BYTES:,}")
    text = path.read_text(errors="replace")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise BadInput(f"space file {str(path)!r} is not valid YAML: {str(e).splitlines()[0]}") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise BadInput(f"space file {str(path)!r} is not valid JSON: {e}") from None
    raise BadInput(f"space file {str(path)!r}: .yaml, .yml or .json is expected, not {path.suffix or 'no suffix'!r}")


def _number(where, value, kind):
    if isinstance(value, bool) or not isinstance(value, kind) or (isinstance(value, float) and not math.isfinite(value)):
        raise BadInput(f"{where} must be {'an integer' if kind is int else 'a finite number'}, not {value!r}")
    return value


def _param(where, spec):
    if isinstance(spec, list):
        if not spec:
            raise BadInput(f"{where}: an empty list of values")
        if len(spec) > MAX_TRIALS:
            raise BadInput(f"{where}: {len(spec):,} values; at most {MAX_TRIALS:,}")
        return Choice(tuple(spec))
    if isinstance(spec, dict):
        unknown = set(spec) - {"low", "high", "step", "log", "values"}
        if unknown:
            raise BadInput(f"{where}: unknown keys {', '.join(sorted(unknown))} (expected low, high, step, log, "
                           f"or values)")
        if "values" in spec:
            return _param(where, spec["values"])
        if "low" not in spec or "high" not in spec:
            raise BadInput(f"{where}: a range needs low and high, not {json.dumps(spec)}")
        low, high = spec["low"], spec["high"]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high, spec.get("step", 1))) \
                and not spec.get("log"):
            step = spec.get("step", 1)
            if step < 1 or high < low:
                raise BadInput(f"{where}: an integer range needs low <= high and step >= 1, not {json.dumps(spec)}")
            if (high - low) // step + 1 > MAX_TRIALS:
                raise BadInput(f"{where}: {(high - low) // step + 1:,} values; at most {MAX_TRIALS:,}")
            return IntRange(low, high, step)
        low, high = _number(f"{where} low", low, (int, float)), _number(f"{where} high", high, (int, float))
        step = spec.get("step")
        if step is not None:
            _number(f"{where} step", step, (int, float))
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise BadInput(f"{where} log must be true or false, not {log!r}")
        if not low < high or (step is not None and step <= 0) or (log and low <= 0):
            raise BadInput(f"{where}: a range needs low < high, a positive step and, with log, low > 0; not "
                           f"{json.dumps(spec)}")
        return FloatRange(float(low), float(high), None if step is None else float(step), log)
    return Choice((spec,))  # one value


def load_space(path, design):
    """The `Space` in ``path`` for ``design`` (a `bitforge.designs.Design`); `BadInput` with one line naming
    what is wrong and what was expected."""
    data = _read(path)
    src = f"space file {str(path)!r}"
    if not isinstance(data, dict):
        raise BadInput(f"{src} must hold a mapping with params (and fixed, budget), not {type(data).__name__}")
    unknown = set(data) - _TOP
    if unknown:
        raise BadInput(f"{src}: unknown keys {', '.join(sorted(map(str, unknown)))} (expected {', '.join(sorted(_TOP))})")
    if data.get("design", design.name) != design.name:
        raise BadInput(f"{src} is a space of {data['design']!r}, not of {design.name!r}")
    import dataclasses
    fields = [f.name for f in dataclasses.fields(design.config)]
    params, fixed = data.get("params") or {}, data.get("fixed") or {}
    for what, mapping in (("params", params), ("fixed", fixed)):
        if not isinstance(mapping, dict):
            raise BadInput(f"{src}: {what} must be a mapping of config fields, not {type(mapping).__name__}")
        bad = [k for k in mapping if k not in fields]
        if bad:
            raise BadInput(f"{src}: {what} names {', '.join(map(repr, bad))}, not fields of "
                           f"{design.config.__name__} (its fields: {', '.join(fields)})")
    if not params:
        raise BadInput(f"{src}: params is empty; name at least one field of {design.config.__name__} to sweep")
    both = set(params) & set(fixed)
    if both:
        raise BadInput(f"{src}: {', '.join(sorted(both))} both swept and fixed")
    budget = dict(design.budget)
    given = data.get("budget") or {}
    if not isinstance(given, dict):
        raise BadInput(f"{src}: budget must be a mapping, not {type(given).__name__}")
    bad = set(given) - set(budget)
    if bad:
        raise BadInput(f"{src}: budget has {', '.join(sorted(bad))}; {design.name}'s budget keys are "
                       f"{', '.join(budget)}")
    budget.update(given)
    _check_budget(src, budget)
    space = Space(design=design, params={k: _param(f"{src}: params.{k}", v) for k, v in params.items()},
                  fixed=fixed, budget=budget, source=src)
    space.config({k: p.grid()[0] if not isinstance(p, FloatRange) or p.step else p.low
                  for k, p in space.params.items()})  # the fixed fields are valid
    return space


def _check_budget(src, budget):
    for key, value in budget.items():
        if key in ("epochs", "seed", "max_steps") and value is not None:
            limit = {"epochs": 1000, "seed": 2 ** 31 - 1, "max_steps": 10 ** 7}[key]
            low = 0 if key == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= limit:
                raise BadInput(f"{src}: budget.{key} must be an integer in {low}..{limit:,}, not {value!r}")
        if key == "epochs" and value is None:
            raise BadInput(f"{src}: budget.epochs must be given (an integer in 1..1000)")
