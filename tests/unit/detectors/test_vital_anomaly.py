"""The river vital-sign detector: warm-up, runs of abnormal readings, stable streams, pickling."""

from __future__ import annotations

import datetime as dt
import pickle
import random

from heals.streams.detectors.anomaly import StreamModel, VitalAnomalyDetector
from heals.streams.detectors.news2 import Observation, Parameter
from tests.unit.detectors.fakes import START, ModelOnlyTransaction, cause, factory

WARMUP = 20
THRESHOLD = 4.0


def _feed(detector, tx, values, parameter=Parameter.PULSE):
    alerts_at = []
    for index, value in enumerate(values):
        at = START + dt.timedelta(minutes=5 * index)
        observation = Observation(parameter, f"reading-{index}", at, value=value)
        if detector.on_observation(tx, observation, "patient-1", cause(f"reading-{index}", at)):
            alerts_at.append(index)
    return alerts_at


def _stable_pulse(count, seed=7):
    rng = random.Random(seed)
    return [round(rng.gauss(78, 3)) for _ in range(count)]


def test_stable_series_raises_nothing():
    detector = VitalAnomalyDetector(WARMUP, THRESHOLD, factory())
    assert _feed(detector, ModelOnlyTransaction(), _stable_pulse(300)) == []


def test_nothing_is_scored_during_warmup():
    detector = VitalAnomalyDetector(WARMUP, THRESHOLD, factory())
    values = _stable_pulse(WARMUP - 1) + [180]
    # The 180 is the 20th reading, still learned rather than scored.
    assert _feed(detector, ModelOnlyTransaction(), values) == []


def test_deterioration_run_raises_one_alert_within_five_readings():
    detector = VitalAnomalyDetector(WARMUP, THRESHOLD, factory())
    run = [95, 104, 112, 120, 128, 134, 138, 140, 141, 142] * 3
    alerts = _feed(detector, ModelOnlyTransaction(), _stable_pulse(40) + run)

    assert len(alerts) == 1
    assert 40 <= alerts[0] < 45


def test_anomalous_run_is_not_learned():
    tx = ModelOnlyTransaction()
    detector = VitalAnomalyDetector(WARMUP, THRESHOLD, factory())
    _feed(detector, tx, _stable_pulse(40) + [140] * 100)

    model: StreamModel = pickle.loads(tx.models[("patient-1", "pulse")])
    assert model.in_anomaly
    assert model.learned == 40
    assert model.score(140) >= THRESHOLD


def test_anomaly_event_names_parameter_value_score_and_input():
    detector = VitalAnomalyDetector(WARMUP, THRESHOLD, factory())
    tx = ModelOnlyTransaction()
    _feed(detector, tx, _stable_pulse(30))
    at = START + dt.timedelta(hours=5)
    events = detector.on_observation(tx, Observation(Parameter.PULSE, "spike", at, value=150), "patient-1", cause("spike", at))

    assert len(events) == 1
    event = events[0]
    assert event["parameter"] == "pulse"
    assert event["value"] == 150
    assert event["score"] >= THRESHOLD
    assert event["input_event_id"] == "spike"
    assert event["detector"] == {"name": "vitals-anomaly", "version": "1.0.0"}
    assert event["envelope"]["causation_id"] == "spike"


def test_model_state_survives_pickle_round_trip():
    model = StreamModel(Parameter.TEMPERATURE)
    for value in (36.8, 37.0, 36.9, 37.1, 36.7):
        model.learn(value)
    copy = pickle.loads(pickle.dumps(model))
    assert copy.learned == model.learned
    assert copy.mean == model.mean
    assert copy.score(39.5) == model.score(39.5)
