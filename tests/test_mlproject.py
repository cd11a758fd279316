"""MLproject and the CLI must not drift: MLflow drops undeclared/unused parameters silently."""

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from prove.cli import cli
from tests.support import store_uri

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "MLproject").read_text())
ENTRY_POINTS = PROJECT["entry_points"]


def verb_of(entry: dict) -> tuple[click.Command, list[str]]:
    argv = shlex.split(entry["command"])
    assert argv[0] == "python" and argv[1].startswith("entrypoints/"), entry["command"]
    script = ROOT / argv[1]
    assert script.is_file(), f"{script} missing"
    match = re.search(r'run\("([\w-]+)"\)', script.read_text())
    assert match, f"{script} does not call run('<verb>')"
    return cli.commands[match.group(1)], argv[2:]


def options_of(command: click.Command) -> dict[str, click.Option]:
    return {
        max(p.opts, key=len).lstrip("-").replace("-", "_"): p
        for p in command.params
        # boolean flags (e.g. --force) cannot be passed by MLflow as `--flag {value}`: CLI only
        if isinstance(p, click.Option) and not p.hidden and p.name != "help" and not p.is_flag
    }


def arguments_of(command: click.Command) -> dict[str, click.Argument]:
    """Positional arguments (e.g. the CSV of import-results): MLproject parameters without
    a default, since the CLI has none either."""
    return {p.name: p for p in command.params if isinstance(p, click.Argument)}


def as_mlflow_string(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_every_parameter_is_used_and_maps_to_its_option(name):
    entry = ENTRY_POINTS[name]
    command, args = verb_of(entry)
    options = options_of(command)
    declared = dict(entry.get("parameters") or {})
    arguments = arguments_of(command)
    for param in list(declared):
        if param in arguments or param.replace("_", "-") in arguments:
            assert "{" + param + "}" in args, f"{name}: argument {param} not passed positionally"
            assert "default" not in declared.pop(param), f"{name}: required argument {param} has a default"
    assert len(arguments) == len(entry.get("parameters") or {}) - len(declared), \
        f"{name}: CLI arguments {sorted(arguments)} not all declared"
    for param in declared:
        assert "{" + param + "}" in entry["command"], f"{name}: parameter {param} unused in command"
        flag = "--" + param.replace("_", "-")
        assert flag in args and args[args.index(flag) + 1] == "{" + param + "}", f"{name}: {param} not passed as {flag}"
        assert param in options, f"{name}: CLI has no option {flag}"
    missing = set(options) - set(declared)
    assert not missing, f"{name}: CLI options not exposed as MLproject parameters: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_defaults_equal_cli_defaults(name):
    entry = ENTRY_POINTS[name]
    command, _ = verb_of(entry)
    options = options_of(command)
    for param, spec in (entry.get("parameters") or {}).items():
        if param in arguments_of(command):
            continue  # positional, required on both sides
        default = spec.get("default") if isinstance(spec, dict) else None
        assert default is not None, f"{name}: {param} has no default (give one, as the CLI does)"
        assert as_mlflow_string(default) == as_mlflow_string(options[param].default), (
            f"{name}: MLproject default {param}={default!r} differs from CLI default {options[param].default!r}"
        )


def test_conda_env_file_exists_and_installs_the_project():
    assert PROJECT["conda_env"] == "conda.yaml"
    conda = yaml.safe_load((ROOT / "conda.yaml").read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip


def _mlflow_run(tmp_path, env, entry, *params, timeout=300, options=()):
    import subprocess

    args = [a for p in params for a in ("-P", p)]
    return subprocess.run(["mlflow", "run", str(ROOT), "-e", entry, "--env-manager", "local", *options, *args],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)


def _runs(uri, view=None):
    """Every run of every experiment: (experiment name, run)."""
    import mlflow
    from mlflow.entities import ViewType

    client = mlflow.tracking.MlflowClient(uri)
    names = {e.experiment_id: e.name for e in client.search_experiments(view_type=ViewType.ALL)}
    runs = client.search_runs(list(names), run_view_type=view or ViewType.ACTIVE_ONLY)
    return [(names[r.info.experiment_id], r) for r in runs]


def _settled_runs(uri, timeout_s=20.0):
    """The visible runs once MLflow's launch runs are removed (a detached process deletes each
    when `mlflow run` has ended it, within a second of its exit)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        runs = _runs(uri)
        if all("prove.kind" in r.data.tags for _, r in runs) or time.monotonic() > deadline:
            return runs
        time.sleep(0.2)


def _env(tmp_path):
    import os

    uri = store_uri(tmp_path / 'mlflow.db')
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return uri, {**env, "MLFLOW_TRACKING_URI": uri, "PROVE_WORK_DIR": str(tmp_path / "w")}


@pytest.mark.slow(85)
def test_mlflow_run_train_and_test_leave_only_the_runs_they_are_about(tmp_path):
    """The real `mlflow run` path (no experiment named): the training goes to prove's default
    experiment, its test nests under it, MLflow's own launch runs are gone (not in `Default`),
    and running finished work again adds nothing visible."""
    from mlflow.entities import ViewType

    uri, env = _env(tmp_path)
    common = ("max_iters=2", "eval_interval=2", "strategy=std_minimal", "batch_size=2")
    for entry in ("train", "test", "train"):  # the second train: already trained
        result = _mlflow_run(tmp_path, env, entry, *common)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    visible = _settled_runs(uri)
    kinds = sorted((exp, r.data.tags.get("prove.kind")) for exp, r in visible)
    assert kinds == [("prove", "test"), ("prove", "train")], kinds  # nothing in Default, no launch runs
    train = next(r for _, r in visible if r.data.tags["prove.kind"] == "train")
    test = next(r for _, r in visible if r.data.tags["prove.kind"] == "test")
    assert train.info.run_name == "std_minimal+scratch+bs2 · s1 · weather_bench · fcn_r18-tiny"
    assert test.data.tags["mlflow.parentRunId"] == train.info.run_id  # nested in the UI
    assert train.info.status == "FINISHED" and train.data.tags["mlflow.source.name"] == "prove train"
    assert train.data.tags["mlflow.user"] and train.data.tags["mlflow.source.type"] == "LOCAL"
    assert any(k.startswith("test/weather_bench/") for k in train.data.metrics)  # comparable on the training
    deleted = [r for _, r in _runs(uri, ViewType.DELETED_ONLY)]
    assert len(deleted) == 3 and all("prove.kind" not in r.data.tags for r in deleted)  # MLflow's 3 launch runs

    # an experiment named: the run MLflow Projects made (the id `mlflow run` printed) is the training
    # (-P values as prove resolves them: MLflow's params cannot be rewritten, `auto` would stay)
    canonical = (*common, "seed=1", "ratio=1.0", "pretrained=false")
    result = _mlflow_run(tmp_path, env, "train", *canonical, options=("--experiment-name", "study"))
    assert result.returncode == 0, result.stderr[-2000:]
    (printed,) = set(re.findall(r"Run \(ID '([0-9a-f]+)'\) succeeded", result.stderr + result.stdout))
    study = [r for exp, r in _settled_runs(uri) if exp == "study"]
    assert [r.info.run_id for r in study] == [printed]
    assert study[0].data.tags["prove.kind"] == "train" and study[0].data.tags["mlflow.source.type"] == "PROJECT"
    assert study[0].info.run_name.startswith("std_minimal")


# Bad -P values per entry point, as users typed them: each exits non-zero, says what is wrong,
# and leaves no run visible in any experiment (MLflow's launch run is removed too).
TYPOS = {
    "train": [("strategy=std_cutmixx", "std_cutmixx"), ("ratio=1.5", "ratio"), ("model=segformer_b3", "segformer_b3"),
              ("ratio_schedule=cosine", "cosine")],
    "test": [("run_id=0123456789abcdef", "0123456789abcdef")],
    "ablation": [("preset=stage3", "stage3")],
    "leaderboard": [("metric=mIOU_", "mIOU_"), ("latex={tmp}", "prove did not write")],  # a folder of other files
    "import_results": [("file={tmp}/results.xlsx", "not a UTF-8 CSV"), ("file={tmp}/old.csv", "missing required")],
}


@pytest.mark.slow
@pytest.mark.parametrize("entry,typo,named", [(e, t, n) for e, ts in TYPOS.items() for t, n in ts],
                         ids=[f"{e}-{t}" for e, ts in TYPOS.items() for t, _ in ts])
def test_a_typo_through_mlflow_run_leaves_no_run(tmp_path, entry, typo, named):
    uri, env = _env(tmp_path)
    (tmp_path / "results.xlsx").write_bytes(b"PK\x03\x04\x14\x00\x06\x00\xff\xfe" * 20)
    (tmp_path / "old.csv").write_text("strategy,miou\nbaseline,40.0\n")
    result = _mlflow_run(tmp_path, env, entry, typo.format(tmp=tmp_path))
    assert result.returncode != 0
    assert "Error: " in result.stderr and named in result.stderr and "Traceback" not in result.stderr
    left = _settled_runs(uri)
    assert left == [], [(e, r.info.run_name, r.data.tags) for e, r in left]


def test_mlproject_is_generated_from_the_requests():
    """MLproject is written by `prove generate` from the same dataclasses as the CLI options."""
    from prove.cli import REQUESTS
    from prove.cli.generated import mlproject_text

    assert (ROOT / "MLproject").read_text() == mlproject_text(REQUESTS), "MLproject is stale: run `prove generate`"


def test_every_verb_users_run_is_an_entry_point():
    from prove.cli.generated import ENTRY_POINTS

    names = [name for name, _ in ENTRY_POINTS]
    assert len(names) == len(set(names)) and set(names) == set(PROJECT["entry_points"])
    verbs = {verb for _, verb in ENTRY_POINTS}
    for verb in ("train", "test", "ablation", "leaderboard", "demo", "import-results", "list", "doctor"):
        assert verb in verbs, verb
