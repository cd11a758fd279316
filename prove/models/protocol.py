"""The users' training protocol: what `auto` means for a training's budget, per stage and model.

For real work (a full zoo model on a real dataset), `auto` follows the group's protocol:

| stage | iterations | batch | pretrained | checkpoints and validation |
|---|---|---|---|---|
| s1, s2 | 15,000 | 16 | the zoo's ImageNet weights where they exist | every 2,000 |
| cg | 20,000 | 16 | as above | every 2,000 |
| from scratch (pretrained false) | 40,000 | 16 | - | every 5,000 (runs of 40k and more) |
| mask2former_swin-b, any stage | 10,000 | 8, lr 4e-4 | as above | every 2,000 |

Warm-up is min(1000, max_iters // 10) and the optimizer and poly schedule are the zoo config's
(AdamW for SegFormer), with the learning rate scaled linearly with the batch size unless the
protocol names one. The tiny models and the embedded benchmark keep quick defaults (2,000
iterations, batch 8, from scratch, every max_iters // 5) so tests and the demo run on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

STUDY, QUICK = "study", "quick"
STUDY_ITERS = {"s1": 15_000, "s2": 15_000, "cg": 20_000}
FROM_SCRATCH_ITERS = 40_000
STUDY_BATCH = 16
INTERVAL, LONG_INTERVAL, LONG_RUN = 2_000, 5_000, 40_000
QUICK_ITERS, QUICK_BATCH = 2_000, 8
# model -> what it trains with instead (its memory and its own published recipe)
MODEL_PROTOCOL = {"mask2former_swin-b": dict(max_iters=10_000, batch_size=8, lr=4e-4)}


@dataclass(frozen=True)
class Protocol:
    name: str  # study | quick
    max_iters: int
    batch_size: int
    pretrained: str  # true | false
    lr: float | None  # None: the zoo's LR scaled with the batch size

    def interval(self, max_iters: int) -> int:
        """Iterations between checkpoints (and validations) of a training of `max_iters`."""
        if self.name == QUICK:
            return max(1, max_iters // 5)
        return min(max_iters, LONG_INTERVAL if max_iters >= LONG_RUN else INTERVAL)


def protocol_for(model: str, has_pretrained: bool, tiny: bool, stage: str, embedded_dataset: bool,
                 pretrained: str = "auto") -> Protocol:
    """The protocol of a training; `pretrained` is what the user asked for (auto, true, false, a path)."""
    if tiny or embedded_dataset:
        return Protocol(QUICK, QUICK_ITERS, QUICK_BATCH, "false" if pretrained == "auto" else pretrained, None)
    chosen = ("true" if has_pretrained else "false") if pretrained == "auto" else pretrained
    iters = FROM_SCRATCH_ITERS if chosen == "false" else STUDY_ITERS[stage]
    base = dict(max_iters=iters, batch_size=STUDY_BATCH, lr=None)
    return Protocol(STUDY, pretrained=chosen, **{**base, **MODEL_PROTOCOL.get(model, {})})
