"""Time: recorded times are UTC instants, effective dates are plain dates, years end on 31 December.

- Every stored event (and snapshot) records its time as a timezone-aware UTC
  instant: the stored JSON ends in `Z` (or `+00:00`). A clock that gives an
  aware time in another zone is stored as the same instant in UTC; a naive
  clock is refused before anything is written.
- Every effective date is a plain `YYYY-MM-DD` date, in storage and in JSON;
  the command line refuses a date with a time or an offset.
- A grant dated 2022-12-31 belongs to 2022: allowed on the 2022 pool, refused
  on the 2023 pool, counted in the 2022 ultimo report and not in 2023's; one
  dated 2023-01-01 is the other way round. A decision recorded at 00:30 on
  New Year's night in Copenhagen was recorded in the old year in UTC, and
  `--recorded-before` says so whichever way the moment is written.
- The DST days of the plan year in Copenhagen, 2022-03-27 (02:00 -> 03:00)
  and 2022-10-30 (03:00 -> 02:00), work as effective dates and as recorded
  times (00:30, the missing or doubled 02:30, 03:30 local): each is stored as
  the right UTC instant, `audit` lists them in recorded order, `replay` in
  effective-date order, and `--recorded-before` with `+01:00`, `+02:00` or
  `Z` around the change counts exactly the events recorded before it.

Found bug (strict xfail): the head that `--recorded-before` prints is chosen
by comparing ISO texts, so an event recorded within the named second but
after it (12:00:00.5 against 12:00:00) is counted in the head but not in the
figures, and one recorded at 12:00:00 is left out of the head for 12:00:00.5.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from domain.errors import DateError
from domain.money import parse_amount
from ledger.service import Pulje

ROOT = Path(__file__).resolve().parents[2]
PLAN_2022 = ROOT / "plans" / "tingbjerg-husum-2022.toml"
ENV = {"PULJE_DEBUG": None, "PULJE_DB": None, "PULJE_ACTOR": None}
UTC = dt.timezone.utc
CPH = ZoneInfo("Europe/Copenhagen")
AG = "arbejdsgruppen"
OEKF = "Økonomiforvaltningen"
STORED_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|\+00:00)")
PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

PLAN_2023 = """\
[plan]
partnership = "Tingbjerg-Husum"
title = "Tryghedsplan 2023"
year = 2023
areas = ["Tryggere byliv", "Uddannelse og beskæftigelse", "Positive fællesskaber"]

[authority]
reallocation = "Økonomiforvaltningen"

[[line]]
no = "14"
name = "Bylivs- og tryghedspulje"
[line.budget.2023]
total = 100000

[[pool]]
id = "bylivs-og-tryghedspulje"
code = "BTP"
name = "Bylivs- og tryghedspulje"
line = "14"
decided_by = "arbejdsgruppen"
"""


def explain(result: Result) -> str:
    return (
        f"exit {result.exit_code}\n--- stdout\n{result.stdout[:3000]}\n--- stderr\n{result.stderr[:3000]}\n"
        f"--- exception {result.exception!r}"
    )


class Clock:
    """A clock the test sets; it reads the same until set again."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class Cli:
    def __init__(self, db: Path) -> None:
        self.db = str(db)

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["--db", self.db, "--actor", "revisor", *args], env=ENV)

    def json(self, *args: str) -> Any:
        result = self(*args, "--format", "json")
        assert result.exit_code == 0, explain(result)
        return json.loads(result.stdout)


def award(
    pulje: Pulje, day: str, amount: str = "1.000", *, year: int = 2022, recipient: str = "Beboerforeningen"
) -> str:
    return pulje.award(
        pool="BTP",
        year=year,
        recipient=recipient,
        purpose="Tryghedsvandring",
        area=None,
        amount=parse_amount(amount),
        requested=None,
        date=dt.date.fromisoformat(day),
        decided_by=AG,
        decision_ref=f"AG {day}",
    ).grant


def stored(db: Path, table: str = "stored_events") -> list[dict[str, Any]]:
    """The JSON state of every stored event (or snapshot), as stored."""
    conn = sqlite3.connect(db)
    try:
        order = "rowid" if table == "stored_events" else "originator_id, originator_version"
        return [json.loads(bytes(state)) for (state,) in conn.execute(f"SELECT state FROM {table} ORDER BY {order}")]
    finally:
        conn.close()


def event_count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]
    finally:
        conn.close()


def utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------- every recorded time is UTC


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A year recorded partly through the command line (the system clock) and partly by a clock in Copenhagen.

    Sixty payments on one grant make the pool long enough to be stored with a snapshot.
    """
    db = tmp_path_factory.mktemp("year") / "ledger.db"
    cli = Cli(db)
    for args in (
        ("plan", "import", str(PLAN_2022)),
        (
            "grant",
            "award",
            "--pool",
            "BTP",
            "--year",
            "2022",
            "--recipient",
            "Husum Boldklub",
            "--purpose",
            "Aftenfodbold",
            "--amount",
            "12.000",
            "--date",
            "2022-04-21",
            "--decided-by",
            AG,
            "--decision-ref",
            "AG 21/4",
            "--key",
            "k-1",
        ),
        ("grant", "disburse", "BTP-2022-001", "--amount", "6.000", "--date", "2022-05-02"),
        ("grant", "return", "BTP-2022-001", "--amount", "500", "--date", "2022-07-05", "--reason", "Ubrugte midler"),
        (
            "reallocate",
            "--year",
            "2022",
            "--from",
            "12",
            "--to",
            "14",
            "--amount",
            "20.000",
            "--date",
            "2022-06-23",
            "--decided-by",
            OEKF,
            "--decision-ref",
            "ØKF 2022-0412",
            "--reason",
            "Flere tryghedsvandringer",
        ),
        ("grant", "withdraw", "BTP-2022-001", "--date", "2022-09-15", "--reason", "Aktiviteten stoppede"),
    ):
        result = cli(*args)
        assert result.exit_code == 0, explain(result)
    clock = Clock(dt.datetime(2022, 10, 1, 9, 0, tzinfo=CPH))
    with Pulje(str(db), "sekretariatet", clock=clock) as pulje:
        grant = award(pulje, "2022-10-01", "60.000", recipient="Tingbjerg Skole")
        for i in range(60):
            clock.now += dt.timedelta(hours=7)
            paid = pulje.disburse(
                grant=grant, amount=parse_amount("1.000"), date=dt.date(2022, 10, 2), payment_ref=f"Bilag {i}"
            )
        pulje.reverse(str(paid.sequence), reason="Forkert beløb")
        pulje.close_pool(pool="VP", year=2022, date=dt.date(2022, 12, 31), decided_by=AG, decision_ref="AG 15/12")
    return db


def test_every_stored_event_and_snapshot_records_a_timezone_aware_utc_time(
    year: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events, snapshots = stored(year), stored(year, "stored_snapshots")

    assert len(events) > 80 and snapshots, "the year is long enough to have snapshots"
    for state in events + snapshots:
        stamp = state["timestamp"]
        assert STORED_UTC.fullmatch(stamp), stamp
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert moment.tzinfo is not None and moment.utcoffset() == dt.timedelta(0)
    audit = Cli(year).json("audit")["events"]
    assert all(e["recorded_at"].endswith("Z") and STORED_UTC.fullmatch(e["recorded_at"]) for e in audit)
    with capsys.disabled():
        print(
            f"\n[figure] time: {len(events)} stored events and {len(snapshots)} snapshot(s), "
            f"{len(events) + len(snapshots)} of {len(events) + len(snapshots)} timestamps timezone-aware UTC"
        )


def test_every_effective_date_is_a_plain_date_in_storage_and_in_json(year: Path) -> None:
    dates = [state["date"] for state in stored(year)]
    cli = Cli(year)

    assert dates and all(isinstance(d, str) and PLAIN_DATE.fullmatch(d) for d in dates), {
        d for d in dates if not PLAIN_DATE.fullmatch(str(d))
    }
    assert all(PLAIN_DATE.fullmatch(e["date"]) for e in cli.json("audit")["events"])
    pool = cli.json("pool", "show", "BTP", "--year", "2022")
    assert all(PLAIN_DATE.fullmatch(g["date"]) for g in pool["grants"])
    assert all(PLAIN_DATE.fullmatch(s["date"]) for s in cli.json("replay", "--pool", "BTP", "--year", "2022")["steps"])


@pytest.mark.parametrize(
    "typed", ["2022-03-01T10:00", "2022-03-01T10:00:00Z", "2022-03-01+01:00", "2022-03-01 10:00", "20220301"]
)
def test_the_command_line_refuses_a_date_with_a_time_or_an_offset(year: Path, tmp_path: Path, typed: str) -> None:
    copy = tmp_path / "copy.db"
    shutil.copyfile(year, copy)
    before = event_count(copy)

    result = Cli(copy)(
        "grant",
        "award",
        "--pool",
        "BTP",
        "--year",
        "2022",
        "--recipient",
        "R",
        "--purpose",
        "P",
        "--amount",
        "1.000",
        "--date",
        typed,
        "--decided-by",
        AG,
        "--decision-ref",
        "AG",
    )

    assert result.exit_code == 2, explain(result)
    assert "--date" in result.stderr and "YYYY-MM-DD" in result.stderr
    assert event_count(copy) == before


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2022, 1, 15, 10, 0, tzinfo=CPH),
        dt.datetime(2022, 7, 15, 10, 0, tzinfo=CPH),
        dt.datetime(2022, 7, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        dt.datetime(2022, 7, 15, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
        dt.datetime(2022, 7, 15, 10, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-9, minutes=-30))),
    ],
    ids=["Copenhagen winter", "Copenhagen summer", "+05:30", "-03:00", "-09:30 with microseconds"],
)
def test_a_clock_in_another_timezone_is_stored_as_the_same_instant_in_utc(tmp_path: Path, now: dt.datetime) -> None:
    db = tmp_path / "ledger.db"
    with Pulje(str(db), "sekretariatet", clock=Clock(now)) as pulje:
        pulje.import_plan(PLAN_2022)
        award(pulje, "2022-03-01")
        pulje.award(  # a command key is recorded too, at the same instant
            pool="BTP", year=2022, recipient="Tingbjerg Skole", purpose="Lysvandring", area=None,
            amount=parse_amount("500"), requested=None, date=dt.date(2022, 3, 2), decided_by=AG,
            decision_ref="AG 2022-03", key="ag-2022-03-02-skole",
        )

    stamps = {state["timestamp"] for state in stored(db)}
    assert any(state.get("command") == "grant award" for state in stored(db))
    assert stamps == {utc_text(now)}
    assert {e["recorded_at"] for e in Cli(db).json("audit")["events"]} == {utc_text(now)}


def test_a_naive_clock_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    naive = Clock(dt.datetime(2022, 3, 1, 10, 0))
    db = tmp_path / "ledger.db"

    with Pulje(str(db), "sekretariatet", clock=naive) as pulje, pytest.raises(ValueError, match="naive"):
        pulje.import_plan(PLAN_2022)
    assert event_count(db) == 0

    with Pulje(str(db), "sekretariatet", clock=Clock(dt.datetime(2022, 3, 1, 9, 0, tzinfo=UTC))) as pulje:
        pulje.import_plan(PLAN_2022)
    adopted = event_count(db)
    with Pulje(str(db), "sekretariatet", clock=naive) as pulje, pytest.raises(ValueError, match="naive"):
        award(pulje, "2022-03-01")
    assert event_count(db) == adopted


# ---------------------------------------------------------------------- the year's last and first day


@pytest.fixture(scope="module")
def new_year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2022 and 2023 plans; a grant dated 31 December recorded at 00:30 on New Year's night, Copenhagen time."""
    folder = tmp_path_factory.mktemp("new-year")
    plan_2023 = folder / "plan-2023.toml"
    plan_2023.write_text(PLAN_2023, encoding="utf-8")
    db = folder / "ledger.db"
    clock = Clock(dt.datetime(2022, 1, 3, 9, 0, tzinfo=UTC))
    with Pulje(str(db), "sekretariatet", clock=clock) as pulje:
        pulje.import_plan(PLAN_2022)
        pulje.import_plan(plan_2023)
        clock.now = dt.datetime(2022, 12, 31, 23, 50, tzinfo=CPH)
        assert award(pulje, "2022-12-31", "2.000", recipient="Nytårsvagt 2022") == "BTP-2022-001"
        clock.now = dt.datetime(2023, 1, 1, 0, 30, tzinfo=CPH)  # 2022-12-31T23:30Z: still the old year in UTC
        assert award(pulje, "2022-12-31", "3.000", recipient="Nytårsnat") == "BTP-2022-002"
        clock.now = dt.datetime(2023, 1, 1, 1, 30, tzinfo=CPH)  # 2023-01-01T00:30Z
        assert award(pulje, "2023-01-01", "4.000", year=2023, recipient="Nytårsdag") == "BTP-2023-001"
    return db


@pytest.mark.parametrize(
    "day, pool_year, allowed",
    [("2022-12-31", 2022, True), ("2022-12-31", 2023, False), ("2023-01-01", 2022, False), ("2023-01-01", 2023, True)],
)
def test_a_grant_belongs_to_the_year_of_its_date(
    new_year: Path, tmp_path: Path, day: str, pool_year: int, allowed: bool
) -> None:
    copy = tmp_path / "copy.db"
    shutil.copyfile(new_year, copy)
    before = event_count(copy)

    result = Cli(copy)(
        "grant",
        "award",
        "--pool",
        "BTP",
        "--year",
        str(pool_year),
        "--recipient",
        "R",
        "--purpose",
        "P",
        "--amount",
        "1.000",
        "--date",
        day,
        "--decided-by",
        AG,
        "--decision-ref",
        "AG",
    )

    if allowed:
        assert result.exit_code == 0, explain(result)
        assert event_count(copy) > before
    else:
        assert result.exit_code == 3, explain(result)
        assert day in result.stderr and str(pool_year) in result.stderr
        assert event_count(copy) == before
        with Pulje(str(copy), "t") as pulje, pytest.raises(DateError):
            award(pulje, day, year=pool_year)


def test_a_grant_dated_31_december_is_counted_in_that_years_report_and_not_the_next(
    new_year: Path, tmp_path: Path
) -> None:
    cli = Cli(new_year)
    reports = {}
    for report_year in (2022, 2023):
        out = tmp_path / f"ultimo-{report_year}.json"
        result = cli("report", "ultimo", "--year", str(report_year), "--format", "json", "--output", str(out))
        assert result.exit_code == 0, explain(result)
        reports[report_year] = json.loads(out.read_text(encoding="utf-8"))

    def grants(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {g["grant"]: g for pool in report["pools"] for g in pool["grants"]}

    assert {"BTP-2022-001", "BTP-2022-002"} <= set(grants(reports[2022])) and "BTP-2023-001" not in grants(
        reports[2022]
    )
    assert set(grants(reports[2023])) == {"BTP-2023-001"}
    btp_2022 = next(p for p in reports[2022]["pools"] if p["code"] == "BTP")
    assert btp_2022["awarded_ore"] == 500_000
    as_of = cli.json("pool", "show", "BTP", "--year", "2022", "--as-of", "2022-12-31")
    assert as_of["awarded_ore"] == 500_000


@pytest.mark.parametrize(
    "moment, known",
    [
        ("2023-01-01", {"BTP-2022-001", "BTP-2022-002"}),  # midnight UTC: 01:00 in Copenhagen
        ("2023-01-01T00:00Z", {"BTP-2022-001", "BTP-2022-002"}),
        ("2023-01-01T01:00+01:00", {"BTP-2022-001", "BTP-2022-002"}),  # the same instant, Copenhagen time
        ("2023-01-01T00:00+01:00", {"BTP-2022-001"}),  # midnight in Copenhagen: the 00:30 decision is not known yet
        ("2022-12-31T23:00Z", {"BTP-2022-001"}),
        ("2023-01-01T02:00+01:00", {"BTP-2022-001", "BTP-2022-002", "BTP-2023-001"}),
    ],
)
def test_recorded_before_new_year_counts_what_was_recorded_before_that_instant(
    new_year: Path, moment: str, known: set[str]
) -> None:
    cli = Cli(new_year)
    seen = set()
    for pool_year in (2022, 2023):
        result = cli("pool", "show", "BTP", "--year", str(pool_year), "--recorded-before", moment, "--format", "json")
        if result.exit_code == 0:
            seen |= {g["grant"] for g in json.loads(result.stdout)["grants"]}

    assert seen == known
    audit = cli.json("audit")["events"]
    recorded = {e["grant"]: e["recorded_at"] for e in audit if e["kind"] == "grant_awarded"}
    assert recorded == {
        "BTP-2022-001": "2022-12-31T22:50:00Z",
        "BTP-2022-002": "2022-12-31T23:30:00Z",
        "BTP-2023-001": "2023-01-01T00:30:00Z",
    }


# ---------------------------------------------------------------------- the DST days of 2022 in Copenhagen


#: (local wall time on a DST day, fold, the UTC instant it is, the effective date of the decision then recorded)
DST_MOMENTS = [
    ("2022-03-27 00:30", 0, "2022-03-26T23:30:00Z", "2022-10-30"),
    (
        "2022-03-27 02:30",
        0,
        "2022-03-27T01:30:00Z",
        "2022-03-27",
    ),  # does not exist: read with the offset before, +01:00
    ("2022-03-27 03:30", 0, "2022-03-27T01:30:00Z", "2022-10-30"),  # the same instant as the missing 02:30
    ("2022-03-27 04:30", 0, "2022-03-27T02:30:00Z", "2022-03-26"),
    ("2022-10-30 00:30", 0, "2022-10-29T22:30:00Z", "2022-03-27"),
    ("2022-10-30 02:30", 0, "2022-10-30T00:30:00Z", "2022-10-30"),  # the first 02:30, summer time (+02:00)
    ("2022-10-30 02:30", 1, "2022-10-30T01:30:00Z", "2022-03-27"),  # the second 02:30, winter time (+01:00)
    ("2022-10-30 03:30", 0, "2022-10-30T02:30:00Z", "2022-10-31"),
]


def local(wall: str, fold: int) -> dt.datetime:
    return dt.datetime.fromisoformat(wall).replace(tzinfo=CPH, fold=fold)


@pytest.fixture(scope="module")
def dst(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """One grant per DST moment, recorded at that moment, dated out of order; grant number -> its UTC instant."""
    db = tmp_path_factory.mktemp("dst") / "ledger.db"
    clock = Clock(dt.datetime(2022, 1, 3, 9, 0, tzinfo=UTC))
    recorded = {}
    with Pulje(str(db), "sekretariatet", clock=clock) as pulje:
        pulje.import_plan(PLAN_2022)
        for i, (wall, fold, _, day) in enumerate(DST_MOMENTS, start=1):
            clock.now = local(wall, fold)
            number = award(pulje, day, f"{i}.000", recipient=f"{wall} fold {fold}")
            recorded[number] = utc_text(clock.now)
    return db, recorded


def test_the_dst_moments_are_stored_as_the_right_utc_instants(dst: tuple[Path, dict[str, str]]) -> None:
    db, recorded = dst

    assert list(recorded.values()) == [utc for _, _, utc, _ in DST_MOMENTS]
    awards = [state for state in stored(db) if "recipient" in state]
    assert [s["timestamp"] for s in awards] == [utc for _, _, utc, _ in DST_MOMENTS]
    assert [s["date"] for s in awards] == [day for *_, day in DST_MOMENTS]


def test_audit_lists_the_dst_moments_in_recorded_order_and_replay_in_effective_date_order(
    dst: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    db, recorded = dst
    cli = Cli(db)

    audit = [e for e in cli.json("audit")["events"] if e["kind"] == "grant_awarded"]
    steps = [s for s in cli.json("replay", "--pool", "BTP", "--year", "2022")["steps"] if s["kind"] == "grant_awarded"]

    assert [e["grant"] for e in audit] == list(recorded)
    assert [e["recorded_at"] for e in audit] == sorted(e["recorded_at"] for e in audit)
    assert [(s["date"], s["sequence"]) for s in steps] == sorted((s["date"], s["sequence"]) for s in steps)
    assert [s["date"] for s in steps] == sorted(day for *_, day in DST_MOMENTS)
    assert steps[-1]["awarded_ore"] == sum(i * 100_000 for i in range(1, len(DST_MOMENTS) + 1))
    by_date = {}
    for s in steps:
        by_date.setdefault(s["date"], []).append(s["grant"])
    assert all(group == sorted(group) for group in by_date.values()), "ties on a date keep the recorded order"
    with capsys.disabled():
        print(
            f"\n[figure] time: {len(DST_MOMENTS)} decisions recorded at 00:30, 02:30 (missing / twice), 03:30 and "
            f"04:30 on 2022-03-27 and 2022-10-30 in Copenhagen: stored as the right UTC instants, audit in "
            f"recorded order, replay in effective-date order"
        )


AROUND_DST = [
    "2022-03-27T00:00+01:00",
    "2022-03-27T01:30+01:00",
    "2022-03-27T02:45+01:00",
    "2022-03-27T03:15+02:00",
    "2022-03-27T03:45+02:00",
    "2022-03-27T01:31Z",
    "2022-03-27T04:31+02:00",
    "2022-10-30T02:15+02:00",
    "2022-10-30T02:45+02:00",
    "2022-10-30T02:15+01:00",
    "2022-10-30T02:45+01:00",
    "2022-10-30T01:45Z",
    "2022-10-30T03:31+01:00",
    "2022-10-30",
    "2022-10-31",
]


@pytest.mark.parametrize("moment", AROUND_DST)
def test_recorded_before_with_offsets_around_the_dst_change_counts_exactly_what_was_recorded_before(
    dst: tuple[Path, dict[str, str]], moment: str
) -> None:
    db, recorded = dst
    cli = Cli(db)
    text = moment if "T" in moment else moment + "T00:00:00Z"
    instant = dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    before = {
        number for number, at in recorded.items() if dt.datetime.fromisoformat(at.replace("Z", "+00:00")) < instant
    }
    audit = cli.json("audit")["events"]
    head = max(
        e["sequence"] for e in audit if dt.datetime.fromisoformat(e["recorded_at"].replace("Z", "+00:00")) < instant
    )

    pool = cli.json("pool", "show", "BTP", "--year", "2022", "--recorded-before", moment)
    status = cli.json("status", "--year", "2022", "--recorded-before", moment)
    replay = cli.json("replay", "--pool", "BTP", "--year", "2022", "--recorded-before", moment)

    assert {g["grant"] for g in pool["grants"]} == before
    assert pool["awarded_ore"] == sum(int(n[-3:]) * 100_000 for n in before)
    assert (pool["head_sequence"], status["head_sequence"], replay["head_sequence"]) == (head, head, head)
    assert {s["grant"] for s in replay["steps"] if s["kind"] == "grant_awarded"} == before
    same_instant = utc_text(instant)
    assert cli.json("pool", "show", "BTP", "--year", "2022", "--recorded-before", same_instant) == {
        **pool,
        "recorded_before": same_instant,
    }


@pytest.mark.parametrize(
    "recorded_at, moment",
    [
        (dt.datetime(2022, 11, 1, 12, 0, 0, 500000, tzinfo=UTC), "2022-11-01T12:00:00Z"),
        (dt.datetime(2022, 11, 1, 12, 0, 0, tzinfo=UTC), "2022-11-01T12:00:00.5Z"),
    ],
    ids=["recorded 12:00:00.5, before 12:00:00", "recorded 12:00:00, before 12:00:00.5"],
)
def test_the_head_of_recorded_before_agrees_with_its_figures_within_a_second(
    tmp_path: Path, recorded_at: dt.datetime, moment: str
) -> None:
    db = tmp_path / "ledger.db"
    clock = Clock(dt.datetime(2022, 1, 3, 9, 0, tzinfo=UTC))
    with Pulje(str(db), "sekretariatet", clock=clock) as pulje:
        pulje.import_plan(PLAN_2022)
        clock.now = recorded_at
        award(pulje, "2022-11-01")
    cli = Cli(db)
    audit = cli.json("audit")["events"]
    instant = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    included = recorded_at < instant

    pool = cli.json("pool", "show", "BTP", "--year", "2022", "--recorded-before", moment)

    assert pool["awarded_ore"] == (100_000 if included else 0)
    assert pool["head_sequence"] == (audit[-1]["sequence"] if included else audit[-2]["sequence"])
