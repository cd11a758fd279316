"""FID and KID between two sets of image features (N x D arrays).

- FID (Heusel et al. 2017): ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), sample
  covariances (ddof 1), the matrix square root by scipy.linalg.sqrtm (its tiny imaginary part,
  numerical noise, dropped), as pytorch-fid and torch-fidelity compute it.
- KID (Binkowski et al. 2018): the unbiased MMD^2 with the polynomial kernel
  k(x, y) = (x.y / D + 1)^3, averaged over `subsets` random subsets of `subset_size` features of
  each set (torch-fidelity's defaults: 100 subsets of 1000); reported as mean and SD over subsets.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from prove.errors import ProveError


def _check(a: np.ndarray, b: np.ndarray, minimum: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ProveError(f"features must be two N x D arrays of one D, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < minimum:
        raise ProveError(f"need at least {minimum} images on each side, got {len(a)} generated and {len(b)} real")
    return a, b


def fid(a, b) -> float:
    a, b = _check(a, b, 2)
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = linalg.sqrtm(sa @ sb)
    if not np.isfinite(root).all():  # singular product: offset the diagonals, as pytorch-fid does
        eps = np.eye(len(sa)) * 1e-6
        root = linalg.sqrtm((sa + eps) @ (sb + eps))
    return float(mu @ mu + np.trace(sa) + np.trace(sb) - 2 * np.trace(np.real(root)))


def _mmd2(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    m = len(x)
    return float((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())


def kid(a, b, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """(mean, SD) of the unbiased MMD^2 over subsets; `subset_size` is capped by the smaller set."""
    a, b = _check(a, b, 2)
    size = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    values = [_mmd2(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))
