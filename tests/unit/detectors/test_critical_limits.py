"""Critical limits: edges, units, and the limits file."""

from __future__ import annotations

import json

import pytest

from heals.errors import ConfigurationError
from heals.streams.detectors.critical_results import DEFAULT_LIMITS, _in_limit_unit, load_limits


def _limit(analyte):
    return next(limit for limit in DEFAULT_LIMITS if limit.analyte == analyte)


@pytest.mark.parametrize(("value", "expected"), [(2.8, ("low", 2.8)), (2.9, None), (6.1, None), (6.2, ("high", 6.2)), (7.4, ("high", 6.2))])
def test_potassium_limits_include_their_edges(value, expected):
    assert _limit("potassium").crossed(value) == expected


def test_every_default_limit_names_its_source():
    for limit in DEFAULT_LIMITS:
        assert limit.source
        assert limit.low is not None or limit.high is not None


def test_glucose_in_mg_per_dl_is_converted():
    assert _in_limit_unit(_limit("glucose"), 500, "mg/dL") == pytest.approx(27.75, abs=0.01)


def test_haemoglobin_in_g_per_dl_is_converted():
    assert _in_limit_unit(_limit("haemoglobin"), 6.0, "g/dL") == 60


def test_unknown_unit_is_not_guessed():
    assert _in_limit_unit(_limit("potassium"), 5.0, "mg/dL") is None


def test_limits_file_replaces_defaults(tmp_path):
    path = tmp_path / "limits.json"
    path.write_text(json.dumps([{"analyte": "potassium", "loinc_codes": ["2823-3"], "unit": "mmol/L",
                                 "low": 2.5, "high": 6.5, "source": "local policy"}]))
    limits = load_limits(path)
    assert set(limits) == {"2823-3"}
    assert limits["2823-3"].high == 6.5


def test_invalid_limits_file_is_rejected(tmp_path):
    path = tmp_path / "limits.json"
    path.write_text(json.dumps([{"analyte": "potassium"}]))
    with pytest.raises(ConfigurationError):
        load_limits(path)
