"""Run the command line as `python -m heals`."""

from heals.cli import main

main()
