"""Image features for KID and FID, from a pluggable extractor:

- `inception`: InceptionV3 pool features (2048-d) through torch-fidelity, the implementation
  the FID and KID literature reports (its weights are fetched on first use into torch's hub
  cache). torch-fidelity is not a dependency of prove (it needs torchvision, which pins other
  torch builds than the CPU one prove installs): `pip install torch-fidelity` where you want it.
- `<training run id>`: the encoder of a trained prove model (its last checkpoint): the last
  backbone stage, average-pooled. Works offline, and asks "does the segmenter see the
  generated fog as fog?" rather than "does an ImageNet classifier?".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from prove.errors import ProveError

INCEPTION = "inception"
BATCH = 16


@dataclass
class Extractor:
    name: str  # as logged: inception, or encoder:<run id>
    features: Callable[[list[np.ndarray]], np.ndarray]  # RGB uint8 images -> N x D


def extractor(which: str, device: str = "cpu") -> Extractor:
    which = which.strip()
    if not which:
        raise ProveError("--features is required: inception, or the run id of a finished prove training "
                         "(its encoder; works offline)")
    if which.lower() == INCEPTION:
        return _inception(device)
    return _encoder(which, device)


def _batches(images: list[np.ndarray]):
    for i in range(0, len(images), BATCH):
        yield images[i:i + BATCH]


def _inception(device: str) -> Extractor:
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError:
        raise ProveError("--features inception needs torch-fidelity (pip install torch-fidelity; it fetches the "
                         "Inception weights on first use); offline, use --features <training run id>") from None
    import torch

    try:
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"]).to(device).eval()
    except OSError as exc:  # URLError, no route: the weights could not be fetched
        raise ProveError(f"could not fetch the Inception weights ({exc}); offline, put them in torch's hub cache "
                         "or use --features <training run id>") from None

    def features(images: list[np.ndarray]) -> np.ndarray:
        out = []
        with torch.no_grad():
            for batch in _batches(images):
                x = torch.from_numpy(np.stack([_square(im, 299) for im in batch])).permute(0, 3, 1, 2).to(device)
                out.append(net(x)[0].cpu().numpy())
        return np.concatenate(out)
    return Extractor(INCEPTION, features)


def _square(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_LINEAR)


def _encoder(run_id: str, device: str, size: int = 256) -> Extractor:
    import torch

    from prove.evaluation.inference import load_model
    from prove.evaluation.run import find_training_run, select_checkpoints
    from prove.tracking import schema

    run = find_training_run(run_id, None, None)
    work_dir = run.data.tags.get(schema.WORK_DIR, "")
    config = run.data.tags.get(schema.CONFIG_FILE) or f"{work_dir}/config.py"
    ((_, checkpoint),) = select_checkpoints(work_dir, "last")
    model = load_model(config, checkpoint, device)

    def features(images: list[np.ndarray]) -> np.ndarray:
        out = []
        with torch.no_grad():
            for batch in _batches(images):
                # BGR, as prove's pipelines load images for the model's own normalisation
                inputs = [torch.from_numpy(np.ascontiguousarray(_square(im, size)[:, :, ::-1])).permute(2, 0, 1)
                          for im in batch]
                x = model.data_preprocessor(dict(inputs=inputs), False)["inputs"]
                out.append(model.extract_feat(x)[-1].mean(dim=(2, 3)).cpu().numpy())
        return np.concatenate(out)
    return Extractor(f"encoder:{run.info.run_id}", features)
