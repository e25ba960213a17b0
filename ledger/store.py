"""Our own SQL on either backend: the chain, the views, verify, exports.

eventsourcing owns its tables (`stored_events` / `pulje_events`, snapshots,
tracking); the rest of the ledger's SQL goes through a `Store`, which hides
what differs between SQLite and PostgreSQL: the placeholder (`?` / `%s`),
the notification id column (`rowid` / `notification_id`), table names, how
an aggregate id is stored (hex text / uuid), the schema, and how a write
transaction takes the lock that serialises writers.

SQL here is written once, for SQLite, with `?` placeholders and the tokens
`{events}`, `{snapshots}`, `{tracking}` and `{nid}`; `Store.sql` adapts it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

GENESIS = "0" * 64

#: Log pages (4 KiB each) a catch-up's commits may leave in SQLite's write-ahead log before it is checkpointed.
CACHE_CHECKPOINT_PAGES = 20_000

#: Our SQL as each backend speaks it, adapted once per statement text.
_SQL: dict[tuple[str, str, str], str] = {}


class Cursor:
    """A backend cursor speaking our SQL and giving rows as tuples.

    Attributes:
        native: the backend's own cursor on the same transaction, for
            eventsourcing's recorders (tracking) that expect it.
        tuples: whether the backend's cursor gives its rows as tuples
            already (they are then passed on as they are).
    """

    def __init__(self, raw: Any, store: Store, native: Any = None, *, tuples: bool = False) -> None:
        self.raw = raw
        self.store = store
        self.native = native if native is not None else raw
        self.tuples = tuples

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.raw.execute(self.store.sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.raw.executemany(self.store.sql(sql), [tuple(r) for r in rows])

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self.raw.fetchone()
        return row if row is None or self.tuples else tuple(row)

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self.raw.fetchall()
        return rows if self.tuples else [tuple(row) for row in rows]


class Store:
    """The backend-specific parts of our SQL, and the queries every part shares."""

    kind = "sqlite"
    events = "stored_events"
    snapshots = "stored_snapshots"
    tracking = "tracking"
    nid = "rowid"
    placeholder = "?"
    bigint = "INTEGER"

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.datastore = recorder.datastore

    # ------------------------------------------------------------------ dialect

    def sql(self, text: str) -> str:
        done = _SQL.get((self.kind, self.events, text))
        if done is None:
            if len(_SQL) > 2000:  # statements built with a varying number of placeholders
                _SQL.clear()
            done = _SQL[(self.kind, self.events, text)] = self._adapt(text)
        return done

    def _adapt(self, text: str) -> str:
        for token, value in (
            ("{events}", self.events), ("{snapshots}", self.snapshots), ("{tracking}", self.tracking),
            ("{nid}", self.nid), ("{bigint}", self.bigint),
        ):
            text = text.replace(token, value)
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def oid(self, originator_id: UUID) -> Any:
        """An aggregate id as the events table stores it."""
        return originator_id.hex

    def cursor_on(self, native: Any) -> Cursor:
        """Our cursor on a transaction the backend's own cursor holds."""
        return Cursor(native, self)

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=False) as raw:
            # This cursor is ours alone: its rows come as tuples, not as eventsourcing's `sqlite3.Row`s, each of
            # which cost a copy (reading a page of a `verify` walk: 2.2 against 1.4 us an event).
            raw.sqlite_cursor.row_factory = None
            yield Cursor(raw, self, tuples=True)

    @contextmanager
    def write(self, *, cache_only: bool = False) -> Iterator[Cursor]:
        """A write transaction holding the writers' lock (BEGIN IMMEDIATE).

        `cache_only` is for transactions that write nothing but read models
        (a catch-up): their commit need not wait for the disk (synchronous
        NORMAL instead of FULL). A crash can lose such a commit, never corrupt
        the file, and the views then simply catch up again. Their commits
        also leave the write-ahead log to grow to `CACHE_CHECKPOINT_PAGES`
        before it is copied into the file: a catch-up rewrites the same index
        pages page after page, and copying them every 1,000 log pages (SQLite's
        default) took a fifth of a catch-up's time.
        """
        with self.datastore.get_connection(commit=True) as conn:
            if cache_only:
                conn._sqlite_conn.execute("PRAGMA synchronous=NORMAL")
                conn._sqlite_conn.execute(f"PRAGMA wal_autocheckpoint={CACHE_CHECKPOINT_PAGES}")
            try:
                with conn.transaction(commit=True) as raw:
                    yield Cursor(raw, self)
            finally:
                if cache_only:
                    conn._sqlite_conn.execute("PRAGMA synchronous=FULL")
                    conn._sqlite_conn.execute("PRAGMA wal_autocheckpoint=1000")

    @contextmanager
    def fill(self) -> Iterator[Cursor]:
        """`write`, for one transaction that fills an empty ledger (an import).

        In the write-ahead log every page of such a transaction is written
        twice, to the log and then, at its commit, into the file (a million
        events: a seventh of the import, spent after the last event was
        written). So this one transaction runs with a rollback journal
        instead (`journal_mode=DELETE`; `synchronous` stays FULL): pages go
        straight into the file, and the journal keeps only what the file
        held before (an empty ledger's few pages), so a crash or a refusal
        still leaves the ledger as it was. The write-ahead log is taken up
        again afterwards. SQLite leaves the log only where no other
        connection has the file open; otherwise this is `write` as it is.
        """
        import sqlite3

        with self.datastore.get_connection(commit=True) as conn:
            sqlite_conn = conn._sqlite_conn
            left = False
            if sqlite_conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                with contextlib.suppress(sqlite3.OperationalError):  # busy: another connection is on the file
                    left = sqlite_conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
            try:
                with conn.transaction(commit=True) as raw:
                    yield Cursor(raw, self)
            finally:
                if left:
                    with contextlib.suppress(sqlite3.OperationalError):  # else the next connection opened takes it up
                        sqlite_conn.execute("PRAGMA journal_mode=WAL")

    def can_write(self) -> bool:
        return True

    @contextmanager
    def parallel_sorts(self, c: Cursor) -> Iterator[None]:
        """Let the statements inside sort with a second thread (SQLite's `PRAGMA threads`: building an index)."""
        c.execute("PRAGMA threads = 2")
        try:
            yield
        finally:
            c.execute("PRAGMA threads = 0")

    # ------------------------------------------------------------------ shared queries

    def head(self) -> tuple[int, str]:
        """The last chain position and its hash (0 and GENESIS when empty)."""
        with self.read() as c:
            c.execute("SELECT position, hash FROM event_chain ORDER BY position DESC LIMIT 1")
            row = c.fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)

    def position_of(self, originator_id: UUID, version: int) -> tuple[int, str]:
        """The chain position and hash of one stored event."""
        with self.read() as c:
            c.execute(
                "SELECT c.position, c.hash FROM {events} e JOIN event_chain c ON c.notification_id = e.{nid} "
                "WHERE e.originator_id = ? AND e.originator_version = ?",
                (self.oid(originator_id), version),
            )
            row = c.fetchone()
        if row is None:
            raise LookupError(f"no stored event {originator_id} version {version}")
        return row[0], row[1]

    def positions_of(self, originator_id: UUID) -> dict[int, tuple[int, str]]:
        """Version -> (chain position, hash) for every event of one aggregate."""
        with self.read() as c:
            c.execute(
                "SELECT e.originator_version, c.position, c.hash FROM {events} e "
                "JOIN event_chain c ON c.notification_id = e.{nid} WHERE e.originator_id = ?",
                (self.oid(originator_id),),
            )
            return {row[0]: (row[1], row[2]) for row in c.fetchall()}

    def locate(self, position: int) -> tuple[UUID, int, str] | None:
        """The aggregate id, version and topic of the event at a chain position."""
        with self.read() as c:
            c.execute(
                "SELECT e.originator_id, e.originator_version, e.topic FROM event_chain c "
                "JOIN {events} e ON e.{nid} = c.notification_id WHERE c.position = ?",
                (position,),
            )
            row = c.fetchone()
        return (UUID(str(row[0])), row[1], row[2]) if row else None

    def tracked(self, c: Cursor, name: str) -> int:
        """How far the read models named `name` have applied the log (a notification id)."""
        c.execute("SELECT notification_id FROM {tracking} WHERE application_name = ?", (name,))
        row = c.fetchone()
        return row[0] if row and row[0] is not None else 0

    def last_notification(self, c: Cursor) -> int:
        c.execute("SELECT MAX({nid}) FROM {events}")
        row = c.fetchone()
        return row[0] if row and row[0] is not None else 0


def store_for(recorder: Any) -> Store:
    """The store that speaks to the recorder's backend."""
    if getattr(recorder, "store_class", None) is not None:
        return recorder.store_class(recorder)
    return Store(recorder)


class FileStore(Store):
    """Our SQL on an SQLite file through the standard library alone (reads only)."""

    def __init__(self, path: str) -> None:  # noqa: D107 - no recorder: reads only
        self.path = path


@contextmanager
def current_sqlite_views(path: str) -> Iterator[Cursor | None]:
    """A read transaction on the file's views if they are current, else None.

    Current means: the views are of this pulje's version and have applied
    every stored event. Anything else (a new file, an older version, views
    behind the log) yields None, and the caller opens the ledger properly.
    """
    import sqlite3

    from ledger.views import VIEWS, views_current

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        yield None
        return
    try:
        conn.execute("BEGIN")
        cursor = Cursor(conn.cursor(), FileStore(path))
        try:
            ready = views_current(cursor) and cursor.store.tracked(cursor, VIEWS) >= cursor.store.last_notification(cursor)
        except sqlite3.Error:
            ready = False
        yield cursor if ready else None
    finally:
        conn.close()
