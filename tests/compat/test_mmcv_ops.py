"""The pure-PyTorch stand-ins against independent numpy implementations of the formulas."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from prove.compat import install, mmcv_ops


def bilinear_numpy(image: np.ndarray, x: float, y: float) -> np.ndarray:
    """Sample image (C, H, W) at normalised (x, y) in [0, 1], align_corners=False, zero padding."""
    _, h, w = image.shape
    px, py = x * w - 0.5, y * h - 0.5  # pixel centres sit at i + 0.5
    x0, y0 = int(np.floor(px)), int(np.floor(py))
    out = np.zeros(image.shape[0])
    for yy, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
        for xx, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
            if 0 <= yy < h and 0 <= xx < w:
                out += wy * wx * image[:, yy, xx]
    return out


def test_point_sample_matches_bilinear_formula():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(2, 3, 5, 7))
    points = rng.uniform(-0.1, 1.1, size=(2, 11, 2))  # includes points outside the image
    got = mmcv_ops.point_sample(torch.tensor(image), torch.tensor(points)).numpy()
    assert got.shape == (2, 3, 11)
    for n in range(2):
        for p in range(11):
            expected = bilinear_numpy(image[n], *points[n, p])
            np.testing.assert_allclose(got[n, :, p], expected, rtol=1e-10, atol=1e-12)


def test_point_sample_4d_points_keep_grid_shape():
    image = torch.arange(16.0).view(1, 1, 4, 4)
    points = torch.full((1, 2, 3, 2), 0.5)
    out = mmcv_ops.point_sample(image, points)
    assert out.shape == (1, 1, 2, 3)
    np.testing.assert_allclose(out.numpy(), 7.5)  # the centre of a 4x4 ramp


def focal_numpy(logits, target, gamma, alpha, weight=None):
    """mmcv's kernel, element by element: positives and negatives of a sigmoid focal loss."""
    n, c = logits.shape
    out = np.zeros_like(logits)
    for i in range(n):
        for j in range(c):
            p = 1.0 / (1.0 + np.exp(-logits[i, j]))
            if target[i] == j:
                out[i, j] = -alpha * (1 - p) ** gamma * np.log(p)
            else:
                out[i, j] = -(1 - alpha) * p**gamma * np.log(1 - p)
            if weight is not None:
                out[i, j] *= weight[target[i]] if 0 <= target[i] < c else 0.0
    return out


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_sigmoid_focal_loss_matches_formula(reduction):
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3, size=(13, 5))
    target = rng.integers(0, 5, size=13)
    target[3] = 5  # out of range: every class is a negative, as in mmcv's kernel
    expected = focal_numpy(logits, target, gamma=2.0, alpha=0.25)
    expected = {"none": expected, "mean": expected.sum() / 13, "sum": expected.sum()}[reduction]
    got = mmcv_ops.sigmoid_focal_loss(torch.tensor(logits), torch.tensor(target), 2.0, 0.25, None, reduction)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)


def test_sigmoid_focal_loss_class_weight_and_gradient():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(6, 4))
    target = rng.integers(0, 4, size=6)
    weight = rng.uniform(0.5, 2.0, size=4)
    expected = focal_numpy(logits, target, gamma=1.5, alpha=0.4, weight=weight)
    x = torch.tensor(logits, requires_grad=True)
    got = mmcv_ops.sigmoid_focal_loss(x, torch.tensor(target), 1.5, 0.4, torch.tensor(weight), "none")
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-9)
    assert torch.autograd.gradcheck(
        lambda inp: mmcv_ops.sigmoid_focal_loss(inp, torch.tensor(target), 1.5, 0.4, None, "mean"), (x,)
    )


def test_shim_active_without_compiled_ops_and_other_ops_explain_what_to_install():
    assert not mmcv_ops.compiled_ops_available()
    assert install().mmcv_ops == "shim"
    import mmcv.ops

    assert mmcv.ops.point_sample is mmcv_ops.point_sample
    with pytest.raises(ModuleNotFoundError, match="full mmcv"):
        from mmcv.ops import RoIAlign  # noqa: F401


def test_shims_stay_out_of_the_way_when_compiled_ops_exist():
    """Simulate full mmcv (a `mmcv._ext` extension) in a fresh interpreter: mmcv's own ops load."""
    script = textwrap.dedent(
        """
        import sys, types
        ext = types.ModuleType("mmcv._ext")
        def _any(name):
            if name.startswith("__"):
                raise AttributeError(name)
            return lambda *args, **kwargs: None
        ext.__getattr__ = _any
        sys.modules["mmcv._ext"] = ext
        from prove.compat import mmcv_ops
        assert mmcv_ops.compiled_ops_available()
        assert mmcv_ops.install() == "compiled"
        import mmcv.ops
        assert not getattr(mmcv.ops, "__prove_shim__", False)
        assert mmcv.ops.point_sample.__module__ == "mmcv.ops.point_sample", mmcv.ops.point_sample.__module__
        assert mmcv.ops.sigmoid_focal_loss is not mmcv_ops.sigmoid_focal_loss
        print("compiled-path-ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "compiled-path-ok" in result.stdout


def test_compiled_ops_are_found_on_disk_without_importing_mmcv(tmp_path):
    """`prove list models` asks whether compiled ops exist; answering must not import mmcv (and
    torch with it). A package `mmcv` with a compiled `_ext` on the path is seen as full mmcv."""
    fake = tmp_path / "mmcv"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise RuntimeError('imported')\n")
    script = textwrap.dedent(
        """
        import sys
        from prove.compat import compiled_mmcv_ops_available
        before = compiled_mmcv_ops_available()
        open(sys.argv[1], "w").close()
        print(before, compiled_mmcv_ops_available(), "mmcv" in sys.modules, "torch" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", script, str(fake / "_ext.cpython-311-x86_64-linux-gnu.so")],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "True", "False", "False"]
