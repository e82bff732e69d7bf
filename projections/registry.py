"""Every projection by name, in the order `heals projections status` lists them."""

from __future__ import annotations

from heals.errors import ConfigurationError
from heals.projections.billing import BILLING
from heals.projections.census import CENSUS
from heals.projections.chart import CHART
from heals.projections.model import Projection
from heals.projections.orders import ORDERS
from heals.projections.results import RESULTS
from heals.projections.timeline import TIMELINE
from heals.projections.vitals import VITALS

__all__ = ["PROJECTIONS", "get_projection"]

PROJECTIONS: dict[str, Projection] = {p.name: p for p in (CENSUS, CHART, ORDERS, RESULTS, VITALS, BILLING, TIMELINE)}


def get_projection(name: str) -> Projection:
    """Return a projection by name; raise ConfigurationError listing the known names."""
    try:
        return PROJECTIONS[name]
    except KeyError:
        raise ConfigurationError(f"unknown projection {name!r}; known: {', '.join(PROJECTIONS)}") from None
