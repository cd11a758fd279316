from pathlib import Path

from prove.models import markdown_table


def test_docs_table_is_the_registry():
    text = (Path(__file__).resolve().parents[2] / "docs" / "models.md").read_text()
    start = text.index("-->", text.index("<!-- zoo-table")) + 3
    end = text.index("<!-- /zoo-table -->")
    assert text[start:end].strip() == markdown_table(), "regenerate with `prove models --format markdown`"
