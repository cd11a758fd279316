"""Checkpoint loading policy: full unpickling only for files prove wrote (or was told to trust)."""

import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from prove.cli import cli
from prove.compat import install
from prove.compat.checkpoint import is_written_by_prove, load_checkpoint_file, mark_written_by_prove, sidecar_path
from prove.errors import ProveError


def mmengine_like_checkpoint():
    # numpy scalars and arrays in `meta` / message hub are what breaks weights_only loading
    return {"state_dict": {"w": torch.ones(2)}, "meta": {"seed": np.int64(3), "hist": np.arange(3.0)}}


def test_prove_written_checkpoint_loads_fully(tmp_path):
    path = tmp_path / "iter_2.pth"
    torch.save(mmengine_like_checkpoint(), path)
    mark_written_by_prove(path)
    assert is_written_by_prove(path)
    loaded = load_checkpoint_file(path)
    assert loaded["meta"]["seed"] == 3 and torch.equal(loaded["state_dict"]["w"], torch.ones(2))


def test_plain_state_dict_of_unknown_origin_loads_weights_only(tmp_path):
    path = tmp_path / "imagenet_backbone.pth"
    torch.save({"state_dict": {"conv.weight": torch.zeros(1, 3, 3, 3)}}, path)
    assert not is_written_by_prove(path)
    assert load_checkpoint_file(path)["state_dict"]["conv.weight"].shape == (1, 3, 3, 3)


def test_foreign_pickle_is_refused_with_a_way_forward(tmp_path):
    path = tmp_path / "downloaded.pth"
    torch.save(mmengine_like_checkpoint(), path)
    with pytest.raises(ProveError) as info:
        load_checkpoint_file(path)
    assert "prove trust-checkpoint" in str(info.value) and str(path) in str(info.value)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # would create the marker file if unpickled


def test_malicious_pickle_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"state_dict": {}, "x": _Payload(str(marker))}, fh)
    with pytest.raises(ProveError):
        load_checkpoint_file(path)
    assert not marker.exists()


def test_modified_file_loses_trust(tmp_path):
    path = tmp_path / "iter_4.pth"
    torch.save(mmengine_like_checkpoint(), path)
    mark_written_by_prove(path)
    data = mmengine_like_checkpoint()
    data["meta"]["seed"] = np.int64(4)
    torch.save(data, path)
    assert not is_written_by_prove(path)
    with pytest.raises(ProveError):
        load_checkpoint_file(path)


def test_mmengine_loader_uses_the_policy(tmp_path):
    install()
    from mmengine.runner.checkpoint import _load_checkpoint

    path = tmp_path / "ckpt.pth"
    torch.save(mmengine_like_checkpoint(), path)
    with pytest.raises(ProveError):
        _load_checkpoint(str(path), map_location="cpu")
    mark_written_by_prove(path)
    assert _load_checkpoint(str(path), map_location="cpu")["meta"]["seed"] == 3


def test_trust_checkpoint_command(tmp_path):
    path = tmp_path / "old_run.pth"
    torch.save(mmengine_like_checkpoint(), path)
    result = CliRunner().invoke(cli, ["trust-checkpoint", str(path)])
    assert result.exit_code == 0, result.output
    assert sidecar_path(path).is_file()
    assert load_checkpoint_file(path)["meta"]["seed"] == 3


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint_file(tmp_path / "nope.pth")


def test_upstream_loader_fails_on_this_torch_which_is_why_the_policy_exists(tmp_path):
    import mmengine.runner.checkpoint as upstream

    path = tmp_path / "iter_2.pth"
    torch.save(mmengine_like_checkpoint(), path)
    with pytest.raises(pickle.UnpicklingError):  # weights_only=True default since torch 2.6
        upstream.load_from_local(str(path), map_location="cpu")
