"""Commands per second through the HTTP command API, with a real uvicorn server on loopback.

Starts `heals api` on a free port against a fresh event store schema,
posts AdmitPatient then TransferPatient commands for distinct patients from
several client threads, prints throughput and latency percentiles, and
drops the schema. Each admission stores two events, each transfer one.

    .venv/bin/python bench/commands_http.py --patients 1000 --clients 8
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from psycopg.sql import SQL, Identifier

from heals.settings import Settings

HEALS = Path(sys.executable).with_name("heals")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(base_url: str, server: subprocess.Popen) -> None:
    while True:
        if server.poll() is not None:
            raise SystemExit(f"heals api exited with code {server.returncode}")
        try:
            httpx.get(f"{base_url}/openapi.json", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)


def commands_for(patient: int) -> list[tuple[str, dict]]:
    base = {"occurred_at": "2026-03-14T09:30:00+01:00", "source": {"system": "BENCH"}, "patient_id": f"P{patient}"}
    return [
        ("/commands/admit-patient", {**base, "command_id": f"admit-{patient}", "encounter_id": f"E{patient}",
                                     "location": {"ward": "W1"}}),
        ("/commands/transfer-patient", {**base, "command_id": f"transfer-{patient}", "to_location": {"ward": "W2"}}),
    ]


def run_clients(base_url: str, patients: int, clients: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(first: int) -> None:
        mine = []
        with httpx.Client(base_url=base_url, timeout=30) as http:
            for patient in range(first, patients, clients):
                for path, body in commands_for(patient):
                    started = time.perf_counter()
                    response = http.post(path, json=body)
                    mine.append(time.perf_counter() - started)
                    if response.status_code != 202:
                        failures.append(f"{path} answered {response.status_code}: {response.text[:300]}")
                        return
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} clients stopped on an error, the first: {failures[0]}")
    return time.perf_counter() - started, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000, help="patients; two commands each")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP client threads")
    arguments = parser.parse_args()

    schema = f"bench_commands_{uuid.uuid4().hex[:8]}"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HEALS_EVENT_STORE_SCHEMA": schema}
    server = subprocess.Popen([str(HEALS), "api", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(base_url, server)
        elapsed, latencies = run_clients(base_url, arguments.patients, arguments.clients)
    finally:
        server.terminate()
        server.wait()
        with psycopg.connect(Settings().postgres_url, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))

    latencies.sort()
    count = len(latencies)
    print(f"commands: {count} ({arguments.patients} admissions, {arguments.patients} transfers), "
          f"clients: {arguments.clients}")
    print(f"throughput: {count / elapsed:.0f} commands/s, {arguments.patients * 3 / elapsed:.0f} events/s")
    print(f"latency ms: p50 {statistics.median(latencies) * 1000:.1f}, "
          f"p99 {latencies[int(count * 0.99) - 1] * 1000:.1f}, max {latencies[-1] * 1000:.1f}")


if __name__ == "__main__":
    main()
