"""A realistic demo year: the 2022 plan, its pools' grants, payments and close.

The working group grants from the Bylivs- og tryghedspulje to the kinds of
things the plan names (tryghedsvandringer, borgermøder, dialogpavillonen,
beboerdrevne arrangementer, events after incidents that made people feel
unsafe), the secretariat records aconto payments, one return of unused money
and one withdrawn grant, Økonomiforvaltningen moves 20.000 kr. into the pool,
the Videnspulje pays for a knowledge event, and both pools close at year end.

Recorded times come from a clock that follows the effective dates, so the
same demo always gives the same ledger, head and report.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from domain.money import parse_amount
from ledger.service import Pulje, Status

PLAN = "tingbjerg-husum-2022.toml"
AG = "arbejdsgruppen"
OEKF = "Økonomiforvaltningen"

# (date, recipient, purpose, focus area, amount, requested, decision reference)
GRANTS = [
    ("2022-02-03", "Beboerforeningen i Tingbjerg", "Tryghedsvandring i Gadelandet med politi og boligselskab",
     "Tryggere byliv", "6.500", "6.500", "AG-møde 3. februar 2022, pkt. 4"),
    ("2022-02-03", "Den boligsociale helhedsplan i Husum", "Borgermøde om tryghed i Skolevangen",
     "Tryggere byliv", "8.000", "10.000", "AG-møde 3. februar 2022, pkt. 5"),
    ("2022-03-10", "Tingbjerg Bibliotek/Kulturhus", "Dialogpavillon ved Ruten, fire lørdage i foråret",
     "Positive fællesskaber", "14.000", "14.000", "AG-møde 10. marts 2022, pkt. 3"),
    ("2022-03-10", "Afdelingsbestyrelsen Voldparken", "Beboerdrevet fastelavnsfest for børnefamilier",
     "Positive fællesskaber", "4.500", "5.000", "AG-møde 10. marts 2022, pkt. 6"),
    ("2022-04-21", "Husum Boldklub", "Aftenfodbold for unge efter uro ved Husum Torv",
     "Tryggere byliv", "12.000", "15.000", "AG-møde 21. april 2022, pkt. 2"),
    ("2022-05-12", "Foreningen Café mors varme hænder", "Fællesspisning efter brand i kælder i Gadelandet",
     "Positive fællesskaber", "7.500", "7.500", "AG-møde 12. maj 2022, pkt. 4"),
    ("2022-05-12", "Beboerforeningen i Tingbjerg", "Tryghedsvandring med fokus på belysning",
     "Tryggere byliv", "3.000", "3.000", "AG-møde 12. maj 2022, pkt. 5"),
    ("2022-06-16", "Tingbjerg Skole, forældrerådet", "Sommerfest på skolens plads",
     "Positive fællesskaber", "10.000", "12.000", "AG-møde 16. juni 2022, pkt. 3"),
    ("2022-06-16", "Den boligsociale helhedsplan for Tingbjerg/Utterslevhuse", "Dialogpavillon ved byggepladsen på Gavlhusvej",
     "Tryggere byliv", "9.000", "9.000", "AG-møde 16. juni 2022, pkt. 4"),
    ("2022-08-25", "Skolevangen 2, beboergruppen", "Beboerdrevet gårdfest med fokus på naboskab",
     "Positive fællesskaber", "6.000", "6.000", "AG-møde 25. august 2022, pkt. 2"),
    ("2022-09-15", "SSP København, lokalteam Brønshøj-Husum", "Borgermøde for forældre efter knivoverfald",
     "Tryggere byliv", "11.000", "11.000", "AG-møde 15. september 2022, pkt. 3"),
    ("2022-10-20", "Beboerforeningen i Tingbjerg", "Lysvandring og græskarfest i Tingbjerg",
     "Positive fællesskaber", "8.500", "9.000", "AG-møde 20. oktober 2022, pkt. 4"),
    ("2022-11-17", "Husum Nord, netværket af foreninger", "Julemarked med tryghedsstand og dialogpavillon",
     "Positive fællesskaber", "12.000", "12.000", "AG-møde 17. november 2022, pkt. 2"),
    ("2022-11-17", "Den boligsociale helhedsplan i Husum", "Tryghedsvandring i Husum Nord efter indbrud i kældre",
     "Tryggere byliv", "5.500", "5.500", "AG-møde 17. november 2022, pkt. 3"),
]

# (grant index, date, amount, payment ref)
PAYMENTS = [
    (0, "2022-02-10", "6.500", "Bilag 2022-014"),
    (1, "2022-02-15", "4.000", "Bilag 2022-019 (aconto)"),
    (1, "2022-03-30", "4.000", "Bilag 2022-041"),
    (2, "2022-03-20", "7.000", "Bilag 2022-036 (aconto)"),
    (2, "2022-05-30", "7.000", "Bilag 2022-072"),
    (3, "2022-03-15", "4.500", "Bilag 2022-031"),
    (4, "2022-05-02", "6.000", "Bilag 2022-058 (aconto)"),
    (5, "2022-05-20", "7.500", "Bilag 2022-066"),
    (6, "2022-05-25", "3.000", "Bilag 2022-070"),
    (7, "2022-06-20", "10.000", "Bilag 2022-081"),
    (8, "2022-07-01", "4.500", "Bilag 2022-090 (aconto)"),
    (8, "2022-08-30", "4.500", "Bilag 2022-107"),
    (9, "2022-09-01", "6.000", "Bilag 2022-110"),
    (10, "2022-09-22", "11.000", "Bilag 2022-118"),
    (11, "2022-10-25", "8.500", "Bilag 2022-131"),
    (12, "2022-11-25", "6.000", "Bilag 2022-144 (aconto)"),
    (12, "2022-12-12", "6.000", "Bilag 2022-152"),
    (13, "2022-11-22", "5.500", "Bilag 2022-141"),
]


@dataclass
class DemoResult:
    db: str
    events: int
    status: Status
    reports: list[str]


class DemoClock:
    """Recorded times that follow the effective dates: the day after, 09:00 UTC, a minute apart."""

    def __init__(self) -> None:
        self.day = dt.date(2022, 1, 1)
        self.tick = 0

    def at(self, day: str | dt.date) -> None:
        self.day = dt.date.fromisoformat(day) if isinstance(day, str) else day
        self.tick = 0

    def __call__(self) -> dt.datetime:
        self.tick += 1
        return dt.datetime.combine(self.day, dt.time(9), dt.timezone.utc) + dt.timedelta(days=1, minutes=self.tick)


def plan_path() -> Path:
    return Path(str(resources.files("plans") / PLAN))


def build_demo(db: str, out: str, *, actor: str = "sekretariatet", force: bool = False) -> DemoResult:
    """Record the demo year in a new ledger file at `db` and write its ultimo report into `out`."""
    from ledger.files import write_atomic
    from ledger.service import LocationError
    from projections.report_render import FORMATS, render

    reports = [os.path.join(out, f"ultimo-2022.{fmt}") for fmt in FORMATS]
    if "://" in db:
        return _demo_in_database(db, out, reports, actor=actor, force=force)
    path = Path(db)
    if not force:
        taken = [p for p in [db, *reports] if os.path.exists(p) and os.path.getsize(p) > 0]
        if taken:
            raise LocationError(f"{taken[0]} already exists; choose another --db/--out or add --force to replace")
    os.makedirs(out, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.remove(f"{path}{suffix}")
    clock = DemoClock()
    with Pulje(db, actor, clock=clock) as pulje:
        record_year(pulje, clock)
        status = pulje.status(year=2022)
        data = pulje.ultimo(year=2022)
    for fmt, report in zip(FORMATS, reports, strict=True):
        write_atomic(report, render(data, fmt), force=True)
    return DemoResult(db=db, events=status.head[0], status=status, reports=reports)


def _demo_in_database(db: str, out: str, reports: list[str], *, actor: str, force: bool) -> DemoResult:
    """The demo in a database (PostgreSQL): into an empty ledger, or again over the demo's own ledger.

    A database ledger is never deleted: with --force an existing ledger is
    accepted only when it is exactly the demo year (the same head), and then
    only the reports are written again.
    """
    import tempfile

    from ledger.files import write_atomic
    from ledger.service import LocationError, shown_location
    from projections.report_render import FORMATS, render

    taken = [p for p in reports if os.path.exists(p) and os.path.getsize(p) > 0]
    if taken and not force:
        raise LocationError(f"{taken[0]} already exists; choose another --out or add --force to replace")
    clock = DemoClock()
    with Pulje(db, actor, clock=clock) as pulje:
        head = pulje.ledger.store.head()
        if head[0]:
            if not force:
                raise LocationError(
                    f"{shown_location(db)} already holds a ledger; give the demo an empty one (a new ?schema=NAME), "
                    "or add --force to rewrite the reports of a demo ledger"
                )
            with tempfile.TemporaryDirectory() as scratch, Pulje(os.path.join(scratch, "demo.db"), actor, clock=DemoClock()) as fresh:
                record_year(fresh, fresh.clock)
                if fresh.ledger.store.head() != head:
                    raise LocationError(
                        f"{shown_location(db)} holds a ledger that is not the demo year; the demo never replaces "
                        "a database ledger (give a new ?schema=NAME)"
                    )
        else:
            os.makedirs(out, exist_ok=True)
            record_year(pulje, clock)
        status = pulje.status(year=2022)
        data = pulje.ultimo(year=2022)
    os.makedirs(out, exist_ok=True)
    for fmt, report in zip(FORMATS, reports, strict=True):
        write_atomic(report, render(data, fmt), force=True)
    return DemoResult(db=shown_location(db), events=status.head[0], status=status, reports=reports)


def record_year(pulje: Pulje, clock: DemoClock) -> None:
    money = parse_amount
    clock.at("2021-12-09")
    pulje.import_plan(plan_path(), date=dt.date(2022, 1, 1), decision_ref="Styregruppemøde 9. december 2021, pkt. 2")
    numbers = []
    events: list[tuple[str, int, object]] = []
    for i, grant in enumerate(GRANTS):
        events.append((grant[0], 0, ("award", i)))
    for j, payment in enumerate(PAYMENTS):
        events.append((payment[1], 1, ("pay", j)))
    events.append(("2022-06-23", 2, ("reallocate", None)))
    events.append(("2022-07-05", 2, ("return", None)))
    events.append(("2022-09-15", 2, ("withdraw", None)))
    events.append(("2022-10-06", 2, ("knowledge", None)))
    events.sort(key=lambda e: (e[0], e[1]))
    vp_number = None
    for day, _, (what, index) in events:
        clock.at(day)
        date = dt.date.fromisoformat(day)
        if what == "award":
            _, recipient, purpose, area, amount, requested, ref = GRANTS[index]
            recorded = pulje.award(
                pool="BTP", year=2022, recipient=recipient, purpose=purpose, area=area, amount=money(amount),
                requested=money(requested), date=date, decided_by=AG, decision_ref=ref,
            )
            numbers.append(recorded.grant)
        elif what == "pay":
            grant_index, _, amount, ref = PAYMENTS[index]
            pulje.disburse(grant=numbers[grant_index], amount=money(amount), date=date, payment_ref=ref)
        elif what == "reallocate":
            pulje.reallocate(
                year=2022, from_line="12", to_line="14", amount=money("20.000"), date=date, decided_by=OEKF,
                decision_ref="ØKF j.nr. 2022-0412, efter drøftelse i styregruppen 22. juni 2022",
                reason="Den kvalitative måling blev billigere end ventet; flere tryghedsvandringer og borgermøder efter uroen i foråret",
            )
        elif what == "return":
            pulje.take_back(
                grant=numbers[3], amount=money("650"), date=date,
                reason="Fastelavnsfesten kostede mindre end bevilget; ubrugte midler tilbagebetalt",
            )
        elif what == "withdraw":
            pulje.withdraw(
                grant=numbers[4], date=date,
                reason="Aftenfodbolden stoppede i august; resten af bevillingen annulleres efter aftale med klubben",
            )
        elif what == "knowledge":
            recorded = pulje.award(
                pool="VP", year=2022, recipient="Sikker By, tryghedspartnerskabernes følgegruppe",
                purpose="Fyraftensmøde på tværs af Tingbjerg-Husum, Folehaven og Amager om tryghedsvandringer",
                area=None, amount=money("6.850"), requested=money("7.500"), date=date, decided_by=AG,
                decision_ref="AG-møde 6. oktober 2022, pkt. 5",
            )
            vp_number = recorded.grant
            clock.at("2022-11-10")
            pulje.disburse(grant=vp_number, amount=money("6.850"), date=dt.date(2022, 11, 10), payment_ref="Bilag 2022-139")
    clock.at("2022-12-15")
    for pool in ("BTP", "VP"):
        pulje.close_pool(
            pool=pool, year=2022, date=dt.date(2022, 12, 15), decided_by=AG,
            decision_ref="AG-møde 15. december 2022, pkt. 2 (afrapportering til styregruppen)",
        )
