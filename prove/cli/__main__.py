"""`python -m prove.cli ARGS` == `prove ARGS`."""

from prove.cli import main

main()
