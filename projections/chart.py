"""Patient chart header: demographics, identifiers, SpO2 scale, current encounter and merged ids.

Active orders, latest results, vitals and open alerts of the chart summary
come from their own projections when the API composes the chart.
"""

from __future__ import annotations

from typing import Any, Iterable

from heals.projections.census import ADT_EVENTS, fold_encounters
from heals.projections.journal import json_dumps
from heals.projections.model import DerivedRow, Projection, Table

__all__ = ["CHART", "identifier_system"]

PATIENTS = Table(
    "chart_patients",
    (
        ("patient_id", "text NOT NULL"),
        ("family_name", "text"),
        ("given_names", "jsonb NOT NULL"),
        ("birth_date", "text"),
        ("administrative_sex", "text"),
        ("demographics", "jsonb NOT NULL"),
        ("identifiers", "jsonb NOT NULL"),
        ("access_restrictions", "jsonb NOT NULL"),
        ("spo2_scale", "integer"),
        ("current_encounter", "jsonb"),
        ("merged_patient_ids", "jsonb NOT NULL"),
        ("registered_at", "timestamptz"),
    ),
    key_column="patient_id",
    primary_key=("patient_id",),
)

IDENTIFIERS = Table(
    "chart_identifiers",
    (
        ("system", "text NOT NULL"),
        ("value", "text NOT NULL"),
        ("patient_id", "text NOT NULL"),
        ("type_code", "text"),
    ),
    key_column="patient_id",
    primary_key=("system", "value", "patient_id"),
)

LIST_FIELDS = ("given_names", "address_lines", "phones", "identity_reliability")
EMPTY_DEMOGRAPHICS = {"family_name": None, "given_names": [], "birth_date": None, "administrative_sex": None,
                      "address_lines": [], "phones": [], "identity_reliability": []}


def identifier_system(identifier: dict[str, Any]) -> str:
    """Return the system part of SYSTEM|VALUE look-ups: the assigning authority, or empty."""
    return identifier.get("assigning_authority") or ""


def _add_identifiers(known: dict[tuple[str, str], dict[str, Any]], identifiers: list[dict[str, Any]]) -> None:
    for identifier in identifiers or ():
        known[(identifier_system(identifier), identifier["value"])] = dict(identifier)


class ChartProjection(Projection):
    """Identity and encounter header of each patient, from the ADT topic."""

    def fold(self, key: str, events: list[dict[str, Any]]) -> Iterable[DerivedRow]:
        if not events:
            return
        demographics = dict(EMPTY_DEMOGRAPHICS)
        identifiers: dict[tuple[str, str], dict[str, Any]] = {}
        restrictions: list[str] = []
        spo2_scale = None
        merged_ids: list[str] = []
        registered_at = None

        for row in events:
            body = row["body"]
            kind = row["event_type"]
            if kind == "PatientRegistered":
                registered_at = registered_at or row["occurred_at"]
                demographics.update({k: v for k, v in body["demographics"].items() if v not in (None, [])})
                _add_identifiers(identifiers, body.get("identifiers"))
            elif kind == "DemographicsUpdated":
                # Null or empty means unchanged; cleared_fields names what the source explicitly cleared.
                demographics.update({k: v for k, v in body["demographics"].items() if v not in (None, [])})
                for name in body.get("cleared_fields") or ():
                    if name in demographics:
                        demographics[name] = [] if name in LIST_FIELDS else None
                _add_identifiers(identifiers, body.get("identifiers"))
                restrictions = list(body.get("access_restrictions") or restrictions)
            elif kind == "Spo2ScaleAssigned":
                spo2_scale = body["scale"]
            elif kind == "PatientsMerged":
                if body["merged_patient_id"] not in merged_ids:
                    merged_ids.append(body["merged_patient_id"])
                _add_identifiers(identifiers, body.get("merged_identifiers"))
            elif kind == "PatientAdmitted":
                registered_at = registered_at or row["occurred_at"]

        # Rows moved here by a merge count as merged ids even when the merge event was journaled elsewhere.
        for row in events:
            original = row["original_patient_id"]
            if original != key and original not in merged_ids:
                merged_ids.append(original)

        encounters = fold_encounters(key, events)
        current = None
        if encounters:
            latest, _ = max(encounters.values(), key=lambda pair: (pair[1]["occurred_at"], pair[1]["recorded_at"]))
            current = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in latest.items()}

        yield DerivedRow(PATIENTS.name, {
            "patient_id": key,
            "family_name": demographics.get("family_name"),
            "given_names": json_dumps(demographics.get("given_names") or []),
            "birth_date": demographics.get("birth_date"),
            "administrative_sex": demographics.get("administrative_sex"),
            "demographics": json_dumps(demographics),
            "identifiers": json_dumps(sorted(identifiers.values(), key=lambda i: (identifier_system(i), i["value"]))),
            "access_restrictions": json_dumps(restrictions),
            "spo2_scale": spo2_scale,
            "current_encounter": json_dumps(current) if current else None,
            "merged_patient_ids": json_dumps(sorted(merged_ids)),
            "registered_at": registered_at,
        }, events[-1])
        for (system, value), identifier in sorted(identifiers.items()):
            yield DerivedRow(IDENTIFIERS.name, {"system": system, "value": value, "patient_id": key,
                                                "type_code": identifier.get("type_code")}, events[-1])


CHART = ChartProjection(
    name="chart",
    topic_roles=("adt",),
    event_types=ADT_EVENTS | {"PatientRegistered", "DemographicsUpdated", "Spo2ScaleAssigned", "PatientsMerged"},
    keyed_by="patient_id",
    tables=(PATIENTS, IDENTIFIERS),
)
