"""Generators: every registered one is exercised (offline ones run, external ones point to a
manifest), each offline one changes images the way its documentation says, and `generate`
is deterministic, atomic and produces a manifest that `load_manifest` accepts."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from prove.data.domains import DOMAINS
from prove.data.manifest import load_manifest
from prove.errors import ProveError
from prove.generators import FAMILIES, GENERATORS, Generator, generate, get_generator
from tests.data.fixtures import tiny_dataset

NAME = "tiny-generators-test"


TinyAdapter = tiny_dataset(NAME)


def scene(h=48, w=64, seed=1) -> np.ndarray:
    """A road-scene-like image: blue sky, darker middle, grey road, with texture."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.int16)
    img[: h // 3] = (120, 160, 210)
    img[h // 3: 2 * h // 3] = (80, 90, 70)
    img[2 * h // 3:] = (100, 100, 100)
    return np.clip(img + rng.integers(-30, 30, img.shape), 0, 255).astype(np.uint8)


def make_dataset(root: Path, n_clear=3, n_night=1) -> TinyAdapter:
    items = [("clear_day", i) for i in range(n_clear)] + [("night", i) for i in range(n_night)]
    for domain, i in items:
        image = root / "images" / "train" / domain / f"{domain}_{i}.jpg"
        label = root / "labels" / "train" / domain / f"{domain}_{i}.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        label.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(scene(24, 32, seed=i)).save(image, quality=95)
        Image.fromarray(np.random.default_rng(i).integers(0, 19, (24, 32), dtype=np.uint8)).save(label)
    return TinyAdapter(root)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PROVE_CACHE_DIR", str(tmp_path / "cache"))


def luma(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64).mean(axis=2)


def saturation(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return float((x.max(axis=2) - x.min(axis=2)).mean())


def run(name: str, target: str, seed: int = 0, image: np.ndarray | None = None) -> np.ndarray:
    return GENERATORS.get(name)(scene() if image is None else image, target, np.random.default_rng(seed))


# -- every registered generator --------------------------------------------------------------


@pytest.mark.parametrize("name", GENERATORS.names())
def test_every_generator(name, tmp_path):
    gen = GENERATORS.get(name)
    assert gen.family in FAMILIES and gen.description
    image = scene()
    if gen.offline:
        for target in gen.targets:
            out = gen(image, target, np.random.default_rng(0))
            assert out.shape == image.shape and out.dtype == np.uint8
            assert np.abs(out.astype(int) - image).mean() > 2, f"{name}/{target} barely changed the image"
            np.testing.assert_array_equal(out, gen(image, target, np.random.default_rng(0)))
    else:
        with pytest.raises(ProveError, match=f"{name}.*external.*manifest CSV"):
            gen(image, "foggy")
        with pytest.raises(ProveError, match="supply its output as a manifest CSV"):
            generate(name, make_dataset(tmp_path / "d"), "train", tmp_path / "out", progress=False)


def test_the_users_methods_are_declared_with_families():
    expected = {
        "gan": ["cycleGAN", "CUT", "stargan_v2", "SUSTechGAN", "TSIT", "LANIT", "Attribute_Hallucination"],
        "diffusion": ["cyclediffusion", "IP2P", "Img2Img", "flux_kontext", "step1x_new", "step1x_v1p2",
                      "Qwen_Image_Edit", "UniControl", "VisualCloze", "CNetSeg"],
        "classical": ["Weather_Effect_Generator", "automold", "augmenters"],
    }
    for family, names in expected.items():
        for name in names:
            assert GENERATORS.get(name).family == family and GENERATORS.get(name).external
    users = {n for names in expected.values() for n in names}
    for name, gen in GENERATORS.items():  # the rest are prove's own, and run here
        assert gen.offline == (name not in users), name
    offline_families = {g.family for _, g in GENERATORS.items() if g.offline}
    assert {"weather_simulation", "control"} <= offline_families  # the demo's fog and the noise control


def test_the_users_identifiers_are_the_canonical_names():
    """Their CSVs, folders and job names write these; prove's tables must match them by name."""
    from prove.strategies import parse_strategy

    seeds = ["cycleGAN", "CUT", "stargan_v2", "SUSTechGAN", "TSIT", "LANIT", "Attribute_Hallucination", "cyclediffusion",
             "IP2P", "Img2Img", "flux_kontext", "step1x_new", "step1x_v1p2", "Qwen_Image_Edit", "UniControl",
             "VisualCloze", "CNetSeg", "Weather_Effect_Generator", "albumentations_weather", "automold", "augmenters"]
    for name in seeds:
        assert parse_strategy(f"gen_{name}").name == f"gen_{name}"
    assert len({GENERATORS.canonical(n) for n in ("step1x_new", "step1x_v1p2", "IP2P")}) == 3
    assert GENERATORS.canonical("InstructPix2Pix") == "IP2P" and GENERATORS.canonical("qwen-image-edit") == \
        "Qwen_Image_Edit"
    assert GENERATORS.canonical("Step1X-Edit v1.2") == "step1x_v1p2" and GENERATORS.canonical("FLUX.1 Kontext") == \
        "flux_kontext"


def test_spellings_resolve_and_duplicates_fail():
    assert GENERATORS.canonical("StarGAN-v2") == "stargan_v2"
    assert GENERATORS.canonical("FLUX-Kontext") == "flux_kontext"
    assert get_generator("cyclegan").name == "cycleGAN"
    with pytest.raises(ValueError, match="already registered"):
        GENERATORS.declare(Generator("Cycle-GAN", "gan", "a second spelling", external=True))
    with pytest.raises(ProveError, match="unknown generator 'cyclegann'; accepted: .*cycleGAN"):
        get_generator("cyclegann")


def test_unsupported_target_and_bad_input_are_user_errors():
    with pytest.raises(ProveError, match="'physics_fog' cannot aim for domain 'night'; accepted: foggy"):
        run("physics_fog", "night")
    with pytest.raises(ProveError, match="RGB uint8 image"):
        GENERATORS.get("random_noise")(np.zeros((8, 8), np.uint8))


def test_missing_target_is_drawn_from_the_rng():
    gen = GENERATORS.get("photometric_night")
    out = gen(scene(), None, np.random.default_rng(3))
    np.testing.assert_array_equal(out, gen(scene(), None, np.random.default_rng(3)))


# -- each offline generator does what it says --------------------------------------------------

SEEDS = (0, 1, 2)


def test_albumentations_fog_brightens_and_flattens():
    image = scene()
    for seed in SEEDS:
        out = run("albumentations_weather", "foggy", seed)
        assert luma(out).mean() > luma(image).mean() and luma(out).std() < luma(image).std()


def test_albumentations_snow_brightens_rain_darkens():
    image = scene()
    for seed in SEEDS:
        assert luma(run("albumentations_weather", "snowy", seed)).mean() > luma(image).mean() + 20
        rain = run("albumentations_weather", "rainy", seed)
        assert luma(rain).mean() < luma(image).mean() - 5 and saturation(rain) < saturation(image)


def test_albumentations_dawn_dusk_is_warm_night_dark_blue_cloudy_grey():
    image = scene().astype(np.float64)
    warmth = (image[..., 0].mean() / image[..., 2].mean())
    for seed in SEEDS:
        dusk = run("albumentations_weather", "dawn_dusk", seed).astype(np.float64)
        assert dusk[..., 0].mean() / dusk[..., 2].mean() > warmth * 1.2
        night = run("albumentations_weather", "night", seed).astype(np.float64)
        assert night.mean() < 0.5 * image.mean() and night[..., 2].mean() > night[..., 0].mean()
        cloudy = run("albumentations_weather", "cloudy", seed)
        assert saturation(cloudy) < 0.6 * saturation(scene()) and luma(cloudy).mean() < luma(image).mean()


def test_physics_fog_is_denser_far_away():
    image = luma(scene())
    for seed in SEEDS:
        out = luma(run("physics_fog", "foggy", seed))
        assert out.mean() > image.mean() and out.std() < image.std()
        # Contrast left in the top rows (the horizon, far) is lower than at the bottom (near).
        kept_top = out[:12].std() / image[:12].std()
        kept_bottom = out[-12:].std() / image[-12:].std()
        assert kept_top < 0.8 * kept_bottom


def test_photometric_night_darkens_with_blue_cast_and_dusk_is_warm():
    image = scene().astype(np.float64)
    for seed in SEEDS:
        night = run("photometric_night", "night", seed).astype(np.float64)
        assert night.mean() < 0.4 * image.mean()
        assert night[..., 2].mean() / night[..., 0].mean() > image[..., 2].mean() / image[..., 0].mean()
        dusk = run("photometric_night", "dawn_dusk", seed).astype(np.float64)
        assert dusk.mean() < image.mean()
        assert dusk[..., 0].mean() / dusk[..., 2].mean() > image[..., 0].mean() / image[..., 2].mean() * 1.3


def test_random_noise_is_uniform_and_ignores_the_image():
    big = np.zeros((128, 128, 3), np.uint8)
    out = GENERATORS.get("random_noise")(big, "foggy", np.random.default_rng(0))
    assert abs(out.mean() - 127.5) < 1.5
    counts = np.bincount(out.ravel(), minlength=256)
    expected = out.size / 256
    assert np.all(np.abs(counts - expected) < 6 * np.sqrt(expected))  # every value about equally often
    other = GENERATORS.get("random_noise")(np.full_like(big, 255), "foggy", np.random.default_rng(0))
    np.testing.assert_array_equal(out, other)  # no trace of the input
    assert not np.array_equal(out, GENERATORS.get("random_noise")(big, "foggy", np.random.default_rng(1)))


# -- generate ---------------------------------------------------------------------------------


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generate_writes_a_valid_manifest_with_original_labels(tmp_path, capsys):
    adapter = make_dataset(tmp_path / "d")
    path = generate("random_noise", adapter, "train", tmp_path / "out", target_domains=["foggy", "night"], seed=1,
                    source_domains=["clear_day"])
    assert path == tmp_path / "out" / f"random_noise_{NAME}_train.csv"
    assert "random_noise: 6/6 images" in capsys.readouterr().err
    manifest = load_manifest(path, {NAME: adapter})
    assert len(manifest) == 6  # 3 clear_day originals x 2 targets; the night image is filtered out
    assert {e.original.domain for e in manifest.entries} == {"clear_day"}
    assert {e.target_domain for e in manifest.entries} == {"foggy", "night"}
    for entry in manifest.entries:
        np.testing.assert_array_equal(manifest.load_label(entry), adapter.load_label(entry.original))
        assert manifest.load_image(entry).shape == (24, 32, 3)
    with path.open() as fh:
        first = next(csv.DictReader(fh))
    assert first["gen_path"] == "images/foggy/images/train/clear_day/clear_day_0.webp"
    assert (tmp_path / "out" / "generation.json").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_generate_is_deterministic_per_seed_and_independent_of_limit(tmp_path):
    adapter = make_dataset(tmp_path / "d")
    kw = dict(target_domains=["foggy", "rainy"], progress=False)
    a = files_of(generate("albumentations_weather", adapter, "train", tmp_path / "a", seed=7, **kw).parent)
    b = files_of(generate("albumentations_weather", adapter, "train", tmp_path / "b", seed=7, **kw).parent)
    c = files_of(generate("albumentations_weather", adapter, "train", tmp_path / "c", seed=8, **kw).parent)
    assert a == b
    images = [k for k in a if k.endswith(".webp")]
    assert len(images) == 8 and all(a[k] != c[k] for k in images)
    limited = files_of(generate("albumentations_weather", adapter, "train", tmp_path / "l", seed=7, limit=1,
                                **kw).parent)
    assert {k for k in limited if k.endswith(".webp")} == {
        "images/foggy/images/train/clear_day/clear_day_0.webp", "images/rainy/images/train/clear_day/clear_day_0.webp"}
    assert all(limited[k] == a[k] for k in limited if k.endswith(".webp"))


def test_generate_is_atomic_when_a_generator_fails(tmp_path):
    adapter = make_dataset(tmp_path / "d")
    calls = []

    def flaky(image, target, rng):
        calls.append(target)
        if len(calls) == 3:
            raise RuntimeError("generator crashed")
        return image[::-1].copy()

    gen = Generator("flaky", "classical", "fails on its third image", fn=flaky)
    with pytest.raises(RuntimeError, match="crashed"):
        generate(gen, adapter, "train", tmp_path / "out", target_domains=["foggy"], progress=False)
    assert {p.name for p in tmp_path.iterdir()} - {"cache"} == {"d"}  # no out/, no temp folder


def test_generate_refuses_to_clobber_and_can_overwrite(tmp_path):
    adapter = make_dataset(tmp_path / "d", n_clear=1, n_night=0)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ProveError, match="exists and is not empty.*overwrite=True"):
        generate("random_noise", adapter, "train", out, target_domains=["foggy"], progress=False)
    assert (out / "keep.txt").read_text() == "mine"
    path = generate("random_noise", adapter, "train", out, target_domains=["foggy"], progress=False, overwrite=True)
    assert path.is_file() and not (out / "keep.txt").exists()


def test_generate_argument_errors(tmp_path):
    adapter = make_dataset(tmp_path / "d", n_clear=1, n_night=0)
    with pytest.raises(ProveError, match="unknown domain 'fog'"):
        generate("random_noise", adapter, "train", tmp_path / "o", target_domains=["fog"], progress=False)
    with pytest.raises(ProveError, match="'physics_fog' cannot aim for domain 'snowy'"):
        generate("physics_fog", adapter, "train", tmp_path / "o", target_domains=["snowy"], progress=False)
    with pytest.raises(ProveError, match="no images of domain.*snowy; present: clear_day"):
        generate("random_noise", adapter, "train", tmp_path / "o", source_domains=["snowy"], progress=False)
    with pytest.raises(ProveError, match="limit must be a positive"):
        generate("random_noise", adapter, "train", tmp_path / "o", limit=0, progress=False)
    assert set(DOMAINS) == set(GENERATORS.get("random_noise").targets)
