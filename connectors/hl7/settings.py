"""Settings of the HL7 listener, each with its environment variable HEALS_HL7_<NAME>."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ListenerSettings"]


class ListenerSettings(BaseSettings):
    """MLLP limits, topic and table names of the HL7 listener; the address comes from heals.settings."""

    model_config = SettingsConfigDict(env_prefix="HEALS_HL7_", extra="forbid", frozen=True)

    max_message_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest MLLP frame content accepted, in bytes; larger frames get AR."
    )
    idle_timeout_seconds: float = Field(
        300.0, gt=0, description="Seconds a connection may stay silent before the listener closes it."
    )
    workers: int = Field(8, ge=1, le=64, description="Threads that process messages; each connection uses one at a time.")
    raw_topic: str = Field("hl7.inbound.raw.v1", description="Topic of the byte-for-byte archive of messages and ACKs.")
    dead_letter_name: str = Field("hl7", description="Dead-letter name; records go to dlq.<name>.")
    readings_topic: str = Field("devices.readings.v1", description="Topic of device readings from PCD-01 messages.")
    ack_table: str = Field(
        "hl7_inbound_acks", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL table of accepted messages and their ACKs, for duplicate detection.",
    )
    delivery_timeout_seconds: float = Field(30.0, gt=0, description="Seconds to wait for Kafka to acknowledge a record.")
