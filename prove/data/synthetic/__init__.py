"""The embedded, procedurally generated weather benchmark (the default dataset).

Street scenes labelled with the 19 Cityscapes train ids, each layout rendered in all seven
domains of `prove.data.domains` (clear_day, cloudy, dawn_dusk, foggy, night, rainy, snowy)
with physically motivated effects; see docs/embedded-benchmark.md.

- `scene`: layout, labels, depth and materials of one street (`build_scene`).
- `weather`: lighting, atmosphere, precipitation and camera per domain (`render`).
- `benchmark`: deterministic, atomic, cached generation of the dataset (`generate`,
  `ensure_generated`, `render_scene`).
- `adapter`: the `weather_bench` dataset adapter (aliases `embedded`, `default`).
"""

from prove.data.synthetic.adapter import WeatherBench
from prove.data.synthetic.benchmark import (
    DEFAULT_COUNTS,
    DEFAULT_SEED,
    DEFAULT_SIZE,
    GENERATOR_VERSION,
    cache_key,
    ensure_generated,
    generate,
    layout_seed,
    read_manifest,
    render_scene,
    verify,
)
from prove.data.synthetic.scene import Scene, build_scene
from prove.data.synthetic.weather import render

__all__ = [
    "DEFAULT_COUNTS", "DEFAULT_SEED", "DEFAULT_SIZE", "GENERATOR_VERSION", "Scene", "WeatherBench",
    "build_scene", "cache_key", "ensure_generated", "generate", "layout_seed", "read_manifest", "render",
    "render_scene", "verify",
]
