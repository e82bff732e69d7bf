"""Two writers on one aggregate: one wins, the other gets ConcurrencyConflict and can retry."""

from __future__ import annotations

import threading

import pytest

from heals.commands import models
from heals.commands.errors import ConcurrencyConflict, RuleViolation
from heals.envelope import chain_hash
from heals.registry import make_codec
from tests.support.commands import command

pytestmark = pytest.mark.integration


def transfer(ward: str) -> models.TransferPatient:
    return command(models.TransferPatient, patient_id="P1", to_location=models.Location(ward=ward))


def run_together(service, commands):
    """Execute each command in its own thread; both load the aggregate before either saves."""
    barrier = threading.Barrier(len(commands), timeout=60)
    save = service.store.save

    def save_after_everyone_loaded(aggregates, batch):
        barrier.wait()
        save(aggregates, batch)

    service.store.save = save_after_everyone_loaded
    outcomes: list[object] = [None] * len(commands)

    def run(index, cmd):
        try:
            outcomes[index] = service.execute(cmd)
        except ConcurrencyConflict as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(commands)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    service.store.save = save
    return outcomes


def test_concurrent_writers_get_one_conflict(service, settings):
    service.execute(command(models.AdmitPatient, patient_id="P1", encounter_id="E1"))
    commands = [transfer("WARD-A"), transfer("WARD-B")]

    outcomes = run_together(service, commands)

    conflicts = [o for o in outcomes if isinstance(o, ConcurrencyConflict)]
    assert len(conflicts) == 1
    assert conflicts[0].aggregate_id == "patient:P1"
    assert conflicts[0].expected_version == 2
    assert conflicts[0].actual_version == 3
    loser = next(c for c, o in zip(commands, outcomes) if isinstance(o, ConcurrencyConflict))
    assert service.store.find_commands([loser.command_id]) == {}

    # The retry succeeds on the new version, and the history is one unbroken chain.
    assert service.execute(loser).duplicate is False
    codec = make_codec(settings)
    events = [codec.decode(row.value).value for row in service.store.read_log(0, 100)]
    assert [e["envelope"]["aggregate_version"] for e in events] == [1, 2, 3, 4]
    assert sorted(e["to_location"]["ward"] for e in events[2:]) == ["WARD-A", "WARD-B"]
    previous = None
    for event in events:
        assert event["envelope"]["prev_hash"] == previous
        assert chain_hash(previous, event) == event["envelope"]["hash"]
        previous = event["envelope"]["hash"]


def test_concurrent_duplicates_store_once(service):
    service.execute(command(models.AdmitPatient, patient_id="P1", encounter_id="E1"))
    cmd = transfer("WARD-A")

    outcomes = run_together(service, [cmd, cmd])

    assert sorted(o.duplicate for o in outcomes) == [False, True]
    assert outcomes[0].event_ids == outcomes[1].event_ids
    assert service.store.count_events() == 3


def test_concurrent_new_aggregates_conflict(service):
    commands = [command(models.RegisterPatient, patient_id="P-NEW") for _ in range(2)]

    outcomes = run_together(service, commands)

    conflicts = [o for o in outcomes if isinstance(o, ConcurrencyConflict)]
    assert len(conflicts) == 1
    assert (conflicts[0].expected_version, conflicts[0].actual_version) == (0, 1)
    assert service.store.count_events() == 1


def test_discharge_during_charge_conflicts(service):
    from tests.support.commands import charge

    service.execute(command(models.AdmitPatient, patient_id="P1", encounter_id="E1"))
    service.execute(charge("ACC1", "P1", "C1", encounter_id="E1"))
    save = service.store.save

    def discharge_then_save(aggregates, batch):
        # The charge has read the admitted patient; the discharge commits before the charge does.
        service.store.save = save
        service.execute(command(models.DischargePatient, patient_id="P1"))
        save(aggregates, batch)

    service.store.save = discharge_then_save
    late_charge = charge("ACC1", "P1", "C2")

    with pytest.raises(ConcurrencyConflict) as caught:
        service.execute(late_charge)

    assert (caught.value.aggregate_id, caught.value.expected_version, caught.value.actual_version) == ("patient:P1", 2, 3)
    assert service.store.count_events() == 4
    with pytest.raises(RuleViolation) as retried:
        service.execute(late_charge)
    assert retried.value.rule == "charge-requires-open-account"
