"""As-of views: the read models from the events effective on or before a date.

Events are filtered on their effective date (the decision or payment date),
not on when they were recorded, and folded in recorded order per aggregate.
Because the domain keeps its rules on every effective date, an as-of view is
never overspent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from projections.fold import apply
from projections.memory import MemoryState


def fold_as_of(histories: Iterable[Iterable[Any]], as_of: dt.date) -> MemoryState:
    """Fold each aggregate's history, keeping events dated on or before `as_of`."""
    state = MemoryState()
    for history in histories:
        for event in history:
            if event.date <= as_of:
                apply(state, event, 0, "")
    state.audit.clear()
    return state
