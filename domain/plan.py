"""The plan: a partnership's budget lines for a plan year, and reallocations.

A `Plan` is adopted from a plan file: its lines (aktiviteter) with budget
posts per year, and the pools some lines fund. After adoption the plan's
total never changes; money moves only between two lines of the same year, by
a reallocation (omdisponering) that the plan's reallocation authority
(Økonomiforvaltningen, with the steering group) decides. A mistaken
reallocation is undone by a reversal, never by editing it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain.base import Aggregate, Fact
from domain.errors import (
    DateError,
    DomainError,
    InsufficientFundsError,
    NotFoundError,
    PlanError,
    ReversalError,
)
from domain.fields import fields_of
from domain.money import ZERO, Money
from domain.rules import check_body, check_not_before, required_text
from domain.timeline import Timeline


class YearBudget(Fact):
    """One line's budget for one year, as the plan document gives it.

    Attributes:
        year: the budget year.
        total: the overview table's figure, if it has one.
        posts: the activity's own table, post name -> amount (may be empty).
        preliminary: the figure is not final (2023-2024 in the 2022 plan).
        discontinued: the line "Udgår" this year.
        note: what the document says about this figure.
    """

    year: int
    total: Money | None = None
    posts: dict[str, Money] = {}
    preliminary: bool = False
    discontinued: bool = False
    note: str | None = None

    @property
    def amount(self) -> Money:
        """What the plan budgets: the total, else the posts' sum, else nothing."""
        total = self.total.ore if self.total is not None else None
        return Money(budgeted_ore(total, (post.ore for post in self.posts.values()), self.discontinued))


def budgeted_ore(total: int | None, posts: Iterable[int], discontinued: bool) -> int:
    """What a line budgets for a year, in øre: nothing when discontinued, else the overview's total, else the posts' sum.

    `YearBudget.amount`, and the read models' fold on a stored budget's figures.
    """
    if discontinued:
        return 0
    if total is not None:
        return total
    return sum(posts)


class LineTerms(Fact):
    """A plan line (aktivitet) as adopted.

    Attributes:
        line: its number ("14") or, for unnumbered rows, an id ("juniorbetjent").
        name, new, areas, responsible: as the plan document gives them.
        notes: co-funding outside the budget, discrepancies, remarks.
        budgets: one entry per year with a figure or a status.
    """

    line: str
    name: str
    new: bool = False
    areas: tuple[str, ...] = ()
    responsible: str | None = None
    notes: tuple[str, ...] = ()
    budgets: tuple[YearBudget, ...] = ()

    def budget_for(self, year: int) -> YearBudget | None:
        for budget in self.budgets:
            if budget.year == year:
                return budget
        return None


class PoolTerms(Fact):
    """A pool the plan funds from one of its lines.

    Attributes:
        key: the pool's id ("bylivs-og-tryghedspulje").
        code: prefix of grant numbers ("BTP").
        name: its name.
        line: the funding line.
        decided_by: the body that grants from it.
    """

    key: str
    code: str
    name: str
    line: str
    decided_by: str


@dataclass(slots=True)
class Reallocation:
    """A recorded reallocation, kept so that it can be reversed."""

    year: int
    from_line: str
    to_line: str
    amount: int
    date: dt.date
    reversed_by: int | None = None


@dataclass
class LineState:
    """A line's terms and its current budget per year."""

    terms: LineTerms
    timelines: dict[int, Timeline] = field(default_factory=dict)
    discontinued: set[int] = field(default_factory=set)

    def current(self, year: int) -> Money:
        timeline = self.timelines.get(year)
        return Money(timeline.total) if timeline else ZERO


class Plan(Aggregate):
    """A partnership's safety plan for one plan year.

    Attributes:
        partnership, title, year, source_file, source_sha256, areas: from the plan file.
        reallocation_body: who decides reallocations between lines.
        adopted_on: the plan's effective date.
        lines: line id -> LineState, in the plan's order.
        pools: pool key -> PoolTerms.
        reallocations: plan version -> Reallocation.
    """

    class Event(Aggregate.Event):
        pass

    class Adopted(Event, Aggregate.Created):
        partnership: str
        title: str
        year: int
        source_file: str
        source_sha256: str
        areas: tuple[str, ...] = ()
        reallocation_body: str
        pools: tuple[PoolTerms, ...] = ()

    class LineBudgeted(Event):
        terms: LineTerms

    class Reallocated(Event):
        year: int
        from_line: str
        to_line: str
        amount: Money

    class ReallocationReversed(Event):
        reversed_version: int
        year: int
        from_line: str
        to_line: str
        amount: Money

    class LineDiscontinued(Event):
        line: str
        year: int

    # ------------------------------------------------------------------ commands

    @classmethod
    def adopt(
        cls,
        *,
        id: UUID,
        partnership: str,
        title: str,
        year: int,
        source_file: str,
        source_sha256: str,
        areas: tuple[str, ...],
        reallocation_body: str,
        lines: list[LineTerms],
        pools: list[PoolTerms],
        timestamp: dt.datetime,
        actor: str,
        date: dt.date,
        decided_by: str,
        decision_ref: str | None,
    ) -> Plan:
        """Adopt a plan: one `Adopted` event and one `LineBudgeted` per line."""
        check_plan_terms(lines, pools, year)
        plan = cls._create(
            cls.Adopted,
            id=id,
            timestamp=timestamp,
            actor=actor,
            date=date,
            decided_by=decided_by,
            decision_ref=decision_ref,
            partnership=partnership,
            title=title,
            year=year,
            source_file=source_file,
            source_sha256=source_sha256,
            areas=tuple(areas),
            reallocation_body=reallocation_body,
            pools=tuple(pools),
        )
        for terms in lines:
            plan.trigger_event(
                cls.LineBudgeted, timestamp=timestamp, actor=actor, date=date,
                decided_by=decided_by, decision_ref=decision_ref, terms=terms,
            )
        return plan

    def reallocate(
        self,
        *,
        year: int,
        from_line: str,
        to_line: str,
        amount: Money,
        date: dt.date,
        decided_by: str | None,
        decision_ref: str | None,
        reason: str | None,
        actor: str,
        timestamp: dt.datetime,
    ) -> None:
        """Move `amount` from one line to another in `year`."""
        self.check_positive(amount, "a reallocation")
        source, target = self.line(from_line), self.line(to_line)
        if source.terms.line == target.terms.line:
            raise DomainError(f"a reallocation needs two different lines, not line {from_line} twice")
        body = check_body(decided_by, self.reallocation_body, "A reallocation between plan lines")
        ref = required_text(decision_ref, "The decision reference")
        why = required_text(reason, "The reason for a reallocation")
        check_not_before(date, self.adopted_on, "the reallocation", "the plan's adoption")
        for line in (source, target):
            if year in line.discontinued:
                raise PlanError(f"line {line.terms.line} {line.terms.name} is discontinued (udgår) in {year}")
        self.check_can_take(source, year, amount, date, "move")
        self.trigger_event(
            self.Reallocated, timestamp=timestamp, actor=actor, date=date, decided_by=body,
            decision_ref=ref, reason=why, year=year, from_line=source.terms.line,
            to_line=target.terms.line, amount=amount,
        )

    def reverse_reallocation(
        self, *, version: int, reason: str | None, date: dt.date | None, actor: str, timestamp: dt.datetime
    ) -> None:
        """Undo a reallocation with a counter-entry that moves the money back."""
        record = self.reallocations.get(version)
        if record is None:
            raise ReversalError(f"version {version} of the plan is not a reallocation")
        if record.reversed_by is not None:
            raise ReversalError(f"that reallocation was already reversed (plan version {record.reversed_by})")
        why = required_text(reason, "The reason for a reversal")
        when = date or record.date
        check_not_before(when, record.date, "the reversal", "the reallocation it reverses")
        source = self.line(record.from_line)
        if record.year in source.discontinued:
            raise PlanError(
                f"line {source.terms.line} {source.terms.name} is discontinued (udgår) in {record.year}; "
                "the money cannot move back to it"
            )
        self.check_can_take(self.line(record.to_line), record.year, Money(record.amount), when, "move back")
        self.trigger_event(
            self.ReallocationReversed, timestamp=timestamp, actor=actor, date=when,
            decided_by=None, decision_ref=None, reason=why, reversed_version=version,
            year=record.year, from_line=record.from_line, to_line=record.to_line, amount=Money(record.amount),
        )

    def discontinue(
        self, *, line: str, year: int, date: dt.date, decided_by: str | None, decision_ref: str | None,
        reason: str | None, actor: str, timestamp: dt.datetime,
    ) -> None:
        """Mark a line as discontinued (udgår) in a year; its budget must be zero."""
        state = self.line(line)
        body = check_body(decided_by, self.reallocation_body, "Discontinuing a plan line")
        ref = required_text(decision_ref, "The decision reference")
        why = required_text(reason, "The reason")
        if year in state.discontinued:
            raise PlanError(f"line {state.terms.line} is already discontinued in {year}")
        check_not_before(date, self.adopted_on, "discontinuing the line", "the plan's adoption")
        timeline = state.timelines.get(year)
        if timeline and timeline.entries:
            last = dt.date.fromordinal(timeline.entries[-1][0])
            check_not_before(date, last, "discontinuing the line", f"its last budget change in {year}")
        left = state.current(year)
        if left:
            raise PlanError(
                f"line {state.terms.line} {state.terms.name} still has {left.format()} in {year}; "
                "reallocate it to another line first"
            )
        self.trigger_event(
            self.LineDiscontinued, timestamp=timestamp, actor=actor, date=date, decided_by=body,
            decision_ref=ref, reason=why, line=state.terms.line, year=year,
        )

    # ------------------------------------------------------------------ checks

    def problems(self) -> list[str]:
        """Every broken rule in the recorded state (empty when all hold): for `verify`."""
        found: list[str] = []
        years = {b.year for state in self.lines.values() for b in state.terms.budgets}
        years |= {r.year for r in self.reallocations.values()}
        for year in sorted(years):
            adopted = sum((self.adopted(line, year) for line in self.lines), ZERO)
            if self.total(year) != adopted:
                found.append(
                    f"the {year} budgets of the {self.year} plan sum to {self.total(year).format()}, "
                    f"not the adopted {adopted.format()}"
                )
        for state in self.lines.values():
            for year, timeline in state.timelines.items():
                negative = timeline.first_negative()
                if negative:
                    found.append(
                        f"line {state.terms.line} went below zero in {year} on {negative[1].isoformat()}"
                    )
                if year in state.discontinued and timeline.total:
                    found.append(f"line {state.terms.line} is discontinued in {year} but holds {Money(timeline.total).format()}")
        for terms in self.pools.values():
            if terms.line not in self.lines:
                found.append(f"pool {terms.key} points at line {terms.line}, which the plan does not have")
        return found

    # ------------------------------------------------------------------ queries

    def line(self, line: str) -> LineState:
        state = self.lines.get(line.strip())
        if state is None:
            for candidate in self.lines.values():
                if candidate.terms.line.casefold() == line.strip().casefold():
                    return candidate
            known = ", ".join(self.lines)
            raise NotFoundError(f"the {self.year} plan of {self.partnership} has no line {line!r} (lines: {known})")
        return state

    def budget(self, line: str, year: int) -> Money:
        return self.line(line).current(year)

    def adopted(self, line: str, year: int) -> Money:
        budget = self.line(line).terms.budget_for(year)
        return budget.amount if budget else ZERO

    def total(self, year: int) -> Money:
        return sum((state.current(year) for state in self.lines.values()), ZERO)

    def pool_of_line(self, line: str) -> PoolTerms | None:
        for terms in self.pools.values():
            if terms.line == line:
                return terms
        return None

    @staticmethod
    def check_positive(amount: Money, what: str) -> None:
        if amount.ore <= 0:
            raise DomainError(f"{what} must move more than 0 kr.")

    def check_can_take(self, state: LineState, year: int, amount: Money, date: dt.date, verb: str) -> None:
        timeline = state.timelines.get(year) or Timeline()
        lowest, at = timeline.lowest_from(date)
        if lowest < amount.ore:
            when = f" on {at.isoformat()}" if at else ""
            raise InsufficientFundsError(
                f"line {state.terms.line} {state.terms.name} has {Money(max(lowest, 0)).format()} in {year}"
                f"{when}; cannot {verb} {amount.format()}"
            )

    # ------------------------------------------------------------------ events

    def _on_Adopted(self, event: Plan.Adopted) -> None:
        self.partnership = event.partnership
        self.title = event.title
        self.year = event.year
        self.source_file = event.source_file
        self.source_sha256 = event.source_sha256
        self.areas = tuple(event.areas)
        self.reallocation_body = event.reallocation_body
        self.adopted_on = event.date
        self.lines: dict[str, LineState] = {}
        self.pools: dict[str, PoolTerms] = {terms.key: terms for terms in event.pools}
        self.reallocations: dict[int, Reallocation] = {}

    def _on_LineBudgeted(self, event: Plan.LineBudgeted) -> None:
        state = LineState(event.terms)
        for budget in event.terms.budgets:
            if budget.discontinued:
                state.discontinued.add(budget.year)
            timeline = state.timelines.setdefault(budget.year, Timeline())
            timeline.add(event.date, event.originator_version, budget.amount.ore)
        self.lines[event.terms.line] = state

    def _on_Reallocated(self, event: Plan.Reallocated) -> None:
        self._move(event.from_line, event.to_line, event.year, event.amount.ore, event.date, event.originator_version)
        self.reallocations[event.originator_version] = Reallocation(
            event.year, event.from_line, event.to_line, event.amount.ore, event.date
        )

    def _on_ReallocationReversed(self, event: Plan.ReallocationReversed) -> None:
        self._move(event.to_line, event.from_line, event.year, event.amount.ore, event.date, event.originator_version)
        self.reallocations[event.reversed_version].reversed_by = event.originator_version

    def _on_LineDiscontinued(self, event: Plan.LineDiscontinued) -> None:
        self.lines[event.line].discontinued.add(event.year)

    def _move(self, source: str, target: str, year: int, ore: int, date: dt.date, version: int) -> None:
        self.lines[source].timelines.setdefault(year, Timeline()).add(date, version, -ore)
        self.lines[target].timelines.setdefault(year, Timeline()).add(date, version, ore)

    # ------------------------------------------------------------------ snapshots

    def snapshot_state(self) -> dict[str, Any]:
        return {
            "partnership": self.partnership,
            "title": self.title,
            "year": self.year,
            "source_file": self.source_file,
            "source_sha256": self.source_sha256,
            "areas": list(self.areas),
            "reallocation_body": self.reallocation_body,
            "adopted_on": self.adopted_on.isoformat(),
            "lines": [
                {
                    "terms": state.terms.model_dump(mode="json"),
                    "timelines": {str(y): t.to_data() for y, t in state.timelines.items()},
                    "discontinued": sorted(state.discontinued),
                }
                for state in self.lines.values()
            ],
            "pools": [terms.model_dump(mode="json") for terms in self.pools.values()],
            "reallocations": {
                str(v): {**fields_of(r), "date": r.date.isoformat()} for v, r in self.reallocations.items()
            },
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        self.partnership = state["partnership"]
        self.title = state["title"]
        self.year = state["year"]
        self.source_file = state["source_file"]
        self.source_sha256 = state["source_sha256"]
        self.areas = tuple(state["areas"])
        self.reallocation_body = state["reallocation_body"]
        self.adopted_on = dt.date.fromisoformat(state["adopted_on"])
        self.lines = {}
        for data in state["lines"]:
            terms = LineTerms.model_validate_json(_json(data["terms"]))
            self.lines[terms.line] = LineState(
                terms,
                {int(y): Timeline.from_data(t) for y, t in data["timelines"].items()},
                set(data["discontinued"]),
            )
        self.pools = {}
        for data in state["pools"]:
            terms = PoolTerms.model_validate_json(_json(data))
            self.pools[terms.key] = terms
        self.reallocations = {
            int(v): Reallocation(**{**r, "date": dt.date.fromisoformat(r["date"])})
            for v, r in state["reallocations"].items()
        }


def check_plan_terms(lines: list[LineTerms], pools: list[PoolTerms], year: int) -> None:
    """The plan's own consistency: unique lines and pools on live lines."""
    seen: set[str] = set()
    for terms in lines:
        if terms.line in seen:
            raise PlanError(f"line {terms.line!r} appears twice in the plan")
        seen.add(terms.line)
    codes: set[str] = set()
    keys: set[str] = set()
    for pool in pools:
        if pool.key.casefold() in keys:
            raise PlanError(f"pool {pool.key!r} appears twice in the plan")
        if pool.code.casefold() in codes:
            raise PlanError(f"pool code {pool.code!r} is used by two pools")
        keys.add(pool.key.casefold())
        codes.add(pool.code.casefold())
        line = next((t for t in lines if t.line == pool.line), None)
        if line is None:
            raise PlanError(f"pool {pool.key!r} points at line {pool.line!r}, which the plan does not have")
        budget = line.budget_for(year)
        if budget is not None and budget.discontinued:
            raise PlanError(f"pool {pool.key!r} points at line {pool.line!r}, which is discontinued in {year}")


def _json(data: Any) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)


def check_date(date: dt.date, plan: Plan) -> None:
    if date < plan.adopted_on:
        raise DateError(f"{date.isoformat()} is before the plan's adoption ({plan.adopted_on.isoformat()})")
