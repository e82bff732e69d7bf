"""`heals api`: serve the command, projection and alert API with uvicorn."""

from __future__ import annotations

import click

from heals.settings import get_settings

__all__ = ["api"]


@click.command()
@click.option("--host", default=None, help="Address to listen on; default HEALS_HTTP_HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port to listen on; default HEALS_HTTP_PORT (8000).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Number of worker processes.")
def api(host: str | None, port: int | None, workers: int) -> None:
    """Serve the HTTP API (OpenAPI description at /openapi.json)."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "heals.http:create_app",
        factory=True,
        host=host or settings.http_host,
        port=port or settings.http_port,
        workers=workers,
        log_level="info",
    )
