"""`heals up`: run every HEALS component until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import click

from heals.run.components import components
from heals.run.supervisor import Supervisor
from heals.settings import get_settings

__all__ = ["up", "prepare_services", "start_components", "supervise_until_signal"]


def prepare_services(no_infra: bool) -> None:
    """Start the local services (unless no_infra marks them external), then create missing topics."""
    heals = [sys.executable, "-m", "heals"]
    if not no_infra and subprocess.run([*heals, "infra", "up"]).returncode != 0:
        raise click.ClickException("the local services did not start; see the messages above")
    if subprocess.run([*heals, "--log-level", "WARNING", "topics", "apply"]).returncode != 0:
        raise click.ClickException("creating the Kafka topics failed; see the messages above")


def start_components(ready_timeout: float, out=None) -> Supervisor:
    """Start every component and return the supervisor once all are ready; output goes to ``out``."""
    supervisor = Supervisor(components(get_settings()), out=out)
    if not supervisor.start_all(ready_timeout=ready_timeout):
        supervisor.stop()
        raise click.ClickException("a component failed to start; see its lines above")
    return supervisor


@click.command()
@click.option("--no-infra", is_flag=True, help="Do not start Kafka, PostgreSQL and Redis: they are external.")
@click.option("--ready-timeout", default=180.0, show_default=True, help="Seconds to wait for each component.")
def up(no_infra: bool, ready_timeout: float) -> None:
    """Run the relay, stream worker, API and MLLP listener, restarting any that dies."""
    prepare_services(no_infra)
    supervisor = start_components(ready_timeout)
    settings = get_settings()
    supervisor.say("heals", f"all components ready: API http://{settings.http_host}:{settings.http_port}/docs, "
                            f"MLLP {settings.mllp_host}:{settings.mllp_port}; Ctrl-C stops them")

    supervise_until_signal(supervisor)
    supervisor.say("heals", "stopping")
    supervisor.stop()


def supervise_until_signal(supervisor: Supervisor) -> None:
    """Restart components that die until SIGINT or SIGTERM arrives; the caller then stops them."""
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())
    watcher = threading.Thread(target=supervisor.watch, daemon=True, name="watch")
    watcher.start()
    stop_requested.wait()
