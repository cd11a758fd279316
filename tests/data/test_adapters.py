"""The real-dataset adapters on tiny trees in each dataset's official layout."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import prove.data  # noqa: F401  (registers every adapter)
from prove.data.base import DATASETS, DatasetAdapter, Sample
from prove.errors import ProveError


def _load_fixtures():
    """tests/data/fixtures.py, by path (works under any pytest import mode)."""
    name = "prove_tests_data_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fixtures.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fx = _load_fixtures()

REAL = sorted(n for n, cls in DATASETS.items() if cls.__module__.startswith("prove.data.adapters."))
USERS_DATASETS = {"cityscapes", "acdc", "bdd10k", "iddaw", "mapillary", "outside15k"}  # docs/datasets.md


def env_var(name: str) -> str:
    """The documented root variable of a dataset: PROVE_<NAME>_ROOT."""
    return f"PROVE_{name.upper()}_ROOT"


def build(name: str, tmp_path: Path):
    root = tmp_path / name
    root.mkdir()
    tree = fx.FIXTURES[name](root)
    return tree, DATASETS.get(name)(root=root, **tree.kwargs)


def check_tree(adapter: DatasetAdapter, tree, labels: dict | None = None) -> None:
    labels = tree.labels if labels is None else labels
    assert set(adapter.splits) == set(tree.samples)
    for split, names in tree.samples.items():
        samples = adapter.samples(split)
        assert [s.name for s in samples] == names
        for s in samples:
            assert s.image == adapter.root / s.name and s.image.is_file()
            assert s.domain == tree.domains[s.name], s.name
            label = adapter.load_label(s)
            assert label.dtype == np.uint8 and label.shape == (fx.H, fx.W)
            np.testing.assert_array_equal(label, labels[s.name], err_msg=s.name)


# -- every registered real adapter ------------------------------------------------------------
def test_the_users_datasets_are_registered_and_every_adapter_has_a_fixture_tree():
    assert USERS_DATASETS <= set(REAL)
    assert set(fx.FIXTURES) == set(REAL), "every real adapter needs a builder in tests/data/fixtures.py"


@pytest.mark.parametrize("name", REAL)
def test_real_adapter_on_its_fixture_tree(name, tmp_path):
    assert name in fx.FIXTURES, f"registered dataset {name!r} has no fixture builder in tests/data/fixtures.py"
    tree, adapter = build(name, tmp_path)
    assert adapter.description
    check_tree(adapter, tree)


@pytest.mark.parametrize("name", REAL)
def test_root_from_environment_variable(name, tmp_path, monkeypatch):
    root = tmp_path / name
    root.mkdir()
    tree = fx.FIXTURES[name](root)
    monkeypatch.setenv(env_var(name), str(root))
    adapter = DATASETS.get(name)(**tree.kwargs)
    assert adapter.root == root
    split = adapter.splits[0]
    assert [s.name for s in adapter.samples(split)] == tree.samples[split]


@pytest.mark.parametrize("name", REAL)
def test_missing_root_is_a_clear_error(name, tmp_path, monkeypatch):
    monkeypatch.delenv(env_var(name), raising=False)
    cls = DATASETS.get(name)
    with pytest.raises(ProveError, match=env_var(name)):
        cls()
    with pytest.raises(ProveError, match="does not exist"):
        cls(root=tmp_path / "nowhere")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("cityscapes", r"leftImg8bit.*is missing.*gtFine/\{train,val\}"),
        ("acdc", r"rgb_anon.*is missing.*_gt_labelTrainIds"),
        ("bdd10k", r"images/10k.*is missing.*labels/sem_seg/masks"),
        ("iddaw", r"train.*is missing.*\{FOG,RAIN,LOWLIGHT,SNOW\}/rgb"),
        ("mapillary", r"training.*is missing.*\{v1\.2,v2\.0\}/labels"),
        ("outside15k", r"no \.odgt list.*fpath_img"),
    ],
)
def test_malformed_tree_names_missing_folder_and_layout(name, expected, tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    (root / "README.txt").write_text("not a dataset")
    adapter = DATASETS.get(name)(root=root)
    with pytest.raises(ProveError, match=f"(?s){expected}"):
        adapter.samples("train")


@pytest.mark.parametrize("name", REAL)
def test_unlabelled_split_is_refused(name, tmp_path):
    _, adapter = build(name, tmp_path)
    with pytest.raises(ProveError, match="no labelled split 'test'"):
        adapter.samples("test")


# -- names and aliases ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "canonical, spellings",
    [
        ("iddaw", ["iddaw", "idd-aw", "IDD-AW", "idd_aw", "IDD AW"]),
        ("bdd10k", ["bdd10k", "BDD10k", "bdd-10k", "bdd"]),
        ("mapillary", ["mapillary", "mapillary_vistas", "MapillaryVistas", "vistas", "mvd"]),
        ("outside15k", ["outside15k", "OUTSIDE15k", "outside-15k"]),
        ("cityscapes", ["Cityscapes", "CITYSCAPES"]),
        ("acdc", ["ACDC", "acdc"]),
    ],
)
def test_aliases_resolve_to_one_adapter(canonical, spellings):
    classes = {DATASETS.get(s) for s in spellings}
    assert len(classes) == 1
    assert {DATASETS.canonical(s) for s in spellings} == {canonical}
    assert classes.pop().name == canonical


# -- domains ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["cityscapes", "mapillary", "outside15k", "bdd10k"])
def test_stage_needing_domains_on_untagged_dataset_says_how_to_supply_csv(name, tmp_path):
    _, adapter = build(name, tmp_path)
    assert adapter.has_domains is False
    with pytest.raises(ProveError, match="(?s)no domain.*CSV.*image,domain.*--domain-csv"):
        adapter.samples("train", need_domains=True)


def test_domain_csv_fills_domains(tmp_path):
    tree, _ = build("cityscapes", tmp_path)
    csv = tmp_path / "domains.csv"
    rows = [f"{n},{d}" for n, d in zip(tree.samples["train"], ["night", "foggy", "clear_day"])]
    csv.write_text("image,domain\n" + "\n".join(rows) + "\n")
    adapter = DATASETS.get("cityscapes")(root=tree.root, domain_csv=csv)
    samples = adapter.samples("train", need_domains=True)
    assert [s.domain for s in samples] == ["night", "foggy", "clear_day"]
    with pytest.raises(ProveError, match="1 image"):  # val: one of two rows given
        csv.write_text(f"image,domain\n{tree.samples['val'][0]},rainy\n")
        DATASETS.get("cityscapes")(root=tree.root, domain_csv=csv).samples("val", need_domains=True)


def test_bdd_csv_fills_only_images_without_attribute_domain(tmp_path):
    tree, _ = build("bdd10k", tmp_path)
    t0, t1, t2 = tree.samples["train"]
    csv = tmp_path / "d.csv"
    csv.write_text(f"image,domain\n{t0},snowy\n{t2},rainy\n")
    adapter = DATASETS.get("bdd10k")(root=tree.root, domain_csv=csv)
    by_name = {s.name: s.domain for s in adapter.samples("train", need_domains=True)}
    assert by_name == {t0: "night", t1: "cloudy", t2: "rainy"}


def test_bdd_domain_mapping():
    from prove.data.adapters.bdd10k import bdd_domain

    assert bdd_domain("clear", "night") == "night"
    assert bdd_domain("rainy", "dawn/dusk") == "dawn_dusk"
    assert bdd_domain("foggy", "daytime") == "foggy"
    assert bdd_domain("rainy", "daytime") == "rainy"
    assert bdd_domain("snowy", "undefined") == "snowy"
    assert bdd_domain("overcast", "daytime") == "cloudy"
    assert bdd_domain("partly cloudy", "daytime") == "cloudy"
    assert bdd_domain("clear", "daytime") == "clear_day"
    assert bdd_domain("undefined", "daytime") is None
    assert bdd_domain(None, None) is None


def test_bdd_attribute_json_streams_across_chunk_boundaries(tmp_path):
    from prove.data.adapters.bdd10k import iter_json_list

    entries = [{"name": f"img{i}.jpg", "attributes": {"weather": "clear", "timeofday": "night"},
                "labels": [{"id": j, "category": "car"} for j in range(i % 4)]} for i in range(40)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(entries, indent=1))
    for chunk in (7, 64, 1 << 20):
        assert list(iter_json_list(path, chunk_size=chunk)) == entries
    path.write_text(json.dumps(entries)[:-30])
    with pytest.raises(ProveError, match="malformed JSON"):
        list(iter_json_list(path, chunk_size=64))


# -- per-dataset specifics ------------------------------------------------------------------------
def test_cityscapes_labelids_mapped_with_official_table(tmp_path):
    tree, adapter = build("cityscapes", tmp_path)
    by_name = {s.name: s for s in adapter.samples("train")}
    s = by_name["leftImg8bit/train/aachen/aachen_000001_000019_leftImg8bit.png"]
    assert s.label.name.endswith("_gtFine_labelIds.png")
    s = by_name["leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png"]
    assert s.label.name.endswith("_gtFine_labelTrainIds.png")  # preferred when both exist
    from prove.data.adapters.cityscapes import LABEL_ID_TABLE

    expected = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11,
                25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
    assert {i: int(LABEL_ID_TABLE[i]) for i in range(256) if LABEL_ID_TABLE[i] != 255} == expected


def test_missing_label_file_is_an_error(tmp_path):
    tree, adapter = build("cityscapes", tmp_path)
    for p in (tree.root / "gtFine/val/frankfurt").glob("frankfurt_000000_000294_gtFine_label*.png"):
        p.unlink()
    with pytest.raises(ProveError, match="1 image.*no label file.*frankfurt_000000_000294_gtFine_labelTrainIds"):
        adapter.samples("val")


def test_acdc_invalid_mask_and_ref_folders(tmp_path):
    tree, adapter = build("acdc", tmp_path)
    samples = adapter.samples("train")
    assert not any("_ref" in s.name for s in samples)
    s = next(x for x in samples if x.name == tree.extra["invalid_sample"])
    assert s.invalid_mask is not None and s.invalid_mask.name.endswith("_gt_invIds.png")
    label = adapter.load_label(s)
    assert (label[: fx.H // 2, : fx.W // 2] == 255).all()
    raw = adapter.load_label(Sample(s.name, s.image, s.label, s.domain, None))
    assert (raw[: fx.H // 2, : fx.W // 2] != 255).any()  # the mask, not the label, made it 255
    assert {s.domain for s in samples} == {"foggy", "night", "rainy", "snowy"}


def test_iddaw_polygon_rasterisation(tmp_path):
    from prove.data.adapters import iddaw

    payload, expected = fx.iddaw_polygons(unknown_label="spaceship")
    path = tmp_path / "000001_mask.json"
    path.write_text(json.dumps(payload))
    iddaw._WARNED.discard("spaceship")
    with pytest.warns(UserWarning, match="spaceship"):
        label = iddaw.rasterize_idd_json(path)
    np.testing.assert_array_equal(iddaw.rasterize_idd_json(path), label)  # warned once only
    np.testing.assert_array_equal(label, expected)
    assert label[12, 6] == 13  # car drawn after road, on top
    assert label[10, 25] == 255  # autorickshaw has no Cityscapes class
    assert label[0, 0] == 255  # deleted sky and unknown label not drawn


def test_iddaw_rasterised_png_wins_over_json(tmp_path):
    tree, adapter = build("iddaw", tmp_path)
    s = next(x for x in adapter.samples("val") if x.name == tree.extra["raster_sample"])
    assert s.label.name.endswith("_labelcsTrainIds.png")
    assert (s.label.parent / s.label.name.replace("_labelcsTrainIds.png", "_mask.json")).is_file()
    assert {x.domain for x in adapter.samples("train")} == {"foggy", "night"}


def test_iddaw_csTrainId_table_matches_idd_toolkit():
    from prove.data.adapters.iddaw import NAME_TO_CS_TRAIN_ID

    mapped = {n: t for n, t in NAME_TO_CS_TRAIN_ID.items() if t != 255}
    assert mapped == {
        "road": 0, "sidewalk": 1, "non-drivable fallback": 9, "person": 11, "rider": 12,
        "motorcycle": 17, "bicycle": 18, "car": 13, "truck": 14, "bus": 15, "train": 16,
        "wall": 3, "fence": 4, "traffic sign": 7, "traffic light": 6, "pole": 5, "building": 2,
        "vegetation": 8, "sky": 10,
    }
    assert len(NAME_TO_CS_TRAIN_ID) == 40


def test_mapillary_v20_mapping(tmp_path):
    tree, _ = build("mapillary", tmp_path)
    adapter = DATASETS.get("vistas")(root=tree.root, version="v2.0")
    assert adapter.version == "v2.0"
    check_tree(adapter, tree, labels=tree.extra["labels_v2.0"])


def test_mapillary_version_from_environment_and_bad_version(tmp_path, monkeypatch):
    tree, _ = build("mapillary", tmp_path)
    monkeypatch.setenv("PROVE_MAPILLARY_VERSION", "2.0")
    assert DATASETS.get("mapillary")(root=tree.root).version == "v2.0"
    with pytest.raises(ProveError, match="v1.2, v2.0"):
        DATASETS.get("mapillary")(root=tree.root, version="v3")


def test_mapillary_v12_table_is_the_standard_mapping():
    from prove.data.adapters.mapillary import V12_CLASSES, V20_CLASSES, VERSIONS

    assert len(V12_CLASSES) == 66 and len(V20_CLASSES) == 124
    assert V12_CLASSES[13] == "construction--flat--road" and V12_CLASSES[65] == "void--unlabeled"
    assert V20_CLASSES[21] == "construction--flat--road" and V20_CLASSES[123] == "void--unlabeled"
    assert V20_CLASSES[100] == "object--traffic-sign--front" and V20_CLASSES[108] == "object--vehicle--car"
    # HRDA / MIC tools/convert_datasets/mapillary.py ID_TO_TRAIN_ID, verbatim
    hrda = {13: 0, 24: 0, 41: 0, 2: 1, 15: 1, 17: 2, 6: 3, 3: 4, 45: 5, 47: 5, 48: 6, 50: 7, 30: 8,
            29: 9, 27: 10, 19: 11, 20: 12, 21: 12, 22: 12, 55: 13, 61: 14, 54: 15, 58: 16, 57: 17, 52: 18}
    table = VERSIONS["v1.2"][1]
    assert {i: int(table[i]) for i in range(256) if table[i] != 255} == hrda
    v20 = VERSIONS["v2.0"][1]
    assert sorted({int(v) for v in v20[:124]} - {255}) == list(range(19))  # every class reachable


def test_colour_label_image_is_refused(tmp_path):
    tree, adapter = build("mapillary", tmp_path)
    s = adapter.samples("val")[0]
    fx.write_image(s.label, seed=1)  # overwrite the palette PNG with an RGB image
    with pytest.raises(ProveError, match="colour image"):
        adapter.load_label(s)


def test_outside15k_list_problems(tmp_path):
    tree, adapter = build("outside15k", tmp_path)
    (tree.root / "train.odgt").write_text((tree.root / "training.odgt").read_text())
    with pytest.raises(ProveError, match="several lists"):
        adapter.samples("train")
    (tree.root / "train.odgt").unlink()
    outside = tmp_path / "elsewhere.jpg"
    fx.write_image(outside, seed=0)
    (tree.root / "validation.odgt").write_text(
        json.dumps({"fpath_img": str(outside), "fpath_segm": "a.png", "width": 32, "height": 16}) + "\n")
    with pytest.raises(ProveError, match="outside the data root"):
        adapter.samples("val")


def test_iddaw_unexpected_image_naming_is_explained(tmp_path):
    root = tmp_path / "iddaw"
    fx.write_image(root / "train/FOG/rgb/1/000001.png", seed=0)
    with pytest.raises(ProveError, match="none named \\*_rgb.png"):
        DATASETS.get("idd-aw")(root=root).samples("train")


def test_outside15k_absolute_paths_under_a_relative_root(tmp_path, monkeypatch):
    tree, _ = build("outside15k", tmp_path)
    lines = [json.loads(t) for t in (tree.root / "validation.odgt").read_text().splitlines()]
    for rec in lines:
        rec["fpath_img"] = str(tree.root / rec["fpath_img"])
        rec["fpath_segm"] = str(tree.root / rec["fpath_segm"])
    (tree.root / "validation.odgt").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    monkeypatch.chdir(tmp_path)
    adapter = DATASETS.get("outside15k")(root="outside15k")
    assert [s.name for s in adapter.samples("val")] == tree.samples["val"]
