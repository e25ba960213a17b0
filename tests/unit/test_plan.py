"""The plan: adoption, reallocations (omdisponeringer), their reversal and discontinued lines.

Pure domain tests: a `Plan` is built in memory with `Plan.adopt` and driven by
its command methods; no ledger, no database. Every refusal is checked for its
error class and for the sentence the user reads, and for writing nothing.
"""

from __future__ import annotations

import datetime as dt
from uuid import uuid4

import pytest
from eventsourcing.application import project_aggregate

from domain.base import Snapshot
from domain.errors import (
    AuthorityError,
    DateError,
    DomainError,
    InsufficientFundsError,
    NotFoundError,
    PlanError,
    ReversalError,
)
from domain.money import Money
from domain.plan import LineTerms, Plan, PoolTerms, YearBudget

RECORDED = dt.datetime(2022, 1, 3, 9, 0, tzinfo=dt.timezone.utc)
ADOPTED_ON = dt.date(2022, 1, 1)
BODY = "Økonomiforvaltningen"
AREAS = ("Tryggere byliv", "Uddannelse og beskæftigelse", "Positive fællesskaber")


def kr(kroner: int) -> Money:
    return Money.kroner(kroner)


def line(no: str, *budgets: YearBudget, name: str | None = None) -> LineTerms:
    return LineTerms(line=no, name=name or f"Linje {no}", areas=AREAS[:1], budgets=budgets)


def year(y: int, kroner: int | None = None, **kw) -> YearBudget:
    return YearBudget(year=y, total=None if kroner is None else kr(kroner), **kw)


def standard_lines() -> list[LineTerms]:
    """A slice of the 2022 plan: two activities, the pool's line, a discontinued row."""
    return [
        line("1", year(2022, 220_000), year(2023, 220_000, preliminary=True), name="Fælleshaven"),
        line("2", year(2021, 190_000), year(2022, 180_000), name="Videnshus"),
        line("14", year(2021, 180_000), year(2022, 107_000), name="Bylivs- og tryghedspulje"),
        line("juniorbetjent", year(2021, 80_000), year(2022, discontinued=True), year(2024, 80_000),
             name="Juniorbetjent"),
    ]


def standard_pools() -> list[PoolTerms]:
    return [PoolTerms(key="bylivs-og-tryghedspulje", code="BTP", name="Bylivs- og tryghedspulje",
                      line="14", decided_by="arbejdsgruppen")]


def adopt(lines: list[LineTerms] | None = None, pools: list[PoolTerms] | None = None, **kw) -> Plan:
    args = dict(
        id=uuid4(), partnership="Tingbjerg-Husum", title="Tryghedsplan 2022", year=2022,
        source_file="x.toml", source_sha256="0" * 64, areas=AREAS, reallocation_body=BODY,
        lines=standard_lines() if lines is None else lines,
        pools=standard_pools() if pools is None else pools,
        timestamp=RECORDED, actor="t", date=ADOPTED_ON, decided_by=BODY, decision_ref="ref",
    )
    args.update(kw)
    return Plan.adopt(**args)


def adopted(lines: list[LineTerms] | None = None, **kw) -> Plan:
    """An adopted plan whose adoption events are already collected (as if saved)."""
    plan = adopt(lines, **kw)
    plan.collect_events()
    return plan


def reallocate(plan: Plan, **overrides) -> int:
    """Reallocate with sensible defaults; returns the new plan version."""
    args = dict(
        year=2022, from_line="1", to_line="2", amount=kr(10_000), date=dt.date(2022, 3, 1),
        decided_by=BODY, decision_ref="ØU 2022-03-01 pkt. 4", reason="Videnshuset mangler midler",
        actor="t", timestamp=RECORDED,
    )
    args.update(overrides)
    plan.reallocate(**args)
    return plan.version


def reverse(plan: Plan, version: int, **overrides) -> int:
    args = dict(version=version, reason="Fejlindtastning", date=None, actor="t", timestamp=RECORDED)
    args.update(overrides)
    plan.reverse_reallocation(**args)
    return plan.version


def discontinue(plan: Plan, no: str, **overrides) -> None:
    args = dict(line=no, year=2022, date=dt.date(2022, 9, 1), decided_by=BODY, decision_ref="ØU 2022-09",
                reason="Aktiviteten udgår", actor="t", timestamp=RECORDED)
    args.update(overrides)
    plan.discontinue(**args)


def balance_on(plan: Plan, no: str, on: dt.date, y: int = 2022) -> Money:
    return Money(plan.line(no).timelines[y].balance_on(on))


def text(money: Money) -> str:
    return money.format()


# ---------------------------------------------------------------------- adoption


def test_adoption_records_one_adopted_event_and_one_line_budgeted_per_line():
    plan = adopt()
    events = plan.collect_events()

    assert [e.kind for e in events] == ["Adopted"] + ["LineBudgeted"] * 4
    adopted_event = events[0]
    assert adopted_event.partnership == "Tingbjerg-Husum"
    assert adopted_event.year == 2022
    assert adopted_event.source_sha256 == "0" * 64
    assert adopted_event.reallocation_body == BODY
    assert adopted_event.pools == tuple(standard_pools())
    assert [e.terms.line for e in events[1:]] == ["1", "2", "14", "juniorbetjent"]
    assert [e.originator_version for e in events] == [1, 2, 3, 4, 5]
    assert all(e.date == ADOPTED_ON and e.decided_by == BODY and e.decision_ref == "ref" for e in events)


def test_adoption_budgets_each_line_for_each_year_it_names():
    plan = adopt()

    assert plan.budget("1", 2022) == kr(220_000)
    assert plan.budget("1", 2023) == kr(220_000)
    assert plan.budget("2", 2021) == kr(190_000)
    assert plan.budget("14", 2022) == kr(107_000)
    assert plan.budget("2", 2023) == kr(0)
    assert plan.adopted("1", 2022) == plan.budget("1", 2022)


def test_a_discontinued_year_budgets_nothing_but_the_other_years_keep_their_figures():
    plan = adopt()

    assert plan.budget("juniorbetjent", 2022) == kr(0)
    assert plan.budget("juniorbetjent", 2021) == kr(80_000)
    assert plan.budget("juniorbetjent", 2024) == kr(80_000)
    assert 2022 in plan.line("juniorbetjent").discontinued


def test_the_total_of_a_year_is_the_sum_of_its_lines():
    plan = adopt()

    assert plan.total(2022) == kr(220_000 + 180_000 + 107_000)
    assert plan.total(2021) == kr(190_000 + 180_000 + 80_000)
    assert plan.total(2030) == kr(0)


def test_a_year_without_a_total_is_budgeted_by_the_sum_of_its_posts():
    posts = YearBudget(year=2022, posts={"Lønmidler": kr(120_000), "Husleje": kr(70_000)})
    plan = adopt([line("1", posts)], pools=[])

    assert plan.budget("1", 2022) == kr(190_000)


def test_lines_are_found_whatever_the_case_of_their_id():
    plan = adopt()

    assert plan.line("JUNIORBETJENT").terms.line == "juniorbetjent"
    assert plan.line(" 14 ").terms.name == "Bylivs- og tryghedspulje"


def test_adoption_refuses_a_line_that_appears_twice():
    with pytest.raises(PlanError) as refused:
        adopt([line("1", year(2022, 10)), line("1", year(2022, 20))], pools=[])
    assert "line '1' appears twice in the plan" in refused.value.message


def test_adoption_refuses_a_pool_on_a_line_the_plan_does_not_have():
    pool = PoolTerms(key="p", code="P", name="P", line="99", decided_by="arbejdsgruppen")
    with pytest.raises(PlanError) as refused:
        adopt(pools=[pool])
    assert "pool 'p' points at line '99', which the plan does not have" in refused.value.message


def test_adoption_refuses_a_pool_on_a_line_discontinued_in_the_plan_year():
    pool = PoolTerms(key="p", code="P", name="P", line="juniorbetjent", decided_by="arbejdsgruppen")
    with pytest.raises(PlanError) as refused:
        adopt(pools=[pool])
    assert "points at line 'juniorbetjent', which is discontinued in 2022" in refused.value.message


def test_adoption_refuses_two_pools_with_the_same_code():
    pools = standard_pools() + [PoolTerms(key="videnspulje", code="btp", name="Videnspulje", line="2",
                                          decided_by="arbejdsgruppen")]
    with pytest.raises(PlanError) as refused:
        adopt(pools=pools)
    assert "pool code 'btp' is used by two pools" in refused.value.message


def test_an_adopted_plan_rebuilt_from_its_events_or_a_snapshot_has_the_same_state():
    plan = adopt()
    reallocate(plan)
    events = plan.collect_events()

    rebuilt = project_aggregate(None, events)
    restored = Snapshot.take(plan).mutate(None)

    assert rebuilt.snapshot_state() == plan.snapshot_state()
    assert restored.snapshot_state() == plan.snapshot_state()
    assert restored.version == plan.version


# ---------------------------------------------------------------------- reallocation


def test_a_reallocation_moves_the_amount_from_one_line_to_the_other_and_keeps_the_total():
    plan = adopted()
    total = plan.total(2022)

    version = reallocate(plan, amount=kr(20_000))

    assert plan.budget("1", 2022) == kr(200_000)
    assert plan.budget("2", 2022) == kr(200_000)
    assert plan.total(2022) == total
    (event,) = plan.collect_events()
    assert event.kind == "Reallocated"
    assert event.originator_version == version
    assert (event.year, event.from_line, event.to_line, event.amount) == (2022, "1", "2", kr(20_000))
    assert event.decided_by == BODY
    assert event.decision_ref == "ØU 2022-03-01 pkt. 4"
    assert event.reason == "Videnshuset mangler midler"
    assert event.date == dt.date(2022, 3, 1)


@pytest.mark.parametrize("body", ["økonomiforvaltningen", "ØKONOMIFORVALTNINGEN", "  Økonomiforvaltningen "])
def test_the_deciding_body_is_compared_without_regard_to_case_or_spacing(body):
    plan = adopted()

    reallocate(plan, decided_by=body)

    (event,) = plan.collect_events()
    assert event.decided_by == BODY  # recorded under the plan's own spelling


def test_the_whole_budget_of_a_line_may_be_moved():
    plan = adopted()

    reallocate(plan, amount=kr(220_000))

    assert plan.budget("1", 2022) == kr(0)
    assert plan.budget("2", 2022) == kr(400_000)


def test_a_reallocation_in_another_year_of_the_plan_touches_only_that_year():
    plan = adopted()

    reallocate(plan, year=2021, from_line="2", to_line="14", amount=kr(1_000))

    assert plan.budget("2", 2021) == kr(189_000)
    assert plan.budget("14", 2021) == kr(181_000)
    assert plan.budget("2", 2022) == kr(180_000)


REFUSALS = [
    pytest.param(
        dict(decided_by="arbejdsgruppen"), AuthorityError,
        ["is decided by Økonomiforvaltningen", "not by arbejdsgruppen"], id="wrong-body",
    ),
    pytest.param(
        dict(decided_by="styregruppen"), AuthorityError, ["Økonomiforvaltningen", "styregruppen"],
        id="steering-group-alone",
    ),
    pytest.param(
        dict(decided_by=None), AuthorityError, ["must name the deciding body: Økonomiforvaltningen"],
        id="no-body",
    ),
    pytest.param(dict(decided_by="  "), AuthorityError, ["must name the deciding body"], id="blank-body"),
    pytest.param(
        dict(from_line="1", to_line="1"), DomainError, ["two different lines", "line 1 twice"], id="same-line",
    ),
    pytest.param(
        dict(to_line="99"), NotFoundError,
        ["has no line '99'", "(lines: 1, 2, 14, juniorbetjent)"], id="unknown-line",
    ),
    pytest.param(
        dict(from_line="x"), NotFoundError, ["has no line 'x'", "lines: 1, 2, 14, juniorbetjent"],
        id="unknown-source",
    ),
    pytest.param(dict(amount=kr(0)), DomainError, ["must move more than 0 kr."], id="zero"),
    pytest.param(dict(amount=Money(-100)), DomainError, ["must move more than 0 kr."], id="negative"),
    pytest.param(
        dict(amount=Money(22_000_001)), InsufficientFundsError,
        ["line 1 Fælleshaven has " + text(kr(220_000)) + " in 2022", "cannot move " + text(Money(22_000_001))],
        id="more-than-the-line-has",
    ),
    pytest.param(
        dict(year=2024, amount=kr(1)), InsufficientFundsError,
        ["line 1 Fælleshaven has " + text(kr(0)) + " in 2024"], id="year-the-line-has-no-budget",
    ),
    pytest.param(
        dict(from_line="juniorbetjent"), PlanError,
        ["line juniorbetjent Juniorbetjent is discontinued (udgår) in 2022"], id="from-discontinued",
    ),
    pytest.param(
        dict(to_line="juniorbetjent"), PlanError, ["is discontinued (udgår) in 2022"], id="to-discontinued",
    ),
    pytest.param(dict(reason=None), DomainError, ["The reason for a reallocation must not be empty"], id="no-reason"),
    pytest.param(dict(reason="   "), DomainError, ["The reason for a reallocation must not be empty"],
                 id="blank-reason"),
    pytest.param(dict(decision_ref=None), DomainError, ["The decision reference must not be empty"], id="no-ref"),
    pytest.param(dict(decision_ref=""), DomainError, ["The decision reference must not be empty"], id="empty-ref"),
    pytest.param(
        dict(date=dt.date(2021, 12, 31)), DateError,
        ["the reallocation is dated 2021-12-31, before the plan's adoption (2022-01-01)"], id="before-adoption",
    ),
]


@pytest.mark.parametrize(("overrides", "error", "fragments"), REFUSALS)
def test_a_refused_reallocation_says_why_and_writes_nothing(overrides, error, fragments):
    plan = adopted()
    before, version = plan.snapshot_state(), plan.version

    with pytest.raises(error) as refused:
        reallocate(plan, **overrides)

    for fragment in fragments:
        assert fragment in refused.value.message
    assert str(refused.value) == refused.value.message
    assert plan.collect_events() == []
    assert plan.version == version
    assert plan.snapshot_state() == before


def test_the_refused_amount_names_what_the_line_has_after_earlier_moves():
    plan = adopted()
    reallocate(plan, amount=kr(200_000))

    with pytest.raises(InsufficientFundsError) as refused:
        reallocate(plan, amount=kr(20_001), date=dt.date(2022, 4, 1))

    assert f"has {text(kr(20_000))} in 2022; cannot move {text(kr(20_001))}" in refused.value.message


# ---------------------------------------------------------------------- effective dates

def three_lines(a: int = 100, b: int = 0, c: int = 100) -> Plan:
    return adopted([line("a", year(2022, a)), line("b", year(2022, b)), line("c", year(2022, c))], pools=[])


def test_an_earlier_dated_reallocation_may_not_make_the_line_negative_on_a_later_recorded_date():
    # Line a has 100. Recorded first: 80 out on 1 June. Then 50 out dated 1 March:
    # on 1 March a still has 100, but from 1 June it would have 100 - 50 - 80 = -30.
    plan = three_lines()
    reallocate(plan, from_line="a", to_line="b", amount=kr(80), date=dt.date(2022, 6, 1))

    with pytest.raises(InsufficientFundsError) as refused:
        reallocate(plan, from_line="a", to_line="c", amount=kr(50), date=dt.date(2022, 3, 1))

    assert f"line a Linje a has {text(kr(20))} in 2022" in refused.value.message
    assert f"cannot move {text(kr(50))}" in refused.value.message
    assert plan.budget("a", 2022) == kr(20)


def test_the_refusal_of_an_earlier_dated_reallocation_names_the_date_the_line_would_go_short():
    plan = three_lines()
    reallocate(plan, from_line="a", to_line="b", amount=kr(80), date=dt.date(2022, 6, 1))

    with pytest.raises(InsufficientFundsError) as refused:
        reallocate(plan, from_line="a", to_line="c", amount=kr(50), date=dt.date(2022, 3, 1))

    assert f"has {text(kr(20))} in 2022 on 2022-06-01; cannot move {text(kr(50))}" in refused.value.message


def test_an_earlier_dated_reallocation_that_leaves_the_line_at_zero_or_more_on_every_date_is_allowed():
    plan = three_lines()
    reallocate(plan, from_line="a", to_line="b", amount=kr(80), date=dt.date(2022, 6, 1))

    reallocate(plan, from_line="a", to_line="c", amount=kr(20), date=dt.date(2022, 3, 1))

    assert balance_on(plan, "a", dt.date(2022, 2, 28)) == kr(100)
    assert balance_on(plan, "a", dt.date(2022, 3, 1)) == kr(80)
    assert balance_on(plan, "a", dt.date(2022, 6, 1)) == kr(0)
    assert plan.budget("a", 2022) == kr(0)
    assert plan.total(2022) == kr(200)


def test_money_moved_into_a_line_on_a_later_date_cannot_be_moved_on_earlier():
    plan = three_lines()
    reallocate(plan, from_line="c", to_line="b", amount=kr(60), date=dt.date(2022, 6, 1))

    with pytest.raises(InsufficientFundsError) as refused:
        reallocate(plan, from_line="b", to_line="a", amount=kr(60), date=dt.date(2022, 3, 1))
    assert f"line b Linje b has {text(kr(0))} in 2022; cannot move {text(kr(60))}" in refused.value.message

    reallocate(plan, from_line="b", to_line="a", amount=kr(60), date=dt.date(2022, 6, 1))
    assert plan.budget("b", 2022) == kr(0)
    assert plan.budget("a", 2022) == kr(160)


def test_money_moved_into_a_line_earlier_can_cover_a_move_out_dated_after_it():
    plan = three_lines()
    reallocate(plan, from_line="a", to_line="b", amount=kr(100), date=dt.date(2022, 6, 1))
    reallocate(plan, from_line="c", to_line="a", amount=kr(50), date=dt.date(2022, 2, 1))

    reallocate(plan, from_line="a", to_line="b", amount=kr(50), date=dt.date(2022, 3, 1))

    assert balance_on(plan, "a", dt.date(2022, 3, 1)) == kr(100)
    assert balance_on(plan, "a", dt.date(2022, 6, 1)) == kr(0)
    with pytest.raises(InsufficientFundsError):
        reallocate(plan, from_line="a", to_line="b", amount=kr(1), date=dt.date(2022, 2, 15))


def test_two_moves_on_the_same_date_are_applied_in_the_order_they_were_recorded():
    plan = three_lines()
    reallocate(plan, from_line="a", to_line="b", amount=kr(100), date=dt.date(2022, 5, 1))

    reallocate(plan, from_line="b", to_line="c", amount=kr(100), date=dt.date(2022, 5, 1))

    assert plan.budget("b", 2022) == kr(0)
    with pytest.raises(InsufficientFundsError):
        reallocate(plan, from_line="a", to_line="c", amount=kr(1), date=dt.date(2022, 5, 1))


# ---------------------------------------------------------------------- reversal


def test_reversing_a_reallocation_restores_both_budgets_and_points_at_the_reversed_version():
    plan = adopted()
    version = reallocate(plan, amount=kr(20_000))
    plan.collect_events()

    reversal = reverse(plan, version)

    assert plan.budget("1", 2022) == kr(220_000)
    assert plan.budget("2", 2022) == kr(180_000)
    assert plan.total(2022) == kr(507_000)
    (event,) = plan.collect_events()
    assert event.kind == "ReallocationReversed"
    assert event.originator_version == reversal
    assert event.reversed_version == version
    assert (event.year, event.from_line, event.to_line, event.amount) == (2022, "1", "2", kr(20_000))
    assert event.reason == "Fejlindtastning"
    assert event.date == dt.date(2022, 3, 1)  # the reallocation's own date unless another is given
    assert plan.reallocations[version].reversed_by == reversal


def test_a_reversal_may_be_dated_later_than_the_reallocation():
    plan = adopted()
    version = reallocate(plan, amount=kr(20_000))

    reverse(plan, version, date=dt.date(2022, 8, 1))

    assert balance_on(plan, "1", dt.date(2022, 7, 31)) == kr(200_000)
    assert balance_on(plan, "1", dt.date(2022, 8, 1)) == kr(220_000)


def test_a_reallocation_cannot_be_reversed_twice():
    plan = adopted()
    version = reallocate(plan)
    reversal = reverse(plan, version)
    plan.collect_events()

    with pytest.raises(ReversalError) as refused:
        reverse(plan, version)

    assert f"that reallocation was already reversed (plan version {reversal})" in refused.value.message
    assert plan.collect_events() == []


@pytest.mark.parametrize("version", [1, 2, 99])
def test_only_a_reallocation_can_be_reversed(version):
    plan = adopted()

    with pytest.raises(ReversalError) as refused:
        reverse(plan, version)

    assert f"version {version} of the plan is not a reallocation" in refused.value.message


def test_a_reversal_is_refused_when_the_target_line_has_moved_the_money_on():
    plan = adopted()
    version = reallocate(plan, from_line="1", to_line="2", amount=kr(20_000))
    reallocate(plan, from_line="2", to_line="14", amount=kr(190_000), date=dt.date(2022, 4, 1))
    plan.collect_events()

    with pytest.raises(InsufficientFundsError) as refused:
        reverse(plan, version)

    assert f"line 2 Videnshus has {text(kr(10_000))} in 2022" in refused.value.message
    assert f"cannot move back {text(kr(20_000))}" in refused.value.message
    assert plan.collect_events() == []


def test_a_reversal_needs_a_reason_and_a_date_not_before_the_reallocation():
    plan = adopted()
    version = reallocate(plan)

    with pytest.raises(DomainError) as no_reason:
        reverse(plan, version, reason=" ")
    with pytest.raises(DateError) as too_early:
        reverse(plan, version, date=dt.date(2022, 2, 1))

    assert "The reason for a reversal must not be empty" in no_reason.value.message
    assert "the reversal is dated 2022-02-01, before the reallocation it reverses (2022-03-01)" in (
        too_early.value.message
    )


# ---------------------------------------------------------------------- discontinued lines


def test_a_line_with_budget_left_cannot_be_discontinued():
    plan = adopted()

    with pytest.raises(PlanError) as refused:
        discontinue(plan, "2")

    assert (
        f"line 2 Videnshus still has {text(kr(180_000))} in 2022; reallocate it to another line first"
        in refused.value.message
    )
    assert plan.collect_events() == []


def test_a_line_emptied_by_reallocation_can_be_discontinued_and_then_receives_nothing():
    plan = adopted()
    reallocate(plan, from_line="2", to_line="1", amount=kr(180_000))
    plan.collect_events()

    discontinue(plan, "2")

    (event,) = plan.collect_events()
    assert (event.kind, event.line, event.year, event.decided_by) == ("LineDiscontinued", "2", 2022, BODY)
    assert 2022 in plan.line("2").discontinued
    with pytest.raises(PlanError) as refused:
        reallocate(plan, from_line="1", to_line="2", amount=kr(1), date=dt.date(2022, 10, 1))
    assert "line 2 Videnshus is discontinued (udgår) in 2022" in refused.value.message


def test_discontinuing_a_line_twice_is_refused():
    plan = adopted()

    with pytest.raises(PlanError) as refused:
        discontinue(plan, "juniorbetjent")

    assert "line juniorbetjent is already discontinued in 2022" in refused.value.message


def test_discontinuing_a_line_is_decided_by_the_reallocation_body():
    plan = adopted()
    reallocate(plan, from_line="2", to_line="1", amount=kr(180_000))

    with pytest.raises(AuthorityError) as refused:
        discontinue(plan, "2", decided_by="arbejdsgruppen")

    assert "is decided by Økonomiforvaltningen, not by arbejdsgruppen" in refused.value.message
    discontinue(plan, "2", decided_by="ØKONOMIFORVALTNINGEN")


def test_a_reversal_cannot_move_money_back_into_a_line_discontinued_since():
    plan = adopted()
    version = reallocate(plan, from_line="2", to_line="1", amount=kr(180_000))
    discontinue(plan, "2")
    plan.collect_events()

    with pytest.raises(PlanError) as refused:
        reverse(plan, version, date=dt.date(2022, 10, 1))

    assert "line 2 Videnshus is discontinued (udgår) in 2022; the money cannot move back to it" in (
        refused.value.message
    )
    assert plan.collect_events() == []
    assert plan.budget("2", 2022) == kr(0)
