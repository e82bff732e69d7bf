"""Commands per second through CommandService in-process, with and without group commit.

Each thread admits its own patients, so commands never conflict. Run with
``--max-group 1`` to write one transaction per command, as without group
commit, and compare back to back with the default.

    .venv/bin/python bench/commands_service.py --threads 8 --commands 60
"""

from __future__ import annotations

import argparse
import datetime as dt
import threading
import time
import uuid

from heals.commands import models
from heals.commands.service import CommandService
from heals.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8, help="concurrent callers")
    parser.add_argument("--commands", type=int, default=60, help="AdmitPatient commands per thread")
    parser.add_argument("--max-group", type=int, default=64, help="most saves one transaction may hold")
    arguments = parser.parse_args()

    service = CommandService(Settings(), schema=f"bench_service_{uuid.uuid4().hex[:8]}")
    service.store._committer._max_group = arguments.max_group
    source = models.CommandSource(system="BENCH")
    occurred_at = dt.datetime.now(dt.timezone.utc)

    def admit_patients(thread: int) -> None:
        for number in range(arguments.commands):
            service.execute(models.AdmitPatient(
                command_id=f"admit-{thread}-{number}", occurred_at=occurred_at, source=source,
                patient_id=f"T{thread}-P{number}", encounter_id=f"E{thread}-{number}",
            ))

    threads = [threading.Thread(target=admit_patients, args=(n,)) for n in range(arguments.threads)]
    try:
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        service.store.drop()

    total = arguments.threads * arguments.commands
    print(f"threads {arguments.threads}, max group {arguments.max_group}: "
          f"{total} commands in {elapsed:.2f} s = {total / elapsed:.0f} commands/s, {2 * total / elapsed:.0f} events/s")


if __name__ == "__main__":
    main()
