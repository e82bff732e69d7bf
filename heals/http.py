"""The HTTP API: command, projection and alert endpoints on one FastAPI app."""

from __future__ import annotations

import importlib

from fastapi import FastAPI

__all__ = ["create_app", "ROUTERS"]

# "module:attribute" of each APIRouter the API serves, included in this order.
ROUTERS: list[str] = [
    "heals.commands.api:router",
    "heals.projections.alerts.api:router",
    "heals.projections.api:router",
]


def create_app() -> FastAPI:
    """Build the API with every registered router."""
    app = FastAPI(
        title="HEALS API",
        version="1",
        description="Commands into the clinical event store; projections and alerts out of it.",
    )
    for target in ROUTERS:
        module_name, attribute = target.split(":")
        app.include_router(getattr(importlib.import_module(module_name), attribute))
    return app
