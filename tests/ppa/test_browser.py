"""`ppa.browser` against pages whose faults are known: it must find each one, and pass a clean page."""

import base64

import pytest

from ppa.browser import BrowserNotFound, check_pages, find_chromium
from ppa.page import Page, Section, Table, Figure, Links, to_html
from tests.ppa.test_page import PNG


@pytest.fixture(scope="module")
def chromium():
    try:
        return find_chromium()
    except BrowserNotFound as e:
        pytest.skip(str(e))


def test_a_clean_page(chromium, tmp_path):
    (tmp_path / "data.json").write_text("{}")
    page = Page("clean", ("headline", Table(("a",), (("1",),))),
                (Section("more", (Figure(PNG, "one pixel", "p.png"), Links((("data", "data.json"),)))),))
    (tmp_path / "index.html").write_text(to_html(page))
    [r] = check_pages([tmp_path / "index.html"], tmp_path)
    assert r.ok, r.problems()
    assert (r.title, r.first_heading, r.links, r.images) == ("clean", "clean", 1, 1)
    assert r.first_elements[:3] == ("h1", "p", "table")
    from PIL import Image
    with Image.open(tmp_path / r.screenshot) as shot:
        assert r.screenshot == "index.screenshot.png" and shot.size[0] == 1200 and shot.size[1] > 100


def test_every_fault_is_found(chromium, tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("x")
    (root / "here.txt").write_text("x")
    bad_png = "data:image/png;base64," + base64.b64encode(b"not a png").decode()
    (root / "bad.html").write_text(
        "<!doctype html><html><head><title>bad</title></head><body><h1 id='top'>bad</h1>"
        f"<img alt='gone' src='missing.png'><img alt='garbled' src='{bad_png}'>"
        "<a href='here.txt'>ok</a><a href='#top'>ok</a><a href='nope.txt'>n</a><a href='../outside.txt'>o</a>"
        "<a href='#nowhere'>a</a><script>console.error('boom'); undefined_fn();</script></body></html>")
    [r] = check_pages([root / "bad.html"], root, screenshot=False)
    assert not r.ok and r.screenshot is None
    assert dict(r.broken_links) == {"nope.txt": "no such file",
                                    "../outside.txt": "points outside the output directory (out/)",
                                    "#nowhere": "no element with that id on the page"}
    assert dict(r.broken_images) == {"gone": "does not decode", "garbled": "does not decode"}
    errors = " | ".join(r.console_errors)
    assert "boom" in errors and "undefined_fn is not defined" in errors and "missing.png" in errors


def test_pages_outside_the_root_are_refused(chromium, tmp_path):
    (tmp_path / "p.html").write_text("<h1>x</h1>")
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError):
        check_pages([tmp_path / "p.html"], tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="no such page"):
        check_pages([tmp_path / "out" / "none.html"], tmp_path / "out")


def test_missing_browser_names_the_install_command(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("BITFORGE_CHROMIUM", raising=False)
    with pytest.raises(BrowserNotFound, match="apt-get install -y chromium"):
        find_chromium()
