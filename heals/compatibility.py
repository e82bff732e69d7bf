"""Schema evolution check: every schema stays compatible with its own history.

For each commit that changed schemas/avro, the catalogue as it was then is
compared with the catalogue now. Each event schema must be backward
compatible: a new reader reads data an old writer wrote. It must also be
forward compatible: an old reader reads data a new writer writes. Apache's
own `avro` package decides both by the Avro specification's resolution rules.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from heals.catalogue import Catalogue
from heals.errors import SchemaError

__all__ = ["Incompatibility", "check_pair", "check_catalogues", "check_history", "history_commits"]


@dataclass(frozen=True)
class Incompatibility:
    """One event schema that an older version of itself cannot exchange data with."""

    event_type: str
    direction: str
    earlier: str
    reason: str

    def __str__(self) -> str:
        return f"{self.event_type}: not {self.direction} compatible with {self.earlier}: {self.reason}"


def check_pair(reader: dict, writer: dict) -> str | None:
    """Return why ``reader`` cannot read data written with ``writer``, or None when it can."""
    import avro.schema
    from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

    result = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer))
    )
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    return "; ".join(sorted(set(result.messages))) or str(result.incompatibilities)


def check_catalogues(current: Catalogue, earlier: Catalogue, label: str) -> list[Incompatibility]:
    """Compare every event schema of ``current`` with the same event in ``earlier``."""
    problems = []
    for event_type, old in earlier.by_event_type.items():
        new = current.by_event_type.get(event_type)
        if new is None:
            problems.append(Incompatibility(event_type, "backward", label, "schema was removed"))
            continue
        if (reason := check_pair(new.expanded, old.expanded)) is not None:
            problems.append(Incompatibility(event_type, "backward", label, reason))
        if (reason := check_pair(old.expanded, new.expanded)) is not None:
            problems.append(Incompatibility(event_type, "forward", label, reason))
    return problems


def history_commits(repo: Path, schema_path: str = "schemas/avro") -> list[str]:
    """Return every commit that changed the schema folder, newest first."""
    has_head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True)
    if has_head.returncode != 0:
        return []  # a repository without commits has no history to compare with
    result = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%H", "--", schema_path],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SchemaError(f"cannot read git history of {repo}: {result.stderr.strip()}")
    return result.stdout.split()


def _catalogue_at(repo: Path, commit: str, schema_path: str, workdir: Path) -> Catalogue:
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", commit, schema_path], capture_output=True,
    )
    if archive.returncode != 0:
        raise SchemaError(f"cannot read {schema_path} at {commit[:12]}: {archive.stderr.decode().strip()}")
    target = workdir / commit
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return Catalogue(target / schema_path)


def check_history(current: Catalogue, repo: Path, schema_path: str = "schemas/avro") -> list[Incompatibility]:
    """Compare the current catalogue with each earlier version in git history."""
    problems: list[Incompatibility] = []
    with tempfile.TemporaryDirectory(prefix="heals-schemas-") as workdir:
        for commit in history_commits(repo, schema_path):
            earlier = _catalogue_at(repo, commit, schema_path, Path(workdir))
            problems.extend(check_catalogues(current, earlier, f"commit {commit[:12]}"))
    return problems
