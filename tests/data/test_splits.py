"""A split CSV gives a real dataset a held-out test split (image -> train/val/test)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from prove.data.base import default_test_split, open_adapter
from prove.errors import ProveError
from tests.data.fixtures import build_acdc

import tests.support  # noqa: F401  (acdc_mini)


def write_split_csv(path: Path, assignment: dict[str, str]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "split"])
        writer.writerows(sorted(assignment.items()))
    return path


@pytest.fixture
def acdc(tmp_path):
    tree = build_acdc(tmp_path / "acdc")
    return tree


def test_a_split_csv_replaces_the_dataset_splits_and_adds_a_test_split(acdc, tmp_path):
    names = [n for split in ("train", "val") for n in acdc.samples[split]]
    assignment = {name: ("test" if i % 3 == 0 else "train" if i % 3 == 1 else "val") for i, name in enumerate(names)}
    table = write_split_csv(tmp_path / "splits.csv", assignment)
    adapter = open_adapter("acdc", str(acdc.root), None, str(table))
    assert adapter.splits == ("train", "val", "test") and default_test_split(adapter.splits) == "test"
    for split in ("train", "val", "test"):
        got = [s.name for s in adapter.samples(split)]
        assert got == sorted(n for n, s in assignment.items() if s == split)
    # the images keep their domains and labels: they are the dataset's own samples
    first = adapter.samples("test")[0]
    assert first.domain == acdc.domains[first.name]
    plain = open_adapter("acdc", str(acdc.root))
    assert plain.splits == ("train", "val") and default_test_split(plain.splits) == "val"


def test_a_split_csv_naming_a_missing_image_is_a_clear_error(acdc, tmp_path):
    table = write_split_csv(tmp_path / "bad.csv", {acdc.samples["train"][0]: "train", "rgb_anon/fog/nope.png": "test"})
    adapter = open_adapter("acdc", str(acdc.root), None, str(table))
    with pytest.raises(ProveError, match=r"names 1 image\(s\) that dataset 'acdc' does not have .* 'rgb_anon/fog/nope.png'"):
        adapter.samples("test")


@pytest.mark.parametrize("content,needle", [
    ("image,fold\na.png,train\n", "must have the columns 'image,split'"),
    ("image,split\na.png,holdout\n", "split 'holdout' is not accepted; accepted: train, val, test"),
    ("image,split\na.png,train\na.png,test\n", "'a.png' is in both 'train' and 'test'"),
])
def test_bad_split_csvs_name_the_problem(tmp_path, content, needle, acdc):
    path = tmp_path / "s.csv"
    path.write_text(content)
    with pytest.raises(ProveError) as info:
        open_adapter("acdc", str(acdc.root), None, str(path))
    assert needle in str(info.value)
