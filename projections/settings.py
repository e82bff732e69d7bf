"""Settings of the projections and their API, read from HEALS_PROJECTIONS_* variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from heals.settings import load_settings

__all__ = ["ProjectionSettings", "get_projection_settings"]


class ProjectionSettings(BaseSettings):
    """Schema and topics of the read models, and API limits; each field has HEALS_PROJECTIONS_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="HEALS_PROJECTIONS_", extra="forbid", frozen=True)

    db_schema: str = Field("projections", description="PostgreSQL schema of the live read models.")
    adt_topic: str = Field("clinical.adt.v1", description="Topic of registrations, admissions, transfers and merges.")
    orders_topic: str = Field("clinical.orders.v1", description="Topic of order events.")
    results_topic: str = Field("clinical.results.v1", description="Topic of result events.")
    readings_topic: str = Field("devices.readings.v1", description="Topic of device readings.")
    charges_topic: str = Field("billing.charges.v1", description="Topic of charges and reversals.")
    audit_topic: str = Field("audit.access.v1", description="Topic the API writes AccessRecorded events to.")
    audit_enabled: bool = Field(True, description="Emit an AccessRecorded event for every read of patient data.")
    alerts_table: str | None = Field(
        "alerts.alerts",
        description="Schema-qualified table of the alerts projection, read for the chart's open alerts; empty leaves them out.",
    )
    batch_size: int = Field(500, ge=1, description="Events one agent writes to PostgreSQL in one transaction.")
    batch_seconds: float = Field(0.2, gt=0, description="Maximum wait, in seconds, for a batch to fill.")
    cache_ttl_seconds: int = Field(300, ge=1, description="Lifetime of a cached census or vitals response, in seconds.")
    min_position_timeout_seconds: float = Field(
        5.0, gt=0, description="Maximum wait, in seconds, for min_position before the API returns 504."
    )

    @field_validator("db_schema")
    @classmethod
    def _plain_identifier(cls, value: str) -> str:
        if not value.replace("_", "").isalnum() or not value[0].isalpha() or value != value.lower():
            raise ValueError(f"must be a lower-case SQL identifier such as projections, got {value!r}")
        return value

    def topic(self, role: str) -> str:
        """Return the topic name of a role: adt, orders, results, readings or charges."""
        return getattr(self, f"{role}_topic")


@lru_cache(maxsize=1)
def get_projection_settings() -> ProjectionSettings:
    """Load the projection settings once; raise ConfigurationError naming what to set."""
    return load_settings(ProjectionSettings)
