"""MLproject and the CLI must not drift: MLflow drops undeclared/unused parameters silently."""

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from prove.cli import cli

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


@pytest.mark.slow
def test_mlflow_run_train_and_test_entry_points(tmp_path):
    """The real `mlflow run` path: -P params reach the CLI; the launcher run MLflow makes is
    tagged as such and points at the training / test runs."""
    import os
    import subprocess

    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PROVE_WORK_DIR": str(tmp_path / "w")}
    common = ["-P", "max_iters=2", "-P", "eval_interval=2", "-P", "strategy=STD_Minimal", "-P", "batch_size=2"]
    for entry in ("train", "test"):
        result = subprocess.run(["mlflow", "run", str(ROOT), "-e", entry, "--env-manager", "local", *common],
                                env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    client = mlflow.tracking.MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    by_kind = {}
    for run in runs:
        by_kind.setdefault(run.data.tags.get("prove.kind"), []).append(run)
    (train,) = by_kind["train"]
    (test,) = by_kind["test"]
    assert train.data.params["strategy"] == "std_minimal" and train.info.status == "FINISHED"
    assert test.data.tags["prove.train_run_id"] == train.info.run_id
    launches = by_kind["launch"]
    assert len(launches) == 2 and all(r.data.tags["prove.train_run_id"] == train.info.run_id for r in launches)
    assert None not in by_kind  # every run says what it is


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
