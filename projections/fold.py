"""The fold: how each event changes the read models.

`apply(state, event, sequence, hash)` is the only code that turns events into
rows, whether the rows live in memory (a full replay, an as-of view) or in
the ledger's stored views. It does no I/O of its own: it reads and writes
rows through the `ViewState` it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.ids import event_id_text
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


_IDS: dict[Any, str] = {}


def _id(value: Any) -> str:
    """An aggregate id as text; the few ids a ledger has are turned into text once."""
    text = _IDS.get(value)
    if text is None:
        if len(_IDS) > 100_000:
            _IDS.clear()
        text = _IDS[value] = str(value)
    return text


def kind_of(event: Any) -> str:
    return KINDS.get(type(event).__qualname__, type(event).__qualname__)


def apply(state: ViewState, event: Any, sequence: int, chain_hash: str) -> None:
    """Apply one event to the read models and add its line to the audit trail."""
    kind = kind_of(event)
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise ValueError(f"the read models do not know events of kind {kind}")
    handler(state, event)
    state.add_audit(audit_row(state, event, kind, sequence, chain_hash))


# ---------------------------------------------------------------------- plan


def _plan_adopted(state: ViewState, e: Any) -> None:
    state.put_plan(
        PlanRow(
            plan_id=_id(e.originator_id), partnership=e.partnership, title=e.title, year=e.year,
            source_file=e.source_file, source_sha256=e.source_sha256, reallocation_body=e.reallocation_body,
            adopted_on=e.date.isoformat(), decided_by=e.decided_by, decision_ref=e.decision_ref,
            areas=list(e.areas), pools=[p.model_dump(mode="json") for p in e.pools],
        )
    )


def _line_budgeted(state: ViewState, e: Any) -> None:
    plan_id, terms = _id(e.originator_id), e.terms
    state.put_line(
        LineRow(
            plan_id=plan_id, line=terms.line, ord=e.originator_version, name=terms.name, new=terms.new,
            areas=list(terms.areas), responsible=terms.responsible, notes=list(terms.notes),
        )
    )
    for budget in terms.budgets:
        amount = budget.amount.ore
        state.put_line_year(
            LineYearRow(
                plan_id=plan_id, line=terms.line, year=budget.year, adopted_ore=amount, budget_ore=amount,
                total_ore=budget.total.ore if budget.total is not None else None,
                posts={name: money.ore for name, money in budget.posts.items()},
                preliminary=budget.preliminary, discontinued=budget.discontinued, note=budget.note,
            )
        )


def _move(state: ViewState, plan_id: str, year: int, source: str, target: str, ore: int) -> None:
    for line, change in ((source, -ore), (target, ore)):
        row = state.line_year(plan_id, line, year) or LineYearRow(plan_id=plan_id, line=line, year=year)
        row.budget_ore += change
        state.put_line_year(row)


def _reallocated(state: ViewState, e: Any) -> None:
    _move(state, _id(e.originator_id), e.year, e.from_line, e.to_line, e.amount.ore)


def _reallocation_reversed(state: ViewState, e: Any) -> None:
    _move(state, _id(e.originator_id), e.year, e.to_line, e.from_line, e.amount.ore)


def _line_discontinued(state: ViewState, e: Any) -> None:
    plan_id = _id(e.originator_id)
    row = state.line_year(plan_id, e.line, e.year) or LineYearRow(plan_id=plan_id, line=e.line, year=e.year)
    row.discontinued = True
    state.put_line_year(row)


# ---------------------------------------------------------------------- pool


def _pool_opened(state: ViewState, e: Any) -> None:
    state.put_pool(
        PoolRow(
            pool_id=_id(e.originator_id), key=e.key, code=e.code, name=e.name, year=e.year,
            plan_id=_id(e.plan_id), partnership=e.partnership, line=e.line, decided_by=e.decided_by or "",
            opened_on=e.date.isoformat(), initial_ore=e.funding.ore, funding_ore=e.funding.ore,
        )
    )


def _pool(state: ViewState, e: Any) -> PoolRow:
    row = state.pool(_id(e.originator_id))
    if row is None:
        raise ValueError(f"event for unknown pool {e.originator_id}")
    return row


def _grant(state: ViewState, e: Any) -> GrantRow:
    row = state.grant(_id(e.originator_id), e.number)
    if row is None:
        raise ValueError(f"event for unknown grant {e.number}")
    return row


def _funding_changed(state: ViewState, e: Any) -> None:
    pool = _pool(state, e)
    pool.funding_ore += e.change.ore
    state.put_pool(pool)


def _grant_awarded(state: ViewState, e: Any) -> None:
    pool = _pool(state, e)
    pool.awarded_ore += e.amount.ore
    pool.grants += 1
    state.put_pool(pool)
    state.put_grant(
        GrantRow(
            number=e.number, pool_id=pool.pool_id, year=pool.year, recipient=e.recipient, purpose=e.purpose,
            area=e.area, date=e.date.isoformat(), decided_by=e.decided_by, decision_ref=e.decision_ref,
            requested_ore=e.requested.ore if e.requested is not None else None, awarded_ore=e.amount.ore,
            version=e.originator_version,
        )
    )


def _change_grant(field: str, sign: int) -> Callable[[ViewState, Any], None]:
    def handler(state: ViewState, e: Any) -> None:
        pool, grant = _pool(state, e), _grant(state, e)
        ore = (e.released if field == "withdrawn_ore" else e.amount).ore * sign
        setattr(pool, field, getattr(pool, field) + ore)
        setattr(grant, field, getattr(grant, field) + ore)
        state.put_pool(pool)
        state.put_grant(grant)

    return handler


def _pool_closed(state: ViewState, e: Any) -> None:
    pool = _pool(state, e)
    pool.closed = True
    pool.closed_on = e.date.isoformat()
    pool.unspent_ore = e.unspent.ore
    pool.outstanding_ore = e.outstanding.ore
    state.put_pool(pool)


_REVERSED_FIELD = {
    "GrantAwarded": "awarded_ore",
    "GrantDisbursed": "disbursed_ore",
    "GrantReturned": "returned_ore",
    "GrantWithdrawn": "withdrawn_ore",
}


def _entry_reversed(state: ViewState, e: Any) -> None:
    pool, grant = _pool(state, e), _grant(state, e)
    field = _REVERSED_FIELD[e.reversed_kind]
    setattr(pool, field, getattr(pool, field) - e.amount.ore)
    setattr(grant, field, getattr(grant, field) - e.amount.ore)
    if e.reversed_kind == "GrantAwarded":
        grant.reversed = True
    state.put_pool(pool)
    state.put_grant(grant)


def _nothing(state: ViewState, e: Any) -> None:
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


def audit_row(state: ViewState, e: Any, kind: str, sequence: int, chain_hash: str) -> AuditRow:
    cls = type(e)
    shape = _SHAPES.get(cls)
    if shape is None:
        shape = _SHAPES[cls] = _shape(cls, kind)
    amount_field, has_year, has_number, of_pool = shape
    amount = getattr(e, amount_field).ore if amount_field else None
    year = e.year if has_year else None
    pool_key = None
    if of_pool:
        pool = state.pool(_id(e.originator_id))
        if pool is not None:
            pool_key, year = pool.key, pool.year
    reverses = None
    if kind in ("entry_reversed", "reallocation_reversed"):
        reverses = event_id_text(e.originator_id, e.reversed_version)
    elif kind == "funding_changed" and e.reverses is not None:
        reverses = event_id_text(e.originator_id, e.reverses)
    return AuditRow(
        sequence=sequence,
        event_id=event_id_text(e.originator_id, e.originator_version),
        hash=chain_hash,
        recorded_at=e.timestamp.isoformat().replace("+00:00", "Z"),
        date=e.date.isoformat(),
        kind=kind,
        actor=e.actor,
        decided_by=e.decided_by,
        decision_ref=e.decision_ref,
        reason=e.reason,
        amount_ore=amount,
        aggregate_id=_id(e.originator_id),
        version=e.originator_version,
        year=year,
        pool=pool_key,
        grant=e.number if has_number else None,
        details=own_fields(e),
        reverses=reverses,
    )


_SHAPES: dict[type, tuple[str | None, bool, bool, bool]] = {}


def _shape(cls: Any, kind: str) -> tuple[str | None, bool, bool, bool]:
    """What audit_row reads of an event class: its amount field, whether it has a year and a grant number, and
    whether it is a pool's (asked once per class, not per event: a missing attribute is slow on a pydantic model)."""
    fields = getattr(cls, "model_fields", {})
    return AMOUNT_FIELD.get(kind), "year" in fields, "number" in fields, cls.__qualname__.startswith("Pool.")


def own_fields(event: Any) -> dict[str, Any]:
    """The kind's own fields as JSON-ready data; money as integer øre in `*_ore` keys."""
    cls = type(event)
    plan = _DUMP_PLANS.get(cls)
    if plan is None:
        plan = _DUMP_PLANS[cls] = _dump_plan(cls)
    if plan is _SLOW:
        return _fields(event, skip=_COMMON)
    data = event.model_dump(mode="json", exclude=_COMMON)
    return {plan.get(name, name): value for name, value in data.items()}


_SLOW: dict[str, str] = {}
_DUMP_PLANS: dict[type, dict[str, str]] = {}


def _dump_plan(cls: type) -> dict[str, str]:
    """Field renames (money -> `*_ore`) for a fast pydantic dump, or _SLOW when money sits in nested models."""
    renames: dict[str, str] = {}
    for name, info in cls.model_fields.items():  # type: ignore[attr-defined]
        if name in _COMMON:
            continue
        text = str(info.annotation)
        if "Money" in text:
            renames[name] = f"{name}_ore"
        elif "LineTerms" in text or "YearBudget" in text:
            return _SLOW
    return renames


def _fields(model: Any, skip: set[str] = frozenset()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        if name in skip:
            continue
        value = getattr(model, name)
        key = f"{name}_ore" if "Money" in str(info.annotation) else name
        out[key] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if hasattr(type(value), "model_fields"):
        return _fields(value)
    if hasattr(value, "ore") and type(value).__name__ == "Money":
        return value.ore
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)
