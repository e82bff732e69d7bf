"""Behaviour every projection must show, run against each one on real PostgreSQL.

Redelivery changes nothing, a replay gives the same state whatever the batch
sizes, and applying events does not change the events.
"""

from __future__ import annotations

import copy
import uuid

import psycopg
import pytest
from psycopg import sql

from heals.codec import Codec
from heals.projections.journal import table_names
from heals.projections.model import SourceEvent
from heals.projections.projector import Projector
from heals.projections.registry import PROJECTIONS
from tests.support.clinical_events import hospital_morning
from tests.support.projection_stack import role_of

pytestmark = pytest.mark.integration


@pytest.fixture
def schemas(live_services):
    created: list[str] = []

    def new() -> str:
        created.append(f"test_behaviour_{uuid.uuid4().hex[:10]}")
        return created[-1]

    yield new
    with psycopg.connect(live_services.postgres_url, autocommit=True) as conn:
        for schema in created:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def conn(live_services):
    with psycopg.connect(live_services.postgres_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def events(catalogue) -> list[SourceEvent]:
    """The morning's events as consumers see them: encoded, then decoded."""
    codec = Codec(catalogue)
    decoded = []
    for offset, (event_type, value) in enumerate(hospital_morning()):
        role = role_of(event_type)
        record = codec.decode(codec.encode(event_type, value, role))
        decoded.append(SourceEvent(role, 0, offset, record.event_type, record.value))
    return decoded


def state(conn, schema, projection):
    tables = {}
    for name in table_names(projection):
        rows = conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, name))).fetchall()
        tables[name] = sorted(rows, key=repr)
    return tables


def projector(conn, schema, projection):
    built = Projector(projection, conn, schema)
    built.ensure_tables()
    return built


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_redelivery_changes_nothing(name, conn, schemas, events):
    projection = PROJECTIONS[name]
    target = projector(conn, schemas(), projection)
    target.apply(events)
    once = state(conn, target.schema, projection)

    target.apply(events)
    target.apply(events[len(events) // 2:])

    assert state(conn, target.schema, projection) == once


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_replay_in_other_batches_gives_same_state(name, conn, schemas, events):
    projection = PROJECTIONS[name]
    live = projector(conn, schemas(), projection)
    for start in range(0, len(events), 3):
        live.apply(events[start:start + 3])
    replay = projector(conn, schemas(), projection)
    replay.load(events[:10], set())
    replay.load(events[10:], {e.value["envelope"]["event_id"] for e in events[:10]})
    replay.refresh_keys(replay.all_keys())

    assert state(conn, replay.schema, projection) == state(conn, live.schema, projection)


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_input_events_are_not_mutated(name, conn, schemas, events):
    before = copy.deepcopy(events)

    projector(conn, schemas(), PROJECTIONS[name]).apply(events)

    assert events == before
