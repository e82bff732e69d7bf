"""The schema registry client, when HEALS_SCHEMA_REGISTRY_URL is set."""

from __future__ import annotations

from heals.codec import Codec, SchemaRegistry
from heals.catalogue import load_catalogue
from heals.settings import Settings, get_settings

__all__ = ["make_registry", "make_codec"]


def make_registry(url: str | None) -> SchemaRegistry | None:
    """Return a Confluent registry client for the URL, or None when no URL is set.

    A ``mock://`` URL gives confluent-kafka's in-process registry, for tests.
    """
    if not url:
        return None
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient.new_client({"url": url})


def make_codec(settings: Settings | None = None) -> Codec:
    """Return a codec for the configured catalogue and framing."""
    settings = settings or get_settings()
    return Codec(load_catalogue(settings.schema_dir), make_registry(settings.schema_registry_url))
