"""Settings of the Faust worker, read from HEALS_STREAMS_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from heals.settings import load_settings

__all__ = ["StreamSettings", "get_stream_settings"]


class StreamSettings(BaseSettings):
    """Identity and storage of the Faust app; each field has HEALS_STREAMS_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="HEALS_STREAMS_", extra="forbid", frozen=True)

    app_id: str = Field(
        "heals-streams", pattern=r"^[A-Za-z0-9._-]+$",
        description="Faust app id, which is also the Kafka consumer group of the worker.",
    )
    agent_modules: list[str] | None = Field(
        None, description="Agent modules to load, as a JSON list; unset loads every module of AGENT_MODULES."
    )
    data_dir: Path | None = Field(None, description="Faust data folder; unset means <state_dir>/faust/<app_id>.")


@lru_cache(maxsize=1)
def get_stream_settings() -> StreamSettings:
    """Load the stream settings once; raise ConfigurationError naming what to set."""
    return load_settings(StreamSettings)
