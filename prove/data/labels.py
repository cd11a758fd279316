"""The shared label space: the 19 Cityscapes train classes, 255 = ignore.

Every dataset is mapped into this space by its adapter; metrics and tables use these names.
"""

from __future__ import annotations

import numpy as np

IGNORE_INDEX = 255

CLASSES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
    "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
    "truck", "bus", "train", "motorcycle", "bicycle",
)
NUM_CLASSES = len(CLASSES)
CLASS_ID = {name: i for i, name in enumerate(CLASSES)}

# The Cityscapes colour palette (RGB), used for label and prediction images.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70),
    (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
)


def lookup_table(mapping: dict[int, int]) -> np.ndarray:
    """A 256-entry uint8 table: raw id -> train id, everything unmapped -> IGNORE_INDEX."""
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for raw, train in mapping.items():
        if not 0 <= raw < 256:
            raise ValueError(f"raw label id {raw} outside 0..255")
        table[raw] = train
    return table


def colorize(label: np.ndarray) -> np.ndarray:
    """Train-id map (H, W) -> RGB image (H, W, 3); ignore pixels are black."""
    colors = np.zeros((256, 3), dtype=np.uint8)
    colors[: len(PALETTE)] = PALETTE
    return colors[label]
