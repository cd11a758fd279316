"""MLproject entry point `train`: runs `prove train`."""
from _run import run

run("train")
