"""The bridge from dataset adapters and manifests to MMSegmentation datasets.

- `ProveSegDataset`: an mmseg dataset whose samples come from an adapter split (real
  images) or a manifest (generated images, labelled with their originals' labels).
- `LoadDatasetLabel`: the pipeline step that loads a label through its adapter (mapping,
  polygon rasterisation and invalid masks live there, not in path tricks).
- `MixedSourceDataset`: real + generated parts behind one index; a sampler key
  `(part, index, seed)` seeds every RNG before the sample's transforms run, so augmentation
  is a function of the key: identical with any number of workers and after a resume.
"""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from prove.compat import install

install()

from mmcv.transforms import BaseTransform  # noqa: E402
from mmseg.datasets import BaseSegDataset  # noqa: E402
from mmseg.registry import DATASETS as MMSEG_DATASETS  # noqa: E402
from mmseg.registry import TRANSFORMS  # noqa: E402

from prove.data.base import DatasetAdapter, Sample, open_adapter  # noqa: E402
from prove.data.labels import CLASSES, PALETTE  # noqa: E402
from prove.errors import ProveError  # noqa: E402
from prove.settings import single_thread_in_worker  # noqa: E402

REAL, GENERATED = "real", "generated"
PACK_META_KEYS = ("img_path", "ori_shape", "img_shape", "pad_shape", "scale_factor", "flip",
                  "flip_direction", "reduce_zero_label", "domain", "source", "sample_name")


def adapter_key(adapter: DatasetAdapter) -> tuple[str, str, str]:
    return adapter.name, str(adapter.root), str(adapter.domain_csv or "")


def _sample_record(sample: Sample) -> dict[str, Any]:
    return dict(name=sample.name, image=str(sample.image), label=str(sample.label) if sample.label else None,
                domain=sample.domain, invalid_mask=str(sample.invalid_mask) if sample.invalid_mask else None)


def _sample_from_record(record: dict[str, Any]) -> Sample:
    return Sample(record["name"], Path(record["image"]), Path(record["label"]) if record["label"] else None,
                  record["domain"], Path(record["invalid_mask"]) if record["invalid_mask"] else None)


@TRANSFORMS.register_module()
class LoadDatasetLabel(BaseTransform):
    """Load the sample's label through its dataset adapter.

    Required keys: label_ref (adapter key + sample record). Added keys: gt_seg_map, seg_fields.
    """

    def transform(self, results: dict) -> dict:
        ref = results["label_ref"]
        adapter = open_adapter(*ref["adapter"])
        label = adapter.load_label(_sample_from_record(ref["sample"]))
        img_shape = results.get("ori_shape") or results["img"].shape[:2]
        if label.shape != tuple(img_shape[:2]):
            raise ProveError(
                f"label of {ref['sample']['name']} is {label.shape}, image {results.get('img_path')} is "
                f"{tuple(img_shape[:2])}: generated images must keep their original's size"
            )
        results["gt_seg_map"] = label
        results.setdefault("seg_fields", [])
        if "gt_seg_map" not in results["seg_fields"]:
            results["seg_fields"].append("gt_seg_map")
        return results


@MMSEG_DATASETS.register_module()
class ProveSegDataset(BaseSegDataset):
    """Samples of one source in mmseg's format.

    `source` is one of
    - `{"kind": "split", "dataset", "root", "domain_csv", "split_csv", "split", "domains"}` (real images;
      `domains` = None for all, else a list to keep), or
    - `{"kind": "manifest", "path", "dataset", "root", "domain_csv"}` (generated images).
    """

    METAINFO = dict(classes=CLASSES, palette=PALETTE)

    def __init__(self, source: dict, pipeline: Sequence[dict], test_mode: bool = False, **kwargs):
        self.source = dict(source)
        super().__init__(pipeline=list(pipeline), test_mode=test_mode, lazy_init=False, **kwargs)

    def prepare_data(self, idx):
        single_thread_in_worker()  # N loader workers use N cores (prove.settings)
        return super().prepare_data(idx)

    def _serialize_data(self) -> tuple[np.ndarray, np.ndarray]:
        """mmengine's serialisation (one byte buffer the loader workers share) without its
        `gc.collect()`: the cleared list's dicts are freed by reference counting anyway, and a
        full collection walks every object of the process (torch, mmseg, MLflow), 0.4-1.3 s per
        dataset built: a training and its tests build several."""
        buffers = [np.frombuffer(pickle.dumps(info, protocol=4), dtype=np.uint8) for info in self.data_list]
        address = np.cumsum(np.asarray([len(b) for b in buffers], dtype=np.int64))
        data = np.concatenate(buffers) if buffers else np.zeros(0, dtype=np.uint8)
        self.data_list.clear()
        return data, address

    def load_data_list(self) -> list[dict]:
        kind = self.source["kind"]
        adapter = open_adapter(self.source["dataset"], self.source.get("root"), self.source.get("domain_csv"),
                               self.source.get("split_csv") or None)
        key = adapter_key(adapter)
        if kind == "split":
            return self._from_split(adapter, key)
        if kind == "manifest":
            return self._from_manifest(adapter, key)
        raise ValueError(f"unknown source kind {kind!r}")

    def _from_split(self, adapter: DatasetAdapter, key) -> list[dict]:
        domains = self.source.get("domains")
        samples = adapter.samples(self.source["split"], need_domains=domains is not None)
        if domains is not None:
            samples = [s for s in samples if s.domain in domains]
            if not samples:
                raise ProveError(
                    f"dataset {adapter.name!r} split {self.source['split']!r} has no images in domain(s) "
                    f"{', '.join(domains)}"
                )
        return [self._info(s.image, s, key, s.domain, REAL) for s in samples]

    def _from_manifest(self, adapter: DatasetAdapter, key) -> list[dict]:
        from prove.data.manifest import load_manifest, select_target_domains

        # one manifest may cover several datasets (the users keep one per method): rows of this one
        manifest = load_manifest(self.source["path"], {adapter.name: adapter}, splits=("train",), dataset=adapter.name)
        entries, _ = select_target_domains(manifest.entries, self.source.get("target_domains"))  # --gen-domains
        return [self._info(e.gen_image, e.original, key, e.target_domain, GENERATED) for e in entries]

    @staticmethod
    def _info(image: Path, labelled_by: Sample, key, domain: str | None, source: str) -> dict:
        return dict(
            img_path=str(image), seg_map_path=None, label_map=None, reduce_zero_label=False, seg_fields=[],
            label_ref=dict(adapter=key, sample=_sample_record(labelled_by)),
            domain=domain or "unknown", source=source, sample_name=labelled_by.name,
        )


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch's CPU generator (and CUDA's where it is in use).

    `torch.manual_seed` also seeds every lazily-initialised accelerator backend, ~1 ms per call;
    called per sample that cost several percent of CPU training throughput (bench/train_overhead.py).
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(seed)


@MMSEG_DATASETS.register_module()
class MixedSourceDataset(torch.utils.data.Dataset):
    """Real (and optionally generated) `ProveSegDataset`s behind keys `(part, index, seed)`."""

    def __init__(self, real: dict, generated: dict | None = None):
        self.real = MMSEG_DATASETS.build(real)
        self.generated = MMSEG_DATASETS.build(generated) if generated else None
        self.parts = [self.real] + ([self.generated] if self.generated is not None else [])

    @property
    def metainfo(self) -> dict:
        return self.real.metainfo

    @property
    def num_real(self) -> int:
        return len(self.real)

    @property
    def num_generated(self) -> int:
        return len(self.generated) if self.generated is not None else 0

    def full_init(self) -> None:
        for part in self.parts:
            part.full_init()

    def __len__(self) -> int:
        return self.num_real + self.num_generated

    def __getitem__(self, key):
        if isinstance(key, (tuple, list)):
            part, index, seed = key
            seed_everything(int(seed))
            return self.parts[part][index]
        index = int(key)
        return self.real[index] if index < self.num_real else self.parts[1][index - self.num_real]
