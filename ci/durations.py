"""Summarise a `pytest --durations=0` log: per-folder totals and the slowest tests.

    python -m pytest -q --durations=0 > suite.log; python ci/durations.py suite.log [--top 30]

Totals are test time (setup + call + teardown) summed per folder of tests/, one thread each;
under `-n auto` the wall time is lower than their sum. The profile in docs/testing.md comes
from this script.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

LINE = re.compile(r"^(?P<s>[0-9.]+)s (?P<phase>call|setup|teardown)\s+(?P<test>tests/\S+)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("log", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    per_test: dict[str, float] = defaultdict(float)
    for line in args.log.read_text(errors="replace").splitlines():
        if m := LINE.match(line):
            per_test[m["test"]] += float(m["s"])
    per_folder: dict[str, float] = defaultdict(float)
    for test, seconds in per_test.items():
        per_folder[str(Path(test.split("::")[0]).parent)] += seconds
    print(f"total {sum(per_test.values()):.0f} s over {len(per_test)} tests\n")
    print("| folder | s |\n|---|---:|")
    for folder, seconds in sorted(per_folder.items(), key=lambda kv: -kv[1]):
        print(f"| {folder}/ | {seconds:.0f} |")
    print(f"\n| # | test (setup + call + teardown) | s |\n|---:|---|---:|")
    for rank, (test, seconds) in enumerate(sorted(per_test.items(), key=lambda kv: -kv[1])[:args.top], 1):
        print(f"| {rank} | `{test}` | {seconds:.1f} |")


if __name__ == "__main__":
    main()
