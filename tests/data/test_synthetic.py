"""The embedded weather benchmark: determinism, labels, domain physics, caching, the adapter."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prove.data import DATASETS
from prove.data.domains import DOMAINS
from prove.data.labels import CLASS_ID, NUM_CLASSES
from prove.data.synthetic import (
    WeatherBench,
    build_scene,
    cache_key,
    ensure_generated,
    generate,
    layout_seed,
    read_manifest,
    render,
    render_scene,
    verify,
)
from prove.data.synthetic import benchmark
from prove.data.synthetic.canvas import SKY_DEPTH
from prove.data.synthetic.weather import LUMA, domain_rng
from prove.errors import ProveError

SMALL = (128, 64)
TINY_COUNTS = {"train": 2, "val": 1, "test": 1}
SEEDS = [layout_seed(0, "test", i) for i in range(6)]


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """A private prove cache (never ~/.cache) and no dataset root from the environment."""
    monkeypatch.setenv("PROVE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PROVE_WEATHER_BENCH_ROOT", raising=False)
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def scenes():
    return [build_scene(s) for s in SEEDS]


@pytest.fixture(scope="module")
def renders(scenes):
    return [{d: render(sc, d) for d in DOMAINS} for sc in scenes]


@pytest.fixture(scope="module")
def small_root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("bench") / "wb", seed=3, size=SMALL, counts=TINY_COUNTS, workers=1)


def _luma(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) @ LUMA


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- determinism ------------------------------------------------------------------------------
def test_render_scene_is_deterministic():
    for domain in DOMAINS:
        a_img, a_lab = render_scene(11, domain, SMALL)
        b_img, b_lab = render_scene(11, domain, SMALL)
        assert a_img.dtype == np.uint8 and a_img.shape == (SMALL[1], SMALL[0], 3)
        assert np.array_equal(a_img, b_img) and np.array_equal(a_lab, b_lab)
    assert not np.array_equal(render_scene(12, "clear_day", SMALL)[1], render_scene(11, "clear_day", SMALL)[1])


def test_generation_is_byte_identical_whatever_the_worker_count(tmp_path, small_root):
    counts = {"train": 6, "val": 1, "test": 1}  # 8 layouts: enough to use the process pool
    one = generate(tmp_path / "one", seed=5, size=SMALL, counts=counts, workers=1)
    two = generate(tmp_path / "two", seed=5, size=SMALL, counts=counts, workers=2)
    a, b = _files(one), _files(two)
    assert len(a) == 2 * 7 * 8 + 1 and a == b
    assert read_manifest(one)["digest"] == read_manifest(two)["digest"]
    assert read_manifest(one)["digest"] != read_manifest(small_root)["digest"]


# -- labels -----------------------------------------------------------------------------------
def test_labels_are_train_ids(scenes):
    for sc in scenes:
        assert sc.label.dtype == np.uint8
        assert sc.label.max() < NUM_CLASSES  # every pixel labelled, no ignore needed


def test_required_classes_appear_across_a_few_scenes(scenes):
    seen = set()
    for sc in scenes:
        seen |= set(np.unique(sc.label).tolist())
    required = ["road", "sidewalk", "building", "pole", "traffic sign", "traffic light", "vegetation",
                "terrain", "sky", "person", "car"]
    assert {CLASS_ID[c] for c in required} <= seen, [c for c in required if CLASS_ID[c] not in seen]
    assert {CLASS_ID["wall"], CLASS_ID["fence"]} & seen


def test_labels_identical_across_domains():
    labels = [render_scene(SEEDS[0], d, SMALL)[1] for d in DOMAINS]
    assert all(np.array_equal(labels[0], lab) for lab in labels[1:])


def test_depth_grows_towards_the_horizon(scenes):
    sc = scenes[0]
    road = sc.label == CLASS_ID["road"]
    rows = [r for r in range(sc.label.shape[0]) if road[r].any()]
    depths = [sc.depth[r][road[r]].mean() for r in rows]
    assert all(a >= b for a, b in zip(depths, depths[1:]))  # lower rows are nearer
    assert (sc.depth[sc.label == CLASS_ID["sky"]] == SKY_DEPTH).all()


# -- domain effects ---------------------------------------------------------------------------
def test_fog_pulls_far_pixels_to_the_airlight(scenes, renders):
    for sc, imgs in zip(scenes, renders):
        sky = sc.depth >= SKY_DEPTH
        near, far = sc.depth < 12, (sc.depth > 60) & ~sky
        if not (sky.any() and near.any() and far.sum() > 20):
            continue
        fog, clear = imgs["foggy"].astype(np.float32), imgs["clear_day"].astype(np.float32)
        airlight = fog[sky].mean(axis=0)  # the foggy sky is pure airlight
        gap = lambda img, m: float(np.abs(img[m] - airlight).mean())  # noqa: E731
        assert gap(fog, far) < 0.35 * gap(fog, near)  # t = exp(-beta d) falls with distance
        assert gap(fog, far) < 0.5 * gap(clear, far)  # and far more than in clear air


def test_night_is_much_darker(renders):
    night = np.mean([_luma(r["night"]).mean() for r in renders])
    day = np.mean([_luma(r["clear_day"]).mean() for r in renders])
    assert night < 0.5 * day


def test_night_has_sensor_noise_and_lights(scenes):
    sc = scenes[0]
    a = render(sc, "night", domain_rng(sc.seed, "night"))
    b = render(sc, "night", np.random.default_rng([sc.seed, 99]))  # other noise draw
    flat = _luma(a) - _luma(b)
    assert flat.std() > 1.5  # shot + read noise differ between exposures
    assert (_luma(a) > 200).sum() > 3  # lamps / car lights / signals saturate


def test_snow_whitens_the_scene(renders):
    white = lambda img: float((img.min(axis=-1) > 170).mean())  # noqa: E731
    for imgs in renders:
        assert white(imgs["snowy"]) > white(imgs["clear_day"]) + 0.15


def test_snow_settles_on_upward_surfaces(scenes, renders):
    checked = 0
    for sc, imgs in zip(scenes, renders):
        walk = (sc.label == CLASS_ID["sidewalk"]) & (sc.depth < 40)
        wall = (sc.label == CLASS_ID["building"]) & (sc.depth < 40)  # vertical: holds no snow
        if walk.sum() < 50 or wall.sum() < 50:
            continue
        ratio = lambda img: _luma(img)[walk].mean() / _luma(img)[wall].mean()  # noqa: E731
        assert ratio(imgs["snowy"]) > 1.1 * ratio(imgs["cloudy"])
        checked += 1
    assert checked


def test_rain_draws_streaks_along_the_fall_direction(scenes):
    sc = scenes[1]
    wet = render(sc, "rainy", domain_rng(sc.seed, "rainy"))
    dry = render(sc, "rainy", domain_rng(sc.seed, "rainy"), precipitation=False)
    streak = _luma(wet) - _luma(dry) > 6
    assert 0.01 < streak.mean() < 0.4
    down = (streak[1:] & streak[:-1]).sum() / streak[:-1].sum()
    across = (streak[:, 1:] & streak[:, :-1]).sum() / streak[:, :-1].sum()
    assert down > 1.2 * across  # elongated: motion-blurred drops


def test_snowfall_adds_bright_flakes(scenes):
    sc = scenes[2]
    a = render(sc, "snowy", domain_rng(sc.seed, "snowy"))
    b = render(sc, "snowy", domain_rng(sc.seed, "snowy"), precipitation=False)
    assert (_luma(a) - _luma(b) > 10).mean() > 0.005


def test_dawn_sky_is_warm_and_clear_sky_blue(scenes, renders):
    for sc, imgs in zip(scenes, renders):
        sky = sc.depth >= SKY_DEPTH
        if sky.sum() < 30:
            continue
        warmth = lambda img: float(img[sky][:, 0].astype(float).mean() - img[sky][:, 2].mean())  # noqa: E731
        assert warmth(imgs["dawn_dusk"]) > 5
        assert warmth(imgs["clear_day"]) < -5
        assert abs(warmth(imgs["cloudy"])) < abs(warmth(imgs["clear_day"]))  # overcast is grey


def test_low_sun_casts_longer_shadows(scenes):
    from prove.data.synthetic.weather import _sun

    sc = scenes[0]
    ground = sc.ground
    high = sc.sun_visibility(_sun(60, 70))[ground].mean()
    low = sc.sun_visibility(_sun(6, 70))[ground].mean()
    assert low < high


def test_unknown_domain_is_an_error(scenes):
    with pytest.raises(ProveError):
        render(scenes[0], "sandstorm")


# -- generation, cache, adapter ---------------------------------------------------------------
def test_adapter_generates_into_the_cache_and_lists_everything(cache):
    ds = DATASETS.get("embedded")(size=SMALL, counts=TINY_COUNTS)
    assert isinstance(ds, WeatherBench) and DATASETS.canonical("default") == "weather_bench"
    assert ds.root == cache / "weather_bench" / cache_key(0, SMALL, TINY_COUNTS)
    for split, n in TINY_COUNTS.items():
        samples = ds.samples(split, need_domains=True)
        assert len(samples) == 7 * n
        assert {s.domain for s in samples} == set(DOMAINS)
        assert len({s.name for s in samples}) == len(samples)
        for s in samples:
            assert s.name == s.image.relative_to(ds.root).as_posix() and s.name.startswith(f"{s.domain}/{split}/")
            assert s.image.is_file() and s.label.is_file()
        label = ds.load_label(samples[0])
        assert label.shape == (SMALL[1], SMALL[0]) and label.dtype == np.uint8
        # the same layout under the same name in every domain, with one label
        first = {s.domain: s for s in samples if s.name.endswith("0000_image.png")}
        assert len(first) == 7
        assert all(np.array_equal(ds.load_label(first["clear_day"]), ds.load_label(s)) for s in first.values())
    assert not list((cache / "weather_bench").glob(".*partial*"))


def test_cached_dataset_is_reused(cache, monkeypatch):
    root = ensure_generated(size=SMALL, counts=TINY_COUNTS)

    def fail(*args, **kwargs):
        raise AssertionError("regenerated a cached dataset")

    monkeypatch.setattr(benchmark, "generate", fail)
    assert ensure_generated(size=SMALL, counts=TINY_COUNTS) == root
    assert WeatherBench(size=SMALL, counts=TINY_COUNTS).root == root


def test_reads_an_existing_root(small_root, cache):
    ds = WeatherBench(root=small_root)
    assert ds.root == small_root
    assert len(ds.list_samples("val")) == 7
    assert ds.manifest["params"]["seed"] == 3 and ds.manifest["images"] == 7 * sum(TINY_COUNTS.values())


def test_root_from_environment(small_root, cache, monkeypatch):
    monkeypatch.setenv("PROVE_WEATHER_BENCH_ROOT", str(small_root))
    assert WeatherBench().root == small_root
    assert not (cache / "weather_bench").exists()


def test_rejects_a_folder_that_is_not_a_generated_benchmark(tmp_path, cache):
    with pytest.raises(ProveError, match="not a generated weather_bench"):
        WeatherBench(root=tmp_path)
    with pytest.raises(ProveError):
        WeatherBench(root=tmp_path / "missing")


def test_failure_mid_generation_leaves_no_dataset(cache, monkeypatch):
    real = benchmark.render
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 10:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(benchmark, "render", flaky)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ensure_generated(size=SMALL, counts=TINY_COUNTS, workers=1)
    parent = cache / "weather_bench"
    assert not (parent / cache_key(0, SMALL, TINY_COUNTS)).exists()
    assert not list(parent.iterdir())  # the partial folder is gone too
    monkeypatch.setattr(benchmark, "render", real)
    assert (ensure_generated(size=SMALL, counts=TINY_COUNTS, workers=1) / "manifest.json").is_file()


def test_generate_never_overwrites(small_root):
    with pytest.raises(benchmark.DatasetExistsError):
        generate(small_root, size=SMALL, counts=TINY_COUNTS)


def test_manifest_digest_and_verify(small_root, tmp_path):
    manifest = json.loads((small_root / "manifest.json").read_text())
    assert manifest["params"] == {"seed": 3, "width": SMALL[0], "height": SMALL[1], "counts": TINY_COUNTS,
                                  "domains": list(DOMAINS)}
    assert len(manifest["files"]) == 2 * manifest["images"] and verify(small_root) == []
    assert sum(manifest["class_pixels"]["train"]) == TINY_COUNTS["train"] * SMALL[0] * SMALL[1]
    copy = tmp_path / "copy"
    copy.mkdir()
    for rel, data in _files(small_root).items():
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes(data)
    victim = next(iter(manifest["files"]))
    (copy / victim).write_bytes(b"tampered")
    assert verify(copy) == [victim]


def test_bad_parameters_are_user_errors(tmp_path):
    with pytest.raises(ProveError):
        generate(tmp_path / "a", counts={"training": 3})
    with pytest.raises(ProveError):
        generate(tmp_path / "b", size=(8, 8))
    with pytest.raises(ProveError):
        generate(tmp_path / "c", counts={"train": 0, "val": 0, "test": 0})
    assert not list(tmp_path.iterdir())
