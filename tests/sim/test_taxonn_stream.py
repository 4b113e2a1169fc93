"""The stream harness for long TaxoNN runs (sim.taxonn_stream), on both simulators."""

import json

import pytest

from models.datasets import load_digits, sample_order
from models.taxonn import TaxoNNConfig, TaxoNNGolden
from sim.runner import run_cocotb, VerilogText
from sim.taxonn_host import training_job
from sim.taxonn_run import simulate_taxonn
from sim.taxonn_stream import stream_capacity, stream_verilog, write_stream_files, unpack_result


def test_capacity_is_a_power_of_two_that_holds_the_run():
    assert [stream_capacity(n) for n in (1, 256, 257, 5000)] == [256, 256, 512, 8192]


def test_result_word_layout():
    assert unpack_result((7 << 64) | (1288 << 32) | 0xDEADBEEF) == (7, 1288, 0xDEADBEEF)


def test_stream_files_refuse_writes_the_harness_does_not_make(tmp_path):
    cfg = TaxoNNConfig(layers=(64, 5, 10), pes=4)
    digits = load_digits()
    job = training_job(TaxoNNGolden(cfg), digits.x_train[:2], digits.y_train[:2], check_every=2)
    job["inputs"][1][3][1] = 9  # an input word out of order
    with pytest.raises(ValueError, match="step 1: the stream harness writes input words 0..15 in order"):
        write_stream_files(job, cfg, tmp_path)


@pytest.mark.rtl
def test_stream_run_with_narrow_activations(tmp_path, simulator, build_root):
    # 8-bit activations: the input words are narrower than the host's data bus (zero padding)
    cfg = TaxoNNConfig(layers=(64, 7, 10), pes=3, a_fmt="8.4", rounding="nearest", hidden_activation="sigmoid")
    summary = simulate_taxonn(cfg, load_digits(), simulator, tmp_path, samples=22, build_root=build_root)
    assert summary["passed"] and summary["mismatches"] == 0 and summary["first_mismatch"] is None
    assert summary["cycles"] == summary["cycles_model"]
    assert not list(tmp_path.glob("stream_*.hex"))  # stimulus files are cleaned up


@pytest.mark.rtl
def test_stream_reports_the_first_divergence(tmp_path, simulator, build_root):
    cfg = TaxoNNConfig(layers=(64, 6, 10), pes=4)
    digits = load_digits()
    idx = sample_order(len(digits.x_train), 30, seed=1)
    job = training_job(TaxoNNGolden(cfg), digits.x_train[idx], digits.y_train[idx], check_every=30)
    job["expected_checksums"][17] ^= 1  # a golden model that disagrees from step 17 on
    plusargs = write_stream_files(job, cfg, tmp_path)
    (tmp_path / "job.json").write_text(json.dumps(job))
    result = run_cocotb(VerilogText(stream_verilog(cfg, stream_capacity(30))), sim=simulator,
                        test_module="sim.tb.taxonn_stream_tb", name="taxonn-stream", build_root=build_root,
                        params={"job": str(tmp_path / "job.json"), "report": str(tmp_path / "r.json")},
                        plusargs=plusargs)
    report = json.loads((tmp_path / "r.json").read_text())
    assert not result.passed and report["mismatches"] == 1
    assert report["first_mismatch"].startswith("step 17: parameter checksum expected")
