"""MLproject entry point `ablation`: runs `prove ablation`."""
from _run import run

if __name__ == "__main__":  # sweep workers and data generation spawn processes, which re-import this file
    run("ablation")
