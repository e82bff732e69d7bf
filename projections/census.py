"""Census: every encounter of every patient, with its bed location and status.

The census proper is the set of encounters in status ``admitted``. The
admissions and discharges of a day are the encounters whose admitted_at or
discharged_at falls on it.
"""

from __future__ import annotations

from typing import Any, Iterable

from heals.projections.model import DerivedRow, Projection, Table

__all__ = ["CENSUS", "fold_encounters", "ADT_EVENTS"]

ADT_EVENTS = frozenset({
    "PatientAdmitted", "PatientTransferred", "PatientDischarged", "AdmissionCancelled", "DischargeCancelled",
})

ENCOUNTERS = Table(
    "census_encounters",
    (
        ("encounter_id", "text NOT NULL"),
        ("patient_id", "text NOT NULL"),
        ("status", "text NOT NULL"),
        ("patient_class", "text"),
        ("ward", "text"),
        ("room", "text"),
        ("bed", "text"),
        ("facility", "text"),
        ("visit_number", "text"),
        ("attending_doctor", "text"),
        ("admitted_at", "timestamptz"),
        ("discharged_at", "timestamptz"),
    ),
    key_column="patient_id",
    primary_key=("encounter_id",),
    indexes=(("status", "ward"),),
)


def _location(encounter: dict[str, Any], location: dict[str, Any] | None) -> None:
    for part in ("ward", "room", "bed", "facility"):
        encounter[part] = (location or {}).get(part)


def fold_encounters(patient_id: str, events: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Return encounter id -> (encounter, last journal row) from a patient's ADT journal rows, oldest first."""
    encounters: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    current: str | None = None
    for row in events:
        if row["event_type"] not in ADT_EVENTS:
            continue
        body = row["body"]
        # Events without an encounter id apply to the patient's latest encounter.
        encounter_id = body["envelope"].get("encounter_id") or current or f"{patient_id}:unidentified"
        encounter = encounters.get(encounter_id, (None, None))[0] or {
            "encounter_id": encounter_id, "patient_id": patient_id, "status": "admitted", "patient_class": None,
            "ward": None, "room": None, "bed": None, "facility": None, "visit_number": None,
            "attending_doctor": None, "admitted_at": None, "discharged_at": None,
        }
        encounter["patient_id"] = patient_id
        occurred_at = row["occurred_at"]

        if row["event_type"] == "PatientAdmitted":
            encounter.update(status="admitted", patient_class=body.get("patient_class"), admitted_at=occurred_at,
                             visit_number=body.get("visit_number"), attending_doctor=body.get("attending_doctor"),
                             discharged_at=None)
            _location(encounter, body.get("location"))
        elif row["event_type"] == "PatientTransferred":
            _location(encounter, body.get("to_location"))
        elif row["event_type"] == "PatientDischarged":
            encounter.update(status="discharged", discharged_at=occurred_at)
        elif row["event_type"] == "AdmissionCancelled":
            encounter.update(status="cancelled")
        elif row["event_type"] == "DischargeCancelled":
            encounter.update(status="admitted", discharged_at=None)

        encounters[encounter_id] = (encounter, row)
        current = encounter_id
    return encounters


class CensusProjection(Projection):
    """Encounters and bed locations per patient, from the ADT topic."""

    def fold(self, key: str, events: list[dict[str, Any]]) -> Iterable[DerivedRow]:
        for encounter, last in fold_encounters(key, events).values():
            yield DerivedRow(ENCOUNTERS.name, encounter, last)


CENSUS = CensusProjection(
    name="census",
    topic_roles=("adt",),
    event_types=ADT_EVENTS,
    keyed_by="patient_id",
    tables=(ENCOUNTERS,),
)

