"""The ACK store: accepted messages by sender and MSH-10, with a payload hash and the ACK sent.

A resend of an accepted message (same MSH-3, MSH-4 and MSH-10, same bytes)
gets the stored ACK and creates nothing. The same key with different bytes
is a different message reusing a control id, which the caller rejects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from heals.errors import InfraError

__all__ = ["AckStore", "MessageKey", "StoredAck"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessageKey:
    """Identity of an inbound message: tenant, MSH-3, MSH-4 and MSH-10."""

    tenant_id: str
    sending_application: str
    sending_facility: str
    control_id: str


@dataclass(frozen=True)
class StoredAck:
    """A stored ACK and the SHA-256 of the message it acknowledged."""

    payload_sha256: bytes
    ack: bytes
    ack_code: str


class AckStore:
    """ACKs of accepted messages in one PostgreSQL table."""

    def __init__(self, url: str, table: str, max_connections: int = 8) -> None:
        self.table = sql.Identifier(table)
        try:
            # Autocommit: each statement is its own transaction, which saves a COMMIT round trip.
            self.pool = ConnectionPool(
                url, min_size=1, max_size=max_connections, open=True, timeout=30, kwargs={"autocommit": True}
            )
            self._create()
        except (psycopg.Error, Exception) as exc:
            raise InfraError(f"cannot open the HL7 ACK store table {table!r} in PostgreSQL: {exc}") from exc

    def _create(self) -> None:
        statement = sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            " tenant_id text NOT NULL, sending_application text NOT NULL, sending_facility text NOT NULL,"
            " control_id text NOT NULL, payload_sha256 bytea NOT NULL, ack bytea NOT NULL, ack_code text NOT NULL,"
            " stored_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (tenant_id, sending_application, sending_facility, control_id))"
        ).format(self.table)
        with self.pool.connection() as connection:
            connection.execute(statement)

    def lookup(self, key: MessageKey) -> StoredAck | None:
        """Return the stored ACK of a message key, or None."""
        statement = sql.SQL(
            "SELECT payload_sha256, ack, ack_code FROM {} WHERE tenant_id = %s AND sending_application = %s"
            " AND sending_facility = %s AND control_id = %s"
        ).format(self.table)
        with self.pool.connection() as connection:
            row = connection.execute(statement, _params(key)).fetchone()
        return StoredAck(bytes(row[0]), bytes(row[1]), row[2]) if row else None

    def save(self, key: MessageKey, digest: bytes, ack: bytes, ack_code: str) -> StoredAck:
        """Store an ACK unless one is already stored; return the one that is stored now."""
        statement = sql.SQL(
            "INSERT INTO {} (tenant_id, sending_application, sending_facility, control_id, payload_sha256, ack, ack_code)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
        ).format(self.table)
        with self.pool.connection() as connection:
            inserted = connection.execute(statement, (*_params(key), digest, ack, ack_code)).rowcount
        if inserted:
            return StoredAck(digest, ack, ack_code)
        # Two connections delivered the same message at once, so the first stored ACK wins.
        stored = self.lookup(key)
        return stored if stored is not None else StoredAck(digest, ack, ack_code)

    def lookup_many(self, keys: Sequence[MessageKey]) -> dict[MessageKey, StoredAck]:
        """Return the stored ACKs of those message keys that have one, in one query."""
        if not keys:
            return {}
        statement = sql.SQL(
            "SELECT tenant_id, sending_application, sending_facility, control_id, payload_sha256, ack, ack_code FROM {}"
            " WHERE (tenant_id, sending_application, sending_facility, control_id) IN (SELECT * FROM unnest("
            "%s::text[], %s::text[], %s::text[], %s::text[]))"
        ).format(self.table)
        with self.pool.connection() as connection:
            rows = connection.execute(statement, _columns(keys)).fetchall()
        return {MessageKey(*row[:4]): StoredAck(bytes(row[4]), bytes(row[5]), row[6]) for row in rows}

    def save_many(self, entries: Sequence[tuple[MessageKey, bytes, bytes, str]]) -> list[StoredAck]:
        """Store (key, digest, ACK, ACK code) entries in one statement; return the ACK stored now for each entry."""
        if not entries:
            return []
        statement = sql.SQL(
            "INSERT INTO {} (tenant_id, sending_application, sending_facility, control_id, payload_sha256, ack, ack_code)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bytea[], %s::bytea[], %s::text[])"
            " ON CONFLICT DO NOTHING RETURNING tenant_id, sending_application, sending_facility, control_id"
        ).format(self.table)
        keys = [entry[0] for entry in entries]
        params = (*_columns(keys), [e[1] for e in entries], [e[2] for e in entries], [e[3] for e in entries])
        with self.pool.connection() as connection:
            inserted = {MessageKey(*row) for row in connection.execute(statement, params).fetchall()}
        # A key not inserted was stored by a concurrent connection first, so its stored ACK wins.
        earlier = self.lookup_many([key for key in keys if key not in inserted])
        return [earlier.get(key, StoredAck(digest, ack, code)) for key, digest, ack, code in entries]

    def drop(self) -> None:
        """Drop the table; for tests that made their own."""
        with self.pool.connection() as connection:
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self.table))

    def close(self) -> None:
        """Close the connection pool."""
        self.pool.close()


def _columns(keys: Sequence[MessageKey]) -> tuple[list[str], list[str], list[str], list[str]]:
    return ([k.tenant_id for k in keys], [k.sending_application for k in keys], [k.sending_facility for k in keys],
            [k.control_id for k in keys])


def _params(key: MessageKey) -> tuple[str, str, str, str]:
    return key.tenant_id, key.sending_application, key.sending_facility, key.control_id
