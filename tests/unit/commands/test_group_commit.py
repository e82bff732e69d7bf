"""Group commit groups waiting saves and isolates a failing one."""

from __future__ import annotations

import threading

import pytest

from heals.commands.group_commit import GroupCommitter


class Conflict(Exception):
    pass


class RecordingWriter:
    """A write function that records each call; the first call waits until released."""

    def __init__(self, conflicting: set[str] = frozenset()) -> None:
        self.calls: list[list[str]] = []
        self.conflicting = conflicting
        self.first_call_started = threading.Event()
        self.release_first_call = threading.Event()

    def write(self, events, batch) -> None:
        if not self.calls:
            self.calls.append(list(events))
            self.first_call_started.set()
            self.release_first_call.wait(30)
            return
        self.calls.append(list(events))
        if self.conflicting & set(events):
            raise Conflict(sorted(self.conflicting & set(events)))


def save_in_threads(committer: GroupCommitter, saves: list[str]) -> tuple[dict[str, BaseException | None], list[threading.Thread]]:
    results: dict[str, BaseException | None] = {}

    def save(name: str) -> None:
        try:
            committer.save([name], None)
            results[name] = None
        except Conflict as exc:
            results[name] = exc

    threads = [threading.Thread(target=save, args=(name,)) for name in saves]
    for thread in threads:
        thread.start()
    return results, threads


def wait_for_queue(committer: GroupCommitter, size: int) -> None:
    with committer._condition:
        committer._condition.wait_for(lambda: len(committer._queue) == size, timeout=30)


@pytest.fixture
def writer() -> RecordingWriter:
    return RecordingWriter()


def test_waiting_saves_share_one_write(writer):
    committer = GroupCommitter(writer.write, lambda batches: None)
    first, first_threads = save_in_threads(committer, ["a"])
    writer.first_call_started.wait(30)
    results, threads = save_in_threads(committer, ["b", "c", "d"])
    wait_for_queue(committer, 3)

    writer.release_first_call.set()
    for thread in first_threads + threads:
        thread.join(30)
    committer.close()

    assert writer.calls[0] == ["a"]
    assert sorted(writer.calls[1]) == ["b", "c", "d"]
    assert len(writer.calls) == 2
    assert results == {"b": None, "c": None, "d": None}


def test_conflict_in_group_fails_only_its_save():
    writer = RecordingWriter(conflicting={"c"})
    committer = GroupCommitter(writer.write, lambda batches: None)
    _, first_threads = save_in_threads(committer, ["a"])
    writer.first_call_started.wait(30)
    results, threads = save_in_threads(committer, ["b", "c", "d"])
    wait_for_queue(committer, 3)

    writer.release_first_call.set()
    for thread in first_threads + threads:
        thread.join(30)
    committer.close()

    assert results["b"] is None
    assert results["d"] is None
    assert isinstance(results["c"], Conflict)
    assert sorted(writer.calls[1]) == ["b", "c", "d"]
    assert sorted(call[0] for call in writer.calls[2:]) == ["b", "c", "d"]


def test_closed_committer_rejects_saves(writer):
    committer = GroupCommitter(writer.write, lambda batches: None)
    committer.close()
    with pytest.raises(RuntimeError):
        committer.save(["a"], None)
