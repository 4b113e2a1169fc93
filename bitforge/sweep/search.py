"""How a sweep draws its trials: the full grid, a seeded random sample, or Optuna's samplers (NSGA-II for
several objectives, TPE for one), which learn from the trials already finished.

Every search is an object with ``ask() -> point or None`` (None: nothing more to draw now or ever) and
``tell(point, values)`` (``values``: the objectives of a finished trial, None for a failed one). Points are
dicts of the swept fields' JSON values.
"""

import itertools
import json

import numpy as np

from quant.errors import BadInput

from .space import Choice, IntRange, FloatRange, MAX_TRIALS

__all__ = ["make_search", "SEARCHES", "point_key"]

SEARCHES = ("grid", "random", "optuna")


def point_key(point):
    return json.dumps(point, sort_keys=True)


class _Listed:
    """A search whose points are known before it starts (grid, random)."""

    def __init__(self, points):
        self.points = list(points)
        self.next = 0

    def ask(self):
        if self.next >= len(self.points):
            return None
        self.next += 1
        return self.points[self.next - 1]

    def tell(self, point, values):
        pass

    @property
    def total(self):
        return len(self.points)


def grid(space, trials=None):
    names = list(space.params)
    size = space.grid_size()
    if size > MAX_TRIALS:
        raise BadInput(f"{space.source}: the grid has {size:,} points; at most {MAX_TRIALS:,} (use --search random "
                       f"or optuna with --trials N)")
    points = [dict(zip(names, values)) for values in itertools.product(*(space.params[n].grid() for n in names))]
    if trials is not None and trials < len(points):
        raise BadInput(f"--trials {trials} is fewer than the grid's {len(points)} points: a grid runs every "
                       f"point (use --search random for a sample)")
    return _Listed(points)


def random(space, trials, seed):
    rng = np.random.default_rng(seed)
    seen, points = set(), []
    finite = all(not isinstance(p, FloatRange) or p.step for p in space.params.values())
    limit = min(trials, space.grid_size()) if finite else trials
    for _ in range(50 * trials):
        if len(points) >= limit:
            break
        point = {name: _plain(p.sample(rng)) for name, p in space.params.items()}
        if point_key(point) not in seen:
            seen.add(point_key(point))
            points.append(point)
    return _Listed(points)


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


class OptunaSearch:
    """Optuna's ask-and-tell: NSGA-II over several objectives, TPE over one; ``directions`` per objective."""

    def __init__(self, space, trials, seed, directions):
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        sampler = (optuna.samplers.TPESampler(seed=seed) if len(directions) == 1
                   else optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(16, trials // 2))))
        self.study = optuna.create_study(directions=["maximize" if d == "max" else "minimize" for d in directions],
                                         sampler=sampler)
        self.space, self.total, self.asked, self.pending = space, trials, 0, {}
        self.distributions = {name: self._distribution(p) for name, p in space.params.items()}

    def _distribution(self, p):
        d = self.optuna.distributions
        if isinstance(p, Choice):
            return d.CategoricalDistribution([json.dumps(v) for v in p.values])
        if isinstance(p, IntRange):
            return d.IntDistribution(p.low, p.high, step=p.step)
        return d.FloatDistribution(p.low, p.high, step=p.step, log=p.log)

    def _point(self, params):
        return {name: json.loads(v) if isinstance(self.space.params[name], Choice) else _plain(v)
                for name, v in params.items()}

    def _params(self, point):
        return {name: json.dumps(v) if isinstance(self.space.params[name], Choice) else v
                for name, v in point.items()}

    def ask(self):
        if self.asked >= self.total:
            return None
        trial = self.study.ask(self.distributions)
        point = self._point(trial.params)
        self.asked += 1
        self.pending.setdefault(point_key(point), []).append(trial)
        return point

    def tell(self, point, values):
        """A finished trial; one that this study did not ask (a cached result of an earlier run) is added."""
        waiting = self.pending.get(point_key(point))
        state = self.optuna.trial.TrialState
        if waiting:
            trial = waiting.pop(0)
            if values is None:
                self.study.tell(trial, state=state.FAIL)
            else:
                self.study.tell(trial, list(values))
        elif values is not None:
            self.study.add_trial(self.optuna.trial.create_trial(
                params=self._params(point), distributions=self.distributions, values=list(values)))


def make_search(kind, space, *, trials=None, seed=0, directions=None):
    """The search ``kind`` (`SEARCHES`) over ``space``: ``trials`` points (grid: all of them)."""
    if kind == "grid":
        return grid(space, trials)
    if trials is None:
        raise BadInput(f"--search {kind} needs --trials N")
    if trials > MAX_TRIALS:
        raise BadInput(f"--trials must be at most {MAX_TRIALS:,}, not {trials:,}")
    if kind == "random":
        return random(space, trials, seed)
    if kind == "optuna":
        return OptunaSearch(space, trials, seed, directions)
    raise BadInput(f"--search must be one of {', '.join(SEARCHES)}, not {kind!r}")
