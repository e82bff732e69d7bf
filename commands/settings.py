"""Settings of the write side (event store and relay), read from HEALS_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from heals.settings import load_settings

__all__ = ["WriteSettings", "load_write_settings"]


class WriteSettings(BaseSettings):
    """The event store's location and the relay's publishing options, each field read from HEALS_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="HEALS_", extra="ignore", frozen=True)

    event_store_schema: str = Field(
        "event_store", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="PostgreSQL schema of the event store tables."
    )
    event_store_name: str = Field(
        "heals", pattern=r"^[a-z_][a-z0-9_]{0,40}$",
        description="Prefix of the table names: <name>_events, <name>_event_log, <name>_command_log.",
    )
    event_store_pool_size: int = Field(8, ge=1, le=100, description="PostgreSQL connections the command service keeps.")
    event_store_cache_size: int = Field(
        10_000, ge=0, description="Aggregates one command service keeps in memory after committing them; 0 turns the cache off."
    )
    relay_transactional_id: str = Field(
        "heals-relay", min_length=1,
        description="Kafka transactional.id of the relay; a second relay with the same id fences the first.",
    )
    relay_position_topic: str = Field(
        "heals.relay.position", min_length=1, description="Compacted topic holding the relay's committed position."
    )
    relay_batch_size: int = Field(500, ge=1, le=100_000, description="Events per Kafka transaction of the relay.")
    relay_poll_interval: float = Field(
        0.2, gt=0, description="Seconds the relay waits before reading the store again when it is caught up."
    )


def load_write_settings() -> WriteSettings:
    """Load and validate the write-side settings; raise ConfigurationError naming what to set."""
    return load_settings(WriteSettings)
