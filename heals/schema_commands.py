"""`heals schemas`: list the Avro catalogue and check it against its history."""

from __future__ import annotations

import sys

import click

from heals.catalogue import Catalogue
from heals.compatibility import check_history
from heals.settings import REPO_ROOT, get_settings

__all__ = ["schemas"]


@click.group()
def schemas() -> None:
    """Inspect and check the Avro schema catalogue."""


@schemas.command("list")
def list_command() -> None:
    """Print every event schema with its single-object fingerprint."""
    catalogue = Catalogue(get_settings().schema_dir)
    for name, schema in sorted(catalogue.by_full_name.items()):
        click.echo(f"{schema.fingerprint.hex()}  {name}")


@schemas.command("check")
def check_command() -> None:
    """Check every schema for backward and forward compatibility with each earlier version in git."""
    catalogue = Catalogue(get_settings().schema_dir)
    problems = check_history(catalogue, REPO_ROOT)
    for problem in problems:
        click.echo(f"incompatible: {problem}")
    click.echo(f"checked {len(catalogue.by_full_name)} schemas: {len(problems)} incompatibilities")
    if problems:
        sys.exit(1)
