"""NEWS2 against the worked cases and the mock series with claimed scores."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from heals.streams.detectors.news2 import OXYGEN, AIR, Observation, Parameter, assess, round_to_chart, score_parameter
from tests.conftest import CASES_DIR

WORKED_CASES = CASES_DIR / "vitals" / "news2_worked_cases.csv"
MOCK_SERIES = CASES_DIR / "vitals" / "mock_vitals_series_with_claimed_news2.csv"
NOW = dt.datetime(2026, 3, 14, 9, 0, tzinfo=dt.timezone.utc)
WINDOW = dt.timedelta(hours=4)

COLUMNS = {
    Parameter.RESPIRATION_RATE: ("resp_rate_per_min", "score_rr"),
    Parameter.SPO2: ("spo2_percent", "score_spo2"),
    Parameter.SUPPLEMENTAL_OXYGEN: ("supplemental_oxygen", "score_air_oxygen"),
    Parameter.SYSTOLIC_BP: ("systolic_bp_mmHg", "score_sbp"),
    Parameter.PULSE: ("pulse_per_min", "score_pulse"),
    Parameter.CONSCIOUSNESS: ("acvpu", "score_consciousness"),
    Parameter.TEMPERATURE: ("temperature_c", "score_temp"),
}


def _rows(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _observations(row, occurred_at=NOW):
    latest = {}
    for parameter, (column, _) in COLUMNS.items():
        raw = (row.get(column) or "").strip()
        if not raw:
            continue
        event_id = f"{row.get('case_id', 'row')}-{parameter}"
        if parameter is Parameter.SUPPLEMENTAL_OXYGEN:
            latest[parameter] = Observation(parameter, event_id, occurred_at, code=OXYGEN if raw == "yes" else AIR)
        elif parameter is Parameter.CONSCIOUSNESS:
            latest[parameter] = Observation(parameter, event_id, occurred_at, code=raw)
        else:
            latest[parameter] = Observation(parameter, event_id, occurred_at, value=float(raw))
    return latest


def _expected_band(text):
    return text.split(" ")[0]


@pytest.mark.parametrize("row", _rows(WORKED_CASES), ids=lambda row: row["case_id"])
def test_worked_case_total_and_band(row):
    scale = int(row["spo2_scale"])
    result = assess(_observations(row), spo2_scale=scale, evaluated_at=NOW, freshness=WINDOW)

    if row["expected_total"] == "NOT_SCORABLE":
        assert result.state == "incomplete"
        assert result.total is None
        assert result.clinical_risk is None
        missing = {parameter for parameter, (column, _) in COLUMNS.items() if not row[column].strip()}
        assert set(result.missing) == missing
        return
    assert result.state == "scored"
    assert result.total == int(row["expected_total"])
    assert result.clinical_risk == _expected_band(row["expected_clinical_risk"])
    for component in result.components:
        expected_points = int(row[COLUMNS[component.observation.parameter][1]])
        assert component.points == expected_points, component.observation.parameter


def test_published_example_n02_scores_five_not_six():
    row = next(row for row in _rows(WORKED_CASES) if row["case_id"] == "N02")
    result = assess(_observations(row), spo2_scale=1, evaluated_at=NOW, freshness=WINDOW)
    assert result.total == 5
    assert result.clinical_risk == "medium"


@pytest.mark.parametrize("row", _rows(MOCK_SERIES), ids=lambda row: f"{row['patient_ref']}@{row['recorded_at_utc']}")
def test_mock_series_claimed_score_is_not_reproduced(row):
    at = dt.datetime.fromisoformat(row["recorded_at_utc"].replace("Z", "+00:00"))
    latest = _observations(row, occurred_at=at)

    result = assess(latest, spo2_scale=1, evaluated_at=at, freshness=WINDOW)
    assert result.state == "incomplete"
    assert set(result.missing) == {Parameter.SUPPLEMENTAL_OXYGEN, Parameter.CONSCIOUSNESS}

    # Even on the assumption of air and alert, the claimed total does not come out.
    latest[Parameter.SUPPLEMENTAL_OXYGEN] = Observation(Parameter.SUPPLEMENTAL_OXYGEN, "assumed", at, code=AIR)
    latest[Parameter.CONSCIOUSNESS] = Observation(Parameter.CONSCIOUSNESS, "assumed", at, code="A")
    assumed = assess(latest, spo2_scale=1, evaluated_at=at, freshness=WINDOW)
    assert assumed.total == int(row["partial_score_if_air_and_alert"])
    assert assumed.total != int(row["claimed_news2_in_source"])


def test_stale_parameter_makes_assessment_incomplete():
    row = next(row for row in _rows(WORKED_CASES) if row["case_id"] == "N01")
    latest = _observations(row)
    old = latest[Parameter.PULSE]
    latest[Parameter.PULSE] = Observation(Parameter.PULSE, old.event_id, NOW - WINDOW - dt.timedelta(seconds=1), value=72)

    result = assess(latest, spo2_scale=1, evaluated_at=NOW, freshness=WINDOW)
    assert result.state == "incomplete"
    assert result.missing == (Parameter.PULSE,)


@pytest.mark.parametrize(
    ("parameter", "value", "rounded"),
    [(Parameter.TEMPERATURE, 36.04, 36.0), (Parameter.TEMPERATURE, 36.05, 36.1), (Parameter.SYSTOLIC_BP, 90.5, 91.0),
     (Parameter.PULSE, 90.4, 90.0)],
)
def test_values_between_bands_round_half_up(parameter, value, rounded):
    assert round_to_chart(parameter, value) == rounded


def test_scale_2_spo2_93_needs_oxygen():
    reading = Observation(Parameter.SPO2, "e1", NOW, value=93)
    assert score_parameter(reading, spo2_scale=2, on_oxygen=False) == 0
    assert score_parameter(reading, spo2_scale=2, on_oxygen=True) == 1
    assert score_parameter(reading, spo2_scale=1) == 2
