"""Integration: `pulje export` (jsonl, csv, journal), `import-events`, and `--output`.

A `jsonl` export is the ledger itself in a file: imported into an empty
ledger it gives the same head, the same views and the same audit trail, and
exported again the same bytes. A file that was cut, reordered, forged or
mixed up is refused naming the line, with the documented exit code
(2 a malformed file, 1 a file that does not verify, 3 a target that is not
empty), and nothing is written. The `csv` export is safe to open in a
spreadsheet; the `journal` export is read by hledger and agrees with
`pulje status` to the øre. `--output` writes a whole file or none.

The ledgers: the demo year (`ledger.demo.record_year`, the realistic 2022 of
the bundled plan) and a year with what the demo lacks (reversals of every
kind, a command key, a late entry, a recipient whose name has the journal's
special characters), both recorded once per module on each backend and only
read. Every test runs on SQLite and on PostgreSQL (conftest's `backend`): the
sources, the import targets and the ledgers a test writes to are all on the
test's backend; the same year recorded on either backend exports the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import multiprocessing
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from domain.money import parse_amount
from ledger.chain import GENESIS, link
from ledger.demo import DemoClock, record_year
from ledger.exports import ImportFileError, ImportRefusedError, ImportVerificationError
from ledger.service import Pulje
from tests.conftest import PLAN_2022, PostgresSchema, RawSQL, TickingClock, _postgres_base

AG = "arbejdsgruppen"
OEKF = "Økonomiforvaltningen"
UTC = dt.timezone.utc
ODD = 'Café "Ø" ; (test) : [x]'
PARTNERSHIP = "Tingbjerg-Husum"
RECORD_FIELDS = {"position", "hash", "originator_id", "originator_version", "topic", "state"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NO_FORK = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="a second process needs fork (Linux)"
)


# ---------------------------------------------------------------------- the command line


def explain(result: Result) -> str:
    return (
        f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n--- {result.exception!r}"
    )


class Cli:
    """`pulje --db LOCATION --actor revisor ...` on one ledger (an SQLite path or a PostgreSQL URL)."""

    def __init__(self, db: str) -> None:
        self.db = str(db)
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(main, ["--db", self.db, "--actor", "revisor", *args])

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, explain(result)
        return result

    def json(self, *args: str) -> dict[str, Any]:
        return json.loads(self.ok(*args, "--format", "json").stdout)

    def export(self, fmt: str, path: Path) -> Path:
        self.ok("export", "--format", fmt, "--output", str(path))
        return path


def message_of(result: Result, code: int) -> str:
    """A clean refusal: the exit code, one line on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == code, explain(result)
    assert isinstance(result.exception, SystemExit), explain(result)
    assert "Traceback" not in result.output, explain(result)
    assert result.stdout == "", explain(result)
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("Usage:", "Try '"))]
    assert len(lines) == 1, explain(result)
    return lines[0]


# ---------------------------------------------------------------------- the ledgers


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def money(text: str) -> Any:
    return parse_amount(text)


def build_demo(db: str) -> str:
    clock = DemoClock()
    with Pulje(db, "sekretariatet", clock=clock) as pulje:
        record_year(pulje, clock)
    return db


def build_varied(db: str) -> str:
    """A year with what the demo lacks: reversals of each kind, a command key, a late entry, odd names."""
    clock = TickingClock()

    def at(when: str) -> None:
        clock.now = dt.datetime.combine(day(when), dt.time(9), UTC)

    def award(recipient: str, amount: str, date: str, pool: str = "BTP") -> str:
        at(date)
        return pulje.award(
            pool=pool, year=2022, recipient=recipient, purpose=f"Arrangement: {recipient}", area=None,
            amount=money(amount), requested=money(amount), date=day(date), decided_by=AG,
            decision_ref=f"AG-møde {date}",
        ).grant

    with Pulje(db, "sekretariatet", clock=clock) as pulje:
        pulje.import_plan(PLAN_2022, decision_ref="Styregruppemøde 9. december 2021, pkt. 2")
        at("2022-02-01")
        pulje.reallocate(
            year=2022, from_line="12", to_line="14", amount=money("20.000"), date=day("2022-02-01"), decided_by=OEKF,
            decision_ref="ØKF j.nr. 2022-0412", reason="Flere tryghedsvandringer", key="omdisponering-1",
        )
        odd = award(ODD, "10.000", "2022-03-01")
        pulje.disburse(grant=odd, amount=money("6.000"), date=day("2022-03-10"), payment_ref="Bilag 1; (a) : [b]")
        returned = pulje.take_back(grant=odd, amount=money("1.000"), date=day("2022-03-20"), reason="For meget")
        pulje.reverse(str(returned.sequence), reason="Tilbagebetalingen var en fejl")
        pulje.take_back(grant=odd, amount=money("500"), date=day("2022-03-25"), reason="Ubrugte midler")

        mistaken = award("Fejl Forening", "5.000", "2022-04-01")
        pulje.reverse(str(award_sequence(pulje, mistaken)), reason="Forkert modtager")

        paid_twice = award("Husum Boldklub", "4.000", "2022-05-01")
        payment = pulje.disburse(grant=paid_twice, amount=money("2.000"), date=day("2022-05-10"), payment_ref="Bilag 2")
        pulje.reverse(str(payment.sequence), reason="Betalt to gange")
        withdrawal = pulje.withdraw(grant=paid_twice, date=day("2022-06-01"), reason="Aflyst")
        pulje.reverse(str(withdrawal.sequence), reason="Alligevel gennemført")
        pulje.disburse(grant=paid_twice, amount=money("4.000"), date=day("2022-06-20"), payment_ref="Bilag 3")

        at("2022-07-01")
        back = pulje.reallocate(
            year=2022, from_line="14", to_line="12", amount=money("5.000"), date=day("2022-07-01"), decided_by=OEKF,
            decision_ref="ØKF j.nr. 2022-0500", reason="Målingen blev dyrere",
        )
        pulje.reverse(str(back.sequence), reason="Beslutningen blev omgjort")

        knowledge = award("Sikker By", "2.000", "2022-08-01", pool="VP")
        pulje.disburse(grant=knowledge, amount=money("2.000"), date=day("2022-08-15"), payment_ref=None)
        withdrawn = award("Tingbjerg Skole", "3.000", "2022-09-01")
        pulje.disburse(grant=withdrawn, amount=money("1.000"), date=day("2022-09-05"), payment_ref="Bilag 4")
        pulje.withdraw(grant=withdrawn, date=day("2022-09-30"), reason="Resten bruges ikke")

        clock.now = dt.datetime(2023, 1, 20, 9, tzinfo=UTC)
        pulje.award(
            pool="BTP", year=2022, recipient="Julemarked i Husum", purpose="Julemarked", area="Positive fællesskaber",
            amount=money("2.500"), requested=None, date=day("2022-12-10"), decided_by=AG,
            decision_ref="AG-møde 8. december 2022 (indtastet i januar)",
        )
    return db


def award_sequence(pulje: Pulje, grant: str) -> int:
    """The audit sequence of a grant's award."""
    rows, _, _ = pulje.audit()
    return next(r.sequence for r in rows if r.kind == "grant_awarded" and r.grant == grant)


LEDGERS: dict[str, Callable[[str], str]] = {"demo year": build_demo, "varied year": build_varied}


class Recorded:
    """The ledgers on each backend, recorded on first use and kept (read only) for the module."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ledgers: dict[str, dict[str, str]] = {}
        self.exports: dict[str, Path] = {}
        self.schemas: list[PostgresSchema] = []

    def on(self, backend: str) -> dict[str, str]:
        if backend not in self.ledgers:
            self.ledgers[backend] = {name: build(self.location(backend, name)) for name, build in LEDGERS.items()}
        return self.ledgers[backend]

    def location(self, backend: str, name: str) -> str:
        if backend == "sqlite":
            return str(self.folder / f"{name.replace(' ', '-')}.db")
        schema = PostgresSchema(_postgres_base())
        self.schemas.append(schema)
        return schema.url

    def demo_export(self, backend: str) -> Path:
        if backend not in self.exports:
            self.exports[backend] = Cli(self.on(backend)["demo year"]).export(
                "jsonl", self.folder / f"demo-{backend}.jsonl"
            )
        return self.exports[backend]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    found = Recorded(tmp_path_factory.mktemp("ledgers"))
    yield found
    for schema in found.schemas:
        schema.drop()


@pytest.fixture
def ledgers(recorded: Recorded, backend: str) -> dict[str, str]:
    """The recorded ledgers on the test's backend (read only)."""
    return recorded.on(backend)


@pytest.fixture(params=list(LEDGERS))
def source(request: pytest.FixtureRequest, ledgers: dict[str, str]) -> Cli:
    """A recorded ledger on the test's backend (read only)."""
    return Cli(ledgers[request.param])


@pytest.fixture
def demo_export(recorded: Recorded, backend: str) -> Path:
    """The demo year exported from the test's backend."""
    return recorded.demo_export(backend)


def test_the_same_years_recorded_on_either_backend_export_the_same_bytes(recorded: Recorded, tmp_path: Path) -> None:
    """The same commands at the same clock give the same events, chain and head on SQLite and on PostgreSQL."""
    for name in LEDGERS:
        on_sqlite, on_postgres = Cli(recorded.on("sqlite")[name]), Cli(recorded.on("postgres")[name])
        assert on_postgres.json("status") == on_sqlite.json("status"), name
        for fmt in ("jsonl", "csv", "journal"):
            mine = on_sqlite.export(fmt, tmp_path / f"{name}-sqlite.{fmt}").read_bytes()
            theirs = on_postgres.export(fmt, tmp_path / f"{name}-postgres.{fmt}").read_bytes()
            assert theirs == mine, (name, fmt)


# ---------------------------------------------------------------------- jsonl: lossless


def test_the_jsonl_export_is_one_json_object_per_line_after_a_header(source: Cli, tmp_path: Path) -> None:
    path = source.export("jsonl", tmp_path / "ledger.jsonl")
    status = source.json("status")

    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text
    header, *records = [json.loads(line) for line in text.splitlines()]
    assert header == {"format": "pulje-events", "version": 1, "events": len(records), "head": status["head"]}
    assert len(records) == status["head_sequence"] > 40
    assert [r["position"] for r in records] == list(range(1, len(records) + 1))
    assert all(set(r) == RECORD_FIELDS for r in records)
    assert records[-1]["hash"] == status["head"]
    previous = GENESIS
    for r in records:  # every line carries its link of the chain
        previous = link(previous, r["position"], r["originator_id"], r["originator_version"], r["topic"],
                        r["state"].encode("utf-8"))
        assert previous == r["hash"]
    assert [e["hash"] for e in source.json("audit")["events"]] == [r["hash"] for r in records]


def test_importing_a_jsonl_export_into_an_empty_ledger_gives_the_same_ledger(
    source: Cli, tmp_path: Path, new_ledger_db: Callable[[str], str]
) -> None:
    path = source.export("jsonl", tmp_path / "ledger.jsonl")
    copy = Cli(new_ledger_db("copy"))

    imported = copy.ok("import-events", str(path))

    status = source.json("status")
    assert f"Imported {status['head_sequence']} events; head {status['head']}" in imported.stdout
    assert copy.json("status") == status
    assert copy.json("status", "--year", "2022", "--as-of", "2022-06-30") == source.json(
        "status", "--year", "2022", "--as-of", "2022-06-30"
    )
    assert copy.json("audit") == source.json("audit")
    assert copy.json("pool", "show", "BTP", "--year", "2022") == source.json("pool", "show", "BTP", "--year", "2022")
    replay = ("replay", "--pool", "BTP", "--year", "2022")
    assert copy.json(*replay) == source.json(*replay)
    verified = copy.json("verify", "--head", status["head"])
    assert verified["ok"] and verified["problems"] == [] and verified["events"] == status["head_sequence"]
    assert copy("verify").exit_code == 0
    # The file checked in a second process while this one writes: the same ledger.
    second = Cli(new_ledger_db("second"))
    second.ok("import-events", "--processes", "2", str(path))
    assert second.json("status") == status and second.json("audit") == source.json("audit")
    assert second.json("verify", "--head", status["head"]) == verified


def test_exporting_an_imported_ledger_gives_the_same_bytes(
    source: Cli, tmp_path: Path, new_ledger_db: Callable[[str], str]
) -> None:
    first = source.export("jsonl", tmp_path / "first.jsonl")
    copy = Cli(new_ledger_db("copy"))
    copy.ok("import-events", str(first))

    for fmt in ("jsonl", "csv", "journal"):
        original = source.export(fmt, tmp_path / f"original.{fmt}").read_bytes()
        again = copy.export(fmt, tmp_path / f"again.{fmt}").read_bytes()
        assert again == original, fmt


def test_the_export_on_stdout_is_the_same_as_the_output_file(source: Cli, tmp_path: Path) -> None:
    for fmt in ("jsonl", "csv", "journal"):
        written = source.export(fmt, tmp_path / f"ledger.{fmt}").read_text(encoding="utf-8")
        assert source.ok("export", "--format", fmt).stdout == written, fmt


def test_a_command_key_recorded_before_the_export_is_still_known_after_the_import(
    ledgers: dict[str, str], tmp_path: Path, new_ledger_db: Callable[[str], str]
) -> None:
    path = Cli(ledgers["varied year"]).export("jsonl", tmp_path / "varied.jsonl")
    copy = Cli(new_ledger_db("copy"))
    copy.ok("import-events", str(path))
    head = copy.json("status")["head"]

    again = copy.json(
        "reallocate", "--year", "2022", "--from", "12", "--to", "14", "--amount", "20.000", "--date", "2022-02-01",
        "--decided-by", OEKF, "--decision-ref", "ØKF j.nr. 2022-0412", "--reason", "Flere tryghedsvandringer",
        "--key", "omdisponering-1",
    )

    assert again["repeated"] is True
    assert copy.json("status")["head"] == head


def test_a_file_with_windows_line_endings_imports_to_the_same_head(
    demo_export: Path, tmp_path: Path, new_ledger_db: Callable[[str], str]
) -> None:
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(demo_export.read_bytes().replace(b"\n", b"\r\n"))
    copy = Cli(new_ledger_db("copy"))

    copy.ok("import-events", str(path))

    assert copy.json("status")["head"] == json.loads(demo_export.read_text(encoding="utf-8").splitlines()[0])["head"]


# ---------------------------------------------------------------------- jsonl: refusals


def lines_of(path: Path) -> list[str]:
    """The file's lines, each with its newline."""
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def record(line: str) -> dict[str, Any]:
    return json.loads(line)


def dumped(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def index_of(lines: list[str], kind: str, nth: int = 0) -> int:
    """The index in `lines` of the nth event whose topic ends with `kind` (line number = index + 1)."""
    found = [i for i, line in enumerate(lines[1:], start=1) if record(line)["topic"].endswith(kind)]
    return found[nth]


def with_state(line: str, change: Callable[[dict[str, Any]], None]) -> str:
    data = record(line)
    state = json.loads(data["state"])
    change(state)
    data["state"] = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
    return dumped(data)


def relinked(lines: list[str], start: int, *, header: bool) -> list[str]:
    """Every hash recomputed from line index `start` on (and the header's head too, if `header`)."""
    out = list(lines)
    previous = record(out[start - 1])["hash"] if start > 1 else GENESIS
    for i in range(start, len(out)):
        data = record(out[i])
        previous = data["hash"] = link(
            previous, data["position"], data["originator_id"], data["originator_version"], data["topic"],
            data["state"].encode("utf-8"),
        )
        out[i] = dumped(data)
    if header:
        top = json.loads(out[0])
        top["head"] = previous
        out[0] = json.dumps(top) + "\n"
    return out


def recipient_changed(state: dict[str, Any]) -> None:
    state["recipient"] = state["recipient"] + " og venner"


def cut_mid_way(lines: list[str]) -> tuple[list[str], str]:
    last = lines[-1]
    return [*lines[:-1], last[: len(last) // 2]], f"line {len(lines)} "


def last_lines_dropped(lines: list[str]) -> tuple[list[str], str]:
    events = len(lines) - 1
    return lines[:-3], f"holds {events - 3} events but its header says {events}"


def swapped(lines: list[str]) -> tuple[list[str], str]:
    out = list(lines)
    out[10], out[11] = out[11], out[10]
    return out, "line 11: "


def garbage(lines: list[str]) -> tuple[list[str], str]:
    out = list(lines)
    out[20] = "x\x00 ]] this is not an event {{\n"
    return out, "line 21 "


def duplicated(lines: list[str]) -> tuple[list[str], str]:
    return [*lines[:21], lines[20], *lines[21:]], "line 22: "


def forged_hash(lines: list[str]) -> tuple[list[str], str]:
    out = list(lines)
    data = record(out[30])
    data["hash"] = hashlib.sha256(b"forged").hexdigest()
    assert data["hash"] != record(lines[30])["hash"]
    out[30] = dumped(data)
    return out, "line 31: "


def state_changed(lines: list[str]) -> tuple[list[str], str]:
    out = list(lines)
    i = index_of(out, "GrantAwarded", 4)
    out[i] = with_state(out[i], recipient_changed)
    return out, f"line {i + 1}: "


def state_changed_and_relinked(lines: list[str]) -> tuple[list[str], str]:
    out = list(lines)
    i = index_of(out, "GrantAwarded", 4)
    out[i] = with_state(out[i], recipient_changed)
    return relinked(out, i, header=False), "head the header names"


def header_missing(lines: list[str]) -> tuple[list[str], str]:
    return lines[1:], "line 1 is not a pulje export header"


def empty(lines: list[str]) -> tuple[list[str], str]:
    return [], "line 1 is not a pulje export header"


def blank_line(lines: list[str]) -> tuple[list[str], str]:
    return [*lines[:5], "\n", *lines[5:]], "line 6 is empty"


def field_missing(lines: list[str]) -> tuple[list[str], str]:
    out = list(lines)
    data = record(out[7])
    del data["topic"]
    out[7] = dumped(data)
    return out, "line 8 does not have the fields"


def position_as_text(lines: list[str]) -> tuple[list[str], str]:
    out = list(lines)
    data = record(out[7])
    data["position"] = str(data["position"])
    out[7] = dumped(data)
    return out, "line 8: position must be a number"


def header_of_another_version(lines: list[str]) -> tuple[list[str], str]:
    top = json.loads(lines[0])
    top["version"] = 99
    return [json.dumps(top) + "\n", *lines[1:]], "line 1: export version 99"


def overspent_and_relinked(lines: list[str]) -> tuple[list[str], str]:
    """A forger who recomputes every hash and the header: the rules still catch an overspent pool."""
    out = list(lines)
    i = index_of(out, "GrantAwarded", 0)

    def bigger(state: dict[str, Any]) -> None:
        state["amount"] = 50_000_000  # 500.000 kr. from a pool of 107.000 kr.

    out[i] = with_state(out[i], bigger)
    return relinked(out, i, header=True), "rule"


#: name -> (tampering, exit code, error class)
REFUSALS: dict[str, tuple[Callable[[list[str]], tuple[list[str], str]], int, type[Exception]]] = {
    "the last line cut mid-way": (cut_mid_way, 2, ImportFileError),
    "whole last lines dropped": (last_lines_dropped, 2, ImportFileError),
    "two lines swapped": (swapped, 1, ImportVerificationError),
    "a line of garbage": (garbage, 2, ImportFileError),
    "a line duplicated": (duplicated, 1, ImportVerificationError),
    "a forged hash": (forged_hash, 1, ImportVerificationError),
    "a changed state with its hash left": (state_changed, 1, ImportVerificationError),
    "a changed state relinked, the header's head left": (state_changed_and_relinked, 1, ImportVerificationError),
    "the header missing": (header_missing, 2, ImportFileError),
    "an empty file": (empty, 2, ImportFileError),
    "a blank line": (blank_line, 2, ImportFileError),
    "a line without a field": (field_missing, 2, ImportFileError),
    "a position written as text": (position_as_text, 2, ImportFileError),
    "a header of another version": (header_of_another_version, 2, ImportFileError),
    "an overspent pool with every hash and the head recomputed": (overspent_and_relinked, 1, ImportVerificationError),
}


@pytest.fixture(params=list(REFUSALS))
def tampered(
    request: pytest.FixtureRequest, demo_export: Path, tmp_path: Path
) -> tuple[Path, int, type[Exception], str]:
    tamper, code, error = REFUSALS[request.param]
    lines, where = tamper(lines_of(demo_export))
    path = tmp_path / "tampered.jsonl"
    path.write_text("".join(lines), encoding="utf-8", newline="")
    return path, code, error, where


def ledger_exists(db: str) -> bool:
    """Whether anything of a ledger exists at the location: the SQLite file, or the PostgreSQL schema."""
    if "://" not in db:
        return Path(db).exists()
    schema = parse_qs(urlsplit(db).query)["schema"][0]
    return bool(RawSQL(db).run("SELECT 1 FROM information_schema.schemata WHERE schema_name = ?", (schema,)))


def assert_empty(db: str) -> None:
    """Nothing was written: no ledger (no file, no schema or no tables), or an empty one."""
    if not ledger_exists(db):
        return
    raw = RawSQL(db)
    if not raw.postgres:  # an import's transaction on SQLite leaves the write-ahead log: it takes it up again
        assert journal_mode(db) == "wal"
        assert not Path(f"{db}-journal").exists()
    if raw.postgres and not raw.run(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'pulje_events'"
    ):
        return
    assert raw.run("SELECT count(*) FROM {events}") == [(0,)]
    assert raw.run("SELECT count(*) FROM event_chain") == [(0,)]
    cli = Cli(db)
    status = cli.json("status")
    assert (status["plans"], status["pools"], status["head_sequence"], status["head"]) == ([], [], 0, GENESIS)
    assert cli.json("audit")["events"] == []
    assert cli.json("verify")["ok"]


def journal_mode(path: str) -> str:
    """The journal mode an SQLite ledger file is in, read by a connection of its own."""
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        return connection.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        connection.close()


def journal_mode_while_importing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The journal mode of the import's own transaction, read in it once every event is written."""
    from ledger import views

    seen: list[str] = []
    end_bulk_fill = views.end_bulk_fill

    def noting(c: Any) -> None:
        c.execute("PRAGMA journal_mode")
        seen.append(c.fetchone()[0])
        end_bulk_fill(c)

    monkeypatch.setattr(views, "end_bulk_fill", noting)
    return seen


@pytest.mark.parametrize("processes", [1, pytest.param(2, marks=NO_FORK)])
def test_an_import_into_an_sqlite_file_writes_past_the_write_ahead_log_and_takes_it_up_again(
    recorded: Recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    """The import's one transaction fills the file with a rollback journal (every page written once, not to the
    log and again into the file); the ledger is in the write-ahead log before and after, and whole."""
    demo_export, target = recorded.demo_export("sqlite"), str(tmp_path / "copy.db")
    seen = journal_mode_while_importing(monkeypatch)
    with Pulje(target, "revisor") as pulje:
        pulje.import_events(str(demo_export), processes=processes)

    assert seen == ["delete"]
    assert journal_mode(target) == "wal" and not Path(f"{target}-journal").exists()
    head = json.loads(lines_of(demo_export)[0])["head"]
    verified = Cli(target).json("verify", "--head", head)
    assert verified["ok"] and verified["problems"] == []
    assert Cli(target).json("audit")["events"][-1]["hash"] == head


def test_an_import_while_another_connection_has_the_sqlite_file_open_stays_in_the_write_ahead_log(
    recorded: Recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    demo_export, target = recorded.demo_export("sqlite"), str(tmp_path / "copy.db")
    with Pulje(target, "revisor") as pulje:
        assert pulje.ledger.store.head()[0] == 0  # a new, empty ledger
    other = sqlite3.connect(target)
    try:
        assert other.execute("SELECT count(*) FROM stored_events").fetchone() == (0,)
        seen = journal_mode_while_importing(monkeypatch)
        with Pulje(target, "revisor") as pulje:
            pulje.import_events(str(demo_export), processes=1)
        assert seen == ["wal"]
        assert other.execute("SELECT count(*) FROM stored_events").fetchone() == (len(lines_of(demo_export)) - 1,)
    finally:
        other.close()
    assert journal_mode(target) == "wal"
    assert Cli(target).json("verify")["ok"]


def test_a_tampered_export_file_is_refused_by_the_command_line_naming_the_line_and_nothing_is_written(
    tampered: tuple[Path, int, type[Exception], str], ledger_db: str
) -> None:
    path, code, _, where = tampered
    target = ledger_db

    message = message_of(Cli(target)("import-events", str(path)), code)

    assert "nothing was imported" in message
    assert where.lower() in message.lower(), message
    assert_empty(target)


def test_a_tampered_export_file_is_refused_by_the_service_with_the_error_naming_the_line(
    tampered: tuple[Path, int, type[Exception], str], ledger_db: str, new_ledger_db: Callable[[str], str]
) -> None:
    # In one process, and with the file checked in a second one while this one writes: the same refusal.
    path, _, error, where = tampered
    refusals = []
    for processes, target in ((1, ledger_db), (2, new_ledger_db("two"))):
        with Pulje(target, "revisor") as pulje, pytest.raises(error) as raised:
            pulje.import_events(str(path), processes=processes)

        assert where.lower() in str(raised.value).lower()
        if isinstance(raised.value, ImportVerificationError):
            assert raised.value.report.problems or "head" in str(raised.value)
        assert_empty(target)
        refusals.append((type(raised.value), str(raised.value)))
    assert refusals[0] == refusals[1]


def test_the_writers_reading_without_a_checker_gives_the_checked_events_and_names_a_line_it_cannot_read(
    demo_export: Path, tmp_path: Path
) -> None:
    """With a second process checking the file, the writer reads each line only as far as writing needs
    (`_Reader` without a walker); its events are the checked reading's, and a line it cannot read it reads as the
    checker does, which names the line."""
    from eventsourcing.persistence import JSONTranscoder

    from ledger.exports import _Reader
    from ledger.mapper import PydanticMapper
    from ledger.verify import VerifyReport, Walker

    with demo_export.open("rb") as raw:
        unchecked = [(s.originator_id, s.originator_version, s.topic, s.state, h) for s, h, _ in _Reader(raw, None)]
    with demo_export.open("rb") as raw:
        checked = [
            (s.originator_id, s.originator_version, s.topic, s.state, h)
            for s, h, _ in _Reader(raw, Walker(PydanticMapper(transcoder=JSONTranscoder()), VerifyReport()))
        ]
    assert unchecked == checked and len(checked) > 50
    lines = lines_of(demo_export)
    for bad, says in (("not json\n", "line 4 is not JSON"), ('{"position": 3}\n', "line 4 does not have the fields")):
        path = tmp_path / "bad.jsonl"
        path.write_text("".join([*lines[:3], bad, *lines[4:]]), encoding="utf-8")
        with path.open("rb") as raw, pytest.raises(ImportFileError, match=says):
            list(_Reader(raw, None))


def checked_in_the_child_as(monkeypatch: pytest.MonkeyPatch, child: Callable[..., Any]) -> None:
    """`check_file` runs `child` in the second process and the real check in this one."""
    from ledger import exports

    parent, check_file = os.getpid(), exports.check_file
    monkeypatch.setattr(
        exports, "check_file", lambda *args: child(*args) if os.getpid() != parent else check_file(*args)
    )


@NO_FORK
def test_with_two_processes_the_second_ones_refusal_is_what_refuses_the_file(
    demo_export: Path, ledger_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked_in_the_child_as(monkeypatch, lambda *args: ("verification", "line 7: refused in the second process", None))
    with Pulje(ledger_db, "revisor") as pulje, pytest.raises(ImportVerificationError, match="line 7: refused in the"):
        pulje.import_events(str(demo_export), processes=2)
    assert_empty(ledger_db)


@NO_FORK
def test_with_two_processes_a_second_one_that_fails_leaves_the_check_to_the_first(
    demo_export: Path, ledger_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(*args: Any) -> Any:
        raise ConnectionError("the second process died")

    checked_in_the_child_as(monkeypatch, fails)
    with Pulje(ledger_db, "revisor") as pulje:
        header = pulje.import_events(str(demo_export), processes=2)
    assert header.head == json.loads(lines_of(demo_export)[0])["head"]
    assert Cli(ledger_db).json("verify")["ok"]


def test_a_file_rewritten_with_fresh_hashes_imports_but_the_old_head_proves_it_was_rewritten(
    demo_export: Path, tmp_path: Path, ledger_db: str
) -> None:
    """What no file check can see (a consistent rewrite) the head printed in a report does."""
    lines = lines_of(demo_export)
    original_head = json.loads(lines[0])["head"]
    i = index_of(lines, "GrantAwarded", 4)
    lines[i] = with_state(lines[i], recipient_changed)
    path = tmp_path / "rewritten.jsonl"
    path.write_text("".join(relinked(lines, i, header=True)), encoding="utf-8")
    copy = Cli(ledger_db)

    copy.ok("import-events", str(path))

    assert copy("verify").exit_code == 0
    proof = copy("verify", "--head", original_head)
    assert proof.exit_code == 1, explain(proof)
    assert "NOT in this ledger" in proof.stdout


def test_importing_into_a_ledger_that_is_not_empty_is_refused_and_changes_nothing(
    demo_export: Path, ledger_db: str, plan_2022: Path
) -> None:
    target = Cli(ledger_db)
    target.ok("plan", "import", str(plan_2022))
    before = (target.json("status"), target.json("audit"))

    message = message_of(target("import-events", str(demo_export)), 3)

    assert "not empty" in message
    assert (target.json("status"), target.json("audit")) == before
    with Pulje(target.db, "revisor") as pulje, pytest.raises(ImportRefusedError):
        pulje.import_events(str(demo_export))
    assert (target.json("status"), target.json("audit")) == before


def test_importing_the_same_file_twice_is_refused_the_second_time(demo_export: Path, ledger_db: str) -> None:
    copy = Cli(ledger_db)
    copy.ok("import-events", str(demo_export))
    audit = copy.json("audit")

    message_of(copy("import-events", str(demo_export)), 3)

    assert copy.json("audit") == audit


def test_importing_a_file_that_does_not_exist_is_a_usage_error_and_creates_no_ledger(
    tmp_path: Path, ledger_db: str
) -> None:
    result = Cli(ledger_db)("import-events", str(tmp_path / "missing.jsonl"))

    assert result.exit_code == 2, explain(result)
    assert not ledger_exists(ledger_db)


# ---------------------------------------------------------------------- csv


@pytest.fixture
def spreadsheet_traps(ledger_db: str, plan_2022: Path) -> Cli:
    """A ledger whose texts a spreadsheet would run as formulas."""
    cli = Cli(ledger_db)
    cli.ok("plan", "import", str(plan_2022))
    grant = cli.json(
        "grant", "award", "--pool", "BTP", "--year", "2022", "--recipient", '=HYPERLINK("http://x")',
        "--purpose", "+cmd", "--amount", "5.000", "--date", "2022-03-01", "--decided-by", AG,
        "--decision-ref", "-2+3",
    )["grant"]
    cli.ok("grant", "disburse", grant, "--amount", "3.000", "--date", "2022-03-10", "--payment-ref", "=1+1")
    cli.ok("grant", "return", grant, "--amount", "1.000", "--date", "2022-03-20", "--reason", "@SUM(1)")
    payment = cli.json("grant", "disburse", grant, "--amount", "500", "--date", "2022-03-25")
    cli.ok("reverse", str(payment["sequence"]), "--reason", "-fejl")
    cli.ok("grant", "withdraw", grant, "--date", "2022-04-01", "--reason", "+rest annulleres")
    cli.ok("reallocate", "--year", "2022", "--from", "12", "--to", "14", "--amount", "1.000", "--date", "2022-06-15",
           "--decided-by", OEKF, "--decision-ref", "@ØKF 2022-41", "--reason", "=mere til puljen")
    return cli


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def assert_safe(rows: list[list[str]]) -> None:
    header, *body = rows
    for row in body:
        assert len(row) == len(header)
        for column, value in zip(header, row, strict=True):
            if column in ("sequence", "amount_ore", "year", "reverses_sequence", "reversed_by_sequence"):
                assert re.fullmatch(r"-?[0-9]*", value), (column, value)  # numbers stay numbers
            else:
                assert not value.startswith(FORMULA_STARTS), (column, value)


def test_the_csv_export_has_a_header_and_one_row_per_event_and_no_cell_a_spreadsheet_would_run(
    spreadsheet_traps: Cli, tmp_path: Path
) -> None:
    rows = read_csv(spreadsheet_traps.export("csv", tmp_path / "ledger.csv"))
    events = spreadsheet_traps.json("audit")["events"]

    header, *body = rows
    assert len(body) == len(events) == spreadsheet_traps.json("status")["head_sequence"]
    assert_safe(rows)
    table = [dict(zip(header, row, strict=True)) for row in body]
    assert [int(r["sequence"]) for r in table] == [e["sequence"] for e in events]
    assert [int(r["amount_ore"]) if r["amount_ore"] else None for r in table] == [e["amount_ore"] for e in events]
    assert {r["decision_ref"] for r in table} >= {"'-2+3", "'@ØKF 2022-41"}
    assert {r["reason"] for r in table} >= {"'@SUM(1)", "'-fejl", "'+rest annulleres", "'=mere til puljen"}
    awarded = next(r for r in table if r["kind"] == "grant_awarded")
    details = json.loads(awarded["details"])  # whole inside a cell that starts with "{"
    assert (details["recipient"], details["purpose"]) == ('=HYPERLINK("http://x")', "+cmd")
    reversal = next(r for r in table if r["reverses_sequence"])
    assert int(reversal["reverses_sequence"]) < int(reversal["sequence"])


def imported_with_reasons(
    source: Cli, tmp_path: Path, copy_db: str, returned_reason: str, withdrawn_reason: str
) -> Cli:
    """A copy of `source` whose return and withdrawal carry the given reasons (the command line strips them)."""
    lines = lines_of(source.export("jsonl", tmp_path / "source.jsonl"))
    returned = index_of(lines, "GrantReturned")
    withdrawn = index_of(lines, "GrantWithdrawn")
    for i, reason in ((returned, returned_reason), (withdrawn, withdrawn_reason)):
        lines[i] = with_state(lines[i], lambda state, reason=reason: state.update(reason=reason))
    path = tmp_path / "edited.jsonl"
    path.write_text("".join(relinked(lines, min(returned, withdrawn), header=True)), encoding="utf-8")
    copy = Cli(copy_db)
    copy.ok("import-events", str(path))
    return copy


def test_the_command_line_strips_leading_white_space_so_a_typed_text_never_starts_a_cell_with_tab_or_cr(
    spreadsheet_traps: Cli, tmp_path: Path
) -> None:
    grant = spreadsheet_traps.json("pool", "show", "BTP", "--year", "2022")["grants"][0]["grant"]
    spreadsheet_traps.ok("grant", "return", grant, "--amount", "100", "--date", "2022-03-21", "--reason", "\tTab-led")
    spreadsheet_traps.ok("grant", "return", grant, "--amount", "100", "--date", "2022-03-22", "--reason", "\rCR-led")

    rows = read_csv(spreadsheet_traps.export("csv", tmp_path / "ledger.csv"))

    assert_safe(rows)
    reasons = [row[rows[0].index("reason")] for row in rows[1:]]
    assert reasons[-2:] == ["Tab-led", "CR-led"]


def test_the_csv_export_neutralises_a_tab_led_text_that_came_in_through_an_import(
    spreadsheet_traps: Cli, tmp_path: Path, new_ledger_db: Callable[[str], str]
) -> None:
    copy = imported_with_reasons(
        spreadsheet_traps, tmp_path, new_ledger_db("copy"), "\tTab-led begrundelse", "\t=1+1"
    )

    rows = read_csv(copy.export("csv", tmp_path / "white.csv"))

    assert len(rows) == copy.json("status")["head_sequence"] + 1
    assert_safe(rows)
    reasons = {row[rows[0].index("reason")] for row in rows[1:]}
    assert {"'\tTab-led begrundelse", "'\t=1+1"} <= reasons


def test_the_csv_export_neutralises_a_carriage_return_led_text_that_came_in_through_an_import(
    spreadsheet_traps: Cli, tmp_path: Path, new_ledger_db: Callable[[str], str]
) -> None:
    copy = imported_with_reasons(
        spreadsheet_traps, tmp_path, new_ledger_db("copy"), "\rCR-led begrundelse", "\r@SUM(1)"
    )

    rows = read_csv(copy.export("csv", tmp_path / "white.csv"))

    assert len(rows) == copy.json("status")["head_sequence"] + 1
    assert_safe(rows)
    reasons = {row[rows[0].index("reason")] for row in rows[1:]}
    assert {"'\rCR-led begrundelse", "'\r@SUM(1)"} <= reasons


@pytest.mark.parametrize("command", ["export", "audit"])
def test_a_carriage_return_inside_a_typed_text_keeps_one_csv_row_per_event(
    spreadsheet_traps: Cli, tmp_path: Path, command: str
) -> None:
    spreadsheet_traps.ok(
        "grant", "award", "--pool", "BTP", "--year", "2022", "--recipient", "Husum Boldklub",
        "--purpose", "Aftenfodbold", "--amount", "1.000", "--date", "2022-05-01", "--decided-by", AG,
        "--decision-ref", "AG-møde 1\rpkt. 2",
    )
    if command == "export":
        rows = read_csv(spreadsheet_traps.export("csv", tmp_path / "ledger.csv"))
    else:
        rows = list(csv.reader(io.StringIO(spreadsheet_traps.ok("audit", "--format", "csv").stdout, newline="")))

    assert len(rows) == spreadsheet_traps.json("status")["head_sequence"] + 1
    assert_safe(rows)
    assert rows[-1][rows[0].index("decision_ref")] == "AG-møde 1\rpkt. 2"


# ---------------------------------------------------------------------- journal (hledger)


@pytest.fixture(scope="module")
def hledger() -> str:
    found = shutil.which("hledger")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("hledger is not installed but CI is set: the journal export must be checked by hledger in CI "
                    "(apt-get install hledger)")
    pytest.skip("hledger is not installed (apt-get install hledger); CI runs this check")


def run_hledger(hledger: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "LANG": "C.UTF-8"}
    done = subprocess.run([hledger, *args], capture_output=True, text=True, timeout=120, env=environment)
    assert done.returncode == 0, f"hledger {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    return done


def ore(amount: str) -> int:
    """hledger's `127000.00 DKK` (or `0`) in øre."""
    text = amount.replace("DKK", "").strip()
    if text in ("0", ""):
        return 0
    match = re.fullmatch(r"(-?)([0-9]+)\.([0-9]{2})", text)
    assert match, amount
    value = int(match.group(2)) * 100 + int(match.group(3))
    return -value if match.group(1) else value


def balances(hledger: str, journal: Path, *args: str) -> dict[str, int]:
    out = run_hledger(hledger, "-f", str(journal), "bal", *args, "-O", "csv").stdout
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["account", "balance"], rows[0]
    return {account: ore(balance) for account, balance in rows[1:]}


def test_hledger_reads_the_journal_and_every_line_balance_equals_status(
    source: Cli, hledger: str, tmp_path: Path
) -> None:
    journal = source.export("journal", tmp_path / "ledger.journal")
    (plan,) = [p for p in source.json("status")["plans"] if p["year"] == 2022]

    by_account = balances(hledger, journal, f"plan:{PARTNERSHIP}:2022", "--depth", "4")

    total = by_account.pop("total")
    by_line = {account.split(":")[3].split(" ", 1)[0]: value for account, value in by_account.items()}
    assert len(by_line) == len(by_account)  # one account per line
    assert by_line == {line["line"]: line["budget_ore"] for line in plan["lines"] if line["budget_ore"]}
    assert total == plan["total_budget_ore"]
    run_hledger(hledger, "-f", str(journal), "check")
    run_hledger(hledger, "-f", str(journal), "print")


def test_hledger_shows_each_pools_available_and_committed_money_as_status_does(
    source: Cli, hledger: str, tmp_path: Path
) -> None:
    journal = source.export("journal", tmp_path / "ledger.journal")
    pools = [p for p in source.json("status")["pools"] if p["year"] == 2022]

    flat = balances(hledger, journal, f"plan:{PARTNERSHIP}:2022")

    flat.pop("total")
    assert pools
    for pool in pools:
        # plan:<partnership>:2022:<line> <name>:<til rådighed | bevilget:<grant> | udbetalt:<recipient>>
        under = [a.split(":") for a in flat if a.split(":")[3].split(" ", 1)[0] == pool["line"]]
        assert under and all(len(parts) >= 5 for parts in under), under
        assert {parts[4] for parts in under} <= {"til rådighed", "bevilget", "udbetalt"}
        available = sum(flat[":".join(parts)] for parts in under if parts[4] == "til rådighed")
        committed = sum(flat[":".join(parts)] for parts in under if parts[4] in ("bevilget", "udbetalt"))
        assert available == pool["available_ore"], pool["code"]
        assert committed == pool["committed_ore"], pool["code"]
        assert available + committed == pool["funding_ore"], pool["code"]


def test_a_recipient_with_the_journals_special_characters_gets_one_account_of_its_own(
    ledgers: dict[str, str], hledger: str, tmp_path: Path
) -> None:
    source = Cli(ledgers["varied year"])
    journal = source.export("journal", tmp_path / "ledger.journal")
    grant = next(g for g in source.json("pool", "show", "BTP", "--year", "2022")["grants"] if g["recipient"] == ODD)

    accounts = run_hledger(hledger, "-f", str(journal), "accounts").stdout.splitlines()
    flat = balances(hledger, journal, "udbetalt:Caf")

    assert all(len(a.split(":")) <= 6 for a in accounts), accounts
    (paid,) = [a for a in accounts if ":udbetalt:Caf" in a]
    assert paid.count(":") == 5  # the name's colon did not start another level
    # 6.000 paid; 1.000 returned and the return reversed; then 500 returned
    assert (grant["disbursed_ore"], grant["returned_ore"]) == (600_000, 50_000)
    assert flat == {paid: 550_000, "total": 550_000}
    run_hledger(hledger, "-f", str(journal), "check")


# ---------------------------------------------------------------------- --output


def names_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture
def small(ledger_db: str, plan_2022: Path) -> Cli:
    cli = Cli(ledger_db)
    cli.ok("plan", "import", str(plan_2022))
    return cli


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "journal"])
def test_output_writes_the_file_and_says_so_on_stderr(small: Cli, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / f"ledger.{fmt}"

    result = small.ok("export", "--format", fmt, "--output", str(target))

    assert result.stdout == ""
    assert f"Exported {small.json('status')['head_sequence']} events to {target}" in result.stderr
    assert target.read_text(encoding="utf-8") == small.ok("export", "--format", fmt).stdout
    assert names_in(out) == {target.name}


def test_output_refuses_an_existing_file_without_force_and_leaves_it_unchanged(small: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / "ledger.jsonl"
    target.write_text("last year's export\n", encoding="utf-8")

    message = message_of(small("export", "--format", "jsonl", "--output", str(target)), 2)

    assert "--force" in message and "exists" in message
    assert target.read_text(encoding="utf-8") == "last year's export\n"
    assert names_in(out) == {target.name}


def test_output_with_force_replaces_an_existing_file(small: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / "ledger.jsonl"
    target.write_text("last year's export\n", encoding="utf-8")

    small.ok("export", "--format", "jsonl", "--output", str(target), "--force")

    assert target.read_text(encoding="utf-8") == small.ok("export", "--format", "jsonl").stdout
    assert names_in(out) == {target.name}


@pytest.mark.parametrize("existing", [False, True], ids=["new file", "replaced with --force"])
def test_output_gives_the_file_the_permissions_a_shell_redirect_would(
    small: Cli, tmp_path: Path, existing: bool
) -> None:
    target = tmp_path / "ledger.jsonl"
    previous = os.umask(0o022)
    try:
        if existing:
            target.write_text("last year's export\n", encoding="utf-8")
            target.chmod(0o644)
        small.ok("export", "--format", "jsonl", "--output", str(target), *(["--force"] if existing else []))
    finally:
        os.umask(previous)

    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_output_into_a_folder_that_does_not_exist_is_a_usage_error(small: Cli, tmp_path: Path) -> None:
    before = names_in(tmp_path)

    message = message_of(small("export", "--format", "jsonl", "--output", str(tmp_path / "missing" / "x.jsonl")), 2)

    assert "does not exist" in message
    assert names_in(tmp_path) == before


def test_output_naming_a_folder_is_a_usage_error(small: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()

    result = small("export", "--format", "jsonl", "--output", str(out))

    assert result.exit_code == 2, explain(result)
    assert names_in(out) == set()


def test_an_export_that_fails_half_way_leaves_neither_the_file_nor_a_temporary_file(
    tmp_path: Path, ledger_db: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()

    result = Cli(ledger_db)("export", "--format", "jsonl", "--output", str(out / "x.jsonl"))  # no ledger there

    assert result.exit_code == 2, explain(result)
    assert "no ledger" in result.stderr, explain(result)
    assert names_in(out) == set()
    assert not ledger_exists(ledger_db)
