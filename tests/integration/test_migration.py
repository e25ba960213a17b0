"""Moving a ledger between SQLite and PostgreSQL: `export --format jsonl`, then `import-events`.

The realistic demo year (`ledger.demo.record_year` with its `DemoClock`) is
recorded once on SQLite and once on PostgreSQL. A move is an export from one
backend and an import into a new, empty ledger on the other; the copy must be
the same ledger: the same head, the same `status` and `audit` (JSON), the same
pool, replay and as-of answers, the same `jsonl`, `csv` and `journal` exports
and the same ultimo report bytes in every format (md, html, json, xlsx, pdf);
and `verify --head` with the original's head passes on every copy.

The year goes SQLite -> PostgreSQL by the command line and back
PostgreSQL -> a new SQLite file by the service, and the year recorded on
PostgreSQL goes to SQLite by the command line; the year recorded on either
backend is the same ledger to begin with.

The test database sorts text bytewise (C.UTF-8), as SQLite does. On a
database whose collation is Danish the order of plans and pools changes
(a known bug, marked xfail below).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from ledger.demo import DemoClock, record_year
from ledger.service import Pulje
from tests.conftest import PLAN_2022, PostgresSchema, _postgres_base

REPORT_FORMATS = ("md", "html", "json", "xlsx", "pdf")
EXPORT_FORMATS = ("jsonl", "csv", "journal")
#: Reading commands whose JSON answer must not change with the backend.
READINGS = {
    "status": ("status",),
    "status 2022 as of 30 June": ("status", "--year", "2022", "--as-of", "2022-06-30"),
    "status recorded before 1 July": ("status", "--recorded-before", "2022-07-01"),
    "audit": ("audit",),
    "BTP": ("pool", "show", "BTP", "--year", "2022"),
    "VP": ("pool", "show", "VP", "--year", "2022"),
    "replay BTP": ("replay", "--pool", "BTP", "--year", "2022"),
    "plan": ("plan", "show", "--year", "2022"),
}


def explain(result: Result) -> str:
    return (
        f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n--- {result.exception!r}"
    )


class Cli:
    """`pulje --db LOCATION --actor revisor ...` on one ledger, SQLite path or PostgreSQL URL."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.runner = CliRunner()

    def ok(self, *args: str) -> Result:
        result = self.runner.invoke(main, ["--db", self.db, "--actor", "revisor", *args])
        assert result.exit_code == 0, explain(result)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--format", "json").stdout)


@dataclass
class Seen:
    """Everything a user can read of a ledger, as bytes or JSON."""

    head: str
    events: int
    readings: dict[str, Any]
    exports: dict[str, bytes]
    reports: dict[str, bytes]


def seen(db: str, folder: Path) -> Seen:
    """Read everything of the ledger at `db` through the command line; files go into `folder`."""
    folder.mkdir()
    cli = Cli(db)
    readings = {name: cli.json(*args) for name, args in READINGS.items()}
    exports = {}
    for fmt in EXPORT_FORMATS:
        cli.ok("export", "--format", fmt, "--output", str(folder / f"ledger.{fmt}"))
        exports[fmt] = (folder / f"ledger.{fmt}").read_bytes()
    reports = {}
    for fmt in REPORT_FORMATS:
        path = folder / f"ultimo-2022.{fmt}"
        written = cli.ok("report", "ultimo", "--year", "2022", "--format", fmt, "--output", str(path))
        assert f"(head {readings['status']['head']})" in written.stdout
        reports[fmt] = path.read_bytes()
    assert reports["pdf"].startswith(b"%PDF-") and reports["xlsx"].startswith(b"PK")
    status = readings["status"]
    return Seen(status["head"], status["head_sequence"], readings, exports, reports)


def assert_same(copy: Seen, original: Seen) -> None:
    assert (copy.head, copy.events) == (original.head, original.events)
    for name in READINGS:
        assert copy.readings[name] == original.readings[name], name
    for fmt in EXPORT_FORMATS:
        assert copy.exports[fmt] == original.exports[fmt], fmt
    for fmt in REPORT_FORMATS:
        assert copy.reports[fmt] == original.reports[fmt], fmt


def assert_verifies(db: str, head: str, events: int) -> None:
    """`verify --head` with the original's head passes, through the service and the command line."""
    with Pulje(db, "revisor", create=False) as session:
        report = session.verify(expected_head=head)
    assert report.ok, [str(p) for p in report.problems[:5]]
    assert report.head == (events, head) and report.head_found == events
    data = Cli(db).json("verify", "--head", head)
    assert data["ok"] is True and data["problems"] == [] and data["expected_head_found_at"] == events


def record_demo(db: str) -> str:
    clock = DemoClock()
    with Pulje(db, "sekretariatet", clock=clock) as pulje:
        record_year(pulje, clock)
    return db


# ---------------------------------------------------------------------- the ledgers


class Postgres:
    """New schemas on the test server, dropped when the module is done."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.schemas: list[PostgresSchema] = []

    def new(self) -> str:
        schema = PostgresSchema(self.base)
        self.schemas.append(schema)
        return schema.url


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = Postgres(_postgres_base())
    yield server
    for schema in server.schemas:
        schema.drop()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("migration")


@pytest.fixture(scope="module")
def on_sqlite(folder: Path) -> tuple[str, Seen]:
    """The demo year recorded on SQLite, and what it shows."""
    db = record_demo(str(folder / "recorded-on-sqlite.db"))
    return db, seen(db, folder / "recorded-on-sqlite")


@pytest.fixture(scope="module")
def on_postgres(postgres: Postgres, folder: Path) -> tuple[str, Seen]:
    """The demo year recorded on PostgreSQL, and what it shows."""
    db = record_demo(postgres.new())
    return db, seen(db, folder / "recorded-on-postgres")


# ---------------------------------------------------------------------- moves


def test_the_year_recorded_on_either_backend_is_the_same_ledger(
    on_sqlite: tuple[str, Seen], on_postgres: tuple[str, Seen]
) -> None:
    assert on_sqlite[1].events > 40
    assert_same(on_postgres[1], on_sqlite[1])


def test_a_year_moves_from_sqlite_to_postgresql_and_back_unchanged(
    on_sqlite: tuple[str, Seen], postgres: Postgres, folder: Path
) -> None:
    original_db, original = on_sqlite
    exported = folder / "from-sqlite.jsonl"
    Cli(original_db).ok("export", "--format", "jsonl", "--output", str(exported))

    # SQLite -> PostgreSQL, by the command line
    to_postgres = postgres.new()
    imported = Cli(to_postgres).ok("import-events", str(exported))
    assert f"Imported {original.events} events; head {original.head}." in imported.stdout
    on_postgres = seen(to_postgres, folder / "sqlite-to-postgres")
    assert_same(on_postgres, original)
    assert on_postgres.exports["jsonl"] == exported.read_bytes()

    # PostgreSQL -> a new SQLite file, by the service
    exported_again = folder / "from-postgres.jsonl"
    with Pulje(to_postgres, "revisor", create=False) as session, exported_again.open("w", encoding="utf-8") as out:
        assert session.export("jsonl", out) == original.events
    assert exported_again.read_bytes() == exported.read_bytes()
    back_on_sqlite = str(folder / "back-on-sqlite.db")
    with Pulje(back_on_sqlite, "revisor") as session:
        header = session.import_events(str(exported_again))
    assert (header.events, header.head) == (original.events, original.head)
    assert_same(seen(back_on_sqlite, folder / "back-on-sqlite"), original)

    for db in (original_db, to_postgres, back_on_sqlite):
        assert_verifies(db, original.head, original.events)


def test_a_year_recorded_on_postgresql_moves_to_sqlite_unchanged(
    on_postgres: tuple[str, Seen], folder: Path
) -> None:
    original_db, original = on_postgres
    exported = folder / "recorded-on-postgres.jsonl"
    Cli(original_db).ok("export", "--format", "jsonl", "--output", str(exported))

    to_sqlite = str(folder / "postgres-to-sqlite.db")
    imported = Cli(to_sqlite).ok("import-events", str(exported))

    assert f"Imported {original.events} events; head {original.head}." in imported.stdout
    assert_same(seen(to_sqlite, folder / "postgres-to-sqlite"), original)
    for db in (original_db, to_sqlite):
        assert_verifies(db, original.head, original.events)


# ---------------------------------------------------------------------- a database that sorts text the Danish way


@pytest.fixture(scope="module")
def danish_database(postgres: Postgres) -> Iterator[str]:
    """A new database whose default collation is Danish (ICU da-DK), as a Danish server's may well be; dropped after."""
    import psycopg

    name = f"pulje_test_da_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(postgres.base, autocommit=True) as conn:
            conn.execute(
                f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'da-DK' LOCALE 'C.UTF-8'"
            )
    except psycopg.Error as error:
        pytest.skip(f"the test server cannot create a database with ICU collation da-DK: {str(error).splitlines()[0]}")
    try:
        yield urlunsplit(urlsplit(postgres.base)._replace(path=f"/{name}", query="")) + "?schema=moved"
    finally:
        with psycopg.connect(postgres.base, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_ledger_moved_to_a_database_with_danish_collation_lists_plans_and_pools_in_the_same_order(
    danish_database: str, folder: Path
) -> None:
    """Two partnerships, "Aabenraa-Syd" and "Bispebjerg"; Aabenraa-Syd has a pool keyed "aabne-moeder"."""
    bundled = PLAN_2022.read_text(encoding="utf-8")
    on_sqlite = Cli(str(folder / "two-partnerships.db"))
    for partnership in ("Aabenraa-Syd", "Bispebjerg"):
        text = bundled.replace('partnership = "Tingbjerg-Husum"', f'partnership = "{partnership}"')
        if partnership == "Aabenraa-Syd":
            text = text.replace('id = "videnspulje"', 'id = "aabne-moeder"')
        plan = folder / f"{partnership}.toml"
        plan.write_text(text, encoding="utf-8")
        on_sqlite.ok("plan", "import", str(plan))
    exported = folder / "two-partnerships.jsonl"
    on_sqlite.ok("export", "--format", "jsonl", "--output", str(exported))
    moved = Cli(danish_database)
    moved.ok("import-events", str(exported))
    original = on_sqlite.json("status")
    assert_verifies(danish_database, original["head"], original["head_sequence"])

    reports = {}
    for name, cli in (("sqlite", on_sqlite), ("postgres", moved)):
        path = folder / f"two-partnerships-{name}.md"
        cli.ok("report", "ultimo", "--year", "2022", "--partnership", "Aabenraa-Syd", "--format", "md",
               "--output", str(path))
        reports[name] = path.read_bytes()
    status = moved.json("status")
    assert [p["partnership"] for p in status["plans"]] == ["Aabenraa-Syd", "Bispebjerg"]
    assert status == original
    assert reports["postgres"] == reports["sqlite"]
