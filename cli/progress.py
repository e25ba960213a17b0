"""A progress bar with a rate for long work, on a terminal only.

The ledger's long operations (a first catch-up of the read models, verify,
import-events, export) call `start(total)` once they know how much there is
and then the object with each batch done. Nothing is drawn when stderr is not
a terminal or the work is small.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

#: Below this many events the work is over before a bar would help.
THRESHOLD = 20_000


class TerminalProgress:
    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.done = 0
        self.started = 0.0

    def start(self, total: int) -> None:
        if self.bar is not None or total < THRESHOLD or not sys.stderr.isatty():
            return
        self.started = time.monotonic()
        self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_pos=True, show_eta=True)
        self.bar.__enter__()

    def __call__(self, count: int) -> None:
        if self.bar is None:
            return
        self.done += count
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        self.bar.label = f"{self.label} ({rate:,.0f} events/s)"
        self.bar.update(count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
