"""`bitforge sweep` and the registry of designs: the Pareto front against a hand-made set, spaces and searches,
the registry driving every CLI command, and sweeps end to end on local Ray (killed and resumed, a failing
trial recorded) and on a two-node Ray cluster joined with --address."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bitforge.designs import DESIGNS, COMMANDS
from bitforge.sweep.pareto import pareto_front, parse_objectives
from bitforge.sweep.search import make_search
from bitforge.sweep.space import load_space, MAX_TRIALS
from quant.errors import BadInput

TAXONN = DESIGNS["taxonn"]


# -- Pareto -----------------------------------------------------------------------------------

def test_pareto_front_of_a_hand_made_set():
    rows = [
        {"accuracy": 0.90, "area_um2": 100.0, "energy_per_step_pj": 10.0},  # 0 front
        {"accuracy": 0.95, "area_um2": 200.0, "energy_per_step_pj": 10.0},  # 1 front (best accuracy)
        {"accuracy": 0.90, "area_um2": 150.0, "energy_per_step_pj": 10.0},  # 2 dominated by 0
        {"accuracy": 0.80, "area_um2": 90.0, "energy_per_step_pj": 20.0},   # 3 front (least area)
        {"accuracy": 0.85, "area_um2": 120.0, "energy_per_step_pj": 5.0},   # 4 front (least energy)
        {"accuracy": 0.90, "area_um2": 100.0, "energy_per_step_pj": 10.0},  # 5 equal to 0: both stay
        {"accuracy": 0.99},                                                 # 6 failed: no figures
    ]
    assert pareto_front(rows, ["accuracy", "area", "energy"]) == [True, True, False, True, True, True, False]
    # two objectives: 4 is now dominated by 0 (same-or-better accuracy and less area)? no: 0.90 > 0.85, 100 < 120
    assert pareto_front(rows, ["accuracy", "area"]) == [True, True, False, True, False, True, False]
    assert pareto_front(rows, ["energy"]) == [False, False, False, False, True, False, False]


def test_objectives_are_checked():
    assert parse_objectives("accuracy, fmax,throughput_per_mm2") == ["accuracy", "fmax", "throughput_per_mm2"]
    for bad in ("", "speed", "area,area"):
        with pytest.raises(BadInput, match="--objectives"):
            parse_objectives(bad)


# -- spaces and searches ------------------------------------------------------------------------

def _space(tmp_path, text, suffix=".yaml"):
    path = tmp_path / f"space{suffix}"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("params: {pez: [1, 2]}", r"params names 'pez', not fields of TaxoNNConfig \(its fields: layers, pes"),
    ("design: lstm\nparams: {pes: [1]}", "is a space of 'lstm', not of 'taxonn'"),
    ("params: {}", "params is empty"),
    ("params: {pes: []}", "params.pes: an empty list"),
    ("params: {pes: {low: 4, high: 2}}", "needs low <= high"),
    ("params: {pes: {lo: 1}}", "unknown keys lo"),
    ("params: {pes: [1, 2]}\nbudget: {epochz: 1}", "budget has epochz; taxonn's budget keys are epochs"),
    ("params: {pes: [1, 2]}\nbudget: {epochs: 0}", r"budget.epochs must be an integer in 1..1,000, not 0"),
    ("params: {pes: [1, 2]}\nfixed: {pes: 2}", "pes both swept and fixed"),
    ("params: {pes: [1]}\nfixed: {layers: [64, 0, 10]}", "is not a valid TaxoNNConfig"),
    ("- 1\n- 2", "must hold a mapping"),
    ("params: {pes: [1}", "is not valid YAML"),
])
def test_bad_spaces_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(BadInput, match=message) as e:
        load_space(_space(tmp_path, text), TAXONN)
    assert "\n" not in str(e.value)


def test_space_files(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        load_space(tmp_path / "nope.yaml", TAXONN)
    with pytest.raises(BadInput, match=r"\.yaml, \.yml or \.json is expected"):
        load_space(_space(tmp_path, "{}", ".txt"), TAXONN)
    space = load_space(_space(tmp_path, json.dumps({"params": {"pes": [1, 2]}, "budget": {"max_steps": 5}}),
                              ".json"), TAXONN)
    assert space.budget == {"epochs": 1, "max_steps": 5, "seed": 0}


def test_searches(tmp_path):
    space = load_space(_space(tmp_path, "fixed: {layers: [64, 8, 10]}\nparams:\n  pes: [1, 2, 4]\n"
                                        "  lr_shift: {low: 3, high: 6}\n  rounding: [nearest, stochastic]"), TAXONN)
    grid = make_search("grid", space)
    points = [grid.ask() for _ in range(grid.total)]
    assert grid.ask() is None and len(points) == 3 * 4 * 2
    assert len({json.dumps(p, sort_keys=True) for p in points}) == 24
    with pytest.raises(BadInput, match="fewer than the grid's 24 points"):
        make_search("grid", space, trials=5)
    a, b = make_search("random", space, trials=10, seed=3), make_search("random", space, trials=10, seed=3)
    drawn = [a.ask() for _ in range(10)]
    assert drawn == [b.ask() for _ in range(10)] and len({json.dumps(p, sort_keys=True) for p in drawn}) == 10
    assert all(p in points for p in drawn)
    with pytest.raises(BadInput, match="needs --trials"):
        make_search("optuna", space)
    opt = make_search("optuna", space, trials=12, seed=0, directions=["max", "min"])
    opt.tell({"pes": 4, "lr_shift": 4, "rounding": "nearest"}, [0.5, 10.0])  # a finished trial it did not ask
    for i in range(12):
        p = opt.ask()
        assert p in points, p
        space.config(p)
        opt.tell(p, None if i == 3 else [p["lr_shift"] / 10, float(p["pes"])])
    assert opt.ask() is None
    assert len(opt.study.trials) == 13


def test_plans_check_before_any_work(tmp_path):
    """What the CLI builds before it claims --out: every search kind, the verified sample, invalid points."""
    from bitforge.sweep.engine import plan_sweep
    space = load_space(_space(tmp_path, "fixed: {layers: [64, 8, 10]}\nparams: {pes: [1, 2, 4], lr_shift: [3, 4]}"),
                       TAXONN)
    grid = plan_sweep(TAXONN, space, verify=2, seed=5)
    assert grid.finder.total == 6 and len(grid.sample) == 2 and grid.sample <= set(range(6))
    opt = plan_sweep(TAXONN, space, search="optuna", trials=4, objectives=["accuracy", "fmax"], verify=1)
    assert opt.directions == ["max", "max"] and opt.sample == {0} and opt.finder.ask() is not None
    bad = load_space(_space(tmp_path, "fixed: {layers: [64, 8, 10]}\nparams: {pes: [1, 0]}"), TAXONN)
    with pytest.raises(BadInput, match=r"the point \{\"pes\": 0\} is not a valid TaxoNNConfig"):
        plan_sweep(TAXONN, bad)


def test_grid_size_is_bounded(tmp_path):
    space = load_space(_space(tmp_path, "params:\n  lr_shift: {low: 1, high: 20}\n  pes: {low: 1, high: 300}"),
                       TAXONN)
    assert space.grid_size() > MAX_TRIALS
    with pytest.raises(BadInput, match=f"at most {MAX_TRIALS:,}"):
        make_search("grid", space)


# -- the registry --------------------------------------------------------------------------------

def test_the_registry_drives_every_cli_command(monkeypatch):
    import argparse
    import dataclasses
    import bitforge.cli as cli
    source = Path(cli.__file__).read_text().lower()
    for name in DESIGNS:
        assert name not in source, f"bitforge/cli.py names the design {name!r}: it belongs in its registry entry"

    def designs_of(parser):
        found = {}
        for action in parser._subparsers._group_actions:
            for command, p in action.choices.items():
                if command in COMMANDS:
                    found[command] = set(p._subparsers._group_actions[0].choices)
        return found

    found = designs_of(cli.build_parser())
    for command in COMMANDS:
        assert set(DESIGNS) <= found[command], command
    # a new design is one entry: every command offers it
    ran = []
    fake = dataclasses.replace(TAXONN, name="fake", commands={
        c: DESIGNS["taxonn"].commands[c].__class__("a fake design", lambda p: p.add_argument("--out"),
                                                   lambda args: ran.append(args.command) or 0)
        for c in ("generate", "simulate", "train", "report")})
    monkeypatch.setitem(DESIGNS, "fake", fake)
    found = designs_of(cli.build_parser())
    assert all("fake" in found[c] for c in COMMANDS)
    assert cli.main(["generate", "fake", "--out", "x"]) == 0 and ran == ["generate"]
    assert isinstance(cli.build_parser(), argparse.ArgumentParser)


# -- sweeps on Ray -------------------------------------------------------------------------------

def _tools():
    import shutil
    from rtl.liberty import default_liberty
    from ppa.timing import find_sta
    from rtl.synth import find_yosys, ToolNotFound
    try:
        find_yosys()
        find_sta()
        default_liberty("ihp")
    except (ToolNotFound, FileNotFoundError) as e:
        pytest.skip(str(e))
    if shutil.which("iverilog") is None:
        pytest.skip("the energy model characterizes units on Icarus: sudo apt-get install -y iverilog")
    pytest.importorskip("ray", reason="pip install ray (make setup installs it)")


SMALL = ("fixed: {lr_shift: 4}\nparams:\n  pes: [1, 2]\n  layers: [[64, 8, 10], [64, 8, 3]]\n"
         "budget: {epochs: 1, max_steps: 60}\n")


def _sweep(space, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "bitforge", "sweep", "taxonn", "--space", str(space), "--out",
                             str(out), "--json", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sweep_killed_and_resumed_with_a_failing_trial(tmp_path):
    """A grid of 4 on local Ray, one trial at a time: killed after its first finished trial, run again, it
    reuses that trial and finishes; the two trials whose network does not fit digits are recorded as failed."""
    _tools()
    from tests.pages import check_written_pages
    space, out = _space(tmp_path, SMALL), tmp_path / "sweep"
    proc = _sweep(space, out, "--workers", "1", "--verify", "1")
    deadline = time.monotonic() + 600
    while not list(out.glob("trials/*/result.json")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no trial finished in 10 minutes"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    first = list(out.glob("trials/*/result.json"))
    stamps = {p: p.stat().st_mtime_ns for p in first}

    proc = _sweep(space, out, "--workers", "1", "--verify", "1")
    stdout, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    summary = json.loads(stdout)
    assert summary["counts"]["total"] == 4 and summary["counts"]["ok"] == 2 and summary["counts"]["failed"] == 2
    assert summary["counts"]["cached"] >= len(first)
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # never recomputed
    failed = [r for r in summary["trials"] if r["status"] == "failed"]
    assert all(r["point"]["layers"] == [64, 8, 3] and "must start with 64 and end with 10" in r["error"]
               for r in failed)
    ok = [r for r in summary["trials"] if r["status"] == "ok"]
    for r in ok:
        assert 0 < r["accuracy"] <= 1 and r["area_um2"] > r["logic_area_um2"] > 0 and r["fmax_mhz"] > 0
        assert r["energy_per_step_pj"] > 0 and r["cycles_per_step"] == TAXONN.cycles_per_step(
            TAXONN.config.from_json(r["config"]))
    verified = [r for r in summary["trials"] if r.get("verification")]
    assert len(verified) <= 1 and all(r["verification"]["mismatches"] == 0 for r in verified)
    front = json.loads((out / "pareto.json").read_text())["trials"]
    assert {t["key"] for t in front} == {r["key"] for r in ok if r["pareto"]} and front
    rows = (out / "trials.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("index,key,status,pareto,pes,layers,accuracy")
    for name in ("index.html", "index.md", "trials.json", "pairs.png", "accuracy.png"):
        assert (out / name).is_file(), name
    pages = [out / "index.html"] + [out / "trials" / r["key"] / "report.html" for r in ok]
    check_written_pages(out, pages, forbidden=(str(tmp_path),))

    # all finished: nothing runs again, also with other workers (where and how many at once is not a setting)
    proc = _sweep(space, out, "--workers", "2", "--verify", "1")
    stdout, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert json.loads(stdout)["counts"]["cached"] == 2


def test_sweep_joins_a_two_node_ray_cluster(tmp_path, capsys):
    """--address: the same sweep on a local Ray cluster of two one-CPU nodes started here; both nodes run trials."""
    _tools()
    from ray.cluster_utils import Cluster
    from bitforge.cli import main
    space = _space(tmp_path, "fixed: {layers: [64, 8, 10], lr_shift: 4}\nparams:\n  pes: [1, 2]\n"
                             "budget: {epochs: 1, max_steps: 30}\n")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        address = cluster.address
        code = main(["sweep", "taxonn", "--space", str(space), "--out", str(tmp_path / "o"), "--address",
                     address, "--verify", "0", "--json", "--quiet"])
    finally:
        cluster.shutdown()
    out = capsys.readouterr().out
    assert code == 0, out
    summary = json.loads(out)
    assert summary["ray"]["address"] == address and summary["ray"]["cpus"] == 2
    assert summary["counts"]["ok"] == 2
    assert len({r["node"] for r in summary["trials"]}) == 2  # one trial on each node


def test_sweep_refuses_bad_input_before_any_work(tmp_path, capsys):
    from bitforge.cli import main
    space = _space(tmp_path, "params: {pes: [1, 2]}")
    for argv, message in [
        (["--objectives", "speed"], "--objectives takes"),
        (["--search", "random"], "needs --trials"),
        (["--search", "grid", "--trials", "1"], "fewer than the grid's 2 points"),
    ]:
        code = main(["sweep", "taxonn", "--space", str(space), "--out", str(tmp_path / "o"), *argv])
        err = capsys.readouterr().err
        assert code == 2 and message in err and err.count("\n") == 1, err
        assert not (tmp_path / "o").exists()
