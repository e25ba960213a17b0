"""Replaying a pool's decisions in effective-date order, with the balance after each.

The auditor's question: "in the order things were decided, how did the pool
stand after each decision?" Events are sorted by effective date, ties in the
order they were recorded, and folded one by one with the same fold as every
view, so the balances after the last step equal `pool show`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from projections.asof import visible
from projections.fold import AMOUNT_FIELD, apply, kind_of
from projections.memory import MemoryState

#: Entries recorded this many days or more after their effective date are marked as late.
LATE_AFTER_DAYS = 30


@dataclass
class ReplayStep:
    sequence: int
    date: str
    recorded_at: str
    recorded_days_after: int
    kind: str
    grant: str | None
    recipient: str | None
    purpose: str | None
    amount_ore: int | None
    decided_by: str | None
    decision_ref: str | None
    reason: str | None
    funding_ore: int
    awarded_ore: int
    committed_ore: int
    disbursed_ore: int
    returned_ore: int
    withdrawn_ore: int
    available_ore: int
    reversal: bool = False

    @property
    def late(self) -> bool:
        return self.recorded_days_after >= LATE_AFTER_DAYS


def days_after(recorded_at: dt.datetime, date: dt.date) -> int:
    return (recorded_at.date() - date).days


def replay_pool(
    events: Iterable[tuple[int, Any]], *, until: dt.date | None = None, recorded_before: dt.datetime | None = None
) -> list[ReplayStep]:
    """(sequence, event) pairs of one pool -> one step per visible event, in date order."""
    ordered = sorted(
        ((sequence, event) for sequence, event in events if visible(event, until, recorded_before)),
        key=lambda pair: (pair[1].date, pair[0]),
    )
    state = MemoryState()
    grants: dict[str, Any] = {}
    steps = []
    for sequence, event in ordered:
        apply(state, event, sequence, "")
        pool = state.pools[str(event.originator_id)]
        kind = kind_of(event)
        number = getattr(event, "number", None)
        if kind == "grant_awarded":
            grants[number] = event
        award = grants.get(number) if number else None
        field = AMOUNT_FIELD.get(kind)
        steps.append(
            ReplayStep(
                sequence=sequence,
                date=event.date.isoformat(),
                recorded_at=event.timestamp.isoformat().replace("+00:00", "Z"),
                recorded_days_after=days_after(event.timestamp, event.date),
                kind=kind,
                grant=number,
                recipient=award.recipient if award else None,
                purpose=award.purpose if award else None,
                amount_ore=getattr(event, field).ore if field else None,
                decided_by=event.decided_by,
                decision_ref=event.decision_ref,
                reason=event.reason,
                funding_ore=pool.funding_ore,
                awarded_ore=pool.awarded_ore,
                committed_ore=pool.committed_ore,
                disbursed_ore=pool.disbursed_ore,
                returned_ore=pool.returned_ore,
                withdrawn_ore=pool.withdrawn_ore,
                available_ore=pool.available_ore,
                reversal=kind == "entry_reversed" or getattr(event, "reverses", None) is not None,
            )
        )
    return steps
