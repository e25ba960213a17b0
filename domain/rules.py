"""Small rules shared by the aggregates: names of bodies, dates, text."""

from __future__ import annotations

import datetime as dt
import unicodedata

from domain.errors import AuthorityError, DateError


def body_key(name: str) -> str:
    """How two names of a body compare: case, accents' form and spacing ignored."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def check_body(decided_by: str | None, allowed: str, what: str) -> str:
    """Refuse a decision by any body other than `allowed`."""
    if not decided_by or not decided_by.strip():
        raise AuthorityError(f"{what} must name the deciding body: {allowed}")
    if body_key(decided_by) != body_key(allowed):
        raise AuthorityError(f"{what} is decided by {allowed}, not by {decided_by.strip()}")
    return allowed


def check_year(date: dt.date, year: int, what: str) -> None:
    """Refuse a date outside the given calendar year."""
    if date.year != year:
        raise DateError(f"{what} is dated {date.isoformat()}, outside {year}")


def check_not_before(date: dt.date, earliest: dt.date, what: str, earlier: str) -> None:
    """Refuse a date before another one it depends on."""
    if date < earliest:
        raise DateError(f"{what} is dated {date.isoformat()}, before {earlier} ({earliest.isoformat()})")


def required_text(value: str | None, what: str) -> str:
    """A text the rule needs: not empty once spaces are stripped."""
    from domain.errors import DomainError

    if value is None or not value.strip():
        raise DomainError(f"{what} must not be empty")
    return value.strip()
