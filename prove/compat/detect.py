"""What the installed mmcv offers, found without importing it (mmcv imports torch)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def compiled_mmcv_ops_available() -> bool:
    """True when mmcv's compiled extension is installed (full mmcv, not mmcv-lite).

    Looked up on disk, without importing mmcv (which imports torch): listing the model zoo
    must stay cheap."""
    if "mmcv._ext" in sys.modules:
        return True
    try:
        spec = importlib.util.find_spec("mmcv")  # a top-level find_spec does not run the package
    except (ImportError, ValueError):
        return False
    locations = (spec.submodule_search_locations or []) if spec else []
    return any(any(Path(loc).glob(f"_ext*{suffix}")) for loc in locations for suffix in (".so", ".pyd"))
