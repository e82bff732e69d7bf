"""Latency of the projection API (census and chart reads) at a fixed request rate.

Fills a fresh PostgreSQL schema with read models for a synthetic hospital
(applied in-process, no Kafka needed), starts `heals api` on a free
loopback port against that schema, then sends requests open-loop at the
given rate: half GET /census, half GET /patients/{id} of random patients.
Latency counts from the moment each request was due, so a stalled server
cannot hide its queueing. The client writes its requests by hand over 64
keep-alive connections, because an httpx client used most of a core at
500 requests/s on the same two cores as the server. Prints p50, p99 and max per endpoint, then stops
the server and drops the schema.

    .venv/bin/python bench/projection_api.py --rate 500 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from heals.codec import Codec  # noqa: E402
from heals.catalogue import load_catalogue  # noqa: E402
from heals.projections.model import SourceEvent  # noqa: E402
from heals.projections.projector import Projector  # noqa: E402
from heals.projections.registry import PROJECTIONS  # noqa: E402
from heals.settings import REPO_ROOT, Settings  # noqa: E402
from tests.support.projection_stack import role_of  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from projections import hospital  # noqa: E402


def fill(settings: Settings, schema: str, patients: int, readings: int) -> None:
    codec = Codec(load_catalogue(settings.schema_dir))
    events = []
    for offset, (event_type, value) in enumerate(hospital(patients * 12 + readings, patients)):
        decoded = codec.decode(codec.encode(event_type, value, "bench"))
        events.append(SourceEvent(role_of(event_type), 0, offset, decoded.event_type, decoded.value))
    with psycopg.connect(settings.postgres_url, autocommit=True) as conn:
        for projection in PROJECTIONS.values():
            projector = Projector(projection, conn, schema)
            projector.ensure_tables()
            for start in range(0, len(events), 5000):
                projector.apply(events[start:start + 5000])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Connection:
    """One keep-alive HTTP/1.1 connection with a hand-written request, so the client spends little CPU."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def get(self, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status


async def load(port: int, rate: float, seconds: float, patients: int, connections: int = 64) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {"census": [], "chart": [], "errors": []}
    rng = random.Random(7)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection(*await asyncio.open_connection("127.0.0.1", port)))

    async def one(kind: str, path: str, due: float) -> None:
        connection = await idle.get()
        try:
            ok = await connection.get(path) == 200
        except (OSError, asyncio.IncompleteReadError, ValueError):
            ok = False
            connection = Connection(*await asyncio.open_connection("127.0.0.1", port))
        idle.put_nowait(connection)
        latencies[kind if ok else "errors"].append(time.perf_counter() - due)

    tasks = []
    start = time.perf_counter() + 0.5
    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if i % 2:
            tasks.append(asyncio.create_task(one("chart", f"/patients/P{rng.randrange(patients)}", due)))
        else:
            tasks.append(asyncio.create_task(one("census", "/census", due)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().writer.close()
    return latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500, help="Requests per second.")
    parser.add_argument("--seconds", type=float, default=20, help="Length of the measured run.")
    parser.add_argument("--patients", type=int, default=2000, help="Synthetic patients in the read models.")
    parser.add_argument("--readings", type=int, default=50000, help="Device readings in the read models.")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of `heals api`.")
    args = parser.parse_args()

    settings = Settings()
    schema = f"bench_api_{uuid.uuid4().hex[:8]}"
    fill(settings, schema, args.patients, args.readings)
    port = free_port()
    env = {**os.environ, "HEALS_PROJECTIONS_DB_SCHEMA": schema, "HEALS_PROJECTIONS_AUDIT_ENABLED": "false"}
    server = subprocess.Popen([sys.executable, "-m", "heals", "api", "--port", str(port), "--workers", str(args.workers)], cwd=REPO_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/census", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the API did not start within 60 s")
            time.sleep(0.2)
        # Warm the connection pool and the census cache before measuring.
        asyncio.run(load(port, 100, 2, args.patients))
        latencies = asyncio.run(load(port, args.rate, args.seconds, args.patients))
    finally:
        server.terminate()
        server.wait(30)
        with psycopg.connect(settings.postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))

    print(f"{args.rate:.0f} requests/s for {args.seconds:.0f} s against {args.patients} patients, "
          f"{args.workers} uvicorn worker process(es)")
    for kind in ("census", "chart"):
        values = sorted(latencies[kind])
        print(f"GET {'/census' if kind == 'census' else '/patients/{id}':<16} {len(values):>6} answers: "
              f"p50 {percentile(values, 50) * 1000:6.1f} ms, p99 {percentile(values, 99) * 1000:6.1f} ms, "
              f"max {values[-1] * 1000:6.1f} ms")
    print(f"errors: {len(latencies['errors'])}")


if __name__ == "__main__":
    main()
