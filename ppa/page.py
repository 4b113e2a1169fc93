"""Pages people read: one document model, rendered to Markdown and to a self-contained HTML page.

A `Page` is a title, a headline (what was verified and the key figures, shown first) and sections of
blocks: paragraphs (`str`), `Bullets`, `Table`, `Figure` and `Links`. `to_markdown` and `to_html`
render the same page, so the two never say different things. The HTML comes from a Jinja2 template
(`ppa/templates/page.html.j2`): tables as HTML tables, every figure embedded as PNG data with its
caption, one stylesheet for screen and print; the file opens from disk with no server.

Plots are drawn at one size (`FIGURE_SIZE` inches at `FIGURE_DPI`) by `plot_png`; a page never names a
path of the machine that wrote it: `relative_href` gives links relative to the page's directory and
refuses targets outside it.
"""

import base64
import io
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Page", "Section", "Table", "Figure", "Bullets", "Links", "to_markdown", "to_html", "plot_png",
           "relative_href", "FIGURE_SIZE", "FIGURE_DPI"]

#: every plot of every page: width x height in inches, and dots per inch (990 x 396 pixels)
FIGURE_SIZE = (9.0, 3.6)
FIGURE_DPI = 110


@dataclass(frozen=True)
class Table:
    """A table: ``header`` and ``rows`` of strings; ``numeric`` columns align right; ``strong`` rows
    (indices) are totals, shown bold."""
    header: tuple
    rows: tuple
    numeric: tuple = ()
    strong: tuple = ()
    caption: str = ""
    kind = "table"

    def __post_init__(self):
        width = len(self.header)
        for i, row in enumerate(self.rows):
            if len(row) != width:
                raise ValueError(f"table row {i} has {len(row)} cells, expected {width} (the header's)")
        if self.numeric and len(self.numeric) != width:
            raise ValueError(f"numeric has {len(self.numeric)} entries, expected {width} (one per column)")

    def align(self, column):
        return "right" if self.numeric and self.numeric[column] else "left"


@dataclass(frozen=True)
class Figure:
    """A plot: PNG bytes, a caption saying what it shows (and its axes' units), and ``name``, the
    PNG file written beside the page that the Markdown links."""
    png: bytes
    caption: str
    name: str
    kind = "figure"

    def data_uri(self):
        return "data:image/png;base64," + base64.b64encode(self.png).decode()


@dataclass(frozen=True)
class Bullets:
    items: tuple
    kind = "bullets"


@dataclass(frozen=True)
class Links:
    """(text, href) pairs; hrefs relative to the page (`relative_href`)."""
    items: tuple
    kind = "links"


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple


@dataclass(frozen=True)
class Page:
    title: str
    headline: tuple                  # blocks shown first, in a box
    sections: tuple = ()
    subtitle: str = ""

    @property
    def figures(self):
        """Every `Figure` of the page, in order."""
        blocks = list(self.headline) + [b for s in self.sections for b in s.blocks]
        return tuple(b for b in blocks if isinstance(b, Figure))


def plot_png(fig):
    """The PNG of a Matplotlib figure drawn at `FIGURE_SIZE` and `FIGURE_DPI` (the figure is closed)."""
    import matplotlib.pyplot as plt
    fig.set_size_inches(*FIGURE_SIZE)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI)
    plt.close(fig)
    return buf.getvalue()


def relative_href(target, page_dir):
    """The link from a page in ``page_dir`` to ``target``, relative and with forward slashes; a target
    outside ``page_dir`` is a ValueError (a shared page must not point into the writer's machine)."""
    target, base = Path(target).resolve(), Path(page_dir).resolve()
    try:
        rel = target.relative_to(base)
    except ValueError:
        raise ValueError(f"{target} is outside the page's directory {base}: a page links only what lies "
                         f"beside it") from None
    return rel.as_posix()


def _md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_block(block):
    if isinstance(block, str):
        return [block, ""]
    if block.kind == "bullets":
        return [f"- {item}" for item in block.items] + [""]
    if block.kind == "links":
        return [f"- [{text}]({href})" for text, href in block.items] + [""]
    if block.kind == "figure":
        return [f"![{_md_cell(block.caption)}]({block.name})", "", f"*{block.caption}*", ""]
    lines = ["| " + " | ".join(_md_cell(h) for h in block.header) + " |",
             "| " + " | ".join("---:" if block.align(i) == "right" else "---" for i in range(len(block.header)))
             + " |"]
    for i, row in enumerate(block.rows):
        cells = [_md_cell(c) for c in row]
        if i in block.strong:
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    if block.caption:
        lines += ["", f"*{block.caption}*"]
    return lines + [""]


def to_markdown(page):
    """The page as Markdown: figures link their PNG files (``Figure.name``), written beside it."""
    lines = [f"# {page.title}", ""]
    if page.subtitle:
        lines += [page.subtitle, ""]
    for block in page.headline:
        lines += _md_block(block)
    for section in page.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            lines += _md_block(block)
    return "\n".join(lines).rstrip() + "\n"


def _environment():
    import jinja2
    return jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
                              autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


def to_html(page):
    """The page as one self-contained HTML document (figures embedded, no scripts, no outside files)."""
    return _environment().get_template("page.html.j2").render(page=page)
