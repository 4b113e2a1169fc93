"""The page model: Markdown and HTML from one page, escaping, links that stay in the output directory."""

import pytest

from ppa.page import Page, Section, Table, Figure, Bullets, Links, to_markdown, to_html, relative_href, plot_png
from ppa.page import FIGURE_SIZE, FIGURE_DPI

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d4944415478da63f8cfc0f01f0005000201a5b8ecd40000000049454e44ae426082")  # 1 x 1 pixel


def _page():
    table = Table(("block", "area (um^2)"), (("adder", "1,234"), ("total", "1,234")), numeric=(False, True),
                  strong=(1,), caption="area by block")
    return Page("demo <report>", ("Verified: 0 mismatches.", table),
                (Section("Plots", (Figure(PNG, "a | b plot", "plot.png"),)),
                 Section("Links", (Links((("report", "r/report.html"),)), Bullets(("one", "two"))))),
                subtitle="sub")


def test_markdown_by_hand():
    assert to_markdown(_page()) == (
        "# demo <report>\n\nsub\n\nVerified: 0 mismatches.\n\n"
        "| block | area (um^2) |\n| --- | ---: |\n| adder | 1,234 |\n| **total** | **1,234** |\n\n*area by block*\n\n"
        "## Plots\n\n![a \\| b plot](plot.png)\n\n*a | b plot*\n\n"
        "## Links\n\n- [report](r/report.html)\n\n- one\n- two\n")


def test_html_is_escaped_self_contained_and_headline_first():
    text = to_html(_page())
    assert "<title>demo &lt;report&gt;</title>" in text and "<report>" not in text
    assert "<script" not in text and "http" not in text.split("<body>")[1]
    assert text.index('class="headline"') < text.index("<table>") < text.index("<h2>Plots</h2>")
    assert '<tr class="total"><td class="left">total</td><td class="right">1,234</td></tr>' in text
    assert "src=\"data:image/png;base64,iVBORw0KGgo" in text and "<figcaption>a | b plot</figcaption>" in text
    assert '<a href="r/report.html">report</a>' in text
    assert "@media print" in text


def test_page_lists_its_figures():
    assert [f.name for f in _page().figures] == ["plot.png"]


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match="table row 1 has 1 cells, expected 2"):
        Table(("a", "b"), (("1", "2"), ("3",)))
    with pytest.raises(ValueError, match="numeric has 1 entries, expected 2"):
        Table(("a", "b"), (), numeric=(True,))


def test_relative_href(tmp_path):
    (tmp_path / "d").mkdir()
    assert relative_href(tmp_path / "d" / "x.png", tmp_path) == "d/x.png"
    with pytest.raises(ValueError, match="outside the page's directory"):
        relative_href(tmp_path.parent / "x", tmp_path)


def test_every_plot_has_one_size():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image
    import io
    for shape in ((1, 1), (1, 3)):
        fig, _ = plt.subplots(*shape, figsize=(3, 2))
        png = plot_png(fig)
        assert Image.open(io.BytesIO(png)).size == (FIGURE_SIZE[0] * FIGURE_DPI, FIGURE_SIZE[1] * FIGURE_DPI)
