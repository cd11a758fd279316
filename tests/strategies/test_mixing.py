"""CutMix / MixUp for segmentation: what the preprocessor does to images and labels, and the
MixUp loss of MixLossEncoderDecoder against a hand combination with a plain EncoderDecoder."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from prove.strategies.mixing import MixLossEncoderDecoder, cutmix_box, mixup_lam  # installs compat shims
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from prove.training.doctor import random_batch, train_step
from prove.models import model_config, quiet_mmengine

H, W, N = 32, 48, 4
NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size=(H, W))


def make_batch(seed: int = 0) -> dict:
    """A data-loader batch of uint8 images and label maps (with some ignore pixels)."""
    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (3, H, W), dtype=torch.uint8, generator=gen) for _ in range(N)]
    samples = []
    for _ in range(N):
        label = torch.randint(0, 19, (1, H, W), generator=gen)
        label[:, :4, :] = 255
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(dict(img_shape=(H, W), ori_shape=(H, W)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def preprocessor(**mix):
    return MODELS.build(dict(type="MixSegDataPreProcessor", **NORM, **mix))


@pytest.fixture
def reference() -> tuple[torch.Tensor, torch.Tensor]:
    """The batch as mmseg's plain SegDataPreProcessor delivers it: (images, labels)."""
    plain = MODELS.build(dict(type="SegDataPreProcessor", **NORM))
    out = plain(make_batch(), True)
    return out["inputs"], torch.stack([s.gt_sem_seg.data for s in out["data_samples"]])


def mixed(seed: int, **mix) -> tuple[torch.Tensor, list]:
    torch.manual_seed(seed)
    out = preprocessor(**mix)(make_batch(), True)
    return out["inputs"], out["data_samples"]


def test_cutmix_pastes_the_same_box_into_image_and_label(reference):
    ref_img, ref_label = reference
    images, samples = mixed(0, mix="cutmix", prob=1.0)
    pasted = 0
    for i, sample in enumerate(samples):
        assert sample.mix_applied == "cutmix"
        j, (y1, y2, x1, x2) = sample.mix_partner, sample.mix_box
        box = torch.zeros(H, W, dtype=torch.bool)
        box[y1:y2, x1:x2] = True
        assert box.sum().item() == pytest.approx((1 - sample.mix_lam) * H * W)
        label = sample.gt_sem_seg.data[0]
        assert torch.equal(images[i][:, box], ref_img[j][:, box]) and torch.equal(images[i][:, ~box], ref_img[i][:, ~box])
        assert torch.equal(label[box], ref_label[j, 0][box]) and torch.equal(label[~box], ref_label[i, 0][~box])
        pasted += int(j != i and box.any())
    assert pasted > 0, "seed gave no visible paste; pick another"


@pytest.mark.parametrize("lam", [0.2, 0.5, 0.9])
def test_cutmix_box_area(lam):
    torch.manual_seed(0)
    side = math.sqrt(1 - lam)
    unclipped = 0
    for _ in range(200):
        y1, y2, x1, x2 = cutmix_box(lam, H, W)
        area = (y2 - y1) * (x2 - x1)
        assert 0 <= y1 <= y2 <= H and 0 <= x1 <= x2 <= W
        assert area <= (1 - lam) * H * W + 1e-9
        if (y2 - y1, x2 - x1) == (int(H * side), int(W * side)):  # the box fits inside the image
            unclipped += 1
            assert area == pytest.approx((1 - lam) * H * W, abs=side * (H + W) + 1)  # int() of the sides
    assert unclipped > 0


def test_mixup_blends_images_and_keeps_labels(reference):
    ref_img, ref_label = reference
    images, samples = mixed(1, mix="mixup", prob=1.0, alpha=0.2)
    lam = samples[0].mix_lam
    assert 0.0 <= lam <= 1.0 and all(s.mix_lam == lam for s in samples)
    for i, sample in enumerate(samples):
        j = sample.mix_partner
        assert sample.mix_applied == "mixup" and "mix_box" not in sample
        torch.testing.assert_close(images[i], lam * ref_img[i] + (1 - lam) * ref_img[j], atol=1e-5, rtol=0)
        assert torch.equal(sample.gt_sem_seg.data, ref_label[i])
        assert torch.equal(sample.mix_partner_seg.data, ref_label[j])
    assert mixup_lam(samples) == lam


@pytest.mark.parametrize("mix", ["cutmix", "mixup"])
def test_probability_zero_never_mixes_and_one_always_does(mix):
    never, always = preprocessor(mix=mix, prob=0.0), preprocessor(mix=mix, prob=1.0)
    torch.manual_seed(0)
    for _ in range(10):
        assert {s.mix_applied for s in never(make_batch(), True)["data_samples"]} == {"none"}
        assert {s.mix_applied for s in always(make_batch(), True)["data_samples"]} == {mix}
    assert (never.batches_seen, never.batches_mixed) == (10, 0)
    assert (always.batches_seen, always.batches_mixed) == (10, 10)


def test_observed_rate_follows_prob():
    pre = preprocessor(mix="mixup", prob=0.5)
    torch.manual_seed(0)
    for _ in range(100):
        pre(make_batch(), True)
    assert 0.35 < pre.batches_mixed / pre.batches_seen < 0.65  # +-3 standard deviations


def test_no_mixing_outside_training(reference):
    out = preprocessor(mix="cutmix", prob=1.0)(make_batch(), False)
    assert torch.equal(out["inputs"], reference[0])
    assert all("mix_applied" not in s for s in out["data_samples"])


def test_unmixed_batch_drops_an_earlier_partner():
    _, samples = mixed(0, mix="mixup", prob=1.0)
    inputs = make_batch()["inputs"]
    out = preprocessor(mix="mixup", prob=0.0)(dict(inputs=inputs, data_samples=samples), True)
    for sample in out["data_samples"]:
        assert sample.mix_applied == "none" and sample.mix_lam == 1.0
        assert "mix_partner_seg" not in sample and "mix_partner" not in sample


@pytest.mark.parametrize("kwargs", [dict(mix="mosaic"), dict(mix="cutmix", prob=1.5), dict(mix="mixup", alpha=0.0)])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        preprocessor(**kwargs)


def test_one_lam_per_batch_is_required():
    _, samples = mixed(0, mix="mixup", prob=1.0)
    samples[0].set_metainfo(dict(mix_lam=samples[1].mix_lam / 2))
    with pytest.raises(ValueError, match="one MixUp lam per batch"):
        mixup_lam(samples)


# --- the segmentor ----------------------------------------------------------------------------

_AUX = dict(type="FCNHead", in_channels=64, in_index=2, channels=16, num_convs=1, concat_input=False,
            dropout_ratio=0.1, num_classes=19, norm_cfg=dict(type="BN", requires_grad=True), align_corners=False,
            loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=0.4))


def plain_and_mix_models(aux):
    """A plain EncoderDecoder and a MixLossEncoderDecoder with identical weights."""
    cfg = model_config("fcn_r18-tiny", crop_size=(H, W))
    if aux is not None:
        cfg["auxiliary_head"] = aux
    torch.manual_seed(0)
    plain = MODELS.build(copy.deepcopy(cfg))
    with quiet_mmengine():
        plain.init_weights()
    mix = MODELS.build({**copy.deepcopy(cfg), "type": "MixLossEncoderDecoder"})
    mix.load_state_dict(plain.state_dict())
    assert isinstance(mix, MixLossEncoderDecoder)
    return plain, mix


def with_labels(samples, key):
    out = []
    for sample in samples:
        copy_ = SegDataSample(metainfo=sample.metainfo)
        copy_.gt_sem_seg = sample.get(key)
        out.append(copy_)
    return out


@pytest.mark.parametrize("aux", [None, _AUX, [_AUX, _AUX]], ids=["no-aux", "aux", "aux-list"])
def test_mixup_loss_is_the_lam_weighted_sum(aux):
    plain, mix = plain_and_mix_models(aux)
    plain.eval(), mix.eval()  # no dropout: the two terms of the hand combination see the same logits
    inputs, samples = mixed(1, mix="mixup", prob=1.0)
    lam = samples[0].mix_lam
    assert 0.05 < lam < 0.95, "seed gave a degenerate lam; pick another"
    # An untrained net predicts alike for all images, so its batch loss hardly changes when
    # random label maps are permuted; a constant partner class makes the two terms differ.
    for sample in samples:
        sample.mix_partner_seg.data = torch.full_like(sample.mix_partner_seg.data, 3)
    with torch.no_grad():
        got = mix.loss(inputs, samples)
        own = plain.loss(inputs, with_labels(samples, "gt_sem_seg"))
        partner = plain.loss(inputs, with_labels(samples, "mix_partner_seg"))
    assert set(got) == set(own) and any(k.startswith("aux") for k in got) == (aux is not None)
    for key in own:
        torch.testing.assert_close(got[key], lam * own[key] + (1 - lam) * partner[key], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(own["decode.loss_ce"], partner["decode.loss_ce"])  # the partner term matters


@pytest.mark.parametrize("mix", ["none", "cutmix"])
def test_without_mixup_partners_the_loss_is_encoder_decoders(mix):
    plain, model = plain_and_mix_models(_AUX)
    prob, mode = (0.0, "cutmix") if mix == "none" else (1.0, mix)
    inputs, samples = mixed(2, mix=mode, prob=prob)
    torch.manual_seed(5)  # training mode: both draw the same dropout masks
    got = model.loss(inputs, samples)
    torch.manual_seed(5)
    want = plain.loss(inputs, samples)
    assert set(got) == set(want)
    for key in want:
        assert torch.equal(got[key], want[key]), key


@pytest.mark.parametrize("mix", ["cutmix", "mixup"])
def test_one_optimizer_step(mix):
    cfg = model_config("fcn_r18-tiny", crop_size=(32, 32))
    cfg["type"] = "MixLossEncoderDecoder"
    cfg["data_preprocessor"].update(type="MixSegDataPreProcessor", mix=mix, prob=1.0)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    with quiet_mmengine():
        model.init_weights()
    model.train()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = random_batch(size=32, batch=4)
    loss = train_step(model, optimizer, batch)
    assert math.isfinite(loss)
    assert (model.data_preprocessor.batches_seen, model.data_preprocessor.batches_mixed) == (1, 1)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
