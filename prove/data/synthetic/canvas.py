"""Pinhole camera and the intrinsic layers a street scene is painted into.

The world is in metres: X to the right, Y up, Z forward, the camera at the origin looking
along +Z, `Camera.elevation` metres above a flat road (Y = 0). Objects are described in
metres and projected, so their size falls off as 1/Z and every painted pixel knows its
depth: the same geometry later drives fog, shadows, lamps and rain occlusion.

Painting is deferred: each polygon gets a *material* (class, colour, normal, depth, ...)
and only its id is rasterised (one cv2.fillPoly into an id map, which is what keeps a few
hundred objects per scene cheap). Per-pixel refinements (windows on a facade, the rounded
normals of a tree crown) are recorded as *details* of one material and only applied where
that material is still visible at the end. `resolve()` then gathers every layer at once,
so the layers can never disagree with the label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from prove.data.labels import CLASS_ID

SKY_DEPTH = 1000.0  # metres; "infinitely" far, so fog turns the sky fully into airlight
NEAR = 0.5  # metres; nothing is projected closer, which keeps pixel coordinates bounded
FRONT = (0.0, 0.0, -1.0)  # normal of a surface facing the camera
UP = (0.0, 1.0, 0.0)
_SHIFT = 4  # fractional bits for cv2.fillPoly: far, thin objects keep sub-pixel placement
_SKY = CLASS_ID["sky"]


@dataclass(frozen=True)
class Camera:
    """Intrinsics and height of the (level, forward-looking) camera."""

    width: int
    height: int
    focal: float  # pixels
    cx: float  # column of the vanishing point
    horizon: float  # row of the horizon
    elevation: float  # metres above the road

    def project(self, X, Y, Z) -> np.ndarray:
        """World points (metres, broadcastable) -> pixel coordinates, shape (..., 2)."""
        X, Y, Z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (X, Y, Z)))
        Z = np.maximum(Z, NEAR)
        return np.stack(
            [self.cx + self.focal * X / Z, self.horizon + self.focal * (self.elevation - Y) / Z], axis=-1
        )

    def pixel_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(xs, ys): float32 maps of pixel-centre coordinates."""
        xs = np.arange(self.width, dtype=np.float32) + 0.5
        ys = np.arange(self.height, dtype=np.float32) + 0.5
        return np.broadcast_to(xs, (self.height, self.width)), np.broadcast_to(ys[:, None], (self.height, self.width))

    def world(self, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World X, Y, Z of every pixel from its Z-depth map."""
        xs, ys = self.pixel_centres()
        Z = depth.astype(np.float32)
        return (xs - self.cx) * Z / self.focal, self.elevation - (ys - self.horizon) * Z / self.focal, Z

    def ray_directions(self) -> np.ndarray:
        """Unit viewing direction of every pixel, (H, W, 3)."""
        xs, ys = self.pixel_centres()
        d = np.stack([(xs - self.cx) / self.focal, (self.horizon - ys) / self.focal, np.ones_like(xs)], axis=-1)
        return d / np.linalg.norm(d, axis=-1, keepdims=True)


class Painted(NamedTuple):
    """Pixels a material was rasterised to: rows, columns, their depth, the material id."""

    ys: np.ndarray
    xs: np.ndarray
    depth: np.ndarray
    mid: int


@dataclass
class Layers:
    """The resolved intrinsic layers of a scene, all (H, W) or (H, W, 3)."""

    label: np.ndarray  # uint8 train ids
    albedo: np.ndarray  # linear reflectance
    normal: np.ndarray  # zero on the sky
    depth: np.ndarray  # Z-depth, metres
    snow: np.ndarray  # how much snow the surface holds (0..1)
    wet: np.ndarray  # how strongly a wet surface mirrors (0..1)
    glass: np.ndarray  # window glass: mirrors the sky by day
    lit: np.ndarray  # window lit from inside at night
    ao: np.ndarray  # ambient occlusion (contact shadows)
    emissive: np.ndarray  # lamps and car lights (switched on at night)
    signal: np.ndarray  # traffic-light lamps, always on


_SCALARS = ("depth", "plane_x", "snow", "wet", "glass", "lit", "ao")
_VECTORS = ("albedo", "normal", "emissive", "signal")


class Canvas:
    """A scene being painted far to near, as an id map over a table of materials."""

    def __init__(self, camera: Camera):
        self.cam = camera
        self.ids = np.zeros((camera.height, camera.width), np.int32)
        self._cols: dict[str, list] = {k: [] for k in ("cls",) + _SCALARS + _VECTORS}  # one entry per material
        self._details: list[tuple[np.ndarray, np.ndarray, np.ndarray, dict]] = []
        self.ground_mid = -1  # material of the road plane, set by the scene builder
        self.material(_SKY, (0.0, 0.0, 0.0), depth=SKY_DEPTH, normal=(0.0, 0.0, 0.0))  # id 0

    # -- materials ------------------------------------------------------------------------
    def material(self, cls: int, color, *, depth: float | None = None, plane_x: float | None = None,
                 normal=FRONT, snow: float = 0.0, wet: float = 0.0, glass: float = 0.0,
                 emissive=(0.0, 0.0, 0.0), signal=(0.0, 0.0, 0.0)) -> int:
        """Register a surface; its depth is constant (`depth`, facing the camera) or that of
        the plane X = `plane_x` (facades and vehicle sides along the street), solved per pixel
        so fog and light fall-off vary correctly along a long facade."""
        row = dict(cls=cls, albedo=color, normal=normal, depth=SKY_DEPTH if depth is None else depth,
                   plane_x=np.nan if plane_x is None else plane_x, snow=snow, wet=wet, glass=glass, lit=0.0,
                   ao=1.0, emissive=emissive, signal=signal)
        for k, v in row.items():
            self._cols[k].append(v)
        return len(self._cols["cls"]) - 1

    def paint(self, poly, cls: int, color, **surface) -> int:
        """Fill a polygon (pixel coordinates) with a new material; returns its id."""
        mid = self.material(cls, color, **surface)
        pts = np.clip(np.asarray(poly, dtype=np.float64).reshape(-1, 2), -1e5, 1e5)
        # fillPoly samples integer coordinates; shifting by half a pixel samples pixel centres
        fixed = np.round((pts - 0.5) * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(self.ids, [fixed], mid, lineType=cv2.LINE_8, shift=_SHIFT)
        return mid

    def paint_pixels(self, poly, cls: int, color, **surface) -> Painted | None:
        """Like `paint`, but also return the pixels, for per-pixel details."""
        where = self.region(poly)
        if where is None:
            return None
        mid = self.material(cls, color, **surface)
        ys, xs = where
        self.ids[ys, xs] = mid
        return Painted(ys, xs, self.pixel_depth(mid, xs), mid)

    def assign(self, ys: np.ndarray, xs: np.ndarray, cls: int, color, **surface) -> Painted:
        """A new material on an explicit set of pixels (see-through fences, the ground)."""
        mid = self.material(cls, color, **surface)
        self.ids[ys, xs] = mid
        return Painted(ys, xs, self.pixel_depth(mid, xs), mid)

    def detail(self, painted: Painted, **layers) -> None:
        """Per-pixel values of some layers for a material's pixels; applied at `resolve`
        only where the material has not been painted over since."""
        self._details.append((painted.ys, painted.xs, painted.mid, layers))

    def detail_under(self, ys: np.ndarray, xs: np.ndarray, **layers) -> None:
        """Per-pixel values for whatever is visible now at these pixels (contact shadows)."""
        self._details.append((ys, xs, self.ids[ys, xs].copy(), layers))

    def pixel_depth(self, mid: int, xs: np.ndarray) -> np.ndarray:
        plane_x = self._cols["plane_x"][mid]
        if np.isnan(plane_x):
            return np.full(xs.shape, self._cols["depth"][mid], np.float32)
        return self._plane_depth(plane_x, xs)

    def _plane_depth(self, plane_x, xs) -> np.ndarray:
        dx = xs.astype(np.float32) + 0.5 - self.cam.cx
        dx = np.where(np.abs(dx) < 1e-3, 1e-3, dx)
        d = np.where(np.sign(dx) == np.sign(plane_x), self.cam.focal * plane_x / dx, SKY_DEPTH)
        return np.clip(d, NEAR, SKY_DEPTH).astype(np.float32)

    def region(self, poly) -> tuple[np.ndarray, np.ndarray] | None:
        """Indices of the pixels whose centre lies inside `poly` (pixel coordinates)."""
        pts = np.clip(np.asarray(poly, dtype=np.float64).reshape(-1, 2), -1e5, 1e5)
        h, w = self.ids.shape
        x0, x1 = max(int(np.floor(pts[:, 0].min())), 0), min(int(np.ceil(pts[:, 0].max())) + 1, w)
        y0, y1 = max(int(np.floor(pts[:, 1].min())), 0), min(int(np.ceil(pts[:, 1].max())) + 1, h)
        if x0 >= x1 or y0 >= y1:
            return None
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        fixed = np.round((pts - (x0 + 0.5, y0 + 0.5)) * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(mask, [fixed], 1, lineType=cv2.LINE_8, shift=_SHIFT)
        ys, xs = np.nonzero(mask)
        if ys.size == 0:
            return None
        return ys + y0, xs + x0

    # -- resolving ------------------------------------------------------------------------
    def resolve(self) -> Layers:
        """Gather every layer from the id map, then apply surviving details in order."""
        table = {k: np.array(self._cols[k], np.float32) for k in _SCALARS + _VECTORS}
        cls = np.array(self._cols["cls"], np.uint8)
        ids = self.ids
        out = {k: table[k][ids] for k in _SCALARS + _VECTORS}
        out["label"] = cls[ids]
        planar = ~np.isnan(out["plane_x"])
        if planar.any():
            ys, xs = np.nonzero(planar)
            out["depth"][ys, xs] = self._plane_depth(out["plane_x"][ys, xs], xs)
        for ys, xs, expect, layers in self._details:
            keep = ids[ys, xs] == expect
            if not keep.any():
                continue
            ky, kx = ys[keep], xs[keep]
            for name, values in layers.items():
                v = np.asarray(values)  # a scalar, or one value per detail pixel
                out[name][ky, kx] = v if v.ndim == 0 else v[keep]
        del out["plane_x"]
        return Layers(**out)

    # -- geometry helpers -----------------------------------------------------------------
    def zpoly(self, Z: float, pts) -> np.ndarray:
        """A polygon given as (X, Y) metres on the plane at depth Z, in pixels."""
        p = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        s = self.cam.focal / max(Z, NEAR)
        return np.stack([self.cam.cx + s * p[:, 0], self.cam.horizon + s * (self.cam.elevation - p[:, 1])], -1)

    def xpoly(self, X: float, pts) -> np.ndarray:
        """A polygon given as (Z, Y) metres on the plane X = const (along the street)."""
        p = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        s = self.cam.focal / np.maximum(p[:, 0], NEAR)
        return np.stack([self.cam.cx + s * X, self.cam.horizon + s * (self.cam.elevation - p[:, 1])], -1)

    def zrect(self, Z: float, x0: float, x1: float, y0: float, y1: float, min_px: float = 0.0) -> np.ndarray:
        """Rectangle on a camera-facing plane; at least `min_px` pixels wide so far poles survive."""
        grow = max(0.0, (min_px * Z / self.cam.focal - (x1 - x0)) / 2.0)
        return self.zpoly(Z, [(x0 - grow, y0), (x1 + grow, y0), (x1 + grow, y1), (x0 - grow, y1)])

    def world_y(self, painted: Painted) -> np.ndarray:
        """Height above the road of painted pixels (from their row and depth)."""
        return self.cam.elevation - (painted.ys + 0.5 - self.cam.horizon) * painted.depth / self.cam.focal

    def world_x(self, painted: Painted) -> np.ndarray:
        return (painted.xs + 0.5 - self.cam.cx) * painted.depth / self.cam.focal


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 20, wobble=None) -> np.ndarray:
    """Polygon approximating an ellipse; `wobble` (n radii factors) makes lumpy outlines."""
    a = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    k = 1.0 if wobble is None else np.asarray(wobble)
    return np.stack([cx + rx * k * np.cos(a), cy + ry * k * np.sin(a)], axis=-1)


def ring(cx: float, cy: float, r_out: float, r_in: float, n: int = 20) -> np.ndarray:
    """A ring as one contour (outer circle, then inner circle backwards): a tyre."""
    outer = ellipse(cx, cy, r_out, r_out, n)
    inner = ellipse(cx, cy, r_in, r_in, n)[::-1]
    return np.concatenate([outer, outer[:1], inner[-1:], inner])


def segment(p, q, half_width: float) -> np.ndarray:
    """A thick line from p to q as a quad (coordinates in whatever plane p and q are in)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    d = q - p
    n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-9) * half_width
    return np.stack([p + n, q + n, q - n, p - n])


def value_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Smooth noise in [0, 1] with features about `cell` pixels across (bicubic lattice)."""
    h, w = shape
    gh, gw = int(h / cell) + 3, int(w / cell) + 3
    lattice = rng.random((gh, gw), dtype=np.float32)
    big = cv2.resize(lattice, (int(gw * cell), int(gh * cell)), interpolation=cv2.INTER_CUBIC)
    return np.clip(big[:h, :w], 0.0, 1.0)


def plane_noise(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, cell: float, n: int = 64) -> np.ndarray:
    """Smooth value noise sampled at plane coordinates (ground metres, cloud-layer units),
    so a texture shrinks with distance like the surface it lies on."""
    lattice = rng.random((n, n), dtype=np.float32)
    u, v = u / cell, v / cell
    i0, j0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fu, fv = (u - i0).astype(np.float32), (v - j0).astype(np.float32)
    fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    i0, j0, i1, j1 = i0 % n, j0 % n, (i0 + 1) % n, (j0 + 1) % n
    a = lattice[j0, i0] * (1 - fu) + lattice[j0, i1] * fu
    b = lattice[j1, i0] * (1 - fu) + lattice[j1, i1] * fu
    return a * (1 - fv) + b * fv
