"""MLproject entry point `quality`: runs `prove quality`."""
from _run import run

if __name__ == "__main__":  # data generation uses spawned worker processes, which re-import this file
    run("quality")
