import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from models.datasets import (load_digits, load_mnist, read_idx, resolve_data_dir, sample_order,
                             load_dataset)

DATA = os.environ.get("BITFORGE_DATA") or str(Path(__file__).resolve().parents[3] / "shared" / "data")
HAVE_MNIST = (Path(DATA) / "mnist").is_dir()


def test_digits_split_and_scaling():
    d = load_digits()
    assert d.x_train.shape == (1437, 64) and d.x_test.shape == (360, 64)
    assert d.x_train.max() == 1.0 and ((d.x_train * 16) % 1 == 0).all()
    from sklearn.datasets import load_digits as sk
    assert d.y_test.tolist() == sk().target[1437:].tolist()


def _idx(dims, magic, payload=None):
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in dims)
    return header + (payload if payload is not None else bytes(int(np.prod(dims))))


def test_read_idx_raw_and_gzip(tmp_path):
    raw = _idx((2, 3, 3), 2051, bytes(range(18)))
    (tmp_path / "a-idx3-ubyte").write_bytes(raw)
    (tmp_path / "b-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
    for name in ("a-idx3-ubyte", "b-idx3-ubyte.gz"):
        arr = read_idx(tmp_path / name)
        assert arr.shape == (2, 3, 3) and arr.ravel().tolist() == list(range(18))


@pytest.mark.parametrize("data, message", [
    (_idx((4,), 1234), "bad IDX magic number 1234, expected 2049"),
    (_idx((10,), 2049)[:-3], "IDX data holds 7 bytes, expected 10"),
    (b"\x00\x00", "truncated IDX header"),
    (_idx((2, 2, 2), 2051) + b"x", "holds 9 bytes, expected 8"),
])
def test_read_idx_errors(tmp_path, data, message):
    (tmp_path / "f").write_bytes(data)
    with pytest.raises(ValueError, match=message):
        read_idx(tmp_path / "f")


def test_corrupt_gzip(tmp_path):
    (tmp_path / "f.gz").write_bytes(gzip.compress(_idx((10,), 2049))[:-6])
    with pytest.raises(ValueError, match="cannot read IDX file"):
        read_idx(tmp_path / "f.gz")


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("BITFORGE_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="pass --data-dir DIR or set BITFORGE_DATA"):
        resolve_data_dir(None)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_data_dir(tmp_path / "nope")
    monkeypatch.setenv("BITFORGE_DATA", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path
    with pytest.raises(FileNotFoundError, match="MNIST file train-images-idx3-ubyte"):
        load_mnist()
    with pytest.raises(ValueError, match="dataset must be one of digits, mnist, not 'cifar'"):
        load_dataset("cifar")


@pytest.mark.skipif(not HAVE_MNIST, reason=f"MNIST not found under {DATA}; set BITFORGE_DATA")
def test_mnist_loads():
    m = load_mnist(DATA)
    assert m.x_train.shape == (60000, 784) and m.x_test.shape == (10000, 784)
    assert m.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert abs(m.x_train.mean() * 256 / 255 - 0.1307) < 0.001  # the published pixel mean


def test_sample_order():
    assert sample_order(5, 12, shuffle=False).tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
    order = sample_order(7, 21, seed=3)
    for e in range(3):
        assert sorted(order[7 * e:7 * e + 7].tolist()) == list(range(7))
    assert sample_order(7, 9, seed=3, start=12).tolist() == order[12:21].tolist()
    assert sample_order(7, 7, seed=4).tolist() != order[:7].tolist()
