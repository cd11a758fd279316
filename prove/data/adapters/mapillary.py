"""Mapillary Vistas (research edition) in its official layout, label versions v1.2 and v2.0.

    {training,validation}/images/{key}.jpg
    {training,validation}/{v1.2,v2.0}/labels/{key}.png      (palette PNG: index = class id)

Splits are exposed as `train` (training/) and `val` (validation/). For v1.2 the older v1.1
layout `{training,validation}/labels/{key}.png` is accepted when `v1.2/labels` is absent (same
66 classes). Labels are read as the stored palette *index* (never the RGB colour) and mapped
to the 19 Cityscapes train ids by class name:

* v1.2 (66 classes) follows the standard mapping: the Mapillary -> Cityscapes table used in
  domain adaptation / generalisation work, e.g. HRDA / MIC `tools/convert_datasets/mapillary.py`
  (L. Hoyer, ETH Zurich), verbatim: road = road + lane marking (general) + manhole; sidewalk =
  sidewalk + curb; pole = pole + utility pole; rider = bicyclist + motorcyclist + other rider;
  train = on rails; traffic sign = traffic sign (front); everything else -> 255.
* v2.0 (124 classes) is prove's own table: no standard v2.0 -> Cityscapes-19 mapping was
  found, so numbers on v2.0 are comparable only with other prove runs. It carries the v1.2
  mapping over by name. Classes that v2.0 split out of a mapped v1.2 class inherit its target
  (the lane-marking subclasses of `marking--general` -> road, the traffic-light subtypes ->
  traffic light, front-facing traffic-sign subtypes -> traffic sign); `garage` -> building
  (garages are buildings in the Cityscapes class definitions). Group classes follow the
  Cityscapes group rule (cityscapesScripts `preparation/json2labelImg.py`: a label that is not
  in `helpers/labels.py` but ends in `group` is drawn as its base class, so `cargroup` -> car,
  `persongroup` -> person, `ridergroup` -> rider, `bicyclegroup` -> bicycle; `polegroup` is a
  label of its own there, trainId 255): `person-group` -> person, `vehicle-group` -> car (a
  Cityscapes `cargroup`), `pole-group` -> 255. Crosswalk zebra, sign backs, sand, snow, etc.
  stay 255 exactly as in v1.2.

Class lists: Mapillary Vistas `config_v1.2.json` / `config_v2.0.json` (label `name`s in id
order; also mmsegmentation `MapillaryDataset_v1` / `MapillaryDataset_v2`). Mapillary has no
weather tags: domains come from a user CSV.

The label version is the `version` argument, else `PROVE_MAPILLARY_VERSION`, else v1.2.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from prove.data.adapters._common import (
    labelled_samples,
    map_ids,
    read_index_png,
    require_dir,
    require_images,
    sorted_files,
)
from prove.data.base import DATASETS, DatasetAdapter, Sample
from prove.data.labels import CLASS_ID, lookup_table
from prove.errors import ProveError

# config_v1.2.json label names, index = class id (66).
V12_CLASSES: tuple[str, ...] = (
    "animal--bird", "animal--ground-animal", "construction--barrier--curb",
    "construction--barrier--fence", "construction--barrier--guard-rail",
    "construction--barrier--other-barrier", "construction--barrier--wall",
    "construction--flat--bike-lane", "construction--flat--crosswalk-plain",
    "construction--flat--curb-cut", "construction--flat--parking",
    "construction--flat--pedestrian-area", "construction--flat--rail-track",
    "construction--flat--road", "construction--flat--service-lane",
    "construction--flat--sidewalk", "construction--structure--bridge",
    "construction--structure--building", "construction--structure--tunnel", "human--person",
    "human--rider--bicyclist", "human--rider--motorcyclist", "human--rider--other-rider",
    "marking--crosswalk-zebra", "marking--general", "nature--mountain", "nature--sand",
    "nature--sky", "nature--snow", "nature--terrain", "nature--vegetation", "nature--water",
    "object--banner", "object--bench", "object--bike-rack", "object--billboard",
    "object--catch-basin", "object--cctv-camera", "object--fire-hydrant", "object--junction-box",
    "object--mailbox", "object--manhole", "object--phone-booth", "object--pothole",
    "object--street-light", "object--support--pole", "object--support--traffic-sign-frame",
    "object--support--utility-pole", "object--traffic-light", "object--traffic-sign--back",
    "object--traffic-sign--front", "object--trash-can", "object--vehicle--bicycle",
    "object--vehicle--boat", "object--vehicle--bus", "object--vehicle--car",
    "object--vehicle--caravan", "object--vehicle--motorcycle", "object--vehicle--on-rails",
    "object--vehicle--other-vehicle", "object--vehicle--trailer", "object--vehicle--truck",
    "object--vehicle--wheeled-slow", "void--car-mount", "void--ego-vehicle", "void--unlabeled",
)

# config_v2.0.json label names, index = class id (124).
V20_CLASSES: tuple[str, ...] = (
    "animal--bird", "animal--ground-animal", "construction--barrier--ambiguous",
    "construction--barrier--concrete-block", "construction--barrier--curb",
    "construction--barrier--fence", "construction--barrier--guard-rail",
    "construction--barrier--other-barrier", "construction--barrier--road-median",
    "construction--barrier--road-side", "construction--barrier--separator",
    "construction--barrier--temporary", "construction--barrier--wall",
    "construction--flat--bike-lane", "construction--flat--crosswalk-plain",
    "construction--flat--curb-cut", "construction--flat--driveway", "construction--flat--parking",
    "construction--flat--parking-aisle", "construction--flat--pedestrian-area",
    "construction--flat--rail-track", "construction--flat--road",
    "construction--flat--road-shoulder", "construction--flat--service-lane",
    "construction--flat--sidewalk", "construction--flat--traffic-island",
    "construction--structure--bridge", "construction--structure--building",
    "construction--structure--garage", "construction--structure--tunnel",
    "human--person--individual", "human--person--person-group", "human--rider--bicyclist",
    "human--rider--motorcyclist", "human--rider--other-rider", "marking--continuous--dashed",
    "marking--continuous--solid", "marking--continuous--zigzag", "marking--discrete--ambiguous",
    "marking--discrete--arrow--left", "marking--discrete--arrow--other",
    "marking--discrete--arrow--right", "marking--discrete--arrow--split-left-or-straight",
    "marking--discrete--arrow--split-right-or-straight", "marking--discrete--arrow--straight",
    "marking--discrete--crosswalk-zebra", "marking--discrete--give-way-row",
    "marking--discrete--give-way-single", "marking--discrete--hatched--chevron",
    "marking--discrete--hatched--diagonal", "marking--discrete--other-marking",
    "marking--discrete--stop-line", "marking--discrete--symbol--bicycle",
    "marking--discrete--symbol--other", "marking--discrete--text",
    "marking-only--continuous--dashed", "marking-only--discrete--crosswalk-zebra",
    "marking-only--discrete--other-marking", "marking-only--discrete--text", "nature--mountain",
    "nature--sand", "nature--sky", "nature--snow", "nature--terrain", "nature--vegetation",
    "nature--water", "object--banner", "object--bench", "object--bike-rack",
    "object--catch-basin", "object--cctv-camera", "object--fire-hydrant", "object--junction-box",
    "object--mailbox", "object--manhole", "object--parking-meter", "object--phone-booth",
    "object--pothole", "object--sign--advertisement", "object--sign--ambiguous",
    "object--sign--back", "object--sign--information", "object--sign--other",
    "object--sign--store", "object--street-light", "object--support--pole",
    "object--support--pole-group", "object--support--traffic-sign-frame",
    "object--support--utility-pole", "object--traffic-cone",
    "object--traffic-light--general-single", "object--traffic-light--pedestrians",
    "object--traffic-light--general-upright", "object--traffic-light--general-horizontal",
    "object--traffic-light--cyclists", "object--traffic-light--other",
    "object--traffic-sign--ambiguous", "object--traffic-sign--back",
    "object--traffic-sign--direction-back", "object--traffic-sign--direction-front",
    "object--traffic-sign--front", "object--traffic-sign--information-parking",
    "object--traffic-sign--temporary-back", "object--traffic-sign--temporary-front",
    "object--trash-can", "object--vehicle--bicycle", "object--vehicle--boat",
    "object--vehicle--bus", "object--vehicle--car", "object--vehicle--caravan",
    "object--vehicle--motorcycle", "object--vehicle--on-rails", "object--vehicle--other-vehicle",
    "object--vehicle--trailer", "object--vehicle--truck", "object--vehicle--vehicle-group",
    "object--vehicle--wheeled-slow", "object--water-valve", "void--car-mount", "void--dynamic",
    "void--ego-vehicle", "void--ground", "void--static", "void--unlabeled",
)

# v1.2 class name -> Cityscapes class (HRDA/MIC ID_TO_TRAIN_ID, expressed by name).
V12_TO_CITYSCAPES: dict[str, str] = {
    "construction--flat--road": "road",
    "marking--general": "road",
    "object--manhole": "road",
    "construction--barrier--curb": "sidewalk",
    "construction--flat--sidewalk": "sidewalk",
    "construction--structure--building": "building",
    "construction--barrier--wall": "wall",
    "construction--barrier--fence": "fence",
    "object--support--pole": "pole",
    "object--support--utility-pole": "pole",
    "object--traffic-light": "traffic light",
    "object--traffic-sign--front": "traffic sign",
    "nature--vegetation": "vegetation",
    "nature--terrain": "terrain",
    "nature--sky": "sky",
    "human--person": "person",
    "human--rider--bicyclist": "rider",
    "human--rider--motorcyclist": "rider",
    "human--rider--other-rider": "rider",
    "object--vehicle--car": "car",
    "object--vehicle--truck": "truck",
    "object--vehicle--bus": "bus",
    "object--vehicle--on-rails": "train",
    "object--vehicle--motorcycle": "motorcycle",
    "object--vehicle--bicycle": "bicycle",
}

# v2.0 lane-marking classes that v1.2 labelled `marking--general` (crosswalks excluded: v1.2
# had its own, unmapped `marking--crosswalk-zebra`).
_V20_GENERAL_MARKINGS = tuple(
    n for n in V20_CLASSES if n.startswith(("marking--", "marking-only--")) and "crosswalk" not in n
)

# The Cityscapes group rule (cityscapesScripts preparation/json2labelImg.py with
# helpers/labels.py): a label that is not in the table but ends in `group` is drawn as its base
# class (cargroup -> car, persongroup -> person); `polegroup` is a Cityscapes label of its own
# (trainId 255), so pole groups stay ignored.
V20_GROUPS: dict[str, str | None] = {
    "human--person--person-group": "person",  # Cityscapes persongroup -> person
    "object--vehicle--vehicle-group": "car",  # Cityscapes cargroup -> car
    "object--support--pole-group": None,  # Cityscapes polegroup: trainId 255
}

# v2.0 class name -> Cityscapes class: prove's own table, the v1.2 mapping carried over by name
# plus the group rule above (see docstring).
V20_TO_CITYSCAPES: dict[str, str] = {
    "construction--flat--road": "road",
    "object--manhole": "road",
    **{n: "road" for n in _V20_GENERAL_MARKINGS},
    "construction--barrier--curb": "sidewalk",
    "construction--flat--sidewalk": "sidewalk",
    "construction--structure--building": "building",
    "construction--structure--garage": "building",
    "construction--barrier--wall": "wall",
    "construction--barrier--fence": "fence",
    "object--support--pole": "pole",
    "object--support--utility-pole": "pole",
    "object--traffic-light--general-single": "traffic light",
    "object--traffic-light--pedestrians": "traffic light",
    "object--traffic-light--general-upright": "traffic light",
    "object--traffic-light--general-horizontal": "traffic light",
    "object--traffic-light--cyclists": "traffic light",
    "object--traffic-light--other": "traffic light",
    "object--traffic-sign--front": "traffic sign",
    "object--traffic-sign--direction-front": "traffic sign",
    "object--traffic-sign--temporary-front": "traffic sign",
    "object--traffic-sign--information-parking": "traffic sign",
    "nature--vegetation": "vegetation",
    "nature--terrain": "terrain",
    "nature--sky": "sky",
    "human--person--individual": "person",
    **{n: target for n, target in V20_GROUPS.items() if target is not None},
    "human--rider--bicyclist": "rider",
    "human--rider--motorcyclist": "rider",
    "human--rider--other-rider": "rider",
    "object--vehicle--car": "car",
    "object--vehicle--truck": "truck",
    "object--vehicle--bus": "bus",
    "object--vehicle--on-rails": "train",
    "object--vehicle--motorcycle": "motorcycle",
    "object--vehicle--bicycle": "bicycle",
}


def _table(classes: tuple[str, ...], by_name: dict[str, str]) -> np.ndarray:
    unknown = set(by_name) - set(classes)
    assert not unknown, f"mapping names not in the class list: {unknown}"
    return lookup_table({i: CLASS_ID[by_name[n]] for i, n in enumerate(classes) if n in by_name})


VERSIONS: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
    "v1.2": (V12_CLASSES, _table(V12_CLASSES, V12_TO_CITYSCAPES)),
    "v2.0": (V20_CLASSES, _table(V20_CLASSES, V20_TO_CITYSCAPES)),
}
_VERSION_SPELLINGS = {
    "v1.2": "v1.2", "1.2": "v1.2", "v12": "v1.2",
    "v2.0": "v2.0", "2.0": "v2.0", "v2": "v2.0", "v20": "v2.0", "2": "v2.0",
}
SPLIT_DIRS: dict[str, str] = {"train": "training", "val": "validation"}

LAYOUT = (
    "  {training,validation}/images/*.jpg\n"
    "  {training,validation}/{v1.2,v2.0}/labels/*.png  (palette PNG, index = class id)"
)


def normalize_version(version: str) -> str:
    key = str(version).strip().lower()
    if key not in _VERSION_SPELLINGS:
        raise ProveError(f"unknown Mapillary Vistas label version {version!r}; accepted: v1.2, v2.0")
    return _VERSION_SPELLINGS[key]


@DATASETS.declare
class MapillaryVistas(DatasetAdapter):
    name = "mapillary"
    aliases = ("mapillary_vistas", "vistas", "mvd")
    title = "Mapillary Vistas"
    domains_from = "CSV"
    splits = ("train", "val")
    has_domains = False
    description = (
        "Mapillary Vistas, v1.2 (66 classes, default) or v2.0 (124) palette labels mapped to the "
        "19 Cityscapes classes. No weather tags (domains from a CSV)."
    )

    def __init__(self, root=None, domain_csv=None, version: str | None = None):
        super().__init__(root, domain_csv)
        chosen = version if version is not None else os.environ.get("PROVE_MAPILLARY_VERSION", "v1.2")
        self.version = normalize_version(chosen)
        self.classes, self.table = VERSIONS[self.version]

    def labels_dir(self, split: str) -> Path:
        base = self.root / SPLIT_DIRS[split]
        versioned = base / self.version / "labels"
        if self.version == "v1.2" and not versioned.is_dir() and (base / "labels").is_dir():
            return base / "labels"  # v1.1-style layout, same 66 classes
        return require_dir(versioned, self.name, LAYOUT)

    def settings(self) -> dict[str, str]:
        """The options that change what a label means, for the run to log as params."""
        return {"version": self.version}

    def list_samples(self, split: str) -> list[Sample]:
        split_root = require_dir(self.root / SPLIT_DIRS[split], self.name, LAYOUT)
        images = require_dir(split_root / "images", self.name, LAYOUT)
        labels = self.labels_dir(split)
        samples = labelled_samples(self, split, ((image, labels / f"{image.stem}.png", None, None)
                                                 for image in sorted_files(images, "*.jpg")),
                                   accepted=f"{{key}}.png in {labels} (label version {self.version})")
        return require_images(samples, self.name, split, f"{images}/*.jpg", LAYOUT)

    def load_label(self, sample: Sample) -> np.ndarray:
        assert sample.label is not None
        return map_ids(read_index_png(sample.label), self.table)
