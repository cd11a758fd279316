"""The batch executors as PSI/J renders their job scripts (LSF and PBS cannot run here; SLURM
runs live in test_slurm_sweep.py), and the inputs they refuse before anything is submitted."""

from __future__ import annotations

import json
import os
import subprocess

import mlflow
import pytest
import yaml
from click.testing import CliRunner

from prove.cli import cli
from prove.errors import ProveError
from prove.sweeps.definition import from_mapping
from prove.sweeps.executors.batch import SCHEDULERS, DirectiveValue, _escape, _executor, render_script
from prove.sweeps.worker import expand_array_index
from prove.settings import work_root
from tests.support import store_uri

RESOURCES = {"gpus": 1, "cpus": 8, "mem_gb": 32, "time_min": 720, "queue": "gpu"}


def sweep_of(resources=RESOURCES):
    return from_mapping({"name": "mini", "grid": {"seed": [0, 1]}, "fixed": {"max_iters": 2},
                         "resources": resources}, "t.yaml")


def directives(script: str, prefix: str) -> list[str]:
    return [line.strip() for line in script.splitlines() if line.startswith(prefix)]


@pytest.fixture(autouse=True)
def secrets_in_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("PROVE_WORK_DIR", str(tmp_path / "work"))


def check_script(script: str) -> None:
    assert "s3cret-pw" not in script and "tracking.example" not in script  # environment only
    assert " -m prove.cli ablation --sweep " in script and " --worker " in script
    syntax = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


def test_lsf_job_script():
    script = render_script(SCHEDULERS["lsf"], sweep_of(), "study")
    lines = directives(script, "#BSUB")
    for expected in ('#BSUB -J "prove-mini"', "#BSUB -env all", "#BSUB -W 12:0", '#BSUB -q "gpu"', '#BSUB -n "8"',
                     '#BSUB -M "33554432KB"', '#BSUB -R "span[hosts=1] rusage[mem=32GB]"', '#BSUB -gpu "num=1"',
                     '#BSUB -wa "USR2"', '#BSUB -wt "10"'):
        assert expected in lines, (expected, lines)
    assert not any("-nnodes" in line for line in lines)  # CSM-only; PSI/J renders it for any resource spec
    assert "--stop-after-min 710" in script and "--experiment study" in script
    check_script(script)


def test_slurm_job_script():
    script = render_script(SCHEDULERS["slurm"], sweep_of(), None)
    lines = directives(script, "#SBATCH")
    for expected in ('#SBATCH --job-name="prove-mini"', "#SBATCH --cpus-per-task=8", "#SBATCH --gpus-per-task=1",
                     "#SBATCH --ntasks=1", "#SBATCH --mem=33554432K", "#SBATCH --time=12:0:0",
                     '#SBATCH --partition="gpu"', '#SBATCH --signal="USR2@600"', "#SBATCH --export=ALL"):
        assert expected in lines, (expected, lines)
    assert "export SRUN_CPUS_PER_TASK=8" in script and "srun_launch.sh" in script
    check_script(script)


def test_pbs_job_script_and_its_gpu_refusal():
    script = render_script(SCHEDULERS["pbs"], sweep_of({**RESOURCES, "gpus": 0}), None)
    lines = directives(script, "#PBS")
    for expected in ("#PBS -l select=1:ncpus=8:mpiprocs=8:mem=34359738368", "#PBS -l walltime=12:0:0",
                     "#PBS -q gpu", '#PBS -N "prove-mini"', "#PBS -V"):
        assert expected in lines, (expected, lines)
    assert "--stop-after-min 710" in script  # PBS sends no warning: the worker's own clock
    check_script(script)
    with pytest.raises(ProveError, match="no GPU directive"):
        render_script(SCHEDULERS["pbs"], sweep_of(), None)


def test_short_jobs_are_warned_earlier_and_warnings_come_before_the_limit():
    assert sweep_of({"time_min": 6}).resources["warn_min"] == 3
    script = render_script(SCHEDULERS["slurm"], sweep_of({"time_min": 6}), None)
    assert '#SBATCH --signal="USR2@180"' in script and "--stop-after-min 3" in script
    with pytest.raises(ProveError, match="warn_min 10 must be shorter than time_min 10"):
        sweep_of({"time_min": 10, "warn_min": 10})


def test_directive_values_keep_their_meaning_inside_double_quotes():
    value = DirectiveValue('select[type=="X86_64"] $HOME `x`')
    rendered = _escape(value)
    out = subprocess.run(["bash", "-c", f'printf %s "{rendered}"'], capture_output=True, text=True)
    assert out.stdout == str(value)
    assert _escape("a b") == "'a b'"  # everything else: PSI/J's own escaping


def _sweep_file(tmp_path, resources=RESOURCES) -> str:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "mini", "grid": {"seed": [0, 1]}, "fixed": {"max_iters": 2},
                                    "resources": resources}))
    return str(path)


def _no_runs(uri: str) -> bool:
    client = mlflow.tracking.MlflowClient(uri)
    return all(not client.search_runs([e.experiment_id]) for e in client.search_experiments())


@pytest.mark.parametrize("executor, command", [("lsf", "bsub"), ("pbs", "qsub"), ("slurm", "sbatch")])
def test_an_executor_whose_commands_are_not_on_path_submits_nothing(tmp_path, monkeypatch, executor, command):
    uri = store_uri(tmp_path / 'store.db')
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin") + os.pathsep + "/usr/bin/nothing-here")
    result = CliRunner().invoke(cli, ["ablation", "--sweep", _sweep_file(tmp_path, {**RESOURCES, "gpus": 0}),
                                      "--executor", executor, "--workers", "2"])
    assert result.exit_code == 2, result.output
    assert f"executor {executor} needs {command}" in result.output and "not found" in result.output
    assert "Traceback" not in result.output
    assert _no_runs(uri) and not (tmp_path / "work").exists()


def test_bad_executor_and_resources_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store_uri(tmp_path / 'store.db'))
    result = CliRunner().invoke(cli, ["ablation", "--sweep", _sweep_file(tmp_path), "--executor", "sge"])
    assert result.exit_code == 2 and "unknown executor 'sge'" in result.output
    assert all(name in result.output for name in ("local", "slurm", "lsf", "pbs"))
    result = CliRunner().invoke(cli, ["ablation", "--sweep", _sweep_file(tmp_path, {"cores": 4}), "--dry-run"])
    assert result.exit_code == 2 and "unknown resource 'cores'" in result.output


def test_a_dry_run_shows_the_submission_and_writes_nothing(tmp_path, monkeypatch):
    uri = store_uri(tmp_path / 'store.db')
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = CliRunner().invoke(cli, ["ablation", "--sweep", _sweep_file(tmp_path), "--executor", "lsf",
                                      "--workers", "3", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "lsf: one job array of 3 workers (lsf0.1, lsf0.2, lsf0.3)" in result.output
    assert '#BSUB -wa "USR2"' in result.output and '#BSUB -J "prove-mini[1-3]"' in result.output
    assert not (tmp_path / "work").exists() and _no_runs(uri)


@pytest.mark.parametrize("scheduler, prefix, array", [
    ("slurm", "#SBATCH", ['#SBATCH --array="0-3"', '#SBATCH --job-name="prove-mini"']),
    ("lsf", "#BSUB", ['#BSUB -J "prove-mini[1-4]"']),  # LSF names an array with its index range
    ("pbs", "#PBS", ['#PBS -J "0-3"', '#PBS -N "prove-mini"']),
])
def test_several_workers_are_one_job_array_each_element_with_its_own_files(scheduler, prefix, array):
    resources = {**RESOURCES, "gpus": 0} if scheduler == "pbs" else RESOURCES
    script = render_script(SCHEDULERS[scheduler], sweep_of(resources), None, workers=4)
    lines = directives(script, prefix)
    assert all(line in lines for line in array), (array, lines)
    # name, report and logs by the element's index, which the worker reads from the scheduler
    name = f"{scheduler}0.{{array_index}}"
    assert f"--worker-name '{name}'" in script
    for option, suffix in (("--report", "json"), ("--stdout", "out"), ("--stderr", "err")):
        assert f"{option} '{work_root() / 'batch' / 'SWEEP_RUN_ID' / 'round-0' / name}.{suffix}'" in script
    check_script(script)
    single = render_script(SCHEDULERS[scheduler], sweep_of(resources), None, workers=1)
    assert "array" not in single and "{array_index}" not in single and "[1-" not in single


@pytest.mark.parametrize("variable, value", [("SLURM_ARRAY_TASK_ID", "3"), ("LSB_JOBINDEX", "3"),
                                             ("PBS_ARRAY_INDEX", "3"), ("PBS_ARRAYID", "3"), ("SGE_TASK_ID", "3")])
def test_the_worker_reads_its_array_index_from_any_scheduler(monkeypatch, variable, value):
    for other in ("SLURM_ARRAY_TASK_ID", "LSB_JOBINDEX", "PBS_ARRAY_INDEX", "PBS_ARRAYID", "SGE_TASK_ID"):
        monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv(variable, value)
    assert expand_array_index("w{array_index}", "/x/w{array_index}.json", "") == ["w3", "/x/w3.json", ""]


def test_a_worker_named_by_an_array_index_outside_an_array_is_refused(monkeypatch):
    for variable in ("SLURM_ARRAY_TASK_ID", "PBS_ARRAY_INDEX", "PBS_ARRAYID"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LSB_JOBINDEX", "0")  # LSF's value outside arrays
    monkeypatch.setenv("SGE_TASK_ID", "undefined")  # SGE's
    assert expand_array_index("plain", "") == ["plain", ""]
    with pytest.raises(ProveError, match="needs an array job's index, and none of SLURM_ARRAY_TASK_ID"):
        expand_array_index("w{array_index}")


def _statuses(scheduler: str, out: str, tmp_path) -> dict:
    executor = _executor(SCHEDULERS[scheduler], tmp_path)
    return {job: (status.state.name, status.message) for job, status in executor.parse_status_output(0, out).items()}


# what `squeue -O JobArrayID,StateCompact,Reason -t all --me` (PSI/J's status command) printed
# for `sbatch --array=0-2` on ci/slurm.sh's SLURM, while running and once done
SQUEUE_RUNNING = """JOBID               ST                  REASON
154_2               PD                  Resources
154_0               R                   None
154_1               R                   None
160                 R                   None
"""
SQUEUE_DONE = """JOBID               ST                  REASON
154_2               CD                  None
154_0               CD                  None
154_1               F                   NonZeroExitCode
"""


def test_an_arrays_elements_are_followed_under_its_job_id_on_slurm(tmp_path):
    assert _statuses("slurm", SQUEUE_RUNNING, tmp_path) == {"154": ("ACTIVE", None), "160": ("ACTIVE", None)}
    pending = SQUEUE_RUNNING.replace(" R  ", " PD ")
    assert _statuses("slurm", pending, tmp_path)["154"][0] == "QUEUED"
    assert _statuses("slurm", SQUEUE_DONE, tmp_path)["154"][0] == "FAILED"  # one element failed
    assert _statuses("slurm", SQUEUE_DONE.replace("F                   NonZeroExitCode", "CD None"),
                     tmp_path) == {"154": ("COMPLETED", None)}


def _bjobs(*records) -> str:
    fields = ("JOBID", "STAT", "EXIT_REASON", "KILL_REASON", "SUSPEND_REASON")
    return json.dumps({"COMMAND": "bjobs", "JOBS": len(records),
                       "RECORDS": [dict(zip(fields, record)) for record in records]})


def test_an_arrays_elements_are_followed_under_its_job_id_on_lsf(tmp_path):
    # bjobs -json: one record per element, all with the array's JOBID (IBM's job array docs)
    running = _bjobs(("77", "DONE", "", "", ""), ("77", "RUN", "", "", ""), ("77", "PEND", "", "", ""))
    assert _statuses("lsf", running, tmp_path) == {"77": ("ACTIVE", None)}
    killed = _bjobs(("77", "DONE", "", "", ""), ("77", "EXIT", "", "TERM_OWNER: job killed by owner", ""),
                    ("78", "DONE", "", "", ""))
    assert _statuses("lsf", killed, tmp_path) == {"77": ("FAILED", "TERM_OWNER: job killed by owner"),
                                                   "78": ("COMPLETED", None)}
