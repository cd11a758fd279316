"""What `auto` means for a training's budget: the users' protocol for real work, quick defaults
for the tiny models and the embedded benchmark (docs/train.md#protocol)."""

from __future__ import annotations

import pytest

from prove.models.protocol import protocol_for
from prove.spec import TrainSpec


@pytest.mark.parametrize("kw,expected", [
    (dict(stage="s1", dataset="bdd10k", model="segformer_mit-b3"), (15000, 16, "true")),
    (dict(stage="Stage 2", dataset="iddaw", model="pspnet_r50"), (15000, 16, "true")),
    (dict(stage="cg", dataset="cityscapes", model="deeplabv3plus_r50"), (20000, 16, "true")),
    (dict(stage="s1", dataset="bdd10k", model="segformer_mit-b3", pretrained="false"), (40000, 16, "false")),
    (dict(stage="cg", dataset="cityscapes", model="mask2former_swin-b"), (10000, 8, "true")),
    (dict(stage="s1", dataset="bdd10k", model="fcn_r18-tiny"), (2000, 8, "false")),  # tiny model: quick
    (dict(stage="s1", dataset="weather_bench", model="segformer_mit-b3"), (2000, 8, "false")),  # embedded: quick
    (dict(stage="s1", dataset="bdd10k", model="segformer_mit-b3", max_iters=500, batch_size=2), (500, 2, "true")),
])
def test_auto_resolves_from_the_protocol(kw, expected):
    spec = TrainSpec.create(**kw)
    assert (spec.max_iters, spec.batch_size, spec.pretrained) == expected


def test_intervals_and_learning_rates_of_the_protocol():
    study = protocol_for("segformer_mit-b3", True, False, "s1", False)
    assert study.interval(15000) == 2000 and study.interval(40000) == 5000 and study.interval(1500) == 1500
    quick = protocol_for("fcn_r18-tiny", False, True, "s1", True)
    assert quick.name == "quick" and quick.interval(2000) == 400
    m2f = protocol_for("mask2former_swin-b", True, False, "s1", False)
    assert (m2f.lr, m2f.batch_size, m2f.max_iters) == (4e-4, 8, 10000)


def test_the_quick_defaults_keep_the_spec_hashes_of_existing_runs():
    """`auto` resolves before the identity is hashed: a spec written with the old explicit defaults
    (2000 iterations, batch 8, from scratch) is the same training as the default one."""
    assert TrainSpec.create().spec_hash() == TrainSpec.create(max_iters=2000, batch_size=8,
                                                              pretrained="false").spec_hash()
    assert TrainSpec.create().spec_hash() == "a692682b5e4fbfb8"  # the hash before `auto` existed
