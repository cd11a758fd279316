"""Scene layout: a random street drawn into intrinsic layers (labels, albedo, depth, ...).

`build_scene(seed, size)` samples a street (lanes, sidewalks, lawns, buildings with windows,
walls and fences, poles, signs, traffic lights, trees, parked and moving vehicles,
pedestrians, cyclists) in metres, then paints it with the painter's algorithm: far-row
buildings, ground, buildings behind the lot line, buildings on the lot line, then street
objects from far to near. The result depends only on the seed; no weather is applied here,
so one layout can be rendered in every domain with an identical label map.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from prove.data.labels import CLASS_ID, NUM_CLASSES
from prove.data.synthetic import objects as ob
from prove.data.synthetic.canvas import SKY_DEPTH, UP, Camera, Canvas, Layers, plane_noise, value_noise

# Per-class strength of the image-space texture noise applied after painting: foliage is
# clumpy, facades and walls weathered, cars glossy and even (ground is textured in world space).
_TEXTURE = np.zeros(256, np.float32)
for _name, _amp in {"building": 0.3, "wall": 0.4, "fence": 0.25, "pole": 0.25, "traffic light": 0.1,
                    "traffic sign": 0.1, "vegetation": 1.1, "person": 0.2, "rider": 0.2, "car": 0.1,
                    "truck": 0.15, "bus": 0.12, "motorcycle": 0.15, "bicycle": 0.15}.items():
    _TEXTURE[CLASS_ID[_name]] = _amp


@dataclass
class Scene:
    """Everything the weather renderer needs about one layout (layers are (H, W[, 3]))."""

    seed: int
    camera: Camera
    label: np.ndarray  # uint8 train ids
    albedo: np.ndarray  # linear reflectance
    normal: np.ndarray
    depth: np.ndarray  # Z-depth in metres, SKY_DEPTH on the sky
    snow: np.ndarray  # how much snow each surface can hold
    wet: np.ndarray  # how strongly each surface mirrors when wet
    glass: np.ndarray
    lit: np.ndarray
    ao: np.ndarray
    emissive: np.ndarray
    signal: np.ndarray
    ground: np.ndarray  # bool: pixels on the road plane (where wet reflections form)
    lights: tuple[ob.Light, ...]
    boxes: np.ndarray  # (N, 6) x0, x1, y0, y1, z0, z1 occluders for sun shadows
    spheres: np.ndarray  # (M, 4) x, y, z, radius occluders (tree crowns)

    @property
    def size(self) -> tuple[int, int]:
        return self.camera.width, self.camera.height

    @cached_property
    def points(self) -> np.ndarray:
        """World position of every pixel, (H, W, 3)."""
        return np.stack(self.camera.world(self.depth), axis=-1)

    @cached_property
    def rays(self) -> np.ndarray:
        """Unit viewing direction of every pixel, (H, W, 3)."""
        return self.camera.ray_directions()

    @cached_property
    def distance(self) -> np.ndarray:
        """Distance along each pixel's viewing ray to its surface (what light is attenuated over)."""
        return self.depth / self.rays[..., 2]

    def sun_visibility(self, sun: np.ndarray) -> np.ndarray:
        """1 where the sun (unit vector towards it) reaches a pixel's surface, 0 in shadow.

        A ray from each surface point towards the sun is tested against every occluder box
        (slab test) and sphere. Points are nudged off their surface so a face does not shadow itself.
        Only surfaces facing the sun need the test (the others get no direct light anyway),
        and it runs on every second pixel: upsampling gives the penumbra a real sun has.
        """
        h, w = self.label.shape
        step = 2 if min(h, w) >= 64 else 1
        pts = self.points[::step, ::step]
        nrm = self.normal[::step, ::step]
        test = (self.depth[::step, ::step] < SKY_DEPTH) & (nrm @ sun > 0.0)
        p_all = (pts + nrm * 0.05)[test]
        px, py, pz = (np.ascontiguousarray(p_all[:, k]) for k in range(3))
        s = np.where(np.abs(sun) < 1e-6, 1e-6, sun).astype(np.float32)
        ix, iy, iz = (float(1.0 / c) for c in s)
        blocked = np.zeros(len(p_all), bool)
        for x0, x1, y0, y1, z0, z1 in self.boxes.tolist():
            # the ray climbs (the sun is above the horizon): points above the box escape it
            cand = np.nonzero((py < y1) & ~blocked)[0]
            if cand.size == 0:
                continue
            qx, qy, qz = px[cand], py[cand], pz[cand]
            ax, bx = (x0 - qx) * ix, (x1 - qx) * ix
            ay, by = (y0 - qy) * iy, (y1 - qy) * iy
            az, bz = (z0 - qz) * iz, (z1 - qz) * iz
            t_in = np.maximum(np.maximum(np.minimum(ax, bx), np.minimum(ay, by)), np.maximum(np.minimum(az, bz), 0.0))
            t_out = np.minimum(np.minimum(np.maximum(ax, bx), np.maximum(ay, by)), np.maximum(az, bz))
            blocked[cand[t_out > t_in]] = True
        lx, ly, lz = (float(c) for c in sun)
        for cx, cy, cz, r in self.spheres.tolist():
            cand = np.nonzero((py < cy + r) & ~blocked)[0]
            if cand.size == 0:
                continue
            dx, dy, dz = cx - px[cand], cy - py[cand], cz - pz[cand]
            along = dx * lx + dy * ly + dz * lz  # closest approach of the ray to the centre
            miss2 = dx * dx + dy * dy + dz * dz - along * along
            blocked[cand[(along > 0) & (miss2 < r * r)]] = True
        vis = np.ones(test.shape, np.float32)
        vis[test] = (~blocked).astype(np.float32)
        if step > 1:
            vis = cv2.resize(vis, (w, h), interpolation=cv2.INTER_LINEAR)
        return cv2.GaussianBlur(vis, (3, 3), 0.6)  # penumbra: the sun is not a point


@dataclass
class _Street:
    """The cross-section of the street (metres, X of each boundary) and how far it runs."""

    lane_w: float
    centre: float  # X of the line between the two directions
    lanes_left: int  # oncoming lanes
    lanes_right: int  # lanes in the camera's direction
    park_l: float  # parking lane widths (0 = none)
    park_r: float
    lawn_l: float  # tree-lawn (terrain) strip between kerb and sidewalk
    lawn_r: float
    walk_l: float
    walk_r: float
    z_end: float
    crossing: float | None  # Z of a zebra crossing

    @property
    def road_l(self) -> float:
        return self.centre - self.lanes_left * self.lane_w - self.park_l

    @property
    def road_r(self) -> float:
        return self.centre + self.lanes_right * self.lane_w + self.park_r

    def lot(self, side: int) -> float:
        """|X| of the lot line (where buildings start) on a side."""
        if side < 0:
            return -self.road_l + self.lawn_l + self.walk_l
        return self.road_r + self.lawn_r + self.walk_r

    def kerb(self, side: int) -> float:
        return -self.road_l if side < 0 else self.road_r


def build_scene(seed: int, size: tuple[int, int] = (256, 128)) -> Scene:
    """The layout for `seed` at `size` = (width, height): labels, depth and material layers."""
    rng = np.random.default_rng(seed)
    width, height = size
    cam = Camera(width, height, focal=width * rng.uniform(0.7, 0.85), cx=width * (0.5 + rng.uniform(-0.05, 0.05)),
                 horizon=height * rng.uniform(0.4, 0.47), elevation=rng.uniform(1.35, 1.7))
    st = _sample_street(rng)
    cv = Canvas(cam)
    props = ob.Props()
    lot_surface = {s: (ob.TERRAIN if rng.random() < 0.5 else ob.SIDEWALK) for s in (-1, 1)}

    _far_row(cv, props, rng, st)
    _ground(cv, rng, st, lot_surface)
    back, front = [], []
    for side in (-1, 1):
        _sides(cv, props, rng, st, side, back, front)
    for items in (back, front):
        for _, draw in sorted(items, key=lambda it: -it[0]):
            draw()
    objects = _street_objects(cv, props, rng, st)
    for _, draw in sorted(objects, key=lambda it: -it[0]):
        draw()

    ly = cv.resolve()
    _texture(ly, rng)
    return Scene(
        seed=seed, camera=cam, label=ly.label, albedo=np.clip(ly.albedo, 0.0, 0.95), normal=ly.normal,
        depth=ly.depth, snow=ly.snow, wet=ly.wet, glass=ly.glass, lit=ly.lit, ao=ly.ao, emissive=ly.emissive,
        signal=ly.signal, ground=cv.ids == cv.ground_mid,
        lights=tuple(props.lights), boxes=np.array(props.boxes, np.float32).reshape(-1, 6),
        spheres=np.array(props.spheres, np.float32).reshape(-1, 4),
    )


def _sample_street(rng) -> _Street:
    lane_w = rng.uniform(2.9, 3.5)
    lanes_left, lanes_right = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    ego = int(rng.integers(lanes_right))  # the camera drives in one of its own lanes
    return _Street(
        lane_w=lane_w, centre=-(ego + 0.5) * lane_w, lanes_left=lanes_left, lanes_right=lanes_right,
        park_l=2.2 if rng.random() < 0.4 else 0.0, park_r=2.2 if rng.random() < 0.5 else 0.0,
        lawn_l=rng.uniform(1.0, 2.5) if rng.random() < 0.35 else 0.0,
        lawn_r=rng.uniform(1.0, 2.5) if rng.random() < 0.35 else 0.0,
        walk_l=rng.uniform(1.8, 4.5), walk_r=rng.uniform(1.8, 4.5), z_end=rng.uniform(90.0, 220.0),
        crossing=rng.uniform(9.0, 35.0) if rng.random() < 0.45 else None,
    )


# -- ground -----------------------------------------------------------------------------------
def _aa_band(dist: np.ndarray, half: float, pixel: np.ndarray) -> np.ndarray:
    """Coverage of a band |dist| < half by pixels `pixel` metres wide (anti-aliased paint)."""
    return np.clip((half - np.abs(dist)) / np.maximum(pixel, 1e-6) + 0.5, 0.0, 1.0)


def _ground(cv: Canvas, rng, st: _Street, lot_surface: dict[int, int]) -> None:
    """Road, kerbs, lawns, sidewalks and lot surfaces on the plane Y = 0, textured in metres."""
    cam = cv.cam
    h = cv.ids.shape[0]
    first = int(np.floor(cam.horizon + 0.5))  # first row whose centre lies below the horizon
    if first >= h:
        return
    xs, ys = cam.pixel_centres()
    xs, ys = xs[first:], ys[first:]
    Z = np.minimum(cam.focal * cam.elevation / np.maximum(ys - cam.horizon, 1e-3), SKY_DEPTH - 1)
    X = (xs - cam.cx) * Z / cam.focal
    px_x = Z / cam.focal  # metres per pixel across
    px_z = Z * Z / (cam.focal * cam.elevation)  # metres per pixel along the road

    cls = np.full(X.shape, ob.ROAD, np.uint8)
    snow = np.zeros(X.shape, np.float32)
    wet = np.ones(X.shape, np.float32)
    albedo = np.empty(X.shape + (3,), np.float32)

    # road: asphalt with repairs and markings
    fine, mid, coarse = (plane_noise(rng, X, Z, cell) for cell in (0.3, 1.3, 6.0))
    asphalt = ob.vary(rng, (0.1, 0.1, 0.105), 0.25)
    road_alb = asphalt * (0.8 + 0.24 * fine + 0.16 * mid)[..., None]
    patches = coarse > 0.72  # repaired asphalt
    road_alb[patches] *= 0.88
    paint = np.zeros(X.shape, np.float32)
    dash = _aa_band(np.mod(Z, 9.0) - 1.5, 1.5, px_z)
    for k in range(1, st.lanes_right):
        paint = np.maximum(paint, _aa_band(X - (st.centre + k * st.lane_w), 0.07, px_x) * dash)
    for k in range(1, st.lanes_left):
        paint = np.maximum(paint, _aa_band(X - (st.centre - k * st.lane_w), 0.07, px_x) * dash)
    paint = np.maximum(paint, _aa_band(X - st.centre, 0.08, px_x))
    for edge in (st.road_l + st.park_l + 0.25, st.road_r - st.park_r - 0.25):
        paint = np.maximum(paint, _aa_band(X - edge, 0.07, px_x))
    if st.crossing is not None:
        zebra = _aa_band(Z - (st.crossing + 2.0), 2.0, px_z) * _aa_band(np.mod(X, 1.0) - 0.5, 0.25, px_x)
        stop = _aa_band(Z - (st.crossing - 1.5), 0.2, px_z) * (X > st.centre)
        paint = np.maximum(paint, np.maximum(zebra, stop))
    worn = 0.75 + 0.25 * mid
    road_alb = road_alb * (1 - paint * worn)[..., None] + (paint * worn)[..., None] * np.float32(0.62)
    albedo[:] = road_alb
    # traffic polishes snow off the wheel tracks; it lingers along the kerbs
    to_kerb = np.minimum(X - st.road_l, st.road_r - X)
    lane_pos = np.mod(X - st.centre, st.lane_w) - st.lane_w / 2
    tracks = np.abs(np.abs(lane_pos) - 0.8) < 0.35
    snow[:] = np.where(tracks, 0.1, 0.45) + 0.55 * np.clip(1.2 - to_kerb, 0, 1)

    for side in (-1, 1):
        kerb, lot = st.kerb(side), st.lot(side)
        lawn = st.lawn_l if side < 0 else st.lawn_r
        off = X * side  # distance outwards from the camera on this side
        walk_a = ob.vary(rng, ((0.3, 0.3, 0.3), (0.36, 0.32, 0.26), (0.3, 0.15, 0.1), (0.22, 0.22, 0.23))[rng.integers(4)], 0.15)
        tile = rng.uniform(0.3, 0.7)
        grout = np.maximum(_aa_band(np.mod(X, tile) - tile / 2, 0.015, px_x), _aa_band(np.mod(Z, tile) - tile / 2, 0.015, px_z))
        walk_alb = walk_a * (0.85 + 0.3 * mid)[..., None] * (1 - 0.35 * grout)[..., None]
        grass_a = ob.vary(rng, (0.05, 0.1, 0.025), 0.2)
        dry = coarse if side < 0 else 1.0 - coarse
        grass_alb = grass_a * (0.7 + 0.6 * fine)[..., None]
        grass_alb = grass_alb * (1 - dry[..., None] * 0.6) + dry[..., None] * np.float32(0.6) * np.array((0.13, 0.11, 0.06), np.float32)

        kerbstone = (off > kerb) & (off <= kerb + 0.25)
        lawn_m = (off > kerb + 0.25) & (off <= kerb + 0.25 + lawn) if lawn > 0 else np.zeros_like(off, bool)
        walk_m = (off > kerb) & (off <= lot) & ~lawn_m
        beyond = off > lot
        cls[walk_m] = ob.SIDEWALK
        albedo[walk_m] = walk_alb[walk_m]
        albedo[kerbstone] = walk_a * 1.4
        snow[walk_m] = 0.9
        wet[walk_m] = 0.6
        cls[lawn_m] = ob.TERRAIN
        albedo[lawn_m] = grass_alb[lawn_m]
        snow[lawn_m] = 1.0
        wet[lawn_m] = 0.1
        cls[beyond] = lot_surface[side]
        albedo[beyond] = (grass_alb if lot_surface[side] == ob.TERRAIN else walk_alb)[beyond]
        snow[beyond] = 1.0
        wet[beyond] = 0.1 if lot_surface[side] == ob.TERRAIN else 0.6

    beyond_end = Z > st.z_end + 40  # past the end of the street: open ground
    cls[beyond_end & (cls == ob.ROAD)] = ob.TERRAIN
    rows, cols = np.nonzero(np.ones(X.shape, bool))
    p = cv.assign(rows + first, cols, ob.ROAD, (0.0, 0.0, 0.0), normal=UP)
    cv.ground_mid = p.mid
    cv.detail(p, label=cls.ravel(), albedo=albedo.reshape(-1, 3), depth=Z.ravel(), snow=snow.ravel(), wet=wet.ravel())


# -- buildings along the street ---------------------------------------------------------------
def _far_row(cv: Canvas, props: ob.Props, rng, st: _Street) -> None:
    """Buildings (or a tree line) across the end of the street, seen face-on."""
    if rng.random() < 0.2:
        return  # the street runs on to the horizon
    z = st.z_end + rng.uniform(5.0, 40.0)
    if rng.random() < 0.3:
        ob.tree_line(cv, props, rng, z, rng.uniform(7.0, 14.0))
        return
    x = -90.0
    while x < 90.0:
        wdt = rng.uniform(8.0, 25.0)
        ob.far_block(cv, props, rng, x, x + wdt, z + rng.uniform(0, 6), rng.uniform(6.0, 30.0), int(rng.integers(1 << 30)))
        x += wdt


def _facade(rng, side: int, x: float, z0: float, z1: float, height: float) -> ob.Facade:
    color = ob.vary(rng, ob.BUILDING_COLORS[rng.integers(len(ob.BUILDING_COLORS))], 0.2)
    trim = ob.vary(rng, ((0.62, 0.6, 0.55), (0.25, 0.25, 0.25), (0.5, 0.42, 0.3))[rng.integers(3)], 0.15)
    return ob.Facade(side, x, z0, z1, height, rng.uniform(10.0, 20.0), color, trim, int(rng.integers(1 << 30)),
                     floor_h=rng.uniform(2.9, 3.7), ground_h=rng.uniform(3.3, 4.8), win_w=rng.uniform(0.9, 1.8),
                     win_h=rng.uniform(1.2, 2.0), spacing=rng.uniform(2.3, 3.8), lit_p=rng.uniform(0.15, 0.55),
                     shop=bool(rng.random() < 0.55))


def _sides(cv: Canvas, props: ob.Props, rng, st: _Street, side: int, back: list, front: list) -> None:
    """One side of the street: blocks on the lot line, gaps with walls/fences/hedges, and
    buildings or trees further back, seen through the gaps (side streets, yards, parks)."""
    lot = st.lot(side)
    z = rng.uniform(-3.0, 4.0)
    while z < st.z_end:
        if rng.random() < 0.7:
            length, height = rng.uniform(8.0, 35.0), rng.uniform(7.0, 26.0)
            setback = rng.uniform(0.0, 1.5) if rng.random() < 0.3 else 0.0
            f = _facade(rng, side, side * (lot + setback), max(z, 0.6), min(z + length, st.z_end), height)
            front.append((f.z0, lambda f=f: ob.street_block(cv, props, f)))
        else:
            length = rng.uniform(5.0, 18.0)
            z0, z1 = max(z, 0.6), min(z + length, st.z_end)
            kind = rng.choice(["wall", "fence", "hedge", "open"], p=[0.35, 0.3, 0.2, 0.15])
            x = side * (lot + 0.15)
            hh = rng.uniform(1.0, 2.6)
            if kind != "open":
                draw = {"wall": ob.wall, "fence": ob.fence, "hedge": ob.hedge}[kind]
                front.append((z0, lambda d=draw, x=x, z0=z0, z1=z1, hh=hh: d(cv, props, rng, x, z0, z1, hh)))
            if rng.random() < 0.6:  # a building behind the gap
                bx = side * (lot + rng.uniform(6.0, 20.0))
                f = _facade(rng, side, bx, max(z - 5, 0.6), z1 + rng.uniform(0, 10), rng.uniform(6.0, 30.0))
                back.append((f.z0, lambda f=f: ob.street_block(cv, props, f)))
            for _ in range(rng.integers(0, 4)):  # trees in the yard or park
                tz = rng.uniform(z0, z1)
                tx = side * (lot + rng.uniform(1.5, 6.0))
                back.append((tz, lambda tx=tx, tz=tz: ob.tree(cv, props, rng, tx, tz, rng.uniform(1.5, 3.5), rng.uniform(1.8, 3.8))))
        z += length


# -- street objects ---------------------------------------------------------------------------
def _street_objects(cv: Canvas, props: ob.Props, rng, st: _Street) -> list:
    """(near Z, draw) for everything standing in the street corridor."""
    items: list = []

    def add(z, fn, *args):
        items.append((z, lambda: fn(cv, props, rng, *args)))

    for side in (-1, 1):
        kerb, lot = st.kerb(side), st.lot(side)
        lawn = st.lawn_l if side < 0 else st.lawn_r
        pole_x = side * (kerb + 0.45)
        z = rng.uniform(3.0, 12.0)
        while z < min(st.z_end, 150.0):
            r = rng.random()
            if r < 0.45:
                add(z, ob.street_lamp, pole_x, z, side)
            elif r < 0.8:
                add(z, ob.sign_post, pole_x, z)
            elif r < 0.9:
                add(z, ob.traffic_light, pole_x, z, side)
            z += rng.uniform(10.0, 28.0)
        if st.crossing is not None:  # signals on both kerbs, maybe one on a mast over the road
            zc = st.crossing - 1.0
            over = st.centre + rng.uniform(0.3, 0.7) * st.lane_w * st.lanes_right if side > 0 and rng.random() < 0.5 else None
            add(zc, ob.traffic_light, pole_x, zc, side, over)
        if lawn > 0 or rng.random() < 0.4:  # street trees
            tx = side * (kerb + 0.25 + lawn / 2) if lawn > 0 else side * (kerb + 0.9)
            z = rng.uniform(4.0, 15.0)
            while z < min(st.z_end, 120.0):
                add(z, ob.tree, tx + rng.uniform(-0.2, 0.2), z, rng.uniform(2.0, 3.5), rng.uniform(1.6, 3.2))
                z += rng.uniform(7.0, 16.0)
        for _ in range(rng.poisson(3.0)):  # pedestrians on the sidewalk
            px = side * rng.uniform(kerb + lawn + 0.5, lot - 0.3)
            pz = rng.uniform(4.0, 60.0)
            hgt = rng.uniform(1.1, 1.4) if rng.random() < 0.08 else rng.normal(1.73, 0.08)
            add(pz, ob.person, px, pz, hgt)
        if rng.random() < 0.3:
            bz = rng.uniform(5.0, 30.0)
            add(bz, ob.parked_bicycle, side * (lot - 0.6), bz)
        park = st.park_l if side < 0 else st.park_r
        if park > 0:  # parked cars along the kerb
            x = side * (kerb - park / 2)
            z = rng.uniform(2.0, 10.0)
            while z < 90.0:
                if rng.random() < 0.55:
                    add(z, ob.car, x + rng.uniform(-0.15, 0.15), z, 1 if side > 0 else -1)
                z += rng.uniform(5.5, 9.0)

    for k in range(st.lanes_left + st.lanes_right):  # traffic
        oncoming = k < st.lanes_left
        x = st.centre - (k + 0.5) * st.lane_w if oncoming else st.centre + (k - st.lanes_left + 0.5) * st.lane_w
        z = rng.uniform(8.0, 25.0) if abs(x) < st.lane_w / 2 else rng.uniform(3.0, 20.0)
        while z < 110.0:
            if rng.random() < 0.5:
                r = rng.random()
                xc = x + rng.uniform(-0.3, 0.3)
                if r < 0.8:
                    add(z, ob.car, xc, z, -1 if oncoming else 1)
                elif r < 0.88:
                    add(z, ob.big_vehicle, xc, z, -1 if oncoming else 1, "truck")
                elif r < 0.95:
                    add(z, ob.big_vehicle, xc, z, -1 if oncoming else 1, "bus")
                elif not oncoming:
                    add(z, ob.motorcyclist, xc, z)
            z += rng.uniform(12.0, 40.0)

    if st.crossing is not None:  # people and cyclists crossing on the zebra
        for _ in range(rng.poisson(1.5)):
            pz = st.crossing + rng.uniform(0.5, 3.5)
            add(pz, ob.person, rng.uniform(st.road_l, st.road_r), pz, rng.normal(1.72, 0.08), True)
    if rng.random() < 0.3:
        cz = rng.uniform(10.0, 40.0)
        add(cz, ob.cyclist, rng.uniform(st.road_l + 1, st.road_r - 1), cz, 1 if rng.random() < 0.5 else -1)
    return items


def _texture(ly: Layers, rng) -> None:
    """Per-class texture noise so that instances are not flat colour patches."""
    h, w = ly.label.shape
    cell = max(w / 128.0, 1.0)
    noise = 0.55 * value_noise(rng, (h, w), 1.5 * cell) + 0.45 * value_noise(rng, (h, w), 5 * cell)
    amp = _TEXTURE[ly.label]
    ly.albedo *= np.clip(1.0 + amp * (noise - 0.5) * 1.6, 0.2, 2.0)[..., None]


def class_histogram(label: np.ndarray) -> np.ndarray:
    """Pixel count per train id (length NUM_CLASSES)."""
    return np.bincount(label.ravel(), minlength=256)[:NUM_CLASSES]
