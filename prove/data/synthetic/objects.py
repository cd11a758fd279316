"""Street objects drawn in metres: buildings, walls, poles, signs, lights, trees, people, vehicles.

Every object is placed at a world position and painted with `Canvas.paint`, so its pixel
size follows from its real size and distance. Besides pixels, objects leave behind what
lighting needs: an occluder box (for sun shadows) and, for lamps and vehicles, `Light`s
that the night and dusk renderings switch on. Colours are linear reflectances drawn per
instance from overlapping palettes (a grey car, a grey facade and a grey road are all
possible), so colour alone does not give the class away.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prove.data.labels import CLASS_ID
from prove.data.synthetic.canvas import Canvas, Painted, ellipse, ring, segment

ROAD, SIDEWALK, BUILDING = CLASS_ID["road"], CLASS_ID["sidewalk"], CLASS_ID["building"]
WALL, FENCE, POLE = CLASS_ID["wall"], CLASS_ID["fence"], CLASS_ID["pole"]
TLIGHT, TSIGN = CLASS_ID["traffic light"], CLASS_ID["traffic sign"]
VEGETATION, TERRAIN = CLASS_ID["vegetation"], CLASS_ID["terrain"]
PERSON, RIDER, CAR = CLASS_ID["person"], CLASS_ID["rider"], CLASS_ID["car"]
TRUCK, BUS = CLASS_ID["truck"], CLASS_ID["bus"]
MOTORCYCLE, BICYCLE = CLASS_ID["motorcycle"], CLASS_ID["bicycle"]

TYRE = (0.02, 0.02, 0.022)
DARK = (0.012, 0.012, 0.014)
GLASS = (0.03, 0.037, 0.045)
WARM_LAMP = (1.0, 0.62, 0.28)  # sodium street lamp
WHITE_LAMP = (1.0, 0.95, 0.85)  # LED street lamp
HEADLIGHT = (1.0, 0.95, 0.82)
TAILLIGHT = (1.0, 0.06, 0.03)

CAR_COLORS = (
    ((0.72, 0.72, 0.72), 3), ((0.38, 0.39, 0.41), 4), ((0.12, 0.12, 0.13), 3), ((0.018, 0.018, 0.02), 3),
    ((0.42, 0.03, 0.02), 2), ((0.03, 0.07, 0.28), 2), ((0.05, 0.14, 0.07), 1), ((0.5, 0.42, 0.28), 1),
    ((0.62, 0.45, 0.02), 1),
)
BUILDING_COLORS = (
    (0.52, 0.45, 0.35), (0.33, 0.33, 0.33), (0.62, 0.6, 0.55), (0.28, 0.1, 0.06), (0.5, 0.34, 0.14),
    (0.36, 0.4, 0.43), (0.18, 0.18, 0.19), (0.44, 0.24, 0.18), (0.55, 0.52, 0.42),
)
CLOTHES = (
    (0.02, 0.02, 0.025), (0.05, 0.06, 0.12), (0.25, 0.25, 0.27), (0.6, 0.6, 0.6), (0.45, 0.05, 0.04),
    (0.05, 0.2, 0.08), (0.5, 0.35, 0.12), (0.08, 0.12, 0.35), (0.55, 0.45, 0.05), (0.3, 0.08, 0.25),
)
SKIN = ((0.6, 0.42, 0.32), (0.45, 0.3, 0.2), (0.25, 0.15, 0.09), (0.12, 0.07, 0.04))


@dataclass(frozen=True)
class Light:
    """An artificial light at a world position, switched on by the night and dusk looks."""

    kind: str  # street_lamp, headlight, taillight
    position: tuple[float, float, float]
    color: tuple[float, float, float]
    power: float  # irradiance at 1 m on a surface facing the light
    direction: tuple[float, float, float] | None = None  # spot axis
    cone: float = 0.0  # spot sharpness: intensity ~ cos(angle to axis) ** cone


@dataclass
class Props:
    """What objects leave besides pixels: lights, and boxes and spheres that block the sun."""

    lights: list[Light] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float, float, float]] = field(default_factory=list)
    spheres: list[tuple[float, float, float, float]] = field(default_factory=list)

    def box(self, x0, x1, y0, y1, z0, z1) -> None:
        self.boxes.append((min(x0, x1), max(x0, x1), y0, y1, min(z0, z1), max(z0, z1)))

    def sphere(self, x, y, z, r) -> None:
        self.spheres.append((x, y, z, r))


def vary(rng: np.random.Generator, rgb, spread: float = 0.15) -> np.ndarray:
    """An instance's colour: the palette colour with random brightness and a slight tint."""
    c = np.asarray(rgb, np.float32) * rng.uniform(1 - spread, 1 + spread) * rng.uniform(0.92, 1.08, 3)
    return np.clip(c, 0.0, 1.0).astype(np.float32)


def pick(rng: np.random.Generator, weighted) -> tuple:
    colors = [c for c, _ in weighted]
    w = np.array([k for _, k in weighted], float)
    return colors[rng.choice(len(colors), p=w / w.sum())]


def _hash01(*ints) -> np.ndarray:
    """Deterministic pseudo-random [0, 1) per integer tuple (e.g. which windows are lit)."""
    h = np.zeros(np.broadcast(*ints).shape, np.int64)
    for k, v in zip((73856093, 19349663, 83492791), ints):
        h = h ^ (np.asarray(v, np.int64) * k)
    h = (h * 2654435761) & 0xFFFFFFFF
    return ((h >> 8) & 0xFFFF) / 65536.0


# -- buildings --------------------------------------------------------------------------------
@dataclass
class Facade:
    """A block along the street: its facade is the plane X = x between z0 and z1."""

    side: int  # -1 left of the street, +1 right (0: across the street's end, facing the camera)
    x: float
    z0: float
    z1: float
    height: float
    depth: float  # how far the block extends away from the street
    color: np.ndarray
    trim: np.ndarray
    key: int  # seeds which windows are lit
    floor_h: float = 3.2
    ground_h: float = 4.0
    win_w: float = 1.3
    win_h: float = 1.6
    spacing: float = 3.0
    lit_p: float = 0.35
    shop: bool = True


def facade_detail(cv: Canvas, p: Painted, u: np.ndarray, v: np.ndarray, f: Facade, length: float) -> None:
    """Windows, sills, cornice and shop fronts, computed in facade coordinates (metres).

    `u` runs along the facade and `v` up it, so windows keep their perspective and size at
    any distance. Sills and the cornice are upward-facing ledges that hold snow.
    """
    alb = np.empty(p.ys.shape + (3,), np.float32)
    alb[:] = f.color
    snow = np.zeros(p.ys.shape, np.float32)
    glass = np.zeros(p.ys.shape, np.float32)
    lit = np.zeros(p.ys.shape, np.float32)

    upper = (v > f.ground_h) & (v < f.height - 0.9) & (u > 0.5) & (u < length - 0.5)
    fu = np.mod(u, f.spacing) - f.spacing / 2
    col = np.floor(u / f.spacing)
    fv = np.mod(v - f.ground_h, f.floor_h)
    row = np.floor((v - f.ground_h) / f.floor_h)
    sill_v = 0.9
    win = upper & (np.abs(fu) < f.win_w / 2) & (fv > sill_v) & (fv < sill_v + f.win_h)
    pane = win & (np.abs(fu) < f.win_w / 2 - 0.08) & (fv > sill_v + 0.08) & (fv < sill_v + f.win_h - 0.08)
    sill = upper & (np.abs(fu) < f.win_w / 2 + 0.12) & (fv > sill_v - 0.14) & (fv <= sill_v)
    cornice = v > f.height - 0.45
    band = (v > f.ground_h - 0.35) & (v <= f.ground_h)

    alb[win] = f.trim
    alb[sill | cornice | band] = f.trim * 0.9
    snow[sill | cornice] = 1.0
    glass[pane] = 1.0
    alb[pane] = GLASS
    lit[pane] = (_hash01(col[pane].astype(np.int64), row[pane].astype(np.int64), f.key) < f.lit_p).astype(np.float32)

    if f.shop:  # ground floor: wide shop windows between narrow piers, lit in the evening
        su = np.mod(u, 4.5)
        shop = (v > 0.45) & (v < f.ground_h - 0.7) & (su > 0.4) & (su < 4.1) & (u > 0.5) & (u < length - 0.5)
        alb[shop] = GLASS
        glass[shop] = 1.0
        lit[shop] = (_hash01(np.floor(u[shop] / 4.5).astype(np.int64), 7, f.key) < 0.6).astype(np.float32)
    else:  # plain ground floor with a darker plinth
        alb[v < 0.6] *= 0.7

    cv.detail(p, albedo=alb, snow=snow, glass=glass, lit=lit)


def street_block(cv: Canvas, props: Props, f: Facade) -> None:
    """A building along the street: its near end wall (facing the camera), then its facade."""
    x_far = f.x + f.side * f.depth
    end = cv.paint_pixels(cv.zpoly(f.z0, [(f.x, 0), (x_far, 0), (x_far, f.height), (f.x, f.height)]), BUILDING, f.color, depth=f.z0)
    if end is not None:
        facade_detail(cv, end, np.abs(cv.world_x(end) - f.x), cv.world_y(end), f, f.depth)
    normal = (-float(f.side), 0.0, 0.0)  # a left-side facade faces +X (towards the street)
    quad = cv.xpoly(f.x, [(f.z0, 0), (f.z1, 0), (f.z1, f.height), (f.z0, f.height)])
    face = cv.paint_pixels(quad, BUILDING, f.color, plane_x=f.x, normal=normal)
    if face is not None:
        facade_detail(cv, face, face.depth - f.z0, cv.world_y(face), f, f.z1 - f.z0)
    props.box(f.x, x_far, 0.0, f.height, f.z0, f.z1)


def far_block(cv: Canvas, props: Props, rng, x0: float, x1: float, z: float, height: float, key: int) -> None:
    """A building across the end of the street, facing the camera, maybe with a pitched roof."""
    color = vary(rng, BUILDING_COLORS[rng.integers(len(BUILDING_COLORS))])
    f = Facade(0, x0, 0, 0, height, 0, color, vary(rng, (0.6, 0.58, 0.52)), key,
               floor_h=rng.uniform(2.9, 3.6), ground_h=rng.uniform(3.5, 4.5), spacing=rng.uniform(2.5, 3.6),
               shop=bool(rng.random() < 0.5))
    if rng.random() < 0.5:  # gable or hipped roof: an upward surface that turns white in snow
        rh = rng.uniform(2.0, 5.0)
        inset = 0.0 if rng.random() < 0.5 else (x1 - x0) * 0.3
        roof = [(x0 - 0.3, height), (x1 + 0.3, height), (x1 - inset if inset else (x0 + x1) / 2, height + rh)]
        if inset:
            roof.append((x0 + inset, height + rh))
        cv.paint(cv.zpoly(z + 0.3, roof), BUILDING, vary(rng, (0.2, 0.08, 0.05) if rng.random() < 0.6 else (0.1, 0.1, 0.11)),
                 depth=z + 0.3, normal=(0.0, 0.7, -0.7), snow=1.0)
    p = cv.paint_pixels(cv.zpoly(z, [(x0, 0), (x1, 0), (x1, height), (x0, height)]), BUILDING, color, depth=z)
    if p is not None:
        facade_detail(cv, p, cv.world_x(p) - x0, cv.world_y(p), f, x1 - x0)
    props.box(x0, x1, 0.0, height, z, z + 15.0)


def wall(cv: Canvas, props: Props, rng, x: float, z0: float, z1: float, height: float) -> None:
    """A wall along the lot line; its coping holds snow."""
    color = vary(rng, ((0.4, 0.39, 0.37), (0.3, 0.12, 0.08), (0.5, 0.46, 0.38))[rng.integers(3)])
    normal = (-float(np.sign(x)), 0.0, 0.0)
    p = cv.paint_pixels(cv.xpoly(x, [(z0, 0), (z1, 0), (z1, height), (z0, height)]), WALL, color, plane_x=x, normal=normal)
    if p is not None:
        v = cv.world_y(p)
        top = v > height - 0.12
        alb = np.empty(v.shape + (3,), np.float32)
        alb[:] = color
        alb[np.mod(v, 0.5) < 0.04] *= 0.8  # block joints
        alb[top] = color * 1.25  # coping
        cv.detail(p, albedo=alb, snow=top.astype(np.float32))
    props.box(x, x + np.sign(x) * 0.3, 0.0, height, z0, z1)


def fence(cv: Canvas, props: Props, rng, x: float, z0: float, z1: float, height: float) -> None:
    """A fence of posts and slats; near slats let the background show through the gaps."""
    color = vary(rng, ((0.15, 0.16, 0.15), (0.25, 0.14, 0.07), (0.05, 0.12, 0.07))[rng.integers(3)])
    normal = (-float(np.sign(x)), 0.0, 0.0)
    where = cv.region(cv.xpoly(x, [(z0, 0), (z1, 0), (z1, height), (z0, height)]))
    if where is None:
        return
    ys, xs = where
    depth = cv._plane_depth(x, xs)
    v = cv.cam.elevation - (ys + 0.5 - cv.cam.horizon) * depth / cv.cam.focal
    footprint = depth * depth / (cv.cam.focal * abs(x))  # metres of fence per pixel column
    slat = (np.mod(depth, 0.16) < 0.09) | (footprint > 0.08) | (np.mod(depth, 2.4) < 0.12) | (v > height - 0.1) | (np.abs(v - 0.25) < 0.05)
    if not slat.any():
        return
    p = cv.assign(ys[slat], xs[slat], FENCE, color, plane_x=x, normal=normal)
    cv.detail(p, snow=(v[slat] > height - 0.1).astype(np.float32))
    props.box(x, x + np.sign(x) * 0.05, 0.0, height, z0, z1)


def hedge(cv: Canvas, props: Props, rng, x: float, z0: float, z1: float, height: float) -> None:
    color = vary(rng, (0.04, 0.1, 0.025), 0.3)
    n = 24
    zs = np.linspace(z0, z1, n)
    top = height * (1 + 0.08 * np.sin(np.arange(n) * rng.uniform(0.8, 2.0) + rng.uniform(0, 6)))
    poly = [(z0, 0)] + list(zip(zs, top)) + [(z1, 0)]
    p = cv.paint_pixels(cv.xpoly(x, poly), VEGETATION, color, plane_x=x, normal=(-float(np.sign(x)), 0.0, 0.0))
    if p is not None:
        cv.detail(p, snow=np.clip((cv.world_y(p) - height * 0.7) / (height * 0.3), 0, 1))
    props.box(x, x + np.sign(x) * 0.8, 0.0, height, z0, z1)


# -- vegetation -------------------------------------------------------------------------------
def tree(cv: Canvas, props: Props, rng, X: float, Z: float, trunk_h: float, radius: float) -> None:
    """A trunk and a lumpy crown; the crown gets sphere normals so sunlight models it."""
    bark = vary(rng, (0.09, 0.065, 0.045), 0.3)
    leaves = vary(rng, ((0.045, 0.11, 0.025), (0.07, 0.12, 0.03), (0.12, 0.11, 0.03), (0.03, 0.08, 0.04))[rng.integers(4)], 0.25)
    tw = rng.uniform(0.2, 0.4)
    cv.paint(cv.zrect(Z, X - tw / 2, X + tw / 2, 0.0, trunk_h + radius * 0.6, min_px=1.0), VEGETATION, bark, depth=Z)
    cy = trunk_h + radius
    n = 28
    wob = 1.0 + 0.1 * np.sin(np.arange(n) * rng.integers(3, 7) + rng.uniform(0, 6)) + rng.uniform(-0.06, 0.06, n)
    lumps = [(X, cy, radius, radius * rng.uniform(0.95, 1.25))]
    for _ in range(rng.integers(0, 3)):
        lumps.append((X + rng.uniform(-0.6, 0.6) * radius, cy + rng.uniform(-0.3, 0.3) * radius,
                      radius * rng.uniform(0.5, 0.75), radius * rng.uniform(0.5, 0.75)))
    zc = Z - radius * 0.5
    for lx, ly, rx, ry in lumps:
        p = cv.paint_pixels(cv.zpoly(zc, ellipse(lx, ly, rx, ry, n, wob)), VEGETATION, leaves, depth=zc)
        if p is None:
            continue
        nx = (cv.world_x(p) - lx) / rx
        ny = (cv.world_y(p) - ly) / ry
        nz = -np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0.05, 1.0))
        nrm = np.stack([nx, ny, nz], -1)
        cv.detail(p, normal=nrm / np.linalg.norm(nrm, axis=-1, keepdims=True),
                  snow=np.clip(ny * 1.6 - 0.2, 0.0, 1.0))  # snow settles on the top of the crown
    props.box(X - tw / 2, X + tw / 2, 0.0, trunk_h, Z - tw / 2, Z + tw / 2)
    props.sphere(X, cy, Z, radius)  # crowns cast round shadows


def tree_line(cv: Canvas, props: Props, rng, z: float, height: float) -> None:
    """A distant wood across the end of the street: one band of crowns with a bumpy top."""
    xs = np.linspace(-120.0, 120.0, 121)
    bumps = sum(rng.uniform(0.5, 1.5) * np.sin(xs / rng.uniform(2.0, 9.0) + rng.uniform(0, 6)) for _ in range(3))
    top = height + bumps
    poly = np.concatenate([np.stack([xs, top], -1), [(120.0, 0.0), (-120.0, 0.0)]])
    leaves = vary(rng, (0.04, 0.09, 0.03), 0.25)
    p = cv.paint_pixels(cv.zpoly(z, poly), VEGETATION, leaves, depth=z)
    if p is not None:
        crest = np.interp(cv.world_x(p), xs, top)
        cv.detail(p, snow=np.clip((cv.world_y(p) - crest + 2.5) / 2.0, 0.0, 1.0))
    props.box(-120.0, 120.0, 0.0, height, z, z + 10.0)


# -- people -----------------------------------------------------------------------------------
def person(cv: Canvas, props: Props, rng, X: float, Z: float, height: float, profile: bool = False) -> None:
    """A pedestrian on the plane Z: legs, torso, arms, head; `profile` = walking across."""
    h = height
    skin = vary(rng, SKIN[rng.integers(len(SKIN))], 0.1)
    top = vary(rng, CLOTHES[rng.integers(len(CLOTHES))], 0.2)
    legs = vary(rng, CLOTHES[rng.integers(4)], 0.2)
    hair = vary(rng, ((0.02, 0.015, 0.01), (0.15, 0.08, 0.03), (0.35, 0.3, 0.2))[rng.integers(3)], 0.2)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    if profile:
        stride = rng.uniform(0.1, 0.35) * h
        swing = rng.uniform(0.05, 0.18) * h
        parts += [(segment((X, 0.5 * h), (X - stride / 2, 0.0), 0.045 * h), legs),
                  (segment((X, 0.5 * h), (X + stride / 2, 0.0), 0.045 * h), legs * 0.8),
                  (np.array([(X - 0.07 * h, 0.8 * h), (X + 0.07 * h, 0.8 * h), (X + 0.06 * h, 0.48 * h), (X - 0.06 * h, 0.48 * h)]), top),
                  (segment((X, 0.79 * h), (X + swing, 0.46 * h), 0.028 * h), top * 0.85)]
    else:
        spread = rng.uniform(0.0, 0.05) * h
        parts += [(segment((X - 0.05 * h, 0.5 * h), (X - 0.05 * h - spread, 0.0), 0.042 * h), legs),
                  (segment((X + 0.05 * h, 0.5 * h), (X + 0.05 * h + spread, 0.0), 0.042 * h), legs),
                  (np.array([(X - 0.13 * h, 0.81 * h), (X + 0.13 * h, 0.81 * h), (X + 0.1 * h, 0.47 * h), (X - 0.1 * h, 0.47 * h)]), top),
                  (segment((X - 0.135 * h, 0.79 * h), (X - 0.17 * h, 0.45 * h), 0.03 * h), top * 0.85),
                  (segment((X + 0.135 * h, 0.79 * h), (X + 0.17 * h, 0.45 * h), 0.03 * h), top * 0.85)]
    parts += [(segment((X, 0.8 * h), (X, 0.86 * h), 0.025 * h), skin),
              (ellipse(X, 0.925 * h, 0.055 * h, 0.068 * h, 14), skin),
              (ellipse(X, 0.955 * h, 0.058 * h, 0.04 * h, 12), hair)]
    _paint_parts(cv, Z, parts, PERSON)
    props.box(X - 0.2, X + 0.2, 0.0, h, Z, Z + 0.3)


def _paint_parts(cv: Canvas, Z: float, parts, cls: int) -> None:
    for poly, color in parts:
        cv.paint(cv.zpoly(Z, poly), cls, color, depth=Z)


def _bicycle_parts(u0: float, frame, direction: int = 1) -> list[tuple[np.ndarray, tuple]]:
    """A bicycle in its own plane: u along the bike (front towards `direction`), Y up."""
    r = 0.34
    parts = []
    for wu in (u0 - 0.52, u0 + 0.52):
        parts.append((ring(wu, r, r, r - 0.05, 18), TYRE))
    for a, b in (((u0 - 0.52, r), (u0 - 0.05, r)), ((u0 - 0.05, r), (u0 + 0.3, 0.78)), ((u0 - 0.52, r), (u0 - 0.15, 0.8)),
                 ((u0 - 0.05, r), (u0 - 0.15, 0.8)), ((u0 - 0.15, 0.8), (u0 + 0.3, 0.78)), ((u0 + 0.52, r), (u0 + 0.33, 0.95))):
        parts.append((segment(a, b, 0.022), frame))
    parts.append((segment((u0 - 0.22, 0.86), (u0 - 0.08, 0.86), 0.03), DARK))
    parts.append((segment((u0 + 0.28, 0.97), (u0 + 0.4, 0.97), 0.02), DARK))
    if direction < 0:  # mirror about the bike's centre
        parts = [(np.column_stack([2 * u0 - p[:, 0], p[:, 1]]), c) for p, c in parts]
    return parts


def cyclist(cv: Canvas, props: Props, rng, X: float, Z: float, direction: int) -> None:
    """A rider crossing on a bicycle, seen from the side (bicycle and rider are separate classes)."""
    frame = tuple(vary(rng, CAR_COLORS[rng.integers(len(CAR_COLORS))][0], 0.2))
    _paint_parts(cv, Z + 0.05, _bicycle_parts(X, frame, direction), BICYCLE)
    d = direction
    top = vary(rng, CLOTHES[rng.integers(len(CLOTHES))], 0.2)
    legs = vary(rng, CLOTHES[rng.integers(4)], 0.2)
    skin = vary(rng, SKIN[rng.integers(len(SKIN))], 0.1)
    hip = (X - 0.15 * d, 0.92)
    sh = (X + 0.1 * d, 1.45)
    rider = [(segment(hip, (X - 0.02 * d, 0.5), 0.06), legs), (segment((X - 0.02 * d, 0.5), (X + 0.02 * d, 0.25), 0.05), legs),
             (segment(hip, (X + 0.12 * d, 0.62), 0.06), legs * 0.8),
             (np.array([(hip[0] - 0.1 * d, hip[1]), (hip[0] + 0.1 * d, hip[1] - 0.02), (sh[0] + 0.08 * d, sh[1]), (sh[0] - 0.1 * d, sh[1] + 0.02)]), top),
             (segment(sh, (X + 0.33 * d, 0.98), 0.035), top * 0.85),
             (ellipse(sh[0] + 0.06 * d, sh[1] + 0.15, 0.1, 0.12, 14), skin)]
    _paint_parts(cv, Z, rider, RIDER)
    props.box(X - 0.9, X + 0.9, 0.0, 1.7, Z, Z + 0.4)


def parked_bicycle(cv: Canvas, props: Props, rng, X: float, Z: float) -> None:
    """A bicycle standing along the kerb: drawn on the plane X = const, so it foreshortens."""
    frame = tuple(vary(rng, CAR_COLORS[rng.integers(len(CAR_COLORS))][0], 0.2))
    normal = (-float(np.sign(X)), 0.0, 0.0)
    for poly, color in _bicycle_parts(Z, frame):
        cv.paint(cv.xpoly(X, poly), BICYCLE, color, plane_x=X, normal=normal)


def motorcyclist(cv: Canvas, props: Props, rng, X: float, Z: float) -> None:
    """A motorcycle and its rider seen from behind, riding away."""
    body = vary(rng, CAR_COLORS[rng.integers(len(CAR_COLORS))][0], 0.2)
    moto = [(np.array([(X - 0.09, 0.0), (X + 0.09, 0.0), (X + 0.09, 0.62), (X - 0.09, 0.62)]), TYRE),
            (np.array([(X - 0.24, 0.45), (X + 0.24, 0.45), (X + 0.2, 0.9), (X - 0.2, 0.9)]), body),
            (np.array([(X - 0.35, 0.32), (X - 0.22, 0.32), (X - 0.22, 0.42), (X - 0.35, 0.42)]), (0.3, 0.3, 0.32))]
    _paint_parts(cv, Z, moto, MOTORCYCLE)
    cv.paint(cv.zrect(Z - 0.01, X - 0.07, X + 0.07, 0.75, 0.83), MOTORCYCLE, (0.35, 0.02, 0.02), depth=Z - 0.01,
             emissive=np.array(TAILLIGHT) * 3.0)
    props.lights.append(Light("taillight", (X, 0.8, Z - 0.05), TAILLIGHT, 0.3))
    jacket = vary(rng, CLOTHES[rng.integers(len(CLOTHES))], 0.2)
    helmet = vary(rng, CAR_COLORS[rng.integers(len(CAR_COLORS))][0], 0.2)
    rider = [(segment((X - 0.16, 0.92), (X - 0.26, 0.5), 0.06), (0.03, 0.03, 0.04)),
             (segment((X + 0.16, 0.92), (X + 0.26, 0.5), 0.06), (0.03, 0.03, 0.04)),
             (np.array([(X - 0.2, 0.85), (X + 0.2, 0.85), (X + 0.22, 1.45), (X - 0.22, 1.45)]), jacket),
             (ellipse(X, 1.6, 0.14, 0.16, 14), helmet)]
    _paint_parts(cv, Z + 0.2, rider, RIDER)
    props.box(X - 0.35, X + 0.35, 0.0, 1.75, Z, Z + 2.0)


# -- poles, signs, traffic lights -------------------------------------------------------------
def _pole(cv: Canvas, X: float, Z: float, height: float, width: float, color) -> None:
    cv.paint(cv.zrect(Z, X - width / 2, X + width / 2, 0.0, height, min_px=1.0), POLE, color, depth=Z)


def street_lamp(cv: Canvas, props: Props, rng, X: float, Z: float, side: int) -> None:
    """A lamp post with an arm over the road; its head is a downward light at night."""
    height = rng.uniform(6.5, 9.0)
    arm = rng.uniform(1.2, 2.5)
    color = vary(rng, ((0.15, 0.15, 0.16), (0.04, 0.08, 0.05), (0.3, 0.3, 0.3))[rng.integers(3)], 0.2)
    _pole(cv, X, Z, height, 0.16, color)
    hx = X - side * arm
    cv.paint(cv.zpoly(Z, segment((X, height - 0.4), (hx, height), 0.05)), POLE, color, depth=Z)
    head = cv.paint_pixels(cv.zpoly(Z, ellipse(hx, height - 0.05, 0.35, 0.12, 12)), POLE, color * 1.2, depth=Z)
    lamp = WARM_LAMP if rng.random() < 0.5 else WHITE_LAMP
    if head is not None:  # the diffuser under the head glows
        below = (cv.world_y(head) < height - 0.05)[:, None]
        cv.detail(head, emissive=below * (np.array(lamp, np.float32) * 12.0))
    props.lights.append(Light("street_lamp", (hx, height - 0.2, Z), lamp, rng.uniform(14.0, 24.0), (0.0, -1.0, 0.0), 1.0))
    props.box(X - 0.08, X + 0.08, 0.0, height, Z - 0.08, Z + 0.08)


def traffic_sign(cv: Canvas, rng, X: float, Z: float, y: float) -> None:
    """A sign plate centred at height y: round, triangular, square, octagonal or a board."""
    kind = rng.choice(["round", "round", "triangle", "square", "octagon", "board"])
    red, white, blue = (0.5, 0.02, 0.02), vary(rng, (0.75, 0.75, 0.72), 0.05), (0.02, 0.1, 0.45)
    zs = Z - 0.03
    s = rng.uniform(0.3, 0.42)
    if kind == "round":
        rim, inner = (red, white) if rng.random() < 0.7 else (white, blue)
        cv.paint(cv.zpoly(zs, ellipse(X, y, s, s, 18)), TSIGN, rim, depth=zs)
        cv.paint(cv.zpoly(zs, ellipse(X, y, s * 0.75, s * 0.75, 18)), TSIGN, inner, depth=zs)
    elif kind == "triangle":
        sgn = 1 if rng.random() < 0.7 else -1
        tri = np.array([(X - s * 1.1, y - sgn * 0.6 * s), (X + s * 1.1, y - sgn * 0.6 * s), (X, y + sgn * 1.1 * s)])
        cv.paint(cv.zpoly(zs, tri), TSIGN, red, depth=zs)
        cv.paint(cv.zpoly(zs, (tri - (X, y)) * 0.65 + (X, y - sgn * 0.05 * s)), TSIGN, white, depth=zs)
    elif kind == "square":
        cv.paint(cv.zrect(zs, X - s, X + s, y - s, y + s), TSIGN, blue, depth=zs)
        cv.paint(cv.zrect(zs, X - s * 0.3, X + s * 0.3, y - s * 0.6, y + s * 0.6), TSIGN, white, depth=zs)
    elif kind == "octagon":
        cv.paint(cv.zpoly(zs, ellipse(X, y, s, s, 8)), TSIGN, red, depth=zs)
        cv.paint(cv.zrect(zs, X - s * 0.6, X + s * 0.6, y - s * 0.15, y + s * 0.15), TSIGN, white, depth=zs)
    else:
        board = (0.03, 0.2, 0.06) if rng.random() < 0.5 else blue
        cv.paint(cv.zrect(zs, X - 2.2 * s, X + 2.2 * s, y - 1.2 * s, y + 1.2 * s), TSIGN, white, depth=zs)
        cv.paint(cv.zrect(zs, X - 2.0 * s, X + 2.0 * s, y - 1.0 * s, y + 1.0 * s), TSIGN, board, depth=zs)


def sign_post(cv: Canvas, props: Props, rng, X: float, Z: float) -> None:
    height = rng.uniform(2.1, 2.8)
    _pole(cv, X, Z, height, 0.08, vary(rng, (0.3, 0.31, 0.32), 0.2))
    traffic_sign(cv, rng, X, Z, height)
    if rng.random() < 0.4:
        traffic_sign(cv, rng, X, Z, height - 0.85)
    props.box(X - 0.05, X + 0.05, 0.0, height, Z - 0.05, Z + 0.05)


def traffic_light(cv: Canvas, props: Props, rng, X: float, Z: float, side: int, over_road: float | None = None) -> None:
    """A signal head on a post (or hanging from a mast arm over the road); one lamp lit."""
    pole_color = vary(rng, (0.25, 0.25, 0.26), 0.3)
    if over_road is None:
        height = rng.uniform(3.3, 4.2)
        _pole(cv, X, Z, height - 0.6, 0.12, pole_color)
        hx, top = X, height
        if rng.random() < 0.5:
            traffic_sign(cv, rng, X, Z, rng.uniform(2.0, 2.4))
    else:
        height = rng.uniform(5.5, 6.3)
        _pole(cv, X, Z, height, 0.2, pole_color)
        cv.paint(cv.zpoly(Z, segment((X, height - 0.2), (over_road, height - 0.2), 0.07)), POLE, pole_color, depth=Z)
        hx, top = over_road, height - 0.3
    zb = Z - 0.05
    cv.paint(cv.zrect(zb, hx - 0.2, hx + 0.2, top - 1.05, top + 0.05), TLIGHT, (0.02, 0.02, 0.02), depth=zb)
    on = rng.integers(3)
    colors = ((1.0, 0.05, 0.02), (1.0, 0.55, 0.02), (0.05, 1.0, 0.45))
    for i, c in enumerate(colors):
        lit = i == on
        cv.paint(cv.zpoly(zb - 0.01, ellipse(hx, top - 0.2 - 0.33 * i, 0.11, 0.11, 10)), TLIGHT,
                 np.array(c, np.float32) * 0.7 if lit else (0.06, 0.06, 0.06), depth=zb - 0.01,
                 signal=np.array(c, np.float32) * 6.0 if lit else (0.0, 0.0, 0.0))
    props.box(X - 0.1, X + 0.1, 0.0, height, Z - 0.1, Z + 0.1)


# -- vehicles ---------------------------------------------------------------------------------
def _lights_on_face(cv: Canvas, Z: float, xs, y0: float, y1: float, w: float, cls: int, color, emit) -> None:
    for x in xs:
        cv.paint(cv.zrect(Z - 0.01, x - w / 2, x + w / 2, y0, y1), cls, color, depth=Z - 0.01, emissive=emit)


def _contact_shadow(cv: Canvas, x0: float, x1: float, z0: float, z1: float, strength: float = 0.35) -> None:
    """Darken the ground under a vehicle: sky light cannot reach it (ambient occlusion)."""
    where = cv.region(cv.cam.project(np.array([x0, x1, x1, x0]), 0.0, np.array([z0, z0, z1, z1])))
    if where is None:
        return
    ys, xs = where
    ground = cv.ids[ys, xs] == cv.ground_mid
    cv.detail_under(ys[ground], xs[ground], ao=np.float32(strength))


def _vehicle_lights(props: Props, xc: float, w: float, z0: float, length: float, facing: int, y: float) -> None:
    """Headlights shine ahead of the vehicle; tail lights glow red behind it."""
    front_z = z0 if facing < 0 else z0 + length
    for dx in (-w / 2 + 0.3, w / 2 - 0.3):
        props.lights.append(Light("headlight", (xc + dx, y, front_z), HEADLIGHT, 70.0, (0.0, -0.06, float(facing)), 12.0))
    if facing > 0:
        for dx in (-w / 2 + 0.2, w / 2 - 0.2):
            props.lights.append(Light("taillight", (xc + dx, y + 0.15, z0 - 0.05), TAILLIGHT, 0.4))


def car(cv: Canvas, props: Props, rng, xc: float, z0: float, facing: int) -> None:
    """A car whose near face (rear if `facing` = +1, front if -1) is at depth z0.

    Its side is drawn too when the camera can see it (the car is off-centre), on the plane
    X = const, so long cars foreshorten like real ones.
    """
    w, L, h = rng.uniform(1.7, 1.95), rng.uniform(3.9, 4.9), rng.uniform(1.38, 1.7)
    body = vary(rng, pick(rng, CAR_COLORS), 0.12)
    _contact_shadow(cv, xc - w / 2 - 0.15, xc + w / 2 + 0.15, z0 - 0.3, z0 + L + 0.2)
    if abs(xc) > w / 2:
        sx = xc - np.sign(xc) * w / 2
        nrm = (-float(np.sign(xc)), 0.0, 0.0)
        a, b = (0.6, 1.1) if facing > 0 else (1.1, 1.9)  # where the cabin starts: short boot vs long bonnet
        c, d = (1.9, 1.1) if facing > 0 else (0.9, 0.5)
        side = [(np.array([(z0, 0.3), (z0 + L, 0.3), (z0 + L, 0.95), (z0, 0.95)]), body, 0.0),
                (np.array([(z0 + a, 0.95), (z0 + b, h), (z0 + L - c, h), (z0 + L - d, 0.95)]), body * 0.95, 0.0),
                (np.array([(z0 + a + 0.12, 1.0), (z0 + b + 0.08, h - 0.06), (z0 + L - c - 0.08, h - 0.06), (z0 + L - d - 0.12, 1.0)]), GLASS, 1.0),
                (np.array([(z0 + 0.3, 0.12), (z0 + L - 0.3, 0.12), (z0 + L - 0.3, 0.3), (z0 + 0.3, 0.3)]), DARK, 0.0)]
        for wz in (z0 + 0.8, z0 + L - 0.8):
            side.append((ellipse(wz, 0.33, 0.33, 0.33, 16), TYRE, 0.0))
            side.append((ellipse(wz, 0.33, 0.17, 0.17, 12), (0.25, 0.25, 0.26), 0.0))
        for poly, color, is_glass in side:
            cv.paint(cv.xpoly(sx, poly), CAR, color, plane_x=sx, normal=nrm, glass=is_glass)
    x0, x1 = xc - w / 2, xc + w / 2
    front = [(np.array([(x0 + 0.1, 0.1), (x1 - 0.1, 0.1), (x1 - 0.1, 0.35), (x0 + 0.1, 0.35)]), DARK),
             (np.array([(x0 + 0.06, 0.0), (x0 + 0.32, 0.0), (x0 + 0.32, 0.4), (x0 + 0.06, 0.4)]), TYRE),
             (np.array([(x1 - 0.32, 0.0), (x1 - 0.06, 0.0), (x1 - 0.06, 0.4), (x1 - 0.32, 0.4)]), TYRE),
             (np.array([(x0, 0.34), (x1, 0.34), (x1, 0.9), (x1 - 0.05, 0.96), (x0 + 0.05, 0.96), (x0, 0.9)]), body),
             (np.array([(x0, 0.3), (x1, 0.3), (x1, 0.45), (x0, 0.45)]), body * 0.6),
             (np.array([(x0 + 0.08, 0.95), (x1 - 0.08, 0.95), (x1 - 0.26, h), (x0 + 0.26, h)]), body * 0.95)]
    for poly, color in front:
        cv.paint(cv.zpoly(z0, poly), CAR, color, depth=z0)
    cv.paint(cv.zpoly(z0 + 0.05, [(x0 + 0.17, 1.0), (x1 - 0.17, 1.0), (x1 - 0.3, h - 0.06), (x0 + 0.3, h - 0.06)]),
             CAR, GLASS, depth=z0 + 0.05, glass=1.0)
    cv.paint(cv.zrect(z0 - 0.01, xc - 0.24, xc + 0.24, 0.47, 0.58), CAR, (0.65, 0.65, 0.62), depth=z0 - 0.01)
    if facing > 0:
        _lights_on_face(cv, z0, (x0 + 0.2, x1 - 0.2), 0.7, 0.86, 0.3, CAR, (0.3, 0.02, 0.02), np.array(TAILLIGHT) * 3.0)
    else:
        cv.paint(cv.zrect(z0 - 0.01, xc - 0.4, xc + 0.4, 0.55, 0.75), CAR, DARK, depth=z0 - 0.01)
        _lights_on_face(cv, z0, (x0 + 0.25, x1 - 0.25), 0.6, 0.75, 0.32, CAR, (0.55, 0.55, 0.52), np.array(HEADLIGHT) * 10.0)
    _vehicle_lights(props, xc, w, z0, L, facing, 0.65)
    props.box(x0, x1, 0.0, h, z0, z0 + L)


def big_vehicle(cv: Canvas, props: Props, rng, xc: float, z0: float, facing: int, kind: str) -> None:
    """A truck (cab + cargo box) or a bus (window band, big windscreen), near face at z0."""
    cls = TRUCK if kind == "truck" else BUS
    w = 2.5
    h = rng.uniform(3.0, 3.3) if cls == BUS else rng.uniform(3.2, 3.9)
    L = rng.uniform(10.5, 12.5) if cls == BUS else rng.uniform(6.5, 9.0)
    palette = ((0.6, 0.6, 0.58), (0.5, 0.05, 0.03), (0.05, 0.12, 0.35), (0.6, 0.45, 0.03), (0.3, 0.3, 0.3))
    body = vary(rng, palette[rng.integers(len(palette))], 0.12)
    _contact_shadow(cv, xc - w / 2 - 0.2, xc + w / 2 + 0.2, z0 - 0.3, z0 + L + 0.2)
    x0, x1 = xc - w / 2, xc + w / 2
    if abs(xc) > w / 2:
        sx = xc - np.sign(xc) * w / 2
        nrm = (-float(np.sign(xc)), 0.0, 0.0)
        parts = []
        if cls == BUS:
            parts.append((np.array([(z0, 0.35), (z0 + L, 0.35), (z0 + L, h), (z0, h)]), body, 0.0))
            for k in np.arange(z0 + 0.3, z0 + L - 1.2, 1.5):
                parts.append((np.array([(k, 1.25), (k + 1.3, 1.25), (k + 1.3, h - 0.35), (k, h - 0.35)]), GLASS, 1.0))
            wheel_z = (z0 + 2.5, z0 + L - 3.0)
        else:
            cab0, cab1 = (z0 + L - 2.3, z0 + L) if facing > 0 else (z0, z0 + 2.3)
            box0, box1 = (z0, z0 + L - 2.4) if facing > 0 else (z0 + 2.4, z0 + L)
            parts.append((np.array([(box0, 1.0), (box1, 1.0), (box1, h), (box0, h)]), body, 0.0))
            parts.append((np.array([(cab0, 0.45), (cab1, 0.45), (cab1, 2.9), (cab0, 2.9)]), body * 0.8, 0.0))
            parts.append((np.array([(cab0 + 0.3, 1.8), (cab1 - 0.3, 1.8), (cab1 - 0.3, 2.7), (cab0 + 0.3, 2.7)]), GLASS, 1.0))
            parts.append((np.array([(z0 + 0.3, 0.3), (z0 + L - 0.3, 0.3), (z0 + L - 0.3, 1.0), (z0 + 0.3, 1.0)]), DARK, 0.0))
            wheel_z = (z0 + 1.2, z0 + L - 1.3) if facing > 0 else (z0 + 1.3, z0 + L - 1.2)
        for wz in wheel_z:
            parts.append((ellipse(wz, 0.5, 0.5, 0.5, 16), TYRE, 0.0))
            parts.append((ellipse(wz, 0.5, 0.25, 0.25, 12), (0.25, 0.25, 0.26), 0.0))
        for poly, color, is_glass in parts:
            cv.paint(cv.xpoly(sx, poly), cls, color, plane_x=sx, normal=nrm, glass=is_glass)
    for x in (x0 + 0.1, x1 - 0.55):
        cv.paint(cv.zpoly(z0, [(x, 0.0), (x + 0.45, 0.0), (x + 0.45, 1.0), (x, 1.0)]), cls, TYRE, depth=z0)
    if cls == TRUCK and facing < 0:  # cargo box above and behind the cab
        cv.paint(cv.zpoly(z0 + 2.4, [(x0, 2.9), (x1, 2.9), (x1, h), (x0, h)]), cls, body, depth=z0 + 2.4)
        cv.paint(cv.zpoly(z0, [(x0, 0.45), (x1, 0.45), (x1, 2.9), (x0, 2.9)]), cls, body * 0.8, depth=z0)
        glass_y = (1.75, 2.75)
    elif cls == TRUCK:
        cv.paint(cv.zpoly(z0, [(x0, 0.95), (x1, 0.95), (x1, h), (x0, h)]), cls, body, depth=z0)
        cv.paint(cv.zrect(z0 - 0.01, xc - 0.02, xc + 0.02, 1.0, h - 0.05), cls, body * 0.5, depth=z0 - 0.01)
        cv.paint(cv.zrect(z0 - 0.01, x0 + 0.1, x1 - 0.1, 0.45, 0.6), cls, DARK, depth=z0 - 0.01)
        glass_y = None
    else:
        cv.paint(cv.zpoly(z0, [(x0, 0.35), (x1, 0.35), (x1, h), (x0, h)]), cls, body, depth=z0)
        glass_y = (1.2, h - 0.45) if facing < 0 else (1.7, h - 0.45)
        cv.paint(cv.zrect(z0 - 0.01, x0 + 0.4, x1 - 0.4, h - 0.4, h - 0.1), cls, DARK, depth=z0 - 0.01,
                 emissive=np.array((1.0, 0.55, 0.05)) * 2.0)  # destination display
    if glass_y is not None:
        cv.paint(cv.zrect(z0 - 0.01, x0 + 0.12, x1 - 0.12, *glass_y), cls, GLASS, depth=z0 - 0.01, glass=1.0)
    if facing > 0:
        _lights_on_face(cv, z0, (x0 + 0.2, x1 - 0.2), 0.65, 0.9, 0.25, cls, (0.3, 0.02, 0.02), np.array(TAILLIGHT) * 3.0)
    else:
        _lights_on_face(cv, z0, (x0 + 0.3, x1 - 0.3), 0.6, 0.8, 0.35, cls, (0.55, 0.55, 0.52), np.array(HEADLIGHT) * 10.0)
    _vehicle_lights(props, xc, w, z0, L, facing, 0.7)
    props.box(x0, x1, 0.0, h, z0, z0 + L)
