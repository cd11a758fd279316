"""Generated tables in docs/ must equal what the code declares."""

from pathlib import Path

from prove.spec import options_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _between(text: str, marker: str) -> str:
    start = text.index("-->", text.index(f"<!-- {marker}")) + 3
    return text[start:text.index(f"<!-- /{marker} -->")].strip()


def test_train_options_table():
    assert _between((DOCS / "train.md").read_text(), "options-table") == options_markdown()
