"""A pool: grants awarded, paid out, returned, withdrawn, reversed, and the year's close.

Pure domain tests: a `Pool` is opened in memory and driven by its command
methods; no ledger, no database. Every refusal is checked for its error class,
for the sentence the user reads, and for writing nothing.
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
    GrantLimitError,
    InsufficientFundsError,
    NotFoundError,
    PoolClosedError,
    ReversalError,
)
from domain.money import Money
from domain.pool import Pool
from domain.status import grant_status

RECORDED = dt.datetime(2022, 1, 3, 9, 0, tzinfo=dt.timezone.utc)
OPENED_ON = dt.date(2022, 1, 1)
BODY = "arbejdsgruppen"
AREAS = ("Tryggere byliv", "Uddannelse og beskæftigelse", "Positive fællesskaber")
NAME = "Bylivs- og tryghedspulje"


def kr(kroner: int) -> Money:
    return Money.kroner(kroner)


def text(money: Money) -> str:
    return money.format()


def d(month: int, day: int = 1, year: int = 2022) -> dt.date:
    return dt.date(year, month, day)


def open_pool(funding: int = 107_000, date: dt.date = OPENED_ON, areas: tuple[str, ...] = AREAS) -> Pool:
    """An open pool whose opening event is already collected (as if saved)."""
    pool = Pool.open_for_year(
        id=uuid4(), plan_id=uuid4(), partnership="Tingbjerg-Husum", key="bylivs-og-tryghedspulje",
        code="BTP", name=NAME, year=2022, line="14", areas=areas, decided_by=BODY,
        funding=kr(funding), timestamp=RECORDED, actor="t", date=date, decision_ref="Tryghedsplan 2022",
    )
    pool.collect_events()
    return pool


def award(pool: Pool, **overrides) -> str:
    args = dict(
        recipient="Tingbjerg Boldklub", purpose="Sommerfest på pladsen", area="Tryggere byliv",
        amount=kr(10_000), requested=None, date=d(3), decided_by=BODY, decision_ref="AG 2022-03",
        actor="t", timestamp=RECORDED,
    )
    args.update(overrides)
    return pool.award(**args)


def pay(pool: Pool, number: str, kroner: int | Money, date: dt.date = d(4), **kw) -> int:
    amount = kroner if isinstance(kroner, Money) else kr(kroner)
    pool.disburse(number=number, amount=amount, date=date, payment_ref=kw.get("payment_ref"), actor="t",
                  timestamp=RECORDED)
    return pool.version


def take_back(
    pool: Pool, number: str, kroner: int | Money, date: dt.date = d(5), reason: str | None = "Ubrugte midler",
) -> int:
    amount = kroner if isinstance(kroner, Money) else kr(kroner)
    pool.take_back(number=number, amount=amount, date=date, reason=reason, actor="t", timestamp=RECORDED)
    return pool.version


def withdraw(pool: Pool, number: str, date: dt.date = d(6), reason: str | None = "Arrangementet aflyst") -> Money:
    return pool.withdraw(number=number, date=date, reason=reason, actor="t", timestamp=RECORDED)


def change_funding(pool: Pool, kroner: int, date: dt.date = d(2)) -> int:
    pool.change_funding(change=kr(kroner), cause_id=uuid4(), cause_version=7, date=date,
                        decided_by="Økonomiforvaltningen", decision_ref="ØU", reason="Omdisponering",
                        actor="t", timestamp=RECORDED)
    return pool.version


def close(
    pool: Pool, date: dt.date = d(12, 31), decided_by: str | None = BODY, decision_ref: str | None = "AG 2022-12",
) -> None:
    pool.close(date=date, decided_by=decided_by, decision_ref=decision_ref, actor="t", timestamp=RECORDED)


def reverse(pool: Pool, version: int, date: dt.date | None = None, reason: str | None = "Fejlindtastning") -> int:
    pool.reverse(version=version, reason=reason, date=date, actor="t", timestamp=RECORDED)
    return pool.version


def status(pool: Pool, number: str) -> str:
    g = pool.grant(number)
    return grant_status(g.awarded, g.disbursed, g.withdrawn, g.reversed, pool.closed_on is not None)


def available(pool: Pool) -> Money:
    return Money(pool.available.total)


def assert_refused(pool: Pool, error: type[Exception], fragments: list[str], command) -> None:
    """The command is refused with `error`, says every fragment, and writes nothing."""
    pool.collect_events()
    before, version = pool.snapshot_state(), pool.version
    with pytest.raises(error) as refused:
        command()
    for fragment in fragments:
        assert fragment in refused.value.message, refused.value.message
    assert pool.collect_events() == []
    assert pool.version == version
    assert pool.snapshot_state() == before


# ---------------------------------------------------------------------- award


def test_grants_are_numbered_from_the_pool_code_and_year_in_order():
    pool = open_pool()

    numbers = [award(pool) for _ in range(3)]

    assert numbers == ["BTP-2022-001", "BTP-2022-002", "BTP-2022-003"]
    assert available(pool) == kr(77_000)


def test_an_award_records_who_decided_what_for_whom():
    pool = open_pool()

    number = award(pool, requested=kr(12_000), decided_by="Arbejdsgruppen")

    (event,) = pool.collect_events()
    assert event.kind == "GrantAwarded"
    assert event.number == number
    assert (event.recipient, event.purpose, event.area) == ("Tingbjerg Boldklub", "Sommerfest på pladsen",
                                                            "Tryggere byliv")
    assert (event.amount, event.requested) == (kr(10_000), kr(12_000))
    assert (event.decided_by, event.decision_ref, event.date) == (BODY, "AG 2022-03", d(3))
    assert status(pool, number) == "awarded"


def test_the_whole_pool_may_be_awarded():
    pool = open_pool()

    award(pool, amount=kr(107_000))

    assert available(pool) == kr(0)
    assert pool.committed == kr(107_000).ore


def test_a_focus_area_is_matched_without_regard_to_case_and_recorded_in_the_plans_spelling():
    pool = open_pool()

    award(pool, area="  tryggere BYLIV ")

    (event,) = pool.collect_events()
    assert event.area == "Tryggere byliv"


def test_a_grant_without_a_focus_area_records_none():
    pool = open_pool()

    award(pool, area=None)
    award(pool, area="  ")

    assert [g.area for g in pool.grants.values()] == [None, None]


AWARD_REFUSALS = [
    pytest.param(dict(decided_by="styregruppen"), AuthorityError,
                 [f"A grant from {NAME} is decided by arbejdsgruppen, not by styregruppen"], id="wrong-body"),
    pytest.param(dict(decided_by=None), AuthorityError, ["must name the deciding body: arbejdsgruppen"],
                 id="no-body"),
    pytest.param(dict(date=d(1, 2, year=2023)), DateError,
                 [f"a grant from {NAME} 2022 is dated 2023-01-02, outside 2022"], id="next-year"),
    pytest.param(dict(date=d(12, 31, year=2021)), DateError, ["is dated 2021-12-31, outside 2022"],
                 id="last-year"),
    pytest.param(dict(amount=Money(10_700_001)), InsufficientFundsError,
                 [f"{NAME} 2022 has {text(kr(107_000))} available", f"cannot grant {text(Money(10_700_001))}"],
                 id="more-than-available"),
    pytest.param(dict(amount=kr(0)), DomainError, ["A grant must be more than 0 kr."], id="zero"),
    pytest.param(dict(amount=Money(-1)), DomainError, ["A grant must be more than 0 kr."], id="negative"),
    pytest.param(dict(recipient=""), DomainError, ["The recipient must not be empty"], id="no-recipient"),
    pytest.param(dict(recipient=None), DomainError, ["The recipient must not be empty"], id="none-recipient"),
    pytest.param(dict(purpose="  "), DomainError, ["The purpose must not be empty"], id="no-purpose"),
    pytest.param(dict(decision_ref=""), DomainError, ["The decision reference must not be empty"], id="no-ref"),
    pytest.param(dict(area="Sport"), DomainError,
                 ["'Sport' is not a focus area of the plan",
                  "(areas: Tryggere byliv, Uddannelse og beskæftigelse, Positive fællesskaber)"],
                 id="unknown-area"),
]


@pytest.mark.parametrize(("overrides", "error", "fragments"), AWARD_REFUSALS)
def test_a_refused_award_says_why_and_writes_nothing(overrides, error, fragments):
    pool = open_pool()

    assert_refused(pool, error, fragments, lambda: award(pool, **overrides))
    assert pool.next_number == 1


def test_an_award_dated_before_the_pool_opened_is_refused():
    pool = open_pool(date=d(2))

    assert_refused(pool, DateError, ["the grant is dated 2022-01-15, before the pool opened (2022-02-01)"],
                   lambda: award(pool, date=d(1, 15)))


def test_the_refusal_of_too_large_a_grant_states_what_is_still_available():
    pool = open_pool()
    award(pool, amount=kr(100_000))

    assert_refused(pool, InsufficientFundsError,
                   [f"has {text(kr(7_000))} available; cannot grant {text(kr(7_001))}"],
                   lambda: award(pool, amount=kr(7_001)))
    award(pool, amount=kr(7_000))


def test_a_refused_award_does_not_use_up_a_grant_number():
    pool = open_pool()
    award(pool)
    with pytest.raises(InsufficientFundsError):
        award(pool, amount=kr(500_000))

    assert award(pool) == "BTP-2022-002"


# ---------------------------------------------------------------------- funding


def test_a_funding_increase_adds_to_what_can_be_awarded():
    pool = open_pool(funding=10_000)

    version = change_funding(pool, 5_000)

    (event,) = pool.collect_events()
    assert (event.kind, event.change, event.cause_version, event.originator_version) == (
        "FundingChanged", kr(5_000), 7, version)
    assert pool.funding == kr(15_000).ore
    assert available(pool) == kr(15_000)


def test_a_funding_decrease_within_what_is_available_is_allowed():
    pool = open_pool(funding=10_000)
    award(pool, amount=kr(6_000))

    change_funding(pool, -4_000, date=d(4))

    assert pool.funding == kr(6_000).ore
    assert available(pool) == kr(0)


def test_a_funding_decrease_beyond_what_is_available_is_refused():
    pool = open_pool(funding=10_000)
    award(pool, amount=kr(6_000))

    assert_refused(pool, InsufficientFundsError,
                   [f"{NAME} 2022 has {text(kr(4_000))} available", f"cannot give up {text(kr(4_001))}"],
                   lambda: change_funding(pool, -4_001, date=d(4)))


def test_an_award_dated_before_a_funding_increase_cannot_use_the_increase():
    pool = open_pool(funding=10_000)
    change_funding(pool, 5_000, date=d(6))

    assert_refused(pool, InsufficientFundsError,
                   [f"has {text(kr(10_000))} available", f"cannot grant {text(kr(12_000))}"],
                   lambda: award(pool, amount=kr(12_000), date=d(3)))
    award(pool, amount=kr(12_000), date=d(6))
    assert available(pool) == kr(3_000)


def test_a_funding_decrease_dated_before_a_later_award_may_not_leave_that_award_uncovered():
    pool = open_pool(funding=10_000)
    award(pool, amount=kr(8_000), date=d(6))

    assert_refused(pool, InsufficientFundsError, [f"cannot give up {text(kr(5_000))}"],
                   lambda: change_funding(pool, -5_000, date=d(3)))
    change_funding(pool, -2_000, date=d(3))
    assert pool.available.balance_on(d(3)) == kr(8_000).ore
    assert pool.available.balance_on(d(6)) == 0


def test_the_refusal_of_an_earlier_dated_funding_decrease_names_the_date_it_would_fall_short():
    pool = open_pool(funding=10_000)
    award(pool, amount=kr(8_000), date=d(6))

    with pytest.raises(InsufficientFundsError) as refused:
        change_funding(pool, -5_000, date=d(3))

    assert (f"{NAME} 2022 has {text(kr(2_000))} available on 2022-06-01; cannot give up {text(kr(5_000))}"
            in refused.value.message)


# ---------------------------------------------------------------------- disburse


def test_payments_move_a_grant_from_awarded_to_partly_disbursed_to_disbursed():
    pool = open_pool()
    number = award(pool)

    pay(pool, number, 4_000, payment_ref=" UDB-17 ")
    assert status(pool, number) == "partly_disbursed"
    pay(pool, "btp-2022-001", 6_000, date=d(5))  # grant numbers are matched without regard to case

    events = pool.collect_events()
    assert [e.kind for e in events] == ["GrantAwarded", "GrantDisbursed", "GrantDisbursed"]
    assert (events[1].number, events[1].amount, events[1].payment_ref) == (number, kr(4_000), "UDB-17")
    assert events[2].payment_ref is None
    assert pool.grant(number).disbursed == kr(10_000).ore
    assert status(pool, number) == "disbursed"
    assert available(pool) == kr(97_000)  # paying out does not change what is committed


def test_a_payment_above_what_is_left_of_the_grant_is_refused():
    pool = open_pool()
    number = award(pool)
    pay(pool, number, 4_000)

    assert_refused(pool, GrantLimitError,
                   [f"{number} has {text(kr(6_000))} left to pay out; cannot pay {text(Money(600_001))}"],
                   lambda: pay(pool, number, Money(600_001), date=d(5)))


def test_a_payment_dated_before_the_award_is_refused():
    pool = open_pool()
    number = award(pool, date=d(3, 10))

    assert_refused(pool, DateError,
                   [f"the payment is dated 2022-03-09, before the award of {number} (2022-03-10)"],
                   lambda: pay(pool, number, 1, date=d(3, 9)))


def test_a_zero_payment_is_refused():
    pool = open_pool()
    number = award(pool)

    assert_refused(pool, DomainError, ["A payment must be more than 0 kr."], lambda: pay(pool, number, 0))


def test_a_payment_on_an_unknown_grant_is_refused():
    pool = open_pool()
    award(pool)

    assert_refused(pool, NotFoundError, [f"{NAME} 2022 has no grant 'BTP-2022-999'"],
                   lambda: pay(pool, "BTP-2022-999", 1))


def test_a_payment_on_a_withdrawn_grant_is_refused():
    pool = open_pool()
    number = award(pool)
    withdraw(pool, number)

    assert_refused(pool, GrantLimitError, [f"{number} is withdrawn"], lambda: pay(pool, number, 1, date=d(7)))


def test_a_payment_on_a_reversed_grant_is_refused():
    pool = open_pool()
    number = award(pool)
    reverse(pool, pool.grant(number).award_version)

    assert_refused(pool, GrantLimitError, [f"{number} was reversed"], lambda: pay(pool, number, 1))


def test_a_payment_dated_before_an_earlier_recorded_payment_must_keep_paid_within_awarded_on_every_date():
    pool = open_pool()
    number = award(pool)  # 10.000 on 1 March
    pay(pool, number, 6_000, date=d(6))

    # 5.000 on 1 April would make 11.000 paid from 1 June on.
    assert_refused(pool, GrantLimitError, [f"{number} has {text(kr(4_000))} left to pay out",
                                           f"cannot pay {text(kr(5_000))}"],
                   lambda: pay(pool, number, 5_000, date=d(4)))
    pay(pool, number, 4_000, date=d(4))
    assert pool.grant(number).payable.balance_on(d(4)) == kr(6_000).ore
    assert pool.grant(number).payable.balance_on(d(6)) == 0


# ---------------------------------------------------------------------- take back


def test_money_returned_frees_it_for_new_grants():
    pool = open_pool()
    number = award(pool)
    pay(pool, number, 10_000)

    take_back(pool, number, 3_000)

    g = pool.grant(number)
    assert (g.disbursed, g.returned, g.committed) == (kr(10_000).ore, kr(3_000).ore, kr(7_000).ore)
    assert available(pool) == kr(100_000)
    event = pool.collect_events()[-1]
    assert (event.kind, event.amount, event.reason) == ("GrantReturned", kr(3_000), "Ubrugte midler")
    assert status(pool, number) == "disbursed"


def test_more_than_was_paid_out_cannot_be_taken_back():
    pool = open_pool()
    number = award(pool)
    pay(pool, number, 6_000)

    assert_refused(pool, GrantLimitError,
                   [f"{number} has {text(kr(6_000))} paid out and not returned; cannot take back {text(kr(6_001))}"],
                   lambda: take_back(pool, number, 6_001))


def test_a_return_dated_before_the_payment_it_returns_is_refused():
    pool = open_pool()
    number = award(pool)
    pay(pool, number, 6_000, date=d(6))

    assert_refused(pool, GrantLimitError, [f"{number} has {text(kr(0))} paid out and not returned"],
                   lambda: take_back(pool, number, 1_000, date=d(5)))
    take_back(pool, number, 1_000, date=d(6))


def test_a_return_needs_a_reason_and_an_amount():
    pool = open_pool()
    number = award(pool)
    pay(pool, number, 6_000)

    assert_refused(pool, DomainError, ["The reason for a return must not be empty"],
                   lambda: take_back(pool, number, 1, reason=" "))
    assert_refused(pool, DomainError, ["A return must be more than 0 kr."], lambda: take_back(pool, number, 0))


def test_a_return_is_refused_on_a_reversed_grant_and_on_an_unknown_one():
    pool = open_pool()
    number = award(pool)
    reverse(pool, pool.grant(number).award_version)

    assert_refused(pool, GrantLimitError, [f"{number} was reversed; nothing can be returned on it"],
                   lambda: take_back(pool, number, 1))
    assert_refused(pool, NotFoundError, ["has no grant 'BTP-2022-002'"], lambda: take_back(pool, "BTP-2022-002", 1))


def test_money_paid_out_on_a_withdrawn_grant_can_still_come_back():
    pool = open_pool()
    number = award(pool)
    pay(pool, number, 4_000)
    withdraw(pool, number)

    take_back(pool, number, 4_000, date=d(7))

    assert pool.grant(number).committed == 0
    assert available(pool) == kr(107_000)


# ---------------------------------------------------------------------- withdraw


def test_withdrawing_a_grant_releases_exactly_what_is_not_paid_out():
    pool = open_pool()
    number = award(pool)
    pay(pool, number, 3_000)

    released = withdraw(pool, number)

    assert released == kr(7_000)
    event = pool.collect_events()[-1]
    assert (event.kind, event.number, event.released, event.reason) == (
        "GrantWithdrawn", number, kr(7_000), "Arrangementet aflyst")
    g = pool.grant(number)
    assert (g.withdrawn, g.committed) == (kr(7_000).ore, kr(3_000).ore)
    assert available(pool) == kr(104_000)
    assert status(pool, number) == "withdrawn"


def test_a_grant_paid_out_in_full_cannot_be_withdrawn():
    pool = open_pool()
    number = award(pool)
    pay(pool, number, 10_000)

    assert_refused(pool, GrantLimitError, [f"{number} is paid out in full; nothing is left to withdraw"],
                   lambda: withdraw(pool, number))


def test_a_grant_cannot_be_withdrawn_twice_nor_before_its_award_nor_without_a_reason():
    pool = open_pool()
    number = award(pool)

    assert_refused(pool, DateError, [f"the withdrawal is dated 2022-02-01, before the award of {number} (2022-03-01)"],
                   lambda: withdraw(pool, number, date=d(2)))
    assert_refused(pool, DomainError, ["The reason for withdrawing a grant must not be empty"],
                   lambda: withdraw(pool, number, reason=None))
    withdraw(pool, number)
    assert_refused(pool, GrantLimitError, [f"{number} is withdrawn"], lambda: withdraw(pool, number, date=d(7)))


def test_a_withdrawal_dated_while_a_later_reversed_payment_still_stood_is_refused():
    pool = open_pool()
    number = award(pool)
    payment = pay(pool, number, 10_000, date=d(6))
    reverse(pool, payment, date=d(8))  # the whole grant is unpaid again from 1 August

    assert_refused(pool, GrantLimitError, [f"{number} had only {text(kr(0))} unpaid",
                                           "date the withdrawal after its last payment"],
                   lambda: withdraw(pool, number, date=d(7)))
    assert withdraw(pool, number, date=d(8)) == kr(10_000)


# ---------------------------------------------------------------------- close


def a_year_of_grants() -> tuple[Pool, dict[str, str]]:
    """Paid in full, partly paid, withdrawn, reversed and untouched grants."""
    pool = open_pool()
    paid = award(pool, amount=kr(10_000))
    pay(pool, paid, 10_000)
    partly = award(pool, amount=kr(20_000))
    pay(pool, partly, 5_000)
    withdrawn = award(pool, amount=kr(5_000))
    withdraw(pool, withdrawn)
    reversed_ = award(pool, amount=kr(3_000))
    reverse(pool, pool.grant(reversed_).award_version)
    untouched = award(pool, amount=kr(1_000))
    return pool, dict(paid=paid, partly=partly, withdrawn=withdrawn, reversed=reversed_, untouched=untouched)


def test_closing_records_the_unspent_amount_and_what_is_still_to_be_paid_out():
    pool, _ = a_year_of_grants()
    pool.collect_events()

    close(pool, decided_by="Arbejdsgruppen")

    (event,) = pool.collect_events()
    assert event.kind == "Closed"
    assert event.unspent == kr(107_000 - 10_000 - 20_000 - 1_000)
    assert event.outstanding == kr(15_000 + 1_000)
    assert (event.decided_by, event.decision_ref, event.date) == (BODY, "AG 2022-12", d(12, 31))
    assert pool.closed_on == d(12, 31)
    assert pool.unspent == kr(76_000).ore


def test_each_grant_has_the_status_its_history_gives_it_before_and_after_the_close():
    pool, n = a_year_of_grants()

    before = {k: status(pool, v) for k, v in n.items()}
    close(pool)
    after = {k: status(pool, v) for k, v in n.items()}

    assert before == dict(paid="disbursed", partly="partly_disbursed", withdrawn="withdrawn",
                          reversed="reversed", untouched="awarded")
    assert after == dict(paid="disbursed", partly="closed", withdrawn="withdrawn",
                         reversed="reversed", untouched="closed")


def test_a_pool_is_closed_by_its_own_body_only():
    pool = open_pool()

    assert_refused(pool, AuthorityError, [f"Closing {NAME} is decided by arbejdsgruppen, not by styregruppen"],
                   lambda: close(pool, decided_by="styregruppen"))
    assert_refused(pool, DomainError, ["The decision reference must not be empty"],
                   lambda: close(pool, decision_ref=None))


def test_a_pool_cannot_be_closed_on_a_date_before_its_last_entry():
    pool = open_pool()
    number = award(pool)
    pay(pool, number, 1_000, date=d(11, 15))

    assert_refused(pool, DateError,
                   ["closing the pool is dated 2022-11-14, before its last entry (2022-11-15)"],
                   lambda: close(pool, date=d(11, 14)))
    close(pool, date=d(11, 15))


AFTER_CLOSE = {
    "award": lambda pool, n: award(pool, date=d(12, 31)),
    "disburse": lambda pool, n: pay(pool, n["partly"], 1, date=d(12, 31)),
    "take_back": lambda pool, n: take_back(pool, n["paid"], 1, date=d(12, 31)),
    "withdraw": lambda pool, n: withdraw(pool, n["partly"], date=d(12, 31)),
    "increase_funding": lambda pool, n: change_funding(pool, 1_000, date=d(12, 31)),
    "decrease_funding": lambda pool, n: change_funding(pool, -1_000, date=d(12, 31)),
    "reverse": lambda pool, n: reverse(pool, pool.grant(n["untouched"]).award_version),
    "close_again": lambda pool, n: close(pool),
}


@pytest.mark.parametrize("command", AFTER_CLOSE.values(), ids=AFTER_CLOSE.keys())
def test_after_the_close_everything_is_refused(command):
    pool, numbers = a_year_of_grants()
    close(pool)

    assert_refused(pool, PoolClosedError,
                   [f"{NAME} 2022 was closed on 2022-12-31; nothing more can be recorded on it"],
                   lambda: command(pool, numbers))


# ---------------------------------------------------------------------- reverse


def test_reversing_an_award_frees_its_money_and_marks_the_grant_reversed():
    pool = open_pool()
    number = award(pool)
    version = pool.version
    pool.collect_events()

    reversal = reverse(pool, version)

    (event,) = pool.collect_events()
    assert (event.kind, event.reversed_version, event.reversed_kind, event.number, event.amount) == (
        "EntryReversed", version, "GrantAwarded", number, kr(10_000))
    assert (event.reason, event.date, event.originator_version) == ("Fejlindtastning", d(3), reversal)
    assert available(pool) == kr(107_000)
    assert pool.committed == 0
    assert status(pool, number) == "reversed"
    assert pool.entries[version].reversed_by == reversal
    assert award(pool) == "BTP-2022-002"  # the number is not reused


def test_an_award_with_payments_or_a_withdrawal_cannot_be_reversed():
    pool = open_pool()
    paid = award(pool)
    pay(pool, paid, 1_000)
    withdrawn = award(pool)
    withdraw(pool, withdrawn)

    for number, since in ((paid, "2022-04-01"), (withdrawn, "2022-06-01")):
        assert_refused(pool, ReversalError,
                       [f"{number} has payments, returns or a withdrawal on {since}; reverse those first"],
                       lambda: reverse(pool, pool.grant(number).award_version))


def test_an_award_can_be_reversed_once_its_payment_is_reversed():
    pool = open_pool()
    number = award(pool)
    payment = pay(pool, number, 1_000)

    reverse(pool, payment)
    reverse(pool, pool.grant(number).award_version, date=d(4))

    assert status(pool, number) == "reversed"
    assert available(pool) == kr(107_000)


def test_an_award_cannot_be_reversed_to_a_date_before_a_payment_that_was_reversed_only_later():
    pool = open_pool()
    number = award(pool)  # 10.000 on 1 March
    payment = pay(pool, number, 10_000, date=d(6))
    reverse(pool, payment, date=d(9))  # the payment stood from 1 June to 1 September

    # Reversing the award as of 1 March would leave 10.000 paid on a grant of 0 from June to September.
    assert_refused(pool, ReversalError,
                   [f"{number} has payments, returns or a withdrawal on 2022-06-01; reverse those first"],
                   lambda: reverse(pool, pool.grant(number).award_version))
    reverse(pool, pool.grant(number).award_version, date=d(9))  # as of September it may go
    assert status(pool, number) == "reversed"
    assert available(pool) == kr(107_000)


def test_reversing_a_payment_makes_it_payable_again():
    pool = open_pool()
    number = award(pool)
    payment = pay(pool, number, 10_000)

    reverse(pool, payment)

    assert pool.grant(number).disbursed == 0
    assert status(pool, number) == "awarded"
    pay(pool, number, 10_000)


def test_a_payment_that_returns_depend_on_cannot_be_reversed():
    pool = open_pool()
    number = award(pool)
    payment = pay(pool, number, 10_000)
    take_back(pool, number, 2_000)

    assert_refused(pool, ReversalError,
                   [f"{number} has returns that depend on this payment on 2022-05-01; reverse those first"],
                   lambda: reverse(pool, payment))


def test_a_payment_on_a_withdrawn_grant_cannot_be_reversed():
    pool = open_pool()
    number = award(pool)
    payment = pay(pool, number, 4_000)
    withdraw(pool, number)

    assert_refused(pool, ReversalError, [f"{number} is withdrawn; reverse the withdrawal first"],
                   lambda: reverse(pool, payment))


def test_reversing_a_return_commits_the_money_again():
    pool = open_pool()
    number = award(pool)
    pay(pool, number, 10_000)
    back = take_back(pool, number, 3_000)

    reverse(pool, back)

    assert pool.grant(number).returned == 0
    assert available(pool) == kr(97_000)


def test_a_return_cannot_be_reversed_when_its_money_has_been_granted_again():
    pool = open_pool(funding=10_000)
    number = award(pool)
    pay(pool, number, 10_000)
    back = take_back(pool, number, 3_000)
    award(pool, amount=kr(3_000), date=d(5))

    assert_refused(pool, InsufficientFundsError,
                   [f"has {text(kr(0))} available", f"cannot take back again {text(kr(3_000))}"],
                   lambda: reverse(pool, back))


def test_reversing_a_withdrawal_makes_the_grant_live_again():
    pool = open_pool()
    number = award(pool)
    pay(pool, number, 4_000)
    withdrawal = pool.version + 1
    withdraw(pool, number)

    reverse(pool, withdrawal)

    g = pool.grant(number)
    assert (g.withdrawn, g.committed) == (0, kr(10_000).ore)
    assert status(pool, number) == "partly_disbursed"
    assert available(pool) == kr(97_000)
    pay(pool, number, 6_000, date=d(7))


def test_a_withdrawal_cannot_be_reversed_when_the_released_money_has_been_granted_again():
    pool = open_pool(funding=10_000)
    number = award(pool)
    withdraw(pool, number)
    withdrawal = pool.version
    award(pool, amount=kr(1), date=d(7))

    assert_refused(pool, InsufficientFundsError, [f"cannot commit again {text(kr(10_000))}"],
                   lambda: reverse(pool, withdrawal))


def test_an_entry_cannot_be_reversed_twice():
    pool = open_pool()
    number = award(pool)
    payment = pay(pool, number, 1_000)
    reversal = reverse(pool, payment)

    assert_refused(pool, ReversalError, [f"that entry was already reversed (pool version {reversal})"],
                   lambda: reverse(pool, payment))


@pytest.mark.parametrize("which", ["opening", "funding", "reversal", "unknown"])
def test_only_a_grants_award_payment_return_or_withdrawal_can_be_reversed(which):
    pool = open_pool()
    funding = change_funding(pool, 1_000)
    number = award(pool)
    reversal = reverse(pool, pay(pool, number, 1))
    version = {"opening": 1, "funding": funding, "reversal": reversal, "unknown": 99}[which]

    assert_refused(pool, ReversalError, [f"version {version} of {NAME} 2022 cannot be reversed"],
                   lambda: reverse(pool, version))


def test_a_reversal_needs_a_reason_and_a_date_not_before_the_entry():
    pool = open_pool()
    number = award(pool)
    payment = pay(pool, number, 1_000, date=d(4))

    assert_refused(pool, DomainError, ["The reason for a reversal must not be empty"],
                   lambda: reverse(pool, payment, reason=""))
    assert_refused(pool, DateError, ["the reversal is dated 2022-03-31, before the entry it reverses (2022-04-01)"],
                   lambda: reverse(pool, payment, date=d(3, 31)))


# ---------------------------------------------------------------------- replay


def test_a_pool_rebuilt_from_its_events_or_a_snapshot_has_the_same_state():
    pool = Pool.open_for_year(
        id=uuid4(), plan_id=uuid4(), partnership="Tingbjerg-Husum", key="bylivs-og-tryghedspulje",
        code="BTP", name=NAME, year=2022, line="14", areas=AREAS, decided_by=BODY,
        funding=kr(107_000), timestamp=RECORDED, actor="t", date=OPENED_ON, decision_ref="ref",
    )
    events = pool.collect_events()
    paid = award(pool, amount=kr(10_000))
    pay(pool, paid, 10_000)
    take_back(pool, paid, 2_000)
    withdrawn = award(pool)
    withdraw(pool, withdrawn)
    change_funding(pool, -1_000, date=d(7))
    close(pool)
    events += pool.collect_events()

    rebuilt = project_aggregate(None, events)
    restored = Snapshot.take(pool).mutate(None)

    assert rebuilt.snapshot_state() == pool.snapshot_state()
    assert restored.snapshot_state() == pool.snapshot_state()
    assert (rebuilt.version, restored.version) == (pool.version, pool.version)
