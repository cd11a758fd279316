"""Fixtures of the real services the cluster tests run against (ci/slurm.sh, ci/postgres.sh)."""

from tests.cluster.postgres import postgres_db, tracking_server  # noqa: F401
from tests.cluster.slurm import slurm_cluster, submitit_folder  # noqa: F401
