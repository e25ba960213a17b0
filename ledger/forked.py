"""A second process for half of a long walk (`verify`, `import-events`), where the machine has one to spare.

`Forked(work)` runs `work()` in a forked child while the parent goes on with
its own half; `result()` waits for what `work` returned. The child never
touches the parent's connections (`work` opens what it reads afresh) and
leaves with `os._exit`. Whatever stops it (an error, a signal, a lost
connection, a result that cannot be sent) makes `result()` return None, and
the caller does that half itself: a second process only ever saves time.
`Streamed(work)` is the same for a `work(send)` that sends its results as it
goes: `next()` gives them one by one, then None.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any, Self

#: From how many events a walk takes a second process by default.
PARALLEL_FROM = 20_000


def second_process(events: int, processes: int | None) -> bool:
    """Whether a walk over `events` events takes a second process.

    `processes` 1 or 2 asks for that; None takes two from `PARALLEL_FROM`
    events on a machine with a second core. Two only where Python can fork.
    """
    import multiprocessing

    if processes is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        wanted = events >= PARALLEL_FROM and cores >= 2
    elif processes in (1, 2):
        wanted = processes == 2
    else:
        raise ValueError(f"a walk runs in 1 or 2 processes, not {processes}")
    return wanted and "fork" in multiprocessing.get_all_start_methods()


class Forked:
    """`work()` in a forked child; `result()` is what it returned (never None), or None if it did not finish."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work

    def __enter__(self) -> Self:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self.receiving, sending = context.Pipe(duplex=False)
        self.process = context.Process(target=self._run, args=(sending,), daemon=True)
        self.process.start()
        sending.close()
        return self

    def _run(self, sending: Any) -> None:
        self.receiving.close()  # the parent's end: with it shut here, a parent gone makes a send fail, not wait
        try:
            answer = ("done", self._work(sending))
        except BaseException:  # noqa: BLE001 - whatever stopped it, the parent does the work itself
            answer = ("failed", None)
        with contextlib.suppress(Exception):
            sending.send(answer)

    def _work(self, sending: Any) -> Any:
        return self.work()

    def result(self) -> Any:
        """What `work()` returned (asked again, the same answer), or None if it did not finish."""
        if not hasattr(self, "answer"):
            try:
                status, value = self.receiving.recv()
            except (EOFError, OSError, ValueError):
                status, value = "failed", None
            self.answer = value if status == "done" else None
        return self.answer

    def __exit__(self, *args: object) -> None:
        self.receiving.close()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()


class Streamed(Forked):
    """`work(send)` in a forked child, sending what it makes as it goes; `next()` gives each in turn, then None.

    None also when the child stopped before it was done (what it sent until
    then came through whole): the caller does the rest itself. A thread of
    the caller's takes what the child sends as it comes, up to `ahead`
    items before the caller asks, so neither waits on the other's pace page
    by page. A caller that leaves before the end (or calls `stop`) stops
    the child.
    """

    def __init__(self, work: Callable[[Callable[[Any], None]], None], *, ahead: int = 4) -> None:
        super().__init__(work)
        self.ahead = ahead

    def __enter__(self) -> Self:
        import queue
        import threading

        super().__enter__()
        self.received: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=self.ahead)
        self.leaving = False
        self.receiver = threading.Thread(target=self._receive, daemon=True)
        self.receiver.start()
        return self

    def _work(self, sending: Any) -> None:
        self.work(lambda item: sending.send(("item", item)))

    def _receive(self) -> None:
        import queue

        status = "item"
        while status == "item" and not self.leaving:
            try:
                status, value = self.receiving.recv()
            except (EOFError, OSError, ValueError):
                status, value = "failed", None
            while not self.leaving:
                try:
                    self.received.put((status, value), timeout=0.1)
                    break
                except queue.Full:
                    continue

    def next(self) -> Any:
        """The next item the child sent, or None once it has sent its last (or stopped)."""
        if getattr(self, "ended", False):
            return None
        status, value = self.received.get()
        if status == "item":
            return value
        self.ended = True
        return None

    def stop(self) -> None:
        """Stop the child, if it is still sending (what it would send is no longer wanted), and the receiver."""
        if self.leaving:
            return
        self.leaving = True
        if self.process.is_alive() and not getattr(self, "ended", False):
            self.process.terminate()
        self.process.join()
        self.receiver.join()  # the child gone, its end of the pipe is closed: the receiver's read returns
        self.receiving.close()

    def __exit__(self, *args: object) -> None:
        self.stop()
