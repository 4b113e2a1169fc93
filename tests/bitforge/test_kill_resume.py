"""A training command killed (SIGKILL) at a random point and run again ends identical to an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

COMMANDS = {
    "taxonn": ["train", "taxonn", "--epochs", "3", "--float-reference", "--quiet"],
    "lstm": ["train", "lstm", "--task", "seq-digits", "--hidden", "32", "--epochs", "6", "--checkpoint-every", "7",
             "--quiet"],
}
CHECKPOINTS = {"taxonn": "checkpoint.npz", "lstm": "checkpoint.pt"}
OUTPUTS = {"taxonn": ["weights.npz", "float_weights.npz"], "lstm": ["lstm.npz"]}


def _cli(argv, out, capture=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # resumed float sums need equal threads
    pipe = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "bitforge", *argv, "--out", str(out), "--json"],
                            stdout=pipe, stderr=pipe, env=env)


@pytest.mark.parametrize("design", sorted(COMMANDS))
def test_killed_command_resumes_identical(tmp_path, design):
    straight = _cli(COMMANDS[design], tmp_path / "straight")
    out, err = straight.communicate(timeout=600)
    assert straight.returncode == 0, err.decode()
    rng = np.random.default_rng(7)
    ckpt = tmp_path / "killed" / CHECKPOINTS[design]
    killed = 0
    for _ in range(2):  # each run killed at a random moment after it wrote a new checkpoint
        before = ckpt.stat().st_mtime_ns if ckpt.exists() else None
        proc = _cli(COMMANDS[design], tmp_path / "killed", capture=False)
        while proc.poll() is None and (not ckpt.exists() or ckpt.stat().st_mtime_ns == before):
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
    resumed = _cli(COMMANDS[design], tmp_path / "killed")
    out2, err2 = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err2.decode()
    assert killed >= 1, "no run was still going when its kill came"
    a, b = json.loads(out), json.loads(out2)
    for key in ("test_accuracy", "float_test_accuracy", "steps", "valid_accuracy"):
        assert a.get(key) == b.get(key), key
    for name in OUTPUTS[design]:
        with np.load(tmp_path / "straight" / name) as x, np.load(tmp_path / "killed" / name) as y:
            assert sorted(x.files) == sorted(y.files)
            for key in x.files:
                assert np.array_equal(x[key], y[key]), (name, key)
