"""The `pulje` command: parse, make one call, render.

Every command's docstring is its help. Heavy libraries (eventsourcing,
pydantic, Babel) are imported by the commands that need them, not here.
"""

from __future__ import annotations

import csv
import getpass
import io
import os
from typing import Any

import click

from cli.output import dump, emit, handle, recorded_json, recorded_text
from cli.params import (
    AMOUNT,
    FilePath,
    DATE,
    HASH,
    YEAR,
    format_option,
    key_option,
    lang_option,
    partnership_option,
    processes_option,
    recorded_before_option,
    write_format_option,
)


def default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database (containers): still record something honest
        return "unknown"


class Session:
    """What the global options choose: the ledger and who records."""

    def __init__(self, db: str, actor: str) -> None:
        self.db = db
        self.actor = actor
        self._pulje: Any = None

    def pulje(self, *, create: bool = True) -> Any:
        if self._pulje is None:
            from cli.progress import TerminalProgress
            from ledger.service import Pulje

            self._pulje = Pulje(self.db, self.actor, create=create)
            self._pulje.progress = self.bar = TerminalProgress("Bringing the read models up to date")
        return self._pulje

    def close(self) -> None:
        if getattr(self, "bar", None) is not None:
            self.bar.close()
        if self._pulje is not None:
            self._pulje.close()


class PuljeGroup(click.Group):
    """A group whose failures become one sentence and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except Exception as error:  # noqa: BLE001 - every failure gets a documented exit code
            handle(error)


@click.group(cls=PuljeGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db", envvar="PULJE_DB", default="pulje.db", show_default=True, metavar="PATH|URL",
    help="The ledger: an SQLite file, or postgresql://user@host:port/db[?schema=NAME] (env PULJE_DB).",
)
@click.option(
    "--actor", envvar="PULJE_ACTOR", default=default_actor, show_default="the OS user",
    help="Who records the decisions (env PULJE_ACTOR).",
)
@click.version_option(package_name="pulje", prog_name="pulje")
@click.pass_context
def main(ctx: click.Context, db: str, actor: str) -> None:
    """pulje: an event-sourced ledger for a safety partnership's plan and pools.

    Every budget allocation, reallocation and pool grant is an immutable
    event; balances, the audit trail and reports are derived from them.
    """
    if not actor.strip():
        raise click.BadParameter("the actor must be a name, not empty", param_hint="'--actor'")
    session = Session(db, actor.strip())
    ctx.obj = session
    ctx.call_on_close(session.close)


def _new_or_existing(ctx: click.Context) -> Any:
    """The session for `plan import`, the one command that may start a new ledger file."""
    return ctx.find_object(Session).pulje()


def _bar(ctx: click.Context, label: str) -> Any:
    """A progress bar for one long command, closed with the session."""
    from cli.progress import TerminalProgress

    bar = TerminalProgress(label)
    ctx.call_on_close(bar.close)
    return bar


def _pulje(ctx: click.Context) -> Any:
    """The session for every other command: the ledger file must exist."""
    return ctx.find_object(Session).pulje(create=False)


# ---------------------------------------------------------------------- plan


@main.group()
def plan() -> None:
    """Adopt and show safety plans."""


@plan.command("import")
@click.argument("file", type=FilePath(dir_okay=False, path_type=str))
@click.option("--date", type=DATE, default=None, help="Effective date of the adoption [default: 1 January of the plan year].")
@click.option("--decision-ref", default=None, help="Reference of the adopting decision.")
@key_option
@write_format_option
@click.pass_context
def plan_import(ctx: click.Context, file: str, date: Any, decision_ref: str | None, key: str | None, fmt: str) -> None:
    """Adopt a plan file (TOML). Importing the same file again changes nothing.

    Prints the totals per year to compare with the document, and one warning
    per place where the document disagrees with itself or lacks a figure.

    Example: pulje plan import plans/tingbjerg-husum-2022.toml
    """
    from domain.money import format_ore

    recorded, plan_file = _new_or_existing(ctx).import_plan(file, date=date, decision_ref=decision_ref, key=key)
    spec = plan_file.spec
    totals = plan_file.totals()
    for warning in plan_file.warnings:
        click.echo(f"warning: {warning}", err=True)
    if fmt == "json":
        data = recorded_json(recorded)
        data.update(
            {
                "partnership": spec.partnership,
                "year": spec.year,
                "lines": len(spec.lines),
                "pools": [p.key for p in spec.pools],
                "totals": [
                    {"year": y, "total_ore": m.ore, "total": m.format(), "preliminary": prelim}
                    for y, (m, prelim) in totals.items()
                ],
                "warnings": plan_file.warnings,
            }
        )
        click.echo(dump(data))
        return
    verb = "Already adopted" if recorded.repeated else "Adopted"
    lines = [f"{verb}: {spec.title} ({spec.partnership}), {len(spec.lines)} lines, {len(spec.pools)} pools."]
    for year, (money, prelim) in totals.items():
        mark = " (plan year)" if year == spec.year else (" (preliminary)" if prelim else "")
        lines.append(f"  {year}: {format_ore(money.ore)}{mark}")
    lines.append(f"Plan year {spec.year} total: {format_ore(totals.get(spec.year, (money, False))[0].ore)}")
    click.echo(recorded_text(recorded, "\n".join(lines)))


@plan.command("show")
@click.option("--year", type=YEAR, default=None, help="The plan year [default: every plan].")
@partnership_option
@format_option
@lang_option
@click.pass_context
def plan_show(ctx: click.Context, year: int | None, partnership: str | None, fmt: str, lang: str) -> None:
    """Show plans: every line, its posts and budget per year, with notes.

    Example: pulje plan show --year 2022
    """
    from projections.render import head_json, plan_detail_json, plan_text

    plans, head = _pulje(ctx).plan_show(year=year, partnership=partnership)
    data = {**head_json(head), "plans": [plan_detail_json(p.plan, p.lines, p.years) for p in plans]}
    emit(fmt, data, plan_text(data, lang))


# ---------------------------------------------------------------------- reallocate


@main.command()
@click.option("--year", type=YEAR, required=True, help="The budget year (the plan with this plan year).")
@click.option("--from", "from_line", required=True, metavar="LINE", help="The line the money leaves.")
@click.option("--to", "to_line", required=True, metavar="LINE", help="The line the money goes to.")
@click.option("--amount", type=AMOUNT, required=True, help="Amount, e.g. 20.000 or 20.000,00.")
@click.option("--date", type=DATE, required=True, help="Date of the decision.")
@click.option("--decided-by", required=True, metavar="BODY", help="The deciding body (the plan's: Økonomiforvaltningen).")
@click.option("--decision-ref", required=True, metavar="REF", help="Reference of the decision, e.g. the minutes.")
@click.option("--reason", required=True, help="Why the money moves.")
@partnership_option
@key_option
@write_format_option
@click.pass_context
def reallocate(ctx: click.Context, year: int, from_line: str, to_line: str, amount: Any, date: Any, decided_by: str,
               decision_ref: str, reason: str, partnership: str | None, key: str | None, fmt: str) -> None:
    """Move money from one plan line to another (omdisponering).

    A pool funded by either line follows in the same atomic write.

    Example: pulje reallocate --year 2022 --from 12 --to 14 --amount 20.000 --date 2022-06-15
    --decided-by Økonomiforvaltningen --decision-ref "ØKF 2022-41" --reason "Flere tryghedsvandringer"
    """
    recorded = _pulje(ctx).reallocate(
        year=year, from_line=from_line, to_line=to_line, amount=amount, date=date, decided_by=decided_by,
        decision_ref=decision_ref, reason=reason, partnership=partnership, key=key,
    )
    emit(fmt, recorded_json(recorded), recorded_text(recorded, f"Reallocated {amount.format()} from line {from_line} to line {to_line} in {year}."))


# ---------------------------------------------------------------------- grants


@main.group()
def grant() -> None:
    """Award grants from a pool and record what happens to them."""


@grant.command("award")
@click.option("--pool", required=True, metavar="POOL", help="The pool's id or code, e.g. BTP.")
@click.option("--year", type=YEAR, required=True, help="The pool's year.")
@click.option("--recipient", required=True, help="Who receives the grant.")
@click.option("--purpose", required=True, help="What it is for.")
@click.option("--area", default=None, help="Focus area (indsatsområde) of the plan.")
@click.option("--amount", type=AMOUNT, required=True, help="Amount awarded.")
@click.option("--requested", type=AMOUNT, default=None, help="Amount applied for, where known.")
@click.option("--date", type=DATE, required=True, help="Date of the decision (within the pool's year).")
@click.option("--decided-by", required=True, metavar="BODY", help="The deciding body (the pool's: arbejdsgruppen).")
@click.option("--decision-ref", required=True, metavar="REF", help="Reference of the decision, e.g. the minutes.")
@partnership_option
@key_option
@write_format_option
@click.pass_context
def grant_award(ctx: click.Context, pool: str, year: int, recipient: str, purpose: str, area: str | None, amount: Any,
                requested: Any, date: Any, decided_by: str, decision_ref: str, partnership: str | None,
                key: str | None, fmt: str) -> None:
    """Award a grant (bevilling) from a pool; prints the new grant number.

    Example: pulje grant award --pool BTP --year 2022 --recipient "Beboerforeningen" --purpose
    "Tryghedsvandring" --area "Tryggere byliv" --amount 5.000 --date 2022-03-01 --decided-by
    arbejdsgruppen --decision-ref "AG 2022-03"
    """
    recorded = _pulje(ctx).award(
        pool=pool, year=year, recipient=recipient, purpose=purpose, area=area, amount=amount, requested=requested,
        date=date, decided_by=decided_by, decision_ref=decision_ref, partnership=partnership, key=key,
    )
    emit(fmt, recorded_json(recorded), recorded_text(recorded, f"{recorded.grant}\nAwarded {amount.format()} to {recipient}."))


@grant.command("disburse")
@click.argument("number", metavar="GRANT")
@click.option("--amount", type=AMOUNT, required=True, help="Amount paid out.")
@click.option("--date", type=DATE, required=True, help="Payment date.")
@click.option("--payment-ref", default=None, help="Reference of the payment, e.g. the voucher.")
@partnership_option
@key_option
@write_format_option
@click.pass_context
def grant_disburse(ctx: click.Context, number: str, amount: Any, date: Any, payment_ref: str | None,
                   partnership: str | None, key: str | None, fmt: str) -> None:
    """Record a payment (udbetaling) of part or all of a grant.

    Example: pulje grant disburse BTP-2022-001 --amount 4.000 --date 2022-03-10 --payment-ref "Bilag 118"
    """
    recorded = _pulje(ctx).disburse(grant=number, amount=amount, date=date, payment_ref=payment_ref, partnership=partnership, key=key)
    emit(fmt, recorded_json(recorded), recorded_text(recorded, f"Paid out {amount.format()} on {recorded.grant}."))


@grant.command("return")
@click.argument("number", metavar="GRANT")
@click.option("--amount", type=AMOUNT, required=True, help="Amount paid back.")
@click.option("--date", type=DATE, required=True, help="Date the money came back.")
@click.option("--reason", required=True, help="Why it came back.")
@partnership_option
@key_option
@write_format_option
@click.pass_context
def grant_return(ctx: click.Context, number: str, amount: Any, date: Any, reason: str, partnership: str | None,
                 key: str | None, fmt: str) -> None:
    """Record money a recipient paid back (tilbagebetaling).

    Example: pulje grant return BTP-2022-001 --amount 500 --date 2022-04-01 --reason "Ubrugte midler"
    """
    recorded = _pulje(ctx).take_back(grant=number, amount=amount, date=date, reason=reason, partnership=partnership, key=key)
    emit(fmt, recorded_json(recorded), recorded_text(recorded, f"Returned {amount.format()} on {recorded.grant}."))


@grant.command("withdraw")
@click.argument("number", metavar="GRANT")
@click.option("--date", type=DATE, required=True, help="Date of the withdrawal.")
@click.option("--reason", required=True, help="Why the grant is withdrawn.")
@partnership_option
@key_option
@write_format_option
@click.pass_context
def grant_withdraw(ctx: click.Context, number: str, date: Any, reason: str, partnership: str | None, key: str | None,
                   fmt: str) -> None:
    """Withdraw a grant (annullere): the part not paid out returns to the pool.

    Example: pulje grant withdraw BTP-2022-004 --date 2022-09-01 --reason "Arrangementet blev aflyst"
    """
    from domain.money import format_ore

    recorded = _pulje(ctx).withdraw(grant=number, date=date, reason=reason, partnership=partnership, key=key)
    released = recorded.extra.get("released_ore")
    what = f"Withdrew {recorded.grant}" + (f"; {format_ore(released)} released to the pool." if released is not None else ".")
    emit(fmt, recorded_json(recorded), recorded_text(recorded, what))


# ---------------------------------------------------------------------- pools


@main.group("pool")
def pool_group() -> None:
    """Show and close pools."""


@pool_group.command("show")
@click.argument("pool", metavar="POOL")
@click.option("--year", type=YEAR, required=True, help="The pool's year.")
@click.option("--as-of", type=DATE, default=None, help="Show the pool as of an effective date.")
@recorded_before_option
@partnership_option
@format_option
@lang_option
@click.pass_context
def pool_show(ctx: click.Context, pool: str, year: int, as_of: Any, recorded_before: Any, partnership: str | None,
              fmt: str, lang: str) -> None:
    """Funding, awarded, disbursed, returned and available; every grant.

    Example: pulje pool show BTP --year 2022 --as-of 2022-06-30
    """
    from projections.render import head_json, moment, pool_json, pool_table

    row, grants, head = _pulje(ctx).pool_show(
        pool, year=year, as_of=as_of, partnership=partnership, recorded_before=recorded_before
    )
    data = lambda: {  # built only for --format json
        **pool_json(row, grants), **head_json(head), "as_of": as_of.isoformat() if as_of else None,
        "recorded_before": moment(recorded_before),
    }
    emit(fmt, data, lambda: pool_table(row, grants, head, lang))


@pool_group.command("close")
@click.argument("pool", metavar="POOL")
@click.option("--year", type=YEAR, required=True, help="The pool's year.")
@click.option("--date", type=DATE, required=True, help="Date of the decision to close.")
@click.option("--decided-by", required=True, metavar="BODY", help="The pool's deciding body.")
@click.option("--decision-ref", required=True, metavar="REF", help="Reference of the decision.")
@partnership_option
@key_option
@write_format_option
@click.pass_context
def pool_close(ctx: click.Context, pool: str, year: int, date: Any, decided_by: str, decision_ref: str,
               partnership: str | None, key: str | None, fmt: str) -> None:
    """Close a pool at year end; records what is unspent. Nothing more can be recorded on it.

    Example: pulje pool close BTP --year 2022 --date 2022-12-31 --decided-by arbejdsgruppen --decision-ref "AG 2022-12"
    """
    from domain.money import format_ore

    recorded = _pulje(ctx).close_pool(
        pool=pool, year=year, date=date, decided_by=decided_by, decision_ref=decision_ref, partnership=partnership, key=key
    )
    unspent = recorded.extra.get("unspent_ore")
    outstanding = recorded.extra.get("outstanding_ore") or 0
    text = f"Closed {pool} {year}." + (f" Unspent: {format_ore(unspent)}." if unspent is not None else "")
    if outstanding:
        text += f" Still awarded but not paid out: {format_ore(outstanding)}."
    emit(fmt, recorded_json(recorded), recorded_text(recorded, text))


# ---------------------------------------------------------------------- reverse


@main.command()
@click.argument("event", metavar="EVENT")
@click.option("--reason", required=True, help="Why the earlier event was wrong.")
@click.option("--date", type=DATE, default=None, help="Effective date of the counter-entry [default: the reversed event's].")
@key_option
@write_format_option
@click.pass_context
def reverse(ctx: click.Context, event: str, reason: str, date: Any, key: str | None, fmt: str) -> None:
    """Record a counter-entry for an earlier event (by sequence number or id).

    Awards (with nothing paid), payments, returns, withdrawals and
    reallocations can be reversed; the audit trail points both ways.

    Example: pulje reverse 42 --reason "Beløbet blev tastet forkert"
    """
    recorded = _pulje(ctx).reverse(event, reason=reason, date=date, key=key)
    emit(fmt, recorded_json(recorded), recorded_text(recorded, f"Reversed event {event}."))


# ---------------------------------------------------------------------- reading


@main.command()
@click.option("--year", type=YEAR, default=None, help="Only the plan and pools of this year.")
@click.option("--as-of", type=DATE, default=None, help="Balances as of an effective date.")
@recorded_before_option
@partnership_option
@format_option
@lang_option
@click.pass_context
def status(ctx: click.Context, year: int | None, as_of: Any, recorded_before: Any, partnership: str | None, fmt: str,
           lang: str) -> None:
    """Balances of every plan line and pool, and the ledger's head.

    Example: pulje status --year 2022
    """
    from projections.render import head_json, moment, plan_json, pool_json, status_table

    result = _pulje(ctx).status(year=year, as_of=as_of, partnership=partnership, recorded_before=recorded_before)
    plans = [plan_json(p.plan, p.lines, p.years) for p in result.plans]
    data = {
        **head_json(result.head),
        "as_of": as_of.isoformat() if as_of else None,
        "recorded_before": moment(recorded_before),
        "plans": plans,
        "pools": [pool_json(p) for p in result.pools],
    }
    emit(fmt, data, status_table(plans, result.pools, result.head, lang))


@main.command()
@click.option("--since", type=DATE, default=None, help="From this effective date.")
@click.option("--until", type=DATE, default=None, help="Up to and including this effective date.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="Table, JSON or CSV (CSV cells are safe to open in a spreadsheet).")
@lang_option
@click.pass_context
def audit(ctx: click.Context, since: Any, until: Any, fmt: str, lang: str) -> None:
    """The audit trail: every recorded event in order, with who, when and why.

    Example: pulje audit --since 2022-01-01 --format csv > audit.csv
    """
    from projections.render import audit_csv_rows, audit_json, audit_table, head_json

    rows, reversed_by, head = _pulje(ctx).audit(since=since, until=until)
    sequences = {r.event_id: r.sequence for r in rows}
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        for row in audit_csv_rows(rows, reversed_by, sequences):
            writer.writerow(row)
        click.echo(buffer.getvalue(), nl=False)
        return
    emit(
        fmt,
        lambda: {**head_json(head), "events": [audit_json(r, reversed_by, sequences) for r in rows]},
        lambda: audit_table(rows, reversed_by, sequences, head, lang),
    )


@main.command()
@click.option("--pool", required=True, metavar="POOL", help="The pool's id or code, e.g. BTP.")
@click.option("--year", type=YEAR, required=True, help="The pool's year.")
@click.option("--until", type=DATE, default=None, help="Stop after this effective date.")
@recorded_before_option
@partnership_option
@format_option
@lang_option
@click.pass_context
def replay(ctx: click.Context, pool: str, year: int, until: Any, recorded_before: Any, partnership: str | None,
           fmt: str, lang: str) -> None:
    """Every decision on a pool in effective-date order, with the balance after each.

    Ties on a date keep the order of recording. Entries recorded 30 days or
    more after their effective date are marked as late.

    Example: pulje replay --pool BTP --year 2022 --until 2022-06-30
    """
    from projections.render import head_json, moment, pool_json, replay_json, replay_table

    row, steps, head = _pulje(ctx).replay(
        pool, year=year, until=until, recorded_before=recorded_before, partnership=partnership
    )
    data = lambda: {  # built only for --format json
        **head_json(head), "pool": pool_json(row), "until": until.isoformat() if until else None,
        "recorded_before": moment(recorded_before), "steps": [replay_json(step) for step in steps],
    }
    emit(fmt, data, lambda: replay_table(row, steps, head, lang))


# ---------------------------------------------------------------------- report


@main.group()
def report() -> None:
    """Reports to the steering group."""


@report.command("ultimo")
@click.option("--year", type=YEAR, required=True, help="The plan year.")
@click.option("--pool", default=None, metavar="POOL", help="Only this pool (id or code) [default: every pool of the plan].")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json", "xlsx", "pdf"]), required=True,
              help="md, html (one self-contained file), json, xlsx or pdf (rendered from the html).")
@click.option("--output", type=FilePath(dir_okay=False), required=True, help="The file to write.")
@click.option("--lang", type=click.Choice(["da", "en"]), default="da", show_default=True, help="Language of the report.")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@partnership_option
@click.pass_context
def report_ultimo(ctx: click.Context, year: int, pool: str | None, fmt: str, output: str, lang: str, force: bool,
                  partnership: str | None) -> None:
    """The year-end (ultimo) report: every pool's funding, grants and totals, and the plan's budget.

    States the ledger head and the time of the last event it includes; the
    same events give the same md, html and json bytes.

    Example: pulje report ultimo --year 2022 --format pdf --output ultimo-2022.pdf
    """
    from cli.output import output_file
    from ledger.files import check_target
    from projections.report_render import render

    check_target(output, force)  # before the work, not after it
    data = _pulje(ctx).ultimo(year=year, pool=pool, partnership=partnership, lang=lang)
    content = render(data, fmt)
    with output_file(output, force, binary=True) as out:
        out.write(content)
    click.echo(f"Wrote {output} (head {data['head']}).")


# ---------------------------------------------------------------------- exports


@main.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "journal"]), required=True,
              help="jsonl: lossless (for import-events); csv: for spreadsheets; journal: for hledger.")
@click.option("--output", type=FilePath(dir_okay=False), default=None, help="Write to FILE instead of stdout.")
@click.option("--force", is_flag=True, help="Replace an existing --output file.")
@click.pass_context
def export(ctx: click.Context, fmt: str, output: str | None, force: bool) -> None:
    """Export every event: jsonl (lossless), csv, or an hledger journal.

    The journal's accounts: plan:<partnership>:<year>:<line> for budgets, with
    ':til rådighed', ':bevilget:<grant>' and ':udbetalt:<recipient>' under a
    pool's line, and finansiering:<partnership>:<year> where budgets come from.
    `hledger bal plan:<partnership>:<year> --depth 4` then shows every line's
    budget as `pulje status` does.

    Example: pulje export --format jsonl --output ledger-2022.jsonl
    """
    from cli.output import output_file

    with output_file(output, force) as out:
        count = _pulje(ctx).export(fmt, out, _bar(ctx, "Exporting"))
    if output is not None:
        click.echo(f"Exported {count} events to {output}.", err=True)


@main.command("import-events")
@click.argument("file", type=FilePath(exists=True, dir_okay=False, readable=True))
@processes_option("Check the file in a second process while writing it (2), or in this one (1)")
@click.pass_context
def import_events(ctx: click.Context, file: str, processes: int | None) -> None:
    """Rebuild a ledger from a jsonl export, into a new (empty) ledger.

    The whole file is checked first (every line, position, hash, event and
    rule); a file that fails is refused naming the line, and nothing is written.

    Example: pulje --db copy.db import-events ledger-2022.jsonl
    """
    header = _new_or_existing(ctx).import_events(file, _bar(ctx, "Importing"), processes)
    click.echo(f"Imported {header.events} events; head {header.head}.")


# ---------------------------------------------------------------------- verify


@main.command()
@click.option("--head", "expected_head", type=HASH, default=None,
              help="Also prove the ledger still contains, unchanged, the state whose head was HASH.")
@processes_option("Check the views in a second process beside the replay (2) or after it (1)")
@format_option
@click.pass_context
def verify(ctx: click.Context, expected_head: str | None, processes: int | None, fmt: str) -> None:
    """Recompute the chain, replay every aggregate, re-check every rule, compare the views.

    Exits 0 when everything holds, 1 naming the first bad position and what is wrong.
    Writes nothing.

    Example: pulje verify --head 3f2a...c9 (the head printed in last year's ultimo report)
    """
    from cli.output import verify_json, verify_text

    report = _pulje(ctx).verify(expected_head=expected_head, progress=_bar(ctx, "Verifying"), processes=processes)
    emit(fmt, verify_json(report), verify_text(report))
    ctx.exit(0 if report.ok else 1)


# ---------------------------------------------------------------------- demo


@main.command()
@click.option("--out", default="pulje-demo", show_default=True, metavar="DIR",
              help="Folder for the demo's ledger (unless --db is given) and its ultimo report in every format.")
@click.option("--force", is_flag=True, help="Replace an existing demo ledger and reports.")
@click.pass_context
def demo(ctx: click.Context, out: str, force: bool) -> None:
    """Build a realistic 2022 year on the bundled plan; print its status and report paths.

    The ledger goes to --db if given, else DIR/pulje.db. Recorded times come
    from a fixed clock, so every run gives the same ledger, head and report bytes.

    Example: pulje demo --out pulje-demo
    """
    from ledger.demo import build_demo
    from projections.render import plan_json, status_table

    session = ctx.find_object(Session)
    given = ctx.parent.get_parameter_source if ctx.parent else (lambda name: click.core.ParameterSource.DEFAULT)
    db = session.db if given("db") != click.core.ParameterSource.DEFAULT else os.path.join(out, "pulje.db")
    actor = session.actor if given("actor") != click.core.ParameterSource.DEFAULT else "sekretariatet"
    result = build_demo(db, out, actor=actor, force=force)
    plans = [plan_json(p.plan, p.lines, p.years) for p in result.status.plans]
    click.echo(status_table(plans, result.status.pools, result.status.head))
    click.echo(f"\nDemo ledger: {result.db} ({result.events} events)")
    click.echo("Ultimo report:")
    for path in result.reports:
        click.echo(f"  {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
