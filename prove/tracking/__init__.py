"""The tracking store: the only place prove talks to MLflow.

- `schema`: every `prove.*` tag name, the run kinds and the metric keys (the store's
  contract, documented in docs/tracking.md);
- `client`: a pure MLflow client (runs by id, batched writes, paged searches; no torch);
- `claims`: atomic claims on specs through experiment tags (concurrent sweeps);
- `importer`: results kept in CSVs -> test runs (`prove import-results`);
- `server`: `prove server`, MLflow on PostgreSQL with basic auth.

Importing this package is free: nothing here imports mlflow until a module is used.
"""
