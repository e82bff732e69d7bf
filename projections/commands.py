"""`heals projections rebuild [NAME] | status`: rebuild read models from offset 0 and show their lag."""

from __future__ import annotations

import click

from heals.projections.registry import PROJECTIONS, get_projection
from heals.projections.settings import get_projection_settings
from heals.registry import make_codec
from heals.settings import get_settings

__all__ = ["projections"]


@click.group()
def projections() -> None:
    """Read models in PostgreSQL: rebuild them and show how far they are."""


@projections.command()
@click.argument("name", required=False, type=click.Choice(sorted(PROJECTIONS)))
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1),
              help="Records written to PostgreSQL per transaction.")
def rebuild(name: str | None, batch_size: int) -> None:
    """Rebuild NAME (every projection when omitted) from offset 0 and switch it in."""
    from heals.projections.rebuild import rebuild_projection

    settings = get_settings()
    projection_settings = get_projection_settings()
    codec = make_codec(settings)
    for projection in [get_projection(name)] if name else list(PROJECTIONS.values()):
        report = rebuild_projection(settings, projection_settings, projection, codec, batch_size)
        click.echo(f"{report.projection}: {report.records} records, {report.undecodable} undecodable, "
                   f"{report.keys} keys in {report.seconds:.1f} s ({report.records_per_second:,.0f} records/s)")


@projections.command()
def status() -> None:
    """Show each projection's applied offset, lag and last event per topic partition."""
    from heals.projections.status import projection_status

    statuses = projection_status(get_settings(), get_projection_settings())
    click.echo(f"{'projection':<10} {'topic':<28} {'part':>4} {'applied':>9} {'end':>9} {'lag':>7}  last event")
    for s in statuses:
        applied = "-" if s.applied_offset is None else str(s.applied_offset)
        last = f"{s.last_event_type} {s.last_event_id} at {s.last_occurred_at:%Y-%m-%dT%H:%M:%SZ}" if s.last_event_id else "-"
        click.echo(f"{s.projection:<10} {s.topic:<28} {s.partition:>4} {applied:>9} {s.end_offset:>9} {s.lag:>7}  {last}")
