"""Detector settings, read from HEALS_DETECTORS_* environment variables and validated once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from heals.settings import get_settings, load_settings

__all__ = ["DetectorSettings", "get_detector_settings"]


class DetectorSettings(BaseSettings):
    """Every detector setting, each with its environment variable HEALS_DETECTORS_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="HEALS_DETECTORS_", extra="forbid", frozen=True)

    readings_topic: str = Field("devices.readings.v1", description="Topic of DeviceReadingRecorded events.")
    results_topic: str = Field("clinical.results.v1", description="Topic of ResultRecorded events.")
    adt_topic: str = Field("clinical.adt.v1", description="Topic of Spo2ScaleAssigned and other ADT events.")
    charges_topic: str = Field("billing.charges.v1", description="Topic of ChargePosted events.")
    alerts_topic: str = Field("clinical.alerts.v1", description="Topic the detectors publish alerts to.")
    db_schema: str = Field(
        "detectors", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="PostgreSQL schema of detector state."
    )
    alerts_db_schema: str = Field(
        "alerts", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="PostgreSQL schema of the alerts projection."
    )
    freshness_minutes: float = Field(
        240, gt=0, description="A NEWS2 parameter counts only if read within this many minutes of the newest reading."
    )
    anomaly_warmup: int = Field(20, ge=2, description="Readings a vital-sign model learns before it scores.")
    anomaly_threshold: float = Field(4.0, gt=0, description="Standardised deviation at or above which a reading is anomalous.")
    escalate_after_seconds: float = Field(
        900, gt=0, description="Seconds after which an unacknowledged critical-result alert escalates."
    )
    escalation_check_seconds: float = Field(5, gt=0, description="Seconds between checks for alerts to escalate.")
    vital_codes_file: Path | None = Field(None, description="JSON table of observation codes to NEWS2 parameters.")
    critical_limits_file: Path | None = Field(None, description="JSON table of critical limits by LOINC code.")
    charge_model_dir: Path = Field(
        default_factory=lambda: get_settings().state_dir / "models" / "charge-anomaly",
        description="Folder of versioned charge-anomaly models.",
    )
    alerts_channel: str = Field("heals.alerts", description="Redis pub/sub channel of the live alert feed.")

    @property
    def freshness_seconds(self) -> float:
        """The freshness window in seconds."""
        return self.freshness_minutes * 60


@lru_cache(maxsize=1)
def get_detector_settings() -> DetectorSettings:
    """Load and validate detector settings once; raise ConfigurationError naming what to set."""
    return load_settings(DetectorSettings)
