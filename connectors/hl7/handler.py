"""Frame handling, one ACK per frame: parse, check for a resend, map, execute, archive.

The steps for one message, in order:

1. Parse. A message that cannot be read gets AR (CR) and is dead-lettered.
2. Look the sender and MSH-10 up in the ACK store. A resend of an accepted
   message gets its stored ACK. The same MSH-10 with other bytes gets AR 205.
3. Map to commands and device readings; a broken rule gets AE (CE).
4. Execute the commands (the write side returns after PostgreSQL committed)
   and write readings to Kafka (returns after the broker acknowledged).
5. Store the ACK of an accepted message and send the ACK; then queue the
   message and its ACK for the archive topic without waiting for Kafka.

Batches and files are split first; each message goes through these steps and
the reply is a batch of ACKs. Frames a sender pipelined on one connection
share steps 2, 4 and 5 (see handle_frames_deferred).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from heals.commands.outcome import CommandExecutor
from heals.connectors.hl7.ack import AckHeader, Outcome, build_ack, reply_code
from heals.connectors.hl7.batch import is_envelope, split_envelope
from heals.connectors.hl7.decoding import peek_header
from heals.connectors.hl7.errors import ErrorCode, Hl7Error, Issue, MessageInvalid, MessageRejected
from heals.connectors.hl7.kafka_writes import KafkaWriter
from heals.connectors.hl7.mapping.registry import MappedMessage, map_message
from heals.connectors.hl7.message import Message, parse_message
from heals.connectors.hl7.store import AckStore, MessageKey
from heals.dead_letters import DeadLetterWriter
from heals.errors import DomainError

__all__ = ["MessageHandler", "rule_error_code"]

logger = logging.getLogger(__name__)

CONCURRENCY_RETRIES = 3

# Words of a write-side rule violation's reason -> HL7 table 0357 code.
RULE_ERROR_CODES = (
    ("not registered", ErrorCode.UNKNOWN_KEY_IDENTIFIER),
    ("never placed", ErrorCode.UNKNOWN_KEY_IDENTIFIER),
    ("no such", ErrorCode.UNKNOWN_KEY_IDENTIFIER),
    ("merged", ErrorCode.DUPLICATE_KEY_IDENTIFIER),
    ("already", ErrorCode.DUPLICATE_KEY_IDENTIFIER),
    ("before", ErrorCode.DUPLICATE_KEY_IDENTIFIER),
)


def rule_error_code(error: DomainError) -> str:
    """Return the HL7 error code for a write-side rule violation."""
    reason = str(getattr(error, "reason", error)).lower()
    return next((code for words, code in RULE_ERROR_CODES if words in reason), ErrorCode.APPLICATION_INTERNAL_ERROR)


@dataclass
class _Answer:
    ack: bytes
    code: str
    archive: Callable[[], None] = lambda: None


@dataclass
class _Prepared:
    raw: bytes
    message: Message
    header: AckHeader
    key: MessageKey
    digest: bytes
    mapped: MappedMessage


class MessageHandler:
    """Turn frames into ACKs; thread-safe, one call per frame."""

    def __init__(
        self,
        executor: CommandExecutor,
        store: AckStore,
        kafka: KafkaWriter,
        dead_letters: DeadLetterWriter,
        *,
        tenant_id: str,
        dead_letter_name: str = "hl7",
        assigning_authority: str | None = None,
        sender_time_zone: str = "UTC",
        before_ack: Callable[[], None] | None = None,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.executor = executor
        self.store = store
        self.kafka = kafka
        self.dead_letters = dead_letters
        self.tenant_id = tenant_id
        self.dead_letter_name = dead_letter_name
        self.assigning_authority = assigning_authority
        self.sender_time_zone = sender_time_zone
        # Test hooks: after_commit runs once the events are durable and before
        # the ACK is stored; before_ack runs after that and before the ACK leaves.
        self.before_ack = before_ack
        self.after_commit = after_commit

    def handle_frame(self, raw: bytes, peer: str) -> bytes:
        """Process one frame's content, archive it and return the ACK to send back."""
        ack, archive = self.handle_frame_deferred(raw, peer)
        archive()
        return ack

    def handle_frame_deferred(self, raw: bytes, peer: str) -> tuple[bytes, Callable[[], None]]:
        """Process one frame's content; return the ACK and the archive step to run after sending it.

        The events are durable when this returns. The archive step only
        queues a record for Kafka, and the caller runs it after the ACK leaves.
        """
        if is_envelope(raw):
            return self._handle_envelope(raw, peer), lambda: None
        answer = self._handle_message(raw, peer)
        return answer.ack, answer.archive

    def reject_frame(self, raw_head: bytes, error: Exception, peer: str, code: str = ErrorCode.APPLICATION_INTERNAL_ERROR) -> bytes:
        """Build an AR for a frame that could not be handled at all (too large, internal failure)."""
        peek = peek_header(raw_head)
        issue = error.issue if isinstance(error, Hl7Error) else Issue(code, str(error))
        return build_ack(AckHeader.from_peek(peek), _peek_code(peek, Outcome.REJECTED), [issue])

    # -- one message ----------------------------------------------------------

    def _handle_message(self, raw: bytes, peer: str) -> _Answer:
        started = time.perf_counter()
        peek = peek_header(raw)
        try:
            message = parse_message(raw, self.sender_time_zone)
        except MessageRejected as exc:
            code = _peek_code(peek, Outcome.REJECTED)
            answer = _Answer(build_ack(AckHeader.from_peek(peek), code, [exc.issue]), code)
            self._park(raw, exc, peek.sending_facility, peek.control_id)
            answer.archive = lambda: self._archive(
                raw, answer, peer, peek.sending_application, peek.sending_facility, peek.control_id, peek.message_type
            )
            logger.info("rejected unreadable message control id %s from %s: %s", peek.control_id, peer, exc.code)
            return answer

        header = _ack_header(message)
        key = MessageKey(self.tenant_id, message.sending_application, message.sending_facility, message.control_id)
        digest = hashlib.sha256(raw).digest()
        stored = self.store.lookup(key)
        if stored is not None:
            answer = self._answer_resend(message, header, raw, stored, digest)
        else:
            answer = self._process(message, header, raw, key, digest)

        if self.before_ack is not None:
            self.before_ack()
        answer.archive = lambda: self._archive(
            raw, answer, peer, message.sending_application, message.sending_facility,
            message.control_id, message.message_type,
        )
        logger.debug("message %s acknowledged %s in %.1f ms", message.control_id, answer.code,
                     (time.perf_counter() - started) * 1000)
        return answer

    def _answer_resend(self, message: Message, header: AckHeader, raw: bytes, stored, digest: bytes) -> _Answer:
        if stored.payload_sha256 == digest:
            logger.info("message %s is a resend, so the stored %s is sent again", message.control_id, stored.ack_code)
            return _Answer(stored.ack, stored.ack_code)
        error = MessageRejected(
            ErrorCode.DUPLICATE_KEY_IDENTIFIER,
            "MSH-10 was already used by this sender for a different message; send it with a new control id",
            message.msh.location(10),
        )
        code = _message_code(message, Outcome.REJECTED)
        self._park(raw, error, message.sending_facility, message.control_id)
        logger.warning("message %s reuses a control id with different content", message.control_id)
        return _Answer(build_ack(header, code, [error.issue]), code)

    def _process(self, message: Message, header: AckHeader, raw: bytes, key: MessageKey, digest: bytes) -> _Answer:
        try:
            mapped = map_message(message, self.tenant_id, self.assigning_authority)
            self._execute(message, mapped)
        except Exception as exc:  # every failure becomes an AR or AE below
            return self._failure_answer(message, header, raw, exc)

        if self.after_commit is not None:
            self.after_commit()
        code = _message_code(message, Outcome.ACCEPTED)
        ack = build_ack(header, code, mapped.warnings)
        stored = self.store.save(key, digest, ack, code)
        return _Answer(stored.ack, stored.ack_code)

    def _failure_answer(self, message: Message, header: AckHeader, raw: bytes, exc: Exception) -> _Answer:
        if isinstance(exc, (MessageRejected, MessageInvalid)):
            outcome = Outcome.REJECTED if isinstance(exc, MessageRejected) else Outcome.ERROR
            code = _message_code(message, outcome)
            self._park(raw, exc, message.sending_facility, message.control_id)
            logger.info("message %s acknowledged %s: HL7 error %s", message.control_id, code, exc.code)
            return _Answer(build_ack(header, code, [exc.issue]), code)
        if isinstance(exc, DomainError):
            code = _message_code(message, Outcome.ERROR)
            issue = Issue(rule_error_code(exc), str(exc))
            self._park(raw, exc, message.sending_facility, message.control_id)
            logger.info("message %s acknowledged %s: %s", message.control_id, code, type(exc).__name__)
            return _Answer(build_ack(header, code, [issue]), code)

        # The write side or Kafka failed, so the sender should retry.
        code = _message_code(message, Outcome.REJECTED)
        logger.error("message %s could not be processed", message.control_id, exc_info=exc)
        issue = Issue(ErrorCode.APPLICATION_INTERNAL_ERROR, f"internal error {type(exc).__name__}; resend later")
        return _Answer(build_ack(header, code, [issue]), code)

    def _execute(self, message: Message, mapped: MappedMessage) -> None:
        if mapped.commands:
            for attempt in range(1, CONCURRENCY_RETRIES + 1):
                try:
                    self.executor.execute_all(mapped.commands)
                    break
                except DomainError as exc:
                    if type(exc).__name__ != "ConcurrencyConflict" or attempt == CONCURRENCY_RETRIES:
                        raise
                    logger.info("message %s met a concurrent write; retry %d", message.control_id, attempt)
        report = mapped.device_report
        if report is not None:
            if report.skipped:
                logger.info("message %s: skipped device observations %s", message.control_id, report.skipped)
            self.kafka.readings(
                report.readings,
                source_system=message.msh.value(3, 1) or message.sending_application or "unknown",
                message_type=message.message_type,
                control_id=message.control_id,
                correlation_id=f"{message.sending_application}|{message.sending_facility}|{message.control_id}",
            )

    # -- frames pipelined on one connection ---------------------------------------

    def handle_frames_deferred(self, raws: Sequence[bytes], peer: str) -> tuple[list[bytes], Callable[[], None]]:
        """Process frames a sender sent on one connection without waiting; return their ACKs in order and one archive step.

        When every frame is a new message that maps to write-side commands
        only, the messages share one write-side transaction, one ACK store
        look-up and one ACK store insert. Each message stays all or nothing:
        a group that fails is executed again message by message, in order.
        Every ACK is built after the commit, so none leaves before its events
        are durable. Other frames are handled one by one, as by
        handle_frame_deferred.
        """
        group = [self._prepare(raw) for raw in raws] if len(raws) > 1 else [None]
        keys = [prepared.key for prepared in group if prepared is not None]
        groupable = len(keys) == len(raws) and len(set(keys)) == len(keys) and not self.store.lookup_many(keys)
        if not groupable:
            # NOTE: one frame of another kind (a resend, a batch, a device report, an unreadable message)
            # makes the whole read go one by one, which is correct but pays a transaction per message.
            replies = [self.handle_frame_deferred(raw, peer) for raw in raws]
            return [ack for ack, _ in replies], _run_in_order([archive for _, archive in replies])
        answers = self._answer_group([prepared for prepared in group if prepared is not None], peer)
        return [answer.ack for answer in answers], _run_in_order([answer.archive for answer in answers])

    def _prepare(self, raw: bytes) -> _Prepared | None:
        if is_envelope(raw):
            return None
        try:
            message = parse_message(raw, self.sender_time_zone)
            mapped = map_message(message, self.tenant_id, self.assigning_authority)
        except Exception:  # the one-by-one path handles the message again and reports the failure
            return None
        if not mapped.commands or mapped.device_report is not None:
            return None
        key = MessageKey(self.tenant_id, message.sending_application, message.sending_facility, message.control_id)
        return _Prepared(raw, message, _ack_header(message), key, hashlib.sha256(raw).digest(), mapped)

    def _answer_group(self, group: list[_Prepared], peer: str) -> list[_Answer]:
        failures = self._execute_group(group)

        # Store the ACKs of the accepted messages in one statement.
        accepted = []
        for prepared, failure in zip(group, failures):
            if failure is None:
                if self.after_commit is not None:
                    self.after_commit()
                code = _message_code(prepared.message, Outcome.ACCEPTED)
                accepted.append((prepared.key, prepared.digest, build_ack(prepared.header, code, prepared.mapped.warnings), code))
        stored = iter(self.store.save_many(accepted))

        answers = []
        for prepared, failure in zip(group, failures):
            if failure is None:
                stored_ack = next(stored)
                answer = _Answer(stored_ack.ack, stored_ack.ack_code)
            else:
                answer = self._failure_answer(prepared.message, prepared.header, prepared.raw, failure)
            if self.before_ack is not None:
                self.before_ack()
            message = prepared.message
            answer.archive = functools.partial(
                self._archive, prepared.raw, answer, peer, message.sending_application, message.sending_facility,
                message.control_id, message.message_type,
            )
            answers.append(answer)
        logger.debug("%d pipelined messages acknowledged together", len(group))
        return answers

    def _execute_group(self, group: list[_Prepared]) -> list[Exception | None]:
        execute_together = getattr(self.executor, "execute_together", None)
        if execute_together is not None:
            try:
                execute_together([prepared.mapped.commands for prepared in group])
                return [None] * len(group)
            except Exception as exc:  # nothing was stored; each message is executed alone below
                logger.debug("group of %d messages failed with %s; executing each alone", len(group), type(exc).__name__)
        failures: list[Exception | None] = []
        for prepared in group:
            try:
                self._execute(prepared.message, prepared.mapped)
                failures.append(None)
            except Exception as exc:  # answered AE or AR by _failure_answer
                failures.append(exc)
        return failures

    # -- batches ----------------------------------------------------------------

    def _handle_envelope(self, raw: bytes, peer: str) -> bytes:
        peek = peek_header(raw)
        try:
            envelope = split_envelope(raw)
        except MessageRejected as exc:
            ack = build_ack(AckHeader.from_peek(peek), "AR", [exc.issue])
            self._park(raw, exc, peek.sending_facility, peek.control_id)
            self._archive(raw, _Answer(ack, "AR"), peer, peek.sending_application, peek.sending_facility,
                          peek.control_id, "BATCH")
            return ack
        acks = []
        for message in envelope.messages:
            answer = self._handle_message(message, peer)
            answer.archive()
            acks.append(answer.ack)
        separator = peek.field_separator
        header = envelope.header.decode("utf-8", "replace").split(separator)
        batch_id = header[10] if len(header) > 10 else ""
        lines = [separator.join(["BHS", "^~\\&", "HEALS", "", header[2] if len(header) > 2 else "",
                                 header[3] if len(header) > 3 else "", time.strftime("%Y%m%d%H%M%S", time.gmtime()),
                                 "", "", "", "ACK" + batch_id, batch_id])]
        body = b"".join(ack if ack.endswith(b"\r") else ack + b"\r" for ack in acks)
        return (lines[0] + "\r").encode("ascii", "replace") + body + f"BTS{separator}{len(acks)}\r".encode("ascii")

    # -- side effects -----------------------------------------------------------

    def _park(self, raw: bytes, error: Exception, facility: str | None, control_id: str | None) -> None:
        key = f"{facility or ''}|{control_id or ''}".encode("utf-8")
        try:
            self.dead_letters.park(self.dead_letter_name, error, raw, key=key, message_control_id=control_id)
        except Exception:  # the ACK still goes out; the raw archive keeps the bytes
            logger.exception("could not park message %s on the dead-letter topic", control_id)

    def _archive(self, raw: bytes, answer: _Answer, peer: str, application, facility, control_id, message_type) -> None:
        try:
            self.kafka.archive(message=raw, ack=answer.ack, ack_code=answer.code or None, peer=peer,
                               sending_application=application, sending_facility=facility,
                               control_id=control_id, message_type=message_type)
        except Exception:  # the events are durable already; losing the archive copy must not block the ACK
            logger.exception("could not archive message %s", control_id)


def _run_in_order(steps: list[Callable[[], None]]) -> Callable[[], None]:
    def run() -> None:
        for step in steps:
            step()
    return run


def _message_code(message: Message, outcome: str) -> str:
    return reply_code(outcome, message.accept_ack_type, message.application_ack_type)


def _peek_code(peek, outcome: str) -> str:
    return reply_code(outcome, (peek.accept_ack_type or "").upper(), (peek.application_ack_type or "").upper())


def _ack_header(message: Message) -> AckHeader:
    return AckHeader(
        separators=message.separators,
        sending_application=message.sending_application,
        sending_facility=message.sending_facility,
        receiving_application=message.msh.raw(5),
        receiving_facility=message.msh.raw(6),
        trigger_event=message.trigger_event,
        control_id=message.control_id,
        processing_id=message.processing_id or "P",
        version=message.version or "2.5",
        charset=message.decoded.charset,
        msh18=message.msh.raw(18),
    )


def exit_now() -> None:
    """End the process at once, as a crash would; a test hook for the steps between commit and ACK."""
    logger.warning("exiting before the ACK is sent, as the test hook requests")
    os._exit(70)
