"""Generated-image manifests: every validation rule has its own test, and each checks that the
message names the offending CSV line and value (docs/lessons.md#4, #5)."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from prove.data.manifest import COLUMNS, load_manifest
from prove.data.provenance import manifest_digest
from prove.errors import ProveError
from tests.data.fixtures import tiny_dataset

NAME = "tiny-manifest-test"
SIZE = (32, 24)  # width, height


TinyAdapter = tiny_dataset(NAME, splits=("train", "val"), aliases=("tinymani",))


def make_dataset(root: Path, items=(("train", "clear_day", "a"), ("train", "clear_day", "b"),
                                    ("train", "foggy", "c"), ("val", "clear_day", "v"))) -> TinyAdapter:
    rng = np.random.default_rng(0)
    for split, domain, stem in items:
        for kind in ("images", "labels"):
            path = root / kind / split / domain / f"{stem}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            shape = (SIZE[1], SIZE[0], 3) if kind == "images" else (SIZE[1], SIZE[0])
            high = 256 if kind == "images" else 19
            Image.fromarray(rng.integers(0, high, shape, dtype=np.uint8)).save(path)
    return TinyAdapter(root)


def write_gen(path: Path, size=SIZE, value=100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)
    return path


def row(gen, original, target="foggy", name="", domain="clear_day", dataset=NAME):
    return {"gen_path": gen, "original_path": original, "name": name, "domain": domain,
            "dataset": dataset, "target_domain": target}


def write_csv(path: Path, rows, columns=COLUMNS) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PROVE_CACHE_DIR", str(tmp_path / "cache"))
    adapter = make_dataset(tmp_path / "data")
    gen = tmp_path / "gen"
    # Generated names deliberately do not mirror the original paths: lookup must not need it.
    write_gen(gen / "out" / "x1.png")
    write_gen(gen / "out" / "x2.png", value=50)
    return adapter, gen


def good_rows():
    return [row("out/x1.png", "images/train/clear_day/a.png"),
            row("out/x2.png", "images/train/clear_day/b.png", target="rainy", name="b_rain")]


def error_of(path, adapter, **kw) -> str:
    with pytest.raises(ProveError) as info:
        load_manifest(path, {NAME: adapter}, **kw)
    return str(info.value)


def test_valid_manifest_loads_with_labels_from_the_original(env):
    adapter, gen = env
    manifest = load_manifest(write_csv(gen / "m.csv", good_rows()), {NAME: adapter})
    assert len(manifest) == 2 and manifest.name == "manifest:m"
    first = manifest.entries[0]
    assert first.gen_image == (gen / "out" / "x1.png").resolve()
    assert first.original.name == "images/train/clear_day/a.png" and first.split == "train"
    assert (first.domain, first.target_domain, first.name, first.dataset) == ("clear_day", "foggy", "x1", NAME)
    assert manifest.entries[1].name == "b_rain"
    label = manifest.load_label(first)
    np.testing.assert_array_equal(label, np.asarray(Image.open(adapter.root / "labels/train/clear_day/a.png")))
    assert manifest.load_image(first).shape == (SIZE[1], SIZE[0], 3)
    assert not manifest.dropped.dropped and "no rows dropped" in str(manifest.dropped)


def test_dataset_spelling_is_canonicalised(env):
    adapter, gen = env
    rows = [row("out/x1.png", "images/train/clear_day/a.png", dataset="Tiny_Manifest_Test"),
            row("out/x2.png", "images/train/clear_day/b.png", dataset="TINYMANI")]
    manifest = load_manifest(write_csv(gen / "m.csv", rows), {"tiny manifest test": adapter})
    assert {e.dataset for e in manifest.entries} == {NAME}


def test_callable_adapter_source_and_its_failure(env):
    adapter, gen = env
    path = write_csv(gen / "m.csv", good_rows())
    assert len(load_manifest(path, lambda name: adapter)) == 2

    def no_root(name):
        raise ProveError(f"no data root for dataset {name!r}: pass --data-root or set PROVE_X_ROOT")

    with pytest.raises(ProveError) as info:
        load_manifest(path, no_root)
    message = str(info.value)
    assert "dataset unavailable (2 row(s))" in message and "line 2" in message and "PROVE_X_ROOT" in message


def test_missing_generated_file(env):
    adapter, gen = env
    rows = good_rows() + [row("out/nope.png", "images/train/clear_day/a.png", target="snowy")]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "generated file missing (1 row(s))" in message
    assert "line 4: 'out/nope.png'" in message and "1 of 3 row(s) invalid" in message


def test_unknown_dataset_names_value_and_accepted(env):
    adapter, gen = env
    rows = [row("out/x1.png", "images/train/clear_day/a.png", dataset="acdcc")] + good_rows()[1:]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "unknown dataset (1 row(s))" in message and "line 2: 'acdcc'" in message
    assert f"accepted datasets: {NAME}" in message


def test_original_not_found_via_adapter_samples(env):
    adapter, gen = env
    # A plausible path that string replacement would have "found"; the adapter has no such image.
    rows = [row("out/x1.png", "images/train/clear_day/zzz.png")]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "original not found in dataset (1 row(s))" in message
    assert "line 2: 'images/train/clear_day/zzz.png'" in message and "splits searched: train, val" in message


def test_original_searched_only_in_requested_splits(env):
    adapter, gen = env
    rows = [row("out/x1.png", "images/val/clear_day/v.png")]
    path = write_csv(gen / "m.csv", rows)
    assert load_manifest(path, {NAME: adapter}).entries[0].split == "val"
    message = error_of(path, adapter, splits=["train"])
    assert "images/val/clear_day/v.png" in message and "splits searched: train)" in message


def test_duplicate_gen_path(env):
    adapter, gen = env
    rows = good_rows() + [row("./out/x1.png", "images/train/clear_day/b.png", target="snowy")]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "duplicate row (1 row(s))" in message and "line 4: same gen_path as line 2" in message


def test_duplicate_original_target_name(env):
    adapter, gen = env
    write_gen(gen / "out" / "x3.png")
    rows = good_rows() + [row("out/x3.png", "images/train/clear_day/b.png", target="rainy", name="b_rain")]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "line 4: same (original_path, target_domain, name) as line 3" in message


def test_gen_path_escaping_root_with_dotdot(env, tmp_path):
    adapter, gen = env
    write_gen(tmp_path / "outside.png")
    rows = good_rows() + [row("../outside.png", "images/train/clear_day/a.png", target="night")]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "path escapes its root (1 row(s))" in message and "line 4: gen_path '../outside.png'" in message


def test_gen_path_escaping_root_through_symlink(env, tmp_path):
    adapter, gen = env
    os.symlink(write_gen(tmp_path / "elsewhere.png"), gen / "out" / "link.png")
    rows = [row("out/link.png", "images/train/clear_day/a.png")]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "line 2: gen_path 'out/link.png' resolves to" in message and "elsewhere.png" in message


def test_absolute_gen_path_and_explicit_gen_root(env, tmp_path):
    adapter, gen = env
    rows = [row(str(gen / "out" / "x1.png"), "images/train/clear_day/a.png")]
    path = write_csv(tmp_path / "m.csv", rows)  # manifest outside the images' folder
    assert len(load_manifest(path, {NAME: adapter}, gen_root=gen)) == 1
    message = error_of(path, adapter, gen_root=tmp_path / "data")  # a root that does not hold it
    assert "path escapes its root" in message and "line 2" in message


def test_original_path_escaping_dataset_root(env):
    adapter, gen = env
    rows = [row("out/x1.png", "images/../images/train/clear_day/a.png"),
            row("out/x2.png", "/etc/passwd", target="rainy")]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "path escapes its root (2 row(s))" in message
    assert "line 2: original_path 'images/../images/train/clear_day/a.png'" in message
    assert "line 3: original_path '/etc/passwd'" in message


def test_size_mismatch(env):
    adapter, gen = env
    write_gen(gen / "out" / "small.png", size=(16, 12))
    rows = good_rows() + [row("out/small.png", "images/train/clear_day/a.png", target="snowy")]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "size differs from original label (1 row(s))" in message
    assert "line 4: small.png is 16x12, label of images/train/clear_day/a.png is 32x24" in message


def test_unknown_domain_and_target_domain(env):
    adapter, gen = env
    rows = [row("out/x1.png", "images/train/clear_day/a.png", target="fog"),
            row("out/x2.png", "images/train/clear_day/b.png", domain="sunny")]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "line 2: target_domain 'fog'" in message and "line 3: domain 'sunny'" in message
    assert "accepted domains: clear_day" in message


def test_domain_disagreeing_with_dataset(env):
    adapter, gen = env
    rows = [row("out/x1.png", "images/train/foggy/c.png", domain="clear_day", target="rainy")]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "domain disagrees with dataset" in message
    assert "line 2: images/train/foggy/c.png: manifest says 'clear_day', dataset says 'foggy'" in message


def test_missing_values(env):
    adapter, gen = env
    rows = [row("", "images/train/clear_day/a.png", target="")]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "missing value (1 row(s))" in message and "line 2: empty gen_path, target_domain" in message


def test_missing_columns_and_empty_file(env):
    adapter, gen = env
    path = write_csv(gen / "m.csv", good_rows(), columns=("gen_path", "original_path", "dataset"))
    message = error_of(path, adapter)
    assert "lacks the column(s) name, domain, target_domain" in message
    assert "header but no rows" in error_of(write_csv(gen / "e.csv", []), adapter)
    assert "manifest not found" in error_of(gen / "nope.csv", adapter)


def test_all_problems_reported_together(env, tmp_path):
    adapter, gen = env
    write_gen(tmp_path / "outside.png")
    rows = good_rows() + [
        row("out/nope.png", "images/train/clear_day/a.png", target="snowy"),
        row("out/x1.png", "images/train/clear_day/a.png", target="night", dataset="bogus"),
        row("../outside.png", "images/train/clear_day/zzz.png", target="night"),
    ]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "3 of 5 row(s) invalid" in message
    for expected in ("generated file missing", "line 4", "unknown dataset", "'bogus'", "line 5",
                     "duplicate row", "path escapes its root", "line 6", "original not found"):
        assert expected in message


def test_long_lists_are_capped_but_counted(env):
    adapter, gen = env
    rows = [row(f"out/missing{i}.png", "images/train/clear_day/a.png", name=f"n{i}") for i in range(25)]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "generated file missing (25 row(s))" in message
    assert "line 11:" in message and "line 12:" not in message
    assert "... and 15 more (lines 12, 13" in message


def test_drop_invalid_reports_counts_and_reasons(env, caplog):
    adapter, gen = env
    write_gen(gen / "out" / "small.png", size=(8, 8))
    rows = good_rows() + [
        row("out/nope.png", "images/train/clear_day/a.png", target="snowy"),
        row("out/small.png", "images/train/clear_day/a.png", target="night"),
        row("out/x1.png", "images/train/clear_day/b.png", target="night"),
    ]
    with caplog.at_level(logging.WARNING):
        manifest = load_manifest(write_csv(gen / "m.csv", rows), {NAME: adapter}, drop_invalid=True)
    assert len(manifest) == 2
    report = manifest.dropped
    assert (report.total_rows, report.dropped, report.kept) == (5, 3, 2)
    assert report.counts() == {"generated file missing": 1, "duplicate row": 1, "size differs from original label": 1}
    assert report.lines["generated file missing"] == (4,)
    assert "dropped 3 of 5 row(s)" in str(report) and "dropped 3 of 5" in caplog.text


def test_drop_invalid_with_nothing_left_is_an_error(env):
    adapter, gen = env
    path = write_csv(gen / "m.csv", [row("out/nope.png", "images/train/clear_day/a.png")])
    message = error_of(path, adapter, drop_invalid=True)
    assert "no valid rows left" in message and "line 2" in message


def test_digest_tracks_generated_content(env):
    adapter, gen = env
    path = write_csv(gen / "m.csv", good_rows())
    first = manifest_digest(load_manifest(path, {NAME: adapter}))
    assert manifest_digest(load_manifest(path, {NAME: adapter})) == first and len(first) == 64
    image = np.asarray(Image.open(gen / "out" / "x1.png")).copy()
    image[0, 0, 0] ^= 1
    Image.fromarray(image).save(gen / "out" / "x1.png")
    st = os.stat(gen / "out" / "x1.png")
    os.utime(gen / "out" / "x1.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a later edit
    assert manifest_digest(load_manifest(path, {NAME: adapter})) != first


# -- the users' manifests: absolute paths, several datasets per file -------------------------------

def test_absolute_original_paths_under_the_dataset_root_are_accepted(env):
    """The users write absolute paths; one under the dataset root names the same sample."""
    adapter, gen = env
    rows = [row(str((gen / "out" / "x1.png").resolve()), str((adapter.root / "images/train/clear_day/a.png").resolve())),
            row("out/x2.png", str(adapter.root / "images" / "train" / "clear_day" / "b.png"), target="rainy")]
    manifest = load_manifest(write_csv(gen / "m.csv", rows), {NAME: adapter})
    assert [e.original.name for e in manifest.entries] == ["images/train/clear_day/a.png", "images/train/clear_day/b.png"]


def test_absolute_original_paths_outside_the_root_are_still_refused(env, tmp_path):
    adapter, gen = env
    elsewhere = make_dataset(tmp_path / "copy")  # the same layout, another root
    rows = [row("out/x1.png", str(elsewhere.root / "images/train/clear_day/a.png")),
            row("out/x2.png", str(adapter.root / "images/train/clear_day/../../val/clear_day/v.png"), target="rainy")]
    message = error_of(write_csv(gen / "m.csv", rows), adapter)
    assert "path escapes its root (2 row(s))" in message and f"not under the root of {NAME}" in message


def test_one_manifest_for_several_datasets_is_filtered_to_the_training_dataset(env, tmp_path):
    """One CSV per method covering several datasets: rows of the others are counted, not errors."""
    adapter, gen = env
    rows = [*good_rows(), row("out/x1.png", "images/train/clear_day/a.png", dataset="IDD-AW", name="other"),
            row("out/x2.png", "frames/000.png", dataset="bdd10k", name="other2"),
            row("out/x2.png", "frames/001.png", dataset="a_dataset_prove_does_not_know", name="other3")]
    path = write_csv(gen / "manifest.csv", rows)
    assert "unknown dataset" in error_of(path, adapter)  # without the filter, every row must be of `adapters`
    manifest = load_manifest(path, {NAME: adapter}, dataset="TINYMANI")
    assert len(manifest) == 2 and dict(manifest.other_rows) == {
        "IDD-AW": 1, "bdd10k": 1, "a_dataset_prove_does_not_know": 1}
    from prove.data.manifest import manifest_datasets

    assert manifest_datasets(path) == {NAME, "iddaw", "bdd10k", "a_dataset_prove_does_not_know"}
    with pytest.raises(ProveError, match="has no rows of dataset 'acdc'; its rows are of: "):
        load_manifest(path, {NAME: adapter}, dataset="acdc")


def test_generated_images_may_lie_under_the_shared_generated_root(env, tmp_path, monkeypatch):
    adapter, gen = env
    shared = tmp_path / "GENERATED_IMAGES"
    write_gen(shared / "cycleGAN" / "img" / "g.png")
    (tmp_path / "elsewhere").mkdir()
    path = write_csv(tmp_path / "elsewhere" / "m.csv",
                     [row(str(shared / "cycleGAN" / "img" / "g.png"), "images/train/clear_day/a.png")])
    assert "path escapes its root" in error_of(path, adapter)
    monkeypatch.setenv("PROVE_GENERATED_ROOT", str(shared))
    assert len(load_manifest(path, {NAME: adapter})) == 1


def test_generated_images_are_selected_by_target_domain_and_the_rest_counted(env):
    from prove.data.manifest import check_target_domains, select_target_domains, target_domain_counts

    adapter, gen = env
    write_gen(gen / "out" / "x3.png", value=20)
    rows = [*good_rows(), row("out/x3.png", "images/train/clear_day/a.png", target="night", name="a_night"),
            row("elsewhere.png", "images/x.png", target="snowy", dataset="other-dataset")]  # another dataset's row
    path = write_csv(gen / "m.csv", rows)
    assert target_domain_counts(path, NAME) == {"foggy": 1, "rainy": 1, "night": 1}
    assert target_domain_counts(path, "tinymani") == {"foggy": 1, "rainy": 1, "night": 1}  # any spelling
    manifest = load_manifest(path, {NAME: adapter}, dataset=NAME)
    kept, dropped = select_target_domains(manifest.entries, ["night", "foggy"])
    assert sorted(e.name for e in kept) == ["a_night", "x1"] and dropped == {"rainy": 1}
    assert select_target_domains(manifest.entries, None) == (manifest.entries, {})
    assert check_target_domains(path, NAME, ["night"]) == {"foggy": 1, "rainy": 1, "night": 1}
    with pytest.raises(ProveError) as info:
        check_target_domains(path, NAME, ["night", "snowy", "cloudy"])  # snowy only for another dataset
    message = str(info.value)
    assert "gen_domains names snowy, cloudy" in message and "foggy (1), night (1), rainy (1)" in message
