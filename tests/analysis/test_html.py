"""report.html: the markdown report as one page with nothing to fetch (parsed back with the
standard library's HTML parser, not with the renderer that wrote it)."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

from prove.analysis.html import render_html, write_html

PNG = base64.b64decode(  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.sources, self.cells = [], [], []
        self._cell = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        for key in ("src", "href"):
            if key in attrs and tag != "a":
                self.sources.append(attrs[key])
        self._cell = tag in ("td", "th")

    def handle_data(self, data):
        if self._cell and data.strip():
            self.cells.append(data.strip())

    def handle_endtag(self, tag):
        self._cell = False


def test_tables_and_plots_are_inline_and_nothing_is_fetched(tmp_path):
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "gains.png").write_bytes(PNG)
    md = tmp_path / "report.md"
    md.write_text("# prove leaderboard\n\nSome text.\n\n| strategy | mIoU |\n|---|---|\n| gen_cycleGAN | 41.20 |\n"
                  "| baseline | 40.00 |\n\n![gains](plots/gains.png)\n")
    page = _Page()
    page.feed(write_html(md).read_text())
    assert "table" in page.tags and "img" in page.tags and "style" in page.tags
    assert page.cells == ["strategy", "mIoU", "gen_cycleGAN", "41.20", "baseline", "40.00"]
    assert page.sources and all(s.startswith("data:") for s in page.sources)  # no external asset
    assert base64.b64decode(page.sources[0].split(",", 1)[1]) == PNG
    assert "link" not in page.tags and "script" not in page.tags


def test_a_missing_plot_is_named_not_linked(tmp_path):
    text = render_html("![x](plots/gone.png)\n", tmp_path)
    page = _Page()
    page.feed(text)
    assert 'alt="missing: gone.png"' in text and page.sources == ["data:,"]
