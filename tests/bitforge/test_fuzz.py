"""Every file loader against truncations and bit flips of a valid file: it returns a valid result or raises
``BadInput`` with one line naming the file, never another exception (fixed seeds)."""

import gzip
import json
import struct

import numpy as np
import pytest

from bitforge.cli import main
from models.datasets import read_idx
from models.lstm import LSTMConfig, LSTMWeights, random_weights
from models.taxonn import TaxoNNConfig
from quant.errors import BadInput
from rtl.liberty import read_liberty
from tests.hand_liberty import NAND2, library


def _damaged(data, seed, count=24):
    """``count`` damaged copies of ``data``: truncations at spread points, then single bit flips."""
    rng = np.random.default_rng(seed)
    cuts = sorted({int(x) for x in np.linspace(0, len(data) - 1, count // 2)})
    out = [data[:c] for c in cuts]
    for _ in range(count - len(out)):
        i = int(rng.integers(len(data)))
        out.append(data[:i] + bytes([data[i] ^ (1 << int(rng.integers(8)))]) + data[i + 1:])
    return out


def _loads_or_refuses(load, path, data):
    path.write_bytes(data)
    try:
        load(path)
    except BadInput as e:
        assert "\n" not in str(e).strip() and str(e), e


def test_idx_reader(tmp_path):
    good = gzip.compress(struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", 5, 4, 4) + bytes(range(80)))
    for k, data in enumerate(_damaged(good, 1) + _damaged(gzip.decompress(good), 2)):
        _loads_or_refuses(read_idx, tmp_path / f"x{k}.gz" if data[:2] == b"\x1f\x8b" else tmp_path / f"x{k}", data)


def test_lstm_weights_reader(tmp_path):
    path = tmp_path / "good.npz"
    random_weights(LSTMConfig(input_size=4, hidden=4, lanes=2, inputs_per_cycle=4),
                   np.random.default_rng(0)).save(path)
    for k, data in enumerate(_damaged(path.read_bytes(), 3, count=40)):
        _loads_or_refuses(LSTMWeights.load, tmp_path / f"w{k}.npz", data)


def test_liberty_reader(tmp_path, monkeypatch):
    monkeypatch.setenv("BITFORGE_CACHE", str(tmp_path / "cache"))
    text = library("fuzz", NAND2).encode()
    for k, data in enumerate(_damaged(text, 4) + _damaged(gzip.compress(text), 5)):
        name = f"l{k}.lib.gz" if data[:2] == b"\x1f\x8b" else f"l{k}.lib"
        _loads_or_refuses(read_liberty, tmp_path / name, data)


@pytest.mark.parametrize("seed", [6, 7])
def test_config_json_through_the_cli(tmp_path, capsys, seed):
    good = json.dumps(TaxoNNConfig(layers=(16, 4, 3), pes=2).to_json()).encode()
    for k, data in enumerate(_damaged(good, seed, count=16)):
        path = tmp_path / f"c{k}.json"
        path.write_bytes(data)
        code = main(["generate", "taxonn", "--config", str(path), "--out", str(tmp_path / f"o{k}")])
        out, err = capsys.readouterr()
        assert code in (0, 2) and "Traceback" not in err, err
        if code == 2:
            assert len(err.strip().splitlines()) == 1 and err.startswith("bitforge: error: "), err
            assert not (tmp_path / f"o{k}").exists()
