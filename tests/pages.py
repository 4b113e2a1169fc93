"""Checks of the pages bitforge writes, shared by the tests that write them.

`check_written_pages` always checks what can be checked without a browser (every relative link
resolves inside the output directory, every embedded image decodes to a non-zero size, the headline
and a table come first, no preformatted text, no path of this machine), then, when Chromium is
installed, loads every page in it (`ppa.browser.check_pages`): no console errors, links and images as
the browser sees them, and a screenshot beside each page. Without Chromium the browser part is left
to `tests/ppa/test_browser.py`, which skips with the install command.
"""

import base64
import io
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

from ppa.browser import BrowserNotFound, check_pages, find_chromium


class _Outline(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.links, self.images = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "img":
            self.images.append(a.get("src", ""))


def _static(page, root, forbidden):
    from PIL import Image
    text = page.read_text()
    for s in forbidden:
        assert s not in text, f"{page.name} names {s!r}, a path of this machine"
    outline = _Outline()
    outline.feed(text)
    flow = [t for t in outline.tags if t in ("h1", "h2", "p", "table", "pre", "figure", "ul")]
    assert flow[0] == "h1" and "pre" not in flow, f"{page.name}: page starts {flow[:6]}"
    assert "table" in flow and flow.index("table") < (flow.index("h2") if "h2" in flow else len(flow)), \
        f"{page.name}: no table in the headline (page starts {flow[:6]})"
    for href in outline.links:
        url = urlparse(href)
        assert not url.scheme and not href.startswith("/"), f"{page.name}: link {href} is not relative"
        target = (page.parent / unquote(url.path)).resolve()
        assert target.is_relative_to(root.resolve()), f"{page.name}: link {href} leaves the output directory"
        assert target.exists(), f"{page.name}: link {href} does not resolve"
    for src in outline.images:
        assert src.startswith("data:image/png;base64,"), f"{page.name}: image {src[:60]} is not embedded"
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as img:
            w, h = img.size
        assert w > 0 and h > 0, f"{page.name}: an image of {w} x {h} pixels"
    return outline


def check_written_pages(root, pages, *, forbidden=()):
    """Check ``pages`` (HTML files under ``root``); returns the browser's `PageCheck`s, or None without one."""
    root = Path(root)
    forbidden = tuple(forbidden) + (str(Path.home()) + "/", "/usr/bin/")
    for page in pages:
        _static(Path(page), root, forbidden)
    try:
        find_chromium()
    except BrowserNotFound:
        return None
    results = check_pages(pages, root)
    for r in results:
        assert r.ok, f"{r.page} in Chromium: {r.problems()[0]}"
        assert r.first_elements[0] == "h1" and "pre" not in r.first_elements, r.first_elements
        assert (root / r.screenshot).stat().st_size > 0
    return results
