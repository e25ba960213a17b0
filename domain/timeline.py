"""A balance kept in effective-date order, so a rule holds on every date.

Decisions are often recorded late: a grant decided in March may be typed in
after a reallocation decided in May. A pool must never have committed more
than it had on any date, not only at the end of the recorded history, or a
replay of the year in date order would show it overspent. `Timeline` keeps
each change to a balance at its date and answers what the lowest balance
would be from a given date on if one more change were added there.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field


@dataclass(slots=True)
class Timeline:
    """Signed changes to one balance, ordered by (date, version).

    Attributes:
        entries: (date ordinal, version, change in øre), sorted.
        total: the balance after every entry.
    """

    entries: list[tuple[int, int, int]] = field(default_factory=list)
    total: int = 0

    def add(self, date: dt.date, version: int, change: int) -> None:
        """Record a change at a date; later versions sort after earlier ones."""
        entry = (date.toordinal(), version, change)
        if not self.entries or entry >= self.entries[-1]:
            self.entries.append(entry)
        else:
            bisect.insort(self.entries, entry)
        self.total += change

    def lowest_from(self, date: dt.date) -> tuple[int, dt.date | None]:
        """The lowest balance on or after `date`, counting a new entry there.

        Returns the balance and the date it occurs on: None when the lowest
        point is at `date` itself, else the date of the later entry after
        which the balance is lowest (the earliest such date on a tie).
        """
        key = (date.toordinal(), 1 << 62, 0)
        running = self.total
        lowest: int | None = None
        lowest_at: dt.date | None = None
        i = len(self.entries) - 1
        while i >= 0 and self.entries[i] > key:
            if lowest is None or running <= lowest:
                lowest, lowest_at = running, dt.date.fromordinal(self.entries[i][0])
            running -= self.entries[i][2]
            i -= 1
        if lowest is None or running <= lowest:
            lowest, lowest_at = running, None
        return lowest, lowest_at

    def first_negative(self) -> tuple[int, dt.date] | None:
        """The first balance below zero in date order, and its date; None when there is none."""
        running = 0
        for ordinal, _, change in self.entries:
            running += change
            if running < 0:
                return running, dt.date.fromordinal(ordinal)
        return None

    def balance_on(self, date: dt.date) -> int:
        """The balance after every entry dated on or before `date`."""
        key = (date.toordinal(), 1 << 62, 0)
        running = self.total
        i = len(self.entries) - 1
        while i >= 0 and self.entries[i] > key:
            running -= self.entries[i][2]
            i -= 1
        return running

    def to_data(self) -> dict:
        return {"entries": [list(e) for e in self.entries], "total": self.total}

    @classmethod
    def from_data(cls, data: dict) -> Timeline:
        return cls([tuple(e) for e in data["entries"]], data["total"])
