"""A pool for one year: funding, grants, payments, returns, and the year's close.

A `Pool` is opened when a plan that funds it is adopted; its funding is the
funding line's budget in the plan year and changes only with a reallocation
to or from that line. The deciding body the plan names (for the 2022 plan:
arbejdsgruppen) awards grants from it; the secretariat records payments
(udbetalinger), money returned (tilbagebetalinger) and withdrawn grants; at
year end the body closes the pool and the unspent amount is recorded.

The rules hold on every effective date, not only at the end: at no date does
the pool commit more than it has, and at no date does a grant pay out more
than it was awarded or take back more than it paid out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain.base import Aggregate
from domain.errors import (
    DomainError,
    GrantLimitError,
    InsufficientFundsError,
    NotFoundError,
    PoolClosedError,
    ReversalError,
)
from domain.fields import fields_of
from domain.money import Money
from domain.status import GRANT_STATUSES, grant_status  # noqa: F401  (re-exported)
from domain.rules import body_key, check_body, check_not_before, check_year, required_text
from domain.timeline import Timeline

REVERSIBLE = ("GrantAwarded", "GrantDisbursed", "GrantReturned", "GrantWithdrawn")


@dataclass(slots=True)
class Grant:
    """A grant (bevilling) and what has happened to it.

    Attributes:
        number: e.g. BTP-2022-007.
        awarded, disbursed, returned, withdrawn: øre; `withdrawn` is the
            undisbursed remainder released when the grant was withdrawn.
        payable: awarded - withdrawn - disbursed, by effective date.
        returnable: disbursed - returned, by effective date.
    """

    number: str
    recipient: str
    purpose: str
    area: str | None
    date: dt.date
    awarded: int
    requested: int | None = None
    disbursed: int = 0
    returned: int = 0
    withdrawn: int = 0
    reversed: bool = False
    award_version: int = 0
    payable: Timeline = field(default_factory=Timeline)
    returnable: Timeline = field(default_factory=Timeline)

    @property
    def committed(self) -> int:
        return self.awarded - self.withdrawn - self.returned


@dataclass(slots=True)
class Entry:
    """A recorded change to the pool that a reversal may undo."""

    kind: str
    number: str | None
    amount: int
    date: dt.date
    reversed_by: int | None = None
    cause_id: str | None = None
    cause_version: int | None = None


class Pool(Aggregate):
    """A pool of one plan in one year.

    Attributes:
        key, code, name, year, line, decided_by, areas: the pool's terms.
        plan_id, partnership: the plan that funds it.
        opened_on: the date it opened (the plan's adoption date).
        available: funding - committed by effective date; `.total` is now.
        funding: current funding, in øre.
        grants: grant number -> Grant.
        entries: pool version -> Entry, for reversals.
        closed_on, unspent: set when the pool is closed.
    """

    class Event(Aggregate.Event):
        pass

    class Opened(Event, Aggregate.Created):
        key: str
        code: str
        name: str
        year: int
        plan_id: UUID
        partnership: str
        line: str
        areas: tuple[str, ...] = ()
        funding: Money

    class FundingChanged(Event):
        change: Money
        cause_id: UUID
        cause_version: int
        reverses: int | None = None

    class GrantAwarded(Event):
        number: str
        recipient: str
        purpose: str
        area: str | None = None
        requested: Money | None = None
        amount: Money

    class GrantDisbursed(Event):
        number: str
        amount: Money
        payment_ref: str | None = None

    class GrantReturned(Event):
        number: str
        amount: Money

    class GrantWithdrawn(Event):
        number: str
        released: Money

    class Closed(Event):
        unspent: Money
        outstanding: Money

    class EntryReversed(Event):
        reversed_version: int
        reversed_kind: str
        number: str
        amount: Money

    # ------------------------------------------------------------------ commands

    @classmethod
    def open_for_year(
        cls, *, id: UUID, plan_id: UUID, partnership: str, key: str, code: str, name: str, year: int,
        line: str, areas: tuple[str, ...], decided_by: str, funding: Money, timestamp: dt.datetime,
        actor: str, date: dt.date, decision_ref: str | None,
    ) -> Pool:
        return cls._create(
            cls.Opened, id=id, timestamp=timestamp, actor=actor, date=date, decided_by=decided_by,
            decision_ref=decision_ref, key=key, code=code, name=name, year=year, plan_id=plan_id,
            partnership=partnership, line=line, areas=tuple(areas), funding=funding,
        )

    def change_funding(
        self, *, change: Money, cause_id: UUID, cause_version: int, date: dt.date, decided_by: str | None,
        decision_ref: str | None, reason: str | None, actor: str, timestamp: dt.datetime,
        reverses: int | None = None,
    ) -> None:
        """Follow a reallocation to or from the pool's line."""
        self.check_open()
        if change.ore == 0:
            raise DomainError("a change to a pool's funding must move more than 0 kr.")
        check_not_before(date, self.opened_on, "the change to the pool's funding", "the pool opened")
        if change.ore < 0:
            self.check_available(-change.ore, date, "give up")
        self.trigger_event(
            self.FundingChanged, timestamp=timestamp, actor=actor, date=date, decided_by=decided_by,
            decision_ref=decision_ref, reason=reason, change=change, cause_id=cause_id,
            cause_version=cause_version, reverses=reverses,
        )

    def award(
        self, *, recipient: str | None, purpose: str | None, area: str | None, amount: Money,
        requested: Money | None, date: dt.date, decided_by: str | None, decision_ref: str | None,
        actor: str, timestamp: dt.datetime,
    ) -> str:
        """Award a grant; returns its number."""
        self.check_open()
        body = check_body(decided_by, self.decided_by, f"A grant from {self.name}")
        who = required_text(recipient, "The recipient")
        what = required_text(purpose, "The purpose")
        ref = required_text(decision_ref, "The decision reference")
        self.check_positive(amount, "A grant")
        if requested is not None and requested.ore <= 0:
            raise DomainError("the amount applied for must be more than 0 kr.")
        check_year(date, self.year, f"a grant from {self.name} {self.year}")
        check_not_before(date, self.opened_on, "the grant", "the pool opened")
        self.check_available(amount.ore, date, "grant")
        number = f"{self.code}-{self.year}-{self.next_number:03d}"
        self.trigger_event(
            self.GrantAwarded, timestamp=timestamp, actor=actor, date=date, decided_by=body,
            decision_ref=ref, number=number, recipient=who, purpose=what, area=self.check_area(area),
            requested=requested, amount=amount,
        )
        return number

    def disburse(
        self, *, number: str, amount: Money, date: dt.date, payment_ref: str | None, actor: str,
        timestamp: dt.datetime,
    ) -> None:
        """Record a payment (udbetaling) of part or all of a grant."""
        self.check_open()
        grant = self.live_grant(number)
        self.check_positive(amount, "A payment")
        check_not_before(date, grant.date, "the payment", f"the award of {grant.number}")
        lowest, at = grant.payable.lowest_from(date)
        if lowest < amount.ore:
            raise GrantLimitError(
                f"{grant.number} has {Money(max(lowest, 0)).format()} left to pay out"
                f"{_on(at)}; cannot pay {amount.format()}"
            )
        self.trigger_event(
            self.GrantDisbursed, timestamp=timestamp, actor=actor, date=date,
            number=grant.number, amount=amount, payment_ref=(payment_ref or "").strip() or None,
        )

    def take_back(
        self, *, number: str, amount: Money, date: dt.date, reason: str | None, actor: str,
        timestamp: dt.datetime,
    ) -> None:
        """Record money a recipient paid back (tilbagebetaling)."""
        self.check_open()
        grant = self.grant(number)
        if grant.reversed:
            raise GrantLimitError(f"{grant.number} was reversed; nothing can be returned on it")
        why = required_text(reason, "The reason for a return")
        self.check_positive(amount, "A return")
        check_not_before(date, grant.date, "the return", f"the award of {grant.number}")
        lowest, at = grant.returnable.lowest_from(date)
        if lowest < amount.ore:
            raise GrantLimitError(
                f"{grant.number} has {Money(max(lowest, 0)).format()} paid out and not returned"
                f"{_on(at)}; cannot take back {amount.format()}"
            )
        self.trigger_event(
            self.GrantReturned, timestamp=timestamp, actor=actor, date=date, reason=why,
            number=grant.number, amount=amount,
        )

    def withdraw(self, *, number: str, date: dt.date, reason: str | None, actor: str, timestamp: dt.datetime) -> Money:
        """Withdraw a grant (annullere): release what is not paid out."""
        self.check_open()
        grant = self.live_grant(number)
        why = required_text(reason, "The reason for withdrawing a grant")
        check_not_before(date, grant.date, "the withdrawal", f"the award of {grant.number}")
        released = grant.payable.total
        if released <= 0:
            raise GrantLimitError(
                f"{grant.number} is paid out in full; nothing is left to withdraw (record money coming back as a return)"
            )
        lowest, at = grant.payable.lowest_from(date)
        if lowest < released:
            raise GrantLimitError(
                f"{grant.number} had only {Money(max(lowest, 0)).format()} unpaid{_on(at)}; "
                "date the withdrawal after its last payment"
            )
        self.trigger_event(
            self.GrantWithdrawn, timestamp=timestamp, actor=actor, date=date, reason=why,
            number=grant.number, released=Money(released),
        )
        return Money(released)

    def close(
        self, *, date: dt.date, decided_by: str | None, decision_ref: str | None, actor: str,
        timestamp: dt.datetime,
    ) -> None:
        """Close the pool for the year and record what is unspent."""
        self.check_open()
        body = check_body(decided_by, self.decided_by, f"Closing {self.name}")
        ref = required_text(decision_ref, "The decision reference")
        last = self.last_date
        check_not_before(date, last, "closing the pool", "its last entry")
        outstanding = sum(max(g.payable.total, 0) for g in self.grants.values() if not g.reversed and not g.withdrawn)
        self.trigger_event(
            self.Closed, timestamp=timestamp, actor=actor, date=date, decided_by=body,
            decision_ref=ref, unspent=Money(self.available.total), outstanding=Money(outstanding),
        )

    def reverse(self, *, version: int, reason: str | None, date: dt.date | None, actor: str, timestamp: dt.datetime) -> None:
        """Undo a grant's award, payment, return or withdrawal with a counter-entry."""
        self.check_open()
        entry = self.entries.get(version)
        if entry is None or entry.kind not in REVERSIBLE:
            raise ReversalError(f"version {version} of {self.name} {self.year} cannot be reversed")
        if entry.reversed_by is not None:
            raise ReversalError(f"that entry was already reversed (pool version {entry.reversed_by})")
        why = required_text(reason, "The reason for a reversal")
        when = date or entry.date
        check_not_before(when, entry.date, "the reversal", "the entry it reverses")
        grant = self.grant(entry.number or "")
        if grant.reversed:
            raise ReversalError(f"{grant.number} was reversed; its entries stay as they are")
        if entry.kind == "GrantAwarded":
            lowest, at = grant.payable.lowest_from(when)
            if grant.disbursed or grant.returned or grant.withdrawn or lowest < entry.amount:
                raise ReversalError(
                    f"{grant.number} has payments, returns or a withdrawal{_on(at)}; reverse those first"
                )
        elif entry.kind == "GrantDisbursed":
            if grant.withdrawn:
                raise ReversalError(f"{grant.number} is withdrawn; reverse the withdrawal first")
            lowest, at = grant.returnable.lowest_from(when)
            if lowest < entry.amount:
                raise ReversalError(
                    f"{grant.number} has returns that depend on this payment{_on(at)}; reverse those first"
                )
        elif entry.kind == "GrantReturned":
            self.check_available(entry.amount, when, "take back again")
        elif entry.kind == "GrantWithdrawn":
            self.check_available(entry.amount, when, "commit again")
        self.trigger_event(
            self.EntryReversed, timestamp=timestamp, actor=actor, date=when, reason=why,
            reversed_version=version, reversed_kind=entry.kind, number=grant.number,
            amount=Money(entry.amount),
        )

    # ------------------------------------------------------------------ checks

    def problems(self) -> list[str]:
        """Every broken rule in the recorded state (empty when all hold): for `verify`."""
        found: list[str] = []
        where = f"{self.name} {self.year}"
        committed = self.committed
        if self.after_close:
            found.append(f"{where} has {self.after_close} entries recorded after it was closed")
        if committed > self.funding:
            found.append(f"{where} has committed {Money(committed).format()} of {Money(self.funding).format()}")
        if self.available.total != self.funding - committed:
            found.append(f"{where}: available does not equal funding minus committed")
        negative = self.available.first_negative()
        if negative:
            found.append(f"{where} was overspent on {negative[1].isoformat()} ({Money(negative[0]).format()})")
        for grant in self.grants.values():
            if not 0 <= grant.disbursed <= grant.awarded - grant.withdrawn:
                found.append(f"{grant.number} paid out {Money(grant.disbursed).format()} of {Money(grant.awarded).format()}")
            if not 0 <= grant.returned <= grant.disbursed:
                found.append(f"{grant.number} took back {Money(grant.returned).format()} of {Money(grant.disbursed).format()} paid")
            for name, timeline in (("paid out more than awarded", grant.payable), ("took back more than paid", grant.returnable)):
                negative = timeline.first_negative()
                if negative:
                    found.append(f"{grant.number} {name} on {negative[1].isoformat()}")
            if grant.date.year != self.year:
                found.append(f"{grant.number} is dated {grant.date.isoformat()}, outside {self.year}")
        return found

    # ------------------------------------------------------------------ queries

    def grant(self, number: str) -> Grant:
        wanted = number.strip()
        grant = self.grants.get(wanted)
        if grant is None:
            grant = next((g for n, g in self.grants.items() if n.casefold() == wanted.casefold()), None)
        if grant is None:
            raise NotFoundError(f"{self.name} {self.year} has no grant {number!r}")
        return grant

    def live_grant(self, number: str) -> Grant:
        grant = self.grant(number)
        if grant.reversed:
            raise GrantLimitError(f"{grant.number} was reversed")
        if grant.withdrawn:
            raise GrantLimitError(f"{grant.number} is withdrawn")
        return grant

    @property
    def committed(self) -> int:
        return sum(g.committed for g in self.grants.values())

    def apply_event(self, event: Any) -> None:
        if getattr(self, "closed_on", None) is not None:
            self.after_close += 1
        super().apply_event(event)
        if event.date > self.last_date:
            self.last_date = event.date

    def check_open(self) -> None:
        if self.closed_on is not None:
            raise PoolClosedError(f"{self.name} {self.year} was closed on {self.closed_on.isoformat()}; nothing more can be recorded on it")

    def check_available(self, ore: int, date: dt.date, verb: str) -> None:
        lowest, at = self.available.lowest_from(date)
        if lowest < ore:
            raise InsufficientFundsError(
                f"{self.name} {self.year} has {Money(max(lowest, 0)).format()} available{_on(at)}; "
                f"cannot {verb} {Money(ore).format()}"
            )

    def check_area(self, area: str | None) -> str | None:
        if area is None or not area.strip():
            return None
        if not self.areas:
            return area.strip()
        for known in self.areas:
            if body_key(known) == body_key(area):
                return known
        raise DomainError(f"{area.strip()!r} is not a focus area of the plan (areas: {', '.join(self.areas)})")

    @staticmethod
    def check_positive(amount: Money, what: str) -> None:
        if amount.ore <= 0:
            raise DomainError(f"{what} must be more than 0 kr.")

    # ------------------------------------------------------------------ events

    def _on_Opened(self, event: Pool.Opened) -> None:
        self.key = event.key
        self.code = event.code
        self.name = event.name
        self.year = event.year
        self.plan_id = event.plan_id
        self.partnership = event.partnership
        self.line = event.line
        self.areas = tuple(event.areas)
        self.decided_by = event.decided_by or ""
        self.opened_on = event.date
        self.last_date = event.date
        self.funding = event.funding.ore
        self.available = Timeline()
        self.available.add(event.date, event.originator_version, event.funding.ore)
        self.grants: dict[str, Grant] = {}
        self.entries: dict[int, Entry] = {}
        self.next_number = 1
        self.closed_on: dt.date | None = None
        self.unspent: int | None = None
        self.after_close = 0

    def _on_FundingChanged(self, event: Pool.FundingChanged) -> None:
        self.funding += event.change.ore
        self.available.add(event.date, event.originator_version, event.change.ore)
        self.entries[event.originator_version] = Entry(
            "FundingChanged", None, event.change.ore, event.date,
            cause_id=str(event.cause_id), cause_version=event.cause_version,
        )
        if event.reverses is not None:
            self.entries[event.reverses].reversed_by = event.originator_version

    def _on_GrantAwarded(self, event: Pool.GrantAwarded) -> None:
        v, d, ore = event.originator_version, event.date, event.amount.ore
        grant = Grant(
            number=event.number, recipient=event.recipient, purpose=event.purpose, area=event.area,
            date=d, awarded=ore, requested=event.requested.ore if event.requested else None, award_version=v,
        )
        grant.payable.add(d, v, ore)
        self.grants[event.number] = grant
        self.next_number += 1
        self.available.add(d, v, -ore)
        self.entries[v] = Entry("GrantAwarded", event.number, ore, d)

    def _on_GrantDisbursed(self, event: Pool.GrantDisbursed) -> None:
        grant, v, d, ore = self.grants[event.number], event.originator_version, event.date, event.amount.ore
        grant.disbursed += ore
        grant.payable.add(d, v, -ore)
        grant.returnable.add(d, v, ore)
        self.entries[v] = Entry("GrantDisbursed", event.number, ore, d)

    def _on_GrantReturned(self, event: Pool.GrantReturned) -> None:
        grant, v, d, ore = self.grants[event.number], event.originator_version, event.date, event.amount.ore
        grant.returned += ore
        grant.returnable.add(d, v, -ore)
        self.available.add(d, v, ore)
        self.entries[v] = Entry("GrantReturned", event.number, ore, d)

    def _on_GrantWithdrawn(self, event: Pool.GrantWithdrawn) -> None:
        grant, v, d, ore = self.grants[event.number], event.originator_version, event.date, event.released.ore
        grant.withdrawn += ore
        grant.payable.add(d, v, -ore)
        self.available.add(d, v, ore)
        self.entries[v] = Entry("GrantWithdrawn", event.number, ore, d)

    def _on_Closed(self, event: Pool.Closed) -> None:
        self.closed_on = event.date
        self.unspent = event.unspent.ore

    def _on_EntryReversed(self, event: Pool.EntryReversed) -> None:
        grant, v, d, ore = self.grants[event.number], event.originator_version, event.date, event.amount.ore
        kind = event.reversed_kind
        if kind == "GrantAwarded":
            grant.reversed = True
            grant.awarded -= ore
            grant.payable.add(d, v, -ore)
            self.available.add(d, v, ore)
        elif kind == "GrantDisbursed":
            grant.disbursed -= ore
            grant.payable.add(d, v, ore)
            grant.returnable.add(d, v, -ore)
        elif kind == "GrantReturned":
            grant.returned -= ore
            grant.returnable.add(d, v, ore)
            self.available.add(d, v, -ore)
        elif kind == "GrantWithdrawn":
            grant.withdrawn -= ore
            grant.payable.add(d, v, ore)
            self.available.add(d, v, -ore)
        self.entries[event.reversed_version].reversed_by = v

    # ------------------------------------------------------------------ snapshots

    def snapshot_state(self) -> dict[str, Any]:
        return {
            "key": self.key, "code": self.code, "name": self.name, "year": self.year,
            "plan_id": str(self.plan_id), "partnership": self.partnership, "line": self.line,
            "areas": list(self.areas), "decided_by": self.decided_by,
            "opened_on": self.opened_on.isoformat(), "last_date": self.last_date.isoformat(),
            "funding": self.funding,
            "available": self.available.to_data(), "next_number": self.next_number,
            "closed_on": self.closed_on.isoformat() if self.closed_on else None, "unspent": self.unspent,
            "after_close": self.after_close,
            "grants": [
                {
                    **{k: v for k, v in fields_of(g).items() if k not in ("payable", "returnable", "date")},
                    "date": g.date.isoformat(),
                    "payable": g.payable.to_data(),
                    "returnable": g.returnable.to_data(),
                }
                for g in self.grants.values()
            ],
            "entries": {str(v): {**fields_of(e), "date": e.date.isoformat()} for v, e in self.entries.items()},
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        self.key, self.code, self.name, self.year = state["key"], state["code"], state["name"], state["year"]
        self.plan_id = UUID(state["plan_id"])
        self.partnership, self.line = state["partnership"], state["line"]
        self.areas = tuple(state["areas"])
        self.decided_by = state["decided_by"]
        self.opened_on = dt.date.fromisoformat(state["opened_on"])
        self.last_date = dt.date.fromisoformat(state["last_date"])
        self.funding = state["funding"]
        self.available = Timeline.from_data(state["available"])
        self.next_number = state["next_number"]
        self.closed_on = dt.date.fromisoformat(state["closed_on"]) if state["closed_on"] else None
        self.unspent = state["unspent"]
        self.after_close = state.get("after_close", 0)
        self.grants = {}
        for data in state["grants"]:
            grant = Grant(
                **{k: v for k, v in data.items() if k not in ("payable", "returnable", "date")},
                date=dt.date.fromisoformat(data["date"]),
                payable=Timeline.from_data(data["payable"]),
                returnable=Timeline.from_data(data["returnable"]),
            )
            self.grants[grant.number] = grant
        self.entries = {
            int(v): Entry(**{**e, "date": dt.date.fromisoformat(e["date"])}) for v, e in state["entries"].items()
        }


def _on(at: dt.date | None) -> str:
    return f" on {at.isoformat()}" if at else ""
