"""MLproject entry point `test`: runs `prove test`."""
from _run import run

run("test")
