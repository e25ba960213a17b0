"""The ultimo report on a fixed year: golden files, every figure against the ledger, and every format.

A small plan (four lines, two pools) is written by the test and a year is
recorded on it with a clock that follows the effective dates, so the ledger,
its head and the report are the same on every run and in every folder. The
year has what a real one has and what tends to break a report: aconto
payments, a return, a withdrawal, a reallocation into a pool's line, a
reversed payment, a reversed award, a reversed reallocation, a recipient
named `<script>alert(1)</script>`, a purpose with `|`, `*` and a newline,
texts a spreadsheet would run as formulas, a grant dated 31 December, and a
pool closed with grants still unpaid.

The year is recorded on each backend (an SQLite file, and a PostgreSQL schema
of its own through `PULJE_TEST_POSTGRES`; see conftest), and both must give
the golden files byte for byte: the same events give the same report,
whatever stores them.

Golden files live in `tests/golden/`. To regenerate them after an intended
change, run this module with `PULJE_UPDATE_GOLDEN=1`, read the diff, and run
again without it (a run with the variable always fails, so it never passes
silently).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from domain.money import parse_amount
from ledger.service import Pulje
from projections.report_render import render

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("PULJE_UPDATE_GOLDEN") == "1"

YEAR = 2023
AG = "arbejdsgruppen"
OEKF = "Økonomiforvaltningen"
ACTOR = "sekretariatet"
PLAN_NAME = "tryghedsplan-testby-2023.toml"

SCRIPT = "<script>alert(1)</script>"
MARKUP_PURPOSE = "Borgermøde | *tryghed* i Skolevangen\nmed kaffe & kage"
FORMULA_RECIPIENT = '=HYPERLINK("http://example.invalid","klik")'
FORMULA_PURPOSE = "-Dialogpavillon ved Ruten, tre lørdage"
FORMULA_REF = "@AG-møde 11. maj 2023, pkt. 3"
FORMULA_REASON = "+20.000 kr. til flere tryghedsvandringer efter uroen i foråret"
FORMULA_STARTS = ("=", "+", "-", "@")

PLAN = """
[plan]
partnership = "Testby"
title = "Tryghedsplan 2023"
year = 2023
areas = ["Tryggere byliv", "Positive fællesskaber"]

[authority]
reallocation = "Økonomiforvaltningen"

[[line]]
no = "1"
name = "Fælleshaven"
areas = ["Positive fællesskaber"]
responsible = "Den boligsociale helhedsplan i Testby"
[line.budget.2023]
total = 200000
posts = { "Lønmidler" = 150000, "Aktivitetsmidler" = 50000 }
[line.budget.2024]
total = 210000
preliminary = true

[[line]]
no = "2"
name = "Kommunikation"
[line.budget.2023]
total = "63.000"

[[line]]
no = "14"
name = "Bylivs- og tryghedspulje"
areas = ["Tryggere byliv", "Positive fællesskaber"]
[line.budget.2023]
total = 107000

[[line]]
no = "15"
name = "Videnspulje"
[line.budget.2023]
total = 25000

[[pool]]
id = "bylivs-og-tryghedspulje"
code = "BTP"
name = "Bylivs- og tryghedspulje"
line = "14"
decided_by = "arbejdsgruppen"

[[pool]]
id = "videnspulje"
code = "VP"
name = "Videnspulje"
line = "15"
decided_by = "arbejdsgruppen"
"""

# What the year above must come to, worked out by hand (øre).
PLAN_TOTAL = 39_500_000  # 395.000 kr., adopted and corrected alike: reallocations move money, never make it
BTP_FUNDING = 12_700_000  # 107.000 + 20.000 reallocated from line 1
BTP_AWARDED = 4_050_000  # 6.500 + 10.000 + 12.000 + 8.000 + 4.000 (the reversed 3.000 award does not count)
BTP_DISBURSED = 2_550_000  # 6.500 + 10.000 + 5.000 + 4.000 (the reversed 2.000 payment does not count)
BTP_RETURNED = 125_000
BTP_WITHDRAWN = 700_000
BTP_COMMITTED = BTP_AWARDED - BTP_WITHDRAWN - BTP_RETURNED  # 32.250
BTP_AVAILABLE = BTP_FUNDING - BTP_COMMITTED  # 94.750
BTP_OUTSTANDING = 800_000  # BTP-2023-004 half paid, BTP-2023-006 (31 December) not paid
VP_FUNDING, VP_AWARDED = 2_500_000, 685_000


class DateClock:
    """Recorded times that follow the effective dates: the day after, 09:00 UTC, a minute per reading."""

    def __init__(self) -> None:
        self.day = dt.date(YEAR, 1, 1)
        self.tick = 0

    def at(self, day: str) -> dt.date:
        self.day = dt.date.fromisoformat(day)
        self.tick = 0
        return self.day

    def __call__(self) -> dt.datetime:
        self.tick += 1
        return dt.datetime.combine(self.day, dt.time(9), dt.timezone.utc) + dt.timedelta(days=1, minutes=self.tick)


def record_year(folder: Path, db: str | None = None) -> str:
    """Write the plan file into `folder`, record the fixed year in `db` (default `folder/ledger.db`), return `db`."""
    folder.mkdir(parents=True, exist_ok=True)
    plan = folder / PLAN_NAME
    plan.write_text(PLAN, encoding="utf-8")
    db = db or str(folder / "ledger.db")
    clock = DateClock()
    kr = parse_amount
    with Pulje(db, ACTOR, clock=clock) as p:

        def award(day: str, pool: str, recipient: str, purpose: str, area: str | None, amount: str,
                  ref: str, requested: str | None = None) -> str:
            return p.award(
                pool=pool, year=YEAR, recipient=recipient, purpose=purpose, area=area, amount=kr(amount),
                requested=kr(requested) if requested else None, date=clock.at(day), decided_by=AG, decision_ref=ref,
            ).grant

        def pay(day: str, grant: str, amount: str, ref: str) -> int:
            return p.disburse(grant=grant, amount=kr(amount), date=clock.at(day), payment_ref=ref).sequence

        def reallocate(day: str, from_line: str, to_line: str, amount: str, ref: str, reason: str) -> int:
            return p.reallocate(
                year=YEAR, from_line=from_line, to_line=to_line, amount=kr(amount), date=clock.at(day),
                decided_by=OEKF, decision_ref=ref, reason=reason,
            ).sequence

        def reverse(day: str, sequence: int, reason: str) -> None:
            p.reverse(str(sequence), reason=reason, date=clock.at(day))

        clock.at("2022-12-08")
        p.import_plan(plan, date=dt.date(YEAR, 1, 1), decision_ref="Styregruppemøde 8. december 2022, pkt. 3")
        walk = award("2023-02-02", "BTP", "Beboerforeningen i Testby", "Tryghedsvandring i Gadelandet med politi",
                     "Tryggere byliv", "6.500", "AG-møde 2. februar 2023, pkt. 4", requested="8.000")
        pay("2023-02-10", walk, "3.000", "Bilag 2023-011 (aconto)")
        meeting = award("2023-03-09", "BTP", SCRIPT, MARKUP_PURPOSE, "Positive fællesskaber", "10.000",
                        "AG-møde 9. marts 2023, pkt. 2")
        pay("2023-03-15", walk, "3.500", "Bilag 2023-024")
        pay("2023-04-01", meeting, "10.000", "Bilag 2023-031")
        football = award("2023-04-20", "BTP", "Testby Boldklub", "Aftenfodbold for unge efter uro ved torvet",
                         "Tryggere byliv", "12.000", "AG-møde 20. april 2023, pkt. 2", requested="15.000")
        pay("2023-05-01", football, "5.000", "Bilag 2023-040 (aconto)")
        p.take_back(grant=meeting, amount=kr("1.250"), date=clock.at("2023-05-10"),
                    reason="Borgermødet kostede mindre end bevilget; resten er betalt tilbage")
        pavilion = award("2023-05-11", "BTP", FORMULA_RECIPIENT, FORMULA_PURPOSE, None, "8.000", FORMULA_REF)
        pay("2023-06-01", pavilion, "4.000", "Bilag 2023-052 (aconto)")
        twice = pay("2023-06-15", pavilion, "2.000", "Bilag 2023-058")
        reallocate("2023-06-20", "1", "14", "20.000", "ØKF j.nr. 2023-0101, efter styregruppemødet 19. juni 2023",
                   FORMULA_REASON)
        reverse("2023-06-22", twice, "Betalingen blev bogført to gange")
        clock.at("2023-07-03")
        wrong = p.award(
            pool="BTP", year=YEAR, recipient="Skolevangen 2, beboergruppen", purpose="Gårdfest med fokus på naboskab",
            area="Positive fællesskaber", amount=kr("3.000"), requested=None, date=clock.day, decided_by=AG,
            decision_ref="AG-møde 3. juli 2023, pkt. 2",
        ).sequence
        reverse("2023-07-04", wrong, "Bevillingen blev registreret på den forkerte pulje")
        moved = reallocate("2023-08-10", "2", "1", "5.000", "ØKF j.nr. 2023-0150",
                           "Kommunikationsmidler til Fælleshavens sommeraktiviteter")
        reverse("2023-08-17", moved, "Beslutningen gjaldt 2024, ikke 2023")
        p.withdraw(grant=football, date=clock.at("2023-09-01"),
                   reason="Aftenfodbolden stoppede i august; resten af bevillingen annulleres")
        talk = award("2023-10-05", "VP", "Sikker By, følgegruppen", "Fyraftensmøde om tryghedsvandringer", None,
                     "6.850", "AG-møde 5. oktober 2023, pkt. 5", requested="7.500")
        pay("2023-11-10", talk, "6.850", "Bilag 2023-139")
        award("2023-12-31", "BTP", "Beboerforeningen i Testby", "Beboerdrevet nytårsarrangement i Gadelandet",
              "Positive fællesskaber", "4.000", "Formandsbeslutning 31. december 2023")
        p.close_pool(pool="BTP", year=YEAR, date=dt.date(2023, 12, 31), decided_by=AG,
                     decision_ref="AG-møde 14. december 2023, pkt. 1 (lukning pr. 31. december)")
    return db


# ---------------------------------------------------------------------- helpers


def explain(result: Result) -> str:
    return (
        f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n"
        f"--- exception {result.exception!r}"
    )


def cli(db: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", str(db), "--actor", "revisor", *args])


def cli_json(db: str, *args: str) -> dict[str, Any]:
    result = cli(db, *args, "--format", "json")
    assert result.exit_code == 0, explain(result)
    return json.loads(result.stdout)


def report_data(db: str, lang: str = "da", pool: str | None = None) -> dict[str, Any]:
    with Pulje(db, "revisor", create=False) as p:
        return p.ultimo(year=YEAR, lang=lang, pool=pool)


def pool_of(report: dict[str, Any], code: str) -> dict[str, Any]:
    (found,) = [p for p in report["pools"] if p["code"] == code]
    return found


def grant_of(pool: dict[str, Any], recipient: str) -> dict[str, Any]:
    (found,) = [g for g in pool["grants"] if g["recipient"] == recipient]
    return found


def kroner_in_ore(value: Any) -> int:
    """A spreadsheet number in kroner as integer øre, refusing anything that is not exact."""
    assert isinstance(value, (int, float, Decimal)) and not isinstance(value, bool), repr(value)
    ore = Decimal(str(value)) * 100
    assert ore == ore.to_integral_value(), repr(value)
    return int(ore)


# ---------------------------------------------------------------------- fixtures


@contextmanager
def new_location(backend: str, folder: Path) -> Iterator[str]:
    """A new, empty ledger location: a file in `folder`, or a PostgreSQL schema of its own, dropped afterwards."""
    if backend == "sqlite":
        yield str(folder / "ledger.db")
        return
    from tests.conftest import PostgresSchema, _postgres_base

    schema = PostgresSchema(_postgres_base())
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fixed year, recorded on each backend."""
    folder = tmp_path_factory.mktemp(f"ultimo-{request.param}")
    with new_location(request.param, folder) as db:
        yield record_year(folder, db)


@pytest.fixture(scope="module")
def data(ledger: str) -> dict[str, Any]:
    return report_data(ledger)


@pytest.fixture(scope="module")
def rendered(data: dict[str, Any]) -> dict[str, bytes]:
    return {fmt: render(data, fmt) for fmt in ("md", "html", "json")}


@pytest.fixture(scope="module")
def pdf(data: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "ultimo.pdf"
    path.write_bytes(render(data, "pdf"))
    return path


@pytest.fixture(scope="module")
def workbook(data: dict[str, Any]) -> Any:
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(render(data, "xlsx")))


# ---------------------------------------------------------------------- golden files


def golden(name: str, content: bytes) -> None:
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(content)
        pytest.fail(f"PULJE_UPDATE_GOLDEN=1: wrote {path}; read the diff, then run again without the variable")
    assert path.exists(), f"{path} is missing; run with PULJE_UPDATE_GOLDEN=1 to write it"
    expected = path.read_bytes()
    if content != expected:
        import difflib

        diff = "\n".join(
            difflib.unified_diff(
                expected.decode("utf-8").splitlines(), content.decode("utf-8").splitlines(),
                f"golden/{name}", "rendered now", lineterm="", n=1,
            )
        )
        pytest.fail(f"the report differs from tests/golden/{name} (PULJE_UPDATE_GOLDEN=1 rewrites it):\n{diff[:6000]}")


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_the_danish_report_equals_its_golden_file(rendered: dict[str, bytes], fmt: str) -> None:
    golden(f"ultimo.{fmt}", rendered[fmt])


def test_the_english_markdown_report_equals_its_golden_file(ledger: str) -> None:
    golden("ultimo-en.md", render(report_data(ledger, lang="en"), "md"))


@pytest.mark.parametrize("where", ["same backend", "other backend"])
def test_two_builds_in_two_places_give_the_same_bytes_in_every_format(
    ledger: str, data: dict[str, Any], tmp_path: Path, where: str
) -> None:
    """Another folder or schema on the same backend, or the other backend: the same events, the same bytes."""
    backend = "postgres" if "://" in ledger else "sqlite"
    if where == "other backend":
        backend = {"sqlite": "postgres", "postgres": "sqlite"}[backend]
    with new_location(backend, tmp_path) as db:
        other = report_data(record_year(tmp_path / "elsewhere", db))

    assert other["head"] == data["head"]
    for fmt in ("md", "html", "json", "xlsx", "pdf"):
        assert render(other, fmt) == render(data, fmt), fmt


def test_the_report_carries_no_time_of_generation(rendered: dict[str, bytes], data: dict[str, Any]) -> None:
    today = dt.datetime.now(dt.timezone.utc).date()
    for fmt in ("md", "html", "json"):
        text = rendered[fmt].decode("utf-8")
        assert today.isoformat() not in text, fmt
        # every date in the report is one the ledger recorded: the plan year, the adoption, the day after 31 December
        for found in re.findall(r"\b(20[0-9]{2})-[0-9]{2}-[0-9]{2}", text):
            assert found in ("2022", "2023", "2024"), (fmt, found)
    xlsx = zipfile.ZipFile(io.BytesIO(render(data, "xlsx")))
    for content in [b"".join(xlsx.read(name) for name in xlsx.namelist()), render(data, "pdf")]:
        assert today.isoformat().encode() not in content
        assert today.strftime("%Y%m%d").encode() not in content


# ---------------------------------------------------------------------- every figure equals the ledger

POOL_FIGURES = (
    "funding_ore", "awarded_ore", "disbursed_ore", "returned_ore", "withdrawn_ore", "committed_ore", "available_ore",
    "unspent_ore", "outstanding_at_close_ore", "initial_funding_ore", "closed", "closed_on", "grant_count",
)
GRANT_FIGURES = (
    "grant", "pool", "year", "recipient", "purpose", "area", "date", "decided_by", "decision_ref", "requested_ore",
    "awarded_ore", "disbursed_ore", "returned_ore", "withdrawn_ore", "status",
)


@pytest.mark.parametrize("code", ["BTP", "VP"])
def test_every_pool_figure_in_the_report_equals_pool_show(ledger: str, data: dict[str, Any], code: str) -> None:
    shown = cli_json(ledger, "pool", "show", code, "--year", str(YEAR))
    reported = pool_of(data, code)

    for key in POOL_FIGURES:
        assert reported[key] == shown[key], key
        if key.endswith("_ore"):
            assert reported[key[:-4]] == shown[key[:-4]], key
    for key in set(shown) - {"head", "head_sequence", "as_of", "recorded_before", "grants"}:
        assert reported[key] == shown[key], key
    assert [g["grant"] for g in reported["grants"]] == [g["grant"] for g in shown["grants"]]
    for mine, theirs in zip(reported["grants"], shown["grants"], strict=True):
        for key in GRANT_FIGURES:
            assert mine[key] == theirs[key], (mine["grant"], key)
        assert {k: v for k, v in mine.items() if k != "kind_of_purpose"} == theirs


def test_the_pool_figures_are_the_ones_worked_out_by_hand(data: dict[str, Any]) -> None:
    btp, vp = pool_of(data, "BTP"), pool_of(data, "VP")

    figures = ("funding_ore", "awarded_ore", "disbursed_ore", "returned_ore", "withdrawn_ore")
    assert tuple(btp[key] for key in figures) == (BTP_FUNDING, BTP_AWARDED, BTP_DISBURSED, BTP_RETURNED, BTP_WITHDRAWN)
    assert (btp["committed_ore"], btp["available_ore"]) == (BTP_COMMITTED, BTP_AVAILABLE)
    assert btp["closed"] is True and btp["closed_on"] == "2023-12-31"
    assert btp["unspent_ore"] == BTP_AVAILABLE
    assert btp["outstanding_at_close_ore"] == btp["outstanding_ore"] == BTP_OUTSTANDING
    assert btp["disbursed_net_ore"] == BTP_DISBURSED - BTP_RETURNED
    assert (vp["funding_ore"], vp["awarded_ore"], vp["available_ore"], vp["closed"]) == (
        VP_FUNDING, VP_AWARDED, VP_FUNDING - VP_AWARDED, False,
    )
    statuses = {g["grant"]: g["status"] for g in btp["grants"]}
    assert statuses == {
        "BTP-2023-001": "disbursed", "BTP-2023-002": "disbursed", "BTP-2023-003": "withdrawn",
        "BTP-2023-004": "closed", "BTP-2023-005": "reversed", "BTP-2023-006": "closed",
    }
    assert grant_of(btp, "Testby Boldklub")["requested_ore"] == 1_500_000


def test_a_grant_dated_31_december_belongs_to_that_year(data: dict[str, Any]) -> None:
    btp = pool_of(data, "BTP")
    last = next(g for g in btp["grants"] if g["date"] == "2023-12-31")

    assert last["year"] == YEAR and last["awarded_ore"] == 400_000
    december = btp["months"][11]
    assert december["committed_ore"] == BTP_COMMITTED
    assert btp["months"][10]["committed_ore"] == BTP_COMMITTED - 400_000
    assert sum(s["awarded_ore"] for s in btp["summary_by_area"]) == BTP_AWARDED


def test_the_plan_totals_and_lines_equal_status(ledger: str, data: dict[str, Any]) -> None:
    (shown,) = cli_json(ledger, "status", "--year", str(YEAR))["plans"]
    plan = data["plan"]

    for key in ("partnership", "year", "total_adopted_ore", "total_adopted", "total_budget_ore", "total_budget"):
        assert plan[key] == shown[key], key
    assert plan["lines"] == shown["lines"]
    assert {k: v for k, v in plan.items() if k != "reallocations"} == shown
    assert plan["total_adopted_ore"] == plan["total_budget_ore"] == PLAN_TOTAL
    budgets = {line["line"]: (line["adopted_ore"], line["budget_ore"]) for line in plan["lines"]}
    assert budgets == {
        "1": (20_000_000, 18_000_000), "2": (6_300_000, 6_300_000), "14": (10_700_000, 12_700_000),
        "15": (2_500_000, 2_500_000),
    }


def test_the_reallocations_are_those_of_the_audit_trail(ledger: str, data: dict[str, Any]) -> None:
    events = cli_json(ledger, "audit")["events"]
    moves = [e for e in events if e["kind"] in ("reallocated", "reallocation_reversed")]
    reported = data["plan"]["reallocations"]

    assert [r["sequence"] for r in reported] == [e["sequence"] for e in moves]
    for r, e in zip(reported, moves, strict=True):
        assert (r["date"], r["kind"], r["decided_by"], r["decision_ref"], r["reason"]) == (
            e["date"], e["kind"], e["decided_by"], e["decision_ref"], e["reason"],
        )
        assert r["amount_ore"] == abs(e["amount_ore"])
        assert r["reversed_by_sequence"] == e["reversed_by_sequence"]
    moved = [(r["from_line"], r["to_line"], r["amount_ore"], r["reversed_by_sequence"] is not None) for r in reported]
    assert moved == [
        ("1", "14", 2_000_000, False),
        ("2", "1", 500_000, True),
        ("1", "2", 500_000, False),  # the counter-entry moves the money back
    ]


def test_the_funding_changes_start_with_the_adopted_budget_and_end_at_the_funding(data: dict[str, Any]) -> None:
    btp = pool_of(data, "BTP")
    changes = btp["funding_changes"]

    assert [(c["kind"], c["change_ore"], c["funding_after_ore"]) for c in changes] == [
        ("pool_opened", 10_700_000, 10_700_000),
        ("funding_changed", 2_000_000, BTP_FUNDING),
    ]
    assert changes[-1]["reason"] == FORMULA_REASON and changes[-1]["decided_by"] == OEKF
    assert btp["close"] == {
        "date": "2023-12-31", "decided_by": AG,
        "decision_ref": "AG-møde 14. december 2023, pkt. 1 (lukning pr. 31. december)",
    }


def test_the_head_is_the_ledgers_and_the_last_event_time_is_that_of_the_event_at_the_head(
    ledger: str, data: dict[str, Any]
) -> None:
    status = cli_json(ledger, "status")
    events = cli_json(ledger, "audit")["events"]
    at_head = next(e for e in events if e["sequence"] == status["head_sequence"])

    assert (data["head"], data["head_sequence"]) == (status["head"], status["head_sequence"])
    assert at_head["hash"] == data["head"]
    assert data["last_event_at"] == at_head["recorded_at"]
    assert at_head["kind"] == "pool_closed" and data["last_event_at"].startswith("2024-01-01T09:")
    assert data["verify_command"] == f"pulje verify --head {data['head']}"


def test_verify_accepts_the_head_the_report_states(ledger: str, data: dict[str, Any]) -> None:
    result = cli(ledger, "verify", "--head", data["head"])

    assert result.exit_code == 0, explain(result)


@pytest.mark.parametrize("code", ["BTP", "VP"])
@pytest.mark.parametrize("summary", ["summary_by_area", "summary_by_kind"])
def test_each_summary_adds_up_to_the_pools_totals(data: dict[str, Any], code: str, summary: str) -> None:
    pool = pool_of(data, code)
    rows = pool[summary]

    assert sum(r["awarded_ore"] for r in rows) == pool["awarded_ore"]
    assert sum(r["committed_ore"] for r in rows) == pool["committed_ore"]
    assert sum(r["disbursed_net_ore"] for r in rows) == pool["disbursed_net_ore"]
    assert sum(r["grants"] for r in rows) == sum(1 for g in pool["grants"] if g["status"] != "reversed")


def test_the_grants_are_sorted_into_the_kinds_of_purpose_the_plan_names(data: dict[str, Any]) -> None:
    kinds = {g["grant"]: g["kind_of_purpose"] for g in pool_of(data, "BTP")["grants"]}

    assert kinds["BTP-2023-001"] == "tryghedsvandring"
    assert kinds["BTP-2023-002"] == "borgermoede"
    assert kinds["BTP-2023-003"] == "efter_haendelse"
    assert kinds["BTP-2023-004"] == "dialogpavillon"
    assert kinds["BTP-2023-006"] == "beboerdrevet"


def test_one_pool_only_when_asked(ledger: str, data: dict[str, Any]) -> None:
    only = report_data(ledger, pool="VP")

    assert [p["code"] for p in only["pools"]] == ["VP"]
    assert only["pools"][0] == pool_of(data, "VP")
    assert only["plan"] == data["plan"] and only["head"] == data["head"]


# ---------------------------------------------------------------------- markdown, html and json text


def test_json_keeps_every_text_exactly_as_recorded(rendered: dict[str, bytes]) -> None:
    report = json.loads(rendered["json"])
    btp = pool_of(report, "BTP")

    assert grant_of(btp, SCRIPT)["purpose"] == MARKUP_PURPOSE
    assert grant_of(btp, FORMULA_RECIPIENT)["purpose"] == FORMULA_PURPOSE
    assert grant_of(btp, FORMULA_RECIPIENT)["decision_ref"] == FORMULA_REF
    assert report["plan"]["reallocations"][0]["reason"] == FORMULA_REASON


def test_markdown_shows_the_script_recipient_as_text_and_keeps_each_row_on_one_line(rendered: dict[str, bytes]) -> None:
    md = rendered["md"].decode("utf-8")

    assert "<script" not in md.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    (row,) = [line for line in md.splitlines() if "alert(1)" in line]
    assert "Borgermøde \\| \\*tryghed\\* i Skolevangen med kaffe &amp; kage" in row
    for table in re.split(r"\n\n", md):
        rows = [line for line in table.splitlines() if line.startswith("|")]
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in rows}
        assert len(widths) <= 1, table


def test_html_shows_the_script_recipient_only_escaped(rendered: dict[str, bytes]) -> None:
    html = rendered["html"].decode("utf-8")

    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Borgermøde | *tryghed* i Skolevangen\nmed kaffe &amp; kage" in html


def poisoned(data: dict[str, Any], *, close: bool) -> dict[str, Any]:
    """The report with every text that comes from the ledger replaced by a script tag."""
    import copy

    out = copy.deepcopy(data)
    out["partnership"] = out["plan_title"] = SCRIPT
    for pool in out["pools"]:
        pool["name"] = pool["decided_by"] = SCRIPT
        for grant in pool["grants"]:
            for key in ("recipient", "purpose", "area", "decided_by", "decision_ref"):
                grant[key] = SCRIPT
        for change in pool["funding_changes"]:
            for key in ("decided_by", "decision_ref", "reason"):
                change[key] = SCRIPT
        for row in pool["summary_by_area"]:
            row["key"] = SCRIPT
        if close and pool["close"]:
            pool["close"]["decided_by"] = pool["close"]["decision_ref"] = SCRIPT
    for line in out["plan"]["lines"]:
        line["name"] = SCRIPT
    for move in out["plan"]["reallocations"]:
        for key in ("from_line", "to_line", "decided_by", "decision_ref", "reason"):
            move[key] = SCRIPT
    return out


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_every_text_from_the_ledger_is_escaped_in_the_grant_and_plan_tables(data: dict[str, Any], fmt: str) -> None:
    text = render(poisoned(data, close=False), fmt).decode("utf-8")

    assert "<script" not in text.lower()
    assert text.count("&lt;script&gt;") >= 30


def test_the_html_escapes_the_closing_decision_too(data: dict[str, Any]) -> None:
    html = render(poisoned(data, close=True), "html").decode("utf-8")

    assert "<script" not in html.lower()


def test_the_markdown_escapes_the_closing_decision_too(data: dict[str, Any]) -> None:
    md = render(poisoned(data, close=True), "md").decode("utf-8")

    assert "<script" not in md.lower()


def test_html_is_one_self_contained_file_with_an_inline_chart(rendered: dict[str, bytes]) -> None:
    html = rendered["html"].decode("utf-8")

    assert "<link" not in html.lower()
    assert not re.search(r"\bsrc\s*=", html, re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html, re.I)
    assert "@import" not in html
    assert "<style>" in html and "<svg" in html
    assert html.count("<svg") == len(json.loads(rendered["json"])["pools"])


def test_the_charts_coordinates_are_integers_inside_the_chart(rendered: dict[str, bytes]) -> None:
    html = rendered["html"].decode("utf-8")
    lists = re.findall(r'points="([^"]*)"', html)

    assert len(lists) == 3 * 2 and all(lists)
    for points in lists:
        for pair in points.split():
            x, y = pair.split(",")
            assert re.fullmatch(r"[0-9]+", x) and re.fullmatch(r"[0-9]+", y), pair
            assert 0 <= int(x) <= 640 and 0 <= int(y) <= 260, pair


def test_the_chart_steps_up_with_the_reallocation_and_ends_at_the_funding(data: dict[str, Any]) -> None:
    chart = pool_of(data, "BTP")["chart"]
    funding = chart["series"]["funding"]
    top, height = chart["top"], chart["plot_height"]

    assert funding[0][0] == chart["left"] and funding[-1][0] == chart["left"] + chart["plot_width"]
    scale = chart["max_ore"]  # a round top at or above the largest funding: 150.000 kr. for 127.000 kr.
    assert scale == 15_000_000 and scale >= BTP_FUNDING
    assert [t["value_ore"] for t in chart["y_ticks"]] == list(range(0, scale + 1, 2_500_000))
    assert funding[-1][1] == top + height - BTP_FUNDING * height // scale
    assert len({y for _, y in funding}) == 2  # 107.000 kr., then 127.000 kr. from 20 June
    assert funding[0][1] == top + height - 10_700_000 * height // scale


def test_the_danish_report_states_the_close_and_what_is_still_unpaid(rendered: dict[str, bytes]) -> None:
    md = rendered["md"].decode("utf-8").replace("\xa0", " ")  # amounts keep "kr." on the line with a no-break space

    assert "Puljen blev lukket 2023-12-31" in md
    assert "Ubrugte midler ved lukningen: 94.750,00 kr." in md
    assert "Desuden var 8.000,00 kr. bevilget, men ikke udbetalt, da puljen blev lukket" in md
    assert "Puljen er ikke lukket. Til rådighed nu: 18.150,00 kr." in md
    assert "| lukket |" in md and "| tilbageført |" in md and "| annulleret |" in md


@pytest.mark.parametrize("lang", ["da", "en"])
def test_the_close_sentence_does_not_count_unpaid_grants_inside_the_unspent_money(
    data: dict[str, Any], lang: str
) -> None:
    from projections.report import LABELS
    from projections.report_render import unspent_text

    btp = pool_of(data, "BTP")
    # the unpaid 8.000 kr. are committed, so they are not part of the unspent money
    assert btp["unspent_ore"] == btp["available_ore"] == BTP_AVAILABLE
    text = unspent_text(btp, LABELS[lang]).replace("\xa0", " ")

    assert "8.000,00 kr." in text
    assert not re.search(r"\bHeraf\b|\bOf that\b", text), text


def test_the_english_report_has_english_headings(ledger: str) -> None:
    md = render(report_data(ledger, lang="en"), "md").decode("utf-8")
    html = render(report_data(ledger, lang="en"), "html").decode("utf-8")

    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings[0].startswith("# Report to the steering group, year end 2023")
    for heading in ("### Grants", "### Totals", "### Unspent money", "### Reallocations", "## The plan's budget 2023"):
        assert heading in headings
    for danish in ("Bevillinger", "I alt", "Ubrugte midler", "Omdisponeringer", "Tryghedsplanens budget", "Pulje:"):
        assert not any(danish in h for h in headings), danish
    assert '<html lang="en">' in html and "<h3>Grants</h3>" in html
    assert "The pool was closed on 2023-12-31" in md


# ---------------------------------------------------------------------- pdf


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    if os.path.exists("/usr/bin/pdftotext"):
        text += "\n" + subprocess.run(
            ["/usr/bin/pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
    return text


def test_the_pdf_states_the_plan_total_the_pool_totals_and_the_head(pdf: Path, data: dict[str, Any]) -> None:
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = pdf_text(pdf)
    flat = re.sub(r"\s+", "", text)

    assert "395.000,00" in text
    assert "127.000,00" in text  # the pool's funding
    assert "40.500,00" in text  # awarded from it
    assert data["head"][:16] in flat
    assert data["head"] in flat
    assert "Afrapportering til styregruppen" in text


# ---------------------------------------------------------------------- xlsx


def rows_of(sheet: Any) -> list[list[Any]]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_workbook_has_one_sheet_per_table(workbook: Any) -> None:
    titles = workbook.sheetnames

    assert titles[0] == "Oversigt"
    for code in ("BTP", "VP"):
        assert sum(1 for t in titles if t.endswith(f" {code}")) == 5, titles
    assert "Tryghedsplanens budget" in titles and "Omdisponeringer" in titles
    assert len(titles) == 1 + 2 * 5 + 2
    assert len(set(titles)) == len(titles)


def test_money_cells_are_numbers_in_kroner_with_a_kroner_format(workbook: Any) -> None:
    money_cells = 0
    for sheet in workbook.worksheets[1:]:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if "kr." in (cell.number_format or "") and cell.value is not None:
                    kroner_in_ore(cell.value)
                    money_cells += 1
                if isinstance(cell.value, str):
                    assert not re.fullmatch(r"-?[0-9.]+,[0-9]{2} kr\.", cell.value), (sheet.title, cell.coordinate)
    assert money_cells > 50


def test_the_workbook_figures_equal_the_ledger(workbook: Any, data: dict[str, Any]) -> None:
    btp = pool_of(data, "BTP")
    t = {row[0]: row[1] for row in rows_of(workbook["I alt BTP"])[1:]}
    assert kroner_in_ore(t["Midler"]) == btp["funding_ore"] == BTP_FUNDING
    assert kroner_in_ore(t["Bevilget"]) == btp["awarded_ore"]
    assert kroner_in_ore(t["Til rådighed"]) == btp["available_ore"]
    assert kroner_in_ore(t["Disponeret"]) == btp["committed_ore"]

    grants = rows_of(workbook["Bevillinger BTP"])
    header, body = grants[0], grants[1:]
    col = {name: i for i, name in enumerate(header)}
    assert [r[0] for r in body] == [g["grant"] for g in btp["grants"]]
    for row, grant in zip(body, btp["grants"], strict=True):
        for name, key in (("Bevilget", "awarded_ore"), ("Udbetalt", "disbursed_ore"), ("Tilbagebetalt", "returned_ore"),
                          ("Annulleret", "withdrawn_ore")):
            assert kroner_in_ore(row[col[name]]) == grant[key], (grant["grant"], name)
        requested = row[col["Ansøgt"]]
        assert (None if requested is None else kroner_in_ore(requested)) == grant["requested_ore"]

    budget = rows_of(workbook["Tryghedsplanens budget"])
    total = budget[-1]
    assert total[1] == "I alt" and kroner_in_ore(total[2]) == kroner_in_ore(total[3]) == PLAN_TOTAL
    lines = {r[0]: (kroner_in_ore(r[2]), kroner_in_ore(r[3])) for r in budget[1:-1]}
    assert lines == {line["line"]: (line["adopted_ore"], line["budget_ore"]) for line in data["plan"]["lines"]}

    moves = rows_of(workbook["Omdisponeringer"])[1:]
    assert [kroner_in_ore(r[3]) for r in moves] == [r["amount_ore"] for r in data["plan"]["reallocations"]]


def test_text_a_spreadsheet_would_run_as_a_formula_is_neutralised(workbook: Any) -> None:
    texts = [
        (sheet.title, cell.coordinate, cell.value)
        for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)
    ]

    assert not [t for t in texts if t[2].startswith(FORMULA_STARTS)]
    values = {value for _, _, value in texts}
    for dangerous in (FORMULA_RECIPIENT, FORMULA_PURPOSE, FORMULA_REF, FORMULA_REASON):
        assert "'" + dangerous in values, dangerous
    assert all(cell.data_type != "f" for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row)


def test_the_workbook_speaks_danish_not_event_codes(workbook: Any) -> None:
    codes = {"pool_opened", "funding_changed", "reallocated", "reallocation_reversed", "grant_awarded", "pool_closed"}
    found = [
        (sheet.title, cell.coordinate, cell.value)
        for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row if cell.value in codes
    ]

    assert found == []


@pytest.mark.parametrize(
    "fmt", ["md", "html", "xlsx"],
)
def test_every_format_marks_the_reversed_reallocation(data: dict[str, Any], workbook: Any, fmt: str) -> None:
    if fmt == "xlsx":
        rows = rows_of(workbook["Omdisponeringer"])[1:]
        marked = [r for r in rows if any(isinstance(v, str) and "tilbageført" in v for v in r)]
        assert [r[0].date().isoformat() for r in marked] == ["2023-08-10"]
        return
    text = render(data, fmt).decode("utf-8")
    assert "Kommunikationsmidler til Fælleshavens sommeraktiviteter (tilbageført)" in text
