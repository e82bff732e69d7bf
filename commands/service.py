"""CommandService: executes commands durably, once per command id, all of one message or none.

Usage from a thread or a synchronous program::

    service = CommandService(settings)             # tables in HEALS_EVENT_STORE_SCHEMA
    outcome = service.execute(admit_command)        # returns after PostgreSQL committed
    outcomes = service.execute_all([merge_1, merge_2])

The service is thread-safe: each call works on its own unit of work and
takes PostgreSQL connections from a shared pool. From asyncio, run it in a
worker thread, for example ``await asyncio.to_thread(service.execute_all, commands)``,
so the event loop is not blocked while PostgreSQL commits.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Sequence

from heals.codec import Codec
from heals.commands.errors import ConcurrencyConflict, RuleViolation
from heals.commands.handlers import UnitOfWork, handle
from heals.commands.models import Command
from heals.commands.outcome import CommandOutcome
from heals.commands.position import encode_position
from heals.commands.sealing import CommandContext, EventSealer
from heals.commands.store import CommandRecord, EventStore, StoreConflict, WriteBatch
from heals.kafka import trace_headers
from heals.registry import make_codec
from heals.settings import Settings

__all__ = ["CommandService"]

logger = logging.getLogger(__name__)


class CommandService:
    """Execute commands against the event store; implements heals.commands.outcome.CommandExecutor.

    | argument | meaning |
    | --- | --- |
    | settings | HEALS settings: PostgreSQL URL, schema catalogue, registry URL |
    | store | an EventStore to use; by default one is opened from the settings |
    | schema, name | PostgreSQL schema and table prefix of a store opened here (tests use their own) |
    | codec | Avro codec; by default the configured catalogue and framing |
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: EventStore | None = None,
        schema: str | None = None,
        name: str | None = None,
        codec: Codec | None = None,
    ) -> None:
        self.store = store or EventStore(settings, schema=schema, name=name)
        self.sealer = EventSealer(codec or make_codec(settings))

    def close(self) -> None:
        """Commit saves still queued and close the store's connections."""
        self.store.close()

    def execute(self, command: Command) -> CommandOutcome:
        """Execute one command; raise RuleViolation or ConcurrencyConflict, storing nothing then."""
        return self.execute_all([command])[0]

    def execute_all(self, commands: Sequence[Command]) -> list[CommandOutcome]:
        """Execute the commands of one inbound message in one transaction: all are stored or none.

        A command whose id was executed before returns its first outcome
        with duplicate=True and changes nothing.
        """
        if not commands:
            return []
        command_ids = [c.command_id for c in commands]

        # Most commands are new, so execute first and read the command log only when that fails:
        # the command log's primary key stops a repeated command from storing anything twice.
        recorded: dict[str, CommandRecord] = {}
        try:
            outcomes = self._execute_new(_first_of_each_id(list(commands)))
        except (RuleViolation, _LostRace) as failure:
            recorded = self.store.find_commands(command_ids)
            if not recorded:
                raise failure.conflict if isinstance(failure, _LostRace) else failure from None
            outcomes = self._execute_unrecorded(commands, recorded)
        return self._in_command_order(commands, outcomes, recorded)

    def execute_together(self, messages: Sequence[Sequence[Command]]) -> list[list[CommandOutcome]]:
        """Execute the commands of several inbound messages, in order, in one transaction: all are stored or none.

        Each message sees the events of the messages before it, as if they
        had been executed one by one. Raises RuleViolation, ConcurrencyConflict
        or a store error when any command fails, and a command id that was
        executed before raises ConcurrencyConflict; nothing is stored then,
        so the caller can execute the messages one by one with execute_all
        to learn each message's outcome. Sharing the commit is what makes
        this cheaper than execute_all per message.
        """
        commands = [command for message in messages for command in message]
        if not commands:
            return [[] for _ in messages]
        try:
            outcomes = self._execute_new(_first_of_each_id(commands))
        except _LostRace as race:
            raise race.conflict from None
        return [self._in_command_order(message, outcomes, {}) for message in messages]

    def _execute_unrecorded(
        self, commands: Sequence[Command], recorded: dict[str, CommandRecord]
    ) -> dict[str, CommandOutcome]:
        # Some commands of the message were executed before: execute only the others.
        new_commands = _first_of_each_id([c for c in commands if c.command_id not in recorded])
        if not new_commands:
            return {}
        try:
            return self._execute_new(new_commands)
        except _LostRace as race:
            # A concurrent call stored the same command ids first, so return its outcome.
            recorded.update(self.store.find_commands([c.command_id for c in new_commands]))
            if not all(c.command_id in recorded for c in new_commands):
                raise race.conflict from None
            return {}

    @staticmethod
    def _in_command_order(
        commands: Sequence[Command], outcomes: dict[str, CommandOutcome], recorded: dict[str, CommandRecord]
    ) -> list[CommandOutcome]:
        results = []
        answered: set[str] = set()
        for command in commands:
            outcome = outcomes.get(command.command_id)
            if outcome is None:
                results.append(_duplicate(recorded[command.command_id]))
            elif command.command_id in answered:
                results.append(replace(outcome, duplicate=True))
            else:
                results.append(outcome)
            answered.add(command.command_id)
        return results

    def _execute_new(self, commands: list[Command]) -> dict[str, CommandOutcome]:
        uow = UnitOfWork(self.store)
        try:
            return self._execute_in(uow, commands)
        except RuleViolation:
            if not uow.cached_heads:
                raise
        # A cached aggregate is older than the store when another process wrote it since, and a rule
        # judged on it may be wrong: judge the commands once more from the store. A lost race is raised
        # as ConcurrencyConflict instead, as without the cache; the store evicted those aggregates.
        self.store.cache.evict(uow.aggregates)
        logger.debug("commands %s judged again without the cache", [c.command_id for c in commands])
        return self._execute_in(UnitOfWork(self.store, use_cache=False), commands)

    def _execute_in(self, uow: UnitOfWork, commands: list[Command]) -> dict[str, CommandOutcome]:
        batch = WriteBatch()
        chain_heads: dict[str, str | None] = {}
        outcomes: dict[str, CommandOutcome] = {}
        # The caller's trace context (an HTTP request or MLLP message span) travels on to the Kafka records.
        traceparent = dict(trace_headers()).get("traceparent")
        traceparent = traceparent.decode("ascii") if traceparent else None

        # Apply each command in order; a RuleViolation here leaves nothing stored.
        uow.prefetch(commands)
        for command in commands:
            handle(uow, command)
            context = CommandContext.of(command)
            event_ids = []
            last = None
            for aggregate, event in uow.take_new_events():
                key = aggregate.aggregate_key
                if key not in chain_heads:
                    cached_head = uow.cached_heads.get(key)
                    chain_heads[key] = cached_head or self.store.chain_hash(key, uow.loaded_versions[key])
                sealed = self.sealer.seal(aggregate, event, context, chain_heads[key], traceparent)
                chain_heads[key] = sealed.hash
                batch.events.append(sealed)
                event_ids.append(sealed.event_id)
                last = sealed
            if last is None:
                raise AssertionError(f"command {command.kind} {command.command_id} caused no event")
            position = encode_position(last.aggregate_id, last.aggregate_version)
            batch.commands.append(CommandRecord(command.command_id, command.kind, tuple(event_ids), position))
            outcomes[command.command_id] = CommandOutcome(command.command_id, tuple(event_ids), position)

        # Store events, event log rows and command rows in one transaction.
        batch.read_versions = uow.read_versions()
        try:
            self.store.save(list(uow.aggregates.values()), batch)
        except StoreConflict as exc:
            raise _LostRace(self._conflict(uow, exc)) from exc
        logger.debug("stored %d events for %d commands", len(batch.events), len(commands))
        return outcomes

    def _conflict(self, uow: UnitOfWork, exc: StoreConflict) -> ConcurrencyConflict:
        for key, loaded in uow.loaded_versions.items():
            actual = self.store.current_version(key)
            if actual != loaded:
                return ConcurrencyConflict(key, loaded, actual)
        # Only a command id was taken; the caller finds the other call's outcome on retry.
        key, loaded = next(iter(uow.loaded_versions.items()))
        logger.debug("store conflict on %s without a version change", exc.constraint)
        return ConcurrencyConflict(key, loaded, loaded)


class _LostRace(Exception):
    def __init__(self, conflict: ConcurrencyConflict) -> None:
        super().__init__(str(conflict))
        self.conflict = conflict


def _first_of_each_id(commands: list[Command]) -> list[Command]:
    # A message that repeats a command id executes it once, and the repeat returns as a duplicate.
    seen: set[str] = set()
    unique = []
    for command in commands:
        if command.command_id not in seen:
            seen.add(command.command_id)
            unique.append(command)
    return unique


def _duplicate(record: CommandRecord) -> CommandOutcome:
    return CommandOutcome(record.command_id, record.event_ids, record.position, duplicate=True)
