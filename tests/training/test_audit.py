"""The pipeline audit reads the built dataset, sampler and preprocessor back from the Runner."""

import copy
from pathlib import Path

import pytest

from prove.compat.runner import ProveRunner
from prove.spec import TrainSpec
from prove.training.audit import PipelineAuditError, PipelineAuditHook, expected_setup
from prove.training.config import build_config
from prove.training.resolve import resolve
from tests.data.fixtures import build_acdc


@pytest.fixture
def acdc(tmp_path):
    build_acdc(tmp_path / "acdc")
    return tmp_path / "acdc"


def _runner(cfg):
    from mmengine.config import Config

    return ProveRunner.from_cfg(Config(cfg))


def _spec(acdc, **kw):
    return TrainSpec.create(dataset="acdc", data_root=str(acdc), stage="s2", crop_size="16x16", max_iters=2,
                            batch_size=2, **kw)


def test_audit_passes_on_the_built_pipeline_and_records_evidence(acdc, tmp_path):
    resolved = resolve(_spec(acdc, strategy="std_photometric_distort"))
    cfg = build_config(resolved, str(tmp_path / "work"))
    hook = PipelineAuditHook(expected_setup(resolved), str(tmp_path / "audit.json"))
    hook.before_train(_runner(cfg))
    assert hook.report["ok"], hook.report["problems"]
    types = [t["type"] for t in hook.report["observed"]["pipelines"]["real"]]
    assert "LUTPhotoMetricDistortion" in types and "RandomResize" in types
    resize = next(t for t in hook.report["observed"]["pipelines"]["real"] if t["type"] == "RandomResize")
    assert resize["verified"]["ratio_range"] == [0.5, 2.0]
    assert Path(tmp_path / "audit.json").is_file()


def test_audit_catches_a_transform_written_into_a_config_copy(acdc, tmp_path):
    """docs/lessons.md#1: the transform went into cfg.train_pipeline, which no dataset reads."""
    resolved = resolve(_spec(acdc, strategy="std_photometric_distort"))
    baseline_cfg = build_config(resolve(_spec(acdc, strategy="baseline")), str(tmp_path / "work"))
    buggy = copy.deepcopy(baseline_cfg)
    buggy["train_pipeline"] = copy.deepcopy(buggy["train_dataloader"]["dataset"]["real"]["pipeline"])
    buggy["train_pipeline"].insert(-1, dict(type="PhotoMetricDistortion"))  # the copy gets it...
    hook = PipelineAuditHook(expected_setup(resolved), str(tmp_path / "audit.json"))
    with pytest.raises(PipelineAuditError, match="PhotoMetricDistortion"):
        hook.before_train(_runner(buggy))  # ...but the dataset that is built does not
    assert hook.report["ok"] is False


def test_audit_catches_a_wrong_ratio_and_a_changed_argument(acdc, tmp_path):
    resolved = resolve(_spec(acdc, strategy="baseline"))
    cfg = build_config(resolved, str(tmp_path / "work"))
    cfg["train_dataloader"]["sampler"]["batch_size"] = 4  # batches no longer aligned with the loader
    cfg["train_dataloader"]["dataset"]["real"]["pipeline"][2]["ratio_range"] = (1.0, 1.0)  # RandomResize disabled
    hook = PipelineAuditHook(expected_setup(resolved), str(tmp_path / "audit.json"))
    with pytest.raises(PipelineAuditError) as info:
        hook.before_train(_runner(cfg))
    assert "ratio_range" in str(info.value) and "sampler batch_size" in str(info.value)
