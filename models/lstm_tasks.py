"""Sequence tasks for the BT-LSTM: sequential digits and MNIST, character-level Penn Treebank.

Classification tasks give ``(N, T, I)`` float64 inputs and int64 labels;
inputs are scaled exactly (digits ``v / 16``, MNIST ``v / 256``) so that
fixed-point formats with enough fractional bits hold them without error.

* ``seq-digits``: scikit-learn digits, 8 steps of 8 pixels (row t of the image).
* ``seq-digits-pixel``: the same images, 64 steps of 1 pixel.
  Digits split: samples 0..1436 train (the TaxoNN split), of which the last
  137 (1300..1436) are held out for validation; 1437..1796 test.
* ``row-mnist``: 28 steps of 28 pixels; ``pixel-mnist``: 784 steps of 1 pixel
  (the original setup). Train 0..54999, validation the last 5,000 training
  images, test the 10,000 test images.
* ``ptb-char``: Penn Treebank characters, the standard train/valid/test files;
  the symbols are the 49 characters of the training text plus the end of line
  (50 in all); input is one-hot (the embedding is then the first column block
  of Wx), the target is the next character; figures are bits per character.
"""

from dataclasses import dataclass, field

import numpy as np

from quant.errors import BadInput

from .datasets import load_digits, load_mnist, resolve_data_dir

__all__ = ["TASKS", "ClassifyTask", "CharTask", "load_task", "read_ptb_chars", "DIGITS_VALID"]

TASKS = ("seq-digits", "seq-digits-pixel", "row-mnist", "pixel-mnist", "ptb-char")
DIGITS_VALID = 137  # the last 137 of the 1437 training digits
MNIST_VALID = 5000


@dataclass(frozen=True)
class ClassifyTask:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int = 10
    kind: str = field(default="classify", init=False)

    @property
    def steps(self):
        return self.x_train.shape[1]

    @property
    def input_size(self):
        return self.x_train.shape[2]


@dataclass(frozen=True)
class CharTask:
    name: str
    vocab: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    kind: str = field(default="lm", init=False)

    @property
    def classes(self):
        return len(self.vocab)

    @property
    def input_size(self):
        return len(self.vocab)


def _as_sequences(x, side, per_step):
    return x.reshape(len(x), side * side // per_step, per_step)


def _digits(per_step):
    d = load_digits()
    n = len(d.x_train) - DIGITS_VALID
    seq = lambda x: _as_sequences(x, 8, per_step)
    name = "seq-digits" if per_step == 8 else "seq-digits-pixel"
    return ClassifyTask(name, seq(d.x_train[:n]), d.y_train[:n], seq(d.x_train[n:]), d.y_train[n:],
                        seq(d.x_test), d.y_test)


def _mnist(per_step, data_dir):
    d = load_mnist(data_dir)
    n = len(d.x_train) - MNIST_VALID
    seq = lambda x: _as_sequences(x, 28, per_step).astype(np.float32)
    name = "row-mnist" if per_step == 28 else "pixel-mnist"
    return ClassifyTask(name, seq(d.x_train[:n]), d.y_train[:n], seq(d.x_train[n:]), d.y_train[n:],
                        seq(d.x_test), d.y_test)


#: Largest character file read.
MAX_TEXT_BYTES = 64 << 20


def read_ptb_chars(path):
    """The characters of one PTB character file: the separating spaces dropped, newlines kept."""
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise BadInput(f"{path} is larger than {MAX_TEXT_BYTES:,} bytes; PTB's largest character file is about 5 MB")
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as e:
        raise BadInput(f"{path}: byte {e.start} is not ASCII; expected PTB's character text") from None
    for number, line in enumerate(text.split("\n"), 1):
        if any(len(c) > 1 for c in line.split(" ")):
            bad = next(c for c in line.split(" ") if len(c) > 1)
            raise BadInput(f"{path}:{number}: expected single characters separated by spaces, got {bad!r}")
    return text.replace(" ", "")


def _ptb_char(data_dir):
    root = resolve_data_dir(data_dir) / "ptb"
    texts = {}
    for split in ("train", "valid", "test"):
        path = root / f"ptb.char.{split}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: the PTB character files belong in DATA/ptb/ "
                                    f"(on these machines: --data-dir ../shared/data)")
        texts[split] = read_ptb_chars(path)
    vocab = "".join(sorted(set(texts["train"])))
    index = {c: i for i, c in enumerate(vocab)}
    encoded = {}
    for split, text in texts.items():
        unknown = set(text) - set(vocab)
        if unknown:
            raise BadInput(f"ptb.char.{split}.txt has characters not in the training text: {sorted(unknown)}")
        encoded[split] = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    lut = np.zeros(256, dtype=np.int64)
    for c, i in index.items():
        lut[ord(c)] = i
    return CharTask("ptb-char", vocab, *(lut[encoded[s]] for s in ("train", "valid", "test")))


def load_task(name, data_dir=None):
    """One of `TASKS`; MNIST and PTB come from ``data_dir`` (or ``$BITFORGE_DATA``)."""
    if name == "seq-digits":
        return _digits(8)
    if name == "seq-digits-pixel":
        return _digits(1)
    if name == "row-mnist":
        return _mnist(28, data_dir)
    if name == "pixel-mnist":
        return _mnist(1, data_dir)
    if name == "ptb-char":
        return _ptb_char(data_dir)
    raise BadInput(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
