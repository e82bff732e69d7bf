"""The command API over HTTP: 202 with event ids and position, 409 on rules and conflicts, 422 on bad input."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from heals.commands.api import get_command_service, path_for
from heals.commands.errors import ConcurrencyConflict
from heals.commands.models import COMMAND_TYPES
from heals.commands.position import decode_position
from heals.http import create_app

pytestmark = pytest.mark.integration

ADMIT = {
    "command_id": "api-admit-1",
    "occurred_at": "2026-03-14T09:30:00+01:00",
    "source": {"system": "ERP^WARD"},
    "patient_id": "P1",
    "encounter_id": "E1",
    "location": {"ward": "W1", "bed": "3"},
}


@pytest.fixture
def client(service):
    app = create_app()
    app.dependency_overrides[get_command_service] = lambda: service
    with TestClient(app) as test_client:
        yield test_client


def test_every_command_kind_has_endpoint(client):
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {path_for(kind) for kind in COMMAND_TYPES} <= paths


def test_accepted_command_returns_events_and_position(client, service):
    response = client.post("/commands/admit-patient", json=ADMIT)

    assert response.status_code == 202
    body = response.json()
    assert body["command_id"] == "api-admit-1"
    assert len(body["event_ids"]) == 2
    assert body["duplicate"] is False
    assert decode_position(body["position"]).aggregate_id == "patient:P1"
    assert decode_position(body["position"]).aggregate_version == 2
    assert service.store.count_events() == 2


def test_repeated_command_id_is_idempotent(client, service):
    first = client.post("/commands/admit-patient", json=ADMIT).json()

    again = client.post("/commands/admit-patient", json=ADMIT)

    assert again.status_code == 202
    assert again.json() == {**first, "duplicate": True}
    assert service.store.count_events() == 2


def test_broken_rule_returns_409_with_rule(client):
    client.post("/commands/admit-patient", json=ADMIT)

    response = client.post("/commands/admit-patient", json={**ADMIT, "command_id": "api-admit-2", "encounter_id": "E2"})

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "rule_violation"
    assert body["rule"] == "admit-requires-no-active-admission"
    assert body["aggregate_id"] == "patient:P1"
    assert body["ids"] == {"patient_id": "P1", "encounter_id": "E2"}


def test_conflict_returns_409_with_versions(client, service, monkeypatch):
    def lose_the_race(command):
        raise ConcurrencyConflict("patient:P1", 2, 3)

    monkeypatch.setattr(service, "execute", lose_the_race)

    response = client.post("/commands/admit-patient", json=ADMIT)

    assert response.status_code == 409
    assert response.json() == {
        "error": "concurrency_conflict", "aggregate_id": "patient:P1", "expected_version": 2, "actual_version": 3,
    }


@pytest.mark.parametrize("field, value", [
    ("occurred_at", "2026-03-14T09:30:00"),
    ("patient_id", ""),
    ("unknown_field", "x"),
])
def test_invalid_input_returns_422_with_field_and_value(client, service, field, value):
    response = client.post("/commands/admit-patient", json={**ADMIT, field: value})

    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["body", field]
    assert problem["input"] == value
    assert service.store.count_events() == 0


def test_missing_field_returns_422_naming_it(client):
    body = {key: value for key, value in ADMIT.items() if key != "encounter_id"}

    response = client.post("/commands/admit-patient", json=body)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "encounter_id"]
