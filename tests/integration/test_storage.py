"""The ledger on a real SQLite file: settings, atomic decisions, snapshots, views."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from pathlib import Path
from uuid import UUID

import pytest

from domain import ids
from domain.errors import InsufficientFundsError
from domain.money import Money
from ledger.chain import GENESIS, link
from ledger.service import LocationError, Pulje
from tests.conftest import PLAN_2022


def award(pulje: Pulje, kroner: int, day: str = "2022-03-01", **extra):
    return pulje.award(
        pool="BTP", year=2022, recipient="Beboerforeningen", purpose="Tryghedsvandring", area=None,
        amount=Money.kroner(kroner), requested=None, date=dt.date.fromisoformat(day), decided_by="arbejdsgruppen",
        decision_ref="AG", **extra,
    )


def test_a_new_ledger_file_is_readable_by_its_owner_only(pulje: Pulje, db_path: Path) -> None:
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600


def test_every_connection_runs_in_wal_mode_with_full_sync(pulje: Pulje) -> None:
    with pulje.ledger.recorder.datastore.transaction(commit=False) as c:
        c.execute("PRAGMA journal_mode")
        assert c.fetchone()[0] == "wal"
        c.execute("PRAGMA synchronous")
        assert c.fetchone()[0] == 2  # FULL


def test_the_read_models_live_in_the_same_file_beside_the_log(pulje: Pulje, db_path: Path) -> None:
    tables = {row[0] for row in sqlite3.connect(db_path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"stored_events", "event_chain", "tracking", "view_pools", "view_grants", "view_audit"} <= tables


def test_the_chain_links_every_stored_event_in_order(pulje: Pulje, db_path: Path) -> None:
    award(pulje, 1000)
    rows = sqlite3.connect(db_path).execute(
        "SELECT c.position, c.hash, e.originator_id, e.originator_version, e.topic, e.state "
        "FROM event_chain c JOIN stored_events e ON e.rowid = c.notification_id ORDER BY c.position"
    ).fetchall()
    previous = GENESIS
    for position, (pos, chain_hash, oid, version, topic, state) in enumerate(rows, start=1):
        assert pos == position
        previous = link(previous, position, UUID(oid), version, topic, state)
        assert chain_hash == previous
    assert pulje.ledger.store.head() == (len(rows), previous)


def test_a_reallocation_into_the_pool_line_changes_line_and_pool_in_one_write(pulje: Pulje, db_path: Path) -> None:
    recorded = pulje.reallocate(
        year=2022, from_line="12", to_line="14", amount=Money.kroner(20_000), date=dt.date(2022, 6, 15),
        decided_by="Økonomiforvaltningen", decision_ref="ØKF 41", reason="Flere tryghedsvandringer",
    )
    kinds = [r[0] for r in sqlite3.connect(db_path).execute(
        "SELECT e.topic FROM event_chain c JOIN stored_events e ON e.rowid = c.notification_id WHERE c.position >= ? ORDER BY c.position",
        (recorded.sequence,),
    )]
    assert kinds == ["domain.plan:Plan.Reallocated", "domain.pool:Pool.FundingChanged"]
    pool, _, _ = pulje.pool_show("BTP", year=2022)
    assert pool.funding_ore == 12_700_000


def test_a_reallocation_the_pool_cannot_give_up_writes_nothing_at_all(pulje: Pulje) -> None:
    award(pulje, 100_000)
    before = pulje.ledger.store.head()
    with pytest.raises(InsufficientFundsError, match="7.000,00"):
        pulje.reallocate(
            year=2022, from_line="14", to_line="12", amount=Money.kroner(10_000), date=dt.date(2022, 6, 15),
            decided_by="Økonomiforvaltningen", decision_ref="ØKF 41", reason="Tilbage",
        )
    assert pulje.ledger.store.head() == before
    plan = pulje.ledger.repository.get(ids.plan_id("Tingbjerg-Husum", 2022))
    assert plan.budget("14", 2022) == Money.kroner(107_000)


def test_a_long_lived_pool_is_loaded_from_a_snapshot_equal_to_its_replay(pulje: Pulje) -> None:
    for n in range(60):
        award(pulje, 100, day=f"2022-03-{1 + n % 28:02d}")
    pool_id = ids.pool_id("Tingbjerg-Husum", "bylivs-og-tryghedspulje", 2022)
    ledger = pulje.ledger
    snapshots = list(ledger.snapshots.get(pool_id))
    assert snapshots, "no snapshot was taken"
    from_snapshot = ledger.repository.get(pool_id)
    from eventsourcing.application import project_aggregate

    from_events = project_aggregate(None, ledger.events.get(pool_id))
    assert from_snapshot.snapshot_state() == from_events.snapshot_state()
    assert from_snapshot.version == from_events.version == 61


def test_the_stored_views_equal_a_full_replay_after_a_year(pulje: Pulje) -> None:
    first = award(pulje, 5000)
    pulje.disburse(grant=first.grant, amount=Money.kroner(4000), date=dt.date(2022, 3, 10), payment_ref="B1")
    pulje.take_back(grant=first.grant, amount=Money.kroner(500), date=dt.date(2022, 4, 1), reason="Ubrugt")
    pulje.withdraw(grant=first.grant, date=dt.date(2022, 4, 2), reason="Rest")
    pulje.reverse(str(first.sequence + 2), reason="Fejl")
    pulje.close_pool(pool="VP", year=2022, date=dt.date(2022, 12, 15), decided_by="arbejdsgruppen", decision_ref="AG")
    pulje.ledger.catch_up()
    assert pulje.ledger.stored_views() == pulje.ledger.full_replay()


def test_views_of_an_older_version_are_rebuilt_from_the_log(pulje: Pulje, db_path: Path, clock) -> None:
    award(pulje, 5000)
    pulje.close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE view_meta SET value = -1 WHERE name = 'version'")
    conn.execute("DELETE FROM view_grants")
    conn.commit()
    conn.close()
    with Pulje(str(db_path), "test", clock=clock) as again:
        pool, grants, _ = again.pool_show("BTP", year=2022)
        assert len(grants) == 1 and pool.awarded_ore == 500_000


def test_the_same_plan_file_imported_twice_records_nothing_new(pulje: Pulje) -> None:
    before = pulje.ledger.store.head()
    recorded, _ = pulje.import_plan(PLAN_2022)
    assert recorded.repeated and recorded.sequence == 1
    assert pulje.ledger.store.head() == before


def test_a_db_path_in_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LocationError, match="does not exist"):
        Pulje(str(tmp_path / "nope" / "ledger.db"), "t")


def test_a_key_repeated_with_the_same_content_returns_the_earlier_grant(pulje: Pulje) -> None:
    first = award(pulje, 1000, key="k-1")
    again = award(pulje, 1000, key="k-1")
    assert again.repeated and again.grant == first.grant and again.sequence == first.sequence
