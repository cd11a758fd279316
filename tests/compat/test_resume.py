"""A real MMEngine run saved at iteration N resumes at N+1 on this torch, optimizer intact."""

import copy

import torch
from mmengine.hooks import Hook

from prove.compat import install
from prove.compat.runner import ProveRunner
from prove.compat.checkpoint import is_written_by_prove
from prove.data.labels import CLASSES
from prove.models import model_config

install()


class RecordIterations(Hook):
    """Remembers the iterations run and the optimizer state right after resuming."""

    def __init__(self):
        self.iterations = []
        self.optimizer_state = None

    def before_train(self, runner):
        self.optimizer_state = copy.deepcopy(runner.optim_wrapper.state_dict())  # live tensors mutate

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.iterations.append(runner.iter)


def runner_config(data_root, work_dir, max_iters, resume_from=None):
    pipeline = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"), dict(type="PackSegInputs")]
    return dict(
        model=model_config("fcn_r18-tiny", crop_size=(32, 32)),
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=2, num_workers=0, sampler=dict(type="InfiniteSampler", shuffle=True),
            dataset=dict(type="BaseSegDataset", data_root=str(data_root), data_prefix=dict(img_path="img", seg_map_path="ann"),
                         img_suffix=".png", seg_map_suffix=".png", metainfo=dict(classes=CLASSES), pipeline=pipeline),
        ),
        train_cfg=dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=10_000),
        optim_wrapper=dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.01)),
        param_scheduler=[dict(type="PolyLR", eta_min=0.0, power=1.0, begin=0, end=max_iters, by_epoch=False)],
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=2),
                           logger=dict(type="LoggerHook", interval=1)),
        default_scope="mmseg",
        randomness=dict(seed=0),
        resume=resume_from is not None,
        load_from=str(resume_from) if resume_from else None,
        log_level="WARNING",
    )


def test_resume_continues_at_next_iteration_with_identical_optimizer_state(tiny_seg_folder, tmp_path):
    first = ProveRunner.from_cfg(_cfg(runner_config(tiny_seg_folder, tmp_path / "a", max_iters=4)))
    first.train()
    saved = tmp_path / "a" / "iter_2.pth"
    assert saved.is_file() and is_written_by_prove(saved)

    recorder = RecordIterations()
    second = ProveRunner.from_cfg(_cfg(runner_config(tiny_seg_folder, tmp_path / "b", max_iters=4, resume_from=saved)))
    second.register_hook(recorder)
    second.train()

    assert recorder.iterations == [2, 3]  # 0-based: it ran iterations 3 and 4 only
    expected = torch.load(saved, weights_only=False)["optimizer"]
    got = recorder.optimizer_state
    assert got["param_groups"] == expected["param_groups"]
    assert got["state"].keys() == expected["state"].keys()
    for key, state in expected["state"].items():
        for name, value in state.items():
            assert torch.equal(torch.as_tensor(got["state"][key][name]), torch.as_tensor(value)), (key, name)


def _cfg(d):
    from mmengine.config import Config

    return Config(d)
