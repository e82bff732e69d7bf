"""Schema evolution: every .avsc stays compatible with each earlier version in git."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

from heals.catalogue import Catalogue
from heals.compatibility import check_catalogues, check_history
from heals.settings import REPO_ROOT

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "schemas"


def test_catalogue_compatible_with_git_history(catalogue):
    problems = check_history(catalogue, REPO_ROOT)
    assert [str(p) for p in problems] == []


def _catalogue_with(tmp_path: Path, replaced: Path) -> Catalogue:
    target = tmp_path / "avro"
    shutil.copytree(REPO_ROOT / "schemas" / "avro", target)
    shutil.copy(replaced, target / "adt" / replaced.name)
    return Catalogue(target)


def test_incompatible_fixture_fails_check(catalogue, tmp_path):
    # The fixture renames PatientAdmitted.location to bed_location: old readers
    # find no location, new readers find no bed_location in old data.
    changed = _catalogue_with(tmp_path, FIXTURES / "incompatible" / "PatientAdmitted.avsc")

    problems = check_catalogues(changed, catalogue, "the committed catalogue")

    directions = {(p.event_type, p.direction) for p in problems}
    assert ("PatientAdmitted", "backward") in directions
    assert ("PatientAdmitted", "forward") in directions


def test_new_field_with_default_passes_check(catalogue, tmp_path):
    schema = json.loads((REPO_ROOT / "schemas/avro/adt/PatientAdmitted.avsc").read_text())
    evolved = copy.deepcopy(schema)
    evolved["fields"].append({"name": "arrival_mode", "type": ["null", "string"], "default": None})
    path = tmp_path / "PatientAdmitted.avsc"
    path.write_text(json.dumps(evolved))

    changed = _catalogue_with(tmp_path, path)

    assert check_catalogues(changed, catalogue, "the committed catalogue") == []
