"""Read models in memory: the result of a full replay, or of an as-of view.

A stored view is a cache of exactly this; `verify` and the tests compare the
two row by row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from projections.fold import apply
from projections.model import AuditRow, GrantRow, LineRow, LineYearRow, PlanRow, PoolRow


@dataclass
class MemoryState:
    plans: dict[str, PlanRow] = field(default_factory=dict)
    lines: dict[tuple[str, str], LineRow] = field(default_factory=dict)
    line_years: dict[tuple[str, str, int], LineYearRow] = field(default_factory=dict)
    pools: dict[str, PoolRow] = field(default_factory=dict)
    grants: dict[tuple[str, str], GrantRow] = field(default_factory=dict)
    audit: list[AuditRow] = field(default_factory=list)
    #: One copy of each text the grants repeat (recipients, areas, dates, ...): a replay of a million events
    #: holds every grant, and its texts, read from JSON one event at a time, are otherwise each a string of its own.
    texts: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def put_plan(self, row: PlanRow) -> None:
        self.plans[row.plan_id] = row

    def put_line(self, row: LineRow) -> None:
        self.lines[(row.plan_id, row.line)] = row

    def line_year(self, plan_id: str, line: str, year: int) -> LineYearRow | None:
        return self.line_years.get((plan_id, line, year))

    def put_line_year(self, row: LineYearRow) -> None:
        self.line_years[(row.plan_id, row.line, row.year)] = row

    def pool(self, pool_id: str) -> PoolRow | None:
        return self.pools.get(pool_id)

    def put_pool(self, row: PoolRow) -> None:
        self.pools[row.pool_id] = row

    def grant(self, pool_id: str, number: str) -> GrantRow | None:
        return self.grants.get((pool_id, number))

    def put_grant(self, row: GrantRow) -> None:
        key = (row.pool_id, row.number)
        if key not in self.grants:
            share = self.texts.setdefault
            row.recipient = share(row.recipient, row.recipient)
            row.purpose = share(row.purpose, row.purpose)
            row.date = share(row.date, row.date)
            for name in ("area", "decided_by", "decision_ref"):
                text = getattr(row, name)
                if text is not None:
                    setattr(row, name, share(text, text))
        self.grants[key] = row

    def add_audit(self, row: AuditRow) -> None:
        self.audit.append(row)


def replay(events: Iterable[tuple[int, str, Any]]) -> MemoryState:
    """Fold (sequence, hash, event) triples, in order, into fresh read models."""
    state = MemoryState()
    for sequence, chain_hash, event in events:
        apply(state, event, sequence, chain_hash)
    return state
