"""Pages checked in a real browser: headless Chromium driven over the DevTools protocol.

`check_pages` opens each page from disk in one headless Chromium (``--remote-debugging-pipe``: JSON
messages over two pipes, no network port, no extra Python package) and reports, per page: the console
errors and uncaught exceptions (failed resource loads included), every link that does not resolve
(a file that does not exist, a target outside the output directory, an anchor with no element), every
image that does not decode or decodes to zero size, and the page's first heading and what comes first
in it. With ``screenshot``, the full page is written beside it as ``<name>.screenshot.png``.

A missing browser raises `BrowserNotFound` with the command that installs it.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["check_pages", "PageCheck", "BrowserNotFound", "find_chromium", "CHROMIUM_HINT"]

CHROMIUM_HINT = "sudo apt-get install -y chromium (or: bash scripts/ensure-tools.sh as root)"
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_WIDTH = 1200           # CSS pixels of the window the screenshots are taken in
_MAX_HEIGHT = 20000     # a screenshot stops there


class BrowserNotFound(RuntimeError):
    pass


def find_chromium():
    """The Chromium executable (``BITFORGE_CHROMIUM`` overrides); `BrowserNotFound` when there is none."""
    given = os.environ.get("BITFORGE_CHROMIUM")
    for name in ([given] if given else []) + list(_NAMES):
        path = shutil.which(name)
        if path:
            return path
    raise BrowserNotFound(f"no Chromium found (looked for {', '.join(_NAMES)}); install it: {CHROMIUM_HINT}")


@dataclass(frozen=True)
class PageCheck:
    """What a browser found on one page; ``ok`` when nothing is broken."""
    page: str                   # relative to the checked directory
    title: str
    first_heading: str
    first_elements: tuple       # tag names of the first elements of the body's text flow, in order
    console_errors: tuple
    broken_links: tuple         # (href, why)
    broken_images: tuple        # (alt or src, why)
    links: int
    images: int
    screenshot: str | None      # relative to the checked directory

    @property
    def ok(self):
        return not (self.console_errors or self.broken_links or self.broken_images)

    def problems(self):
        return ([f"console: {e}" for e in self.console_errors] + [f"link {h}: {w}" for h, w in self.broken_links]
                + [f"image {s}: {w}" for s, w in self.broken_images])


class _DevTools:
    """One headless Chromium and its DevTools pipe (fd 3: commands in, fd 4: replies and events out)."""

    def __init__(self, executable, timeout_s):
        self.timeout_s = timeout_s
        self.profile = tempfile.mkdtemp(prefix="bitforge-chromium-")
        to_chrome, self._out = os.pipe()
        self._in, from_chrome = os.pipe()

        def wire():
            os.dup2(to_chrome, 3)
            os.dup2(from_chrome, 4)

        argv = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions",
                "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
                f"--window-size={_WIDTH},900", "about:blank"]
        self.proc = subprocess.Popen(argv, pass_fds=(3, 4), preexec_fn=wire, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome)
        os.close(from_chrome)
        self._buf = b""
        self._next = 0
        self.events = []

    def close(self):
        for fd in (self._in, self._out):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError(f"Chromium did not answer within {self.timeout_s} s")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe (it exited)")
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=None):
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"Chromium refused {method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method, session):
        deadline = time.monotonic() + self.timeout_s
        while not any(e.get("method") == method and e.get("sessionId") == session for e in self.events):
            self.events.append(self._read(deadline))


_INSPECT = """(async () => {
  const images = await Promise.all([...document.images].map(async (img) => {
    let decoded = true;
    try { await img.decode(); } catch (e) { decoded = false; }
    return {alt: img.alt, src: img.getAttribute('src') || '', decoded, w: img.naturalWidth, h: img.naturalHeight};
  }));
  const links = [...document.querySelectorAll('a[href]')].map(a => ({raw: a.getAttribute('href'), url: a.href}));
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  const h1 = document.querySelector('h1');
  const flow = [...document.body.querySelectorAll('h1, h2, p, table, pre, ul, figure')].slice(0, 8).map(e => e.tagName.toLowerCase());
  return JSON.stringify({title: document.title, h1: h1 ? h1.textContent.trim() : '', images, links, ids, flow,
                         height: Math.ceil(document.documentElement.scrollHeight)});
})()"""


def _console_errors(events, session):
    errors = []
    for e in events:
        if e.get("sessionId") != session:
            continue
        p = e.get("params", {})
        if e.get("method") == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            errors.append((d.get("exception") or {}).get("description") or d.get("text", "exception"))
        elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            errors.append(f"{entry.get('text', '')} {entry.get('url', '')}".strip())
    return tuple(errors)


def _link_problem(link, page, root, ids):
    raw, url = link["raw"], urlparse(link["url"])
    if raw.startswith("#"):
        return None if raw[1:] in ids or raw == "#" else "no element with that id on the page"
    if url.scheme in ("http", "https", "mailto"):
        return None  # outside links are the reader's business; pages here link only their own files
    if url.scheme != "file":
        return f"unexpected scheme {url.scheme!r}"
    target = Path(unquote(url.path))
    try:
        target.resolve().relative_to(root)
    except ValueError:
        return f"points outside the output directory ({root.name}/)"
    if not target.exists():
        return "no such file"
    if url.fragment and target.resolve() == page.resolve() and url.fragment not in ids:
        return "no element with that id on the page"
    return None


def _image_problem(img):
    if not img["decoded"]:
        return "does not decode"
    if img["w"] <= 0 or img["h"] <= 0:
        return f"decodes to {img['w']} x {img['h']} pixels"
    return None


def _check_one(dev, page, root, screenshot):
    target = dev.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = dev.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Runtime", "Log", "Page"):
            dev.call(f"{domain}.enable", session=session)
        dev.call("Emulation.setDeviceMetricsOverride", {"width": _WIDTH, "height": 900, "deviceScaleFactor": 1,
                                                        "mobile": False}, session=session)
        dev.call("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        dev.wait_for("Page.loadEventFired", session)
        found = json.loads(dev.call("Runtime.evaluate", {"expression": _INSPECT, "awaitPromise": True,
                                                         "returnByValue": True}, session=session)["result"]["value"])
        shot = None
        if screenshot:
            height = min(max(found["height"], 1), _MAX_HEIGHT)
            data = dev.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                       "clip": {"x": 0, "y": 0, "width": _WIDTH, "height": height,
                                                                "scale": 1}}, session=session)["data"]
            path = page.with_name(page.stem + ".screenshot.png")
            path.write_bytes(base64.b64decode(data))
            shot = path.resolve().relative_to(root).as_posix()
        ids = set(found["ids"])
        links = tuple((link["raw"], why) for link in found["links"]
                      if (why := _link_problem(link, page, root, ids)))
        images = tuple(((img["alt"] or img["src"][:60]), why) for img in found["images"]
                       if (why := _image_problem(img)))
        return PageCheck(page=page.resolve().relative_to(root).as_posix(), title=found["title"],
                         first_heading=found["h1"], first_elements=tuple(found["flow"]),
                         console_errors=_console_errors(dev.events, session), broken_links=links,
                         broken_images=images, links=len(found["links"]), images=len(found["images"]),
                         screenshot=shot)
    finally:
        dev.call("Target.closeTarget", {"targetId": target})
        dev.events = [e for e in dev.events if e.get("sessionId") != session]


def check_pages(pages, root, *, screenshot=True, timeout_s=60, progress=None):
    """[`PageCheck`] of every HTML file in ``pages``, loaded from disk in headless Chromium; links must stay
    inside ``root`` (the output directory the pages were written to)."""
    root = Path(root).resolve()
    pages = [Path(p) for p in pages]
    for p in pages:
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such page")
        p.resolve().relative_to(root)  # ValueError: a page outside the directory it is checked in
    dev = _DevTools(find_chromium(), timeout_s)
    try:
        results = []
        for i, page in enumerate(pages, 1):
            if progress:
                progress(f"[{i}/{len(pages)}] {page.resolve().relative_to(root)} in headless Chromium")
            results.append(_check_one(dev, page, root, screenshot))
        return results
    finally:
        dev.close()
