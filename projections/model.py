"""The rows of the read models: plain data, no I/O, no pydantic.

These are what `status`, `pool show`, `plan show` and `audit` read. The same
rows come out of a full replay (`MemoryState`) and out of the stored views
the ledger keeps current, and the two must be equal.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, Protocol

from domain.status import grant_status


@dataclass(slots=True)
class PlanRow:
    plan_id: str
    partnership: str
    title: str
    year: int
    source_file: str
    source_sha256: str
    reallocation_body: str
    adopted_on: str
    decided_by: str | None
    decision_ref: str | None
    areas: list[str] = field(default_factory=list)
    pools: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class LineRow:
    plan_id: str
    line: str
    ord: int
    name: str
    new: bool = False
    areas: list[str] = field(default_factory=list)
    responsible: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class LineYearRow:
    """A line's budget in one year: as adopted, and now after reallocations.

    Attributes:
        total_ore: the overview's figure, if the document has one.
        posts: post name -> øre, from the activity's own table.
    """

    plan_id: str
    line: str
    year: int
    adopted_ore: int = 0
    budget_ore: int = 0
    total_ore: int | None = None
    posts: dict[str, int] = field(default_factory=dict)
    preliminary: bool = False
    discontinued: bool = False
    note: str | None = None


@dataclass(slots=True)
class PoolRow:
    pool_id: str
    key: str
    code: str
    name: str
    year: int
    plan_id: str
    partnership: str
    line: str
    decided_by: str
    opened_on: str
    initial_ore: int
    funding_ore: int
    awarded_ore: int = 0
    disbursed_ore: int = 0
    returned_ore: int = 0
    withdrawn_ore: int = 0
    grants: int = 0
    closed: bool = False
    closed_on: str | None = None
    unspent_ore: int | None = None
    outstanding_ore: int | None = None

    @property
    def committed_ore(self) -> int:
        return self.awarded_ore - self.withdrawn_ore - self.returned_ore

    @property
    def available_ore(self) -> int:
        return self.funding_ore - self.committed_ore


@dataclass(slots=True)
class GrantRow:
    number: str
    pool_id: str
    year: int
    recipient: str
    purpose: str
    area: str | None
    date: str
    decided_by: str | None
    decision_ref: str | None
    requested_ore: int | None
    awarded_ore: int
    version: int
    disbursed_ore: int = 0
    returned_ore: int = 0
    withdrawn_ore: int = 0
    reversed: bool = False

    def status(self, pool_closed: bool) -> str:
        return grant_status(self.awarded_ore, self.disbursed_ore, self.withdrawn_ore, self.reversed, pool_closed)


@dataclass(slots=True)
class AuditRow:
    """One recorded event as the audit trail shows it.

    Attributes:
        sequence: position in the ledger's global order (the chain).
        hash: the chain hash after this event.
        kind: e.g. `grant_awarded`.
        amount_ore: the amount the event moves (signed for funding changes).
        subject: pool key or plan partnership, for filtering and display.
        details: the kind's own fields (amounts as `*_ore`).
        reverses: the event id this one reverses, if it is a reversal.
    """

    sequence: int
    event_id: str
    hash: str
    recorded_at: str
    date: str
    kind: str
    actor: str
    decided_by: str | None
    decision_ref: str | None
    reason: str | None
    amount_ore: int | None
    aggregate_id: str
    version: int
    year: int | None
    pool: str | None
    grant: str | None
    details: dict[str, Any] = field(default_factory=dict)
    reverses: str | None = None


class ViewState(Protocol):
    """Where a fold reads and writes rows: memory for a replay, SQL for the views."""

    def put_plan(self, row: PlanRow) -> None: ...
    def put_line(self, row: LineRow) -> None: ...
    def line_year(self, plan_id: str, line: str, year: int) -> LineYearRow | None: ...
    def put_line_year(self, row: LineYearRow) -> None: ...
    def pool(self, pool_id: str) -> PoolRow | None: ...
    def put_pool(self, row: PoolRow) -> None: ...
    def grant(self, pool_id: str, number: str) -> GrantRow | None: ...
    def put_grant(self, row: GrantRow) -> None: ...
    def add_audit(self, row: AuditRow) -> None: ...


# ---------------------------------------------------------------- stored form

@cache
def _compact_encoder() -> Callable[[Any], str]:
    """Compact JSON of a row's values, keeping non-ASCII text as it is.

    orjson writes it (several times faster than the standard library, whose
    `encode` also builds its C encoder anew on every call); what orjson will
    not write (integers beyond 64 bits, lone surrogates, keys that are not
    text, subclasses of str and int, dates, dataclasses) goes to the
    standard encoder, which writes what JSON can hold and refuses dates and
    dataclasses as before. orjson is imported on the first row written: a
    read of caught-up views writes none.
    """
    import orjson

    dumps = orjson.dumps
    strict = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
    standard = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode

    def encode(values: Any) -> str:
        try:
            return dumps(values, option=strict).decode()
        except TypeError:
            return standard(values)

    return encode


def encode_values(values: Any) -> str:
    """The compact JSON the stored views keep (see `_compact_encoder`)."""
    return _compact_encoder()(values)


_VALUES: dict[type, Any] = {}


def encode_row(row: Any) -> str:
    """A row as the stored views keep it: a JSON array of its fields' values in declaration order.

    An array, not an object: a catch-up writes a row for nearly every event,
    and encoding the field names each time cost more than the values.
    """
    values = _VALUES.get(type(row))
    if values is None:
        values = _VALUES[type(row)] = operator.attrgetter(*(f.name for f in fields(row)))
    return _compact_encoder()(values(row))


def decode_row(cls: type, data: str | bytes) -> Any:
    """The row `encode_row` stored; raises TypeError or ValueError when `data` is not one."""
    values = json.loads(data)
    if not isinstance(values, list):
        raise TypeError(f"a stored {cls.__name__} is a JSON array, not {type(values).__name__}")
    return cls(*values)
