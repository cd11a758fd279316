"""`report.html`: the markdown report as one self-contained page (docs/leaderboard.md#report-html).

MLflow's artifact viewer renders an HTML artifact in a sandboxed frame that can load nothing
else from the run, so every plot is inlined as a `data:` URI and the style sheet is inline
too: the file opens the same from the artifact viewer, a mail attachment or a laptop offline.
The page is rendered from the very markdown `report.md` holds (one source, two views), with
markdown-it (CommonMark + tables), which rich, and so MMEngine, already depends on.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from markdown_it import MarkdownIt

HTML_FILE = "report.html"

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 72em;
       padding: 0 1em; color: #1f2328; }
h1, h2, h3 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-variant-numeric: tabular-nums; display: block;
        overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f6f8fa; }
td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #fbfbfc; }
img { max-width: 100%; height: auto; }
code { background: #f6f8fa; padding: 0 3px; border-radius: 3px; }
"""

_IMAGE = re.compile(r'<img src="([^"]+)"')


def render_html(markdown: str, base: Path, title: str = "prove report") -> str:
    """The page for `markdown`, its images (paths relative to `base`) inlined as data URIs."""
    body = MarkdownIt("commonmark").enable("table").render(markdown)

    def inline(match: re.Match) -> str:
        path = base / html.unescape(match.group(1))
        if not path.is_file():  # never a link out of the page: say what is missing instead
            return f'<img alt="missing: {html.escape(str(path.name))}" src="data:,"'
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<img src="data:image/{path.suffix.lstrip(".").lower() or "png"};base64,{data}"'

    body = _IMAGE.sub(inline, body)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}</body></html>\n")


def write_html(markdown_file: Path) -> Path:
    """Write `report.html` beside `report.md` from its text; returns its path."""
    out = markdown_file.with_name(HTML_FILE)
    text = markdown_file.read_text()
    first = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "prove report")
    out.write_text(render_html(text, markdown_file.parent, first), encoding="utf-8")
    return out
