"""Analyses of a study's tidy result tables, and the `leaderboard` verb that writes them.

- `schema`: the tidy tables every analysis reads, and their guards;
- `store`: the tracking store -> the tables (incremental parquet sync);
- pure functions of the tables: `gains`, `leaderboard`, `compare`, `cd`, `stats`, `coverage`,
  `exclusions`;
- `plots`, `report`: the report's figures and its sections;
- `run`: the verb (`build_leaderboard()`): sync, report, analysis run.

The meaning of every output column: docs/leaderboard.md. Importing this package is free.
"""
