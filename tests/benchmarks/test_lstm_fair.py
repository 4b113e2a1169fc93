"""benchmarks/lstm_fair.py: each mode's pick and the ratios against fixed12, on hand-made sweep rows."""

import json

import pytest

from benchmarks.lstm_fair import compare, load_trials, pick


def _row(mode, lanes, area, per_mm2, steps_per_s=1e6, energy=100.0, memory=1000):
    return {"status": "ok", "point": {"mode": mode, "lanes": lanes}, "area_um2": area, "throughput_per_mm2": per_mm2,
            "throughput_steps_per_s": steps_per_s, "energy_per_step_pj": energy, "weight_memory_bits": memory}


ROWS = [_row("fixed12", 2, 2.4e6, 30.0, steps_per_s=60, energy=600, memory=12000),
        _row("fixed12", 8, 4.0e6, 120.0, steps_per_s=480, energy=500, memory=12000),
        _row("ternary", 8, 1.3e6, 600.0, steps_per_s=780, energy=150, memory=2000),
        _row("binary", 4, 1.0e6, 350.0, steps_per_s=350, energy=180, memory=1000),
        _row("binary", 8, 1.2e6, 700.0, steps_per_s=840, energy=140, memory=1000)]


def test_each_mode_picks_its_best_throughput_per_mm2_within_the_budget():
    best = pick(ROWS, None)
    assert {m: r["point"]["lanes"] for m, r in best.items()} == {"fixed12": 8, "ternary": 8, "binary": 8}
    small = pick(ROWS, 3.0e6)  # the 4 mm^2 fixed12 design is over it
    assert small["fixed12"]["point"]["lanes"] == 2 and small["binary"]["point"]["lanes"] == 8
    r = compare(best)
    assert r["binary"]["throughput_per_mm2_ratio"] == 700.0 / 120.0 and r["binary"]["speedup"] == 840 / 480
    assert r["binary"]["weight_memory_ratio"] == 12.0 and r["ternary"]["energy_per_step_ratio"] == 500 / 150
    assert r["fixed12"]["throughput_per_mm2_ratio"] == 1.0


def test_a_budget_no_design_of_a_mode_fits_and_a_missing_sweep_are_one_line_errors(tmp_path):
    with pytest.raises(SystemExit, match=r"no fixed12 trial fits the area budget 2 mm\^2; raise --area-budget-mm2"):
        pick(ROWS, 2.0e6)
    with pytest.raises(SystemExit, match="the sweep finished no ternary trial"):
        pick([r for r in ROWS if r["point"]["mode"] != "ternary"], None)
    with pytest.raises(SystemExit, match="no trials.json in .*; run the sweep first: bitforge sweep lstm"):
        load_trials(tmp_path)
    (tmp_path / "trials.json").write_text(json.dumps({"trials": [{"status": "failed", "point": {}}]}))
    with pytest.raises(SystemExit, match="holds no finished trial"):
        load_trials(tmp_path)
