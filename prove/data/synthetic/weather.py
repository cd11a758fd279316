"""The seven domains: how weather and time of day light and degrade one street scene.

Light is computed in linear radiance from the scene's intrinsic layers:

    radiance = albedo * (sky light * hemisphere * AO + sun * max(0, n.l) * shadow + lamps)
               + emitters + wet-road reflections,

then the atmosphere (Koschmieder: I = J t + A (1 - t), t = exp(-beta d)), precipitation in
front of the scene, and a camera (auto exposure, lens blur, photon shot noise, read noise, a
tone curve, 8-bit quantisation). Domains differ only in the `Look` that parameterises these
steps, never in the layout, so the label is the same in every domain:

- clear_day: high sun with hard shadows, blue sky light, a few clouds, almost no haze.
- cloudy: no direct sun, flat grey overcast (diffuse light from the whole sky dome).
- dawn_dusk: sun a few degrees above the horizon, warm and weak, so long shadows cross the
  street; orange-to-pink sky glowing towards the sun, bluish sky light, lamps coming on.
- foggy: meteorological visibility 35-140 m (beta = 3.912 / V), grey airlight, no sun.
- night: moonless sky glow only, street lamps, car lights and lit windows; high gain makes
  shot and read noise visible; light halos from scattering.
- rainy: overcast, wet darker road mirroring what stands on it, haze, motion-blurred drops.
- snowy: snow cover on upward surfaces (sidewalks, kerbs, lawns, ledges, crown tops), slush
  in the wheel tracks, flat bright light, haze and falling flakes sized by their distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from prove.data.domains import DOMAINS, check_domain
from prove.data.synthetic.canvas import SKY_DEPTH, plane_noise, value_noise
from prove.data.synthetic.objects import HEADLIGHT, Light
from prove.data.synthetic.scene import Scene

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
SNOW_ALBEDO = np.array([0.82, 0.85, 0.9], np.float32)
WINDOW_GLOW = np.array([0.5, 0.36, 0.17], np.float32)


@dataclass(frozen=True)
class Look:
    """Everything a domain sets: illumination, atmosphere, precipitation and camera."""

    sun: np.ndarray | None  # unit vector towards the sun; None when overcast
    sun_color: np.ndarray  # irradiance of the direct sun on a surface facing it
    ambient: np.ndarray  # sky-light irradiance on an upward-facing surface
    zenith: np.ndarray  # sky radiance overhead
    horizon: np.ndarray  # sky radiance at the horizon
    clouds: float  # fraction of the sky covered by clouds
    cloud_color: np.ndarray
    beta: float  # extinction coefficient (1/m); visibility = 3.912 / beta
    airlight: np.ndarray  # radiance of the atmosphere at infinite distance
    lamps: float  # street lamps and lit windows (0 off .. 1 night)
    car_lights: float  # head and tail lights
    key: float  # auto-exposure target: log-average linear value after gain
    max_gain: float  # the camera's highest gain; limits how bright night can get
    electrons: float  # photo-electrons at full scale: fewer = more shot noise
    read_noise: float  # electrons
    wet: float  # road wetness (0..1)
    snow: float  # snow cover (0..1)
    rain: float  # drop density (0..1)
    flakes: float  # flake density (0..1)
    wind: float  # slant of falling precipitation, radians


def _c(*rgb) -> np.ndarray:
    return np.array(rgb, np.float32)


def _sun(elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    """Unit vector towards the sun; azimuth from straight ahead (+Z) towards the right (+X)."""
    e, a = np.radians(elevation_deg), np.radians(azimuth_deg)
    return _c(np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a))


def sample_look(domain: str, rng: np.random.Generator) -> Look:
    """The look of one rendering of `domain`, with per-image variation drawn from `rng`."""
    check_domain(domain)
    u = rng.uniform
    side = 1.0 if rng.random() < 0.5 else -1.0
    base = dict(sun=None, sun_color=_c(0, 0, 0), clouds=1.0, lamps=0.0, car_lights=0.0, max_gain=4.0,
                electrons=6000.0, read_noise=4.0, wet=0.0, snow=0.0, rain=0.0, flakes=0.0, wind=0.0)
    if domain == "clear_day":
        horizon = _c(0.6, 0.72, 0.88) * u(1.0, 1.25)
        return Look(**{**base, "sun": _sun(u(30, 65), side * u(25, 155)), "sun_color": _c(1.0, 0.95, 0.86) * u(2.6, 3.3),
                       "ambient": _c(0.3, 0.37, 0.5) * u(0.9, 1.1), "zenith": _c(0.12, 0.26, 0.7) * u(0.9, 1.15),
                       "horizon": horizon, "clouds": u(0.0, 0.3), "cloud_color": _c(1.2, 1.2, 1.22),
                       "beta": u(0.0015, 0.003), "airlight": horizon * 0.9, "key": 0.17})
    if domain == "cloudy":
        grey = u(0.75, 1.05)
        return Look(**{**base, "ambient": _c(0.72, 0.75, 0.8) * grey, "zenith": _c(0.52, 0.54, 0.58) * grey,
                       "horizon": _c(0.72, 0.74, 0.77) * grey, "cloud_color": _c(0.42, 0.44, 0.48) * grey,
                       "beta": u(0.004, 0.008), "airlight": _c(0.7, 0.72, 0.75) * grey, "key": 0.14})
    if domain == "dawn_dusk":
        sun = _sun(u(2, 9), side * u(35, 145))
        return Look(**{**base, "sun": sun, "sun_color": _c(1.0, 0.48, 0.2) * u(1.8, 2.6),
                       "ambient": _c(0.15, 0.14, 0.24) * u(0.8, 1.2), "zenith": _c(0.06, 0.07, 0.2) * u(0.8, 1.2),
                       "horizon": _c(1.0, 0.48, 0.26) * u(0.8, 1.1), "clouds": u(0.1, 0.5),
                       "cloud_color": _c(0.95, 0.42, 0.4) * u(0.6, 1.0), "beta": u(0.003, 0.006),
                       "airlight": _c(0.5, 0.33, 0.28) * u(0.6, 0.9), "lamps": u(0.25, 0.5), "car_lights": 0.6,
                       "key": 0.09, "max_gain": 6.0, "electrons": 2500.0})
    if domain == "foggy":
        visibility = u(35.0, 140.0)  # metres: dense to moderate fog
        air = _c(0.72, 0.74, 0.77) * u(0.85, 1.1)
        return Look(**{**base, "ambient": air * 0.95, "zenith": air, "horizon": air, "clouds": 0.0,
                       "cloud_color": air, "beta": 3.912 / visibility, "airlight": air, "car_lights": 0.5,
                       "key": 0.3})
    if domain == "night":
        return Look(**{**base, "ambient": _c(0.005, 0.006, 0.011) * u(0.6, 1.4),
                       "zenith": _c(0.0015, 0.002, 0.006), "horizon": _c(0.03, 0.021, 0.014) * u(0.6, 1.4),
                       "clouds": u(0.0, 0.6), "cloud_color": _c(0.02, 0.015, 0.011), "beta": u(0.002, 0.005),
                       "airlight": _c(0.012, 0.009, 0.006), "lamps": 1.0, "car_lights": 1.0, "key": 0.012,
                       "max_gain": 3.0, "electrons": 250.0, "read_noise": 3.0})
    if domain == "rainy":
        grey = u(0.7, 1.0)
        return Look(**{**base, "ambient": _c(0.45, 0.48, 0.53) * grey, "zenith": _c(0.36, 0.38, 0.42) * grey,
                       "horizon": _c(0.5, 0.52, 0.55) * grey, "cloud_color": _c(0.28, 0.3, 0.33) * grey,
                       "beta": u(0.008, 0.02), "airlight": _c(0.46, 0.48, 0.52) * grey, "lamps": u(0.0, 0.2),
                       "car_lights": 0.7, "key": 0.12, "electrons": 3000.0, "wet": u(0.8, 1.0), "rain": u(0.6, 1.0),
                       "wind": u(-0.3, 0.3)})
    # snowy
    grey = u(0.85, 1.05)
    return Look(**{**base, "ambient": _c(0.85, 0.88, 0.95) * grey, "zenith": _c(0.72, 0.74, 0.78) * grey,
                   "horizon": _c(0.82, 0.84, 0.87) * grey, "cloud_color": _c(0.62, 0.64, 0.68) * grey,
                   "beta": u(0.006, 0.02), "airlight": _c(0.8, 0.82, 0.86) * grey, "car_lights": 0.4,
                   "key": 0.45, "wet": 0.2, "snow": u(0.75, 1.0), "flakes": u(0.5, 1.0), "wind": u(-0.4, 0.4)})


def domain_rng(seed: int, domain: str) -> np.random.Generator:
    """The random stream of one (layout, domain) rendering; independent of other domains."""
    return np.random.default_rng([int(seed), 1 + DOMAINS.index(check_domain(domain))])


def render(scene: Scene, domain: str, rng: np.random.Generator | None = None, *,
           precipitation: bool = True) -> np.ndarray:
    """The scene as an 8-bit RGB image in `domain` (the label is `scene.label`, unchanged).

    `precipitation=False` leaves out the rain streaks / snow flakes (tests compare both).
    """
    rng = domain_rng(scene.seed, domain) if rng is None else rng
    # separate streams, so leaving out precipitation leaves every other pixel unchanged
    rng, fall_rng, sensor_rng = (np.random.default_rng(int(s)) for s in rng.integers(0, 2**63 - 1, size=3))
    look = sample_look(domain, rng)
    h, w = scene.label.shape
    sky = scene.depth >= SKY_DEPTH

    albedo = scene.albedo
    if look.snow > 0:
        albedo = _snow_cover(scene, albedo, look.snow, rng)
    if look.wet > 0:  # water fills the pores of asphalt and stone: wet surfaces are darker
        albedo = albedo * (1.0 - 0.5 * look.wet * scene.wet)[..., None]

    # sky light: a surface sees the fraction (1 + n_y) / 2 of the sky dome
    irradiance = look.ambient * ((0.5 + 0.5 * scene.normal[..., 1]) * scene.ao)[..., None]
    if look.sun is not None:
        facing = np.clip(scene.normal @ look.sun, 0.0, None)
        irradiance = irradiance + look.sun_color * (facing * scene.sun_visibility(look.sun))[..., None]
    irradiance = irradiance + _artificial_light(scene, look)
    rad = albedo * irradiance

    sky_rad = _sky(scene, look, rng)
    rad += scene.glass[..., None] * (0.1 * look.horizon + 0.05 * look.ambient)  # glass mirrors the sky
    if look.lamps > 0:  # lit rooms, each a little different
        glow = (scene.lit * look.lamps * (0.6 + 0.8 * value_noise(rng, (h, w), 3.0)))[..., None]
        rad += glow * WINDOW_GLOW
    rad[sky] = sky_rad
    emit = scene.emissive * max(look.lamps, look.car_lights) + scene.signal
    rad += emit
    if look.wet > 0:
        rad = _wet_reflections(scene, rad, look.wet, rng)

    # atmosphere: Koschmieder's law on the surfaces; the sky already is the atmosphere
    t = np.exp(-look.beta * scene.distance)[..., None]
    fogged = rad * t + look.airlight * (1.0 - t)
    rad = np.where(sky[..., None], rad, fogged).astype(np.float32)
    rad += _glow(emit, look, w)

    if precipitation and look.rain > 0:
        rad = _rain(scene, rad, look, fall_rng)
    if precipitation and look.flakes > 0:
        rad = _snowfall(scene, rad, look, fall_rng)
    return _camera(rad, look, sensor_rng)


# -- illumination ---------------------------------------------------------------------------
def _artificial_light(scene: Scene, look: Look) -> np.ndarray:
    """Irradiance from street lamps and vehicle lights (inverse square, Lambert, spot cones).

    Skipped in daylight, where it is negligible next to the sky light, and computed on every
    second pixel (the light field is smooth) to keep night renders cheap.
    """
    h, w = scene.label.shape
    out = np.zeros((h, w, 3), np.float32)
    if float(look.ambient @ LUMA) > 0.25:
        return out
    lights = [(L, look.lamps if L.kind == "street_lamp" else look.car_lights) for L in scene.lights]
    if look.car_lights > 0.5:  # the camera car's own low beams light the road ahead
        for dx in (-0.7, 0.7):
            lights.append((Light("headlight", (dx, 0.65, 0.0), HEADLIGHT, 90.0, (0.0, -0.05, 1.0), 10.0), look.car_lights))
    lights = [(L, s) for L, s in lights if s > 0]
    if not lights:
        return out
    step = 2 if min(h, w) >= 64 else 1
    solid = scene.depth[::step, ::step] < SKY_DEPTH
    pts = scene.points[::step, ::step][solid]
    nrm = scene.normal[::step, ::step][solid]
    acc = np.zeros((len(pts), 3), np.float32)
    px, py, pz = (np.ascontiguousarray(pts[:, k]) for k in range(3))
    nx, ny, nz = (np.ascontiguousarray(nrm[:, k]) for k in range(3))
    for light, strength in lights:
        lx, ly, lz = light.position
        vx, vy, vz = lx - px, ly - py, lz - pz
        d2 = vx * vx + vy * vy + vz * vz + 0.25
        inv = 1.0 / np.sqrt(d2)
        k = np.maximum((nx * vx + ny * vy + nz * vz) * inv, 0.0) * (light.power * strength) / d2
        if light.direction is not None:
            ax, ay, az = np.asarray(light.direction, np.float64) / np.linalg.norm(light.direction)
            k *= np.maximum(-(vx * ax + vy * ay + vz * az) * inv, 0.0) ** light.cone
        acc += k[:, None] * np.asarray(light.color, np.float32)
    small = np.zeros(solid.shape + (3,), np.float32)
    small[solid] = acc
    if step == 1:
        return small
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _sky(scene: Scene, look: Look, rng) -> np.ndarray:
    """Radiance of the sky pixels (N, 3): horizon-to-zenith gradient, a glow around the
    sun, and clouds on a layer above the camera (so they crowd towards the horizon)."""
    d = scene.rays[scene.depth >= SKY_DEPTH]
    t = np.clip(d[:, 1:2] / 0.6, 0.0, 1.0) ** 0.5
    horizon = look.horizon
    if look.sun is not None:
        flat = d[:, [0, 2]] / np.maximum(np.hypot(d[:, 0], d[:, 2]), 1e-6)[:, None]
        sflat = look.sun[[0, 2]] / max(float(np.hypot(look.sun[0], look.sun[2])), 1e-6)
        towards = 0.5 + 0.5 * (flat @ sflat)[:, None]  # the horizon is brightest towards the sun
        horizon = look.horizon * (0.55 + 0.6 * towards)
    sky = horizon * (1.0 - t) + look.zenith * t
    if look.sun is not None:
        c = np.clip(d @ look.sun, -1.0, 1.0)[:, None]
        sky = sky + look.sun_color * (0.12 * np.exp((c - 1.0) / 0.02) + 3.0 * np.exp((c - 1.0) / 0.0004))
    if look.clouds > 0 and len(d):
        dy = np.maximum(d[:, 1], 0.03)
        u, v = d[:, 0] / dy, d[:, 2] / dy
        n = 0.65 * plane_noise(rng, u, v, 1.6) + 0.35 * plane_noise(rng, u, v, 0.5)
        cover = np.clip((n - (1.0 - look.clouds) + 0.12) / 0.24, 0.0, 1.0)[:, None]
        sky = sky * (1.0 - cover) + (look.cloud_color * (0.75 + 0.5 * n)[:, None]) * cover
    return sky.astype(np.float32)


def _snow_cover(scene: Scene, albedo: np.ndarray, amount: float, rng) -> np.ndarray:
    """Blend surfaces that hold snow towards the albedo of snow, patchily."""
    h, w = scene.label.shape
    patch = 0.6 * value_noise(rng, (h, w), 6.0) + 0.4 * value_noise(rng, (h, w), 1.5)
    cover = np.clip((scene.snow * amount * 1.3 - 0.15 + (patch - 0.5) * 0.9) * 2.0, 0.0, 1.0)[..., None]
    return albedo * (1.0 - cover) + SNOW_ALBEDO * cover


def _wet_reflections(scene: Scene, rad: np.ndarray, wet: float, rng) -> np.ndarray:
    """A wet road mirrors what stands on it: each road pixel reflects the pixel as far above
    the base of the object over it as it lies below (a planar mirror), with Fresnel
    reflectance rising towards grazing angles, ripples and puddles."""
    h, w = scene.label.shape
    rows = np.arange(h)[:, None].repeat(w, axis=1)
    base = np.maximum.accumulate(np.where(scene.ground, -1, rows), axis=0)  # last non-road row above
    mirror = 2 * base - rows + 1
    valid = scene.ground & (base >= 0) & (mirror >= 0)
    src = np.clip(mirror, 0, h - 1)
    refl = rad[src, np.arange(w)[None, :]]
    refl = cv2.blur(refl, (3, max(5, h // 12) | 1))  # ripples and rough asphalt smear it, mostly vertically
    cos_view = np.clip(-scene.rays[..., 1], 0.0, 1.0)
    fresnel = 0.02 + 0.98 * (1.0 - cos_view) ** 5
    puddles = np.clip((value_noise(rng, (h, w), 8.0) - 0.55) * 4.0, 0.0, 1.0)
    k = np.clip(wet * scene.wet * (0.6 * fresnel + 0.35 * puddles), 0.0, 0.5) * valid
    return (rad * (1.0 - k[..., None]) + refl * k[..., None]).astype(np.float32)


def _glow(emit: np.ndarray, look: Look, width: int) -> np.ndarray:
    """Halos around lights: lens flare plus forward scattering, which grows with extinction."""
    if not emit.any():
        return np.zeros_like(emit)
    s = width / 256.0
    near = cv2.GaussianBlur(emit, (0, 0), 1.2 * s)
    far = cv2.GaussianBlur(emit, (0, 0), 5.0 * s)
    return (0.35 * near + (0.12 + 8.0 * look.beta) * far).astype(np.float32)


# -- precipitation --------------------------------------------------------------------------
def _rain(scene: Scene, rad: np.ndarray, look: Look, rng) -> np.ndarray:
    """Rain streaks: drops fall about 0.15 m during the exposure, so a drop at distance z is
    a streak f * 0.15 / z pixels long; near drops are longer, wider and fainter (defocus).
    Drops behind a surface are hidden."""
    h, w = scene.label.shape
    f = scene.camera.focal
    n = int(look.rain * 0.008 * h * w)
    z = np.exp(rng.uniform(np.log(0.7), np.log(25.0), n))
    x, y = rng.uniform(0, w, n), rng.uniform(-0.3 * h, h, n)
    length = f * 0.15 / z + 1.5
    ang = look.wind + rng.normal(0.0, 0.04, n)
    dx, dy = np.sin(ang) * length, np.cos(ang) * length
    thick = np.where(z < 0.9, 2, 1)
    alpha = np.clip(rng.uniform(0.12, 0.35, n) * np.where(z < 1.5, 0.5, 1.0), 0.0, 1.0)
    my = np.clip((y + dy / 2).astype(int), 0, h - 1)
    mx = np.clip((x + dx / 2).astype(int), 0, w - 1)
    visible = scene.depth[my, mx] > z
    layer = np.zeros((h, w), np.uint8)
    s = 1 << 4
    for i in np.nonzero(visible)[0]:
        cv2.line(layer, (int(x[i] * s), int(y[i] * s)), (int((x[i] + dx[i]) * s), int((y[i] + dy[i]) * s)),
                 int(alpha[i] * 255), int(thick[i]), cv2.LINE_AA, 4)
    a = (layer.astype(np.float32) / 255.0)[..., None]
    streak = 0.9 * look.horizon + 0.5 * look.ambient  # drops refract the bright sky towards the camera
    return (rad * (1.0 - a) + streak * a).astype(np.float32)


def _snowfall(scene: Scene, rad: np.ndarray, look: Look, rng) -> np.ndarray:
    """Falling flakes (~1 cm clumps) drawn at their distance: radius f * 0.005 / z pixels;
    near flakes are out of focus (blurred) and far ones hidden behind surfaces."""
    h, w = scene.label.shape
    f = scene.camera.focal
    n = int(look.flakes * 0.012 * h * w)
    z = np.exp(rng.uniform(np.log(0.7), np.log(30.0), n))
    x, y = rng.uniform(0, w, n), rng.uniform(0, h, n)
    r = np.maximum(f * 0.005 / z, 0.45)
    fall = f * 0.03 / z  # short motion smear
    alpha = rng.uniform(0.55, 1.0, n)
    visible = scene.depth[np.clip(y.astype(int), 0, h - 1), np.clip(x.astype(int), 0, w - 1)] > z
    layers = [np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)]  # in focus, out of focus
    s = 1 << 4
    for i in np.nonzero(visible)[0]:
        target = layers[1 if z[i] < 2.0 else 0]
        p = (int(x[i] * s), int(y[i] * s))
        q = (int((x[i] + np.sin(look.wind) * fall[i]) * s), int((y[i] + fall[i]) * s))
        cv2.line(target, p, q, int(alpha[i] * 255), max(1, int(round(2 * r[i]))), cv2.LINE_AA, 4)
    near = cv2.GaussianBlur(layers[1], (0, 0), max(1.0, w / 200.0))
    a = (np.maximum(layers[0], near).astype(np.float32) / 255.0)[..., None]
    flake = SNOW_ALBEDO * look.ambient * 1.1
    return (rad * (1.0 - a) + flake * a).astype(np.float32)


# -- camera ---------------------------------------------------------------------------------
def _camera(rad: np.ndarray, look: Look, rng) -> np.ndarray:
    """Auto exposure (log-average luminance to `key`, capped gain), lens blur, shot noise
    (Poisson in photo-electrons), read noise (Gaussian), a filmic tone curve, 8-bit sRGB-ish."""
    w = rad.shape[1]
    lum = rad @ LUMA
    log_avg = float(np.exp(np.mean(np.log(lum + 1e-4))))
    gain = float(np.clip(look.key / log_avg, 0.05, look.max_gain))
    x = cv2.GaussianBlur(rad * gain, (0, 0), 0.5 * w / 256.0)
    e = look.electrons
    x = np.clip(x, 0.0, _TONE_MAX)
    # shot noise (Poisson, variance = signal in electrons; Gaussian-approximated) plus read noise
    sigma = np.sqrt(x * e + look.read_noise ** 2) / e
    x = np.clip(x + sigma * rng.standard_normal(x.shape, dtype=np.float32), 0.0, _TONE_MAX)
    return _TONE_LUT[(np.sqrt(x / _TONE_MAX) * (len(_TONE_LUT) - 1) + 0.5).astype(np.int32)]


def _tone_lut(n: int = 8192) -> np.ndarray:
    """Reinhard tone curve (white point 2) then display gamma 1/2.2, tabulated on a square-root
    grid over [0, _TONE_MAX] (fine steps in the shadows, where the gamma curve is steep)."""
    x = (np.linspace(0.0, 1.0, n) ** 2) * _TONE_MAX
    y = np.clip(x * (1.0 + x / 4.0) / (1.0 + x), 0.0, 1.0)
    return (y ** (1 / 2.2) * 255.0 + 0.5).astype(np.uint8)


_TONE_MAX = 8.0
_TONE_LUT = _tone_lut()
