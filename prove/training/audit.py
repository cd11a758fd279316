"""Pipeline audit: read back what the Runner actually built and compare it with the spec.

docs/lessons.md#1: a transform written into a config copy (`cfg.train_pipeline`) that no
dataset reads changes nothing, silently. So after MMEngine has built the training
dataloader, we inspect the transforms inside the built dataset(s), the sampler in use and the
model's data preprocessor, compare them with what the spec requires
(`expected_setup(spec)`), fail loudly on any difference, and keep the evidence as a JSON
artifact of the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prove.compat import install

install()

from mmengine.hooks import Hook  # noqa: E402

from prove.errors import ProveError  # noqa: E402
from prove.training.config import train_pipeline  # noqa: E402
from prove.training.resolve import ResolvedTraining  # noqa: E402


class PipelineAuditError(ProveError):
    """The built training setup differs from the spec."""


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def expected_setup(resolved: ResolvedTraining) -> dict:
    """What the spec requires, derived from the resolved spec itself (not read from the config,
    so a config that puts a transform in the wrong place cannot agree with itself)."""
    spec = resolved.spec
    pipeline = [_plain(t) for t in train_pipeline(resolved)]
    mix = resolved.strategy.standard.batch_mix
    return dict(
        pipelines={"real": pipeline, **({"generated": pipeline} if resolved.data.manifest else {})},
        sampler=dict(type="RealGeneratedSampler", batch_size=spec.batch_size, ratio=spec.ratio,
                     schedule=spec.ratio_schedule, split=spec.ratio_schedule_split),
        batch_size=spec.batch_size,
        data_preprocessor={"type": "MixSegDataPreProcessor", **mix} if mix else {"type": "SegDataPreProcessor"},
        model_type="MixLossEncoderDecoder" if mix else None,
    )


def _transform_record(transform: Any, expected: dict | None) -> dict:
    record: dict[str, Any] = {"type": type(transform).__name__, "verified": {}, "unverifiable": []}
    for key, want in (expected or {}).items():
        if key == "type":
            continue
        if hasattr(transform, key):
            record["verified"][key] = _plain(getattr(transform, key))
        else:
            record["unverifiable"].append(key)  # stored under another name by the transform
    return record


def observe(runner, expected: dict) -> dict:
    """What was actually built, with the values of the expected keyword arguments."""
    loader = runner.train_dataloader
    dataset = loader.dataset
    parts = {"real": getattr(dataset, "real", dataset)}
    if getattr(dataset, "generated", None) is not None:
        parts["generated"] = dataset.generated
    pipelines = {}
    for name, part in parts.items():
        built = list(part.pipeline.transforms)
        wanted = expected["pipelines"].get(name, [])
        pipelines[name] = [_transform_record(t, wanted[i] if i < len(wanted) else None) for i, t in enumerate(built)]
    sampler = loader.batch_sampler.sampler if loader.batch_sampler is not None else loader.sampler
    describe = getattr(sampler, "describe", None)
    model = runner.model.module if hasattr(runner.model, "module") else runner.model
    pre = model.data_preprocessor
    return dict(
        pipelines=pipelines,
        sampler=describe() if describe else {"type": type(sampler).__name__},
        batch_size=loader.batch_size if loader.batch_size is not None else getattr(loader.batch_sampler, "batch_size", None),
        data_preprocessor={"type": type(pre).__name__, **{k: getattr(pre, k) for k in ("mix", "prob", "alpha") if hasattr(pre, k)}},
        model_type=type(model).__name__,
    )


def compare(expected: dict, observed: dict) -> list[str]:
    problems = []
    for name, want in expected["pipelines"].items():
        got = observed["pipelines"].get(name)
        if got is None:
            problems.append(f"{name} images: the built training dataset has no {name} part")
            continue
        want_types = [t["type"] for t in want]
        got_types = [t["type"] for t in got]
        if want_types != got_types:
            missing = [t for t in want_types if t not in got_types]
            extra = [t for t in got_types if t not in want_types]
            problems.append(
                f"{name} images: built pipeline is {got_types}, spec requires {want_types}"
                + (f" (missing: {missing})" if missing else "") + (f" (unexpected: {extra})" if extra else "")
            )
            continue
        for want_t, got_t in zip(want, got):
            for key, value in got_t["verified"].items():
                if _plain(want_t[key]) != value:
                    problems.append(f"{name} images: {want_t['type']}.{key} is {value!r}, spec requires {want_t[key]!r}")
    if set(observed["pipelines"]) - set(expected["pipelines"]):
        problems.append(f"unexpected dataset parts: {sorted(set(observed['pipelines']) - set(expected['pipelines']))}")
    s_want, s_got = expected["sampler"], observed["sampler"]
    if s_got.get("type") != s_want["type"]:
        problems.append(f"sampler is {s_got.get('type')}, spec requires {s_want['type']}")
    else:
        for key in ("batch_size", "ratio", "schedule", "split"):
            if s_got.get(key) != s_want[key]:
                problems.append(f"sampler {key} is {s_got.get(key)!r}, spec requires {s_want[key]!r}")
    if observed["batch_size"] != expected["batch_size"]:
        problems.append(f"dataloader batch size is {observed['batch_size']}, spec requires {expected['batch_size']}")
    for key, value in expected["data_preprocessor"].items():
        if observed["data_preprocessor"].get(key) != value:
            problems.append(f"data preprocessor {key} is {observed['data_preprocessor'].get(key)!r}, spec requires {value!r}")
    if expected["model_type"] and observed["model_type"] != expected["model_type"]:
        problems.append(f"model is {observed['model_type']}, spec requires {expected['model_type']}")
    return problems


class PipelineAuditHook(Hook):
    """Runs the audit once the training dataloader exists, before the first step."""

    priority = "HIGHEST"

    def __init__(self, expected: dict, out_path: str):
        self.expected, self.out_path = expected, Path(out_path)
        self.report: dict | None = None

    def before_train(self, runner) -> None:
        observed = observe(runner, self.expected)
        problems = compare(self.expected, observed)
        self.report = dict(ok=not problems, problems=problems, expected=self.expected, observed=observed)
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        self.out_path.write_text(json.dumps(self.report, indent=1, default=str))
        if problems:
            raise PipelineAuditError(
                "pipeline audit failed: the training setup that was built differs from the spec:\n  - "
                + "\n  - ".join(problems) + f"\n(evidence: {self.out_path})"
            )
