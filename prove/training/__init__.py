"""The `train` verb: a validated spec -> resolved once -> an MMEngine config -> a resumable,
audited run in the tracking store.

- `resolve`: the spec resolved once (`ResolvedTraining`: strategy, model card and recipe,
  stage, data, LR, intervals, precision);
- `config`: the resolved training -> the MMEngine config (strategy in the dataset actually built);
- `audit`: reads the built objects back and compares them with the spec;
- `engine`: the resumable loop and its hooks (seeding, graceful stop, progress, continuation);
- `mlflow_hook`: the hook that streams a training into its run;
- `artifacts`: checkpoint references, training curves, pretrained-load report;
- `run`: the verb (`train()`);
- `doctor`: `prove doctor`, one real training step on this machine.

Importing this package is free; its modules import torch and mmseg.
"""
