"""MLproject entry point `doctor`: runs `prove doctor`."""
from _run import run

run("doctor")
