"""`sim.drivers.job_window`: the first runs of a workload in the unit its checks count."""

import numpy as np
import pytest

from accel.lstm import LSTM
from models.lstm import LSTMConfig, LSTMGolden, random_weights
from sim.drivers import job_window
from sim.lstm_host import lstm_job, run_lstm_amaranth


def _lstm_job(sequences, steps):
    cfg = LSTMConfig(input_size=3, hidden=4, lanes=2, inputs_per_cycle=2, mode="ternary")
    rng = np.random.default_rng(5)
    golden = LSTMGolden(cfg, random_weights(cfg, rng, 3))
    return cfg, lstm_job(golden, rng.uniform(0, 1, (sequences, steps, 3)))


def test_an_lstm_window_counts_time_steps_across_sequences():
    _, job = _lstm_job(2, 3)
    lengths = lambda j: [len(seq) for seq in j["inputs"]]
    assert lengths(job_window("lstm", job, 1)) == [1]
    assert lengths(job_window("lstm", job, 3)) == [3]
    assert lengths(job_window("lstm", job, 4)) == [3, 1]
    assert lengths(job_window("lstm", job, 50)) == [3, 3]
    assert job_window("lstm", job, 2)["inputs"][0] == job["inputs"][0][:2]
    assert job_window("lstm", job, 2)["loads"] == job["loads"] and lengths(job) == [3, 3]  # the job is untouched


def test_a_taxonn_window_cuts_inputs_and_labels_together():
    job = {"inputs": [[[0, 0, i]] for i in range(5)], "labels": [1, 2, 3, 4, 5], "loads": []}
    w = job_window("taxonn-training", job, 2)
    assert w["inputs"] == job["inputs"][:2] and w["labels"] == [1, 2]
    assert job_window("taxonn-inference", job, 3)["labels"] == job["labels"]


@pytest.mark.parametrize("runs", [0, -1, 1.5, True, "2"])
def test_a_window_must_be_a_positive_count(runs):
    with pytest.raises(ValueError, match="positive integer"):
        job_window("lstm", {"inputs": []}, runs)


def test_a_window_ending_inside_a_sequence_runs_checked_on_the_rtl():
    """The RTL runs the first steps of a sequence and each is checked against the golden model's h_t."""
    cfg, job = _lstm_job(2, 4)
    problems, hs = run_lstm_amaranth(LSTM(cfg), job_window("lstm", job, 6))
    assert problems == []
    assert [len(h) for h in hs] == [4, 2] and hs[1] == job["expected_h"][1][:2]
