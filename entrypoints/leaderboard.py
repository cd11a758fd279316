"""MLproject entry point `leaderboard`: runs `prove leaderboard`."""
from _run import run

if __name__ == "__main__":  # data generation uses spawned worker processes, which re-import this file
    run("leaderboard")
