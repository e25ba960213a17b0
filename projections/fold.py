"""The fold: how each event changes the read models.

`fold(state, cls, event, sequence, hash)` is the only code that turns events
into rows, whether the rows live in memory (a full replay, an as-of view) or
in the ledger's stored views. It reads an event in its plain form: the
event's JSON as stored (money as integer øre, dates as ISO text) with its
ids. A catch-up takes that form straight from the stored JSON; `apply` takes
a domain event and gives `fold` its JSON form, so `verify` folds events it
validated one by one and compares the result with the stored views. The
fold does no I/O of its own: it reads and writes rows through the
`ViewState` it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, get_args

from domain.ids import event_id_text
from domain.plan import budgeted_ore
from projections.model import AuditRow, GrantRow, LineRow, LineYearRow, PlanRow, PoolRow, ViewState

#: The audit trail's name for each event class (qualified name in the code).
KINDS = {
    "Plan.Adopted": "plan_adopted",
    "Plan.LineBudgeted": "line_budgeted",
    "Plan.Reallocated": "reallocated",
    "Plan.ReallocationReversed": "reallocation_reversed",
    "Plan.LineDiscontinued": "line_discontinued",
    "Pool.Opened": "pool_opened",
    "Pool.FundingChanged": "funding_changed",
    "Pool.GrantAwarded": "grant_awarded",
    "Pool.GrantDisbursed": "grant_disbursed",
    "Pool.GrantReturned": "grant_returned",
    "Pool.GrantWithdrawn": "grant_withdrawn",
    "Pool.Closed": "pool_closed",
    "Pool.EntryReversed": "entry_reversed",
    "CommandKey.Recorded": "key_recorded",
}

#: Fields every event has; the rest are "the kind's own fields".
_COMMON = {
    "originator_id", "originator_version", "originator_topic", "timestamp", "actor", "date", "decided_by",
    "decision_ref", "reason",
}


def kind_of(event: Any) -> str:
    """The audit trail's name for an event (or an event class)."""
    cls = event if isinstance(event, type) else type(event)
    return KINDS.get(cls.__qualname__, cls.__qualname__)


def plain(event: Any) -> dict[str, Any]:
    """An event as the fold reads it: its JSON form, as stored (money in øre, dates as ISO text), with its ids."""
    return event.model_dump(mode="json")


def apply(state: ViewState, event: Any, sequence: int, chain_hash: str) -> None:
    """Apply one domain event to the read models and add its line to the audit trail."""
    fold(state, type(event), plain(event), sequence, chain_hash)


def fold(state: ViewState, cls: type, e: dict[str, Any], sequence: int, chain_hash: str) -> None:
    """Apply one event of class `cls`, in its plain form `e`, to the read models, and add its audit line.

    `e` is what `plain` gives, or the stored JSON of the event with its ids
    added (`PydanticMapper.to_plain`, which reads the log without validating
    each event again): a catch-up spends its time here, not on models.
    """
    shape = _SHAPES.get(cls) or _shape(cls)
    shape.handler(state, e)
    state.add_audit(audit_row(state, e, shape, sequence, chain_hash))


def fold_balances(state: ViewState, cls: type, e: dict[str, Any]) -> None:
    """`fold` without the audit line: a bulk catch-up has its audit lines made beside it, by an `AuditFold`."""
    (_SHAPES.get(cls) or _shape(cls)).handler(state, e)


class AuditFold:
    """The audit trail alone: the lines `fold` adds, made without the other read models.

    A line reads one thing of them: the key and year of the pool its event
    belongs to, which the pool's opening sets and no later event changes. So
    this keeps the pools as they were opened and nothing else, and `line`
    gives for each event, taken in order, the very row `fold` adds.
    """

    def __init__(self) -> None:
        self.pools: dict[str, PoolRow] = {}

    def pool(self, pool_id: str) -> PoolRow | None:
        return self.pools.get(pool_id)

    def put_pool(self, row: PoolRow) -> None:
        self.pools[row.pool_id] = row

    def line(self, cls: type, e: dict[str, Any], sequence: int, chain_hash: str) -> AuditRow:
        shape = _SHAPES.get(cls) or _shape(cls)
        if shape.handler is _pool_opened:
            _pool_opened(self, e)  # writes the pool, reads nothing
        return audit_row(self, e, shape, sequence, chain_hash)


# ---------------------------------------------------------------------- plan


def _plan_adopted(state: ViewState, e: dict[str, Any]) -> None:
    state.put_plan(
        PlanRow(
            plan_id=e["originator_id"], partnership=e["partnership"], title=e["title"], year=e["year"],
            source_file=e["source_file"], source_sha256=e["source_sha256"], reallocation_body=e["reallocation_body"],
            adopted_on=e["date"], decided_by=e["decided_by"], decision_ref=e["decision_ref"],
            areas=list(e["areas"]), pools=list(e["pools"]),
        )
    )


def _line_budgeted(state: ViewState, e: dict[str, Any]) -> None:
    plan_id, terms = e["originator_id"], e["terms"]
    state.put_line(
        LineRow(
            plan_id=plan_id, line=terms["line"], ord=e["originator_version"], name=terms["name"], new=terms["new"],
            areas=list(terms["areas"]), responsible=terms["responsible"], notes=list(terms["notes"]),
        )
    )
    for budget in terms["budgets"]:
        amount = budgeted_ore(budget["total"], budget["posts"].values(), budget["discontinued"])
        state.put_line_year(
            LineYearRow(
                plan_id=plan_id, line=terms["line"], year=budget["year"], adopted_ore=amount, budget_ore=amount,
                total_ore=budget["total"], posts=dict(budget["posts"]), preliminary=budget["preliminary"],
                discontinued=budget["discontinued"], note=budget["note"],
            )
        )


def _move(state: ViewState, plan_id: str, year: int, source: str, target: str, ore: int) -> None:
    for line, change in ((source, -ore), (target, ore)):
        row = state.line_year(plan_id, line, year) or LineYearRow(plan_id=plan_id, line=line, year=year)
        row.budget_ore += change
        state.put_line_year(row)


def _reallocated(state: ViewState, e: dict[str, Any]) -> None:
    _move(state, e["originator_id"], e["year"], e["from_line"], e["to_line"], e["amount"])


def _reallocation_reversed(state: ViewState, e: dict[str, Any]) -> None:
    _move(state, e["originator_id"], e["year"], e["to_line"], e["from_line"], e["amount"])


def _line_discontinued(state: ViewState, e: dict[str, Any]) -> None:
    plan_id, line, year = e["originator_id"], e["line"], e["year"]
    row = state.line_year(plan_id, line, year) or LineYearRow(plan_id=plan_id, line=line, year=year)
    row.discontinued = True
    state.put_line_year(row)


# ---------------------------------------------------------------------- pool


def _pool_opened(state: ViewState, e: dict[str, Any]) -> None:
    state.put_pool(
        PoolRow(
            pool_id=e["originator_id"], key=e["key"], code=e["code"], name=e["name"], year=e["year"],
            plan_id=e["plan_id"], partnership=e["partnership"], line=e["line"], decided_by=e["decided_by"] or "",
            opened_on=e["date"], initial_ore=e["funding"], funding_ore=e["funding"],
        )
    )


def _pool(state: ViewState, e: dict[str, Any]) -> PoolRow:
    row = state.pool(e["originator_id"])
    if row is None:
        raise ValueError(f"event for unknown pool {e['originator_id']}")
    return row


def _grant(state: ViewState, e: dict[str, Any]) -> GrantRow:
    row = state.grant(e["originator_id"], e["number"])
    if row is None:
        raise ValueError(f"event for unknown grant {e['number']}")
    return row


def _funding_changed(state: ViewState, e: dict[str, Any]) -> None:
    pool = _pool(state, e)
    pool.funding_ore += e["change"]
    state.put_pool(pool)


def _grant_awarded(state: ViewState, e: dict[str, Any]) -> None:
    pool = _pool(state, e)
    amount = e["amount"]
    pool.awarded_ore += amount
    pool.grants += 1
    state.put_pool(pool)
    state.put_grant(
        GrantRow(
            number=e["number"], pool_id=pool.pool_id, year=pool.year, recipient=e["recipient"], purpose=e["purpose"],
            area=e["area"], date=e["date"], decided_by=e["decided_by"], decision_ref=e["decision_ref"],
            requested_ore=e["requested"], awarded_ore=amount, version=e["originator_version"],
        )
    )


def _change_grant(field: str, sign: int) -> Callable[[ViewState, Any], None]:
    amount_field = "released" if field == "withdrawn_ore" else "amount"

    def handler(state: ViewState, e: dict[str, Any]) -> None:
        pool, grant = _pool(state, e), _grant(state, e)
        ore = e[amount_field] * sign
        setattr(pool, field, getattr(pool, field) + ore)
        setattr(grant, field, getattr(grant, field) + ore)
        state.put_pool(pool)
        state.put_grant(grant)

    return handler


def _pool_closed(state: ViewState, e: dict[str, Any]) -> None:
    pool = _pool(state, e)
    pool.closed = True
    pool.closed_on = e["date"]
    pool.unspent_ore = e["unspent"]
    pool.outstanding_ore = e["outstanding"]
    state.put_pool(pool)


_REVERSED_FIELD = {
    "GrantAwarded": "awarded_ore",
    "GrantDisbursed": "disbursed_ore",
    "GrantReturned": "returned_ore",
    "GrantWithdrawn": "withdrawn_ore",
}


def _entry_reversed(state: ViewState, e: dict[str, Any]) -> None:
    pool, grant = _pool(state, e), _grant(state, e)
    field = _REVERSED_FIELD[e["reversed_kind"]]
    setattr(pool, field, getattr(pool, field) - e["amount"])
    setattr(grant, field, getattr(grant, field) - e["amount"])
    if e["reversed_kind"] == "GrantAwarded":
        grant.reversed = True
    state.put_pool(pool)
    state.put_grant(grant)


def _nothing(state: ViewState, e: dict[str, Any]) -> None:
    """Command keys change no balance; the audit trail still lists them."""


_HANDLERS: dict[str, Callable[[ViewState, Any], None]] = {
    "plan_adopted": _plan_adopted,
    "line_budgeted": _line_budgeted,
    "reallocated": _reallocated,
    "reallocation_reversed": _reallocation_reversed,
    "line_discontinued": _line_discontinued,
    "pool_opened": _pool_opened,
    "funding_changed": _funding_changed,
    "grant_awarded": _grant_awarded,
    "grant_disbursed": _change_grant("disbursed_ore", 1),
    "grant_returned": _change_grant("returned_ore", 1),
    "grant_withdrawn": _change_grant("withdrawn_ore", 1),
    "pool_closed": _pool_closed,
    "entry_reversed": _entry_reversed,
    "key_recorded": _nothing,
}


# ---------------------------------------------------------------------- audit

AMOUNT_FIELD = {
    "reallocated": "amount",
    "reallocation_reversed": "amount",
    "pool_opened": "funding",
    "funding_changed": "change",
    "grant_awarded": "amount",
    "grant_disbursed": "amount",
    "grant_returned": "amount",
    "grant_withdrawn": "released",
    "pool_closed": "unspent",
    "entry_reversed": "amount",
}


class _Shape(NamedTuple):
    """What the fold reads of an event class, worked out once per class (not per event)."""

    kind: str
    handler: Callable[[ViewState, Any], None]
    amount_field: str | None
    has_year: bool
    has_number: bool
    of_pool: bool
    own: tuple[tuple[str, str], ...] | None  # (own field, its name in the audit details); None: nested models
    nested: dict[str, tuple[str, Any]]


_SHAPES: dict[type, _Shape] = {}


def _shape(cls: Any) -> _Shape:
    """Work out and keep the shape of an event class."""
    kind = kind_of(cls)
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise ValueError(f"the read models do not know events of kind {kind}")
    fields = getattr(cls, "model_fields", {})
    nested = _detail_plan(cls)
    flat = all(sub is None for _, sub in nested.values())
    shape = _SHAPES[cls] = _Shape(
        kind=kind, handler=handler, amount_field=AMOUNT_FIELD.get(kind), has_year="year" in fields,
        has_number="number" in fields, of_pool=cls.__qualname__.startswith("Pool."),
        own=tuple((name, new) for name, (new, _) in nested.items() if name not in _SKIP) if flat else None,
        nested=nested,
    )
    return shape


def audit_row(state: ViewState, e: dict[str, Any], shape: _Shape, sequence: int, chain_hash: str) -> AuditRow:
    kind, oid = shape.kind, e["originator_id"]
    year = e["year"] if shape.has_year else None
    pool_key = None
    if shape.of_pool:
        pool = state.pool(oid)
        if pool is not None:
            pool_key, year = pool.key, pool.year
    reverses = None
    if kind in ("entry_reversed", "reallocation_reversed"):
        reverses = event_id_text(oid, e["reversed_version"])
    elif kind == "funding_changed" and e["reverses"] is not None:
        reverses = event_id_text(oid, e["reverses"])
    # Positional, in AuditRow's field order (sequence, event_id, hash, recorded_at, date, kind, actor, decided_by,
    # decision_ref, reason, amount_ore, aggregate_id, version, year, pool, grant, details, reverses): once per event,
    # keywords took five times as long.
    return AuditRow(
        sequence, event_id_text(oid, e["originator_version"]), chain_hash, e["timestamp"], e["date"], kind,
        e["actor"], e["decided_by"], e["decision_ref"], e["reason"],
        e[shape.amount_field] if shape.amount_field else None, oid, e["originator_version"], year, pool_key,
        e["number"] if shape.has_number else None, _details(e, shape), reverses,
    )


def _details(e: dict[str, Any], shape: _Shape) -> dict[str, Any]:
    own = shape.own
    if own is not None:
        return {new: e[name] for name, new in own}
    return _renamed(e, shape.nested, _SKIP)


#: Not the kind's own: the common fields, the ids, and an old shape's version.
_SKIP = frozenset(_COMMON | {"class_version"})


def _renamed(data: dict[str, Any], plan: dict[str, tuple[str, Any]], skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name in skip:
            continue
        new, sub = plan.get(name, (name, None))
        out[new] = value if sub is None or value is None else _nested(value, sub)
    return out


def _nested(value: Any, plan: dict[str, tuple[str, Any]]) -> Any:
    if isinstance(value, dict):
        return _renamed(value, plan)
    if isinstance(value, list):
        return [_nested(item, plan) for item in value]
    return value


def _detail_plan(cls: Any) -> dict[str, tuple[str, Any]]:
    """Field -> (its name in the audit details, the plan of a nested model or None).

    Money is stored as integer øre and named `<field>_ore` in the details,
    at every depth (a plan line's budgets, their posts).
    """
    plan: dict[str, tuple[str, Any]] = {}
    for name, info in getattr(cls, "model_fields", {}).items():
        model = _model_in(info.annotation)
        new = f"{name}_ore" if "Money" in str(info.annotation) else name
        sub = _detail_plan(model) if model is not None else None
        plan[name] = (new, sub if sub and _renames(sub) else None)
    return plan


def _renames(plan: dict[str, tuple[str, Any]]) -> bool:
    """Whether a plan renames anything, at any depth (a nested model without money is copied as it is)."""
    return any(new != name or sub is not None for name, (new, sub) in plan.items())


def _model_in(annotation: Any) -> Any:
    """The pydantic model an annotation holds (itself, or inside a list, tuple or optional), if any."""
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None

