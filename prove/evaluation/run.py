"""`prove test`: evaluate a finished training run's checkpoint(s) on a test set, once.

One test run per (training run, test set, checkpoint), keyed by the tag `prove.test_key`;
the same key again reuses the finished result (`force` evaluates again and replaces it), so a
result can never be counted twice. Everything that can be wrong with the request (unknown
run, unfinished training, missing checkpoint, unknown or unlabelled test set) is checked
before anything is written.

Metric names: docs/test.md.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import click
import numpy as np

from prove.compat.console import quiet_console
from prove.data import DATASETS
from prove.data.base import default_test_split, open_adapter
from prove.data.labels import CLASSES
from prove.errors import ProveError
from prove.evaluation.metrics import ALL
from prove.spec import RUN_NAME_SEPARATOR, TrainSpec
from prove.studies import STUDIES
from prove.tracking import client, schema
from prove.training.artifacts import iteration_checkpoints

CHECKPOINT_CHOICES = "last, best, all, or an iteration number"


@dataclass(frozen=True)
class TestTarget:
    """What one `prove test` call evaluates: a finished training's checkpoints on one test set."""

    train_run_id: str
    test_dataset: str
    test_split: str
    test_root: str
    test_domain_csv: str
    test_split_csv: str
    checkpoints: tuple[tuple[int, str], ...]  # (iteration, path)
    spec: TrainSpec
    work_dir: str
    config: str  # the training's mmseg config (its model is rebuilt from it)
    spec_hash: str  # as the training run records it (its files need not be on this machine)
    study: str = ""  # the training's study (its `prove.study` tag): its tests belong to it too

    def key(self, iteration: int) -> str:
        return schema.test_key(self.train_run_id, self.test_dataset, self.test_split, iteration)


@dataclass(frozen=True)
class TestOutcome:
    run_id: str
    iteration: int
    action: str  # evaluated | reused
    results: dict


def find_training_run(run_id: str | None, spec: TrainSpec | None, experiment: str | None):
    if run_id:
        try:
            run = client.get_run(run_id)
        except Exception:
            raise ProveError(f"unknown run id {run_id!r}: no such run in {client.tracking_uri()}") from None
    else:
        assert spec is not None
        exp_id = client.find_experiment_id(experiment)
        found = [r for r in client.find_train_runs(exp_id, spec.spec_hash()) if r.status == "FINISHED"] if exp_id else []
        if not found:
            raise ProveError(f"no finished training run for spec {spec.spec_hash()} ({spec.run_name}); train it first")
        run = client.get_run(found[0].run_id)
    if run.data.tags.get(schema.KIND) != schema.TRAIN:
        raise ProveError(f"run {run.info.run_id} is not a training run (kind={run.data.tags.get(schema.KIND)!r})")
    if run.info.status != "FINISHED":
        raise ProveError(f"training run {run.info.run_id} is {run.info.status}, not FINISHED; finish (resume) it first")
    return run


def select_checkpoints(work_dir: str, which: str) -> tuple[tuple[int, str], ...]:
    if not Path(work_dir).is_dir():
        raise ProveError(f"the training run's work folder {work_dir} is missing (checkpoints moved or deleted?)")
    available = iteration_checkpoints(work_dir)
    if not available:
        raise ProveError(f"no checkpoints in {work_dir}")
    which = str(which).strip().lower()
    if which == "all":
        return tuple(available.items())
    if which == "last":
        last = max(available)
        return ((last, available[last]),)
    if which == "best":
        best = sorted(Path(work_dir).glob("best_*iter_*.pth"))
        if not best:
            raise ProveError(f"no best checkpoint in {work_dir} (was validation run?); use last or an iteration")
        iteration = int(best[-1].stem.split("_")[-1])
        return ((iteration, str(best[-1])),)
    if which.isdigit() and int(which) in available:
        return ((int(which), available[int(which)]),)
    raise ProveError(f"invalid checkpoint {which!r}: accepted {CHECKPOINT_CHOICES}; iterations saved: "
                     f"{', '.join(map(str, available))}")


def find_target(run_id: str | None, spec: TrainSpec | None, checkpoint: str, test_dataset: str, test_split: str,
                test_data_root: str, test_domain_csv: str, experiment: str | None,
                test_split_csv: str = "") -> TestTarget:
    run = find_training_run(run_id, spec, experiment)
    train_spec = TrainSpec.from_params(run.data.params, for_existing_run=True)
    dataset = DATASETS.canonical(test_dataset) if test_dataset else train_spec.dataset
    same = dataset == train_spec.dataset
    root = test_data_root or (run.data.params.get("data_root", "") if same else "")
    domain_csv = test_domain_csv or (train_spec.domain_csv if same else "")
    split_csv = test_split_csv or (train_spec.split_csv if same else "")
    adapter = open_adapter(dataset, root or None, domain_csv or None, split_csv or None)
    split = test_split or default_test_split(adapter.splits)
    if split not in adapter.splits:
        raise ProveError(f"test set {dataset!r} has no labelled split {split!r}; accepted: {', '.join(adapter.splits)}")
    if same and split == "val" and str(checkpoint).strip().lower() == "best":
        raise ProveError(f"checkpoint 'best' was chosen on the val split of {dataset}, which this test would report "
                         "on: the figure would be biased. Test on a held-out split (give the dataset a test split "
                         "with a split CSV, docs/moving-in.md#splits) or pick last / an iteration")
    adapter.samples(split)  # fails clearly when the split is empty or malformed
    work_dir = run.data.tags.get(schema.WORK_DIR, "")
    config = run.data.tags.get(schema.CONFIG_FILE) or str(Path(work_dir) / "config.py")
    return TestTarget(run.info.run_id, dataset, split, str(adapter.root), str(adapter.domain_csv or ""),
                      str(adapter.split_csv or ""), select_checkpoints(work_dir, checkpoint), train_spec, work_dir,
                      config, run.data.tags.get(schema.SPEC_HASH, ""), run.data.tags.get(schema.STUDY, ""))


def existing_results(key: str) -> list:
    """The test runs of one result key in any experiment (the analyses read them all)."""
    return client.search_runs(client.experiment_ids(),
                              f"tags.`{schema.TEST_KEY}` = '{key}' and tags.`{schema.KIND}` = '{schema.TEST}'")


def results_table(results: dict[str, dict]) -> "pd.DataFrame":  # noqa: F821
    """Tidy per-domain x per-class table: one row per (domain, class) plus summary columns."""
    import pandas as pd

    rows = []
    for domain, r in results.items():
        for c, name in enumerate(CLASSES):
            rows.append(dict(domain=domain, cls=name, IoU=r["IoU"][c], Acc=r["Acc"][c], images=r["images"],
                             domain_mIoU=r["mIoU"], domain_aAcc=r["aAcc"], domain_mAcc=r["mAcc"],
                             domain_fwIoU=r["fwIoU"]))
    return pd.DataFrame(rows).rename(columns={"cls": "class"})


def result_metrics(results: dict[str, dict]) -> dict[str, float]:
    """The MLflow metrics of one result (schema in docs/test.md)."""
    metrics = {}
    for domain, r in results.items():
        for key in schema.METRICS:
            metrics[schema.test_metric(key, domain)] = float(r[key])
    overall = results[ALL]
    for c, name in enumerate(CLASSES):
        for key in schema.CLASS_METRICS:
            value = overall[key][c]
            if not np.isnan(value):
                metrics[schema.class_metric(key, name)] = float(value)
    # per domain x per class IoU (the small-object analysis reads it from the store); Acc only overall
    for domain, r in results.items():
        if domain != ALL:
            for c, name in enumerate(CLASSES):
                metrics[schema.class_metric("IoU", name, domain)] = float(r["IoU"][c])
    return {k: v for k, v in metrics.items() if not np.isnan(v)}


def run_test(request: TestTarget, iteration: int, checkpoint: str, force: bool, samples: int,
             batch_size: int, experiment: str | None) -> TestOutcome:
    key = request.key(iteration)
    previous = [r for r in existing_results(key) if r.info.status == "FINISHED"]
    if previous and not force:
        click.echo(f"already tested: run {previous[0].info.run_id} ({key})", err=True)
        return TestOutcome(previous[0].info.run_id, iteration, "reused", dict(previous[0].data.metrics))

    from prove.evaluation.artifacts import SampleCollector, write_artifacts
    from prove.evaluation.inference import evaluate, evaluation_dataset, load_model

    import torch

    from prove.settings import limit_threads

    limit_threads()  # the job's allocation, not the node's cores
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dataset = evaluation_dataset(request.test_dataset, request.test_split, request.test_root or None,
                                 request.test_domain_csv or None, split_csv=request.test_split_csv or None)
    model = load_model(request.config, checkpoint, device)
    collector = SampleCollector(samples)
    click.echo(f"testing {request.spec.run_name} iter {iteration} on {request.test_dataset}/{request.test_split} "
               f"({len(dataset)} images)", err=True)
    with _image_progress(len(dataset), f"test {request.test_dataset}/{request.test_split} @{iteration}") as counted:
        confusion = evaluate(model, dataset, batch_size=batch_size, device=device,
                             on_image=lambda *image: (collector(*image), counted()))
    results = confusion.results()

    # nothing is written before here: a failure above leaves the store untouched
    spec = request.spec
    params = {**spec.to_params(), "test_dataset": request.test_dataset, "test_split": request.test_split,
              "checkpoint_iter": str(iteration), "checkpoint": checkpoint, "train_run_id": request.train_run_id}
    if request.test_split_csv:
        params["test_split_csv"] = request.test_split_csv
    test_adapter = open_adapter(request.test_dataset, request.test_root or None, request.test_domain_csv or None,
                         request.test_split_csv or None)
    params.update({f"test_data.{k}": v for k, v in test_adapter.settings().items()})
    tags = {schema.KIND: schema.TEST, schema.TEST_KEY: key, schema.TRAIN_RUN: request.train_run_id,
            schema.SPEC_HASH: request.spec_hash, schema.FAMILY: _family(spec)}
    if request.study:
        tags[schema.STUDY] = request.study
    # nested under its training in the UI: what tells siblings apart (test set, iteration) first
    name = f"test {request.test_dataset}/{request.test_split} @{iteration} · {spec.run_name.split(RUN_NAME_SEPARATOR)[0]}"
    exp_id = client.experiment_id(experiment)
    run_id = client.create_run(exp_id, name, tags, params, parent=request.train_run_id)
    try:
        now = int(time.time() * 1000)
        client.log_metrics(run_id, [client.metric(k, v, iteration, now) for k, v in result_metrics(results).items()])
        out = Path(request.work_dir) / "tests" / f"{request.test_dataset}-{request.test_split}-iter_{iteration}"
        for path in write_artifacts(out, results, confusion.matrices, collector, results_table(results)):
            client.log_artifact(run_id, path)
        client.log_metrics(request.train_run_id, [client.metric(
            schema.tested_metric(request.test_dataset, request.test_split), results[ALL]["mIoU"], iteration, now)]
            + training_copy(request, iteration, checkpoint, results, now))
    except BaseException:
        client.end_run(run_id, "FAILED")
        client.delete_run(run_id)  # a half-written result must not be counted
        raise
    client.end_run(run_id, "FINISHED")
    for old in previous:  # --force: the new result replaces the old one
        client.delete_run(old.info.run_id)
    click.echo(summary_table(results), err=True)
    click.echo(f"mIoU {results[ALL]['mIoU']:.2f} on {request.test_dataset}/{request.test_split} "
               f"(iter {iteration}); run {run_id}", err=True)
    return TestOutcome(run_id, iteration, "evaluated", result_metrics(results))


@contextmanager
def _image_progress(total: int, label: str, every_s: float = 10.0):
    """A live bar over the test images on a terminal; else a line every `every_s` seconds."""
    from prove.progress import LiveBar, Lines, interactive

    bar = LiveBar(total, label) if interactive() else None
    lines = None if bar is not None else Lines(f"[{label}]", total, every_s)
    done = [0]

    def counted() -> None:
        done[0] += 1
        if bar is not None:
            bar.update(done[0])
        elif done[0] < total:  # the result table says the last one
            lines.update(done[0], "images")

    try:
        yield counted
    finally:
        if bar is not None:
            bar.close()


def training_copy(request: TestTarget, iteration: int, checkpoint: str, results: dict[str, dict], now: int) -> list:
    """The summary metrics of a result of the training's last (or best-on-val) checkpoint, per
    domain, for the training run itself (schema.training_result_metric); step = the iteration."""
    saved = iteration_checkpoints(request.work_dir) if Path(request.work_dir).is_dir() else {}
    prefixes = [p for p, applies in ((schema.LAST_RESULT, bool(saved) and iteration >= max(saved)),
                                     (schema.BEST_RESULT, Path(checkpoint).name.startswith("best_"))) if applies]
    return [client.metric(schema.training_result_metric(prefix, request.test_dataset, request.test_split, domain, key),
                          r[key], iteration, now)
            for prefix in prefixes for domain, r in results.items() for key in schema.METRICS if not np.isnan(r[key])]


def summary_table(results: dict[str, dict]) -> str:
    """Per-domain mIoU/mAcc/aAcc as aligned text, overall last."""
    lines = [f"  {'domain':<10} {'images':>6} {'mIoU':>6} {'mAcc':>6} {'aAcc':>6}"]
    for domain in sorted(results, key=lambda d: (d == ALL, d)):
        r = results[domain]
        lines.append(f"  {domain:<10} {r['images']:>6} {r['mIoU']:>6.2f} {r['mAcc']:>6.2f} {r['aAcc']:>6.2f}")
    return "\n".join(lines)


def _family(spec: TrainSpec) -> str:
    from prove.strategies import parse_strategy

    return parse_strategy(spec.strategy).family


@quiet_console()  # the stack's known messages go to the log file, not the console
def test(run_id: str | None = None, spec: TrainSpec | None = None, checkpoint: str = "last", test_dataset: str = "",
         test_split: str = "", test_data_root: str = "", test_domain_csv: str = "", force: bool = False,
         samples: int = 4, batch_size: int = 4, experiment: str | None = None,
         test_split_csv: str = "", study: str = "") -> list[TestOutcome]:
    """Test a training's checkpoints; the test runs belong to `study` if given, else to the
    training's study."""
    if not run_id and spec is None:
        raise ProveError("say which training to test: a run id, or the training options of its spec")
    study = STUDIES.canonical(study) if study else ""
    target = find_target(run_id, spec, checkpoint, test_dataset, test_split, test_data_root, test_domain_csv,
                         experiment, test_split_csv)
    if study:
        target = replace(target, study=study)
    outcomes = [run_test(target, it, path, force, samples, batch_size, experiment) for it, path in target.checkpoints]
    return outcomes


def outcome_json(outcomes: list[TestOutcome]) -> str:
    return json.dumps([dict(run_id=o.run_id, iteration=o.iteration, action=o.action,
                            mIoU=o.results.get("test/mIoU")) for o in outcomes])
