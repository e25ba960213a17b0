"""Money: integer øre in one value type, with the Danish parser and formatter.

Only `parse_amount` turns text into money and only `Money.format` turns money
into text. Amounts are never floats. The parser reads the forms people type
in Denmark (`107.000`, `107.000,50`, `107000,5`, `107.000 kr.`, `kr. 107.000`)
and refuses anything ambiguous or odd with a message that names the input.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import total_ordering
from typing import Any

from domain.errors import AmountError

#: The largest amount a single command may carry: 10 milliarder kr. Anything
#: larger is a typing mistake, and keeping below it keeps sums of a million
#: events inside a signed 64-bit integer.
MAX_ORE = 10_000_000_000 * 100

_CURRENCY = re.compile(r"^(?:kr\.?|dkk)\s*(?P<rest>.*)$|^(?P<rest2>.*?)\s*(?:kr\.?|dkk)$", re.IGNORECASE)
# ASCII digits only: Python's \d would also match "١٠٧" and "１０７".
_GROUPED = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+")
_PLAIN = re.compile(r"0|[1-9][0-9]*")
_ORE = re.compile(r"[0-9]{1,2}")
_SPACES = "\u00a0\u202f\u2009 \t"


@total_ordering
class Money:
    """An amount of Danish money as a whole number of øre.

    Attributes:
        ore: the amount in øre (1 kr. = 100 øre); may be negative for
            balances and signed changes, never for what a user types.
    """

    __slots__ = ("ore",)

    def __init__(self, ore: int) -> None:
        if type(ore) is not int:
            raise TypeError(f"Money needs an int of øre, not {type(ore).__name__}")
        object.__setattr__(self, "ore", ore)

    @classmethod
    def kroner(cls, kroner: int) -> Money:
        """Whole kroner, as plan files write them."""
        if type(kroner) is not int:
            raise TypeError(f"Money.kroner needs an int, not {type(kroner).__name__}")
        return cls(kroner * 100)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Money is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Money is immutable")

    def __reduce__(self) -> tuple[type[Money], tuple[int]]:
        return (Money, (self.ore,))

    def __copy__(self) -> Money:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Money:
        return self

    def __add__(self, other: Money) -> Money:
        return Money(self.ore + _ore_of(other))

    def __sub__(self, other: Money) -> Money:
        return Money(self.ore - _ore_of(other))

    def __neg__(self) -> Money:
        return Money(-self.ore)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and other.ore == self.ore

    def __lt__(self, other: Money) -> bool:
        return self.ore < _ore_of(other)

    def __hash__(self) -> int:
        return hash(("Money", self.ore))

    def __bool__(self) -> bool:
        return self.ore != 0

    def __repr__(self) -> str:
        return f"Money({self.ore})"

    def __str__(self) -> str:
        return self.format()

    def format(self, locale: str = "da_DK") -> str:
        """Danish form by default: `107.000,00 kr.` (with a no-break space)."""
        return format_ore(self.ore, locale)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        # Stored as a plain integer of øre and read back strictly: a Money, or
        # an int that is not a bool; never a string ("107" -> 107).
        from pydantic_core import core_schema

        from_int = core_schema.no_info_after_validator_function(cls, core_schema.int_schema(strict=True))
        return core_schema.json_or_python_schema(
            json_schema=from_int,
            python_schema=core_schema.union_schema([core_schema.is_instance_schema(cls), from_int]),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda m: m.ore, return_schema=core_schema.int_schema()
            ),
        )


ZERO = Money(0)


def _ore_of(other: object) -> int:
    if not isinstance(other, Money):
        raise TypeError(f"cannot combine Money with {type(other).__name__}")
    return other.ore


def format_ore(ore: int, locale: str = "da_DK") -> str:
    """Format øre as the locale writes money, e.g. `107.000,00 kr.`.

    Danish, the default, is written directly (Babel's CLDR pattern
    `#,##0.00 ¤`, a no-break space before `kr.`; a test holds the two equal):
    Babel takes some 60 µs per amount, and a pool of a thousand grants shows
    ten thousand amounts. Other locales go through Babel.
    """
    if locale == "da_DK":
        kroner, ore_part = divmod(-ore if ore < 0 else ore, 100)
        return f"{'-' if ore < 0 else ''}{kroner:,}".replace(",", ".") + f",{ore_part:02d}\xa0kr."
    from babel.numbers import format_currency

    return format_currency(Decimal(ore).scaleb(-2), "DKK", locale=locale)


def parse_amount(text: object, *, allow_zero: bool = False) -> Money:
    """Read an amount as a Danish user or plan file writes it.

    Accepted: `107000`, `107.000`, `107.000,00`, `107000,50`, `107,5`,
    `107.000,-`, with `kr.`/`kr`/`DKK` before or after. Refused with an
    `AmountError` naming the input: negative amounts, zero (unless
    `allow_zero`), decimals written with a point (`1.5`), irregular groups
    (`1.07.000`), several commas, exponents, `nan`/`inf`, underscores,
    digits other than ASCII 0-9, and amounts above 10.000.000.000 kr.
    """
    if not isinstance(text, str):
        raise AmountError(f"{text!r} is not an amount: write it as text such as 107.000")
    shown = text if len(text) <= 40 else text[:37] + "..."
    s = text.strip(_SPACES)
    m = _CURRENCY.match(s)
    if m:
        s = (m.group("rest") if m.group("rest") is not None else m.group("rest2")).strip(_SPACES)
    if not s:
        raise AmountError(f"{shown!r} is not an amount: it has no digits")
    if s.startswith(("-", "−", "–")):
        raise AmountError(f"{shown!r} is negative: amounts are written without a sign")
    if s.startswith("+"):
        raise AmountError(f"{shown!r} is not an amount: write it without a '+' sign")
    if any(ch.isdigit() and ch not in "0123456789" for ch in s):
        raise AmountError(f"{shown!r} is not an amount: use the digits 0-9")
    if s.endswith(",-"):
        s = s[:-2]
        if "," in s:
            raise AmountError(f"{shown!r} is not an amount: it has more than one comma")
    whole, comma, fraction = s.partition(",")
    if "," in fraction:
        raise AmountError(f"{shown!r} is not an amount: it has more than one comma")
    if comma and not _ORE.fullmatch(fraction):
        raise AmountError(f"{shown!r} is not an amount: write øre as one or two digits after the comma, e.g. 107.000,50")
    digits = _whole_digits(whole, shown)
    if len(digits) > 11:
        raise AmountError(f"{shown!r} is too large: the most one entry can carry is 10.000.000.000 kr.")
    ore = int(digits) * 100 + (int(fraction.ljust(2, "0")) if comma else 0)
    if ore > MAX_ORE:
        raise AmountError(f"{shown!r} is too large: the most one entry can carry is 10.000.000.000 kr.")
    if ore == 0 and not allow_zero:
        raise AmountError(f"{shown!r} is zero: an amount that moves money must be more than 0 kr.")
    return Money(ore)


def _whole_digits(whole: str, shown: str) -> str:
    """The ASCII digits of the kroner part, checking the thousands groups."""
    if _PLAIN.fullmatch(whole):
        return whole
    if _GROUPED.fullmatch(whole):
        return whole.replace(".", "")
    if whole and whole[0] == "0" and whole.isdigit():
        raise AmountError(f"{shown!r} is not an amount: remove the leading zeros")
    if "." in whole:
        raise AmountError(
            f"{shown!r} is not an amount: '.' separates thousands in groups of three "
            "(107.000) and ',' comes before øre (107,50)"
        )
    raise AmountError(f"{shown!r} is not an amount: write kroner such as 107.000 or 107.000,50")
