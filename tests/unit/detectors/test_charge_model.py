"""The charge-anomaly model: far-out charges are flagged, ordinary ones are not."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from functools import lru_cache

from heals.streams.detectors.charge_model import charge_features, load_current, next_version, save, train

CODES = {"71045": ("radiology", 120), "80053": ("laboratory", 45), "99213": ("outpatient", 90), "J1100": ("pharmacy", 15)}


def _charge(code, department, amount, hour):
    return {
        "envelope": {"occurred_at": dt.datetime(2026, 3, 14, hour, 15, tzinfo=dt.timezone.utc), "occurred_at_offset_minutes": 0},
        "code": {"code": code, "system": "CPT"},
        "department": department,
        "extended_amount": {"amount": Decimal(str(amount)), "currency": "USD"},
    }


def _ordinary(rng):
    code = rng.choice(sorted(CODES))
    department, price = CODES[code]
    return _charge(code, department, round(price * rng.uniform(0.9, 1.1), 2), rng.randint(8, 18))


@lru_cache(maxsize=1)
def _model(seed=1):
    rng = random.Random(seed)
    rows = [charge_features(_ordinary(rng)) for _ in range(600)]
    return train(rows, version="v1")


def test_charge_far_outside_training_is_flagged():
    model = _model()
    far_out = charge_features(_charge("71045", "radiology", 98_000, 3))
    assert model.is_anomalous(model.score(far_out))


def test_typical_charges_are_not_flagged():
    model = _model()
    for code, (department, price) in CODES.items():
        for hour in (9, 12, 15):
            features = charge_features(_charge(code, department, price, hour))
            assert not model.is_anomalous(model.score(features)), (code, hour)


def test_false_alarm_rate_on_ordinary_charges_stays_low():
    # Ordinary charges at the edges of the training ranges (hour 8 or 18,
    # price 10 % off) are sometimes flagged. The measured rate is about 1 %.
    model = _model()
    rng = random.Random(99)
    flagged = [model.is_anomalous(model.score(charge_features(_ordinary(rng)))) for _ in range(1000)]
    assert sum(flagged) <= 15


def test_saved_model_becomes_current_version(tmp_path):
    model = _model()
    assert next_version(tmp_path) == "v1"
    save(model, tmp_path)
    assert next_version(tmp_path) == "v2"
    loaded = load_current(tmp_path)
    assert loaded.version == "v1"
    assert loaded.threshold == model.threshold
