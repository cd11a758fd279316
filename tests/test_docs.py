"""Generated parts of docs/ must equal what the code declares (`prove generate` rewrites them),
and the docs point only at commands and files that exist."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from prove.cli import cli
from prove.cli.generated import DOC_TABLES, doc_tables

DOCS = Path(__file__).resolve().parent.parent / "docs"
ROOT = DOCS.parent


@pytest.mark.parametrize("path,marker,committed,generated", doc_tables(),
                         ids=[f"{Path(f).name}:{m}" for f, m, _ in DOC_TABLES])
def test_doc_table_is_what_the_registries_declare(path, marker, committed, generated):
    assert committed == generated, f"{path.name} ({marker}) is stale: run `prove generate`"


def test_every_registry_has_a_doc_table():
    markers = {m for _, m, _ in DOC_TABLES}
    assert {"strategies-table", "generators-table", "datasets-table", "presets-table", "zoo-table",
            "losses-table", "options-table"} <= markers


def test_prove_commands_named_in_the_docs_exist():
    """`prove <verb>` in docs and README names a real sub-command (no `prove datasets` left)."""
    verbs = set(cli.commands)
    texts = {p.name: p.read_text() for p in [*DOCS.glob("*.md"), ROOT / "README.md"]}
    for name, text in texts.items():
        for verb in re.findall(r"`prove ([a-z][a-z-]+)", text):
            assert verb in verbs, f"{name} names `prove {verb}`, which is not a command"
    for command in cli.commands.values():
        for param in command.params:
            for verb in re.findall(r"`prove ([a-z][a-z-]+)", getattr(param, "help", "") or ""):
                assert verb in verbs, f"--{param.name} help names `prove {verb}`"


def test_doc_links_point_at_files_that_exist():
    for doc in [*DOCS.glob("*.md"), ROOT / "README.md"]:
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).is_file(), f"{doc.name} links to missing {target}"


def test_generate_check_says_nothing_is_stale():
    result = CliRunner().invoke(cli, ["generate", "--check"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("origin,shown", [("prove.strategies", True), ("a_lab_plugin", False)])
def test_a_declaration_inside_prove_reaches_the_docs_tables(origin, shown, monkeypatch):
    """A strategy declared in prove's source appears in the generated docs table (a stale doc
    then fails test_doc_table_is_what_the_registries_declare); a plugin's does not."""
    import prove.strategies
    from prove.cli import listing
    from prove.registry import Registry
    from prove.strategies import STANDARD, StandardStrategy

    copy = Registry(STANDARD.kind)
    for name, entry in STANDARD.items():
        copy.add(name, entry, entry.aliases, origin=STANDARD.origin(name))
    copy.add("std_newcomer", StandardStrategy("std_newcomer", "a new photometric strategy"), origin=origin)
    monkeypatch.setattr(prove.strategies, "STANDARD", copy)
    assert ("`std_newcomer`" in listing.strategies_markdown(builtin_only=True)) is shown
    assert "`std_newcomer`" in listing.strategies_markdown()  # `prove list strategies --format markdown`
