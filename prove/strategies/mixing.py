"""CutMix and MixUp for semantic segmentation: a data preprocessor and a segmentor.

Both need two images, so they act on the batch, in the model's data preprocessor, after
mmseg has normalised, padded and stacked it (`MixSegDataPreProcessor`). With probability
`prob` a batch is mixed; every sample i is paired with sample `perm[i]` of a random
permutation, and one lam ~ Beta(alpha, alpha) is drawn for the whole batch (as torchvision
and timm do). All draws use torch's global RNG, which prove's `StepSeedHook` seeds per step.

Label handling, which is where segmentation differs from classification:

- **CutMix** (Yun et al. 2019) pastes a box of area (1 - lam)·H·W of the partner's image
  into the image. The partner's label map is pasted into the label map over the SAME box:
  every pixel keeps the label of the image content it shows, so the target stays a hard
  per-pixel label and the ordinary loss is correct. (The classification recipe, mixing the
  two targets with weight lam, would tell the model that a pasted road pixel is 30 % sky.)
- **MixUp** (Zhang et al. 2018) blends the whole images, x = lam·a + (1 - lam)·b. Hard label
  maps with an ignore index cannot be blended (what is 0.7·"car" + 0.3·ignore?), so the
  labels are left alone and the partner's label map travels on the sample
  (`mix_partner_seg`). `MixLossEncoderDecoder` then optimises the standard MixUp objective
  lam·L(f(x), y_a) + (1 - lam)·L(f(x), y_b), computed from ONE forward pass. For
  cross-entropy this equals the cross-entropy against the blended one-hot target wherever
  both labels are valid, and where one is ignored only the other one counts.
  Because the whole batch shares one lam, the weighting applies to each loss as the head
  computes it (any loss type: CE, focal, Lovasz, ...), not per pixel.

Every sample records what happened in its metainfo, so a run can log the observed rate:
`mix_applied` ('cutmix' | 'mixup' | 'none'), `mix_lam` (the weight of the sample's own
image: for CutMix 1 - box area / image area after clipping, 1.0 when not mixed), and when
mixed `mix_partner` (index of the partner in the batch); CutMix also `mix_box`
(y1, y2, x1, x2).

Only `gt_sem_seg` is mixed; heads that train on other pixel maps (e.g. PIDNet's
`gt_edge_map`) are not supported by these strategies.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from prove.compat import install

install()  # mmseg must not be imported before prove's compatibility shims

from mmengine.structures import PixelData  # noqa: E402
from mmseg.models.data_preprocessor import SegDataPreProcessor  # noqa: E402
from mmseg.models.decode_heads.decode_head import BaseDecodeHead  # noqa: E402
from mmseg.models.segmentors import EncoderDecoder  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from mmseg.utils import add_prefix  # noqa: E402

MIX_MODES = ("cutmix", "mixup")
PARTNER_KEY = "mix_partner_seg"
_RECORD_KEYS = (PARTNER_KEY, "mix_partner", "mix_box")


def cutmix_box(lam: float, height: int, width: int) -> tuple[int, int, int, int]:
    """Yun et al.'s box: sides sqrt(1 - lam)·(H, W) around a uniform random centre, clipped
    to the image; returns (y1, y2, x1, x2). Area is (1 - lam)·H·W unless clipped."""
    ratio = math.sqrt(1.0 - lam)
    box_h, box_w = int(height * ratio), int(width * ratio)
    cy = int(torch.randint(height, ()).item())
    cx = int(torch.randint(width, ()).item())
    top, left = cy - box_h // 2, cx - box_w // 2
    return max(top, 0), min(top + box_h, height), max(left, 0), min(left + box_w, width)


@MODELS.register_module()
class MixSegDataPreProcessor(SegDataPreProcessor):
    """`SegDataPreProcessor` that applies CutMix or MixUp to a share of the training batches.

    Args:
        mix (str): 'cutmix' or 'mixup'.
        prob (float): Probability that a batch is mixed. Defaults to 0.5.
        alpha (float): Beta(alpha, alpha) parameter of lam. Defaults to 1.0 (uniform).
        **kwargs: Arguments of `SegDataPreProcessor` (mean, std, size, ...).

    MixUp needs `MixLossEncoderDecoder` as the model: a plain `EncoderDecoder` would train on
    the blended image against the first image's labels only. `batches_seen` and
    `batches_mixed` count training batches, for logging the observed mixing rate.
    """

    def __init__(self, *, mix: str, prob: float = 0.5, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mix not in MIX_MODES:
            raise ValueError(f"MixSegDataPreProcessor: mix must be one of {MIX_MODES}, got {mix!r}")
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"MixSegDataPreProcessor: prob must be in [0, 1], got {prob}")
        if alpha <= 0:
            raise ValueError(f"MixSegDataPreProcessor: alpha must be > 0, got {alpha}")
        self.mix, self.prob, self.alpha = mix, float(prob), float(alpha)
        self.batches_seen = 0
        self.batches_mixed = 0

    def forward(self, data: dict, training: bool = False) -> dict[str, Any]:
        data = super().forward(data, training)
        if not training:
            return data
        inputs, samples = data["inputs"], data["data_samples"]
        self.batches_seen += 1
        for sample in samples:  # a data sample fed twice must not keep an earlier partner or box
            for key in _RECORD_KEYS:
                if key in sample:
                    delattr(sample, key)
        # torch.rand is in [0, 1): prob=0 never mixes, prob=1 always does.
        if float(torch.rand(()).item()) >= self.prob:
            for sample in samples:
                sample.set_metainfo(dict(mix_applied="none", mix_lam=1.0))
            return data
        self.batches_mixed += 1
        lam = float(torch.distributions.Beta(self.alpha, self.alpha).sample().item())
        perm = torch.randperm(inputs.shape[0])
        labels = torch.stack([s.gt_sem_seg.data for s in samples])  # (N, 1, H, W)
        if self.mix == "cutmix":
            inputs, lam = self._cutmix(inputs, samples, labels, perm, lam)
        else:
            inputs = lam * inputs + (1.0 - lam) * inputs[perm.to(inputs.device)]
            for i, sample in enumerate(samples):
                sample.set_data({PARTNER_KEY: PixelData(data=labels[perm[i]].clone())})
        for i, sample in enumerate(samples):
            sample.set_metainfo(dict(mix_applied=self.mix, mix_lam=lam, mix_partner=int(perm[i])))
        return dict(inputs=inputs, data_samples=samples)

    @staticmethod
    def _cutmix(inputs: torch.Tensor, samples: Sequence[SegDataSample], labels: torch.Tensor,
                perm: torch.Tensor, lam: float) -> tuple[torch.Tensor, float]:
        height, width = inputs.shape[-2:]
        if labels.shape[-2:] != (height, width):
            raise ValueError(f"CutMix needs label maps of the image size {(height, width)}, got {tuple(labels.shape[-2:])}")
        y1, y2, x1, x2 = cutmix_box(lam, height, width)
        mixed = inputs.clone()
        mixed[..., y1:y2, x1:x2] = inputs[perm.to(inputs.device)][..., y1:y2, x1:x2]
        mixed_labels = labels.clone()
        mixed_labels[..., y1:y2, x1:x2] = labels[perm.to(labels.device)][..., y1:y2, x1:x2]
        for i, sample in enumerate(samples):
            sample.gt_sem_seg.data = mixed_labels[i]
            sample.set_metainfo(dict(mix_box=(y1, y2, x1, x2)))
        # lam after clipping: the share of each image that is still its own
        return mixed, 1.0 - (y2 - y1) * (x2 - x1) / float(height * width)


def mixup_lam(samples: Sequence[SegDataSample]) -> float | None:
    """The batch's MixUp weight, or None when no sample carries a partner label map.

    One lam per batch is required: the loss is weighted as a whole, not per pixel.
    """
    lams = {float(s.metainfo["mix_lam"]) for s in samples if PARTNER_KEY in s}
    if not lams:
        return None
    if len(lams) > 1:
        raise ValueError(f"MixLossEncoderDecoder needs one MixUp lam per batch, got {sorted(lams)}")
    return lams.pop()


def _with_partner_labels(sample: SegDataSample) -> SegDataSample:
    """A light copy of `sample` whose gt_sem_seg is its partner's (itself when unpaired)."""
    partner = SegDataSample(metainfo=sample.metainfo)
    partner.gt_sem_seg = sample.get(PARTNER_KEY, sample.gt_sem_seg)
    return partner


@MODELS.register_module()
class MixLossEncoderDecoder(EncoderDecoder):
    """`EncoderDecoder` whose training loss understands MixUp batches.

    When the data samples carry `mix_partner_seg` (set by `MixSegDataPreProcessor` with
    mix='mixup'), every loss of the decode head and the auxiliary head(s) is
    lam·loss(own labels) + (1 - lam)·loss(partner labels), from one backbone pass and, for
    heads using mmseg's standard `BaseDecodeHead.loss`, one head pass (so dropout draws one
    mask for both terms). Entries such as `acc_seg` are weighted the same way. Otherwise the
    loss is exactly `EncoderDecoder.loss`. Arguments are those of `EncoderDecoder`.
    """

    def loss(self, inputs: torch.Tensor, data_samples: list[SegDataSample]) -> dict:
        lam = mixup_lam(data_samples)
        if lam is None:
            return super().loss(inputs, data_samples)
        partners = [_with_partner_labels(s) for s in data_samples]
        x = self.extract_feat(inputs)
        losses = add_prefix(self._mixed_head_loss(self.decode_head, x, data_samples, partners, lam), "decode")
        if self.with_auxiliary_head:
            if isinstance(self.auxiliary_head, torch.nn.ModuleList):
                for idx, head in enumerate(self.auxiliary_head):
                    losses.update(add_prefix(self._mixed_head_loss(head, x, data_samples, partners, lam), f"aux_{idx}"))
            else:
                losses.update(add_prefix(self._mixed_head_loss(self.auxiliary_head, x, data_samples, partners, lam), "aux"))
        return losses

    def _mixed_head_loss(self, head, x, own: list, partners: list, lam: float) -> dict:
        if type(head).loss is BaseDecodeHead.loss:  # forward once, score against both label maps
            logits = head.forward(x)
            own_loss, partner_loss = head.loss_by_feat(logits, own), head.loss_by_feat(logits, partners)
        else:  # heads with their own training logic (e.g. Mask2Former): two full head passes
            own_loss = head.loss(x, own, self.train_cfg)
            partner_loss = head.loss(x, partners, self.train_cfg)
        return {key: lam * own_loss[key] + (1.0 - lam) * partner_loss[key] for key in own_loss}


__all__ = ["MIX_MODES", "MixLossEncoderDecoder", "MixSegDataPreProcessor", "cutmix_box", "mixup_lam"]
