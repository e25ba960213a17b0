"""The ledger on SQLite and on PostgreSQL: settings, atomic decisions, snapshots, views, schemas.

Every backend-neutral fact runs on both backends through the `backend`
fixture (`ledger_db`, `pulje_on`, `raw_sql`). A few facts belong to one
backend only: the SQLite file's mode and its WAL/synchronous settings, and
PostgreSQL's schemas (the tables live in the URL's schema; two ledgers in two
schemas of one database do not see each other).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain import ids
from domain.errors import InsufficientFundsError
from domain.money import Money
from ledger.chain import GENESIS, link
from ledger.service import LocationError, Pulje
from tests.conftest import PLAN_2022, RawSQL

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])
POSTGRES_ONLY = pytest.mark.parametrize("backend", ["postgres"])

#: eventsourcing's tables (named per backend), our chain and our read models.
LEDGER_TABLES = {
    "sqlite": {"stored_events", "stored_snapshots", "tracking"},
    "postgres": {"pulje_events", "pulje_snapshots", "pulje_tracking"},
}
OUR_TABLES = {
    "event_chain", "view_meta", "view_plans", "view_lines", "view_line_years", "view_pools", "view_grants",
    "view_audit",
}


def award(pulje: Pulje, kroner: int, day: str = "2022-03-01", **extra):
    return pulje.award(
        pool="BTP", year=2022, recipient="Beboerforeningen", purpose="Tryghedsvandring", area=None,
        amount=Money.kroner(kroner), requested=None, date=dt.date.fromisoformat(day), decided_by="arbejdsgruppen",
        decision_ref="AG", **extra,
    )


def tables(raw: RawSQL) -> set[str]:
    """The tables in the ledger's location: the SQLite file, or the URL's schema."""
    if raw.postgres:
        rows = raw.run("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    else:
        rows = raw.run("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row[0] for row in rows}


def schema_of(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


# ---------------------------------------------------------------------- SQLite only


@SQLITE_ONLY
def test_a_new_ledger_file_is_readable_by_its_owner_only(pulje_on: Pulje, ledger_db: str) -> None:
    assert stat.S_IMODE(os.stat(ledger_db).st_mode) == 0o600


@SQLITE_ONLY
def test_every_connection_runs_in_wal_mode_with_full_sync(pulje_on: Pulje) -> None:
    with pulje_on.ledger.recorder.datastore.transaction(commit=False) as c:
        c.execute("PRAGMA journal_mode")
        assert c.fetchone()[0] == "wal"
        c.execute("PRAGMA synchronous")
        assert c.fetchone()[0] == 2  # FULL


@SQLITE_ONLY
def test_a_catch_up_relaxes_sync_and_checkpoints_only_in_its_own_transactions(pulje_on: Pulje) -> None:
    from ledger.store import CACHE_CHECKPOINT_PAGES

    store = pulje_on.ledger.store

    def settings(c: Any) -> tuple[int, int]:
        c.execute("PRAGMA synchronous")
        sync = c.fetchone()[0]
        c.execute("PRAGMA wal_autocheckpoint")
        return sync, c.fetchone()[0]

    with store.write(cache_only=True) as c:
        assert settings(c) == (1, CACHE_CHECKPOINT_PAGES)  # NORMAL, and a longer log before a checkpoint
    with store.write() as c:
        assert settings(c) == (2, 1000)  # FULL and SQLite's default again on the pooled connection
    with pytest.raises(Exception, match="no_such_table"), store.write(cache_only=True) as c:
        c.execute("SELECT 1 FROM no_such_table")  # a catch-up page that fails
    with store.write() as c:
        assert settings(c) == (2, 1000)  # ... leaves nothing relaxed behind


def test_a_db_path_in_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LocationError, match="does not exist"):
        Pulje(str(tmp_path / "nope" / "ledger.db"), "t")


# ---------------------------------------------------------------------- both backends


def test_the_read_models_live_in_the_same_database_beside_the_log(
    pulje_on: Pulje, raw_sql: RawSQL, backend: str
) -> None:
    assert LEDGER_TABLES[backend] | OUR_TABLES <= tables(raw_sql)


def test_the_chain_links_every_stored_event_in_order(pulje_on: Pulje, raw_sql: RawSQL) -> None:
    award(pulje_on, 1000)
    rows = raw_sql.run(
        "SELECT c.position, c.hash, e.originator_id, e.originator_version, e.topic, e.state "
        "FROM event_chain c JOIN {events} e ON e.{nid} = c.notification_id ORDER BY c.position"
    )
    assert len(rows) == raw_sql.run("SELECT COUNT(*) FROM {events}")[0][0] > 0
    previous = GENESIS
    for position, (pos, chain_hash, oid, version, topic, state) in enumerate(rows, start=1):
        assert pos == position
        previous = link(previous, position, UUID(str(oid)), version, topic, bytes(state))
        assert chain_hash == previous
    assert pulje_on.ledger.store.head() == (len(rows), previous)


def test_a_reallocation_into_the_pool_line_changes_line_and_pool_in_one_write(pulje_on: Pulje, raw_sql: RawSQL) -> None:
    recorded = pulje_on.reallocate(
        year=2022, from_line="12", to_line="14", amount=Money.kroner(20_000), date=dt.date(2022, 6, 15),
        decided_by="Økonomiforvaltningen", decision_ref="ØKF 41", reason="Flere tryghedsvandringer",
    )
    kinds = [r[0] for r in raw_sql.run(
        "SELECT e.topic FROM event_chain c JOIN {events} e ON e.{nid} = c.notification_id "
        "WHERE c.position >= ? ORDER BY c.position",
        (recorded.sequence,),
    )]
    assert kinds == ["domain.plan:Plan.Reallocated", "domain.pool:Pool.FundingChanged"]
    pool, _, _ = pulje_on.pool_show("BTP", year=2022)
    assert pool.funding_ore == 12_700_000


def test_a_reallocation_the_pool_cannot_give_up_writes_nothing_at_all(pulje_on: Pulje, raw_sql: RawSQL) -> None:
    award(pulje_on, 100_000)
    before = pulje_on.ledger.store.head()
    count = raw_sql.run("SELECT COUNT(*) FROM {events}")[0][0]
    with pytest.raises(InsufficientFundsError, match="7.000,00"):
        pulje_on.reallocate(
            year=2022, from_line="14", to_line="12", amount=Money.kroner(10_000), date=dt.date(2022, 6, 15),
            decided_by="Økonomiforvaltningen", decision_ref="ØKF 41", reason="Tilbage",
        )
    assert pulje_on.ledger.store.head() == before
    assert raw_sql.run("SELECT COUNT(*) FROM {events}")[0][0] == count
    plan = pulje_on.ledger.repository.get(ids.plan_id("Tingbjerg-Husum", 2022))
    assert plan.budget("14", 2022) == Money.kroner(107_000)


def test_a_long_lived_pool_is_loaded_from_a_snapshot_equal_to_its_replay(pulje_on: Pulje, raw_sql: RawSQL) -> None:
    for n in range(60):
        award(pulje_on, 100, day=f"2022-03-{1 + n % 28:02d}")
    pool_id = ids.pool_id("Tingbjerg-Husum", "bylivs-og-tryghedspulje", 2022)
    ledger = pulje_on.ledger
    snapshots = list(ledger.snapshots.get(pool_id))
    assert snapshots, "no snapshot was taken"
    assert raw_sql.run("SELECT COUNT(*) FROM {snapshots}")[0][0] >= 1
    from_snapshot = ledger.repository.get(pool_id)
    from eventsourcing.application import project_aggregate

    from_events = project_aggregate(None, ledger.events.get(pool_id))
    assert from_snapshot.snapshot_state() == from_events.snapshot_state()
    assert from_snapshot.version == from_events.version == 61


def test_the_stored_views_equal_a_full_replay_after_a_year(pulje_on: Pulje) -> None:
    first = award(pulje_on, 5000)
    pulje_on.disburse(grant=first.grant, amount=Money.kroner(4000), date=dt.date(2022, 3, 10), payment_ref="B1")
    pulje_on.take_back(grant=first.grant, amount=Money.kroner(500), date=dt.date(2022, 4, 1), reason="Ubrugt")
    pulje_on.withdraw(grant=first.grant, date=dt.date(2022, 4, 2), reason="Rest")
    pulje_on.reverse(str(first.sequence + 2), reason="Fejl")
    pulje_on.close_pool(
        pool="VP", year=2022, date=dt.date(2022, 12, 15), decided_by="arbejdsgruppen", decision_ref="AG"
    )
    pulje_on.ledger.catch_up()
    assert pulje_on.ledger.stored_views() == pulje_on.ledger.full_replay()


def test_views_of_an_older_version_are_rebuilt_from_the_log(
    pulje_on: Pulje, ledger_db: str, raw_sql: RawSQL, clock
) -> None:
    award(pulje_on, 5000)
    pulje_on.close()
    raw_sql.run("UPDATE view_meta SET value = -1 WHERE name = 'version'")
    raw_sql.run("DELETE FROM view_grants")
    with Pulje(ledger_db, "test", clock=clock) as again:
        pool, grants, _ = again.pool_show("BTP", year=2022)
        assert len(grants) == 1 and pool.awarded_ore == 500_000
    assert raw_sql.run("SELECT COUNT(*) FROM view_grants")[0][0] == 1
    assert raw_sql.run("SELECT value FROM view_meta WHERE name = 'version'")[0][0] > 0


def test_the_same_plan_file_imported_twice_records_nothing_new(pulje_on: Pulje) -> None:
    before = pulje_on.ledger.store.head()
    recorded, _ = pulje_on.import_plan(PLAN_2022)
    assert recorded.repeated and recorded.sequence == 1
    assert pulje_on.ledger.store.head() == before


def test_a_key_repeated_with_the_same_content_returns_the_earlier_grant(pulje_on: Pulje) -> None:
    first = award(pulje_on, 1000, key="k-1")
    again = award(pulje_on, 1000, key="k-1")
    assert again.repeated and again.grant == first.grant and again.sequence == first.sequence


def test_a_reading_session_on_an_empty_location_is_a_clear_error_and_creates_no_ledger(
    ledger_db: str, raw_sql: RawSQL, backend: str
) -> None:
    with pytest.raises(LocationError, match="there is no ledger"), Pulje(ledger_db, "reader", create=False) as reader:
        reader.status(year=2022)
    if backend == "sqlite":
        assert not Path(ledger_db).exists()
    else:
        assert raw_sql.run("SELECT 1 FROM pg_namespace WHERE nspname = ?", (schema_of(ledger_db),)) == []


# ---------------------------------------------------------------------- PostgreSQL only


@POSTGRES_ONLY
def test_the_tables_live_in_the_schema_the_url_names(ledger_db: str, raw_sql: RawSQL, clock) -> None:
    schema = schema_of(ledger_db)
    in_public = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    public_before = set(raw_sql.run(in_public))
    with Pulje(ledger_db, "test", clock=clock) as pulje:
        pulje.import_plan(PLAN_2022)
        head = pulje.ledger.store.head()
        assert pulje.ledger.store.schema == schema
    in_schema = "SELECT table_name FROM information_schema.tables WHERE table_schema = ?"
    found = {row[0] for row in raw_sql.run(in_schema, (schema,))}
    assert LEDGER_TABLES["postgres"] | OUR_TABLES <= found
    assert set(raw_sql.run(in_public)) == public_before, "the ledger wrote into the public schema"
    # Qualified by the schema's name, not found through a search path.
    count = raw_sql.run(f'SELECT COUNT(*) FROM "{schema}".pulje_events')[0][0]
    assert count == head[0] == raw_sql.run(f'SELECT MAX(position) FROM "{schema}".event_chain')[0][0]


@POSTGRES_ONLY
def test_two_ledgers_in_two_schemas_of_one_database_do_not_see_each_other(
    ledger_db: str, new_ledger_db, clock
) -> None:
    other_db = new_ledger_db("other")
    assert ledger_db.split("?")[0] == other_db.split("?")[0] and ledger_db != other_db
    with Pulje(ledger_db, "first", clock=clock) as first:
        first.import_plan(PLAN_2022)
        for _ in range(3):
            award(first, 1000)
        first_head = first.ledger.store.head()

    with pytest.raises(LocationError, match="there is no ledger"), Pulje(other_db, "reader", create=False) as reader:
        reader.status(year=2022)

    with Pulje(other_db, "second", clock=clock) as second:
        second.import_plan(PLAN_2022)
        recorded = award(second, 2500)
        assert recorded.grant == "BTP-2022-001"
        pool, grants, second_head = second.pool_show("BTP", year=2022)
        assert [g.number for g in grants] == ["BTP-2022-001"] and pool.awarded_ore == 250_000
        assert second_head[0] == first_head[0] - 2  # the same plan, two awards fewer
        assert second.verify().ok

    with Pulje(ledger_db, "first", clock=clock) as first:
        pool, grants, head = first.pool_show("BTP", year=2022)
        assert [g.number for g in grants] == [f"BTP-2022-00{n}" for n in (1, 2, 3)]
        assert pool.awarded_ore == 300_000
        assert head == first_head
        assert first.verify().ok
    assert RawSQL(ledger_db).run("SELECT COUNT(*) FROM {events}")[0][0] == first_head[0]
    assert RawSQL(other_db).run("SELECT COUNT(*) FROM {events}")[0][0] == second_head[0]


@POSTGRES_ONLY
def test_the_chain_table_and_the_views_exist_in_the_schema(pulje_on: Pulje, ledger_db: str, raw_sql: RawSQL) -> None:
    schema = schema_of(ledger_db)
    columns = {
        (row[0], row[1], row[2])
        for row in raw_sql.run(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = ?",
            (schema,),
        )
    }
    assert {
        ("event_chain", "position", "bigint"),
        ("event_chain", "notification_id", "bigint"),
        ("event_chain", "hash", "text"),
    } <= columns
    for table in OUR_TABLES - {"event_chain"}:
        assert any(t == table for t, _, _ in columns), table
    constraints = {
        row[0]
        for row in raw_sql.run(
            "SELECT constraint_type FROM information_schema.table_constraints "
            "WHERE table_schema = ? AND table_name = 'event_chain'",
            (schema,),
        )
    }
    assert {"PRIMARY KEY", "UNIQUE"} <= constraints
    # Every stored event has its link, and the views were filled in the same schema.
    assert raw_sql.run(
        "SELECT COUNT(*) FROM {events} e LEFT JOIN event_chain c ON c.notification_id = e.{nid} "
        "WHERE c.position IS NULL"
    ) == [(0,)]
    assert raw_sql.run("SELECT COUNT(*) FROM view_pools")[0][0] == 2
    assert raw_sql.run("SELECT COUNT(*) FROM view_audit")[0][0] == pulje_on.ledger.store.head()[0]
