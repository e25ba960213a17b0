"""A balance kept in effective-date order, so a rule holds on every date.

Decisions are often recorded late: a grant decided in March may be typed in
after a reallocation decided in May. A pool must never have committed more
than it had on any date, not only at the end of the recorded history, or a
replay of the year in date order would show it overspent. `Timeline` keeps
each change to a balance at its date and answers what the lowest balance
would be from a given date on if one more change were added there.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Iterable

#: An entry's place is one integer: the date's ordinal above the version's 40 bits.
_VERSION_BITS = 40
_AFTER_EVERY_VERSION = (1 << _VERSION_BITS) - 1


def _place(ordinal: int, version: int) -> int:
    if not 0 <= version < _AFTER_EVERY_VERSION:
        raise ValueError(f"version {version} is out of range for a timeline")
    return (ordinal << _VERSION_BITS) | version


class Timeline:
    """Signed changes to one balance, ordered by (date, version).

    Stored compactly (`verify` holds some three million entries while it
    replays a ledger of a million events): one array of 64-bit integers,
    each entry's place (date ordinal and version packed in one integer,
    which sorts as the (date, version) pair does) followed by its change in
    øre; no array at all until the first entry. Entries are mostly added in
    date order, so lookups walk back from the newest.

    Attributes:
        entries: (date ordinal, version, change in øre), sorted; built on request.
        total: the balance after every entry.
    """

    __slots__ = ("data", "total")

    def __init__(self, entries: Iterable[tuple[int, int, int]] = (), total: int = 0) -> None:
        self.data: array[int] | None = None
        self.total = total
        if entries:  # most timelines start empty (a new grant's two): no sort for them
            for ordinal, version, change in sorted(entries):
                self._append(_place(ordinal, version), change)

    @property
    def entries(self) -> list[tuple[int, int, int]]:
        data = self.data or ()
        return [(data[i] >> _VERSION_BITS, data[i] & _AFTER_EVERY_VERSION, data[i + 1]) for i in range(0, len(data), 2)]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timeline):
            return NotImplemented
        return (self.data or array("q")) == (other.data or array("q")) and self.total == other.total

    def __repr__(self) -> str:
        return f"Timeline(entries={self.entries!r}, total={self.total!r})"

    def _append(self, place: int, change: int) -> None:
        if self.data is None:
            self.data = array("q", (place, change))
        else:
            self.data.extend((place, change))

    def add(self, date: dt.date, version: int, change: int) -> None:
        """Record a change at a date; later versions sort after earlier ones."""
        place = _place(date.toordinal(), version)
        data = self.data
        if data is None or place >= data[-2]:
            self._append(place, change)
        else:
            i = self._after(place)
            data[i:i] = array("q", (place, change))
        self.total += change

    def _after(self, place: int) -> int:
        """The index in `data` of the first entry placed after `place` (len(data) if none)."""
        data = self.data
        if data is None:
            return 0
        i = len(data)
        while i > 0 and data[i - 2] > place:
            i -= 2
        return i

    def lowest_from(self, date: dt.date) -> tuple[int, dt.date | None]:
        """The lowest balance on or after `date`, counting a new entry there.

        Returns the balance and the date it occurs on: None when the lowest
        point is at `date` itself, else the date of the later entry after
        which the balance is lowest (the earliest such date on a tie).
        """
        running = self.total
        lowest: int | None = None
        lowest_at: dt.date | None = None
        data = self.data
        if data is not None:
            first = self._after((date.toordinal() << _VERSION_BITS) | _AFTER_EVERY_VERSION)
            for i in range(len(data) - 2, first - 2, -2):
                if lowest is None or running <= lowest:
                    lowest, lowest_at = running, dt.date.fromordinal(data[i] >> _VERSION_BITS)
                running -= data[i + 1]
        if lowest is None or running <= lowest:
            lowest, lowest_at = running, None
        return lowest, lowest_at

    def first_negative(self) -> tuple[int, dt.date] | None:
        """The first balance below zero in date order, and its date; None when there is none."""
        running = 0
        data = self.data or ()
        for i in range(0, len(data), 2):
            running += data[i + 1]
            if running < 0:
                return running, dt.date.fromordinal(data[i] >> _VERSION_BITS)
        return None

    def balance_on(self, date: dt.date) -> int:
        """The balance after every entry dated on or before `date`."""
        data = self.data
        if data is None:
            return self.total
        first = self._after((date.toordinal() << _VERSION_BITS) | _AFTER_EVERY_VERSION)
        return self.total - sum(data[first + 1::2])

    def to_data(self) -> dict:
        return {"entries": [list(e) for e in self.entries], "total": self.total}

    @classmethod
    def from_data(cls, data: dict) -> Timeline:
        return cls([tuple(e) for e in data["entries"]], data["total"])
