"""The `heals` command line. Each command group lives beside the code it drives."""

from __future__ import annotations

import importlib
import logging

import click

from heals.errors import HealsError

__all__ = ["main", "cli"]

# Command name -> "module:attribute" of its click command, imported on first use
# so that `heals --help` stays fast and one broken module does not break the rest.
COMMANDS: dict[str, str] = {
    "api": "heals.api_command:api",
    "demo": "heals.run.demo_command:demo",
    "hl7": "heals.connectors.hl7.cli:hl7",
    "infra": "heals.infra:infra",
    "projections": "heals.projections.commands:projections",
    "models": "heals.streams.detectors.model_commands:models",
    "relay": "heals.commands.cli:relay",
    "schemas": "heals.schema_commands:schemas",
    "topics": "heals.topic_commands:topics",
    "worker": "heals.streams.worker:worker",
    "up": "heals.run.up_command:up",
    "verify": "heals.commands.cli:verify",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), help="Level of log lines on stderr.")
def cli(log_level: str) -> None:
    """HEALS: the event-sourced clinical backbone of a hospital ERP."""
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    """Run the command line, turning HEALS errors into one readable line and exit code 1."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        raise SystemExit(130)
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code)
    except HealsError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1)
