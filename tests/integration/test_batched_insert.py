"""SQLite records a batch of events in one statement run and works out their notification ids.

The ids are what the chain and the read models refer to, so each must be
the rowid SQLite gave the event. Normally that is the largest rowid so far
plus one, per row; when the table's rowids have reached the largest integer
SQLite picks them at random, and the recorder must then look each one up.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from eventsourcing.persistence import StoredEvent

from ledger.service import Pulje
from tests.conftest import PLAN_2022, TickingClock

LARGEST = 2**63 - 1


def chain_matches_log(db: Path) -> list[tuple[int, str, int]]:
    """(notification id, originator id, version) per chain link; asserts each link names its event's rowid."""
    with sqlite3.connect(db) as conn:
        linked = conn.execute(
            "SELECT c.notification_id, e.originator_id, e.originator_version FROM event_chain c "
            "JOIN stored_events e ON e.rowid = c.notification_id ORDER BY c.position"
        ).fetchall()
        (links,) = conn.execute("SELECT COUNT(*) FROM event_chain").fetchone()
    assert len(linked) == links
    return linked


def test_a_batch_gets_consecutive_ids_that_are_its_rowids(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    with Pulje(str(db), "test", clock=TickingClock()) as pulje:
        pulje.import_plan(PLAN_2022)
    linked = chain_matches_log(db)
    assert [n for n, _, _ in linked] == list(range(1, len(linked) + 1))
    assert len(linked) > 20  # the plan is one batch of many events


def test_when_rowids_are_exhausted_each_id_is_looked_up(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    with Pulje(str(db), "test", clock=TickingClock()) as pulje:
        pulje.import_plan(PLAN_2022)
        recorder = pulje.ledger.recorder
        with sqlite3.connect(db) as conn:  # a row at the largest rowid: SQLite now picks new rowids at random
            conn.execute(
                "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
                (LARGEST, "0" * 32, 1, "domain.plan:Plan.Adopted", b"{}"),
            )
        batch = [
            StoredEvent(n.originator_id, n.originator_version + 1000, n.topic, n.state)
            for n in recorder.select_notifications(start=1, limit=30)
        ]
        ids = recorder.insert_events(batch)
    with sqlite3.connect(db) as conn:
        for notification_id, stored in zip(ids, batch, strict=True):
            found = conn.execute(
                "SELECT originator_id, originator_version FROM stored_events WHERE rowid = ?", (notification_id,)
            ).fetchone()
            assert found == (stored.originator_id.hex, stored.originator_version)
    assert ids != list(range(ids[0], ids[0] + len(ids)))  # random, not consecutive: the lookup found them
    tail = chain_matches_log(db)[-len(batch):]
    assert [n for n, _, _ in tail] == list(ids)
