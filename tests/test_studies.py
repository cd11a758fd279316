"""Studies are declared once (prove.studies) and reach the presets, sweep files and every run
they make: the `prove.study` tag of trainings and their tests, set by `prove ablation`, or by
`--study` on train and test."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from prove.cli import cli
from prove.errors import ProveError
from prove.studies import STUDIES
from prove.sweeps.definition import from_mapping
from prove.sweeps.presets import PRESETS


def test_every_study_is_planned_by_its_preset_and_every_preset_run_has_a_study():
    planned: dict[str, set[str]] = {}
    for name, preset in PRESETS.items():
        for item in preset.sweep().items():
            planned.setdefault(item.study, set()).add(name)
    for name, study in STUDIES.items():
        if study.preset:
            assert study.preset in planned.get(name, set()), (name, study.preset)  # the preset plans this study
    assert planned[""] == {"all-strategies"}  # the one preset that is not a study of the group's
    assert planned["s1"] == {"stage1", "demo"} and planned["cs-ratio"] == planned["s1-ratio"] == {"ratio"}
    assert [n for n, s in STUDIES.items() if s.main] == ["s1", "s2", "cg"]


def test_a_sweep_file_names_its_study_as_users_write_it():
    sweep = from_mapping({"name": "x", "study": "Stage 1",
                          "grid": [{"strategy": ["baseline"]}, {"study": "scratch", "strategy": ["std_minimal"]}]}, "x")
    assert [i.study for i in sweep.items()] == ["s1", "from-scratch"]
    assert sweep.to_mapping()["grid"][1]["study"] == "from-scratch"  # written back as it reads
    assert [i.study for i in from_mapping(sweep.to_mapping(), "again").items()] == ["s1", "from-scratch"]
    with pytest.raises(ProveError, match=r"sweep x: study 'S9' is not a declared study; accepted: s1, s2, cg"):
        from_mapping({"name": "x", "study": "S9", "grid": {"strategy": ["baseline"]}}, "x")
    with pytest.raises(ProveError, match="a grid block needs at least one train option besides its study"):
        from_mapping({"name": "x", "grid": [{"study": "s1"}]}, "x")


@pytest.mark.slow
def test_train_and_test_record_the_study_and_a_typo_writes_nothing(store):
    bad = CliRunner().invoke(cli, ["train", "--max-iters", "2", "--batch-size", "2", "--study", "S7"])
    assert bad.exit_code == 2 and "unknown study 'S7'; accepted:" in bad.output and "Traceback" not in bad.output
    assert store.runs() == []

    trained = CliRunner().invoke(cli, ["train", "--max-iters", "2", "--batch-size", "2", "--eval-interval", "2",
                                       "--study", "Stage1"])
    assert trained.exit_code == 0, trained.output
    run_id = trained.output.strip().splitlines()[-1]
    assert store.get_run(run_id).data.tags["prove.study"] == "s1"
    tested = CliRunner().invoke(cli, ["test", "--run-id", run_id, "--samples", "0"])
    assert tested.exit_code == 0, tested.output
    (test,) = json.loads(tested.output.strip().splitlines()[-1])
    assert store.get_run(test["run_id"]).data.tags["prove.study"] == "s1"  # a test belongs to its training's study
    again = CliRunner().invoke(cli, ["test", "--run-id", run_id, "--samples", "0", "--force", "--study", "noise"])
    assert again.exit_code == 0, again.output
    (retest,) = json.loads(again.output.strip().splitlines()[-1])
    assert store.get_run(retest["run_id"]).data.tags["prove.study"] == "noise"  # --study says otherwise
