"""`pulje verify` against a ledger edited behind the program's back, on SQLite and on PostgreSQL.

A realistic year on the 2022 plan (a dozen and more awards, payments, a
return, a withdrawal, a reallocation into line 14, a reversal, a keyed
command, a pool close, and enough pool events for a snapshot) is recorded
once per backend through `Pulje`. Each test gets a copy of it on its backend
(on SQLite a copy of the file; on PostgreSQL a fresh schema filled by
`import-events` from the year's `jsonl` export, with the snapshot row copied
across), closes every session, edits the copy with plain SQL through
`RawSQL` the way someone with the file or a database login could, and then
runs `verify` twice: through the service and through the command line
(`pulje --db LOCATION verify`). Both must fail (exit 1) and name the first bad
position and what is wrong there (DESIGN.md, "Integrity"); the position and
the message are the same on both backends.

What the chain alone cannot see (the newest events cut off together with
their chain rows, or the chain rewritten with fresh hashes from some point
on) is shown to pass a plain `verify` once the read models are rebuilt too,
and to fail `verify --head` with a head written down earlier. An event
appended with a correct link is seen by nothing but the rules: the chain has
no secret, and `--head` vouches for the past, not for what came after.

A few edits exist on SQLite only, because SQLite's columns take any type
(a state or snapshot edited into TEXT, an aggregate id that is no id);
PostgreSQL's `bytea` and `uuid` columns refuse them, so those cases skip there.

Finally, hypothesis records a thousand short random ledgers on a small plan
on SQLite and fifty on PostgreSQL, and every one of them verifies clean;
and `verify` is shown to write nothing on either backend.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import multiprocessing
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cli.main import main
from domain.errors import DomainError
from domain.money import Money
from ledger.chain import GENESIS, link
from ledger.service import Pulje
from projections.model import GrantRow, PoolRow, decode_row, encode_row
from tests.conftest import PLAN_2022, PostgresSchema, RawSQL, TickingClock, _postgres_base

D = dt.date.fromisoformat
AG = "arbejdsgruppen"
POOL_TOPIC = "domain.pool:Pool"
PLAN_TOPIC = "domain.plan:Plan"
FORGED_ID = UUID("00000000-0000-4000-8000-0000000000f0")
#: How many processes `verify(processes=2)` uses here: two where Python can fork (Linux), else one.
TWO = 2 if "fork" in multiprocessing.get_all_start_methods() else 1


# ---------------------------------------------------------------------- the year, recorded once per backend


@dataclass(frozen=True)
class Year:
    """A year on the 2022 plan, recorded once per module on one backend.

    Attributes:
        db: the ledger's location (never edited; tests work on copies).
        export: the year as a `jsonl` export (PostgreSQL copies are imported from it).
        head: the head after the last event.
        events: how many events the chain holds.
        at: named events -> their chain position.
        early_head: the head after the awards, before any payment.
        mid_year_head: the head `status --format json` printed after the payments.
        snapshot_position: the chain position of the pool event its snapshot was taken at.
    """

    db: str
    export: Path
    head: str
    events: int
    at: dict[str, int]
    early_head: str
    mid_year_head: str
    snapshot_position: int


def record_year(db: str, export: Path) -> Year:
    clock = TickingClock()
    at: dict[str, int] = {"the adoption": 1, "a budget line": 5}
    with Pulje(db, "sekretariatet", clock=clock) as session:
        session.import_plan(PLAN_2022)
        awards = [
            session.award(
                pool="BTP", year=2022, recipient=f"Beboerforening {n}", purpose="Tryghedsvandring",
                area="Tryggere byliv" if n % 2 else None, amount=Money.kroner(4000 + 100 * n), requested=None,
                date=dt.date(2022, 2 + n % 6, 1 + n), decided_by=AG, decision_ref=f"AG 2022-{n:02d}",
            )
            for n in range(18)
        ]
        at["the first award"] = awards[0].sequence
        early_head = session.ledger.store.head()[1]
        payments = []
        for n, grant in enumerate(awards):
            for part, (month, kroner) in enumerate(((8, 1000), (9, 1500))):
                payments.append(
                    session.disburse(
                        grant=grant.grant, amount=Money.kroner(kroner), date=dt.date(2022, month, 1 + n),
                        payment_ref=f"Bilag {n}-{part}",
                    )
                )
        at["a payment mid-year"] = payments[8].sequence
        printed = CliRunner().invoke(main, ["--db", db, "status", "--year", "2022", "--format", "json"])
        assert printed.exit_code == 0, explain(printed)
        mid_year_head = json.loads(printed.stdout)["head"]
        at["the return"] = session.take_back(
            grant=awards[0].grant, amount=Money.kroner(500), date=D("2022-10-01"), reason="Ubrugte midler"
        ).sequence
        at["the withdrawal"] = session.withdraw(grant=awards[1].grant, date=D("2022-10-02"), reason="Aflyst").sequence
        at["the reallocation"] = session.reallocate(
            year=2022, from_line="12", to_line="14", amount=Money.kroner(20_000), date=D("2022-06-15"),
            decided_by="Økonomiforvaltningen", decision_ref="ØKF 2022-41", reason="Flere tryghedsvandringer",
        ).sequence
        at["the funding change"] = at["the reallocation"] + 1
        mistake = session.disburse(
            grant=awards[2].grant, amount=Money.kroner(100), date=D("2022-10-05"), payment_ref="Fejl"
        )
        at["the reversal"] = session.reverse(str(mistake.sequence), reason="Forkert beløb").sequence
        keyed = dict(
            pool="BTP", year=2022, recipient="Ungdomsklubben", purpose="Sommerfest", area=None,
            amount=Money.kroner(1000), requested=None, date=D("2022-11-01"), decided_by=AG, decision_ref="AG 2022-11",
            key="ag-2022-11-sommerfest",
        )
        at["the keyed award"] = session.award(**keyed).sequence
        assert session.award(**keyed).repeated
        at["the close"] = session.close_pool(
            pool="BTP", year=2022, date=D("2022-12-15"), decided_by=AG, decision_ref="AG 2022-12"
        ).sequence
        events, head = session.ledger.store.head()
    assert at["the close"] == events, "the close is the last event"
    ((snapshot_position,),) = RawSQL(db).run(
        "SELECT c.position FROM {snapshots} s JOIN {events} e "
        "ON e.originator_id = s.originator_id AND e.originator_version = s.originator_version "
        "JOIN event_chain c ON c.notification_id = e.{nid}"
    )
    exported = CliRunner().invoke(main, ["--db", db, "export", "--format", "jsonl", "--output", str(export)])
    assert exported.exit_code == 0, explain(exported)
    return Year(db, export, head, events, at, early_head, mid_year_head, snapshot_position)


class Years:
    """The recorded year on each backend, recorded on first use and kept for the module."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.recorded: dict[str, Year] = {}
        self.schemas: list[PostgresSchema] = []

    def on(self, backend: str) -> Year:
        if backend not in self.recorded:
            if backend == "sqlite":
                db = str(self.folder / "ledger.db")
            else:
                schema = PostgresSchema(_postgres_base())
                self.schemas.append(schema)
                db = schema.url
            self.recorded[backend] = record_year(db, self.folder / f"year-{backend}.jsonl")
        return self.recorded[backend]


@pytest.fixture(scope="module")
def years(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Years]:
    recorded = Years(tmp_path_factory.mktemp("year"))
    yield recorded
    for schema in recorded.schemas:
        schema.drop()


@pytest.fixture
def year(years: Years, backend: str) -> Year:
    return years.on(backend)


def schema_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["schema"][0]


@pytest.fixture
def db(year: Year, ledger_db: str, raw_sql: RawSQL) -> str:
    """A fresh copy of the recorded year on the test's backend, no session open on it."""
    if not raw_sql.postgres:
        shutil.copy(year.db, ledger_db)
        return ledger_db
    with Pulje(ledger_db, "kopist") as session:
        session.import_events(str(year.export))
    # A jsonl export carries the events, not the snapshots: copy the snapshot row as it was stored.
    raw_sql.run(f'INSERT INTO {{snapshots}} SELECT * FROM "{schema_of(year.db)}".pulje_snapshots')
    return ledger_db


@pytest.fixture
def sql(raw_sql: RawSQL, db: str) -> RawSQL:
    """Plain SQL on the test's copy (written for SQLite, adapted for PostgreSQL)."""
    assert raw_sql.db == db
    return raw_sql


def sqlite_only(sql: RawSQL, why: str, *, refused: str) -> None:
    """Skip on PostgreSQL, once its column types are shown to refuse the edit (`refused`, SQL it must reject)."""
    if not sql.postgres:
        return
    import psycopg

    before = fingerprint(sql)
    with pytest.raises((psycopg.errors.DataError, psycopg.errors.ProgrammingError)):
        sql.run(refused)
    assert fingerprint(sql) == before
    pytest.skip(f"SQLite only: {why}")


# ---------------------------------------------------------------------- helpers


def rowid_at(sql: RawSQL, position: int) -> int:
    ((rowid,),) = sql.run("SELECT notification_id FROM event_chain WHERE position = ?", (position,))
    return rowid


def stored_event(sql: RawSQL, position: int) -> tuple[Any, int, str, bytes]:
    """(aggregate id as the backend stores it, version, topic, state) of the event at a chain position."""
    ((oid, version, topic, state),) = sql.run(
        "SELECT originator_id, originator_version, topic, state FROM {events} WHERE {nid} = ?",
        (rowid_at(sql, position),),
    )
    return oid, version, topic, bytes(state)


def stored_id(sql: RawSQL, oid: UUID) -> Any:
    """An aggregate id as the backend's events table holds it (hex text on SQLite, uuid on PostgreSQL)."""
    return oid if sql.postgres else oid.hex


def flip_one_character(state: bytes) -> bytes:
    """The same bytes with one letter or digit near the middle changed."""
    i = len(state) // 2
    while not chr(state[i]).isalnum() or not chr(state[i]).isascii():
        i += 1
    c = chr(state[i])
    flipped = str((int(c) + 1) % 10) if c.isdigit() else c.swapcase()
    return state[:i] + flipped.encode() + state[i + 1 :]


def another_topic(topic: str) -> str:
    if topic.startswith(PLAN_TOPIC):
        return f"{PLAN_TOPIC}.Adopted" if topic.endswith("LineBudgeted") else f"{PLAN_TOPIC}.LineBudgeted"
    return f"{POOL_TOPIC}.GrantDisbursed" if topic.endswith("GrantAwarded") else f"{POOL_TOPIC}.GrantAwarded"


def verify_service(db: str, head: str | None = None) -> Any:
    """The report of `verify` in one process, held equal to the report with the views checked in a second one."""
    with Pulje(db, "revisor", create=False) as session:
        one = session.verify(expected_head=head, processes=1)
    with Pulje(db, "revisor", create=False) as session:
        two = session.verify(expected_head=head, processes=2)
    assert two.processes == TWO and one.processes == 1
    two.processes = 1
    assert two == one, ([str(p) for p in one.problems[:5]], [str(p) for p in two.problems[:5]])
    return one


def explain(result: Result) -> str:
    return (
        f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n"
        f"--- exception {result.exception!r}"
    )


def verify_cli(db: str, *args: str, fmt: str = "json") -> Result:
    return CliRunner().invoke(main, ["--db", db, "--actor", "revisor", "verify", "--format", fmt, *args])


def verify_cli_json(db: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = verify_cli(db, *args)
    assert result.exit_code in (0, 1), explain(result)
    return result.exit_code, json.loads(result.stdout)


def assert_found(db: str, *, check: str, position: int | None, says: str) -> Any:
    """Service and command line both fail and agree on the first problem."""
    report = verify_service(db)
    assert not report.ok
    first = report.problems[0]
    assert (first.check, first.position) == (check, position), [str(p) for p in report.problems[:5]]
    assert says in first.message, str(first)
    code, data = verify_cli_json(db)
    assert code == 1 and data["ok"] is False
    assert data["problems"][0] == {"check": check, "position": position, "message": first.message}
    where = f"position {position}: " if position is not None else ""
    assert data["first_problem"] == f"{check}: {where}{first.message}"
    text = verify_cli(db, fmt="table")
    assert text.exit_code == 1, explain(text)
    assert f"FAILED: {len(report.problems)} problem(s); the first: {check}: {where}" in text.stdout
    return report


def assert_clean(db: str, head: str | None = None) -> None:
    report = verify_service(db, head)
    assert report.ok, [str(p) for p in report.problems[:5]]
    code, data = verify_cli_json(db, *(("--head", head) if head else ()))
    assert code == 0 and data["ok"] is True and data["problems"] == []


def table_names(sql: RawSQL) -> list[str]:
    query = (
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name"
        if sql.postgres
        else "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    )
    return [name for (name,) in sql.run(query)]


def rebuild_views(sql: RawSQL) -> None:
    """Empty the read models and their tracking row; the next session's catch-up refills them."""
    for table in table_names(sql):
        if table.startswith("view_") and table != "view_meta":
            sql.run(f"DELETE FROM {table}")
    sql.run("DELETE FROM {tracking} WHERE application_name = 'views'")
    with Pulje(sql.db, "forfalsker", create=False) as session:
        session.status()


def rechain(sql: RawSQL, start: int) -> None:
    """Recompute every hash from `start` on, as a forger who read ledger/chain.py would."""
    previous = GENESIS if start == 1 else sql.run("SELECT hash FROM event_chain WHERE position = ?", (start - 1,))[0][0]
    rows = sql.run(
        "SELECT c.position, e.originator_id, e.originator_version, e.topic, e.state FROM event_chain c "
        "JOIN {events} e ON e.{nid} = c.notification_id WHERE c.position >= ? ORDER BY c.position",
        (start,),
    )
    for position, oid, version, topic, state in rows:
        previous = link(previous, position, UUID(str(oid)), version, topic, bytes(state))
        sql.run("UPDATE event_chain SET hash = ? WHERE position = ?", (previous, position))


def shift_up(sql: RawSQL, table: str, column: str, start: int) -> None:
    """`column += 1` for every row from `start` on, without tripping the unique key on the way."""
    sql.run(f"UPDATE {table} SET {column} = -({column} + 1) WHERE {column} >= ?", (start,))
    sql.run(f"UPDATE {table} SET {column} = -{column} WHERE {column} < 0")


def next_version(sql: RawSQL, oid: Any) -> int:
    ((version,),) = sql.run("SELECT max(originator_version) FROM {events} WHERE originator_id = ?", (oid,))
    return version + 1


def forged_state(**fields: Any) -> bytes:
    """An event's stored bytes as the program's mapper would have written them."""
    common = {"timestamp": "2022-12-20T10:00:00Z", "actor": "sekretariatet", "decided_by": None,
              "decision_ref": None, "reason": None}
    return json.dumps({**common, **fields}, separators=(",", ":"), ensure_ascii=False).encode()


def insert_event(sql: RawSQL, event: tuple[Any, int, str, bytes], rowid: int | None = None) -> int:
    """A row in the events table (at `rowid`, or after the last); returns its notification id."""
    if rowid is None:
        ((new,),) = sql.run(
            "INSERT INTO {events} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?) "
            "RETURNING {nid}",
            event,
        )
    else:
        ((new,),) = sql.run(
            "INSERT INTO {events} ({nid}, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?) "
            "RETURNING {nid}",
            (rowid, *event),
        )
    return new


def insert_chain_row(sql: RawSQL, position: int, notification_id: int, chain_hash: str) -> None:
    sql.run(
        "INSERT INTO event_chain (position, notification_id, hash) VALUES (?, ?, ?)",
        (position, notification_id, chain_hash),
    )


# ---------------------------------------------------------------------- the untouched year


def test_the_recorded_year_verifies_clean_with_a_snapshot_taken(year: Year, db: str) -> None:
    report = verify_service(db)
    assert report.ok, [str(p) for p in report.problems[:5]]
    assert report.head == (year.events, year.head)
    assert report.snapshots == 1 and report.events == year.events > 80
    result = verify_cli(db, fmt="table")
    assert result.exit_code == 0, explain(result)
    assert f"head: {year.head} (#{year.events})" in result.stdout
    assert "OK: the chain, the replay, every rule and the read models all hold." in result.stdout


def test_the_year_has_the_same_head_on_both_backends(years: Years) -> None:
    """The same commands at the same clock give the same bytes, chain and head on either backend."""
    on_sqlite, on_postgres = years.on("sqlite"), years.on("postgres")
    assert (on_postgres.head, on_postgres.events, on_postgres.at) == (on_sqlite.head, on_sqlite.events, on_sqlite.at)
    assert (on_postgres.early_head, on_postgres.mid_year_head) == (on_sqlite.early_head, on_sqlite.mid_year_head)
    assert on_postgres.snapshot_position == on_sqlite.snapshot_position
    assert on_postgres.export.read_bytes() == on_sqlite.export.read_bytes()


# ---------------------------------------------------------------------- one stored event changed

EARLY_MIDDLE_LATE = [
    pytest.param("the adoption", id="adoption"),
    pytest.param("a budget line", id="plan-line"),
    pytest.param("the first award", id="first-award"),
    pytest.param("a payment mid-year", id="mid-year-payment"),
    pytest.param("the reallocation", id="late-plan-event"),
    pytest.param("the reversal", id="reversal"),
    pytest.param("the close", id="last-event"),
]


@pytest.mark.parametrize("event", EARLY_MIDDLE_LATE)
def test_one_changed_byte_of_a_stored_event_is_named_at_its_position(
    year: Year, db: str, sql: RawSQL, event: str
) -> None:
    position = year.at[event]
    rowid, state = rowid_at(sql, position), stored_event(sql, position)[3]
    sql.run("UPDATE {events} SET state = ? WHERE {nid} = ?", (flip_one_character(state), rowid))
    kind = "SELECT pg_typeof(state)::text" if sql.postgres else "SELECT typeof(state)"
    assert sql.run(f"{kind} FROM {{events}} WHERE {{nid}} = ?", (rowid,)) == [("bytea" if sql.postgres else "blob",)]
    assert_found(db, check="chain", position=position, says="does not match its hash")


@pytest.mark.parametrize("event", EARLY_MIDDLE_LATE)
def test_a_stored_event_edited_into_text_is_named_at_its_position(
    year: Year, db: str, sql: RawSQL, event: str
) -> None:
    # PostgreSQL's state column is bytea: it always holds bytes, and a value typed text is refused.
    sqlite_only(
        sql, "an SQLite BLOB column takes TEXT; PostgreSQL's bytea column refuses a text value",
        refused="UPDATE {events} SET state = CAST(state AS TEXT)",
    )
    position = year.at[event]
    rowid, state = rowid_at(sql, position), stored_event(sql, position)[3]
    sql.run("UPDATE {events} SET state = ? WHERE {nid} = ?", (flip_one_character(state).decode("utf-8"), rowid))
    assert sql.run("SELECT typeof(state) FROM {events} WHERE {nid} = ?", (rowid,)) == [("text",)]
    assert_found(db, check="chain", position=position, says="does not match its hash")


def test_a_stored_event_retyped_as_text_with_the_same_bytes_is_no_change(year: Year, db: str, sql: RawSQL) -> None:
    """The chain hashes bytes: the same bytes typed TEXT instead of BLOB are the same event."""
    # PostgreSQL's state column is bytea: it always holds bytes, and a value typed text is refused.
    sqlite_only(
        sql, "only SQLite can hold an event's state as TEXT",
        refused="UPDATE {events} SET state = CAST(state AS TEXT)",
    )
    rowid = rowid_at(sql, year.at["the first award"])
    sql.run("UPDATE {events} SET state = CAST(state AS TEXT) WHERE {nid} = ?", (rowid,))
    assert sql.run("SELECT typeof(state) FROM {events} WHERE {nid} = ?", (rowid,)) == [("text",)]
    assert_clean(db, head=year.head)


COLUMN_EDITS = {
    "topic": lambda sql, topic: another_topic(topic),
    "originator_version": lambda sql, version: version + 1000,
    "originator_id": lambda sql, _: stored_id(sql, FORGED_ID),
}


@pytest.mark.parametrize("event", EARLY_MIDDLE_LATE)
@pytest.mark.parametrize("column", list(COLUMN_EDITS))
def test_a_changed_topic_version_or_aggregate_of_a_stored_event_is_named_at_its_position(
    year: Year, db: str, sql: RawSQL, column: str, event: str
) -> None:
    position = year.at[event]
    rowid = rowid_at(sql, position)
    ((before,),) = sql.run(f"SELECT {column} FROM {{events}} WHERE {{nid}} = ?", (rowid,))
    sql.run(f"UPDATE {{events}} SET {column} = ? WHERE {{nid}} = ?", (COLUMN_EDITS[column](sql, before), rowid))
    assert_found(db, check="chain", position=position, says="does not match its hash")


@pytest.mark.parametrize("event", ["the adoption", "a payment mid-year", "the close"])
@pytest.mark.parametrize("column", ["topic", "state"])
def test_a_topic_or_state_set_to_null_is_named_at_its_position(
    year: Year, db: str, sql: RawSQL, column: str, event: str
) -> None:
    """Both backends let these two columns be NULL: a finding, not a crash."""
    position = year.at[event]
    sql.run(f"UPDATE {{events}} SET {column} = NULL WHERE {{nid}} = ?", (rowid_at(sql, position),))
    report = assert_found(db, check="chain", position=position, says="does not match its hash")
    assert any(p.check == "replay" and p.position == position for p in report.problems), report.problems[:3]


@pytest.mark.parametrize("event", ["the adoption", "a payment mid-year", "the close"])
def test_an_aggregate_id_that_is_no_id_is_named_at_its_position(
    year: Year, db: str, sql: RawSQL, event: str
) -> None:
    # PostgreSQL's originator_id column is uuid: the database itself refuses a value that is no id.
    sqlite_only(
        sql, "an SQLite TEXT id column takes any text; PostgreSQL's uuid column refuses it",
        refused="UPDATE {events} SET originator_id = 'not-an-id'",
    )
    position = year.at[event]
    sql.run("UPDATE {events} SET originator_id = 'not-an-id' WHERE {nid} = ?", (rowid_at(sql, position),))
    report = assert_found(db, check="chain", position=position, says="does not match its hash")
    assert any(p.check == "replay" and p.position == position and "is not an id" in p.message for p in report.problems)


@pytest.mark.parametrize("event", EARLY_MIDDLE_LATE)
def test_a_deleted_stored_event_is_named_at_its_position(year: Year, db: str, sql: RawSQL, event: str) -> None:
    position = year.at[event]
    sql.run("DELETE FROM {events} WHERE {nid} = ?", (rowid_at(sql, position),))
    assert_found(db, check="chain", position=position, says="missing from the log (deleted)")


@pytest.mark.parametrize(
    "first, second",
    [
        pytest.param("the first award", "the first award+1", id="two-neighbouring-awards"),
        pytest.param("a payment mid-year", "the return", id="a-payment-and-the-return"),
        pytest.param("the adoption", "a budget line", id="adoption-and-a-plan-line"),
        pytest.param("a budget line", "the reallocation", id="two-plan-events"),
        pytest.param("the reallocation", "the funding change", id="plan-and-pool-of-one-decision"),
        pytest.param("the keyed award", "the close", id="with-the-last-event"),
    ],
)
def test_two_swapped_stored_events_are_named_at_the_first_of_them(
    year: Year, db: str, sql: RawSQL, first: str, second: str
) -> None:
    def position(name: str) -> int:
        base, _, plus = name.partition("+")
        return year.at[base] + int(plus or 0)

    a, b = sorted((position(first), position(second)))
    rows = {p: stored_event(sql, p) for p in (a, b)}
    rowids = {p: rowid_at(sql, p) for p in (a, b)}
    sql.run("DELETE FROM {events} WHERE {nid} IN (?, ?)", (rowids[a], rowids[b]))
    insert_event(sql, rows[b], rowid=rowids[a])
    insert_event(sql, rows[a], rowid=rowids[b])
    assert_found(db, check="chain", position=a, says="does not match its hash")


# ---------------------------------------------------------------------- the newest events removed


def test_the_last_stored_event_deleted_is_named_at_the_last_position(year: Year, db: str, sql: RawSQL) -> None:
    sql.run("DELETE FROM {events} WHERE {nid} = ?", (rowid_at(sql, year.events),))
    assert_found(db, check="chain", position=year.events, says="missing from the log (deleted)")


def test_the_last_event_deleted_with_its_chain_row_still_shows_in_the_read_models(
    year: Year, db: str, sql: RawSQL
) -> None:
    sql.run("DELETE FROM {events} WHERE {nid} = ?", (rowid_at(sql, year.events),))
    sql.run("DELETE FROM event_chain WHERE position = ?", (year.events,))
    report = assert_found(db, check="views", position=None, says="view pools row")
    assert "closed" in report.problems[0].message
    assert not any(p.check == "chain" for p in report.problems)


def test_the_newest_events_cut_off_with_the_views_rebuilt_need_an_earlier_head_to_be_seen(
    year: Year, db: str, sql: RawSQL
) -> None:
    for position in range(year.at["the keyed award"], year.events + 1):
        sql.run("DELETE FROM {events} WHERE {nid} = ?", (rowid_at(sql, position),))
        sql.run("DELETE FROM event_chain WHERE position = ?", (position,))
    rebuild_views(sql)

    assert_clean(db)
    assert verify_service(db).head[0] == year.at["the keyed award"] - 1
    assert_clean(db, head=year.mid_year_head)
    report = verify_service(db, year.head)
    assert not report.ok and report.problems == [] and report.head_found is None
    code, data = verify_cli_json(db, "--head", year.head)
    assert code == 1 and data["expected_head_found_at"] is None and data["problems"] == []
    text = verify_cli(db, "--head", year.head, fmt="table")
    assert text.exit_code == 1 and "NOT in this ledger" in text.stdout


# ---------------------------------------------------------------------- forged events


def test_a_forged_event_without_a_place_in_the_chain_is_named(year: Year, db: str, sql: RawSQL) -> None:
    pool = stored_event(sql, year.at["a payment mid-year"])[0]
    payment = forged_state(date="2022-12-20", number="BTP-2022-005", amount=100000, payment_ref="Bilag 999")
    rowid = insert_event(sql, (pool, next_version(sql, pool), f"{POOL_TOPIC}.GrantDisbursed", payment))
    assert_found(db, check="chain", position=None, says=f"stored event {rowid} has no place in the chain")


def forge_key_event(sql: RawSQL, year: Year) -> tuple[Any, int, str, bytes]:
    """A new aggregate's first event: a copy of the recorded command key under a new id."""
    _, version, topic, state = stored_event(sql, year.at["the keyed award"] + 1)
    assert topic == "domain.keys:CommandKey.Recorded" and version == 1
    return stored_id(sql, FORGED_ID), 1, topic, state.replace(b"ag-2022-11-sommerfest", b"ag-2022-11-forfalsket")


def test_a_forged_event_slipped_into_the_middle_of_the_chain_with_a_made_up_hash_is_named_there(
    year: Year, db: str, sql: RawSQL
) -> None:
    position = year.at["a payment mid-year"]
    rowid = insert_event(sql, forge_key_event(sql, year))
    shift_up(sql, "event_chain", "position", position)
    insert_chain_row(sql, position, rowid, hashlib.sha256(b"forged").hexdigest())
    assert_found(db, check="chain", position=position, says="does not match its hash")


def test_a_forged_event_slipped_into_the_middle_with_a_correct_link_breaks_the_chain_right_after_it(
    year: Year, db: str, sql: RawSQL
) -> None:
    position = year.at["a payment mid-year"]
    forged = forge_key_event(sql, year)
    rowid = rowid_at(sql, position)
    shift_up(sql, "{events}", "{nid}", rowid)
    shift_up(sql, "event_chain", "notification_id", rowid)
    shift_up(sql, "event_chain", "position", position)
    insert_event(sql, forged, rowid=rowid)
    ((previous,),) = sql.run("SELECT hash FROM event_chain WHERE position = ?", (position - 1,))
    insert_chain_row(sql, position, rowid, link(previous, position, FORGED_ID, 1, forged[2], forged[3]))
    assert_found(db, check="chain", position=position + 1, says="does not match its hash")


# ---------------------------------------------------------------------- the chain rewritten


def rewrite_a_payment(sql: RawSQL, year: Year) -> int:
    """Double the mid-year payment and give every later event a fresh, correct hash."""
    position = year.at["a payment mid-year"]
    state = stored_event(sql, position)[3]
    assert b'"amount":100000,' in state
    sql.run(
        "UPDATE {events} SET state = ? WHERE {nid} = ?",
        (state.replace(b'"amount":100000,', b'"amount":200000,'), rowid_at(sql, position)),
    )
    rechain(sql, position)
    return position


def test_a_chain_rewritten_from_a_changed_event_passes_the_chain_check_but_not_the_snapshot_and_views(
    year: Year, db: str, sql: RawSQL
) -> None:
    rewrite_a_payment(sql, year)
    report = assert_found(db, check="snapshots", position=year.snapshot_position, says="differs from its replay")
    assert {p.check for p in report.problems} == {"snapshots", "views"}
    assert report.head[1] != year.head


def test_a_chain_rewritten_with_snapshots_and_views_rebuilt_is_seen_only_with_an_earlier_head(
    year: Year, db: str, sql: RawSQL
) -> None:
    rewrite_a_payment(sql, year)
    sql.run("DELETE FROM {snapshots}")
    rebuild_views(sql)

    assert_clean(db)
    assert_clean(db, head=year.early_head)
    for written_down in (year.head, year.mid_year_head):
        report = verify_service(db, written_down)
        assert not report.ok and report.head_found is None
        code, data = verify_cli_json(db, "--head", written_down)
        assert code == 1 and data["expected_head_found_at"] is None


# ---------------------------------------------------------------------- caches and the chain table edited


def test_a_changed_pool_read_model_is_named_as_a_view(db: str, sql: RawSQL) -> None:
    ((pool_id, data),) = sql.run("SELECT pool_id, data FROM view_pools WHERE code = 'BTP'")
    row = decode_row(PoolRow, data)
    row.awarded_ore -= 100_000
    sql.run("UPDATE view_pools SET data = ? WHERE pool_id = ?", (encode_row(row), pool_id))
    report = assert_found(
        db, check="views", position=None, says=f"view pools row {pool_id} differs from a replay in awarded_ore"
    )
    assert len(report.problems) == 1


def test_a_changed_grant_read_model_is_named_as_a_view(db: str, sql: RawSQL) -> None:
    ((pool_id, data),) = sql.run("SELECT pool_id, data FROM view_grants WHERE number = 'BTP-2022-004'")
    row = decode_row(GrantRow, data)
    row.recipient = "Min egen forening"
    sql.run("UPDATE view_grants SET data = ? WHERE pool_id = ? AND number = 'BTP-2022-004'", (encode_row(row), pool_id))
    says = f"view grants row {pool_id}/BTP-2022-004 differs from a replay in recipient"
    assert_found(db, check="views", position=None, says=says)


@pytest.mark.parametrize(
    "stored", ['{"number": "BTP-2022-004"}', '["BTP-2022-004"]', "not json"], ids=["object", "short", "garbage"]
)
def test_a_grant_read_model_that_is_not_a_row_is_named_as_a_view(db: str, sql: RawSQL, stored: str) -> None:
    ((pool_id,),) = sql.run("SELECT pool_id FROM view_grants WHERE number = 'BTP-2022-004'")
    sql.run("UPDATE view_grants SET data = ? WHERE pool_id = ? AND number = 'BTP-2022-004'", (stored, pool_id))
    report = assert_found(db, check="views", position=None, says=f"view grants has a row that is not a row: {stored!r}")
    assert len(report.problems) == 1


def test_the_view_tables_are_compared_page_by_page_by_key(db: str, sql: RawSQL) -> None:
    """Pages of two rows, each found from the last key read: every row is compared once, a change past the first
    page is named, and the walk ends."""
    from ledger.verify import compare_tables

    numbers = [n for (n,) in sql.run("SELECT number FROM view_grants ORDER BY pool_id, number")]
    assert len(numbers) > 4
    with Pulje(db, "test") as pulje:
        replayed = pulje.ledger.full_replay()
        assert list(compare_tables(pulje.ledger.store, replayed, page_size=2)) == []
    ((pool_id, data),) = sql.run("SELECT pool_id, data FROM view_grants WHERE number = ?", (numbers[3],))
    row = decode_row(GrantRow, data)
    row.recipient = "Min egen forening"
    sql.run("UPDATE view_grants SET data = ? WHERE pool_id = ? AND number = ?", (encode_row(row), pool_id, numbers[3]))
    with Pulje(db, "test") as pulje:
        found = list(compare_tables(pulje.ledger.store, replayed, page_size=2))
    assert found == [f"view grants row {pool_id}/{numbers[3]} differs from a replay in recipient"]


def test_a_view_row_whose_key_is_null_is_named(db: str, sql: RawSQL) -> None:
    """SQLite lets a text key column hold NULL: the row is named, and rows a page cannot reach past it are counted."""
    from ledger.verify import compare_tables

    if sql.postgres:
        import psycopg

        with pytest.raises(psycopg.errors.IntegrityError):
            sql.run("UPDATE view_pools SET pool_id = NULL WHERE code = 'BTP'")
        pytest.skip("SQLite only: PostgreSQL's key columns refuse NULL")
    pools = [p for (p,) in sql.run("SELECT pool_id FROM view_pools ORDER BY pool_id")]
    ((pool_id,),) = sql.run("SELECT pool_id FROM view_pools WHERE code = 'BTP'")
    sql.run("UPDATE view_pools SET pool_id = NULL WHERE code = 'BTP'")
    report = assert_found(db, check="views", position=None, says="view pools row None has no event behind it")
    assert f"view pools row {pool_id} is missing" in [p.message for p in report.problems]
    with Pulje(db, "test") as pulje:
        found = list(compare_tables(pulje.ledger.store, pulje.ledger.full_replay(), page_size=1))
    assert found[:2] == [
        "view pools row None has no event behind it",
        f"view pools has {len(pools) - 1} rows past a key that is NULL, not compared",
    ]
    assert sorted(found[2:]) == sorted(f"view pools row {p} is missing" for p in pools)


def test_a_changed_column_beside_a_pool_read_model_is_named(db: str, sql: RawSQL) -> None:
    """Queries filter on the columns beside the JSON (a pool's year, a grant's number): they are checked too."""
    ((pool_id,),) = sql.run("SELECT pool_id FROM view_pools WHERE code = 'BTP'")
    sql.run("UPDATE view_pools SET year = 2023 WHERE pool_id = ?", (pool_id,))
    report = assert_found(db, check="views", position=None, says=f"view pools row {pool_id} differs from a replay in its column year")
    assert len(report.problems) == 1


def test_a_moved_grant_read_model_is_named_missing_and_unbacked(db: str, sql: RawSQL) -> None:
    ((pool_id,),) = sql.run("SELECT pool_id FROM view_grants WHERE number = 'BTP-2022-004'")
    sql.run("UPDATE view_grants SET number = 'BTP-2022-099' WHERE number = 'BTP-2022-004'")
    report = assert_found(db, check="views", position=None, says=f"view grants row {pool_id}/BTP-2022-099 has no event behind it")
    assert f"view grants row {pool_id}/BTP-2022-004 is missing" in [p.message for p in report.problems]


def test_a_changed_audit_column_is_named_at_its_position(db: str, sql: RawSQL) -> None:
    ((sequence,),) = sql.run("SELECT MIN(sequence) FROM view_audit WHERE kind = 'grant_awarded'")
    sql.run("UPDATE view_audit SET kind = 'grant_returned' WHERE sequence = ?", (sequence,))
    report = assert_found(db, check="views", position=sequence, says=f"view audit row {sequence} has columns that differ from a replay")
    assert len(report.problems) == 1


def test_a_changed_snapshot_is_named_at_the_event_it_was_taken_at(year: Year, db: str, sql: RawSQL) -> None:
    ((state,),) = sql.run("SELECT state FROM {snapshots}")
    state = bytes(state)
    assert b'"funding":10700000,' in state
    sql.run("UPDATE {snapshots} SET state = ?", (state.replace(b'"funding":10700000,', b'"funding":10800000,'),))
    assert_found(db, check="snapshots", position=year.snapshot_position, says="differs from its replay")


def test_a_snapshot_with_one_byte_flipped_is_named_at_the_event_it_was_taken_at(
    year: Year, db: str, sql: RawSQL
) -> None:
    ((state,),) = sql.run("SELECT state FROM {snapshots}")
    sql.run("UPDATE {snapshots} SET state = ?", (flip_one_character(bytes(state)),))
    assert_found(db, check="snapshots", position=year.snapshot_position, says="differs from its replay")


def test_a_snapshot_edited_into_text_is_named_at_the_event_it_was_taken_at(year: Year, db: str, sql: RawSQL) -> None:
    # PostgreSQL's snapshot state column is bytea: replace() on bytea does not exist, and text is refused.
    sqlite_only(
        sql, "an SQLite BLOB column takes TEXT; PostgreSQL's bytea column refuses a text value",
        refused="UPDATE {snapshots} SET state = replace(state, '10700000', '10800000')",
    )
    sql.run("UPDATE {snapshots} SET state = replace(state, '10700000', '10800000')")
    assert sql.run("SELECT typeof(state) FROM {snapshots}") == [("text",)]
    assert_found(db, check="snapshots", position=year.snapshot_position, says="differs from its replay")


@pytest.mark.parametrize("event", ["the first award", "a payment mid-year", "the reversal"])
def test_a_chain_row_deleted_in_the_middle_is_named_where_the_positions_jump(
    year: Year, db: str, sql: RawSQL, event: str
) -> None:
    position = year.at[event]
    sql.run("DELETE FROM event_chain WHERE position = ?", (position,))
    report = assert_found(
        db, check="chain", position=position + 1, says=f"positions jump from {position - 1} to {position + 1}"
    )
    assert any("has no place in the chain" in p.message for p in report.problems)


def test_a_plan_that_lost_the_pools_line_is_reported_not_crashed_on(year: Year, db: str, sql: RawSQL) -> None:
    """Without line 14's budget event the pool's funding has no line to compare with: a finding, not a crash."""
    for position in range(2, year.at["the first award"]):
        _, _, topic, state = stored_event(sql, position)
        if topic.endswith("LineBudgeted") and b'"terms":{"line":"14",' in state:
            sql.run("DELETE FROM {events} WHERE {nid} = ?", (rowid_at(sql, position),))
            break
    else:
        pytest.fail("no budget event for line 14")
    report = assert_found(db, check="chain", position=position, says="missing from the log (deleted)")
    assert any(p.check == "rules" and "14" in p.message for p in report.problems), [str(p) for p in report.problems]


# ---------------------------------------------------------------------- the read models' reading of the stored JSON


def rewrite_state(sql: RawSQL, position: int, old: bytes, new: bytes) -> None:
    """Replace `old` by `new` in one stored event, give every later event a fresh hash, and rebuild the views."""
    state = stored_event(sql, position)[3]
    assert old in state, state[:200]
    sql.run("UPDATE {events} SET state = ? WHERE {nid} = ?", (state.replace(old, new, 1), rowid_at(sql, position)))
    rechain(sql, position)
    rebuild_views(sql)


def stored_text(sql: RawSQL, year: Year, name: str) -> tuple[int, str]:
    """The mid-year payment's position and one text field of its stored state."""
    position = year.at["a payment mid-year"]
    return position, json.loads(stored_event(sql, position)[3])[name]


def test_a_stored_timestamp_the_model_reads_but_the_views_would_show_otherwise_is_named_at_its_position(
    year: Year, db: str, sql: RawSQL
) -> None:
    # The same instant with "+00:00" for "Z": the model validates it, the read models would show the text as
    # stored. With the chain and the views rebuilt to match, only this check sees it.
    position, stamp = stored_text(sql, year, "timestamp")
    assert stamp.endswith("Z")
    rewrite_state(sql, position, f'"timestamp":"{stamp}"'.encode(), f'"timestamp":"{stamp[:-1]}+00:00"'.encode())
    report = assert_found(db, check="views", position=position, says="read this event's stored JSON differently")
    assert [p.check for p in report.problems] == ["views"], [str(p) for p in report.problems]


def test_a_stored_event_written_in_other_but_equal_json_is_no_change_to_the_read_models(
    year: Year, db: str, sql: RawSQL
) -> None:
    # Escaped letters and a space: other bytes than pulje writes, read the same by the model and by the views.
    position, actor = stored_text(sql, year, "actor")
    escaped = "".join(f"\\u{ord(c):04x}" for c in actor)
    rewrite_state(sql, position, f'"actor":"{actor}"'.encode(), f'"actor": "{escaped}"'.encode())
    report = verify_service(db)
    assert report.ok, [str(p) for p in report.problems[:5]]


# ---------------------------------------------------------------------- one process or two


def test_verify_takes_a_second_process_from_parallel_from_events_on(
    year: Year, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger import forked

    with Pulje(db, "revisor", create=False) as session:
        assert session.verify().processes == 1  # a year is far below PARALLEL_FROM
    monkeypatch.setattr(forked, "PARALLEL_FROM", year.events)
    with Pulje(db, "revisor", create=False) as session:
        report = session.verify()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    assert report.ok and report.processes == (TWO if cores >= 2 else 1)
    assert not multiprocessing.active_children()


def test_a_second_process_that_fails_leaves_the_views_to_the_first(
    year: Year, db: str, sql: RawSQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger import verify as verifying

    sql.run("UPDATE view_audit SET kind = 'grant_returned' WHERE sequence = ?", (year.at["a payment mid-year"],))
    parent, check_views = os.getpid(), verifying._check_views

    def fails_in_the_child(*args: Any, **kwargs: Any) -> Any:
        if os.getpid() != parent:
            raise ConnectionError("the second process lost its connection")
        return check_views(*args, **kwargs)

    monkeypatch.setattr(verifying, "_check_views", fails_in_the_child)
    with Pulje(db, "revisor", create=False) as session:
        report = session.verify(processes=2)
    assert report.processes == 1
    assert [(p.check, p.position) for p in report.problems] == [("views", year.at["a payment mid-year"])]
    assert not multiprocessing.active_children()


def test_verify_counts_both_walks_on_its_progress_bar(year: Year, db: str) -> None:
    class Counted:
        def __init__(self) -> None:
            self.total, self.done = 0, 0

        def start(self, total: int) -> None:
            self.total = total

        def __call__(self, n: int) -> None:
            self.done += n

    for processes, walks in ((1, 2), (2, TWO == 1 and 2 or 1)):
        progress = Counted()
        with Pulje(db, "revisor", create=False) as session:
            session.verify(progress=progress, processes=processes)
        assert progress.total == progress.done == walks * year.events


def test_verify_processes_on_the_command_line(db: str, sql: RawSQL, year: Year) -> None:
    sql.run("UPDATE view_audit SET kind = 'grant_returned' WHERE sequence = ?", (year.at["a payment mid-year"],))
    reports = [verify_cli_json(db, "--processes", n) for n in ("1", "2")]
    assert reports[0] == reports[1] and reports[0][0] == 1
    refused = verify_cli(db, "--processes", "3")
    assert refused.exit_code == 2 and "'--processes': 3 is not in the range 1<=x<=2" in refused.stderr, explain(refused)


# ---------------------------------------------------------------------- verify --head


def test_verify_with_the_current_head_passes(year: Year, db: str) -> None:
    assert_clean(db, head=year.head)
    code, data = verify_cli_json(db, "--head", year.head.upper())
    assert code == 0 and data["expected_head_found_at"] == year.events


def test_verify_with_the_head_status_printed_mid_year_passes(year: Year, db: str) -> None:
    assert_clean(db, head=year.mid_year_head)
    code, data = verify_cli_json(db, "--head", year.mid_year_head)
    assert code == 0 and data["expected_head_found_at"] == year.at["a payment mid-year"] + 27
    text = verify_cli(db, "--head", year.mid_year_head, fmt="table")
    assert "everything up to it is unchanged" in text.stdout


def test_verify_with_the_empty_ledgers_head_passes(db: str) -> None:
    assert_clean(db, head=GENESIS)
    assert verify_cli_json(db, "--head", GENESIS)[1]["expected_head_found_at"] == 0


def test_verify_with_another_ledgers_head_fails(year: Year, db: str, new_ledger_db: Any) -> None:
    with Pulje(new_ledger_db("other"), "someone else", clock=TickingClock()) as other:
        other.import_plan(PLAN_2022)
        foreign = other.award(
            pool="VP", year=2022, recipient="Andet sted", purpose="Noget andet", area=None, amount=Money.kroner(10),
            requested=None, date=D("2022-05-05"), decided_by=AG, decision_ref="AG X",
        ).head
    report = verify_service(db, foreign)
    assert not report.ok and report.problems == [] and report.head_found is None
    code, data = verify_cli_json(db, "--head", foreign)
    assert code == 1 and data["expected_head_found_at"] is None and data["first_problem"] is None
    text = verify_cli(db, "--head", foreign, fmt="table")
    assert text.exit_code == 1 and f"--head {foreign}: NOT in this ledger" in text.stdout


@pytest.mark.parametrize(
    "head",
    ["abc", "a" * 63, "a" * 65, "g" * 64, "0x" + "0" * 62, "", "é" * 64, " "],
    ids=["abc", "63-hex", "65-hex", "non-hex", "0x", "empty", "non-ascii", "blank"],
)
def test_a_malformed_head_is_a_usage_error_in_one_line(db: str, head: str) -> None:
    result = verify_cli(db, "--head", head, fmt="table")
    assert result.exit_code == 2, explain(result)
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "64 hexadecimal digits" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------- verify writes nothing


def fingerprint(sql: RawSQL) -> dict[str, Any]:
    """Everything a write could change: every table's rows (and on SQLite the file's bytes, on PostgreSQL
    the schema's relations and sequences)."""
    tables = table_names(sql)
    found: dict[str, Any] = {
        "tables": tables,
        "rows": {
            t: hashlib.sha256("\n".join(sorted(map(repr, sql.run(f"SELECT * FROM {t}")))).encode()).hexdigest()
            for t in tables
        },
        "counts": {t: sql.run(f"SELECT count(*) FROM {t}")[0][0] for t in tables},
        "head": sql.run("SELECT position, hash FROM event_chain ORDER BY position DESC LIMIT 1"),
        "tracking": sql.run("SELECT * FROM {tracking} ORDER BY application_name"),
    }
    if sql.postgres:
        found["relations"] = sql.run(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() ORDER BY c.relname"
        )
        found["sequences"] = sql.run(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema() ORDER BY 1"
        )
    else:
        path = Path(sql.db)
        found["files"] = sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))
        found["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_verify_writes_nothing_to_a_clean_ledger(year: Year, db: str, sql: RawSQL) -> None:
    before = fingerprint(sql)
    if not sql.postgres:
        assert before["files"] == ["ledger.db"]
    assert verify_service(db).ok
    assert verify_cli_json(db, "--head", year.mid_year_head)[0] == 0
    assert verify_cli(db, fmt="table").exit_code == 0
    assert fingerprint(sql) == before


def test_verify_writes_nothing_to_a_tampered_ledger_either(year: Year, db: str, sql: RawSQL) -> None:
    sql.run("DELETE FROM event_chain WHERE position = ?", (year.at["the return"],))
    sql.run("DELETE FROM view_grants WHERE number = 'BTP-2022-001'")
    before = fingerprint(sql)
    assert not verify_service(db).ok
    assert verify_cli_json(db)[0] == 1
    assert verify_cli_json(db, "--head", year.head)[0] == 1
    assert fingerprint(sql) == before


# ---------------------------------------------------------------------- what no unkeyed chain can see


def append_linked(sql: RawSQL, year: Year, oid: Any, topic: str, state: bytes) -> int:
    """Append one event with a correct chain row, as a forger who read ledger/chain.py would."""
    version = next_version(sql, oid)
    rowid = insert_event(sql, (oid, version, topic, state))
    position = year.events + 1
    insert_chain_row(sql, position, rowid, link(year.head, position, UUID(str(oid)), version, topic, state))
    return position


def test_an_award_appended_with_a_correct_link_is_invisible_even_to_an_earlier_head(
    year: Year, db: str, sql: RawSQL
) -> None:
    """The chain has no secret: whoever can write the ledger can extend it as the program would.

    `--head` proves that what was there is unchanged, not that nothing was added
    after it; an appended event that breaks no rule passes every check.
    """
    opened = sql.run("SELECT originator_id, state FROM {events} WHERE topic = ?", (f"{POOL_TOPIC}.Opened",))
    (videnspulje,) = [oid for oid, state in opened if b'"code":"VP"' in bytes(state)]
    position = append_linked(
        sql, year, videnspulje, f"{POOL_TOPIC}.GrantAwarded",
        forged_state(
            date="2022-12-01", decided_by=AG, decision_ref="AG X", number="VP-2022-001", recipient="Forfalskeren",
            purpose="Intet", area=None, requested=None, amount=500000,
        ),
    )
    report = verify_service(db, year.head)
    assert report.ok and report.head[0] == position and report.head_found == year.events
    assert verify_cli_json(db, "--head", year.head)[0] == 0


def test_a_payment_appended_after_the_pools_close_breaks_a_rule(year: Year, db: str, sql: RawSQL) -> None:
    pool = stored_event(sql, year.at["the close"])[0]
    append_linked(
        sql, year, pool, f"{POOL_TOPIC}.GrantDisbursed",
        forged_state(date="2022-12-20", number="BTP-2022-005", amount=100000, payment_ref="Bilag 999"),
    )
    report = verify_service(db)
    assert not report.ok and report.problems[0].check in ("rules", "replay"), report.problems
    assert verify_cli_json(db)[0] == 1


# ---------------------------------------------------------------------- a thousand random clean ledgers

SMALL_PLAN = """
[plan]
partnership = "Prøveby"
title = "Tryghedsplan 2022"
year = 2022

[authority]
reallocation = "Økonomiforvaltningen"

[[line]]
no = "1"
name = "Fælleshave"
[line.budget.2022]
total = 30000

[[line]]
no = "2"
name = "Kommunikation"
[line.budget.2022]
total = 20000

[[line]]
no = "3"
name = "Bylivspulje"
[line.budget.2022]
total = 15000

[[pool]]
id = "bylivspulje"
code = "BP"
name = "Bylivspulje"
line = "3"
decided_by = "arbejdsgruppen"
"""


def day_between(first: int, last: int) -> st.SearchStrategy[dt.date]:
    return st.integers(min_value=first, max_value=last).map(lambda n: dt.date(2022, 1, 1) + dt.timedelta(days=n))


kroner = st.integers(min_value=1, max_value=8000).map(Money.kroner)
which = st.integers(min_value=0, max_value=5)
commands = st.lists(
    st.one_of(
        st.tuples(st.just("award"), kroner, day_between(0, 200)),
        st.tuples(st.just("disburse"), which, kroner, day_between(100, 364)),
        st.tuples(st.just("return"), which, kroner, day_between(150, 364)),
        st.tuples(st.just("withdraw"), which, day_between(100, 364)),
        st.tuples(st.just("reallocate"), st.permutations("123").map(lambda p: p[:2]), kroner, day_between(0, 364)),
        st.tuples(st.just("reverse"), st.integers(min_value=1, max_value=3)),
        st.tuples(st.just("close"), day_between(250, 364)),
    ),
    max_size=6,
)


@pytest.fixture(scope="module")
def small_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    plan = tmp_path_factory.mktemp("small-plan") / "plan.toml"
    plan.write_text(SMALL_PLAN, encoding="utf-8")
    return plan


@dataclass
class Template:
    """A small SQLite ledger with its plan adopted, copied for every example."""

    path: Path
    scratch: Path
    counter: Iterator[int]


@pytest.fixture(scope="module")
def small_template(tmp_path_factory: pytest.TempPathFactory, small_plan: Path) -> Template:
    folder = tmp_path_factory.mktemp("small")
    with Pulje(str(folder / "template.db"), "sekretariatet", clock=TickingClock()) as session:
        session.import_plan(small_plan)
    scratch = folder / "examples"
    scratch.mkdir()
    return Template(folder / "template.db", scratch, itertools.count())


def play(session: Pulje, command: tuple[Any, ...], grants: list[str], recorded: list[int]) -> Any:
    """One command; one that needs a grant while there is none awards one instead."""
    kind, *args = command
    if kind in ("disburse", "return", "withdraw") and not grants:
        kind, args = "award", [Money.kroner(5000), args[-1]]
    if kind == "award":
        amount, date = args
        done = session.award(
            pool="BP", year=2022, recipient="Beboerforeningen", purpose="Fest", area=None, amount=amount,
            requested=None, date=date, decided_by=AG, decision_ref="AG",
        )
        grants.append(done.grant)
        return done
    if kind == "disburse":
        index, amount, date = args
        return session.disburse(grant=grants[index % len(grants)], amount=amount, date=date, payment_ref=None)
    if kind == "return":
        index, amount, date = args
        return session.take_back(grant=grants[index % len(grants)], amount=amount, date=date, reason="Ubrugt")
    if kind == "withdraw":
        index, date = args
        return session.withdraw(grant=grants[index % len(grants)], date=date, reason="Aflyst")
    if kind == "reallocate":
        (source, destination), amount, date = args
        return session.reallocate(
            year=2022, from_line=source, to_line=destination, amount=amount, date=date,
            decided_by="Økonomiforvaltningen", decision_ref="ØKF", reason="Behov",
        )
    if kind == "reverse":
        (back,) = args
        sequence = recorded[-back] if len(recorded) >= back else session.ledger.store.head()[0]
        return session.reverse(str(sequence), reason="Fejl")
    (date,) = args
    return session.close_pool(pool="BP", year=2022, date=date, decided_by=AG, decision_ref="AG")


def play_and_verify(db: str, script: list[tuple[Any, ...]], plan: Path | None = None) -> None:
    """Play the script on the ledger (adopting `plan` first if given); service and command line find it clean."""
    grants: list[str] = []
    recorded: list[int] = []
    clock = TickingClock(dt.datetime(2022, 2, 1, tzinfo=dt.timezone.utc))
    with Pulje(db, "sekretariatet", clock=clock) as session:
        if plan is not None:
            session.import_plan(plan)
        refused = 0
        for command in script:
            try:
                recorded.append(play(session, command, grants, recorded).sequence)
            except DomainError:
                refused += 1
        event(f"commands recorded: {len(script) - refused}")
        report = session.verify()
        assert report.ok, [str(p) for p in report.problems[:5]]
        assert report.head == session.ledger.store.head()
    result = verify_cli(db, fmt="table")
    assert result.exit_code == 0, explain(result)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=commands)
def test_a_thousand_random_clean_ledgers_all_verify_on_sqlite(
    small_template: Template, script: list[tuple[Any, ...]]
) -> None:
    folder = small_template.scratch / str(next(small_template.counter))
    folder.mkdir()
    path = folder / "ledger.db"
    shutil.copy(small_template.path, path)
    try:
        play_and_verify(str(path), script)
    finally:
        shutil.rmtree(folder)


@pytest.fixture(scope="module")
def postgres_server() -> str:
    return _postgres_base()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=commands)
def test_fifty_random_clean_ledgers_all_verify_on_postgresql(
    postgres_server: str, small_plan: Path, script: list[tuple[Any, ...]]
) -> None:
    schema = PostgresSchema(postgres_server)
    try:
        play_and_verify(schema.url, script, plan=small_plan)
    finally:
        schema.drop()
