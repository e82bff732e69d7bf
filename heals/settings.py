"""Settings read from HEALS_* environment variables, validated once at start-up."""

from __future__ import annotations

from functools import lru_cache
from typing import TypeVar
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from heals.errors import ConfigurationError

__all__ = ["Settings", "get_settings", "load_settings", "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every HEALS setting, each with its environment variable HEALS_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="HEALS_", extra="forbid", frozen=True)

    kafka_bootstrap: str | None = Field(
        None, description="Kafka bootstrap servers; unset means the local broker that `heals infra up` starts."
    )
    database_url: str | None = Field(
        None, description="PostgreSQL URL; unset means the local server that `heals infra up` starts."
    )
    redis_url: str | None = Field(
        None, description="Redis URL; unset means the local server that `heals infra up` starts."
    )
    schema_registry_url: str | None = Field(
        None,
        description="Confluent Schema Registry URL. Set: records use Confluent framing. Unset: Avro single-object encoding.",
    )
    kafka_security_protocol: str = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_mechanism: str | None = Field(None, description="SASL mechanism, for example SCRAM-SHA-512.")
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: str | None = Field(None, description="SASL password; never logged.", repr=False)
    kafka_ssl_ca_location: str | None = Field(None, description="CA certificate file for TLS.")
    topic_partitions: int = Field(6, ge=1, description="Partitions for topics that `heals topics apply` creates.")
    topic_replication_factor: int = Field(1, ge=1, description="Replication factor; production runs 3.")
    raw_retention_days: int = Field(
        3650, ge=-1, description="Days hl7.inbound.raw.v1 keeps messages; -1 keeps them forever."
    )
    tenant_id: str = Field("default", min_length=1, description="Tenant written on events from this deployment.")
    sender_time_zone: str = Field(
        "UTC", description="IANA time zone for HL7 timestamps that carry no UTC offset."
    )
    assigning_authority: str | None = Field(
        None, description="PID-3 assigning authority whose MR identifier is the canonical patient id; unset accepts any MR."
    )
    state_dir: Path = Field(
        REPO_ROOT / ".heals", description="Folder for local service data, logs and pid files."
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "heals", description="Folder for downloaded broker jars, outside the repository."
    )
    schema_dir: Path = Field(REPO_ROOT / "schemas" / "avro", description="Folder of the .avsc catalogue.")
    http_host: str = Field("127.0.0.1", description="Address of the command and projection API.")
    http_port: int = Field(8000, ge=1, le=65535, description="Port of the command and projection API.")
    mllp_host: str = Field("127.0.0.1", description="Address of the MLLP listener.")
    mllp_port: int = Field(2575, ge=1, le=65535, description="Port of the MLLP listener.")

    @field_validator("kafka_security_protocol")
    @classmethod
    def _known_protocol(cls, value: str) -> str:
        allowed = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}
        if value not in allowed:
            raise ValueError(f"must be one of {sorted(allowed)}, got {value!r}")
        return value

    @field_validator("sender_time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}, for example Europe/Berlin") from exc
        return value

    @model_validator(mode="after")
    def _sasl_is_complete(self) -> "Settings":
        uses_sasl = self.kafka_security_protocol.startswith("SASL")
        if uses_sasl and not (self.kafka_sasl_mechanism and self.kafka_sasl_username):
            raise ValueError(
                "HEALS_KAFKA_SECURITY_PROTOCOL uses SASL: set HEALS_KAFKA_SASL_MECHANISM and HEALS_KAFKA_SASL_USERNAME"
            )
        if not uses_sasl and self.kafka_sasl_mechanism:
            raise ValueError("HEALS_KAFKA_SASL_MECHANISM is set but HEALS_KAFKA_SECURITY_PROTOCOL does not use SASL")
        return self

    @property
    def bootstrap_servers(self) -> str:
        """Kafka bootstrap servers, the local broker when none is configured."""
        return self.kafka_bootstrap or "127.0.0.1:9092"

    @property
    def postgres_url(self) -> str:
        """PostgreSQL URL, the local server when none is configured."""
        return self.database_url or "postgresql://heals@127.0.0.1:5432/heals"

    @property
    def redis(self) -> str:
        """Redis URL, the local server when none is configured."""
        return self.redis_url or "redis://127.0.0.1:6379/0"


SettingsModel = TypeVar("SettingsModel", bound=BaseSettings)


def load_settings(model: type[SettingsModel]) -> SettingsModel:
    """Load and validate a settings model; raise ConfigurationError naming each variable to fix."""
    try:
        return model()
    except ValidationError as exc:
        prefix = model.model_config.get("env_prefix", "")
        problems = "; ".join(
            (f"{prefix}{'_'.join(str(part) for part in err['loc']).upper()}: " if err["loc"] else "") + err["msg"]
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load and validate the kernel settings once."""
    return load_settings(Settings)
