"""Where sweep workers run beyond this process: `slurm` (submitit job arrays)."""
