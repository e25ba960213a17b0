"""Shared fixtures: a fixed clock, the bundled 2022 plan, ledgers in real SQLite files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from domain import ids

ROOT = Path(__file__).resolve().parents[1]
PLAN_2022 = ROOT / "plans" / "tingbjerg-husum-2022.toml"

#: The 2022 plan's partnership and the ids its plan and its pool get (uuid5 of what identifies them).
PARTNERSHIP_2022 = "Tingbjerg-Husum"
PLAN_ID_2022 = ids.plan_id(PARTNERSHIP_2022, 2022)
BTP_ID_2022 = ids.pool_id(PARTNERSHIP_2022, "bylivs-og-tryghedspulje", 2022)


class TickingClock:
    """A clock for tests: starts at a fixed UTC instant, one second per reading."""

    def __init__(self, start: dt.datetime = dt.datetime(2022, 1, 3, 9, 0, tzinfo=dt.timezone.utc)) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def plan_2022() -> Path:
    return PLAN_2022


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def pulje(db_path: Path, clock: TickingClock):
    """A session on a new SQLite ledger with the 2022 plan adopted."""
    from ledger.service import Pulje

    with Pulje(str(db_path), "test", clock=clock) as session:
        session.import_plan(PLAN_2022)
        yield session


# ---------------------------------------------------------------------- both backends

import os  # noqa: E402
import uuid  # noqa: E402

POSTGRES_ENV = "PULJE_TEST_POSTGRES"


def _postgres_base() -> str:
    """The test server's URL, or skip (fail where PULJE_REQUIRE_POSTGRES is set) with the reason."""
    url = os.environ.get(POSTGRES_ENV)
    required = os.environ.get("PULJE_REQUIRE_POSTGRES") == "1"
    if not url:
        if required:
            pytest.fail(f"{POSTGRES_ENV} is not set but PULJE_REQUIRE_POSTGRES=1 makes the PostgreSQL tests mandatory")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}=postgresql://user@host:port/db (.ci/run sets it)")
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any reason the server is unusable
        message = f"the PostgreSQL server at {POSTGRES_ENV} cannot be used: {str(error).splitlines()[0]}"
        if required:
            pytest.fail(message)
        pytest.skip(message)
    return url


class PostgresSchema:
    """A schema of its own for one test; dropped afterwards."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.name = f"t_{uuid.uuid4().hex[:16]}"

    @property
    def url(self) -> str:
        separator = "&" if "?" in self.base else "?"
        return f"{self.base}{separator}schema={self.name}"

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def ledger_db(backend: str, tmp_path: Path):
    """A new, empty ledger location on the backend: an SQLite path or a PostgreSQL URL with its own schema."""
    if backend == "sqlite":
        yield str(tmp_path / "ledger.db")
        return
    schema = PostgresSchema(_postgres_base())
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def new_ledger_db(backend: str, tmp_path: Path):
    """A factory of further new ledger locations on the same backend (for copies and migrations)."""
    made: list[PostgresSchema] = []

    def make(name: str = "other") -> str:
        if backend == "sqlite":
            return str(tmp_path / f"{name}.db")
        schema = PostgresSchema(_postgres_base())
        made.append(schema)
        return schema.url

    yield make
    for schema in made:
        schema.drop()


class RawSQL:
    """Plain SQL on a ledger behind the program's back, for tampering tests, on either backend.

    Write it for SQLite (`?` placeholders, `{events}`, `{nid}`, `{snapshots}`, `{tracking}`); it is
    adapted for PostgreSQL (`%s`, `pulje_events`, `notification_id`, the test's schema).
    """

    def __init__(self, db: str) -> None:
        self.db = db
        self.postgres = "://" in db

    def adapt(self, sql: str) -> str:
        names = (
            {"{events}": "pulje_events", "{nid}": "notification_id", "{snapshots}": "pulje_snapshots", "{tracking}": "pulje_tracking"}
            if self.postgres
            else {"{events}": "stored_events", "{nid}": "rowid", "{snapshots}": "stored_snapshots", "{tracking}": "tracking"}
        )
        for token, name in names.items():
            sql = sql.replace(token, name)
        return sql.replace("?", "%s") if self.postgres else sql

    def run(self, sql: str, params: tuple = ()) -> list[tuple]:
        sql = self.adapt(sql)
        if not self.postgres:
            import sqlite3

            conn = sqlite3.connect(self.db)
            try:
                rows = conn.execute(sql, params).fetchall()
                conn.commit()
                return rows
            finally:
                conn.close()
        import psycopg
        from urllib.parse import parse_qs, urlsplit

        schema = parse_qs(urlsplit(self.db).query).get("schema", ["public"])[0]
        base = self.db.split("?")[0]
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []


@pytest.fixture
def raw_sql(ledger_db: str) -> RawSQL:
    return RawSQL(ledger_db)


@pytest.fixture
def pulje_on(ledger_db: str, clock: TickingClock):
    """A session on a new ledger on the backend with the 2022 plan adopted."""
    from ledger.service import Pulje

    with Pulje(ledger_db, "test", clock=clock) as session:
        session.import_plan(PLAN_2022)
        yield session
