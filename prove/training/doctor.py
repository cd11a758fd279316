"""`prove doctor`: what is installed, which compatibility shims are active, and whether a
model really trains here (one optimizer step on a random batch, timed)."""

from __future__ import annotations

import platform
import tempfile
import time
from pathlib import Path

import click


def _line(label: str, value: object) -> None:
    click.echo(f"  {label:<22} {value}")


def random_batch(size: int = 64, batch: int = 2, num_classes: int = 19, seed: int = 0):
    """A batch in the format mmseg's data preprocessor expects (uint8 images, label maps)."""
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=gen) for _ in range(batch)]
    samples = []
    for _ in range(batch):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, size, size), generator=gen))
        sample.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def train_step(model, optimizer, batch) -> float:
    """One optimizer step of an mmseg segmentor on `batch`; returns the total loss."""
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode="loss")
    loss = sum(v for k, v in losses.items() if "loss" in k)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def run_doctor(model_name: str) -> None:
    from importlib.metadata import version

    import torch

    from prove import __version__
    from prove.compat import install
    from prove.compat.checkpoint import load_checkpoint_file, mark_written_by_prove
    from prove.models import build_model, get_model_card, list_models
    from prove.settings import allowed_cpus, data_workers

    status = install()
    click.echo("prove doctor")
    _line("prove", __version__)
    _line("python", platform.python_version())
    _line("torch", f"{status.torch_version} (CUDA available: {torch.cuda.is_available()})")
    _line("mmsegmentation", status.mmseg_version)
    _line("mmengine", status.mmengine_version)
    _line("mmcv", status.mmcv_version)
    _line("mlflow", version("mlflow"))  # prove.tracking is the only module that imports mlflow
    _line("mmcv ops", "compiled (full mmcv)" if status.mmcv_ops == "compiled" else "prove's pure-PyTorch stand-ins")
    cpus, source = allowed_cpus()
    _line("cpus", f"{cpus} ({source}); data workers {data_workers()}")
    available = [n for n in list_models() if get_model_card(n).available]
    _line("models available", f"{len(available)}/{len(list_models())}: {', '.join(available)}")

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = build_model(model_name, crop_size=(64, 64)).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = random_batch()
    start = time.perf_counter()
    loss = train_step(model, optimizer, batch)
    _line(f"train step ({device})", f"{model_name}: loss {loss:.3f} in {time.perf_counter() - start:.2f}s")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doctor.pth"
        torch.save({"state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "meta": {"note": "numpy scalars need full unpickling", "x": __import__("numpy").float64(1)}}, path)
        mark_written_by_prove(path)
        load_checkpoint_file(path, map_location="cpu")
    _line("checkpoint resume", "ok (full load of a prove-written checkpoint on this torch)")
    click.echo("All checks passed.")
