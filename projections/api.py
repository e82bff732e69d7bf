"""The projection API: census, charts, timelines, worklists, results, vitals and ledgers over HTTP.

Every response carries an ETag (SHA-256 of its body), and a request whose
If-None-Match lists it gets 304. ``min_position`` takes the position token
the command API returned and waits until the read models behind the answer
have applied that aggregate version, answering 504 with the version reached
when the wait times out. Census and vitals answers are cached in Redis;
with Redis down they come from PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from functools import lru_cache
from typing import Any, Callable

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from psycopg_pool import ConnectionPool

from heals.commands.position import decode_position
from heals.kafka import make_producer
from heals.projections import queries
from heals.projections.audit import AccessRecorder
from heals.projections.cache import ReadCache, census_key, vitals_key
from heals.projections.journal import json_dumps
from heals.projections.settings import ProjectionSettings, get_projection_settings
from heals.registry import make_codec
from heals.settings import get_settings

__all__ = ["router", "ReadModels", "get_read_models"]

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.02
MAX_PAGE = 1000


class ReadModels:
    """Shared state of the endpoints: the PostgreSQL pool, the cache, the audit recorder and the settings."""

    def __init__(self, settings: ProjectionSettings, pool: ConnectionPool, cache: ReadCache | None,
                 recorder: AccessRecorder | None) -> None:
        self.settings = settings
        self.pool = pool
        self.cache = cache
        self.recorder = recorder

    @property
    def schema(self) -> str:
        """PostgreSQL schema of the live read models."""
        return self.settings.db_schema


@lru_cache(maxsize=1)
def get_read_models() -> ReadModels:
    """Build the shared read-model access from the settings, once per process."""
    settings = get_settings()
    projection_settings = get_projection_settings()
    pool = ConnectionPool(settings.postgres_url, min_size=2, max_size=8, kwargs={"autocommit": True}, open=True,
                          name="heals-projection-api")
    recorder = None
    if projection_settings.audit_enabled:
        recorder = AccessRecorder(make_producer(settings, **{"linger.ms": 20}), make_codec(settings),
                                  projection_settings.audit_topic, settings.tenant_id)
    return ReadModels(projection_settings, pool, ReadCache(settings.redis, projection_settings.cache_ttl_seconds), recorder)


router = APIRouter(tags=["projections"])
Models = Depends(get_read_models)
MinPosition = Query(None, description="Position token from the command API; the response waits until it is applied.")
Limit = Query(100, ge=1, le=MAX_PAGE, description="Items per page.")
Offset = Query(0, ge=0, description="Items to skip.")


def _wait_for_position(models: ReadModels, token: str | None, projections: tuple[str, ...]) -> None:
    if not token:
        return
    try:
        position = decode_position(token)
    except ValueError as exc:
        raise HTTPException(400, detail=f"invalid min_position: {exc}") from None
    deadline = time.monotonic() + models.settings.min_position_timeout_seconds
    while True:
        with models.pool.connection() as conn:
            reached = queries.applied_version(conn, models.schema, projections, position.aggregate_id)
        if reached >= position.aggregate_version:
            return
        if time.monotonic() >= deadline:
            raise HTTPException(504, detail={
                "message": f"read models did not reach version {position.aggregate_version} of aggregate "
                           f"{position.aggregate_id!r} within {models.settings.min_position_timeout_seconds} s",
                "position_reached": {"aggregate_id": position.aggregate_id, "aggregate_version": reached},
            })
        time.sleep(POLL_SECONDS)


def _answer(request: Request, body: bytes, etag: str | None = None) -> Response:
    etag = etag or f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    expected = request.headers.get("if-none-match")
    if expected and (expected.strip() == "*" or etag in [tag.strip() for tag in expected.split(",")]):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)


def _cached(models: ReadModels, request: Request, key: str, build: Callable[[], Any]) -> Response:
    """Return the cached body when Redis has the key, else build it from PostgreSQL and cache it with its ETag."""
    if models.cache is not None:
        hit = models.cache.get(key)
        if hit is not None:
            etag, _, body = hit.partition(b"\n")
            return _answer(request, body, etag.decode())
    body = json_dumps(build()).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    if models.cache is not None:
        models.cache.set(key, etag.encode() + b"\n" + body)
    return _answer(request, body, etag)


def _page(items: list[Any], limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "limit": limit, "offset": offset, "next_offset": offset + limit if len(items) == limit else None}


def _audit(models: ReadModels, request: Request, patient_id: str, resource: str, status_code: int = 200) -> None:
    if models.recorder is None:
        return
    models.recorder.record(patient_id, resource, request.method, request.url.path, status_code,
                           actor=request.headers.get("x-heals-actor"), purpose=request.headers.get("x-heals-purpose"),
                           client=request.client.host if request.client else None)


@router.get("/census", summary="Admitted patients by ward, room and bed; today's admissions and discharges")
def get_census(request: Request, ward: str | None = None, day: dt.date | None = Query(None, description="UTC day of the admission and discharge counts; default today."),
               limit: int = Limit, offset: int = Offset, min_position: str | None = MinPosition,
               models: ReadModels = Models) -> Response:
    _wait_for_position(models, min_position, ("census",))
    day = day or dt.datetime.now(dt.timezone.utc).date()
    key = f"{census_key(models.schema)}:{day}:{ward or ''}:{limit}:{offset}"

    def build() -> Any:
        with models.pool.connection() as conn:
            answer = queries.census(conn, models.schema, day, ward, limit, offset)
        answer.update(limit=limit, offset=offset, next_offset=offset + limit if len(answer["items"]) == limit else None)
        return answer

    return _cached(models, request, key, build)


@router.get("/patients", summary="Patients carrying an identifier, as SYSTEM|VALUE")
def search_patients(request: Request, identifier: str = Query(..., description="Assigning authority and value, as SYSTEM|VALUE."),
                    min_position: str | None = MinPosition, models: ReadModels = Models) -> Response:
    system, separator, value = identifier.partition("|")
    if not separator or not value:
        raise HTTPException(400, detail=f"invalid identifier {identifier!r}: expected SYSTEM|VALUE, for example HOSP|12345")
    _wait_for_position(models, min_position, ("chart",))
    with models.pool.connection() as conn:
        patients = queries.find_patients(conn, models.schema, system, value)
    for patient in patients:
        _audit(models, request, patient["patient_id"], "patient search")
    return _answer(request, json_dumps({"items": patients}).encode())


@router.get("/patients/{patient_id}", summary="Chart summary: demographics, encounter, orders, results, vitals, alerts")
def get_chart(request: Request, patient_id: str, min_position: str | None = MinPosition,
              models: ReadModels = Models) -> Response:
    _wait_for_position(models, min_position, ("chart", "orders", "results", "vitals"))
    with models.pool.connection() as conn:
        survivor = queries.resolve_patient(conn, models.schema, patient_id)
        summary = queries.chart(conn, models.schema, survivor, models.settings.alerts_table)
    if summary is None:
        raise HTTPException(404, detail=f"patient {patient_id!r} not found")
    if survivor != patient_id:
        summary["resolved_from"] = patient_id
    _audit(models, request, survivor, "chart")
    return _answer(request, json_dumps(summary).encode())


@router.get("/patients/{patient_id}/timeline", summary="Every event of a patient by occurred_at, as known at as_of")
def get_timeline(request: Request, patient_id: str,
                 as_of: dt.datetime | None = Query(None, description="Leave out what was recorded after this moment (ISO 8601 with offset)."),
                 limit: int = Limit, offset: int = Offset, min_position: str | None = MinPosition,
                 models: ReadModels = Models) -> Response:
    if as_of is not None and as_of.tzinfo is None:
        raise HTTPException(400, detail=f"as_of {as_of.isoformat()} has no UTC offset; add one, for example Z")
    _wait_for_position(models, min_position, ("timeline",))
    with models.pool.connection() as conn:
        survivor = queries.resolve_patient(conn, models.schema, patient_id)
        entries = queries.timeline(conn, models.schema, survivor, as_of, limit, offset)
    _audit(models, request, survivor, "timeline")
    answer = {"patient_id": survivor, "as_of": as_of, **_page(entries, limit, offset)}
    return _answer(request, json_dumps(answer).encode())


@router.get("/orders", summary="Order worklist by department and status")
def get_orders(request: Request, department: str | None = None, status: str | None = None,
               limit: int = Limit, offset: int = Offset, min_position: str | None = MinPosition,
               models: ReadModels = Models) -> Response:
    _wait_for_position(models, min_position, ("orders",))
    with models.pool.connection() as conn:
        items = queries.orders(conn, models.schema, department, status, limit, offset)
    return _answer(request, json_dumps(_page(items, limit, offset)).encode())


@router.get("/patients/{patient_id}/results", summary="Results of a patient with flags and correction history")
def get_results(request: Request, patient_id: str, limit: int = Limit, offset: int = Offset,
                min_position: str | None = MinPosition, models: ReadModels = Models) -> Response:
    _wait_for_position(models, min_position, ("results",))
    with models.pool.connection() as conn:
        survivor = queries.resolve_patient(conn, models.schema, patient_id)
        items = queries.results(conn, models.schema, survivor, limit, offset)
    _audit(models, request, survivor, "results")
    return _answer(request, json_dumps({"patient_id": survivor, **_page(items, limit, offset)}).encode())


@router.get("/patients/{patient_id}/vitals", summary="Latest reading per observation code with a short history")
def get_vitals(request: Request, patient_id: str, min_position: str | None = MinPosition,
               models: ReadModels = Models) -> Response:
    _wait_for_position(models, min_position, ("vitals",))
    with models.pool.connection() as conn:
        survivor = queries.resolve_patient(conn, models.schema, patient_id)

    def build() -> Any:
        with models.pool.connection() as conn:
            return {"patient_id": survivor, "items": queries.vitals(conn, models.schema, survivor)}

    _audit(models, request, survivor, "vitals")
    return _cached(models, request, vitals_key(models.schema, survivor), build)


@router.get("/billing/accounts/{account_id}", summary="Ledger of an account: charges, reversals and balance")
def get_account(request: Request, account_id: str, min_position: str | None = MinPosition,
                models: ReadModels = Models) -> Response:
    _wait_for_position(models, min_position, ("billing",))
    with models.pool.connection() as conn:
        ledger = queries.account(conn, models.schema, account_id)
    if ledger is None:
        raise HTTPException(404, detail=f"account {account_id!r} not found")
    _audit(models, request, ledger["patient_id"], "billing account")
    return _answer(request, json_dumps(ledger).encode())
