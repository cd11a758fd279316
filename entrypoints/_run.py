"""Shared launcher for the MLproject entry points: `python entrypoints/<verb>.py ARGS`
runs `prove <verb> ARGS`. Kept separate so each entry-point file is one line of intent."""

from __future__ import annotations

import sys
from pathlib import Path


def run(verb: str) -> None:
    # `mlflow run` executes from the project folder; make the package importable even
    # when it is not installed in the environment (conda env built from conda.yaml).
    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from prove.cli import main

    main([verb, *sys.argv[1:]])
