"""Money is integer øre in one value type; only its parser and formatter touch text.

These tests hold `domain/money.py` to the Money section of DESIGN.md: the
Danish forms people type are read to the exact øre, everything ambiguous or
odd is refused with a message that names the input, the output is Babel's
Danish form, and a `Money` is an immutable value that never mixes with
plain numbers (not even inside a pydantic model).
"""

from __future__ import annotations

import copy
import pickle
from decimal import Decimal

import pytest
from babel.numbers import format_currency
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from domain.errors import AmountError
from domain.money import MAX_ORE, ZERO, Money, format_ore, parse_amount

NBSP = "\u00a0"
NARROW_NBSP = "\u202f"

# Text a user or a plan file may type -> the øre it means.
ACCEPTED = [
    ("107000", 10_700_000),
    ("107.000", 10_700_000),
    ("107.000,00", 10_700_000),
    ("107000,50", 10_700_050),
    ("107.000 kr.", 10_700_000),
    ("kr. 107.000", 10_700_000),
    ("107.000,50", 10_700_050),
    ("107,5", 10_750),
    ("107.000,5", 10_700_050),
    ("0,50", 50),
    ("0,05", 5),
    ("107.000,-", 10_700_000),
    ("107,-", 10_700),
    ("DKK 500", 50_000),
    ("dkk 500", 50_000),
    ("107.000 DKK", 10_700_000),
    ("Kr 5", 500),
    ("kr.107.000", 10_700_000),
    ("107.000kr", 10_700_000),
    ("1.000.000", 100_000_000),
    ("  107.000  ", 10_700_000),
    (f"107.000{NBSP}kr.", 10_700_000),
    (f"107.000,00{NBSP}kr.", 10_700_000),
    (f"kr.{NBSP}107.000", 10_700_000),
    (f"{NARROW_NBSP}107.000{NARROW_NBSP}", 10_700_000),
    ("9.999.999.999,99", 999_999_999_999),
    ("10.000.000.000", MAX_ORE),
    ("10000000000", MAX_ORE),
    ("1", 100),
]

# Text that must be refused, with why.
REFUSED = [
    ("1.5", "a decimal point is ambiguous"),
    ("1.07.000", "irregular thousands groups"),
    ("1.00.0", "irregular thousands groups"),
    ("12.34.567", "irregular thousands groups"),
    ("1.000.00", "irregular thousands groups"),
    ("107.00", "a point before two digits"),
    ("1..000", "an empty group"),
    (".000", "no kroner before the point"),
    ("1,2,3", "several commas"),
    ("107.000,50,-", "several commas"),
    ("5,123", "three decimals"),
    ("1.000,", "a comma with no øre"),
    (",50", "no kroner before the comma"),
    ("107_000", "Python's underscore separator"),
    ("\u0661\u0660\u0667", "Arabic-Indic digits"),
    ("\uff11\uff10\uff17", "fullwidth digits"),
    ("5\u00b2", "a superscript digit"),
    ("1e9", "an exponent"),
    ("0x10", "a hex literal"),
    ("NaN", "not a number"),
    ("nan", "not a number"),
    ("inf", "infinity"),
    ("Infinity", "infinity"),
    ("-5", "negative"),
    ("\u22125", "negative with a Unicode minus sign"),
    ("kr. -5", "negative after the currency"),
    ("+5", "a plus sign"),
    ("0", "zero moves no money"),
    ("0,00", "zero moves no money"),
    ("0 kr.", "zero moves no money"),
    ("1" * 65, "a 65-digit number is absurd"),
    ("100000000000", "above the maximum"),
    ("10.000.000.001", "above the maximum"),
    ("10.000.000.000,01", "above the maximum by one øre"),
    ("", "empty"),
    ("   ", "only spaces"),
    (NBSP, "only a no-break space"),
    ("kr.", "a currency with no digits"),
    ("007", "leading zeros"),
    ("00,50", "leading zeros"),
    ("1 000", "a space inside the number"),
    (f"107{NBSP}000", "a no-break space inside the number"),
    ("EUR 500", "another currency"),
    ("107.000 kr. kr.", "the currency twice"),
]


def names_the_input(text: str, message: str) -> bool:
    """The message shows the input, as typed or quoted with escapes; a long input by its beginning."""
    if len(text) > 40:
        return text[:30] in message
    if not text.strip():
        return repr(text) in message
    return text in message or repr(text) in message


@pytest.mark.parametrize(("text", "ore"), ACCEPTED, ids=[repr(t) for t, _ in ACCEPTED])
def test_a_danish_amount_is_read_to_the_exact_ore(text: str, ore: int) -> None:
    money = parse_amount(text)
    assert type(money) is Money
    assert money.ore == ore


@pytest.mark.parametrize(("text", "why"), REFUSED, ids=[repr(t)[:24] for t, _ in REFUSED])
def test_an_odd_amount_is_refused_with_a_message_that_names_it(text: str, why: str) -> None:
    with pytest.raises(AmountError) as refused:
        parse_amount(text)
    assert names_the_input(text, str(refused.value)), f"{why}: the message does not name {text!r}: {refused.value}"


def test_the_table_has_at_least_forty_inputs() -> None:
    assert len(ACCEPTED) + len(REFUSED) >= 40


def test_the_names_check_would_notice_a_message_that_forgets_the_input() -> None:
    assert not names_the_input("1.5", "not an amount")
    assert not names_the_input("", "not an amount")
    assert not names_the_input("1" * 65, "too large")


def test_zero_is_accepted_only_where_the_caller_allows_it() -> None:
    assert parse_amount("0", allow_zero=True) == ZERO
    assert parse_amount("0", allow_zero=True).ore == 0
    assert parse_amount("0,00 kr.", allow_zero=True).ore == 0
    with pytest.raises(AmountError, match="'0'"):
        parse_amount("0")


@pytest.mark.parametrize("value", [107000, 107000.0, None, b"107000", Money(5)], ids=repr)
def test_only_text_is_parsed(value: object) -> None:
    with pytest.raises(AmountError):
        parse_amount(value)


@given(st.integers(min_value=0, max_value=MAX_ORE))
@example(0)
@example(1)
@example(99)
@example(100_000)
@example(10_700_050)
@example(MAX_ORE)
def test_every_formatted_amount_reads_back_as_the_same_ore(ore: int) -> None:
    assert parse_amount(Money(ore).format(), allow_zero=True).ore == ore
    assert parse_amount(format_ore(ore), allow_zero=True).ore == ore


@pytest.mark.parametrize(
    ("ore", "text"),
    [
        (10_700_000, "107.000,00\xa0kr."),
        (0, "0,00\xa0kr."),
        (5, "0,05\xa0kr."),
        (1, "0,01\xa0kr."),
        (-500, "-5,00\xa0kr."),
        (-10_700_000, "-107.000,00\xa0kr."),
        (MAX_ORE, "10.000.000.000,00\xa0kr."),
    ],
)
def test_money_is_written_as_babel_writes_danish_kroner(ore: int, text: str) -> None:
    assert Money(ore).format() == text
    assert str(Money(ore)) == text
    assert format_ore(ore) == text
    assert text == format_currency(Decimal(ore) / 100, "DKK", locale="da_DK")


@given(st.integers(min_value=-MAX_ORE, max_value=MAX_ORE))
@example(-1)
@example(-99)
@example(-100)
@example(99_999)
@example(100_000)
def test_the_direct_danish_format_is_babels(ore: int) -> None:
    # format_ore writes Danish without Babel (for speed); Babel is the reference.
    assert format_ore(ore) == format_currency(Decimal(ore).scaleb(-2), "DKK", locale="da_DK")


def test_other_locales_still_go_through_babel() -> None:
    assert format_ore(10_700_050, "en_GB") == format_currency(Decimal("107000.50"), "DKK", locale="en_GB")
    assert format_ore(10_700_050, "en_GB") != format_ore(10_700_050)


def test_money_cannot_be_changed_after_it_is_made() -> None:
    money = Money(500)
    with pytest.raises(AttributeError):
        money.ore = 600  # type: ignore[misc]
    with pytest.raises(AttributeError):
        money.kroner_shown = "5"  # type: ignore[attr-defined]
    assert money.ore == 500


def test_money_cannot_lose_its_ore_either() -> None:
    money = Money(500)
    with pytest.raises(AttributeError):
        del money.ore  # type: ignore[misc]
    assert money.ore == 500


def test_money_can_be_copied_and_pickled_like_any_value() -> None:
    money = Money(10_700_000)
    assert copy.copy(money) == money
    assert copy.deepcopy(money) == money
    assert pickle.loads(pickle.dumps(money)) == money


@pytest.mark.parametrize("value", [5.0, 107000.5, True, False, "107000", None], ids=repr)
def test_money_is_made_only_from_an_int_of_ore(value: object) -> None:
    with pytest.raises(TypeError):
        Money(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [5.0, True, "5"], ids=repr)
def test_money_in_kroner_is_made_only_from_an_int(value: object) -> None:
    with pytest.raises(TypeError):
        Money.kroner(value)  # type: ignore[arg-type]


def test_whole_kroner_are_a_hundred_ore_each() -> None:
    assert Money.kroner(107_000) == Money(10_700_000)


def test_money_adds_subtracts_and_negates_as_money() -> None:
    assert Money(700) + Money(300) == Money(1000)
    assert Money(700) - Money(1000) == Money(-300)
    assert -Money(300) == Money(-300)
    assert sum([Money(1), Money(2), Money(3)], ZERO) == Money(6)
    assert type(Money(1) + Money(2)) is Money


@pytest.mark.parametrize("other", [1, 1.0, "1"], ids=repr)
def test_money_does_not_mix_with_plain_numbers(other: object) -> None:
    with pytest.raises(TypeError):
        Money(100) + other  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(100) - other  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(100) < other  # type: ignore[operator]


def test_money_is_ordered_by_its_ore() -> None:
    assert Money(1) < Money(2)
    assert Money(2) > Money(1)
    assert Money(2) <= Money(2)
    assert Money(-5) < ZERO
    assert max(Money(3), Money(10), Money(7)) == Money(10)
    assert sorted([Money(3), Money(-1), Money(2)]) == [Money(-1), Money(2), Money(3)]


def test_money_never_equals_a_plain_int() -> None:
    assert Money(0) != 0
    assert Money(500) != 500
    assert 500 != Money(500)
    assert Money(500) != 5
    assert Money(500) != "5,00 kr."


def test_equal_money_is_one_value() -> None:
    assert Money(500) == Money(500)
    assert hash(Money(500)) == hash(Money(500))
    assert len({Money(500), Money(500), Money(501)}) == 2
    assert not ZERO
    assert Money(1)


class Grant(BaseModel):
    """A tiny pydantic model with a Money field, as events hold them."""

    amount: Money


def test_money_in_a_pydantic_model_is_stored_as_an_integer_of_ore() -> None:
    grant = Grant(amount=Money(10_700_000))
    assert grant.model_dump() == {"amount": 10_700_000}
    assert type(grant.model_dump()["amount"]) is int
    assert grant.model_dump_json() == '{"amount":10700000}'


def test_money_in_a_pydantic_model_is_read_back_from_a_json_integer() -> None:
    grant = Grant.model_validate_json('{"amount": 10700000}')
    assert grant.amount == Money(10_700_000)
    assert type(grant.amount) is Money
    assert Grant.model_validate_json(Grant(amount=Money(5)).model_dump_json()).amount == Money(5)


@pytest.mark.parametrize(
    "json_text",
    ['{"amount": "107000"}', '{"amount": "107.000"}', '{"amount": 107000.0}', '{"amount": 1.5}', '{"amount": true}'],
)
def test_money_in_a_pydantic_model_refuses_json_that_is_not_an_integer(json_text: str) -> None:
    with pytest.raises(ValidationError):
        Grant.model_validate_json(json_text)


@pytest.mark.parametrize("value", ["107000", "107.000", 107000.0, 1.5, True], ids=repr)
def test_money_in_a_pydantic_model_refuses_python_values_that_are_not_ore(value: object) -> None:
    with pytest.raises(ValidationError):
        Grant(amount=value)  # type: ignore[arg-type]
