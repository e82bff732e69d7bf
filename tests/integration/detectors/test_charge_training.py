"""`heals models train charge-anomaly` replays a real topic; the engine then scores charges with that version."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from click.testing import CliRunner

from heals.cli import cli
from heals.kafka import make_producer
from heals.registry import make_codec
from heals.settings import get_settings
from heals.streams.detectors.engine import DetectorEngine
from heals.streams.detectors.settings import DetectorSettings
from heals.streams.detectors.store import DetectorStore
from tests.support import detector_inputs as inputs
from tests.support.alert_reader import of_type, read_events

pytestmark = pytest.mark.integration

PRICES = {"71045": ("radiology", 120.0), "80053": ("laboratory", 45.0), "99213": ("outpatient", 90.0)}
DAY = dt.datetime(2026, 3, 14, tzinfo=dt.timezone.utc)


def _ordinary(rng):
    code = rng.choice(sorted(PRICES))
    department, price = PRICES[code]
    at = DAY + dt.timedelta(hours=rng.randint(8, 17), minutes=rng.randint(0, 59))
    return inputs.charge(f"patient-{rng.randint(1, 40)}", code, department, round(price * rng.uniform(0.95, 1.05), 2), at)


def test_trained_model_flags_far_out_charge_only(live_services, topic_factory, tmp_path):
    codec = make_codec(live_services)
    charges_topic = topic_factory("charges", partitions=3)
    alerts_topic = topic_factory("alerts", partitions=1)
    rng = random.Random(3)
    producer = make_producer(live_services)
    for event in [_ordinary(rng) for _ in range(400)]:
        producer.produce(charges_topic, key=event["account_id"].encode(), value=codec.encode("ChargePosted", event, charges_topic))
    assert producer.flush(30) == 0

    result = CliRunner().invoke(cli, ["models", "train", "charge-anomaly", "--topic", charges_topic,
                                      "--model-dir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "charge-anomaly v1: 400 charges" in result.output

    detector_settings = DetectorSettings(alerts_topic=alerts_topic, charge_model_dir=tmp_path,
                                         db_schema=f"detectors_test_{uuid.uuid4().hex[:10]}")
    store = DetectorStore(live_services.postgres_url, detector_settings.db_schema)
    store.create()
    try:
        engine = DetectorEngine(live_services, detector_settings, store, codec, make_producer(live_services))
        far_out = inputs.charge("patient-1", "71045", "radiology", 120_000.0, DAY + dt.timedelta(hours=3))
        typical = [inputs.charge("patient-2", code, department, price, DAY + dt.timedelta(hours=12))
                   for code, (department, price) in PRICES.items()]
        sent = sum(engine.handle(charges_topic, codec.encode("ChargePosted", event, charges_topic))
                   for event in [*typical, far_out])
    finally:
        store.drop()
        store.close()

    assert sent == 1
    alerts = of_type(read_events(get_settings(), codec, alerts_topic, lambda events: len(events) >= 1), "AnomalyDetected")
    assert [alert["input_event_id"] for alert in alerts] == [far_out["envelope"]["event_id"]]
    assert alerts[0]["detector"] == {"name": "charge-anomaly", "version": "v1"}
    assert alerts[0]["parameter"] == "charge_amount"
    assert alerts[0]["context"]["code"] == "CPT|71045"
