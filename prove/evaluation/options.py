"""The options of `prove test` (CLI and MLproject read them); the training to test is a run id
or the training options of its spec (`prove.spec.TrainSpec`)."""

from __future__ import annotations

from dataclasses import dataclass

from prove.spec import EXPERIMENT_HELP, option
from prove.studies import STUDY_HELP

CHECKPOINT_CHOICES = "last, best, all, or an iteration number"


@dataclass(frozen=True)
class TestOptions:
    run_id: str = option("", "Training run to test (default: the finished run of the spec given by the options below).")
    checkpoint: str = option("last", f"Which checkpoints: {CHECKPOINT_CHOICES}.")
    test_dataset: str = option("", "Test set (any registered dataset; default: the training dataset).")
    test_split: str = option("", "Split to test on (default: test where the dataset has one, else val).")
    test_data_root: str = option("", "Root of the test dataset (default: its env var / the training root).")
    test_domain_csv: str = option("", "image,domain CSV for a test set without weather tags.")
    test_split_csv: str = option("", "image,split CSV giving the test set its splits (default: the training's, "
                                 "for the same dataset).")
    samples: int = option(4, "Sample predictions saved as PNGs.")
    eval_batch_size: int = option(4, "Images per inference batch.")
    force: bool = option(False, "Evaluate again and replace an existing result.")
    experiment: str = option("", EXPERIMENT_HELP)
    study: str = option("", "The study the test runs belong to (default: their training's; `prove list studies`).")
