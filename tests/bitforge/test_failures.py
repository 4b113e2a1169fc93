"""Exit codes and output directories: bad input 2, verification failure 1, internal error 1 with a saved
traceback, interrupted 130 with what was kept; one owner per --out (lock, record, --force)."""

import fcntl
import json
import os
import pickle

import numpy as np
import pytest

from bitforge import cli, jobs
from bitforge.cli import main
from bitforge.outdir import LOCK, MARKER
from quant.errors import VerificationError


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err):
    lines = [line for line in err.splitlines() if not line.startswith("[bitforge] ")]
    assert len(lines) == 1 and lines[0].startswith("bitforge: error: ") and "Traceback" not in err, err
    return lines[0]


# -- exit codes ---------------------------------------------------------------------------------

def test_internal_error_is_exit_1_with_a_saved_traceback(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BITFORGE_TRACEBACKS", str(tmp_path / "tb"))

    def broken(*args, **kwargs):
        return 1 / 0
    monkeypatch.setattr(jobs, "write_generated", broken)
    code, _, err = run(capsys, "generate", "taxonn", "--out", str(tmp_path / "o"))
    line = _one_line(err)
    assert code == 1 and "internal error (ZeroDivisionError: division by zero)" in line
    saved = list((tmp_path / "tb").iterdir())
    assert len(saved) == 1 and str(saved[0]) in line and "ZeroDivisionError" in saved[0].read_text()
    assert not (tmp_path / "o").exists()  # the directory it created is gone again


def test_value_error_after_validation_is_internal(capsys, tmp_path, monkeypatch):
    """A ValueError from inside the work is a bug, not the user's input."""
    monkeypatch.setenv("BITFORGE_TRACEBACKS", str(tmp_path / "tb"))

    def broken(*args, **kwargs):
        raise ValueError("an invariant broke")
    monkeypatch.setattr(jobs, "write_generated", broken)
    code, _, err = run(capsys, "generate", "taxonn", "--out", str(tmp_path / "o"))
    assert code == 1 and "internal error (ValueError: an invariant broke)" in _one_line(err)


def test_verification_failure_is_exit_1(capsys, tmp_path, monkeypatch):
    def mismatch(*args, **kwargs):
        raise VerificationError("sample 3, layer 1, cycle 812: expected 0x0f1 got 0x0f0")
    monkeypatch.setattr(jobs, "write_generated", mismatch)
    code, _, err = run(capsys, "generate", "taxonn", "--out", str(tmp_path / "o"))
    assert code == 1 and _one_line(err) == "bitforge: error: sample 3, layer 1, cycle 812: expected 0x0f1 got 0x0f0"


def test_interrupted_run_says_what_was_kept(capsys, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(jobs, "write_generated", interrupted)
    code, _, err = run(capsys, "generate", "taxonn", "--out", str(tmp_path / "o"))
    assert code == 130 and _one_line(err) == "bitforge: error: interrupted; nothing was saved"
    assert not (tmp_path / "o").exists()

    import models.taxonn_train as tt
    monkeypatch.setattr(tt, "train_taxonn", interrupted)
    code, _, err = run(capsys, "train", "taxonn", "--out", str(tmp_path / "t"))
    line = _one_line(err)
    assert code == 130 and "checkpoint.npz" in line and "run the same command again to resume" in line
    assert (tmp_path / "t").is_dir()  # kept for the resume


def test_json_errors_are_a_json_object_on_stdout(capsys, tmp_path):
    code, out, err = run(capsys, "generate", "taxonn", "--pes", "0", "--json", "--out", str(tmp_path / "o"))
    assert code == 2 and _one_line(err)
    assert json.loads(out) == {"error": {"kind": "bad_input", "exit_code": 2, "message": err.strip()[17:]}}


# -- output directories -------------------------------------------------------------------------

def test_empty_out_is_refused(capsys):
    code, _, err = run(capsys, "generate", "taxonn", "--out", "")
    assert code == 2 and "--out must name a directory, not ''" in _one_line(err)


def test_out_holding_foreign_files_needs_force(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    code, _, err = run(capsys, "generate", "taxonn", "--out", str(out))
    assert code == 2 and "already holds files bitforge did not write (thesis.tex)" in _one_line(err)
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    code, _, _ = run(capsys, "generate", "taxonn", "--force", "--out", str(out))
    assert code == 0 and (out / "thesis.tex").read_text() == "keep me" and (out / "taxonn.v").exists()


def test_another_commands_output_is_refused(capsys, tmp_path):
    out = tmp_path / "o"
    assert run(capsys, "train", "taxonn", "--max-steps", "20", "--quiet", "--out", str(out))[0] == 0
    weights = (out / "weights.npz").read_bytes()
    code, _, err = run(capsys, "generate", "taxonn", "--out", str(out))
    assert code == 2 and "holds the output of `bitforge train taxonn`" in _one_line(err)
    assert (out / "weights.npz").read_bytes() == weights


def test_other_settings_are_refused_and_the_same_rerun(capsys, tmp_path):
    out = tmp_path / "o"
    assert run(capsys, "generate", "taxonn", "--pes", "2", "--out", str(out))[0] == 0
    code, _, err = run(capsys, "generate", "taxonn", "--pes", "4", "--out", str(out))
    assert code == 2 and "other settings (--pes: 2 there, 4 now)" in _one_line(err)
    assert json.loads((out / "config.json").read_text())["config"]["pes"] == 2
    assert run(capsys, "generate", "taxonn", "--pes", "2", "--out", str(out))[0] == 0  # the same run again
    assert run(capsys, "generate", "taxonn", "--pes", "4", "--force", "--out", str(out))[0] == 0
    assert json.loads((out / MARKER).read_text())["settings"]["cfg_pes"] == 4


def test_a_running_run_holds_its_directory(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT)
    os.write(fd, b"4242\n")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        code, _, err = run(capsys, "generate", "taxonn", "--out", str(out))
    finally:
        os.close(fd)
    assert code == 2 and "in use by another bitforge run (pid 4242)" in _one_line(err)
    assert run(capsys, "generate", "taxonn", "--out", str(out))[0] == 0  # the lock died with its holder


def test_a_file_as_out_is_refused(capsys, tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    code, _, err = run(capsys, "generate", "taxonn", "--out", str(f))
    assert code == 2 and "is a file, not a directory" in _one_line(err) and f.read_text() == "x"


# -- nothing runs from a data file --------------------------------------------------------------

class _Plant:
    """Unpickling this creates the file ``path``: the proof that a loader ran code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_planted_torch_checkpoint_never_runs(capsys, tmp_path):
    import torch
    out, proof = tmp_path / "o", tmp_path / "pwned"
    out.mkdir()
    torch.save({"run_key": _Plant(proof)}, out / "checkpoint.pt")
    code, _, err = run(capsys, "train", "lstm", "--epochs", "1", "--hidden", "4", "--quiet", "--force",
                       "--out", str(out))
    assert code == 2 and "checkpoint.pt is not a readable bitforge checkpoint" in _one_line(err)
    assert not proof.exists()


def test_a_planted_pickle_in_an_npz_never_runs(capsys, tmp_path):
    out, proof = tmp_path / "o", tmp_path / "pwned"
    out.mkdir()
    np.savez(out / "checkpoint.npz", run_key=np.array([_Plant(proof)], dtype=object))
    code, _, err = run(capsys, "train", "taxonn", "--max-steps", "5", "--quiet", "--force", "--out", str(out))
    assert code == 2 and "holds pickled objects" in _one_line(err) and not proof.exists()
    bad = tmp_path / "w.npz"
    np.savez(bad, mode=np.array([_Plant(proof)], dtype=object))
    code, _, err = run(capsys, "generate", "lstm", "--weights", str(bad), "--out", str(tmp_path / "g"))
    assert code == 2 and "holds pickled objects" in _one_line(err) and not proof.exists()
    assert "allow_pickle" not in err  # no hint to load it unsafely


@pytest.mark.parametrize("content, fragment", [
    (b"mode,wx\nternary,1\n", "is not an .npz archive"),
    (None, "is a single .npy array, not an .npz archive"),
    (pickle.dumps({"a": 1}), "is not an .npz archive"),
    (b"PK\x03\x04" + bytes(40), "is not a readable .npz archive"),
])
def test_weights_that_are_not_an_npz(capsys, tmp_path, content, fragment):
    path = tmp_path / "lstm.npz"
    if content is None:
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    else:
        path.write_bytes(content)
    code, _, err = run(capsys, "generate", "lstm", "--weights", str(path), "--out", str(tmp_path / "o"))
    assert code == 2 and fragment in _one_line(err) and not (tmp_path / "o").exists()


def test_ctrl_c_on_a_real_run(tmp_path):
    """SIGINT to a running ``bitforge train taxonn``: exit 130, one line naming the checkpoint, no traceback."""
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "o"
    # SIGINT as a terminal delivers it: a test run started in the background inherits SIGINT ignored (POSIX
    # shells ignore it for background jobs), and so would the command, which would then finish its 50 epochs
    proc = subprocess.Popen([sys.executable, "-m", "bitforge", "train", "taxonn", "--epochs", "50",
                             "--checkpoint-every", "100", "--quiet", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not (out / "checkpoint.npz").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    if not (out / "checkpoint.npz").exists():
        proc.kill()
        pytest.fail(f"no checkpoint after {time.monotonic() - deadline + 300:.0f} s (exit {proc.poll()}): "
                    f"{proc.communicate()[1][-2000:]}")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    line = _one_line(err.replace("\r", "\n"))
    assert "interrupted; the last checkpoint is" in line and "checkpoint.npz" in line
    assert (out / "checkpoint.npz").exists()


def test_an_existing_file_may_be_overwritten(tmp_path):
    """``--vcd`` naming a file from an earlier run is written again, not refused as 'not a directory'."""
    from bitforge.outdir import check_writable
    from quant.errors import BadInput
    old = tmp_path / "w.vcd"
    old.write_text("$date old $end\n")
    check_writable("--vcd", old)
    check_writable("--vcd", tmp_path / "new.vcd")
    with pytest.raises(BadInput, match="is a directory, not a file"):
        check_writable("--vcd", tmp_path)
    with pytest.raises(BadInput, match="is a file, not a directory"):
        check_writable("--out", old, directory=True)
