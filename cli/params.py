"""Click parameter types and shared options for pulje's commands."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import click

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


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
            self.fail(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2022-03-01", param, ctx)
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is not a date in the calendar", param, ctx)


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


DATE = IsoDate()
AMOUNT = Amount()
YEAR = click.IntRange(1900, 2200)

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
lang_option = click.option(
    "--lang", type=click.Choice(["da", "en"]), default="da", show_default=True, help="Language of tables."
)
