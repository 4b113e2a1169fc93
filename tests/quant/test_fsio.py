import os

import pytest

from quant.fsio import atomic_write_text, atomic_write_json, ensure_dir


def test_atomic_write_leaves_no_temporary(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "hello")
    atomic_write_json(tmp_path / "b.json", {"x": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.json"]
    assert (tmp_path / "b.json").read_text() == '{\n  "x": 1\n}\n'
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def boom(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_ensure_dir_errors(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(OSError, match="cannot create output directory"):
        ensure_dir(tmp_path / "f" / "sub")
