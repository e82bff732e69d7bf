"""docs/asyncapi.json is generated; it must match the catalogue it was generated from."""

from __future__ import annotations

from heals.asyncapi import render
from heals.settings import REPO_ROOT, Settings


def test_asyncapi_document_is_current(catalogue):
    committed = (REPO_ROOT / "docs" / "asyncapi.json").read_text()
    current = render(Settings(), catalogue)
    assert committed == current, "regenerate with: heals topics asyncapi > docs/asyncapi.json"


def test_every_message_schema_file_exists(catalogue):
    import json

    document = json.loads(render(Settings(), catalogue))
    for channel in document["channels"].values():
        for message in channel["messages"].values():
            path = (REPO_ROOT / "docs" / message["payload"]["schema"]["$ref"]).resolve()
            assert path.is_file(), path
