"""Tests written against the mutants that survived mutation testing of `domain/` (docs/mutation.md).

Each test pins something a user or another program relies on and that the
other tests left loose: the exact sentence of a refusal (the command line
prints it as it is), the derived ids (a second import must collide with the
first, so they may never drift), the money type's contract, and a grant's
status. No database.
"""

from __future__ import annotations

import copy
import datetime as dt
import pickle
from uuid import UUID

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from domain import ids
from domain.errors import AmountError, AuthorityError, DateError, DomainError, KeyConflictError
from domain.money import MAX_ORE, ZERO, Money, format_ore, parse_amount
from domain.rules import body_key, check_body, check_not_before, check_year, required_text
from domain.status import GRANT_STATUSES, grant_status

NBSP = "\u00a0"


# ---------------------------------------------------------------------- Money


def test_money_refuses_what_is_not_an_int_naming_its_type() -> None:
    with pytest.raises(TypeError) as error:
        Money(1.0)  # type: ignore[arg-type]
    assert str(error.value) == "Money needs an int of øre, not float"
    with pytest.raises(TypeError) as error:
        Money.kroner("5")  # type: ignore[arg-type]
    assert str(error.value) == "Money.kroner needs an int, not str"
    assert Money.kroner(5) == Money(500) and Money.kroner(0) == ZERO


def test_money_is_immutable_and_says_so() -> None:
    money = Money(5)
    with pytest.raises(AttributeError) as error:
        money.ore = 6  # type: ignore[misc]
    assert str(error.value) == "Money is immutable"
    with pytest.raises(AttributeError) as error:
        del money.ore
    assert str(error.value) == "Money is immutable"
    assert money.ore == 5


def test_money_orders_by_ore_and_refuses_to_compare_with_a_number() -> None:
    assert Money(1) < Money(2) and not Money(2) < Money(1) and not Money(2) < Money(2)
    assert Money(2) <= Money(2) and Money(3) > Money(2) and Money(2) >= Money(2)
    assert sorted([Money(3), Money(-1), Money(2)]) == [Money(-1), Money(2), Money(3)]
    for combine in (lambda: Money(1) < 2, lambda: Money(1) + 2, lambda: Money(1) - 2):
        with pytest.raises(TypeError) as error:
            combine()
        assert str(error.value) == "cannot combine Money with int"


def test_money_arithmetic_and_truth() -> None:
    assert Money(7) + Money(5) == Money(12)
    assert Money(7) - Money(5) == Money(2)
    assert -Money(7) == Money(-7)
    assert bool(Money(1)) and bool(Money(-1)) and not bool(ZERO)
    assert repr(Money(-7)) == "Money(-7)"


def test_equal_money_hashes_equal_and_different_amounts_apart() -> None:
    assert hash(Money(5)) == hash(Money(5))
    assert len({hash(Money(n)) for n in range(50)}) == 50
    assert {Money(5), Money(5), Money(6)} == {Money(5), Money(6)}


def test_money_copies_and_pickles_as_itself() -> None:
    money = Money(123)
    assert copy.copy(money) is money and copy.deepcopy(money) is money
    assert pickle.loads(pickle.dumps(money)) == money
    assert money.__reduce__() == (Money, (123,))


def test_money_formats_in_danish_by_default_and_in_another_locale_when_asked() -> None:
    assert Money(10_700_000).format() == f"107.000,00{NBSP}kr."
    assert str(Money(-5)) == f"-0,05{NBSP}kr."
    assert Money(10_700_000).format(locale="en_US") == "DKK107,000.00"
    assert format_ore(10_700_050) == f"107.000,50{NBSP}kr."
    assert format_ore(10_700_000, "en_US") == "DKK107,000.00"


def test_money_in_a_new_model_is_an_int_of_ore_read_back_strictly() -> None:
    """The pydantic schema is built when a model is made: make one here."""
    adapter = TypeAdapter(Money)
    assert adapter.validate_json("500") == Money(500)
    assert adapter.validate_python(500) == Money(500)
    assert adapter.validate_python(Money(7)) == Money(7)
    assert adapter.dump_python(Money(500)) == 500 and adapter.dump_json(Money(500)) == b"500"
    for bad_json in ('"500"', "5.0", "true", "null"):
        with pytest.raises(ValidationError):
            adapter.validate_json(bad_json)
    for bad in ("500", 5.0, True, None):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)

    class Row(BaseModel):
        amount: Money

    assert Row(amount=Money(3)).model_dump() == {"amount": 3}
    assert Row(amount=Money(3)).model_dump_json() == '{"amount":3}'
    assert Row.model_validate_json('{"amount":3}').amount == Money(3)
    schema = adapter.json_schema()
    assert schema["type"] == "integer"


# ---------------------------------------------------------------------- parse_amount: every refusal's sentence


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (107, "107 is not an amount: write it as text such as 107.000"),
        ("", "'' is not an amount: it has no digits"),
        ("kr.", "'kr.' is not an amount: it has no digits"),
        ("-5", "'-5' is negative: amounts are written without a sign"),
        ("\u22125", "'\u22125' is negative: amounts are written without a sign"),
        ("\u20135", "'\u20135' is negative: amounts are written without a sign"),
        ("+5", "'+5' is not an amount: write it without a '+' sign"),
        ("\u0661\u0660", "'\u0661\u0660' is not an amount: use the digits 0-9"),
        ("1,2,-", "'1,2,-' is not an amount: it has more than one comma"),
        ("1,2,3", "'1,2,3' is not an amount: it has more than one comma"),
        ("1,234", "'1,234' is not an amount: write øre as one or two digits after the comma, e.g. 107.000,50"),
        ("1,", "'1,' is not an amount: write øre as one or two digits after the comma, e.g. 107.000,50"),
        ("100000000000", "'100000000000' is too large: the most one entry can carry is 10.000.000.000 kr."),
        ("10.000.000.000,01", "'10.000.000.000,01' is too large: the most one entry can carry is 10.000.000.000 kr."),
        ("0", "'0' is zero: an amount that moves money must be more than 0 kr."),
        ("0,00 kr.", "'0,00 kr.' is zero: an amount that moves money must be more than 0 kr."),
        ("007", "'007' is not an amount: remove the leading zeros"),
        ("1.5", "'1.5' is not an amount: '.' separates thousands in groups of three (107.000) and ',' comes before øre (107,50)"),
        ("1.00.0", "'1.00.0' is not an amount: '.' separates thousands in groups of three (107.000) and ',' comes before øre (107,50)"),
        ("1e9", "'1e9' is not an amount: write kroner such as 107.000 or 107.000,50"),
        ("1" * 41, f"'{'1' * 37}...' is too large: the most one entry can carry is 10.000.000.000 kr."),
    ],
)
def test_each_refused_amount_gets_its_own_sentence(text: object, message: str) -> None:
    with pytest.raises(AmountError) as error:
        parse_amount(text)
    assert str(error.value) == message
    assert error.value.message == message


@pytest.mark.parametrize(
    ("text", "ore"),
    [
        ("107.000", 10_700_000), ("107.000,5", 10_700_050), ("107.000,05", 10_700_005), ("107,-", 10_700),
        ("kr. 5", 500), ("KR 5", 500), ("DKK 5", 500), ("5 dkk", 500), ("5kr", 500), ("5 kr.", 500),
        (f"{NBSP}5,50{NBSP}kr.{NBSP}", 550), ("10.000.000.000", MAX_ORE), ("0,01", 1), ("1.000.000,99", 100_000_099),
    ],
)
def test_accepted_amounts_are_read_to_the_exact_ore(text: str, ore: int) -> None:
    assert parse_amount(text) == Money(ore)


def test_zero_is_read_when_allowed_and_a_forty_character_input_is_shown_whole() -> None:
    assert parse_amount("0", allow_zero=True) == ZERO
    assert parse_amount("0,00", allow_zero=True) == ZERO
    forty = "1" * 40
    with pytest.raises(AmountError) as error:
        parse_amount(forty)
    assert str(error.value).startswith(f"'{forty}' is too large")


def test_eleven_digits_pass_the_digit_count_and_twelve_do_not() -> None:
    with pytest.raises(AmountError) as error:
        parse_amount("10000000001")  # 11 digits, over the ceiling by one krone
    assert str(error.value) == "'10000000001' is too large: the most one entry can carry is 10.000.000.000 kr."
    assert parse_amount("10000000000") == Money(MAX_ORE)


# ---------------------------------------------------------------------- errors, rules, ids, status


def test_a_domain_error_carries_its_sentence() -> None:
    error = AmountError("x is not an amount")
    assert error.message == "x is not an amount" and str(error) == "x is not an amount"
    assert isinstance(error, ValueError) and isinstance(error, DomainError)


def test_body_names_compare_without_case_form_or_spacing() -> None:
    assert body_key("  \u00d8KONOMIFORVALTNINGEN  ") == "økonomiforvaltningen"
    assert body_key("O\u0308kono  mi") == "\u00f6kono mi"
    assert body_key("Arbejds\tGruppen") == "arbejds gruppen"


def test_the_deciding_body_is_checked_with_one_sentence() -> None:
    assert check_body(" ARBEJDSGRUPPEN ", "arbejdsgruppen", "A grant") == "arbejdsgruppen"
    for missing in (None, "", "   "):
        with pytest.raises(AuthorityError) as error:
            check_body(missing, "arbejdsgruppen", "A grant")
        assert str(error.value) == "A grant must name the deciding body: arbejdsgruppen"
    with pytest.raises(AuthorityError) as error:
        check_body(" styregruppen ", "arbejdsgruppen", "A grant")
    assert str(error.value) == "A grant is decided by arbejdsgruppen, not by styregruppen"


def test_dates_are_checked_with_one_sentence() -> None:
    check_year(dt.date(2022, 12, 31), 2022, "A grant")
    with pytest.raises(DateError) as error:
        check_year(dt.date(2023, 1, 1), 2022, "A grant")
    assert str(error.value) == "A grant is dated 2023-01-01, outside 2022"
    check_not_before(dt.date(2022, 3, 1), dt.date(2022, 3, 1), "A payment", "the award")
    with pytest.raises(DateError) as error:
        check_not_before(dt.date(2022, 2, 28), dt.date(2022, 3, 1), "A payment", "the award")
    assert str(error.value) == "A payment is dated 2022-02-28, before the award (2022-03-01)"


def test_required_text_is_stripped_and_refused_when_empty() -> None:
    assert required_text("  Tryghedsvandring ", "The purpose") == "Tryghedsvandring"
    for empty in (None, "", " \t "):
        with pytest.raises(DomainError) as error:
            required_text(empty, "The purpose")
        assert str(error.value) == "The purpose must not be empty"


def test_derived_ids_never_drift() -> None:
    """Ids are part of what is stored: the v1 fixture's plan has exactly this id."""
    assert ids.plan_id("Tingbjerg-Husum", 2022) == UUID("592b63d6-39aa-5357-b58a-28ed5d1dc983")
    assert ids.plan_id("  tingbjerg-HUSUM ", 2022) == ids.plan_id("Tingbjerg-Husum", 2022)
    assert ids.pool_id("Tingbjerg-Husum", "BTP", 2022) == UUID("1ef5fbb9-78cf-5345-8f69-e83e31543360")
    assert ids.pool_id("tingbjerg-husum", "btp", 2022) == ids.pool_id("Tingbjerg-Husum", "BTP", 2022)
    assert ids.command_key_id("k1") == UUID("844d589e-f3a7-5931-bc3f-a9f0d8d3e186")
    assert ids.event_id(UUID("592b63d6-39aa-5357-b58a-28ed5d1dc983"), 3) == UUID("427a4f8e-6b58-5bd6-b934-6f19dadcebcf")


@pytest.mark.parametrize(
    ("figures", "status"),
    [
        ((100, 0, 0, True, True), "reversed"),
        ((100, 50, 50, False, True), "withdrawn"),
        ((100, 50, 0, False, True), "closed"),
        ((100, 100, 0, False, True), "disbursed"),
        ((100, 0, 0, False, False), "awarded"),
        ((100, 1, 0, False, False), "partly_disbursed"),
        ((100, 99, 0, False, False), "partly_disbursed"),
        ((100, 100, 0, False, False), "disbursed"),
        ((100, 0, 0, False, True), "closed"),
    ],
)
def test_a_grants_status_follows_from_its_figures(figures: tuple, status: str) -> None:
    assert grant_status(*figures) == status
    assert status in GRANT_STATUSES


def test_a_command_key_reused_for_another_command_is_refused_in_one_sentence() -> None:
    from uuid import uuid4

    from domain.keys import CommandKey

    key = CommandKey.record(
        id=uuid4(), key="k1", command="grant award", digest="d1", target_id=uuid4(), target_version=3, grant="BTP-2022-001",
        timestamp=dt.datetime(2022, 3, 1, tzinfo=dt.timezone.utc), actor="t", date=dt.date(2022, 3, 1),
    )
    assert (key.key, key.command, key.digest, key.target_version, key.grant) == ("k1", "grant award", "d1", 3, "BTP-2022-001")
    key.check_same("grant award", "d1")
    for command, digest in (("grant award", "d2"), ("grant disburse", "d1")):
        with pytest.raises(KeyConflictError) as error:
            key.check_same(command, digest)
        assert str(error.value) == (
            "the key 'k1' was already used for another command (grant award); use a new key for a new command"
        )


# ---------------------------------------------------------------------- the pool's refusals, to the letter

from tests.unit import test_plan as plan_helpers  # noqa: E402
from tests.unit import test_pool as pool_helpers  # noqa: E402
from domain.errors import GrantLimitError, PlanError  # noqa: E402
from domain.timeline import Timeline  # noqa: E402

RECORDED = pool_helpers.RECORDED
D = pool_helpers.d


def refused(error: type[Exception], command) -> str:
    with pytest.raises(error) as raised:
        command()
    return str(raised.value)


def test_a_funding_change_of_zero_is_refused_and_one_ore_is_not() -> None:
    pool = pool_helpers.open_pool()
    cause = UUID(int=7)

    def change(ore: int, date: dt.date = D(2), reverses: int | None = None) -> None:
        pool.change_funding(change=Money(ore), cause_id=cause, cause_version=3, date=date, decided_by="ØKF",
                            decision_ref="ØU", reason="Omdisponering", actor="t", timestamp=RECORDED, reverses=reverses)

    assert refused(DomainError, lambda: change(0)) == "a change to a pool's funding must move more than 0 kr."
    change(1)
    version = pool.version
    assert pool.funding == 10_700_001
    assert refused(DateError, lambda: change(5, dt.date(2021, 12, 31))) == (
        "the change to the pool's funding is dated 2021-12-31, before the pool opened (2022-01-01)"
    )
    change(-1, reverses=version)
    assert pool.entries[version].reversed_by == pool.version
    assert pool.collect_events()[-1].reverses == version


def test_an_award_needs_a_positive_amount_applied_for_and_one_ore_is_enough() -> None:
    pool = pool_helpers.open_pool()
    assert refused(DomainError, lambda: pool_helpers.award(pool, requested=Money(0))) == (
        "the amount applied for must be more than 0 kr."
    )
    assert refused(DomainError, lambda: pool_helpers.award(pool, amount=Money(0))) == "A grant must be more than 0 kr."
    number = pool_helpers.award(pool, amount=Money(1), requested=Money(1))
    assert pool.grant(number).awarded == 1 and pool.grant(number).requested == 1


def test_payment_refusals_name_what_is_left_and_the_date_it_is_lowest() -> None:
    pool = pool_helpers.open_pool()
    number = pool_helpers.award(pool, amount=pool_helpers.kr(1_000), date=D(3))
    pool_helpers.pay(pool, number, 1_000, date=D(6))
    assert refused(GrantLimitError, lambda: pool_helpers.pay(pool, number, Money(1), date=D(7))) == (
        f"{number} has 0,00{NBSP}kr. left to pay out; cannot pay 0,01{NBSP}kr."
    )
    assert refused(GrantLimitError, lambda: pool_helpers.pay(pool, number, Money(1), date=D(4))) == (
        f"{number} has 0,00{NBSP}kr. left to pay out on 2022-06-01; cannot pay 0,01{NBSP}kr."
    )
    assert refused(DateError, lambda: pool_helpers.take_back(pool, number, Money(1), date=D(2))) == (
        f"the return is dated 2022-02-01, before the award of {number} (2022-03-01)"
    )
    pool_helpers.take_back(pool, number, 100, date=D(8))
    assert refused(GrantLimitError, lambda: pool_helpers.take_back(pool, number, 950, date=D(7))) == (
        f"{number} has 900,00{NBSP}kr. paid out and not returned on 2022-08-01; cannot take back 950,00{NBSP}kr."
    )


def test_a_withdrawal_before_a_later_payment_names_that_date_and_one_unpaid_ore_can_be_withdrawn() -> None:
    pool = pool_helpers.open_pool()
    number = pool_helpers.award(pool, amount=pool_helpers.kr(1_000), date=D(3))
    paid = pool_helpers.pay(pool, number, 1_000, date=D(6))
    pool_helpers.reverse(pool, paid, date=D(8))  # unpaid again from August, but not in June and July
    assert refused(GrantLimitError, lambda: pool_helpers.withdraw(pool, number, date=D(4))) == (
        f"{number} had only 0,00{NBSP}kr. unpaid on 2022-06-01; date the withdrawal after its last payment"
    )
    second = pool_helpers.award(pool, amount=Money(101), date=D(3))
    pool_helpers.pay(pool, second, Money(100), date=D(4))
    assert pool_helpers.withdraw(pool, second, date=D(5)) == Money(1)


def test_a_reversed_grant_keeps_its_entries_and_a_return_on_it_is_refused() -> None:
    pool = pool_helpers.open_pool()
    number = pool_helpers.award(pool, amount=pool_helpers.kr(1_000), date=D(3))
    awarded = pool.version
    pool_helpers.reverse(pool, awarded)
    assert refused(GrantLimitError, lambda: pool_helpers.take_back(pool, number, Money(1))) == (
        f"{number} was reversed; nothing can be returned on it"
    )
    assert refused(GrantLimitError, lambda: pool_helpers.pay(pool, number, Money(1))) == f"{number} was reversed"


def test_a_closed_pool_counts_one_unpaid_ore_as_outstanding() -> None:
    pool = pool_helpers.open_pool()
    number = pool_helpers.award(pool, amount=Money(101), date=D(3))
    pool_helpers.pay(pool, number, Money(100), date=D(4))
    pool_helpers.close(pool)
    closed = pool.collect_events()[-1]
    assert closed.outstanding == Money(1) and closed.unspent == Money(10_700_000 - 101)
    assert grant_status(101, 100, 0, False, True) == "closed"


def test_a_snapshot_restores_the_count_of_entries_after_the_close_and_its_time() -> None:
    from domain.base import Snapshot
    from domain.pool import Pool

    pool = pool_helpers.open_pool()
    pool_helpers.close(pool)
    pool.after_close = 2
    snapshot = Snapshot.take(pool)
    restored = snapshot.mutate(None)
    assert restored.after_close == 2
    assert restored.modified_on == pool.modified_on == RECORDED
    old = dict(snapshot.state)
    del old["after_close"]  # a snapshot taken before the field existed
    older = Snapshot(originator_id=pool.id, originator_version=pool.version, timestamp=RECORDED,
                     topic=snapshot.topic, state=old).mutate(None)
    assert older.after_close == 0 and isinstance(older, Pool)


def test_an_event_records_its_time_in_utc_and_refuses_a_naive_or_other_offset_time_from_python_or_json() -> None:
    from uuid import uuid4

    from domain.keys import CommandKey

    fields = {
        "originator_id": uuid4(), "originator_version": 1, "originator_topic": "domain.keys:CommandKey", "actor": "t",
        "date": dt.date(2022, 1, 3), "key": "k", "command": "c", "digest": "d", "target_id": uuid4(),
        "target_version": 1, "grant": None,
    }
    event = CommandKey.Recorded(**fields, timestamp=dt.datetime(2022, 1, 3, 9, tzinfo=dt.timezone.utc))
    assert event.timestamp.utcoffset() == dt.timedelta(0)
    as_json = event.model_dump_json()
    assert CommandKey.Recorded.model_validate_json(as_json) == event
    cet = dt.timezone(dt.timedelta(hours=1))
    for wrong in (dt.datetime(2022, 1, 3, 9), dt.datetime(2022, 1, 3, 10, tzinfo=cet)):
        with pytest.raises(ValidationError, match="timestamp"):
            CommandKey.Recorded(**fields, timestamp=wrong)
    for wrong_text in ("2022-01-03T09:00:00", "2022-01-03T10:00:00+01:00"):
        with pytest.raises(ValidationError, match="timestamp"):
            CommandKey.Recorded.model_validate_json(as_json.replace("2022-01-03T09:00:00Z", wrong_text))
    assert "2022-01-03T09:00:00Z" in as_json


def test_a_recorded_time_is_the_one_given_not_the_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    from uuid import uuid4

    from domain.base import utc
    from domain.keys import CommandKey

    key = CommandKey.record(
        id=uuid4(), key="k", command="c", digest="d", target_id=uuid4(), target_version=1, grant=None,
        timestamp=RECORDED, actor="t", date=dt.date(2022, 1, 3),
    )
    assert key.created_on == RECORDED and key.collect_events()[0].timestamp == RECORDED
    with pytest.raises(ValueError) as error:
        utc(dt.datetime(2022, 1, 1, 12))
    assert str(error.value) == "a naive datetime has no place in the ledger; give it a timezone"
    cet = dt.timezone(dt.timedelta(hours=1))
    monkeypatch.setenv("TZ", "America/New_York")
    import time

    time.tzset()
    try:
        converted = utc(dt.datetime(2022, 1, 1, 12, tzinfo=cet))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert converted.tzinfo is dt.timezone.utc and converted.hour == 11


# ---------------------------------------------------------------------- the plan's refusals, to the letter


def test_reallocation_refusals_to_the_letter() -> None:
    plan = plan_helpers.adopted()
    assert refused(DomainError, lambda: plan_helpers.reallocate(plan, amount=Money(0))) == (
        "a reallocation must move more than 0 kr."
    )
    assert refused(AuthorityError, lambda: plan_helpers.reallocate(plan, decided_by="styregruppen")) == (
        "A reallocation between plan lines is decided by Økonomiforvaltningen, not by styregruppen"
    )
    plan_helpers.reallocate(plan, amount=Money(1))
    assert plan.budget("2", 2022) == Money(18_000_001)


def test_discontinuing_a_line_is_refused_in_one_sentence_for_each_reason() -> None:
    plan = plan_helpers.adopted()
    plan_helpers.reallocate(plan, from_line="1", to_line="2", amount=pool_helpers.kr(220_000), date=dt.date(2022, 5, 1))
    assert refused(AuthorityError, lambda: plan_helpers.discontinue(plan, "1", decided_by="arbejdsgruppen")) == (
        "Discontinuing a plan line is decided by Økonomiforvaltningen, not by arbejdsgruppen"
    )
    assert refused(DomainError, lambda: plan_helpers.discontinue(plan, "1", decision_ref=" ")) == (
        "The decision reference must not be empty"
    )
    assert refused(DomainError, lambda: plan_helpers.discontinue(plan, "1", reason=None)) == "The reason must not be empty"
    assert refused(DateError, lambda: plan_helpers.discontinue(plan, "1", date=dt.date(2021, 12, 1))) == (
        "discontinuing the line is dated 2021-12-01, before the plan's adoption (2022-01-01)"
    )
    assert refused(DateError, lambda: plan_helpers.discontinue(plan, "1", date=dt.date(2022, 4, 30))) == (
        "discontinuing the line is dated 2022-04-30, before its last budget change in 2022 (2022-05-01)"
    )
    assert refused(PlanError, lambda: plan_helpers.discontinue(plan, "2")) == (
        f"line 2 Videnshus still has 400.000,00{NBSP}kr. in 2022; reallocate it to another line first"
    )
    assert refused(PlanError, lambda: plan_helpers.discontinue(plan, "juniorbetjent")) == (
        "line juniorbetjent is already discontinued in 2022"
    )
    plan_helpers.discontinue(plan, "1", date=dt.date(2022, 5, 1), timestamp=RECORDED + dt.timedelta(hours=1))
    event = plan.collect_events()[-1]
    assert (event.line, event.year, event.decided_by, event.decision_ref, event.reason) == (
        "1", 2022, "Økonomiforvaltningen", "ØU 2022-09", "Aktiviteten udgår",
    )
    assert event.timestamp == RECORDED + dt.timedelta(hours=1) and event.date == dt.date(2022, 5, 1)
    assert 2022 in plan.line("1").discontinued


def test_a_line_without_a_budget_in_a_year_can_be_discontinued_that_year() -> None:
    plan = plan_helpers.adopted()
    plan_helpers.discontinue(plan, "1", year=2025)
    assert 2025 in plan.line("1").discontinued


def test_a_plan_snapshot_is_plain_json_and_restores_the_same_state() -> None:
    import json

    from domain.base import Snapshot

    plan = plan_helpers.adopted()
    plan_helpers.reallocate(plan)
    state = plan.snapshot_state()
    text = json.dumps(state, ensure_ascii=False)
    assert json.loads(text) == state
    restored = Snapshot.take(plan).mutate(None)
    assert restored.snapshot_state() == state


def test_a_pool_key_used_twice_is_refused_even_with_two_codes() -> None:
    from domain.plan import PoolTerms

    pools = [
        PoolTerms(key="btp", code="BTP", name="A", line="14", decided_by="arbejdsgruppen"),
        PoolTerms(key="BTP", code="VP", name="B", line="14", decided_by="arbejdsgruppen"),
    ]
    assert refused(PlanError, lambda: plan_helpers.adopt(pools=pools)) == "pool 'BTP' appears twice in the plan"


def test_a_date_before_the_adoption_is_refused_by_check_date() -> None:
    from domain.plan import check_date

    plan = plan_helpers.adopted()
    check_date(dt.date(2022, 1, 1), plan)
    assert refused(DateError, lambda: check_date(dt.date(2021, 12, 31), plan)) == (
        "2021-12-31 is before the plan's adoption (2022-01-01)"
    )


# ---------------------------------------------------------------------- timelines


def test_a_timeline_reports_the_earliest_date_of_a_tied_lowest_balance() -> None:
    t = Timeline()
    t.add(D(1), 1, 100)
    t.add(D(5), 2, -60)  # 40 from May
    t.add(D(6), 3, 60)   # 100 from June
    t.add(D(7), 4, -60)  # 40 again from July
    assert t.lowest_from(D(3)) == (40, D(5))
    assert t.lowest_from(D(5)) == (40, None)
    assert t.lowest_from(D(8)) == (40, None)
    t2 = Timeline()
    t2.add(D(1), 1, 100)
    t2.add(D(5), 2, -60)
    t2.add(D(6), 3, 60)
    assert t2.lowest_from(D(3)) == (40, D(5))
    t3 = Timeline()
    t3.add(D(1), 1, 100)
    t3.add(D(5), 2, 0)
    assert t3.lowest_from(D(3)) == (100, None)  # a tie with the balance at the date itself: that date


def test_a_timeline_balance_on_a_date_counts_only_what_is_dated_by_then() -> None:
    t = Timeline()
    t.add(D(5), 2, 40)
    t.add(D(3), 1, 100)
    assert t.entries == [(D(3).toordinal(), 1, 100), (D(5).toordinal(), 2, 40)]
    assert t.balance_on(D(2)) == 0
    assert t.balance_on(D(3)) == 100
    assert t.balance_on(D(4)) == 100
    assert t.balance_on(D(5)) == 140
    assert Timeline.from_data(t.to_data()) == t
