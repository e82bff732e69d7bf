"""Errors of the write side.

    DomainError (heals.errors)
    ├── RuleViolation          a command breaks a rule of an aggregate
    └── ConcurrencyConflict    another writer changed the aggregate first

Both carry ids, versions and state names only, never clinical content, so
their messages are safe to log and to return over HTTP or in an HL7 ACK.
"""

from __future__ import annotations

from typing import Any

from heals.errors import DomainError

__all__ = ["ConcurrencyConflict", "RuleViolation"]


class RuleViolation(DomainError):
    """A broken rule, with the rule name, the aggregate, its state and the ids involved."""

    def __init__(self, rule: str, reason: str, *, aggregate_id: str, state: str, **ids: Any) -> None:
        named = ", ".join(f"{key}={value!r}" for key, value in ids.items() if value is not None)
        super().__init__(f"rule {rule} rejected the command: {reason} ({aggregate_id} is {state}{'; ' + named if named else ''})")
        self.rule = rule
        self.reason = reason
        self.aggregate_id = aggregate_id
        self.state = state
        self.ids = {key: value for key, value in ids.items() if value is not None}

    def to_dict(self) -> dict[str, Any]:
        """Return the error as a JSON-ready mapping."""
        return {
            "error": "rule_violation",
            "rule": self.rule,
            "reason": self.reason,
            "aggregate_id": self.aggregate_id,
            "state": self.state,
            "ids": self.ids,
        }


class ConcurrencyConflict(DomainError):
    """A lost race: another writer stored events on the aggregate after this command read it, so a retry is safe."""

    def __init__(self, aggregate_id: str, expected_version: int, actual_version: int) -> None:
        super().__init__(
            f"aggregate {aggregate_id} is at version {actual_version}, the command expected {expected_version}; "
            "retry the command"
        )
        self.aggregate_id = aggregate_id
        self.expected_version = expected_version
        self.actual_version = actual_version

    def to_dict(self) -> dict[str, Any]:
        """Return the error as a JSON-ready mapping."""
        return {
            "error": "concurrency_conflict",
            "aggregate_id": self.aggregate_id,
            "expected_version": self.expected_version,
            "actual_version": self.actual_version,
        }
