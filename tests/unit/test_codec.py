"""The Avro codec in both framings, and the errors it raises on bad records."""

from __future__ import annotations

import pytest

from heals.codec import CONFLUENT_MAGIC, SINGLE_OBJECT_MARKER, Codec
from heals.errors import DecodeError, EncodeError
from heals.registry import make_registry
from tests.support.avro_samples import sample_value

EVENT_TYPES = [
    "PatientRegistered", "DemographicsUpdated", "PatientAdmitted", "PatientTransferred", "PatientDischarged",
    "AdmissionCancelled", "DischargeCancelled", "PatientsMerged", "OrderPlaced", "OrderStatusChanged",
    "OrderCancelled", "ResultRecorded", "DeviceReadingRecorded", "ChargePosted", "ChargeReversed",
]


@pytest.fixture
def single_object(catalogue):
    return Codec(catalogue)


@pytest.fixture
def confluent(catalogue):
    return Codec(catalogue, make_registry("mock://codec-tests"))


def test_catalogue_has_every_event_type(catalogue):
    missing = [name for name in EVENT_TYPES if name not in catalogue.by_event_type]
    assert missing == []


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_single_object_round_trip(single_object, catalogue, event_type):
    value = sample_value(catalogue.get(event_type).expanded)
    data = single_object.encode(event_type, value, "clinical.adt.v1")

    assert data[:2] == SINGLE_OBJECT_MARKER
    assert data[2:10] == catalogue.get(event_type).fingerprint
    decoded = single_object.decode(data, topic="t", partition=0, offset=0)
    assert decoded.event_type == event_type
    assert decoded.value == value


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_confluent_round_trip(confluent, catalogue, event_type):
    value = sample_value(catalogue.get(event_type).expanded)
    data = confluent.encode(event_type, value, "clinical.adt.v1")

    assert data[:1] == CONFLUENT_MAGIC
    assert confluent.decode(data).value == value


def test_single_object_reader_reads_confluent_records_too(confluent, catalogue):
    value = sample_value(catalogue.get("PatientAdmitted").expanded)
    data = Codec(catalogue, confluent.registry).encode("PatientAdmitted", value, "clinical.adt.v1")
    assert confluent.decode(data).value == value


def test_unknown_fingerprint_names_location(single_object, catalogue):
    value = sample_value(catalogue.get("PatientAdmitted").expanded)
    data = bytearray(single_object.encode("PatientAdmitted", value, "t"))
    data[2:10] = b"\x01" * 8

    with pytest.raises(DecodeError) as caught:
        single_object.decode(bytes(data), topic="clinical.adt.v1", partition=2, offset=41)

    message = str(caught.value)
    assert "clinical.adt.v1" in message
    assert "partition 2" in message
    assert "offset 41" in message
    assert "unknown schema fingerprint 0101010101010101" in message


def test_truncated_body_is_reported(single_object, catalogue):
    value = sample_value(catalogue.get("ResultRecorded").expanded)
    data = single_object.encode("ResultRecorded", value, "t")

    with pytest.raises(DecodeError, match="truncated ResultRecorded body"):
        single_object.decode(data[:-20], topic="clinical.results.v1", partition=0, offset=5)


def test_trailing_bytes_are_reported(single_object, catalogue):
    value = sample_value(catalogue.get("OrderCancelled").expanded)
    data = single_object.encode("OrderCancelled", value, "t") + b"\x00\x00"

    with pytest.raises(DecodeError, match="2 bytes left after the OrderCancelled body"):
        single_object.decode(data)


def test_unknown_framing_is_reported(single_object):
    with pytest.raises(DecodeError, match="unknown framing: first bytes 7b22"):
        single_object.decode(b'{"json": true}', topic="x", partition=0, offset=0)


def test_confluent_record_without_registry_is_reported(single_object):
    with pytest.raises(DecodeError, match="HEALS_SCHEMA_REGISTRY_URL is not set"):
        single_object.decode(b"\x00\x00\x00\x00\x07abc")


def test_unknown_schema_id_is_reported(confluent):
    with pytest.raises(DecodeError, match="unknown schema id 999"):
        confluent.decode(b"\x00\x00\x00\x03\xe7abc", topic="x", partition=1, offset=2)


def test_encode_rejects_record_missing_field(single_object):
    with pytest.raises(EncodeError, match="cannot encode OrderCancelled"):
        single_object.encode("OrderCancelled", {"order_id": "o1"}, "t")
