"""Datasets: adapters for the real datasets' official layouts and the embedded benchmark.

Adapters register themselves on import; the imports below are the complete list
(explicit, not star-imports), so `DATASETS` knows every dataset once this package is loaded.
"""

from prove.data.base import DATASETS, DatasetAdapter, Sample
from prove.data import adapters as _adapters  # noqa: F401  (registers the real datasets)
from prove.data import synthetic as _synthetic  # noqa: F401  (registers the embedded benchmark)

__all__ = ["DATASETS", "DatasetAdapter", "Sample"]
