"""SQLite storage: eventsourcing's recorders with our chain and stricter settings.

On top of eventsourcing's SQLite persistence this module
- creates a new ledger file with mode 0600 (only its owner reads it),
- runs every connection in WAL mode with `synchronous=FULL`, so a commit
  that returned survives a crash or power loss,
- starts write transactions with `BEGIN IMMEDIATE`, so a writer takes the
  write lock before it reads what it will build on (no stale snapshot),
- extends the integrity chain (`event_chain`) in the same transaction that
  inserts the events, so the chain never forks and never lags the log.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTransaction,
)

from ledger.chain import GENESIS, link

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

LOCK_TIMEOUT_SECONDS = 30

CHAIN_TABLE = (
    "CREATE TABLE IF NOT EXISTS event_chain ("
    "position INTEGER PRIMARY KEY, "
    "notification_id INTEGER NOT NULL UNIQUE, "
    "hash TEXT NOT NULL)"
)


class ImmediateTransaction(SQLiteTransaction):
    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE" if self.commit else "BEGIN")
        return cursor


class LedgerSQLiteConnection(SQLiteConnection):
    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        with ImmediateTransaction(self, commit=commit) as curs, curs:
            yield curs


class LedgerSQLiteConnectionPool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        try:
            conn = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                cached_statements=True,
                timeout=self.lock_timeout or LOCK_TIMEOUT_SECONDS,
            )
            if not self.is_sqlite_memory_mode:
                conn.execute("PRAGMA journal_mode=WAL")
                self.is_journal_mode_wal = True
            conn.execute("PRAGMA synchronous=FULL")
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        conn.row_factory = sqlite3.Row
        return LedgerSQLiteConnection(sqlite_conn=conn, max_age=self.max_age)


class LedgerSQLiteDatastore(SQLiteDatastore):
    def __init__(self, db_name: str, *, lock_timeout: int | None = None, **kwargs: Any) -> None:
        self.pool = LedgerSQLiteConnectionPool(db_name=db_name, lock_timeout=lock_timeout)
        self.single_row_tracking = kwargs.get("single_row_tracking", True)
        self.originator_id_type = kwargs.get("originator_id_type", "uuid")


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    """The application recorder that also writes the integrity chain."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), CHAIN_TABLE]

    #: Called inside the transaction that records events, with the backend's
    #: cursor and (notification id, position, hash, stored event) per event;
    #: the ledger keeps its read models current with it.
    on_recorded: Callable[[Any, list[tuple[int, int, str, StoredEvent]]], None] | None = None

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], *, hashes: Sequence[str] | None = None, **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return super()._insert_events(c, stored_events, **kwargs)
        ids = self._insert_many(c, stored_events)
        rows = extend_chain(c, ids, stored_events, hashes)
        if self.on_recorded is not None:
            self.on_recorded(c, rows)
        return ids

    def _insert_many(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent]) -> list[int]:
        """Insert the events in one statement run; returns their notification ids (rowids), in order.

        eventsourcing runs the insert once per event to read each rowid. In
        this transaction (the writers' lock is held) SQLite gives each new row
        the largest rowid so far plus one, unless the table's rowids have
        reached the largest integer: the new rows are then `before + 1 ...
        before + n`, which the maximum after the insert confirms; otherwise
        each rowid is looked up by the event's key.
        """
        c.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
        before = c.fetchone()[0] or 0
        c.executemany(
            self.insert_events_statement,
            [(_id_column(s.originator_id), s.originator_version, s.topic, s.state) for s in stored_events],
        )
        c.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
        if c.fetchone()[0] == before + len(stored_events):
            return list(range(before + 1, before + len(stored_events) + 1))
        ids = []
        for s in stored_events:
            c.execute(
                f"SELECT rowid FROM {self.events_table_name} WHERE originator_id = ? AND originator_version = ?",
                (_id_column(s.originator_id), s.originator_version),
            )
            ids.append(c.fetchone()[0])
        return ids

    def record_in(self, c: Any, stored_events: Sequence[StoredEvent], hashes: Sequence[str] | None = None) -> Sequence[int] | None:
        """Insert events (and their chain links) in a transaction the caller holds.

        `hashes`: the events' chain hashes, when the caller has already
        computed and checked each against the chain's end (an import into an
        empty ledger); otherwise they are computed here.
        """
        return self._insert_events(c, stored_events, hashes=hashes)


def _id_column(originator_id: Any) -> Any:
    """An aggregate id as eventsourcing's SQLite recorder stores it: a UUID's 32 hex digits, other values as given."""
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id


def extend_chain(
    c: Any, ids: Sequence[int], stored_events: Sequence[StoredEvent], hashes: Sequence[str] | None = None
) -> list[tuple[int, int, str, StoredEvent]]:
    """Link new events to the chain; the caller holds the writers' lock. Works on either backend's cursor.

    `hashes`, if given, are the links already computed from the chain's current end (see `record_in`).
    """
    c.execute("SELECT position, hash FROM event_chain ORDER BY position DESC LIMIT 1")
    row = c.fetchone()
    if row is None:
        position, previous = 0, GENESIS
    elif isinstance(row, dict):
        position, previous = row["position"], row["hash"]
    else:
        position, previous = row[0], row[1]
    if hashes is not None and len(hashes) != len(stored_events):
        raise ValueError(f"{len(hashes)} chain hashes for {len(stored_events)} events")
    rows = []
    for index, (notification_id, stored) in enumerate(zip(ids, stored_events, strict=True)):
        position += 1
        if hashes is not None:
            previous = hashes[index]
        else:
            previous = link(previous, position, stored.originator_id, stored.originator_version, stored.topic, stored.state)
        rows.append((notification_id, position, previous, stored))
    placeholder = "?" if isinstance(c, SQLiteCursor) else "%s"
    c.executemany(
        f"INSERT INTO event_chain (position, notification_id, hash) VALUES ({placeholder}, {placeholder}, {placeholder})",
        [(p, n, h) for n, p, h, _ in rows],
    )
    return rows


class LedgerSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite factory with our datastore and recorder."""

    application_recorder_class = ChainedSQLiteRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        db_name = self.env.get(self.SQLITE_DBNAME)
        self.datastore.close()
        create_private_file(db_name)
        self.datastore = LedgerSQLiteDatastore(db_name, lock_timeout=LOCK_TIMEOUT_SECONDS)


def create_private_file(db_name: str) -> None:
    """Create a new ledger file readable by its owner only (mode 0600)."""
    if not db_name or ":memory:" in db_name or db_name.startswith("file:"):
        return
    try:
        fd = os.open(db_name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)
