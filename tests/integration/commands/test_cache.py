"""The aggregate cache behind another writer, and several messages committed together."""

from __future__ import annotations

import pytest

from heals.commands import models
from heals.commands.errors import ConcurrencyConflict, RuleViolation
from heals.commands.service import CommandService
from heals.envelope import chain_hash
from heals.registry import make_codec
from tests.support.commands import command, order

pytestmark = pytest.mark.integration


@pytest.fixture
def other_process(live_services, store_schema, service):
    """A second CommandService on the same store, as another process would have; it has its own cache."""
    other = CommandService(live_services, schema=store_schema)
    yield other
    other.close()


def assert_one_chain(service, settings, aggregate_id):
    codec = make_codec(settings)
    events = [codec.decode(row.value).value for row in service.store.read_log(0, 1000) if row.aggregate_id == aggregate_id]
    assert [e["envelope"]["aggregate_version"] for e in events] == list(range(1, len(events) + 1))
    previous = None
    for event in events:
        assert event["envelope"]["prev_hash"] == previous
        assert chain_hash(previous, event) == event["envelope"]["hash"]
        previous = event["envelope"]["hash"]


def test_stale_cache_write_conflicts_then_retries(service, other_process, settings):
    service.execute(command(models.AdmitPatient, patient_id="P1", encounter_id="E1"))
    other_process.execute(command(models.TransferPatient, patient_id="P1", to_location=models.Location(ward="B")))
    transfer = command(models.TransferPatient, patient_id="P1", to_location=models.Location(ward="C"))

    # The cache still contains version 2, so the write collides with version 3 and is reported.
    with pytest.raises(ConcurrencyConflict) as caught:
        service.execute(transfer)

    assert (caught.value.expected_version, caught.value.actual_version) == (2, 3)
    assert service.execute(transfer).duplicate is False
    assert service.store.current_version("patient:P1") == 4
    assert_one_chain(service, settings, "patient:P1")


def test_rule_on_stale_cache_is_judged_again(service, other_process, settings):
    service.execute(command(models.AdmitPatient, patient_id="P1", encounter_id="E1"))
    other_process.execute(command(models.DischargePatient, patient_id="P1"))

    # The cached patient is still admitted; the store's patient is discharged and may be admitted again.
    outcome = service.execute(command(models.AdmitPatient, patient_id="P1", encounter_id="E2"))

    assert outcome.duplicate is False
    assert service.store.current_version("patient:P1") == 4
    assert_one_chain(service, settings, "patient:P1")


def test_stale_cached_read_fails_the_commit(service, other_process, settings):
    service.execute(command(models.RegisterPatient, patient_id="P1"))
    service.execute(command(models.RegisterPatient, patient_id="P2"))
    other_process.execute(command(models.MergePatients, survivor_patient_id="P2", merged_patient_id="P1"))

    # PlaceOrder only reads the patient for its canonical id; the cached P1 is not merged yet.
    with pytest.raises(ConcurrencyConflict) as caught:
        service.execute(order("P1", "O1"))

    assert caught.value.aggregate_id == "patient:P1"
    assert service.execute(order("P1", "O1")).duplicate is False
    codec = make_codec(settings)
    placed = [codec.decode(r.value).value for r in service.store.read_log(0, 100) if r.event_type == "OrderPlaced"]
    assert placed[0]["envelope"]["patient_id"] == "P2"


def test_messages_together_see_earlier_messages(service):
    admit = [command(models.AdmitPatient, patient_id="P1", encounter_id="E1")]
    transfer = [command(models.TransferPatient, patient_id="P1", to_location=models.Location(ward="B"))]
    discharge = [command(models.DischargePatient, patient_id="P1")]

    outcomes = service.execute_together([admit, transfer, discharge])

    assert [len(message) for message in outcomes] == [1, 1, 1]
    assert service.store.current_version("patient:P1") == 4
    assert service.store.find_commands([c[0].command_id for c in (admit, transfer, discharge)]).keys() == {
        admit[0].command_id, transfer[0].command_id, discharge[0].command_id,
    }


def test_failing_message_together_stores_nothing(service):
    admit = [command(models.AdmitPatient, patient_id="P1", encounter_id="E1")]
    bad_transfer = [command(models.TransferPatient, patient_id="P9", to_location=models.Location(ward="B"))]

    with pytest.raises(RuleViolation):
        service.execute_together([admit, bad_transfer])

    assert service.store.count_events() == 0
    assert service.execute_all(admit)[0].duplicate is False
