"""A synthetic hospital day as HL7 v2.5.1 messages, for `heals demo`.

Twelve synthetic patients (no real person) are registered and admitted to
three wards, and some are transferred and discharged. The lab receives
orders and sends results, one of them a critical potassium. Bedside monitors
send vital signs every 15 minutes, deteriorating for one patient. Billing
posts charges, and a few malformed messages show how rejects look. The day is
generated, not stored, so it always starts at the same wall-clock times of
the chosen date and is identical on every run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

__all__ = ["DemoMessage", "hospital_day", "new_run_tag", "DETERIORATING_PATIENT", "CRITICAL_POTASSIUM_PATIENT"]

CR = "\r"
FACILITY = "GENHOSP"
AUTHORITY = "GENHOSP"

WARDS = (("MED-A", "101"), ("SURG-B", "201"), ("ICU", "301"))

# (MRN number, family name, given name, birth date, sex): synthetic patients.
# The MRN is the run tag followed by the number, so every demo run admits
# new patients instead of colliding with the ones an earlier run left in beds.
PATIENTS = (
    ("0001", "Abbott", "Mara", "19540312", "F"),
    ("0002", "Brennan", "Tomas", "19671101", "M"),
    ("0003", "Castell", "Ines", "19820219", "F"),
    ("0004", "Dufour", "Pavel", "19450607", "M"),
    ("0005", "Eklund", "Sofia", "19390923", "F"),
    ("0006", "Farrow", "Jonas", "19901130", "M"),
    ("0007", "Grieve", "Alba", "19760415", "F"),
    ("0008", "Holm", "Rafael", "19580728", "M"),
    ("0009", "Ivers", "Leona", "20010102", "F"),
    ("0010", "Jansen", "Oskar", "19631009", "M"),
    ("0011", "Kovac", "Nadia", "19850521", "F"),
    ("0012", "Lindqvist", "Emil", "19490814", "M"),
)

DETERIORATING_PATIENT = "0005"
CRITICAL_POTASSIUM_PATIENT = "0003"
STABLE_PATIENTS = ("0001", "0008")


def new_run_tag(now: dt.datetime | None = None) -> str:
    """Return a four-letter tag that differs between demo runs a minute or more apart."""
    minutes = int((now or dt.datetime.now(dt.timezone.utc)).timestamp() // 60)
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    tag = ""
    for _ in range(4):
        minutes, index = divmod(minutes, len(letters))
        tag = letters[index] + tag
    return tag

# Vital signs as a bedside monitor sends them: IEEE 11073 MDC code, name, UCUM unit.
RESPIRATION = ("151562", "MDC_RESP_RATE", "/min")
SPO2 = ("150456", "MDC_PULS_OXIM_SAT_O2", "%")
SYSTOLIC = ("150021", "MDC_PRESS_BLD_NONINV_SYS", "mm[Hg]")
PULSE = ("149530", "MDC_PULS_OXIM_PULS_RATE", "/min")
TEMPERATURE = ("150364", "MDC_TEMP_BODY", "Cel")
# Charted by the nurse, coded in LOINC: level of consciousness and inspired oxygen.
CONSCIOUSNESS_LOINC = ("67775-7", "Level of responsiveness")
OXYGEN_LOINC = ("3151-8", "Inhaled oxygen flow rate")

# Deterioration over eight observation rounds: (RR, SpO2, SBP, pulse, temperature, ACVPU, O2 l/min).
DETERIORATION = (
    (16, 97, 128, 78, 37.1, "A", 0),
    (18, 96, 124, 86, 37.4, "A", 0),
    (20, 95, 118, 94, 37.8, "A", 0),
    (22, 94, 110, 104, 38.2, "A", 0),
    (24, 93, 102, 112, 38.6, "A", 2),
    (26, 91, 96, 122, 38.9, "C", 2),
    (28, 89, 92, 128, 39.2, "C", 4),
    (30, 88, 88, 134, 39.4, "V", 4),
)
STABLE = (15, 98, 126, 72, 36.8, "A", 0)


@dataclass(frozen=True)
class DemoMessage:
    """One message of the day, with what a reader should expect from it."""

    name: str
    text: str
    expected_ack: str

    def to_bytes(self) -> bytes:
        """Return the message as HL7 wire bytes (UTF-8, CR segment terminators)."""
        return self.text.encode("utf-8")


class _Clock:
    def __init__(self, day: dt.date, run_tag: str) -> None:
        self.day = day
        self.run_tag = run_tag
        self.counter = 0

    def at(self, hour: int, minute: int) -> str:
        return dt.datetime(self.day.year, self.day.month, self.day.day, hour, minute).strftime("%Y%m%d%H%M") + "+0000"

    def control_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.run_tag}{self.day:%Y%m%d}{self.counter:05d}"


def _segment(name: str, fields: dict[int, str]) -> str:
    """Return one segment with each value at its HL7 field number, so no field is miscounted."""
    values = [""] * max(fields)
    for number, value in fields.items():
        values[number - 1] = value
    return "|".join([name, *values])


def _msh(app: str, message_type: str, control_id: str, when: str) -> str:
    # MSH-15 and MSH-16 empty: original acknowledgement mode, so AA means the events are durable.
    return f"MSH|^~\\&|{app}|{FACILITY}|HEALS|{FACILITY}|{when}||{message_type}|{control_id}|P|2.5.1||||||UNICODE UTF-8"


def _pid(patient: tuple[str, str, str, str, str]) -> str:
    mrn, family, given, birth, sex = patient
    return _segment("PID", {
        1: "1", 3: f"{mrn}^^^{AUTHORITY}^MR", 5: f"{family}^{given}", 7: birth, 8: sex,
        11: "1 Synthetic Way^^Springfield^^00000", 18: f"ACC{mrn}",
    })


def _pv1(patient_class: str, ward: str, room: str, bed: int, visit: str, prior: str = "") -> str:
    return _segment("PV1", {
        1: "1", 2: patient_class, 3: f"{ward}^{room}^{bed}^{FACILITY}", 6: prior,
        7: "D100^Osler^William", 10: "MED", 19: visit,
    })


def _visit(visit: str) -> str:
    return _segment("PV1", {1: "1", 2: "I", 19: visit})


def _adt(clock: _Clock, trigger: str, patient, pv1: str, when: str) -> DemoMessage:
    control_id = clock.control_id("ADT")
    segments = [
        _msh("ADTSYS", f"ADT^{trigger}^ADT_A01", control_id, when),
        f"EVN|{trigger}|{when}|||||{when}",
        _pid(patient),
        pv1,
    ]
    return DemoMessage(f"ADT^{trigger} {patient[0]}", CR.join(segments) + CR, "AA")


def _order(clock: _Clock, patient, visit: str, placer: str, test: tuple[str, str], when: str) -> DemoMessage:
    control_id = clock.control_id("ORM")
    segments = [
        _msh("CPOE", "ORM^O01^ORM_O01", control_id, when),
        _pid(patient),
        _visit(visit),
        _segment("ORC", {1: "NW", 2: f"{placer}^CPOE", 12: "D100^Osler^William"}),
        _segment("OBR", {1: "1", 2: f"{placer}^CPOE", 4: f"{test[0]}^{test[1]}^LN", 7: when, 24: "LAB"}),
    ]
    return DemoMessage(f"ORM^O01 {patient[0]} {test[1]}", CR.join(segments) + CR, "AA")


def _result(clock: _Clock, patient, visit: str, placer: str, test, observations, when: str) -> DemoMessage:
    control_id = clock.control_id("ORU")
    segments = [
        _msh("LABSYS", "ORU^R01^ORU_R01", control_id, when),
        _pid(patient),
        _visit(visit),
        _segment("ORC", {1: "RE", 2: f"{placer}^CPOE", 3: f"F{placer}^LAB"}),
        _segment("OBR", {
            1: "1", 2: f"{placer}^CPOE", 3: f"F{placer}^LAB", 4: f"{test[0]}^{test[1]}^LN", 7: when,
            22: when, 24: "LAB", 25: "F",
        }),
    ]
    for set_id, (code, name, value, unit, reference, flag) in enumerate(observations, start=1):
        segments.append(_segment("OBX", {
            1: str(set_id), 2: "NM", 3: f"{code}^{name}^LN", 5: value, 6: f"{unit}^^UCUM", 7: reference,
            8: flag, 11: "F", 14: when,
        }))
    return DemoMessage(f"ORU^R01 {patient[0]} {test[1]}", CR.join(segments) + CR, "AA")


def _vitals(clock: _Clock, patient, monitor: str, values, when: str) -> DemoMessage:
    respiration, spo2, systolic, pulse, temperature, consciousness, oxygen = values
    control_id = clock.control_id("VS")
    segments = [
        _msh(f"MONITOR^{monitor}^EUI-64", "ORU^R01^ORU_R01", control_id, when),
        _pid(patient),
        _segment("OBR", {1: "1", 2: f"{control_id}^MONITOR", 4: "182777000^monitoring of patient^SCT", 7: when}),
    ]
    numeric = ((RESPIRATION, respiration), (SPO2, spo2), (SYSTOLIC, systolic), (PULSE, pulse), (TEMPERATURE, temperature))
    for set_id, ((code, name, unit), value) in enumerate(numeric, start=1):
        segments.append(_segment("OBX", {
            1: str(set_id), 2: "NM", 3: f"{code}^{name}^MDC", 4: f"1.0.{set_id}", 5: str(value),
            6: f"{unit}^^UCUM", 11: "R", 14: when, 18: f"{monitor}^EUI-64",
        }))
    charted = (
        ("ST", CONSCIOUSNESS_LOINC, consciousness, ""),
        ("NM", OXYGEN_LOINC, str(oxygen), "L/min^^UCUM"),
    )
    for set_id, (value_type, (code, name), value, unit) in enumerate(charted, start=len(numeric) + 1):
        segments.append(_segment("OBX", {
            1: str(set_id), 2: value_type, 3: f"{code}^{name}^LN", 5: value, 6: unit, 11: "R", 14: when,
        }))
    return DemoMessage(f"ORU^R01 vitals {patient[0]}", CR.join(segments) + CR, "AA")


def _charge(clock: _Clock, patient, visit: str, code: tuple[str, str], amount: str, when: str) -> DemoMessage:
    control_id = clock.control_id("DFT")
    segments = [
        _msh("BILLSYS", "DFT^P03^DFT_P03", control_id, when),
        f"EVN|P03|{when}",
        _pid(patient),
        _visit(visit),
        _segment("FT1", {
            1: "1", 4: when[:8], 5: when[:8], 6: "CG", 7: f"{code[0]}^{code[1]}^CPT", 10: "1",
            11: f"{amount}&USD", 12: f"{amount}&USD", 13: "LAB", 25: f"{code[0]}^{code[1]}^CPT",
        }),
    ]
    return DemoMessage(f"DFT^P03 {patient[0]} {code[0]}", CR.join(segments) + CR, "AA")


def _malformed(clock: _Clock, when: str, run_tag: str) -> list[DemoMessage]:
    unknown = f"{run_tag}9999"
    unknown_visit = _adt(
        clock, "A02", (unknown, "Nobody", "Known", "19700101", "U"), _pv1("I", "MED-A", "101", 9, f"V-{unknown}"), when
    )
    return [
        DemoMessage("broken MSH-2", f"MSH|^\ufffd\\&|ADTSYS|{FACILITY}|HEALS|{FACILITY}|{when}||ADT^A01|{clock.control_id('BAD')}|P|2.5.1{CR}PID|1||X^^^{AUTHORITY}^MR{CR}", "AR"),
        DemoMessage("unsupported message type", CR.join([_msh("ADTSYS", "QRY^A19^QRY_A19", clock.control_id("BAD"), when), "QRD|x"]) + CR, "AR"),
        DemoMessage("transfer of unknown patient", unknown_visit.text, "AE"),
    ]


def _monitor_id(run_tag: str, mrn: str) -> str:
    # A 16-hex-digit EUI-64 unique to the run: readings are identified by
    # device, code and time, so two runs on one device would look like resends.
    tag_hex = hashlib.sha256(run_tag.encode("ascii")).hexdigest()[:8].upper()
    return f"00{tag_hex}{mrn[-4:]}AB"


def hospital_day(day: dt.date, run_tag: str = "HD") -> list[DemoMessage]:
    """Return the day's messages in the order a hospital's systems send them.

    Patients' MRNs are ``run_tag`` followed by their number, for example HD0005.
    """
    clock = _Clock(day, run_tag)
    messages: list[DemoMessage] = []
    run_patients = tuple((f"{run_tag}{p[0]}", *p[1:]) for p in PATIENTS)
    visits = {p[0]: f"V-{p[0]}" for p in run_patients}

    # Morning: admissions, four per ward.
    for index, patient in enumerate(run_patients):
        ward, room = WARDS[index % len(WARDS)]
        when = clock.at(7, 5 * index)
        pv1 = _pv1("I", ward, room, index // len(WARDS) + 1, visits[patient[0]])
        messages.append(_adt(clock, "A01", patient, pv1, when))

    # Orders and results: basic metabolic panel for everyone, troponin for two.
    potassium = ("2823-3", "Potassium", "4.1", "mmol/L", "3.5-5.1", "N")
    sodium = ("2951-2", "Sodium", "139", "mmol/L", "135-145", "N")
    for index, patient in enumerate(run_patients):
        placer = f"ORD{run_tag}{index + 1:04d}"
        test = ("24323-8", "Comprehensive metabolic panel")
        messages.append(_order(clock, patient, visits[patient[0]], placer, test, clock.at(8, index)))
        k = ("2823-3", "Potassium", "6.9", "mmol/L", "3.5-5.1", "HH") if patient[0] == f"{run_tag}{CRITICAL_POTASSIUM_PATIENT}" else potassium
        messages.append(_result(clock, patient, visits[patient[0]], placer, test, (k, sodium), clock.at(9, index)))

    # Vital signs every 15 minutes from 10:00: one patient deteriorates, two stay stable.
    monitored = {f"{run_tag}{DETERIORATING_PATIENT}": DETERIORATION}
    monitored.update({f"{run_tag}{number}": (STABLE,) * len(DETERIORATION) for number in STABLE_PATIENTS})
    patients = {p[0]: p for p in run_patients}
    for round_index in range(len(DETERIORATION)):
        when = clock.at(10 + round_index // 4, (round_index % 4) * 15)
        for mrn, series in monitored.items():
            monitor = _monitor_id(clock.run_tag, mrn)
            messages.append(_vitals(clock, patients[mrn], monitor, series[round_index], when))

    # Afternoon: charges for the lab panels, two transfers, three discharges.
    for index, patient in enumerate(run_patients[:6]):
        messages.append(_charge(clock, patient, visits[patient[0]], ("80053", "Comprehensive metabolic panel"), "42.50", clock.at(12, index)))
    messages.append(_adt(clock, "A02", patients[f"{run_tag}0002"], _pv1("I", "ICU", "301", 5, visits[f"{run_tag}0002"], "SURG-B^201^1"), clock.at(13, 0)))
    messages.append(_adt(clock, "A02", patients[f"{run_tag}0007"], _pv1("I", "SURG-B", "202", 1, visits[f"{run_tag}0007"], "MED-A^101^3"), clock.at(13, 20)))
    for mrn in (f"{run_tag}0006", f"{run_tag}0009", f"{run_tag}0011"):
        index = int(mrn[-4:]) - 1
        ward, room = WARDS[index % len(WARDS)]
        messages.append(_adt(clock, "A03", patients[mrn], _pv1("I", ward, room, index // len(WARDS) + 1, visits[mrn]), clock.at(15, index)))

    messages.extend(_malformed(clock, clock.at(17, 0), run_tag))
    return messages
