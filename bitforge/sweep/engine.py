"""The sweep's driver on Ray: trials as Ray tasks, cached by config hash, progress on the way.

``ray.init()`` starts a local Ray on this machine (no cluster, no service); ``address`` joins a running Ray
cluster unchanged (`ray start --head` on one machine, `ray start --address=HEAD:6379` on the others; the out
directory and the build root must then be on a filesystem every node sees). Each trial declares its CPUs
(``cpus_per_trial``), gets the build root and its thread limits through Ray's ``runtime_env`` (never through
this process's environment), and writes only its own directory ``OUT/trials/<key>/``. A finished trial's
``result.json`` is written when its result arrives; a sweep run again with the same space reads those and never
recomputes them (a killed sweep resumes); failed trials are recorded (``failed.json``, with the error) and run
again on the next run.
"""

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quant.errors import BadInput
from quant.fsio import atomic_write_json, default_build_root, ensure_dir

from .pareto import OBJECTIVES, objective_values, pareto_front
from .search import make_search, point_key
from .trial import run_trial, front_power, METHOD

__all__ = ["plan_sweep", "run_sweep", "check_point", "SweepPlan", "trial_key", "METHOD_VERSION"]

#: bumped when what a trial measures changes, so that no older cached trial is reused
METHOD_VERSION = 2
_PROGRESS_EVERY_S = 30.0


def _digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16] if path else None


def trial_key(design, cfg_json, budget, liberty, sram_liberty):
    """The cache key of a trial: design, full config, training budget, library files, method version."""
    data = [design, cfg_json, budget, _digest(liberty), _digest(sram_liberty), METHOD_VERSION]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class _Progress:
    def __init__(self, say, total):
        self.say, self.total, self.start, self.last = say, total, time.monotonic(), 0.0
        self.done = self.failed = self.cached = self.running = 0
        self.spent = []

    def line(self, force=False):
        now = time.monotonic()
        if not force and now - self.last < _PROGRESS_EVERY_S:
            return
        self.last = now
        finished = self.done + self.failed
        left = ""
        if self.spent and self.total:
            remaining = max(0, self.total - finished - self.running) + self.running / 2
            parallel = max(1, self.running)
            left = f", about {_clock(remaining * np.mean(self.spent) / parallel)} left"
        self.say(f"sweep: {finished}/{self.total or '?'} trials finished ({self.done - self.cached} run, "
                 f"{self.cached} cached, {self.failed} failed), {self.running} running, elapsed "
                 f"{_clock(now - self.start)}{left}")


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


def _init_ray(address, workers, cpus_per_trial):
    """Start (or join) Ray; returns how many trials run at once."""
    import ray
    kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
    if address:
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise BadInput(f"--address {address!r}: no Ray cluster could be joined ({str(e).splitlines()[0]}); "
                           f"start one with `ray start --head` or leave --address out for a local Ray") from None
        cpus = int(ray.cluster_resources().get("CPU", 0))
        return max(1, cpus // cpus_per_trial), cpus
    cpus = workers * cpus_per_trial
    ray.init(num_cpus=cpus, **kwargs)
    return workers, cpus


def _keep_sigterm(start):
    """``start()`` with this process's SIGTERM handler kept: Ray's driver installs its own (which exits with 1),
    where the CLI turns SIGTERM into an interruption that shuts Ray down and keeps the finished trials."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        return start()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        return start()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _verify_sample(n_points, verify, seed):
    """Indices of the trials checked on the RTL: ``verify`` of them, drawn with ``seed``."""
    if verify <= 0 or n_points <= 0:
        return set()
    rng = np.random.default_rng(seed)
    return set(int(i) for i in rng.choice(n_points, size=min(verify, n_points), replace=False))


def check_point(design, space, point):
    """The design's config of ``point``, within the design's limits of a sweep (else `BadInput`)."""
    cfg = space.config(point)
    if design.check_limits:
        design.check_limits("sweep", cfg, None)
    return cfg


@dataclass
class SweepPlan:
    """What a sweep will run, checked before any work: the search (``finder``), the objectives and their
    directions, and which trials (by the order they are asked) are verified on the RTL."""
    search: str
    finder: object
    objectives: list
    directions: list
    sample: set


def plan_sweep(design, space, *, search="grid", trials=None, objectives=("accuracy", "area", "energy"), verify=1,
               seed=0):
    """The `SweepPlan` of ``space``; every point of a grid or random search is checked here (`check_point`),
    those of Optuna as they are drawn."""
    directions = [OBJECTIVES[o][1] for o in objectives]
    finder = make_search(search, space, trials=trials, seed=seed, directions=directions)
    listed = getattr(finder, "points", None)
    if listed is not None:
        for point in listed:
            check_point(design, space, point)
        sample = _verify_sample(len(listed), verify, seed)
    else:
        sample = set(range(verify))
    return SweepPlan(search, finder, list(objectives), directions, sample)


def run_sweep(design, space, plan, out_dir, liberty, *, sram_liberty=None, address=None, cpus_per_trial=1,
              workers=None, verify_sim="verilator", verify_samples=None, verify_front=False, front_workload=None,
              progress=None):
    """Run the sweep ``plan`` (`plan_sweep`) of ``space`` (a `bitforge.sweep.space.Space` of ``design``) into
    ``out_dir``; returns the summary (also in ``trials.json``; see `bitforge.sweep.results`)."""
    import ray
    say = progress or (lambda message: None)
    out = ensure_dir(out_dir).resolve()
    liberty = str(Path(liberty).resolve())
    sram_liberty = str(Path(sram_liberty).resolve()) if sram_liberty else None
    finder, objectives, directions, search = plan.finder, plan.objectives, plan.directions, plan.search
    total = finder.total
    workers = workers or max(1, (os.cpu_count() or 1) // cpus_per_trial)
    build_root = default_build_root().resolve()
    env = {"BITFORGE_BUILD_DIR": str(build_root), "OMP_NUM_THREADS": str(cpus_per_trial),
           "MKL_NUM_THREADS": str(cpus_per_trial), "OPENBLAS_NUM_THREADS": str(cpus_per_trial)}
    for name in ("BITFORGE_PDK", "BITFORGE_DATA"):
        if os.environ.get(name):
            env[name] = str(Path(os.environ[name]).resolve())
    shared = {"shared_dir": str(out / "training")}
    say(f"sweep of {design.name}: {search} search, {total} trials, objectives {', '.join(objectives)}; "
        f"starting Ray" + (f" at {address}" if address else " on this machine"))
    parallel, cpus = _keep_sigterm(lambda: _init_ray(address, workers, cpus_per_trial))
    task = ray.remote(run_trial).options(num_cpus=cpus_per_trial, max_retries=0,
                                         runtime_env={"env_vars": env})
    started = time.monotonic()
    rows, in_flight, waiting, indices = {}, {}, {}, {}
    bar = _Progress(say, total)
    asked = 0
    try:
        while True:
            while len(in_flight) < parallel:
                point = finder.ask()
                if point is None:
                    break
                index, asked = asked, asked + 1
                row = _start(design, space, point, index, out, liberty, sram_liberty, shared, plan.sample,
                             verify_sim, verify_samples, cpus_per_trial)
                key = row["key"]
                indices.setdefault(key, index)
                if row["status"] in ("ok", "failed") and "request" not in row:  # cached, or invalid
                    rows.setdefault(key, row)
                    if row["status"] == "ok":
                        bar.done += 1
                        bar.cached += 1
                    else:
                        bar.failed += 1
                    finder.tell(point, objective_values(row, objectives) if row["status"] == "ok" else None)
                    continue
                if key in waiting:  # the same config asked again while it runs
                    waiting[key].append(point)
                    continue
                waiting[key] = [point]
                in_flight[task.remote(row.pop("request"))] = key
                bar.running = len(in_flight)
            if not in_flight:
                break
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=_PROGRESS_EVERY_S)
            for ref in ready:
                key = in_flight.pop(ref)
                try:
                    row = ray.get(ref)
                except Exception as e:  # the worker itself died (killed, out of memory)
                    from quant.errors import first_line
                    row = {"key": key, "status": "failed", "error": f"{type(e).__name__}: {first_line(e, 400)}",
                           "point": waiting[key][0]}
                    row["config"] = space.config(row["point"]).to_json()
                _finish(out, row)
                rows[key] = row
                if row["status"] == "ok":
                    bar.done += 1
                    bar.spent.append(row.get("seconds", 0.0))
                    say(f"trial {key}: {_summary(row, objectives)} ({row.get('seconds', 0):.0f} s)")
                else:
                    bar.failed += 1
                    say(f"trial {key} failed: {row['error']}")
                for point in waiting.pop(key):
                    finder.tell(point, objective_values(row, objectives) if row["status"] == "ok" else None)
            bar.running = len(in_flight)
            bar.line(force=bool(ready))
        ordered = sorted(rows.values(), key=lambda r: indices[r["key"]])
        for row in ordered:
            row["index"] = indices[row["key"]]
        front = pareto_front(ordered, objectives)
        for row, on in zip(ordered, front):
            row["pareto"] = on
        if verify_front:
            _front_power(ray, design, ordered, liberty, sram_liberty, env, cpus_per_trial, front_workload, say)
    finally:
        _keep_sigterm(ray.shutdown)
    return {"design": design.name, "search": search, "objectives": list(objectives),
            "directions": dict(zip(objectives, directions)), "space": space.to_json(), "trials": ordered,
            "counts": {"total": len(ordered), "ok": sum(r["status"] == "ok" for r in ordered),
                       "failed": sum(r["status"] == "failed" for r in ordered),
                       "cached": bar.cached, "on_front": sum(r.get("pareto", False) for r in ordered)},
            "ray": {"address": address or "local", "parallel_trials": parallel, "cpus": cpus,
                    "cpus_per_trial": cpus_per_trial},
            "library": liberty, "sram_liberty": sram_liberty, "seconds": round(time.monotonic() - started, 1),
            "method": dict(METHOD)}


def _start(design, space, point, index, out, liberty, sram_liberty, shared, sample, verify_sim, verify_samples,
           cpus):
    """The row of a trial about to run (with its ``request``), or its cached result, or its config error."""
    try:
        cfg = check_point(design, space, point)
    except BadInput as e:
        return {"key": hashlib.sha256(point_key(point).encode()).hexdigest()[:16], "point": point,
                "status": "failed", "error": str(e), "config": None}
    cfg_json = cfg.to_json()
    key = trial_key(design.name, cfg_json, space.budget, liberty, sram_liberty)
    work = out / "trials" / key
    cached = work / "result.json"
    if cached.is_file():
        try:
            row = json.loads(cached.read_text())
            row["cached"] = True
            return row
        except ValueError:
            cached.unlink()
    return {"key": key, "point": point, "config": cfg_json, "status": "queued", "request": {
        "key": key, "design": design.name, "point": point, "config": cfg_json,
        "budget": {**space.budget, **shared}, "liberty": liberty, "sram_liberty": sram_liberty,
        "work_dir": str(work), "verify": index in sample, "verify_sim": verify_sim,
        "verify_samples": verify_samples or 2, "cpus": cpus}}


def _finish(out, row):
    work = out / "trials" / row["key"]
    work.mkdir(parents=True, exist_ok=True)
    if row["status"] == "ok":
        (work / "failed.json").unlink(missing_ok=True)
        atomic_write_json(work / "result.json", row)
    else:
        atomic_write_json(work / "failed.json", row)


def _summary(row, objectives):
    parts = []
    for o in objectives:
        field, _, label = OBJECTIVES[o]
        v = row.get(field)
        if v is None:
            continue
        parts.append(f"{o} {100 * v:.2f}%" if o == "accuracy" else f"{o} {v:,.4g}")
    return ", ".join(parts)


def _front_power(ray, design, rows, liberty, sram_liberty, env, cpus, size, say):
    """Gate-level power of the trials on the front (Ray tasks), stored in their rows as ``gate_level``."""
    front = [r for r in rows if r.get("pareto")]
    if not front:
        return
    say(f"gate-level power of the {len(front)} trials on the front (compiled netlist, the design's workload)")
    task = ray.remote(front_power).options(num_cpus=cpus, max_retries=0, runtime_env={"env_vars": env})
    refs = {task.remote({"design": design.name, "trial": r, "liberty": liberty, "sram_liberty": sram_liberty,
                         "workload_size": size, "cpus": cpus}): r for r in front}
    for ref, row in refs.items():
        row["gate_level"] = ray.get(ref)
        say(f"trial {row['key']}: gate-level {row['gate_level'].get('power_mw', float('nan')):.3f} mW"
            if row["gate_level"]["status"] == "ok" else f"trial {row['key']}: gate-level power failed: "
            f"{row['gate_level']['error']}")
