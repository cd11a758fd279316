"""Extended training: `continue_from` starts from a finished run's last checkpoint and follows
its own longer LR schedule, checked against an uninterrupted run of the same length."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import tests.support  # noqa: F401  (acdc_mini)
from prove.cli import cli
from prove.errors import ProveError
from prove.spec import TrainSpec
from prove.sweeps.definition import from_mapping
from prove.sweeps.status import status_table as plan
from tests.data.fixtures import build_acdc


@pytest.fixture
def trainer(store):
    """Options that train on a tiny ACDC tree in this test's store."""
    build_acdc(store.tmp / "acdc")
    common = ["--dataset", "acdc_mini", "--stage", "s2", "--batch-size", "2", "--checkpoint-interval", "2",
              "--eval-interval", "8", "--data-root", str(store.tmp / "acdc")]
    return dict(uri=store.uri, common=common, client=store, root=store.tmp / "acdc")


def train(trainer, *args):
    result = CliRunner().invoke(cli, ["train", *trainer["common"], *args])
    return result, result.output.strip().splitlines()[-1] if result.exit_code == 0 else None


def history(client, run_id, key):
    return {m.step: m.value for m in client.get_metric_history(run_id, key)}


@pytest.mark.slow
def test_continued_run_starts_at_the_checkpoint_with_its_own_schedule(trainer):
    parent_result, parent = train(trainer, "--max-iters", "4")
    assert parent_result.exit_code == 0, parent_result.output
    parent_hash = trainer["client"].get_run(parent).data.tags["prove.spec_hash"]
    _, reference = train(trainer, "--max-iters", "8")  # the same length, trained in one go
    result, continued = train(trainer, "--max-iters", "8", "--continue-from", parent_hash)
    assert result.exit_code == 0, result.output

    run = trainer["client"].get_run(continued)
    assert run.info.status == "FINISHED" and run.data.params["continue_from"] == parent_hash
    assert continued not in (parent, reference)
    lr = history(trainer["client"], continued, "train/lr")
    assert sorted(lr) == [5, 6, 7, 8]  # iterations 1-4 are the parent's
    ref_lr = history(trainer["client"], reference, "train/lr")
    for step in lr:  # the LR of an 8-iteration schedule at that step, not the parent's ended one
        assert lr[step] == pytest.approx(ref_lr[step], rel=1e-6)
    assert lr[5] > history(trainer["client"], parent, "train/lr")[4]
    assert sorted(history(trainer["client"], continued, "train/loss")) == [5, 6, 7, 8]

    # the sweep plan sees the continuation as an ordinary training once it is done
    sweep = from_mapping({"grid": {"seed": [0]}, "extend": 2,
                          "fixed": {"dataset": "acdc_mini", "stage": "s2", "batch_size": 2, "max_iters": 4,
                                    "checkpoint_interval": 2, "eval_interval": 8, "data_root": str(trainer["root"])}},
                         "t")
    (item,) = sweep.items()
    assert item.spec.continue_from == parent_hash and item.spec.max_iters == 8
    assert plan(sweep, "prove")["status"].tolist() == ["to_test"]


def test_bad_continuations_are_refused_before_any_run(trainer):
    result, _ = train(trainer, "--max-iters", "8", "--continue-from", "0123456789abcdef")
    assert result.exit_code == 2 and "no finished training with this spec hash" in result.output
    result, _ = train(trainer, "--max-iters", "8", "--continue-from", "nope")
    assert result.exit_code == 2 and "expected the 16-hex spec hash" in result.output
    assert trainer["client"].search_runs(["0"]) == [] or not trainer["client"].search_runs(
        [e.experiment_id for e in trainer["client"].search_experiments()])


@pytest.mark.slow
def test_continuation_must_be_longer(trainer):
    _, parent = train(trainer, "--max-iters", "4")
    parent_hash = trainer["client"].get_run(parent).data.tags["prove.spec_hash"]
    result, _ = train(trainer, "--max-iters", "4", "--continue-from", parent_hash)
    assert result.exit_code == 2 and "ends at iteration 4; max_iters must be larger" in result.output


def test_extend_waits_for_the_run_to_continue(trainer, monkeypatch):
    monkeypatch.setenv("PROVE_ACDC_MINI_ROOT", str(trainer["root"]))  # a sweep blocks what has no data here
    sweep = from_mapping({"grid": {"seed": [0, 1]}, "extend": 3,
                          "fixed": {"dataset": "acdc_mini", "stage": "s2", "max_iters": 4}}, "t")
    items = sweep.items()
    base = TrainSpec.create(dataset="acdc_mini", stage="s2", max_iters=4, seed=0)
    assert items[0].spec.continue_from == base.spec_hash() and items[0].spec.max_iters == 12
    table = plan(sweep, "prove")
    assert set(table["status"]) == {"blocked"} and table["reason"].str.contains("not finished yet").all()
    with pytest.raises(ProveError, match="extend 0 must be a whole number"):
        from_mapping({"grid": {"seed": [0]}, "extend": 0}, "t")
