"""`heals topics`: create the catalogue's topics and report drift."""

from __future__ import annotations

import sys

import click

from heals.kafka import apply_topics
from heals.settings import get_settings
from heals.topics import topic_catalogue

__all__ = ["topics"]


@click.group()
def topics() -> None:
    """Manage the Kafka topics of the catalogue."""


@topics.command("apply")
@click.option("--strict", is_flag=True, help="Exit 2 when an existing topic differs from the catalogue.")
def apply_command(strict: bool) -> None:
    """Create missing topics and report where existing ones differ from the catalogue."""
    settings = get_settings()
    created, drift = apply_topics(settings, topic_catalogue(settings))
    click.echo(f"created {len(created)} topics" + (f": {', '.join(created)}" if created else ""))
    for line in drift:
        click.echo(f"drift: {line}")
    if strict and drift:
        sys.exit(2)


@topics.command("list")
def list_command() -> None:
    """Print every topic of the catalogue with its key and retention."""
    for topic in topic_catalogue(get_settings()):
        retention = "forever" if topic.retention_ms == -1 else f"{topic.retention_ms // 86_400_000} days"
        click.echo(f"{topic.name:28} key: {topic.key:38} retention: {retention:10} {topic.description}")


@topics.command("asyncapi")
def asyncapi_command() -> None:
    """Print the AsyncAPI 3.0 description of every topic (docs/asyncapi.json is this output)."""
    from heals.asyncapi import render
    from heals.catalogue import Catalogue

    settings = get_settings()
    click.echo(render(settings, Catalogue(settings.schema_dir)), nl=False)
