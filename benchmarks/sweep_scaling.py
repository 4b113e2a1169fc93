"""The same 16-trial TaxoNN sweep on Ray with 1 and with 2 workers on this machine (and, with ``--cluster``, on a
local two-node Ray cluster joined with ``--address``): wall time of each and the speed-up, side by side.

    .venv/bin/python benchmarks/sweep_scaling.py [--cluster] [--json]

Each run gets a fresh output directory and a fresh build root, so no run reuses another's synthesis or unit
characterizations: every run does the same work. Trials: TaxoNN 64-8-10 on digits (200 training steps each),
P x learning-rate shift x rounding = 2 x 4 x 2 points, IHP SG13G2; no RTL verification (it would build a
simulator in one trial only). Target: 2 workers at least 1.7x one worker.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPACE = """fixed: {layers: [64, 8, 10]}
params:
  pes: [1, 2]
  lr_shift: [3, 4, 5, 6]
  rounding: [nearest, stochastic]
budget: {epochs: 1, max_steps: 200}
"""


def _run(tmp, name, extra, say):
    out, build = Path(tmp) / name, Path(tmp) / f"{name}-build"
    env = {**os.environ, "BITFORGE_BUILD_DIR": str(build)}
    argv = [sys.executable, "-m", "bitforge", "sweep", "taxonn", "--space", str(Path(tmp) / "space.yaml"),
            "--out", str(out), "--verify", "0", "--json", "--quiet", *extra]
    say(f"{name}: {' '.join(argv[3:])}")
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}")
    summary = json.loads(proc.stdout)
    trial_s = sum(r.get("seconds", 0) for r in summary["trials"])
    say(f"{name}: {wall:.1f} s wall, {summary['counts']['ok']} trials, {trial_s:.1f} s of trial time")
    return {"wall_s": round(wall, 1), "trials": summary["counts"]["ok"], "failed": summary["counts"]["failed"],
            "trial_seconds": round(trial_s, 1), "parallel_trials": summary["ray"]["parallel_trials"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cluster", action="store_true", help="also on a local two-node Ray cluster (1 CPU per node)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    say = lambda m: print(f"[sweep_scaling] {m}", file=sys.stderr, flush=True)
    runs = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        (Path(tmp) / "space.yaml").write_text(SPACE)
        runs["1 worker"] = _run(tmp, "one", ["--workers", "1"], say)
        runs["2 workers"] = _run(tmp, "two", ["--workers", "2"], say)
        if args.cluster:
            from ray.cluster_utils import Cluster
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
            try:
                cluster.add_node(num_cpus=1)
                cluster.wait_for_nodes()
                runs["2-node cluster"] = _run(tmp, "cluster", ["--address", cluster.address], say)
            finally:
                cluster.shutdown()
    base = runs["1 worker"]["wall_s"]
    for r in runs.values():
        r["speedup"] = round(base / r["wall_s"], 2)
    result = {"cpus": os.cpu_count(), "trials": 16, "runs": runs, "target_speedup_2_workers": 1.7,
              "met": runs["2 workers"]["speedup"] >= 1.7}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"| run | wall (s) | trials | trial time (s) | speed-up vs 1 worker |\n|---|---:|---:|---:|---:|")
        for name, r in runs.items():
            print(f"| {name} | {r['wall_s']:.1f} | {r['trials']} | {r['trial_seconds']:.1f} | {r['speedup']:.2f}x |")
        print(f"2 workers: {runs['2 workers']['speedup']:.2f}x (target 1.7x: {'met' if result['met'] else 'NOT met'})")


if __name__ == "__main__":
    main()
