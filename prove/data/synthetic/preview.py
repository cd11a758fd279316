"""A picture of one layout in all seven domains plus its label, for docs and quick looks."""

from __future__ import annotations

import os

import cv2
import numpy as np

from prove.data.domains import DOMAINS
from prove.data.labels import colorize
from prove.data.synthetic.benchmark import DEFAULT_SIZE
from prove.data.synthetic.scene import build_scene
from prove.data.synthetic.weather import domain_rng, render


def domain_grid(seed: int, size: tuple[int, int] = DEFAULT_SIZE, scale: int = 2, columns: int = 4) -> np.ndarray:
    """RGB tiles of layout `seed` in every domain and its colourised label, each titled."""
    scene = build_scene(seed, size)
    tiles = [(d, render(scene, d, domain_rng(seed, d))) for d in DOMAINS] + [("label (train ids)", colorize(scene.label))]
    titled = []
    for title, img in tiles:
        big = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        bar = np.full((22, big.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, title, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        titled.append(np.concatenate([bar, big], axis=0))
    blank = np.full_like(titled[0], 255)
    while len(titled) % columns:
        titled.append(blank)
    rows = [np.concatenate(titled[i:i + columns], axis=1) for i in range(0, len(titled), columns)]
    return np.concatenate(rows, axis=0)


def save_domain_grid(path: str | os.PathLike, seed: int, size: tuple[int, int] = DEFAULT_SIZE, scale: int = 2) -> None:
    """Write `domain_grid` as a PNG."""
    cv2.imwrite(str(path), cv2.cvtColor(domain_grid(seed, size, scale), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
