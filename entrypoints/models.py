"""MLproject entry point `models`: runs `prove models`."""
from _run import run

run("models")
