"""Every standard strategy ends up in the training setup that MMEngine actually builds, and does
what it claims there (not only as a standalone transform)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.config import Config

import tests.support  # noqa: F401  (acdc_mini)
from prove.compat.runner import ProveRunner
from prove.spec import TrainSpec
from prove.strategies import STANDARD
from prove.training.audit import PipelineAuditHook, expected_setup
from prove.training.config import build_config
from prove.training.resolve import resolve
from tests.data.fixtures import build_acdc


@pytest.fixture(scope="module")
def acdc(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "acdc"
    build_acdc(root)
    return root


def built_runner(acdc, tmp_path, strategy):
    spec = TrainSpec.create(dataset="acdc_mini", data_root=str(acdc), stage="s2", strategy=strategy, batch_size=2,
                            max_iters=2)
    resolved = resolve(spec)
    cfg = build_config(resolved, str(tmp_path / strategy))
    runner = ProveRunner.from_cfg(Config(cfg))
    audit = PipelineAuditHook(expected_setup(resolved), str(tmp_path / f"{strategy}.json"))
    audit.before_train(runner)  # raises if the built setup differs from the spec
    return runner, audit.report


def sample(runner, key):
    item = runner.train_dataloader.dataset[key]
    return item["inputs"].numpy(), item["data_samples"].gt_sem_seg.data.numpy()


@pytest.mark.parametrize("name", STANDARD.names())
def test_strategy_is_built_and_acts(name, acdc, tmp_path):
    runner, report = built_runner(acdc, tmp_path, name)
    strategy = STANDARD.get(name)
    built_types = [t["type"] for t in report["observed"]["pipelines"]["real"]]
    for transform in strategy.transforms:
        assert transform["type"] in built_types
    assert "RandomResize" in built_types  # never lost (docs/lessons.md#10: its absence ruined a round)

    baseline, _ = built_runner(acdc, tmp_path, "baseline")
    keys = [(0, i % 4, 1000 + i) for i in range(8)]
    if strategy.transforms and not strategy.modifies_labels:  # photometric: pixels change, labels do not
        changed = 0
        for key in keys:
            img, label = sample(runner, key)
            base_img, base_label = sample(baseline, key)
            np.testing.assert_array_equal(label, base_label)  # same geometry, labels untouched
            changed += not np.array_equal(img, base_img)
        assert changed > 0
    elif strategy.transforms:  # AutoAugment / RandAugment: images change, labels stay valid ids
        changed = 0
        for key in keys:
            img, label = sample(runner, key)
            base_img, _ = sample(baseline, key)
            changed += not np.array_equal(img, base_img)
            assert set(np.unique(label)) <= set(range(19)) | {255}
        assert changed > 0
    if strategy.batch_mix:
        model = runner.model
        pre = model.data_preprocessor
        assert type(pre).__name__ == "MixSegDataPreProcessor" and pre.mix == strategy.batch_mix["mix"]
        assert type(model).__name__ == "MixLossEncoderDecoder"
        pre.prob = 1.0
        torch.manual_seed(0)
        batch = next(iter(runner.train_dataloader))
        data = pre(batch, True)
        assert all(s.metainfo["mix_applied"] == strategy.batch_mix["mix"] for s in data["data_samples"])
        losses = model(**data, mode="loss")
        assert torch.isfinite(sum(v for k, v in losses.items() if "loss" in k))
    else:
        assert type(runner.model.data_preprocessor).__name__ == "SegDataPreProcessor"
