"""Time the generation of the default embedded weather benchmark.

    python bench/synthetic_generation.py [--workers N] [--repeat K]

Generates the default dataset (256x128, 100/20/24 layouts per split, each in 7 domains =
1008 images) into a temporary folder, so the timing includes rendering, PNG encoding,
hashing and the atomic rename, but never touches the cache. Prints seconds and images/s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from prove.data.synthetic.benchmark import DEFAULT_COUNTS, DEFAULT_SIZE, generate, read_manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: min(2, cores))")
    parser.add_argument("--repeat", type=int, default=1, help="generate this many times, report each")
    args = parser.parse_args()
    workers = args.workers if args.workers is not None else min(2, os.cpu_count() or 1)
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            root = generate(Path(tmp) / "weather_bench", workers=workers)
            seconds = time.perf_counter() - start
            images = read_manifest(root)["images"]
        w, h = DEFAULT_SIZE
        print(f"weather_bench default set: {images} images ({w}x{h}, "
              f"{'/'.join(str(v) for v in DEFAULT_COUNTS.values())} layouts x 7 domains) "
              f"in {seconds:.1f} s = {images / seconds:.1f} images/s, {workers} worker(s), {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
