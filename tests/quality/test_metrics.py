"""FID and KID against independent numpy computations on fixed features."""

from __future__ import annotations

import numpy as np
import pytest

from prove.errors import ProveError
from prove.quality.metrics import fid, kid


def features(seed: int, n: int = 60, d: int = 8, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = np.random.default_rng(99).normal(0, 0.5, (d, d))  # one mixing for every sample
    return rng.normal(0.0, 1.0, (n, d)) @ mix + shift


def fid_by_eigenvalues(a, b) -> float:
    """Tr((Sa Sb)^1/2) as the sum of the square roots of the eigenvalues of Sa Sb (not sqrtm)."""
    sa, sb = np.cov(a.T), np.cov(b.T)
    mu = a.mean(0) - b.mean(0)
    eig = np.linalg.eigvals(sa @ sb)
    return float(mu @ mu + np.trace(sa) + np.trace(sb) - 2 * np.sqrt(np.clip(eig.real, 0, None)).sum())


def mmd2_by_loops(x, y) -> float:
    """The unbiased MMD^2 of the cubic polynomial kernel, term by term."""
    d, m = x.shape[1], len(x)
    k = lambda u, v: (u @ v / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_fid_equals_the_eigenvalue_form_and_the_one_dimensional_closed_form():
    a, b = features(0), features(1, shift=0.7)
    assert fid(a, b) == pytest.approx(fid_by_eigenvalues(a, b), rel=1e-6)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-6)
    # 1-D Gaussians: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2
    x, y = np.array([[0.0], [2.0], [4.0]]), np.array([[1.0], [1.5], [2.0]])
    assert fid(x, y) == pytest.approx((2.0 - 1.5) ** 2 + (2.0 - 0.5) ** 2)


def test_kid_equals_the_unbiased_mmd_term_by_term():
    a, b = features(2, n=25), features(3, n=25, shift=0.5)
    mean, sd = kid(a, b, subsets=1, subset_size=25)  # one subset holding every feature
    assert mean == pytest.approx(mmd2_by_loops(a, b), rel=1e-9) and sd == 0.0
    rng = np.random.default_rng(0)  # the subsets kid draws with its seed, redrawn here
    expected = []
    for _ in range(5):
        expected.append(mmd2_by_loops(a[rng.choice(25, 10, replace=False)], b[rng.choice(25, 10, replace=False)]))
    mean, sd = kid(a, b, subsets=5, subset_size=10, seed=0)
    assert mean == pytest.approx(np.mean(expected)) and sd == pytest.approx(np.std(expected))
    same, shifted = kid(features(4), features(5), 10, 40)[0], kid(features(4), features(5, shift=1.0), 10, 40)[0]
    assert abs(same) < shifted  # two samples of one distribution: near 0, against a shifted one


def test_bad_feature_sets_are_named():
    with pytest.raises(ProveError, match="need at least 2 images on each side"):
        fid(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(ProveError, match="two N x D arrays of one D"):
        kid(np.zeros((5, 4)), np.zeros((5, 3)))
