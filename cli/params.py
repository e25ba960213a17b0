"""Click parameter types and shared options for pulje's commands."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import click

from ledger.forked import PARALLEL_FROM

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})"
)


class RefusedParameter(click.ClickException):
    """A value a rule of the domain refuses (a bad amount): one sentence, exit code 3."""

    exit_code = 3

    def __init__(self, message: str, param: Any = None) -> None:
        hint = f"{param.opts[0]}: " if param is not None and getattr(param, "opts", None) else ""
        super().__init__(f"{hint}{message}")

    def show(self, file: Any = None) -> None:
        from cli.output import sentence

        click.echo(f"Refused: {sentence(self.message)}", err=True)


class IsoDate(click.ParamType):
    """A date written YYYY-MM-DD that exists in the calendar."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.date:
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        if not _ISO_DATE.fullmatch(text):
            self.fail(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2022-03-01.", param, ctx)
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is not a date in the calendar.", param, ctx)


class Amount(click.ParamType):
    """An amount as Danes write it: 107.000, 107.000,50, 107000 kr."""

    name = "AMOUNT"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from domain.errors import AmountError
        from domain.money import Money, parse_amount

        if isinstance(value, Money):
            return value
        try:
            return parse_amount(value)
        except AmountError as error:
            raise RefusedParameter(error.message, param) from None


class ChainHash(click.ParamType):
    """A chain head: 64 hexadecimal digits, as `status` and reports print it."""

    name = "HASH"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        text = str(value).strip()
        if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
            self.fail(f"{value!r} is not a head: a head is 64 hexadecimal digits (0-9, a-f).", param, ctx)
        return text.lower()


class Timestamp(click.ParamType):
    """A moment: YYYY-MM-DDTHH:MM[:SS] with Z or an offset, or a date (its start, UTC)."""

    name = "TIMESTAMP"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        text = str(value).strip()
        if _ISO_DATE.fullmatch(text):
            try:
                return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(0), dt.timezone.utc)
            except ValueError:
                self.fail(f"{value!r} is not a date in the calendar.", param, ctx)
        if not text.isascii() or not _ISO_MOMENT.fullmatch(text):
            self.fail(
                f"{value!r} is not a timestamp; write e.g. 2023-01-15T12:00:00Z, 2023-01-15T13:00+01:00 or 2023-01-15.",
                param, ctx,
            )
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            return moment.astimezone(dt.timezone.utc)
        except (ValueError, OverflowError):
            self.fail(f"{value!r} is not a moment in the calendar.", param, ctx)


class FilePath(click.Path):
    """click's Path that refuses a name with a NUL byte in one sentence instead of failing in os.stat."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if "\x00" in str(value):
            self.fail(f"{str(value)!r} is not a file name (it holds a NUL byte).", param, ctx)
        return super().convert(value, param, ctx)


class Year(click.ParamType):
    """A year written with the digits 0-9, 1900-2200."""

    name = "YEAR"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            year = value
        else:
            text = str(value).strip()
            if not (len(text) == 4 and text.isascii() and text.isdigit()):
                self.fail(f"{value!r} is not a year; write four digits, e.g. 2022.", param, ctx)
            year = int(text)
        if not 1900 <= year <= 2200:
            self.fail(f"{year} is not a year pulje keeps (1900-2200).", param, ctx)
        return year


DATE = IsoDate()
TIMESTAMP = Timestamp()
HASH = ChainHash()
AMOUNT = Amount()
YEAR = Year()

format_option = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
    help="Output as a table or as JSON (stable keys, amounts as integer øre).",
)
write_format_option = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
    help="Report the result as text or as JSON ({event_id, sequence, head, ...}).",
)
key_option = click.option(
    "--key", default=None, metavar="TEXT",
    help="Idempotency key: repeating the command with the same key and content records nothing new.",
)
partnership_option = click.option(
    "--partnership", default=None, metavar="NAME", help="Which partnership, when several have a plan for the year."
)
recorded_before_option = click.option(
    "--recorded-before", type=Timestamp(), default=None,
    help="Show what the ledger said at that moment (events recorded before it), e.g. 2023-01-01T00:00Z.",
)


def processes_option(what: str) -> Any:
    """`--processes 1|2` for a long walk (`verify`, `import-events`); `what` says what the second process does."""
    return click.option(
        "--processes", type=click.IntRange(1, 2), default=None,
        help=f"{what} [default: 2 from {PARALLEL_FROM:,} events on a machine with two cores].",
    )


lang_option = click.option(
    "--lang", type=click.Choice(["da", "en"]), default="da", show_default=True, help="Language of tables."
)
