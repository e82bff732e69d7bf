"""IHE PCD-01 device observations (ORU^R01 from device gateways) to readings.

A device gateway reports each monitor as a containment tree in OBX-4
(MDS 1, VMD 1.0, channel 1.0.1, metric 1.0.1.1). The device id is OBX-18 of
the metric or of its nearest ancestor, else the gateway's EUI-64 in MSH-3.
Numeric metrics (OBX-2 NM) become readings with a quantity. Coded (CWE, CE,
CNE) and text (ST, TX) observations become readings with a coded or text
value when OBX-3 is not an MDC code. Such rows are values a nurse charted at
the bedside, for example an ACVPU level in LOINC 67775-7. MDC-coded rows of
those types describe the device itself (time synchronisation, profiles,
alarm states) and carry no reading, nor do other value types (DTM time
stamps, containment rows without a value). Skipped, and counted:

| skipped | why |
| --- | --- |
| OBX-8 abnormal flag DEMO | the monitor is in demonstration mode; values are simulated |
| sentinel values in NOT_MEASURED | the monitor writes them for "no measurement" |
| OBX-11 result status X | the observation could not be obtained |
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from heals.commands.models import Code, Quantity
from heals.connectors.hl7.errors import ErrorCode, MessageInvalid
from heals.connectors.hl7.message import Message, Segment
from heals.connectors.hl7.timestamps import Timestamp

__all__ = ["DeviceReading", "DeviceReport", "is_device_report", "read_device_report", "reading_event_id", "NOT_MEASURED"]

# Values bedside monitors send in place of a measurement.
NOT_MEASURED = frozenset(Decimal(text) for text in ("-999", "-99.9", "-9999", "-99.99", "-999.9"))
DEVICE_CODE_SYSTEMS = {"MDC"}
EUI64 = "EUI-64"
READING_NAMESPACE = uuid.UUID("6f1c2b0e-4a51-5d8e-9a7e-3c2f0d1b7a10")


# OBX-2 value types that carry a reading, by the kind of value they carry.
NUMERIC_TYPES = frozenset({"NM"})
CODED_TYPES = frozenset({"CWE", "CE", "CNE"})
TEXT_TYPES = frozenset({"ST", "TX"})


@dataclass(frozen=True)
class DeviceReading:
    """One measured or charted value from one device; exactly one of the three values is set."""

    device_id: str
    code: Code
    value: Quantity | None
    observed_at: Timestamp
    patient_id: str | None
    encounter_id: str | None
    value_code: Code | None = None
    value_text: str | None = None


@dataclass
class DeviceReport:
    """The readings of one device message, and how many observations were skipped and why."""

    readings: list[DeviceReading] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        """Count one skipped observation."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def reading_event_id(reading: DeviceReading) -> str:
    """Return the event id of a reading: the same device, code and time give the same id on a resend."""
    instant = reading.observed_at.utc.isoformat()
    return str(uuid.uuid5(READING_NAMESPACE, f"{reading.device_id}|{reading.code.system}|{reading.code.code}|{instant}"))


def is_device_report(message: Message) -> bool:
    """True for an ORU from a device gateway: MDC-coded OBX-3, an IHE PCD profile or an EUI-64 sender."""
    if (message.msh.value(3, 3) or "").upper() == EUI64:
        return True
    if "PCD" in (message.msh.raw(21) or "").upper():
        return True
    return any((obx.value(3, 3) or "").upper() in DEVICE_CODE_SYSTEMS for obx in message.all("OBX"))


def _device_ids(message: Message) -> dict[str, str]:
    # OBX-4 sub-id -> OBX-18 equipment instance identifier, where the row names one.
    ids = {}
    for obx in message.all("OBX"):
        device = obx.value(18, 1)
        if device:
            ids[(obx.value(4) or "").strip()] = device.strip()
    return ids


def _nearest(tree: dict, sub_id: str):
    # Walk up the containment path 1.0.1.1 -> 1.0.1 -> 1.0 -> 1.
    parts = sub_id.split(".")
    while parts:
        key = ".".join(parts)
        if key in tree:
            return tree[key]
        parts.pop()
    return None


def read_device_report(message: Message, patient_id: str | None, encounter_id: str | None) -> DeviceReport:
    """Read the numeric, coded and text device observations of a PCD-01 message."""
    report = DeviceReport()
    devices = _device_ids(message)
    gateway = message.msh.value(3, 2) or message.msh.value(3, 1)
    times: dict[str, Timestamp] = {}
    obr = message.first("OBR")
    default_time = message.timestamp(obr, 7) or message.timestamp(message.msh, 7)

    for obx in message.all("OBX"):
        sub_id = (obx.value(4) or "").strip()
        own_time = message.timestamp(obx, 14)
        if own_time is not None:
            times[sub_id] = own_time
        value_type = (obx.value(2) or "").upper()
        charted = (obx.value(3, 3) or "").upper() not in DEVICE_CODE_SYSTEMS
        if value_type not in NUMERIC_TYPES and not (charted and value_type in CODED_TYPES | TEXT_TYPES):
            continue
        flags = {(obx.value(8, 1, i) or "").upper() for i, _ in enumerate(obx.repetitions(8), start=1)}
        if "DEMO" in flags:
            report.skip("demo mode")
            continue
        if (obx.value(11) or "").upper() == "X":
            report.skip("not obtained")
            continue
        if obx.is_null(5) or not (obx.raw(5) or "").strip():
            report.skip("no value")
            continue
        number = _decimal(obx) if value_type in NUMERIC_TYPES else None
        if number in NOT_MEASURED:
            report.skip("not measured")
            continue

        code = Code(code=obx.value(3, 1) or "", display=obx.value(3, 2), system=obx.value(3, 3))
        device_id = _nearest(devices, sub_id) or gateway
        observed_at = own_time or _nearest(times, sub_id) or default_time
        if not code.code or device_id is None or observed_at is None:
            raise MessageInvalid(ErrorCode.REQUIRED_FIELD_MISSING, "device observation lacks OBX-3, a device id or a time", obx.location())
        report.readings.append(DeviceReading(
            device_id=device_id,
            code=code,
            value=_quantity(obx, number) if number is not None else None,
            value_code=_coded_value(obx) if value_type in CODED_TYPES else None,
            value_text=(obx.value(5) or "").strip() if value_type in TEXT_TYPES else None,
            observed_at=observed_at,
            patient_id=patient_id,
            encounter_id=encounter_id,
        ))
    return report


def _quantity(obx: Segment, number: Decimal) -> Quantity:
    unit = obx.value(6, 2) or obx.value(6, 1)
    return Quantity(value=float(number), unit=unit, unit_system=obx.value(6, 3))


def _coded_value(obx: Segment) -> Code:
    # OBX-5 of a CWE: code ^ text ^ coding system; a text-only CWE keeps its text as the code.
    code = (obx.value(5, 1) or obx.value(5, 2) or "").strip()
    return Code(code=code, display=obx.value(5, 2), system=obx.value(5, 3))


def _decimal(obx: Segment) -> Decimal:
    text = (obx.value(5) or "").strip()
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise MessageInvalid(ErrorCode.DATA_TYPE, "OBX-5 is not a number as OBX-2 NM declares", obx.location(5)) from exc
