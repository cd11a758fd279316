"""`prove leaderboard --latex DIR`: booktabs tables and vector PDFs for a paper, byte-identical
on a rebuild from the same store, with the runs behind every file; foreign folders refused."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from prove.tracking.importer import import_results
from tests.analysis.tables import GAINS
from tests.analysis.test_run import STRATEGIES, analysis_runs, leaderboard, study, study_csv  # noqa: F401


def files_of(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def rows_of(tex: str) -> list[list[str]]:
    body = tex.split("\\midrule\n")[1].split("\\bottomrule")[0]
    return [line.removesuffix(" \\\\").split(" & ") for line in body.strip().splitlines()]


def test_tables_and_figures_for_a_paper_rebuild_byte_identical(study):  # noqa: F811
    tmp = study["tmp"]
    paper = tmp / "paper" / "numbers"
    result = leaderboard("--output", str(tmp / "lb"), "--latex", str(paper))
    assert result.exit_code == 0, result.output
    first = files_of(paper)
    assert {"leaderboard_s1.tex", "leaderboard_s1.pdf", "leaderboard_s2.tex", "domains_s1.tex", "domains_s1.pdf",
            "compare_stage_s1_vs_s2.tex", "compare_stage_s1_vs_s2.pdf", "manifest.json"} <= set(first)
    # rebuilt from the store (not the cached report), and into another report folder: the same bytes
    assert leaderboard("--output", str(tmp / "lb"), "--latex", str(paper), "--refresh").exit_code == 0
    assert files_of(paper) == first
    assert leaderboard("--output", str(tmp / "lb2"), "--latex", str(paper)).exit_code == 0
    assert files_of(paper) == first

    tex = first["leaderboard_s1.tex"].decode()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "gen\\_cycleGAN" in tex
    header = tex.split("\\toprule\n")[1].split("\n")[0]
    rows = rows_of(tex)
    assert all(len(r) == header.count(" & ") + 1 for r in rows)  # every row has every column
    by_strategy = {r[1].replace("\\_", "_"): r for r in rows}
    for strategy, gains in GAINS.items():  # the hand-made gains of tests/analysis/tables.py
        assert by_strategy[STRATEGIES[strategy]][3].rstrip("$^\\dagger$") == f"{np.mean(gains):+.2f}"
    assert first["leaderboard_s1.pdf"].startswith(b"%PDF") and b"/Subtype /Image" not in first["leaderboard_s1.pdf"]
    assert b"CreationDate" not in first["leaderboard_s1.pdf"]


def test_the_manifest_names_the_runs_behind_each_file(study):  # noqa: F811
    tmp, client = study["tmp"], study["client"]
    paper = tmp / "paper"
    assert leaderboard("--output", str(tmp / "lb"), "--latex", str(paper)).exit_code == 0
    manifest = json.loads((paper / "manifest.json").read_text())
    assert manifest["written_by"] == "prove leaderboard --latex"
    exps = [e.experiment_id for e in client.search_experiments()]
    tests = client.search_runs(exps, filter_string="tags.`prove.kind` = 'test' and params.stage = 's1'")
    assert set(manifest["files"]["leaderboard_s1.tex"]["test_runs"]) == {r.info.run_id for r in tests}
    # imported results have no training run: their trainings are the synthetic ids their test runs name
    assert set(manifest["files"]["leaderboard_s1.tex"]["training_runs"]) == {
        r.data.tags["prove.train_run_id"] for r in tests}
    both = set(manifest["files"]["compare_stage_s1_vs_s2.tex"]["test_runs"])
    assert both > set(manifest["files"]["leaderboard_s1.tex"]["test_runs"])
    (run,) = [r for r in analysis_runs(client)]
    assert {a.path for a in client.list_artifacts(run.info.run_id, "latex")} >= {"latex/manifest.json"}


def test_a_changed_store_changes_the_files_and_stale_ones_go(study):  # noqa: F811
    tmp = study["tmp"]
    paper = tmp / "paper"
    assert leaderboard("--output", str(tmp / "lb"), "--latex", str(paper)).exit_code == 0
    (paper / "README.md").write_text("pulled by the paper repo\n")  # someone else's file: left alone
    before = files_of(paper)
    more = tmp / "more.csv"
    df = pd.read_csv(study_csv(tmp / "again.csv"))
    df = df[(df["stage"] == "s1") & (df["strategy"] == "std_cutmix")].assign(seed=1, mIoU=lambda d: d["mIoU"] + 3.0)
    df.to_csv(more, index=False)
    import_results(more, experiment="study")
    assert leaderboard("--output", str(tmp / "lb"), "--latex", str(paper), "--stage", "s1").exit_code == 0
    after = files_of(paper)
    assert after["leaderboard_s1.tex"] != before["leaderboard_s1.tex"]
    assert "leaderboard_s2.tex" not in after and "README.md" in after  # s2 not asked for this time


def test_a_foreign_folder_is_refused_and_nothing_is_written(study):  # noqa: F811
    tmp = study["tmp"]
    paper = tmp / "thesis"
    paper.mkdir()
    (paper / "chapter1.tex").write_text("\\chapter{Intro}\n")
    result = leaderboard("--output", str(tmp / "lb"), "--latex", str(paper))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert re.search(r"--latex .*thesis: the folder holds files prove did not write \(chapter1\.tex\)", result.output)
    assert [p.name for p in paper.iterdir()] == ["chapter1.tex"] and not (tmp / "lb").exists()
    assert analysis_runs(study["client"]) == []


@pytest.mark.parametrize("text, expected", [("gen_X [ratio=0.5]", "gen\\_X [ratio=0.5]"), ("50%", "50\\%"),
                                            ("a&b", "a\\&b"), ("x^2~", "x\\textasciicircum{}2\\textasciitilde{}")])
def test_names_are_escaped_for_latex(text, expected):
    from prove.analysis.latex import escape

    assert escape(text) == expected
