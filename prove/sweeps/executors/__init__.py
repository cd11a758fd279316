"""Where a sweep's workers run: declared once in `EXECUTORS`, chosen with `--executor`.

An executor starts N interchangeable workers (`prove.sweeps.worker.run_worker`) and returns
their reports; the workers share the work through claims in the tracking store, so an
executor only decides where the processes live. Declared with `EXECUTORS.declare(Executor(...))`.
"""

from prove.sweeps.executors.base import EXECUTORS, Executor
from prove.sweeps.executors import local as _local  # noqa: F401  (local)
from prove.sweeps.executors import batch as _batch  # noqa: F401  (slurm, lsf, pbs through PSI/J)

__all__ = ["EXECUTORS", "Executor"]
