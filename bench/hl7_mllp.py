"""Benchmark the MLLP listener: messages/s on one connection, and ACK latency at a fixed rate.

With --kind adt every message is a synthetic ADT^A04 for a new patient, so
each ACK waits for two events committed in PostgreSQL through the real write
side, plus the raw archive record acknowledged by Kafka. With --kind device
every message is a PCD-01 report whose three readings go straight to Kafka. The listener runs in this process on a
free loopback port, with its own event store schema, ACK table and topics,
all removed at the end.

By default the sender waits for each ACK before it sends the next message.
With --window N it pipelines: up to N messages are in flight on the
connection, and the listener may commit the frames it reads together in
one write-side transaction. The fixed-rate run then uses one connection,
with a sender thread that does not wait and a thread that reads the ACKs.

    .venv/bin/python bench/hl7_mllp.py --messages 2000 --rate 200 --seconds 20
    .venv/bin/python bench/hl7_mllp.py --messages 5000 --window 50 --rate 200 --seconds 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import asyncio
import collections
import statistics
import threading
import time
import uuid

from confluent_kafka.admin import AdminClient, NewTopic

from heals.commands.service import CommandService
from heals.connectors.hl7.app import build_listener
from heals.connectors.hl7.client import MllpClient, read_ack
from heals.connectors.hl7.mllp import frame
from heals.connectors.hl7.settings import ListenerSettings
from heals.kafka import client_config
from heals.settings import Settings


def admission(run: str, number: int) -> bytes:
    """Return a synthetic ADT^A04 for patient BENCH-<run>-<number>."""
    return (
        f"MSH|^~\\&|BENCH|WARD|HEALS|H|20240101120000+0000||ADT^A04|{run}-{number}|P|2.5\r"
        f"EVN||20240101120000+0000\r"
        f"PID|||BENCH-{run}-{number}^^^H^MR||Doe^Jane||19700101|F\r"
        f"PV1||O|CLINIC^1^1||||||||||||||||V-{run}-{number}\r"
    ).encode("ascii")


def device_report(run: str, number: int) -> bytes:
    """Return a synthetic IHE PCD-01 ORU^R01 with three blood pressure readings for device 0123456789ABCDEF."""
    observed = (dt.datetime(2024, 1, 1) + dt.timedelta(seconds=number)).strftime("%Y%m%d%H%M%S")
    return (
        f"MSH|^~\\&|GW^0011223344556677^EUI-64|WARD|HEALS|H|20240101120000+0000||ORU^R01^ORU_R01|{run}-{number}|P|2.6\r"
        f"PID|||BENCH-{run}^^^H^MR\r"
        f"OBR|1|{run}-{number}^GW||182777000^monitoring of patient^SCT|||20240101120000+0000\r"
        f"OBX|1||150020^MDC_PRESS_BLD_NONINV^MDC|1.0.1|||||||X|||{observed}+0000||||0123456789ABCDEF^EUI-64\r"
        f"OBX|2|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.0.1.1|120|266016^MDC_DIM_MMHG^MDC|||||R\r"
        f"OBX|3|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.0.1.2|80|266016^MDC_DIM_MMHG^MDC|||||R\r"
        f"OBX|4|NM|150023^MDC_PRESS_BLD_NONINV_MEAN^MDC|1.0.1.3|100|266016^MDC_DIM_MMHG^MDC|||||R\r"
    ).encode("ascii")


MESSAGES = {"adt": admission, "device": device_report}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def paced_latencies(port: int, build, run: str, rate: float, seconds: float, connections: int) -> tuple[list[float], float]:
    """Send at a fixed total rate over several connections; return ACK latencies in ms and the rate achieved."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_connection = rate / connections
    count = int(per_connection * seconds)

    def pace(connection: int) -> None:
        interval = 1.0 / per_connection
        with MllpClient("127.0.0.1", port) as client:
            start = time.perf_counter()
            for number in range(count):
                delay = start + number * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                sent = time.perf_counter()
                client.send(build(f"{run}r{connection}", number))
                with lock:
                    latencies.append((time.perf_counter() - sent) * 1000)

    started = time.perf_counter()
    threads = [threading.Thread(target=pace, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, len(latencies) / (time.perf_counter() - started)


def pipelined_throughput(client: MllpClient, build, run: str, messages: int, window: int) -> float:
    """Send messages keeping up to ``window`` in flight; return the elapsed seconds. Every ACK must accept."""
    sent = 0
    started = time.perf_counter()
    while sent < min(window, messages):
        client.socket.sendall(frame(build(run, sent)))
        sent += 1
    for _ in range(messages):
        ack = read_ack(client.receive())
        if ack.code not in ("AA", "CA"):
            raise SystemExit(f"message {ack.control_id} got {ack.code} instead of AA: {ack.text}")
        if sent < messages:
            client.socket.sendall(frame(build(run, sent)))
            sent += 1
    return time.perf_counter() - started


def pipelined_latencies(port: int, build, run: str, rate: float, seconds: float) -> tuple[list[float], float]:
    """Send at a fixed rate on one connection without waiting for ACKs; return ACK latencies in ms and the rate achieved."""
    count = int(rate * seconds)
    sent_at: collections.deque[float] = collections.deque()
    latencies: list[float] = []
    with MllpClient("127.0.0.1", port) as client:
        def read_acks() -> None:
            for _ in range(count):
                client.receive()
                latencies.append((time.perf_counter() - sent_at.popleft()) * 1000)

        reader = threading.Thread(target=read_acks)
        reader.start()
        started = time.perf_counter()
        for number in range(count):
            delay = started + number / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            # The ACK reader pops this time, so it is appended before the frame leaves.
            sent_at.append(time.perf_counter())
            client.socket.sendall(frame(build(f"{run}p", number)))
        reader.join()
    return latencies, count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="Messages sent back to back for the throughput figure.")
    parser.add_argument("--rate", type=float, default=200.0, help="Messages per second for the latency figure.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Duration of the fixed-rate run, in seconds.")
    parser.add_argument("--connections", type=int, default=4, help="Connections that share the fixed rate.")
    parser.add_argument("--window", type=int, default=1,
                        help="Messages in flight on one connection; above 1 the sender pipelines without waiting for ACKs.")
    parser.add_argument("--kind", choices=sorted(MESSAGES), default="adt",
                        help="adt: ADT^A04 through the write side; device: PCD-01 readings straight to Kafka.")
    args = parser.parse_args()
    build = MESSAGES[args.kind]

    settings = Settings()
    run = uuid.uuid4().hex[:8]
    schema = f"bench_hl7_{run}"
    topics = {"raw": f"bench.hl7.raw.{run}", "readings": f"bench.hl7.readings.{run}", "dlq": f"dlq.bench.hl7.{run}"}
    admin = AdminClient(client_config(settings))
    for future in admin.create_topics([NewTopic(t, num_partitions=1, replication_factor=1) for t in topics.values()]).values():
        future.result(30)

    service = CommandService(settings, schema=schema)
    listener_settings = ListenerSettings(
        raw_topic=topics["raw"], readings_topic=topics["readings"], dead_letter_name=f"bench.hl7.{run}",
        ack_table=f"{schema}_acks",
    )
    parts = build_listener(settings, listener_settings, service, host="127.0.0.1", port=0)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(parts.listener.start())
    threading.Thread(target=loop.run_forever, daemon=True).start()

    try:
        with MllpClient("127.0.0.1", parts.listener.port) as client:
            # Warm up connection pools and the producer.
            for number in range(50):
                client.send(build(f"{run}w", number))

            if args.window > 1:
                elapsed = pipelined_throughput(client, build, run, args.messages, args.window)
            else:
                started = time.perf_counter()
                for number in range(args.messages):
                    client.send(build(run, number))
                elapsed = time.perf_counter() - started
            print(f"throughput, one connection, window {args.window}: {args.messages / elapsed:.0f} messages/s "
                  f"({args.messages} messages in {elapsed:.2f} s)")

        if args.window > 1:
            latencies, achieved = pipelined_latencies(parts.listener.port, build, run, args.rate, args.seconds)
            senders = "pipelined on 1 connection"
        else:
            latencies, achieved = paced_latencies(parts.listener.port, build, run, args.rate, args.seconds, args.connections)
            senders = f"over {args.connections} connections, each waiting for its ACK"
        count = len(latencies)
        print(f"ACK latency at {args.rate:.0f} messages/s offered {senders} "
              f"(achieved {achieved:.0f}/s, {count} messages): p50 {statistics.median(latencies):.1f} ms, "
              f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms")
    finally:
        asyncio.run_coroutine_threadsafe(parts.listener.stop(), loop).result(60)
        parts.store.drop()
        parts.close()
        service.store.drop()
        for future in admin.delete_topics(list(topics.values()), operation_timeout=30).values():
            future.result(30)


if __name__ == "__main__":
    main()
