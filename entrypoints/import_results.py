"""MLproject entry point `import_results`: runs `prove import-results`."""
from _run import run

if __name__ == "__main__":  # data generation uses spawned worker processes, which re-import this file
    run("import-results")
