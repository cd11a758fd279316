"""The `ablation` verb: sweeps (grids of trainings and their tests) planned from the store
and run by interchangeable workers.

- `definition`: sweep files and their validation (`Sweep`, `load_sweep`, `load_plan`);
- `presets`: the built-in studies (`PRESETS`), the demo's grid included;
- `status`: where each training of a sweep stands, from two store queries;
- `worker`: claim, train, test, release, repeat;
- `executors`: where the workers run (`local`, `slurm`);
- `run`: the verb (`run_sweep()`).
"""
