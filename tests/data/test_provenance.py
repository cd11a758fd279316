"""Provenance digests of splits and manifests, their file-hash cache, and MLflow logging."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pytest
from PIL import Image

from prove.data import provenance
from prove.data.manifest import COLUMNS, load_manifest
from prove.data.provenance import FileHashCache, manifest_digest, manifest_provenance, split_digest, split_provenance
from tests.data.fixtures import tiny_dataset

NAME = "tiny-provenance-test"


TinyAdapter = tiny_dataset(NAME)


def folder_of(stem: str) -> str:
    """The domain folder of a stem `<domain>-<n>`; stems starting with `x` are untagged."""
    return "none" if stem.startswith("x") else stem.split("-")[0]


def make_dataset(root: Path, stems=("clear_day-0", "clear_day-1", "foggy-2")) -> TinyAdapter:
    rng = np.random.default_rng(0)
    for stem in stems:
        for kind, shape, high in (("images", (12, 16, 3), 256), ("labels", (12, 16), 19)):
            path = root / kind / "train" / folder_of(stem) / f"{stem}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, high, shape, dtype=np.uint8)).save(path)
    return TinyAdapter(root)


def flip_pixel(path: Path) -> None:
    """Change one pixel and move mtime on, as a later edit would (mtime ticks are coarse)."""
    array = np.asarray(Image.open(path)).copy()
    array.flat[0] ^= 1
    st = path.stat()
    Image.fromarray(array).save(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PROVE_CACHE_DIR", str(tmp_path / "cache"))


def test_digest_is_stable_and_independent_of_location(tmp_path):
    adapter = make_dataset(tmp_path / "a")
    first = split_digest(adapter, "train")
    assert split_digest(adapter, "train") == first and len(first) == 64
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert split_digest(TinyAdapter(tmp_path / "b"), "train") == first  # names are relative


@pytest.mark.parametrize("kind", ["images", "labels"])
def test_one_pixel_changes_the_digest(tmp_path, kind):
    adapter = make_dataset(tmp_path / "a")
    before = split_digest(adapter, "train")
    flip_pixel(tmp_path / "a" / kind / "train" / "clear_day" / "clear_day-1.png")
    assert split_digest(adapter, "train") != before


def test_added_file_and_changed_domain_change_the_digest(tmp_path):
    before = split_digest(make_dataset(tmp_path / "a"), "train")
    assert split_digest(make_dataset(tmp_path / "b", ("clear_day-0", "clear_day-1", "foggy-2", "night-3")),
                        "train") != before
    # Same files, other domain tags (what Stage 1 selects on): a different dataset.
    renamed = make_dataset(tmp_path / "c", ("clear_day-0", "clear_day-1", "rainy-2"))
    assert split_digest(renamed, "train") != before


def test_domains_from_a_csv_enter_the_digest(tmp_path):
    make_dataset(tmp_path / "d", ("x0", "x1"))  # no tag in the name: domain comes from the CSV
    digests = []
    for domain in ("clear_day", "night"):
        table = tmp_path / f"{domain}.csv"
        table.write_text(f"image,domain\nimages/train/none/x0.png,{domain}\nimages/train/none/x1.png,clear_day\n")
        digests.append(split_digest(TinyAdapter(tmp_path / "d", domain_csv=table), "train"))
    assert digests[0] != digests[1]


def test_cache_avoids_rehashing_unchanged_files(tmp_path, monkeypatch):
    adapter = make_dataset(tmp_path / "a")
    first = split_digest(adapter, "train")
    assert (tmp_path / "cache" / "file_hashes.sqlite").is_file()

    def no_reading(path):
        raise AssertionError(f"re-hashed {path}")

    monkeypatch.setattr(provenance, "file_sha256", no_reading)
    assert split_digest(adapter, "train") == first


def test_cache_key_includes_size_and_mtime(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"aaaa")
    with FileHashCache(tmp_path / "c.sqlite") as files:
        first = files.sha256(path)
        st = path.stat()
        path.write_bytes(b"bbbb")  # same size ...
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # ... and same mtime: trusted, by design
        assert files.sha256(path) == first
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
        assert files.sha256(path) == provenance.file_sha256(path) != first


def test_unusable_cache_still_gives_the_right_digest(tmp_path):
    adapter = make_dataset(tmp_path / "a")
    expected = split_digest(adapter, "train", FileHashCache(tmp_path / "fresh.sqlite"))
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    assert split_digest(adapter, "train", FileHashCache(broken)) == expected


def test_split_and_manifest_log_to_mlflow_with_their_digest(tmp_path):
    adapter = make_dataset(tmp_path / "data")
    gen = tmp_path / "gen"
    gen.mkdir()
    Image.fromarray(np.zeros((12, 16, 3), np.uint8)).save(gen / "g0.png")
    with (gen / "cyclegan_demo.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerow({"gen_path": "g0.png", "original_path": "images/train/clear_day/clear_day-0.png", "name": "",
                         "domain": "clear_day", "dataset": NAME, "target_domain": "foggy"})
    manifest = load_manifest(gen / "cyclegan_demo.csv", {NAME: adapter})

    split = split_provenance(adapter, "train")
    assert split.name == f"{NAME}/train"
    assert split.profile["num_images"] == 3 and split.profile["domains"] == {"clear_day": 2, "foggy": 1}
    generated = manifest_provenance(manifest)
    assert generated.name == "manifest:cyclegan_demo" and generated.digest == manifest_digest(manifest)

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/m.db")
    try:
        with mlflow.start_run() as run:
            mlflow.log_input(split.to_mlflow(), context="train")
            mlflow.log_input(generated.to_mlflow(), context="train")
        logged = {d.dataset.name: d for d in mlflow.get_run(run.info.run_id).inputs.dataset_inputs}
    finally:
        mlflow.set_tracking_uri(previous)
    real = logged[f"{NAME}/train"]
    assert real.dataset.digest == split.digest[:32] == split.short_digest
    assert real.dataset.source_type == "local" and (tmp_path / "data").resolve().as_uri() in real.dataset.source
    assert split.digest in real.dataset.profile and [t.value for t in real.tags] == ["train"]
    assert logged["manifest:cyclegan_demo"].dataset.digest == manifest_digest(manifest)[:32]
