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
    t0, t1, t2, t3, t4 = tree.samples["train"]
    csv = tmp_path / "d.csv"
    csv.write_text(f"image,domain\n{t0},snowy\n{t2},rainy\n{t3},night\n{t4},clear_day\n")
    adapter = DATASETS.get("bdd10k")(root=tree.root, domain_csv=csv)
    by_name = {s.name: s.domain for s in adapter.samples("train", need_domains=True)}
    assert by_name == {t0: "night", t1: "cloudy", t2: "rainy", t3: "rainy", t4: "clear_day"}


def test_bdd_domain_mapping():
    from prove.data.adapters.bdd10k import bdd_domain

    assert bdd_domain("clear", "night") == "night"
    assert bdd_domain("rainy", "dawn/dusk") == "dawn_dusk"
    assert bdd_domain("foggy", "daytime") == "foggy"
    assert bdd_domain("rainy", "daytime") == "rainy"
    assert bdd_domain("overcast", "daytime") == "cloudy"
    assert bdd_domain("partly cloudy", "daytime") == "cloudy"
    assert bdd_domain("clear", "daytime") == "clear_day"
    assert bdd_domain("undefined", "daytime") is None
    assert bdd_domain(None, None) is None


def test_bdd_undefined_timeofday_gives_no_domain():
    """timeofday `undefined` may be night: neither clear_day nor any weather domain."""
    from prove.data.adapters.bdd10k import bdd_domain

    assert bdd_domain("clear", "undefined") is None
    assert bdd_domain("snowy", "undefined") is None  # was "snowy": a snowy night is `night`
    assert bdd_domain("clear", None) is None


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


def test_acdc_counts_invalid_pixels_by_default_and_skips_ref_folders(tmp_path, monkeypatch):
    """Default = mmseg-family ACDCDataset / benchmark: `_gt_invIds.png` is not applied."""
    monkeypatch.delenv("PROVE_ACDC_INVALID_PIXELS", raising=False)
    tree, adapter = build("acdc", tmp_path)
    assert adapter.invalid_pixels == "count" and adapter.settings() == {"invalid_pixels": "count"}
    samples = adapter.samples("train")
    assert not any("_ref" in s.name for s in samples)
    assert (tree.root / "rgb_anon/fog/train_ref/GOPR0475/GOPR0475_frame_000041_rgb_ref_anon.png").is_file()
    s = next(x for x in samples if x.name == tree.extra["invalid_sample"])
    assert s.invalid_mask is None
    label = adapter.load_label(s)
    np.testing.assert_array_equal(label, tree.labels[s.name])
    assert (label[: fx.H // 2, : fx.W // 2] != 255).any()  # the invalid quarter keeps its classes
    assert {s.domain for s in samples} == {"foggy", "night", "rainy", "snowy"}


def test_acdc_ignore_invalid_pixels_option(tmp_path, monkeypatch):
    monkeypatch.delenv("PROVE_ACDC_INVALID_PIXELS", raising=False)
    tree, _ = build("acdc", tmp_path)
    adapter = DATASETS.get("acdc")(root=tree.root, invalid_pixels="ignore")
    assert adapter.invalid_pixels == "ignore" and adapter.settings() == {"invalid_pixels": "ignore"}
    check_tree(adapter, tree, labels=tree.extra["labels_ignore"])
    s = next(x for x in adapter.samples("train") if x.name == tree.extra["invalid_sample"])
    assert s.invalid_mask is not None and s.invalid_mask.name.endswith("_gt_invIds.png")
    label = adapter.load_label(s)
    assert (label[: fx.H // 2, : fx.W // 2] == 255).all()
    raw = adapter.load_label(Sample(s.name, s.image, s.label, s.domain, None))
    assert (raw[: fx.H // 2, : fx.W // 2] != 255).any()  # the mask, not the label, made it 255
    with pytest.raises(AttributeError):
        adapter.invalid_pixels = "count"  # read-only: the settings a run logged stay true
    monkeypatch.setenv("PROVE_ACDC_INVALID_PIXELS", "ignore")
    from_env = DATASETS.get("acdc")(root=tree.root)
    assert from_env.settings() == {"invalid_pixels": "ignore"}
    assert DATASETS.get("acdc")(root=tree.root, invalid_pixels="count").invalid_pixels == "count"  # keyword wins


def test_acdc_bad_invalid_pixels_value_names_it_and_the_accepted_ones(tmp_path, monkeypatch):
    monkeypatch.delenv("PROVE_ACDC_INVALID_PIXELS", raising=False)
    tree, _ = build("acdc", tmp_path)
    with pytest.raises(ProveError, match="invalid_pixels='drop'.*accepted: count, ignore"):
        DATASETS.get("acdc")(root=tree.root, invalid_pixels="drop")
    monkeypatch.setenv("PROVE_ACDC_INVALID_PIXELS", "mask")
    with pytest.raises(ProveError, match="PROVE_ACDC_INVALID_PIXELS='mask'.*accepted: count, ignore"):
        DATASETS.get("acdc")(root=tree.root)


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


# -- agreement with the official toolkits and public loaders -----------------------------------
def test_outside15k_json_array_list_as_the_authors_loader_reads_it(tmp_path):
    """carhartt21/outsideNet dataset.py reads the whole .odgt with json.load (one JSON array)."""
    tree, adapter = build("outside15k", tmp_path)
    assert json.loads((tree.root / "training.odgt").read_text())[0]["fpath_img"]  # the fixture's array form
    assert [s.name for s in adapter.samples("train")] == tree.samples["train"]
    records = [json.loads(t) for t in (tree.root / "validation.odgt").read_text().splitlines()]
    (tree.root / "validation.odgt").write_text(json.dumps(records))  # the other split as an array too
    assert [s.name for s in adapter.samples("val")] == tree.samples["val"]


def test_outside15k_malformed_lists_name_the_file_and_line(tmp_path):
    tree, adapter = build("outside15k", tmp_path)
    lst = tree.root / "validation.odgt"
    good = lst.read_text().splitlines()[0]
    lst.write_text(good + "\n{not json\n")
    with pytest.raises(ProveError, match=r"validation\.odgt:2: not a JSON object.*JSON array.*one JSON object per line"):
        adapter.samples("val")
    lst.write_text(good + "\n[1, 2]\n")
    with pytest.raises(ProveError, match=r"validation\.odgt:2: not a JSON object with 'fpath_img'"):
        adapter.samples("val")
    lst.write_text("[" + good + ",\n 17]")
    with pytest.raises(ProveError, match=r"validation\.odgt \(record 1 of the JSON array\): not a JSON object"):
        adapter.samples("val")
    lst.write_text("[" + good + ",\n")
    with pytest.raises(ProveError, match=r"validation\.odgt:2: malformed JSON array"):
        adapter.samples("val")
    record = json.loads(good)
    lst.write_text(json.dumps([{**record, "fpath_segm": "annotations/validation/nope.png"}]))
    with pytest.raises(ProveError, match=r"validation\.odgt \(record 0.*fpath_segm\) not found.*nope\.png"):
        adapter.samples("val")


def test_bdd_skips_images_without_a_mask_and_lists_them(tmp_path):
    """bdd100k issue #103: a few 10K images have no mask; re-extracting does not help."""
    tree, adapter = build("bdd10k", tmp_path)
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\) without a mask.*#103.*78ac84ba-07bd30c2\.jpg"):
        samples = adapter.samples("train")
    assert [s.name for s in samples] == tree.samples["train"]
    assert adapter.skipped("train") == tree.extra["skipped"]["train"]
    assert adapter.skipped("val") == []


def test_bdd_warning_shows_the_count_and_the_first_names(tmp_path):
    tree, adapter = build("bdd10k", tmp_path)
    for i in range(7):
        fx.write_image(tree.root / f"images/10k/val/9{i}000000-00000000.jpg", seed=i)
    with pytest.warns(UserWarning, match=r"skipped 7 image\(s\).*90000000-00000000\.jpg.*94000000-00000000\.jpg, \.\.\."):
        adapter.samples("val")
    assert len(adapter.skipped("val")) == 7


def test_bdd_split_without_any_mask_is_still_an_error(tmp_path):
    tree, adapter = build("bdd10k", tmp_path)
    for p in (tree.root / "labels/sem_seg/masks/val").glob("*.png"):
        p.unlink()
    with pytest.raises(ProveError, match=r"2 image\(s\) have no label file.*masks/val/\{name\}\.png"):
        adapter.samples("val")


def test_bdd_original_2018_layout(tmp_path):
    """bdd100k_seg.zip: bdd100k/seg/images/{split}/*.jpg + bdd100k/seg/labels/{split}/*_train_id.png."""
    root = tmp_path / "bdd2018"
    root.mkdir()
    tree = fx.build_bdd10k_2018(root)
    adapter = DATASETS.get("bdd10k")(root=root)
    check_tree(adapter, tree)
    s = adapter.samples("train")[0]
    assert s.name.startswith("bdd100k/seg/images/train/") and s.label.name.endswith("_train_id.png")
    inner = DATASETS.get("bdd10k")(root=root / "bdd100k")  # a root that is the extracted bdd100k folder
    assert [x.name for x in inner.samples("val")] == ["seg/images/val/7d2f7975-e0c1c5a7.jpg"]


def test_bdd_domains_joined_from_train_and_val_jsons_with_tagged_fraction(tmp_path, caplog):
    """bdd100k issue #132: some 10K train images are only in the 100K val JSON."""
    tree, adapter = build("bdd10k", tmp_path)
    with caplog.at_level("INFO", logger="prove.data.adapters.bdd10k"), pytest.warns(UserWarning):
        by_name = {s.name: s.domain for s in adapter.samples("train")}
    assert by_name["images/10k/train/0a0eaeaf-9ad0a6a9.jpg"] == "rainy"  # from bdd100k_labels_images_val.json
    assert by_name["images/10k/train/0a0f1cb2-cba6bab9.jpg"] is None  # clear but timeofday undefined
    assert adapter.tagged["train"] == tree.extra["tagged"]["train"]
    assert adapter.tagged_fraction("train") == pytest.approx(3 / 5)
    assert adapter.tagged_fraction("val") == pytest.approx(1 / 2)
    assert any("3 of 5 image(s) (60.0%) got a domain" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "name, remove, expected",
    [
        ("cityscapes", "leftImg8bit/val", "leftImg8bit/val"),
        ("acdc", "rgb_anon/*/val", "rgb_anon/fog/val"),
        ("bdd10k", "images/10k/val", "images/10k/val"),
        ("iddaw", "val", "val"),
        ("mapillary", "validation", "validation"),
        ("outside15k", "validation.odgt", "validation.odgt"),
    ],
)
def test_missing_split_names_the_path_it_expected(name, remove, expected, tmp_path):
    import re
    import shutil

    tree, adapter = build(name, tmp_path)
    for path in tree.root.glob(remove):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    with pytest.raises(ProveError, match=f"(?s){re.escape(str(tree.root / expected))}.*Expected layout"):
        adapter.samples("val")


def test_cityscapes_missing_label_error_says_which_label_files_are_accepted(tmp_path):
    tree, adapter = build("cityscapes", tmp_path)
    for p in (tree.root / "gtFine/val/frankfurt").glob("frankfurt_000000_000294_gtFine_label*.png"):
        p.unlink()
    with pytest.raises(ProveError, match=r"accepted label files: \*_gtFine_labelTrainIds\.png or \*_gtFine_labelIds\.png"):
        adapter.samples("val")


@pytest.mark.parametrize(
    "name, pattern, accepted",
    [
        ("acdc", "gt/fog/val/*/*_gt_label*.png", r"\*_gt_labelTrainIds\.png or \*_gt_labelIds\.png"),
        ("iddaw", "val/RAIN/gtSeg/*/*", r"\*_mask\.json or \*_labelcsTrainIds\.png"),
        ("mapillary", "validation/v1.2/labels/*.png", r"\{key\}\.png in .*v1\.2/labels"),
    ],
)
def test_missing_label_errors_say_which_label_files_are_accepted(name, pattern, accepted, tmp_path):
    tree, adapter = build(name, tmp_path)
    for p in tree.root.glob(pattern):
        p.unlink()
    with pytest.raises(ProveError, match=f"no label file.*accepted label files: {accepted}"):
        adapter.samples("val")


def test_split_folder_without_images_names_the_expected_files(tmp_path):
    tree, adapter = build("cityscapes", tmp_path)
    for p in (tree.root / "leftImg8bit/val").rglob("*.png"):
        p.unlink()
    with pytest.raises(ProveError, match=r"no images found: expected .*leftImg8bit/val/\{city\}/\*_leftImg8bit\.png"):
        adapter.samples("val")


def test_mapillary_v20_group_classes_follow_the_cityscapes_group_rule():
    """cityscapesScripts json2labelImg: an unknown `...group` label is drawn as its base class
    (cargroup -> car, persongroup -> person); `polegroup` is its own label with trainId 255."""
    from prove.data.adapters.mapillary import V20_CLASSES, VERSIONS

    table = VERSIONS["v2.0"][1]
    train_id = {n: int(table[i]) for i, n in enumerate(V20_CLASSES)}
    assert train_id["object--vehicle--vehicle-group"] == 13  # car, as Cityscapes' cargroup
    assert train_id["human--person--person-group"] == 11  # person
    assert train_id["object--support--pole-group"] == 255  # Cityscapes polegroup: ignored
    assert [n for n in V20_CLASSES if "group" in n] == [
        "human--person--person-group", "object--support--pole-group", "object--vehicle--vehicle-group"]


def test_mapillary_settings_report_the_label_version(tmp_path):
    tree, _ = build("mapillary", tmp_path)
    assert DATASETS.get("mapillary")(root=tree.root, version="2").settings() == {"version": "v2.0"}


def _pil_reference(payload: dict, values: dict[str, int], background: int = 255) -> np.ndarray:
    """An independent rendering: PIL ImageDraw.polygon on the float vertices, in file order,
    deleted objects and polygons with < 3 points skipped (AutoNUE public-code json2labelImg)."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (payload["imgWidth"], payload["imgHeight"]), background)
    draw = ImageDraw.Draw(img)
    for obj in payload["objects"]:
        if obj.get("deleted") or len(obj["polygon"]) < 3 or obj["label"] not in values:
            continue
        draw.polygon([tuple(p) for p in obj["polygon"]], fill=values[obj["label"]])
    return np.asarray(img)


def test_iddaw_rasterisation_matches_pil_on_float_vertices(tmp_path):
    from prove.data.adapters import iddaw

    payload = {"imgHeight": fx.H, "imgWidth": fx.W, "objects": [
        {"label": "road", "polygon": [[0.0, 7.6], [31.4, 8.2], [31.0, 15.9], [0.3, 15.5]], "deleted": 0},
        {"label": "car", "polygon": [[2.6, 9.4], [12.5, 9.5], [11.7, 13.6], [3.4, 13.4]]},
        {"label": "sky", "polygon": [[0.5, 0.5], [31.5, 0.5], [31.5, 6.5]], "deleted": True},
        {"label": "person", "polygon": [[14.2, 1.4], [20.5, 3.5], [16.2, 14.7]]},
        {"label": "vegetation", "polygon": [[22.5, 0.4], [30.6, 2.5], [25.4, 6.6]]},
        {"label": "pole", "polygon": [[1.5, 1.5], [4.5, 4.5]]},
    ]}
    path = tmp_path / "000001_mask.json"
    path.write_text(json.dumps(payload))
    expected = _pil_reference(payload, {"road": 0, "car": 13, "person": 11, "vegetation": 8})
    label = iddaw.rasterize_idd_json(path)
    np.testing.assert_array_equal(label, expected)
    assert (label == 11).any() and (label == 13).any() and (label == 8).any()


def test_iddaw_labels_are_matched_as_the_toolkit_matches_them(tmp_path):
    """json2labelImg: unknown labels are skipped (no case folding); `<known>group` drops the suffix."""
    from prove.data.adapters import iddaw

    assert iddaw.resolve_label_name("cargroup") == "car"
    assert iddaw.resolve_label_name("polegroup") == "polegroup"  # a label of its own
    assert iddaw.resolve_label_name("Car") is None and iddaw.resolve_label_name("vehicle_fallback") is None
    payload = {"imgHeight": fx.H, "imgWidth": fx.W, "objects": [
        {"label": "Car", "polygon": [[0, 0], [10, 0], [10, 10]]},
        {"label": "cargroup", "polygon": [[20, 0], [30, 0], [30, 10]]},
    ]}
    path = tmp_path / "x_mask.json"
    path.write_text(json.dumps(payload))
    iddaw._WARNED.discard("Car")
    with pytest.warns(UserWarning, match="Car"):
        label = iddaw.rasterize_idd_json(path)
    assert label[1, 9] == 255 and label[1, 29] == 13


def test_bdd_refuses_a_half_extracted_mask_archive(tmp_path):
    """The known gap (#103) is a few images; far more maskless images is an extraction problem."""
    tree, adapter = build("bdd10k", tmp_path)
    masks = adapter.root / "labels" / "sem_seg" / "masks" / "train"
    images = adapter.root / "images" / "10k" / "train"
    template = next(images.glob("*.jpg"))
    for i in range(30):  # 30 more images without masks
        (images / f"extra{i:02d}-0000000.jpg").write_bytes(template.read_bytes())
    assert masks.is_dir()
    with pytest.raises(ProveError, match=r"far more than the known gap .* incompletely extracted"):
        DATASETS.get("bdd10k")(adapter.root).samples("train")


def test_adapter_settings_and_skipped_images_reach_the_provenance(tmp_path):
    from prove.data.provenance import split_provenance

    tree, adapter = build("bdd10k", tmp_path)
    profile = split_provenance(adapter, "train").profile
    assert profile["skipped_images"] == 1 and profile["skipped"] == ["images/10k/train/78ac84ba-07bd30c2.jpg"]
    (tmp_path / "a").mkdir()
    _, acdc = build("acdc", tmp_path / "a")
    assert split_provenance(acdc, "train").profile["setting.invalid_pixels"] == "count"
