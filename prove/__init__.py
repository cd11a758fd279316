"""prove: MLflow-centric reproducibility for augmentation studies of semantic segmentation
under adverse weather. Importing the package is cheap (no torch); heavy modules import
torch/mmseg themselves, after `prove.compat.install()`."""

__version__ = "0.1.0"
