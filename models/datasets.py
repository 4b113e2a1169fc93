"""Datasets for training and evaluation: scikit-learn digits (embedded) and MNIST (IDX files).

Pixels are scaled exactly: digits ``v / 16``, MNIST ``v / 256``, so every input
is representable in a fixed-point format with enough fractional bits.

The data directory is ``--data-dir`` or ``$BITFORGE_DATA``; datasets are never
copied into the project.
"""

from dataclasses import dataclass
import gzip
import os
from pathlib import Path

import numpy as np

from quant.errors import BadInput

__all__ = ["Dataset", "load_dataset", "load_digits", "load_mnist", "read_idx", "resolve_data_dir",
           "sample_order", "DATASETS", "DIGITS_TRAIN"]

DATASETS = ("digits", "mnist")
DIGITS_TRAIN = 1437  # samples 0..1436 train, 1437..1796 test, scikit-learn's order
_IDX_MAGIC = {2049: 1, 2051: 3}  # labels: 1-D, images: 3-D


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int = 10

    @property
    def features(self):
        return self.x_train.shape[1]


def resolve_data_dir(data_dir=None):
    """``data_dir``, else ``$BITFORGE_DATA``; raise with the fix if neither names a directory."""
    chosen = data_dir or os.environ.get("BITFORGE_DATA")
    if not chosen:
        raise FileNotFoundError("no data directory: pass --data-dir DIR or set BITFORGE_DATA=DIR "
                                "(on these machines: ../shared/data)")
    path = Path(chosen)
    if path.exists() and not path.is_dir():
        raise BadInput(f"data directory {str(path)!r} is a file, not a directory; pass --data-dir DIR "
                       f"or set BITFORGE_DATA=DIR")
    if not path.is_dir():
        raise FileNotFoundError(f"data directory {str(path)!r} does not exist; pass --data-dir DIR "
                                f"or set BITFORGE_DATA=DIR")
    return path


def load_digits():
    """scikit-learn's 8x8 digits, x = v/16, the fixed 1437/360 split."""
    from sklearn.datasets import load_digits as _load
    bunch = _load()
    x = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(np.int64)
    return Dataset("digits", x[:DIGITS_TRAIN], y[:DIGITS_TRAIN], x[DIGITS_TRAIN:], y[DIGITS_TRAIN:])


#: Largest IDX file read (after decompression): bounded before reading, so a bomb stops at this size.
MAX_IDX_BYTES = 64 << 20


def read_idx(path):
    """Read an IDX file (gzipped or raw) into a uint8 array, checking magic number and size."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read(MAX_IDX_BYTES + 1)
    except Exception as e:  # OSError, EOFError, zlib.error: unreadable, truncated or corrupt
        raise BadInput(f"{path}: cannot read IDX file ({type(e).__name__}: {e})") from None
    if len(data) > MAX_IDX_BYTES:
        raise BadInput(f"{path}: IDX file larger than {MAX_IDX_BYTES:,} bytes; MNIST's largest is 47,040,016")
    if len(data) < 8:
        raise BadInput(f"{path}: truncated IDX header ({len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    if magic not in _IDX_MAGIC:
        raise BadInput(f"{path}: bad IDX magic number {magic}, expected 2049 (labels) or 2051 (images)")
    ndim = _IDX_MAGIC[magic]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise BadInput(f"{path}: truncated IDX header")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise BadInput(f"{path}: IDX data holds {len(data) - header} bytes, expected {expected} "
                         f"for shape {tuple(dims)} (truncated or corrupt)")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _find(directory, stem):
    for name in (stem + ".gz", stem):
        if (directory / name).exists():
            return directory / name
    raise FileNotFoundError(f"MNIST file {stem}(.gz) not found in {directory}")


def load_mnist(data_dir=None):
    """MNIST from ``DATA/mnist`` (or ``DATA`` itself): x = v/256, the standard 60,000/10,000 split."""
    root = resolve_data_dir(data_dir)
    directory = root / "mnist" if (root / "mnist").is_dir() else root
    parts = {}
    for split, prefix, count in (("train", "train", 60000), ("test", "t10k", 10000)):
        images = read_idx(_find(directory, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_find(directory, f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.shape[0] != count:
            raise BadInput(f"MNIST {split} images must be ({count}, 28, 28), not {images.shape}")
        if labels.shape != (count,):
            raise BadInput(f"MNIST {split} labels must be ({count},), not {labels.shape}")
        if labels.max() > 9:
            raise BadInput(f"MNIST {split} labels must be 0..9, found {int(labels.max())}")
        parts[split] = (images.reshape(count, 784).astype(np.float64) / 256.0, labels.astype(np.int64))
    return Dataset("mnist", *parts["train"], *parts["test"])


def load_dataset(name, data_dir=None):
    if name == "digits":
        return load_digits()
    if name == "mnist":
        return load_mnist(data_dir)
    raise BadInput(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")


def sample_order(n, steps, *, seed=0, shuffle=True, start=0):
    """Training-sample index of steps ``start .. start+steps-1``.

    Without shuffling, step ``i`` uses sample ``i mod n``. With shuffling,
    epoch ``e`` (steps ``e*n .. e*n+n-1``) visits ``default_rng([seed, e]).permutation(n)``,
    so any step's sample is known without replaying the run (resumable).
    """
    idx = np.arange(start, start + steps, dtype=np.int64)
    if not shuffle:
        return idx % n
    out = np.empty_like(idx)
    epochs = idx // n
    for e in np.unique(epochs):
        perm = np.random.default_rng([seed, int(e)]).permutation(n)
        mask = epochs == e
        out[mask] = perm[idx[mask] % n]
    return out
