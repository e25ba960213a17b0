"""As-of views: what the ledger said for a date, or at a moment of recording.

`as_of` keeps the events effective on or before a date (the decision or
payment date); `recorded_before` keeps the events recorded before a moment,
so a decision typed in January about December shows as unknown in the view
"as known at" New Year. Events are folded in recorded order per aggregate.
Because the domain keeps its rules on every effective date, an as-of view is
never overspent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from projections.fold import apply
from projections.memory import MemoryState


def visible(event: Any, as_of: dt.date | None, recorded_before: dt.datetime | None) -> bool:
    if as_of is not None and event.date > as_of:
        return False
    return recorded_before is None or event.timestamp < recorded_before


def fold_as_of(
    histories: Iterable[Iterable[Any]], as_of: dt.date | None = None, recorded_before: dt.datetime | None = None
) -> MemoryState:
    """Fold each aggregate's history, keeping only the visible events."""
    state = MemoryState()
    for history in histories:
        for event in history:
            if visible(event, as_of, recorded_before):
                apply(state, event, 0, "")
    state.audit.clear()
    return state
