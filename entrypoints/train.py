"""MLproject entry point `train`: runs `prove train`."""
from _run import run

if __name__ == "__main__":  # data generation uses spawned worker processes, which re-import this file
    run("train")
