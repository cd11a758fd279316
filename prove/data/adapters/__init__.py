"""Adapters for the real datasets in their official layouts (one module each).

Every module is imported here by name (no discovery, no star-imports), so `import prove.data`
registers all of them in `DATASETS`. A new adapter module must be added to this list; a test
checks that every registered real adapter also has a fixture tree.
"""

from prove.data.adapters import acdc as _acdc  # noqa: F401
from prove.data.adapters import bdd10k as _bdd10k  # noqa: F401
from prove.data.adapters import cityscapes as _cityscapes  # noqa: F401
from prove.data.adapters import iddaw as _iddaw  # noqa: F401
from prove.data.adapters import mapillary as _mapillary  # noqa: F401
from prove.data.adapters import outside15k as _outside15k  # noqa: F401
