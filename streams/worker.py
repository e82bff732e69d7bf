"""`heals worker`: run the Faust worker with every agent module loaded."""

from __future__ import annotations

import logging
from pathlib import Path

import click

__all__ = ["worker"]

logger = logging.getLogger(__name__)


@click.command()
@click.option("--loglevel", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="Level of the worker's log lines.")
def worker(loglevel: str) -> None:
    """Run the stream worker: projection agents and detectors, until SIGINT or SIGTERM."""
    from faust import Worker

    from heals.streams.app import app, load_agents

    load_agents()
    # Faust creates its data folder but not the folders above it.
    Path(app.conf.datadir).parent.mkdir(parents=True, exist_ok=True)
    logger.info("starting worker %s with %d agents", app.conf.id, len(app.agents))
    # Faust's Worker installs its own log handlers and signal handling, and exits the process when it stops.
    Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False).execute_from_commandline()
