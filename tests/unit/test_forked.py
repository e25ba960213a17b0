"""A second process only ever saves time: what it sends comes through whole, and when it stops the caller is told.

Real forked processes, real pipes.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from ledger.forked import Forked, Streamed, second_process

pytestmark = pytest.mark.skipif(not second_process(0, 2), reason="this platform cannot fork")


def test_a_streamed_child_gives_each_item_in_turn_then_none() -> None:
    def work(send: object) -> None:
        for page in range(5):
            send((page, [page] * 1000, os.getpid()))  # type: ignore[operator]

    with Streamed(work) as child:
        got = [child.next() for _ in range(5)]
        assert child.next() is None
        assert child.next() is None  # asked again, still done
    assert [page for page, _, _ in got] == [0, 1, 2, 3, 4]
    assert all(items == [page] * 1000 for page, items, _ in got)
    assert {pid for _, _, pid in got} != {os.getpid()}  # made in another process


def test_a_streamed_child_that_fails_gives_what_it_sent_then_none() -> None:
    def work(send: object) -> None:
        send("first")  # type: ignore[operator]
        send("second")  # type: ignore[operator]
        raise RuntimeError("stopped")

    with Streamed(work) as child:
        assert [child.next(), child.next(), child.next(), child.next()] == ["first", "second", None, None]


def test_an_item_that_cannot_be_sent_stops_the_child() -> None:
    def work(send: object) -> None:
        send(1)  # type: ignore[operator]
        send(threading.Lock())  # type: ignore[operator] - cannot be pickled
        send(3)  # type: ignore[operator]

    with Streamed(work) as child:
        assert [child.next(), child.next()] == [1, None]


def test_a_caller_that_leaves_early_stops_the_child() -> None:
    def work(send: object) -> None:
        for _ in range(100_000):
            send(b"x" * 1_000_000)  # type: ignore[operator] - 100 GB: it is stopped long before

    with Streamed(work, ahead=2) as child:
        assert child.next() == b"x" * 1_000_000
    assert child.process.exitcode == -signal.SIGTERM
    assert not child.receiver.is_alive()


def test_a_forked_child_whose_parent_stopped_listening_ends_by_itself() -> None:
    # Its copy of the parent's end of the pipe is shut: a send to a parent no longer reading fails at once.
    def work() -> bytes:
        return b"x" * 10_000_000

    with Forked(work) as child:
        pass
    assert child.process.exitcode == 0


def test_a_forked_child_returns_what_its_work_returned_or_none_if_it_failed() -> None:
    with Forked(lambda: ("done in", os.getpid())) as child:
        said, pid = child.result()
        assert said == "done in" and pid != os.getpid()
        assert child.result() == (said, pid)  # asked again, the same answer

    def fails() -> None:
        raise RuntimeError("stopped")

    with Forked(fails) as child:
        assert child.result() is None


@pytest.mark.parametrize(("events", "processes", "two"), [(10, 2, True), (10**6, 1, False)])
def test_asking_for_one_or_two_processes_is_obeyed(events: int, processes: int, two: bool) -> None:
    assert second_process(events, processes) is two


def test_three_processes_are_refused() -> None:
    with pytest.raises(ValueError, match="^a walk runs in 1 or 2 processes, not 3$"):
        second_process(10, 3)
