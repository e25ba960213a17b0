"""The stored read models: tables beside the event log, and their catch-up.

The views live in the ledger's own database, in tables named `view_*`, each
row's values a JSON array (`projections.model.encode_row`) beside the columns
queries filter on; `verify` compares every column. They are a cache
of `projections.memory.replay` over the whole log, kept current by pulling
new events in notification order, each with its place in the integrity chain
(one query a page, the same rows eventsourcing's `select_notifications`
gives, without building its objects), and recording the position reached
with eventsourcing's tracking recorder (application name `views`), in one
transaction per page of events. Two processes catching up at once are
serialised by the write lock; the tracking row's conditional update makes a
page that was already applied fail and roll back, so no event is applied
twice and none is missed.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable
from typing import Any

from ledger.walk import frozen_pages
from projections.model import AuditRow, GrantRow, LineRow, LineYearRow, PlanRow, PoolRow, decode_row, encode_row

VIEWS = "views"
PAGE_SIZE = 2000
#: Bump when the fold or the rows change: stored views of another version are
#: dropped and rebuilt from the event log on the next open.
VIEWS_VERSION = 6

#: The audit view's secondary indexes. Event ids are uuid5 hashes: each new row lands at a random place in
#: the first. Filling empty views row by row through them cost a quarter of a first catch-up of a million
#: events, so a bulk fill drops them first and builds each once, sorted, in the transaction of its last page
#: (`catch_up`, the import).
AUDIT_INDEXES = {
    "view_audit_event_id": "CREATE UNIQUE INDEX IF NOT EXISTS view_audit_event_id ON view_audit (event_id)",
    "view_audit_reverses": "CREATE INDEX IF NOT EXISTS view_audit_reverses ON view_audit (reverses)",
    "view_audit_kind": "CREATE INDEX IF NOT EXISTS view_audit_kind ON view_audit (kind)",
}
#: A catch-up of at least this many events into empty views is a bulk fill.
BULK_FROM = 20_000

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS view_plans (plan_id TEXT PRIMARY KEY, partnership TEXT NOT NULL, "
    "year INTEGER NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS view_lines (plan_id TEXT NOT NULL, line TEXT NOT NULL, ord INTEGER NOT NULL, "
    "data TEXT NOT NULL, PRIMARY KEY (plan_id, line))",
    "CREATE TABLE IF NOT EXISTS view_line_years (plan_id TEXT NOT NULL, line TEXT NOT NULL, year INTEGER NOT NULL, "
    "data TEXT NOT NULL, PRIMARY KEY (plan_id, line, year))",
    "CREATE TABLE IF NOT EXISTS view_pools (pool_id TEXT PRIMARY KEY, pool_key TEXT NOT NULL, code TEXT NOT NULL, "
    "year INTEGER NOT NULL, partnership TEXT NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS view_grants (pool_id TEXT NOT NULL, number TEXT NOT NULL, data TEXT NOT NULL, "
    "PRIMARY KEY (pool_id, number))",
    "CREATE INDEX IF NOT EXISTS view_grants_number ON view_grants (number)",
    "CREATE TABLE IF NOT EXISTS view_audit (sequence INTEGER PRIMARY KEY, event_id TEXT NOT NULL, "
    "date TEXT NOT NULL, kind TEXT NOT NULL, pool_key TEXT, year INTEGER, grant_number TEXT, reverses TEXT, "
    "data TEXT NOT NULL)",
    *AUDIT_INDEXES.values(),
)

_TABLES = {
    PlanRow: ("view_plans", ("plan_id",)),
    LineRow: ("view_lines", ("plan_id", "line")),
    LineYearRow: ("view_line_years", ("plan_id", "line", "year")),
    PoolRow: ("view_pools", ("pool_id",)),
    GrantRow: ("view_grants", ("pool_id", "number")),
}


#: Columns beside the keys and the JSON document, per row class: (column, the row's attribute).
_EXTRA: dict[type, tuple[tuple[str, str], ...]] = {
    PlanRow: (("partnership", "partnership"), ("year", "year")),
    LineRow: (("ord", "ord"),),
    LineYearRow: (),
    PoolRow: (("pool_key", "key"), ("code", "code"), ("year", "year"), ("partnership", "partnership")),
    GrantRow: (),
}


#: Every column each row class fills beside its JSON, keys first: (column, the row's attribute). The five
#: tables above are upserted by their keys; the audit trail is appended to, by sequence.
_STORED_AS: dict[type, tuple[tuple[str, str], ...]] = {
    **{cls: (*((k, k) for k in keys), *_EXTRA[cls]) for cls, (_, keys) in _TABLES.items()},
    AuditRow: (
        ("sequence", "sequence"), ("event_id", "event_id"), ("date", "date"), ("kind", "kind"), ("pool_key", "pool"),
        ("year", "year"), ("grant_number", "grant"), ("reverses", "reverses"),
    ),
}


def stored_columns(cls: type) -> list[str]:
    """The columns of a row class's table: its keys, the columns beside them, and `data` (the row's JSON)."""
    return [*(column for column, _ in _STORED_AS[cls]), "data"]


def _upsert_sql(cls: type) -> str:
    table, keys = _TABLES[cls]
    columns = stored_columns(cls)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


_UPSERT = {cls: _upsert_sql(cls) for cls in _TABLES}
_SELECT = {
    cls: f"SELECT data FROM {table} WHERE {' AND '.join(f'{k} = ?' for k in keys)}" for cls, (table, keys) in _TABLES.items()
}


def _full_key(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """The cache key of a row, (class, *keys), read by one C-level getter."""
    _, keys = _TABLES[cls]
    get = operator.attrgetter(*keys)
    if len(keys) == 1:
        return lambda row: (cls, get(row))
    return lambda row: (cls, *get(row))


_FULL_KEY = {cls: _full_key(cls) for cls in _TABLES}


#: Each class's columns read by one getter (every class fills two or more, so it gives a tuple).
_COLUMNS = {cls: operator.attrgetter(*(a for _, a in pairs)) for cls, pairs in _STORED_AS.items()}
_INSERT_AUDIT = (
    f"INSERT INTO view_audit ({', '.join(stored_columns(AuditRow))}) "
    f"VALUES ({', '.join('?' for _ in stored_columns(AuditRow))})"
)


def stored_values(row: Any) -> tuple[Any, ...]:
    """Exactly what the views store for a row, in the order of `stored_columns`: its columns, then its JSON."""
    return (*_COLUMNS[type(row)](row), encode_row(row))


class SqlViewState:
    """The fold's `ViewState` over the view tables, within one transaction.

    Rows are read on first use and written back by `flush`, once per page.
    A catch-up keeps one state across its pages (`rows` stays a valid cache
    while this process is the only one applying events, which `catch_up`
    checks page by page), forgetting it when it grows past `MAX_CACHED` rows.
    """

    MAX_CACHED = 50_000

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.rows: dict[tuple[Any, ...], Any] = {}
        self.dirty: dict[tuple[Any, ...], Any] = {}
        self.audit: list[AuditRow] = []

    def _get(self, cls: type, key: tuple[Any, ...]) -> Any:
        full = (cls, *key)
        if full in self.rows:
            return self.rows[full]
        self.cursor.execute(_SELECT[cls], key)
        found = self.cursor.fetchone()
        row = decode_row(cls, found[0]) if found else None
        self.rows[full] = row
        return row

    def _put(self, row: Any) -> None:
        full = _FULL_KEY[type(row)](row)
        self.rows[full] = row
        self.dirty[full] = row

    def put_plan(self, row: PlanRow) -> None:
        self._put(row)

    def put_line(self, row: LineRow) -> None:
        self._put(row)

    def line_year(self, plan_id: str, line: str, year: int) -> LineYearRow | None:
        return self._get(LineYearRow, (plan_id, line, year))

    def put_line_year(self, row: LineYearRow) -> None:
        self._put(row)

    def pool(self, pool_id: str) -> PoolRow | None:
        return self._get(PoolRow, (pool_id,))

    def put_pool(self, row: PoolRow) -> None:
        self._put(row)

    def grant(self, pool_id: str, number: str) -> GrantRow | None:
        return self._get(GrantRow, (pool_id, number))

    def put_grant(self, row: GrantRow) -> None:
        self._put(row)

    def add_audit(self, row: AuditRow) -> None:
        self.audit.append(row)

    def flush(self, audit_values: list[tuple[Any, ...]] | None = None) -> None:
        """Write the rows changed and the audit lines added; `audit_values` are lines made elsewhere, as stored."""
        by_class: dict[type, list[tuple[Any, ...]]] = {}
        for row in self.dirty.values():
            by_class.setdefault(type(row), []).append(stored_values(row))
        for cls, values in by_class.items():
            self.cursor.executemany(_UPSERT[cls], values)
        self.dirty.clear()
        if len(self.rows) > self.MAX_CACHED:
            self.rows.clear()
        if self.audit:
            self.cursor.executemany(_INSERT_AUDIT, [stored_values(a) for a in self.audit])
            self.audit.clear()
        if audit_values:
            self.cursor.executemany(_INSERT_AUDIT, audit_values)


_VIEW_TABLES = ("view_plans", "view_lines", "view_line_years", "view_pools", "view_grants", "view_audit")


def views_current(cursor: Any) -> bool:
    """Whether the view tables exist in this version (a read; no lock taken)."""
    try:
        cursor.execute("SELECT value FROM view_meta WHERE name = 'version'")
    except Exception:  # noqa: BLE001 - the table does not exist yet (each backend names that error differently)
        return False
    row = cursor.fetchone()
    return row is not None and row[0] == VIEWS_VERSION


def create_views(cursor: Any) -> bool:
    """Create the view tables; drop and recreate views of another version.

    Returns True when the views were (re)created empty and need a full catch-up.
    """
    cursor.execute("CREATE TABLE IF NOT EXISTS view_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    cursor.execute("SELECT value FROM view_meta WHERE name = 'version'")
    row = cursor.fetchone()
    if row is not None and row[0] == VIEWS_VERSION:
        return False
    for table in _VIEW_TABLES:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in SCHEMA:
        cursor.execute(statement)
    cursor.execute("DELETE FROM {tracking} WHERE application_name = ?", (VIEWS,))
    cursor.execute(
        "INSERT INTO view_meta (name, value) VALUES ('version', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (VIEWS_VERSION,),
    )
    return True


def begin_bulk_fill(cursor: Any) -> None:
    """Drop the (empty) audit view's secondary indexes before filling it; `end_bulk_fill` builds them."""
    for name in AUDIT_INDEXES:
        cursor.execute(f"DROP INDEX IF EXISTS {name}")


def end_bulk_fill(cursor: Any) -> None:
    """Build the indexes `begin_bulk_fill` dropped (nothing to do for those that exist).

    Their sorts may take a second thread (`Store.parallel_sorts`: on SQLite a
    quarter off building them over a million rows).
    """
    with cursor.store.parallel_sorts(cursor):
        for statement in AUDIT_INDEXES.values():
            cursor.execute(statement)


def catch_up(
    store: Any,
    tracking: Any,
    decode: Callable[[Any], Any],
    *,
    page_size: int = PAGE_SIZE,
    progress: Callable[[int], None] | None = None,
    bulk_from: int = BULK_FROM,
    reopen: Callable[[], Any] | None = None,
    processes: int | None = None,
) -> int:
    """Apply every event the views have not seen; returns how many were applied.

    `decode` turns a stored event into its class and plain form (the
    mapper's `to_plain`). Writers keep the views current in the transaction
    that records events (`follow`), so this finds nothing to do unless the views were rebuilt or
    an earlier follow-up was skipped. It looks first with a read and takes the
    writers' lock only when there is work. Filling empty views with at least
    `bulk_from` events is a bulk fill: the audit view's secondary indexes are
    dropped in the first page's transaction and built in the last one's.

    Filling empty views can take a second process (`reopen` opens the
    ledger anew there and gives its store and `decode`; `processes` as for
    `ledger.forked.second_process`): it reads the events page by page ahead
    of this one, each in its plain form with its audit line
    (`projections.fold.AuditFold`), while this one folds the balances and
    writes. A page it read is used only where it follows the position
    the views reached in this process's transaction; otherwise, and once it
    stops, this process reads for itself.
    """
    from eventsourcing.persistence import StoredEvent, Tracking
    from eventsourcing.utils import TopicError, resolve_topic

    from ledger.forked import Streamed, second_process
    from projections.fold import fold, fold_balances

    with store.read() as c:
        tracked, last = store.tracked(c, VIEWS), store.last_notification(c)
    if tracked >= last:
        return 0
    bulk = tracked == 0 and last >= bulk_from
    if progress is not None and hasattr(progress, "start"):
        progress.start(last - tracked)
    applied = 0
    cache: dict[tuple[Any, ...], Any] = {}
    ours = -1  # the notification id this process's last page reached
    with contextlib.ExitStack() as stack:
        ahead = None
        if tracked == 0 and reopen is not None and second_process(last, processes):
            upto = last
            ahead = stack.enter_context(Streamed(lambda send: _read_ahead(reopen, upto, page_size, send)))
        settle = stack.enter_context(frozen_pages())
        while True:
            with store.write(cache_only=True) as c:
                last = store.tracked(c, VIEWS)
                read = _read_after(ahead, last) if ahead is not None else None
                if read is None:
                    if ahead is not None:  # it stopped, or another process applied what it read
                        ahead.stop()
                        ahead = None
                    # The page's events with their places in the chain, in one query inside this transaction.
                    page = _events_after(c, last, page_size)
                    notification_ids = [row[0] for row in page]
                else:
                    notification_ids = read[0]
                if bulk and last == 0:
                    begin_bulk_fill(c)
                if not notification_ids or notification_ids[-1] >= store.last_notification(c):
                    end_bulk_fill(c)  # the last page: whole when it commits
                if not notification_ids:
                    return applied
                state = SqlViewState(c)
                if last == ours:  # nobody else applied events since our last page: our rows are the stored ones
                    state.rows = cache
                if read is None:
                    for notification_id, oid, version, topic, stored, position, chain_hash in page:
                        if position is None:
                            raise ChainGapError(f"stored event {notification_id} has no place in the integrity chain")
                        try:
                            fold(state, *decode(StoredEvent(oid, version, topic, stored)), position, chain_hash)
                        except (TypeError, ValueError, KeyError, AttributeError, TopicError) as error:
                            raise _unreadable(notification_id, error) from error
                    state.flush()
                else:  # read by the second process: the balances here, the audit lines as it made them
                    _, topics, kinds, plains, lines = read
                    classes = [resolve_topic(topic) for topic in topics]
                    for notification_id, kind, e in zip(notification_ids, kinds, plains, strict=True):
                        try:
                            fold_balances(state, classes[kind], e)
                        except (TypeError, ValueError, KeyError, AttributeError) as error:
                            raise _unreadable(notification_id, error) from error
                    state.flush(lines)
                tracking._insert_tracking(c.native, Tracking(VIEWS, notification_ids[-1]))
            cache, ours = state.rows, notification_ids[-1]  # kept only once the page's transaction committed
            applied += len(notification_ids)
            if progress is not None:
                progress(len(notification_ids))
            settle()


def _unreadable(notification_id: int, error: Exception) -> UnreadableEventError:
    return UnreadableEventError(
        f"stored event {notification_id} cannot be read into the read models ({error}); run `pulje verify`."
    )


def _events_after(c: Any, after: int, page_size: int, upto: int = 2**63 - 1) -> list[tuple[Any, ...]]:
    """A page of stored events after notification `after` (up to `upto`), each with its place in the chain."""
    c.execute(
        "SELECT e.{nid}, e.originator_id, e.originator_version, e.topic, e.state, ch.position, ch.hash "
        "FROM {events} e LEFT JOIN event_chain ch ON ch.notification_id = e.{nid} "
        "WHERE e.{nid} > ? AND e.{nid} <= ? ORDER BY e.{nid} LIMIT ?",
        (after, upto, page_size),
    )
    return c.fetchall()


def _read_ahead(reopen: Callable[[], Any], upto: int, page_size: int, send: Callable[[Any], None]) -> None:
    """In a second process: every event up to notification `upto`, read as `catch_up` reads it, page by page.

    Sends for each page the notification id it follows and the page as JSON
    (orjson writes it in a seventh of pickle's time): the events'
    notification ids, the topics of their classes, each event's class (its
    topic's index) and plain form, and the audit view's stored values of its
    line. Stops at the first event it cannot read or that has no place in
    the chain, or a page orjson cannot write: `catch_up`, reading that page
    itself, reports or writes it.
    """
    import orjson
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.utils import get_topic

    from projections.fold import AuditFold

    store, decode, close = reopen()
    try:
        audit = AuditFold()
        after = 0
        while after < upto:
            with store.read() as c:
                page = _events_after(c, after, page_size, upto)
            if not page:
                return
            topics: dict[type, int] = {}
            kinds, plains, lines = [], [], []
            for _, oid, version, topic, stored, position, chain_hash in page:
                if position is None:
                    return
                cls, e = decode(StoredEvent(oid, version, topic, stored))
                lines.append(stored_values(audit.line(cls, e, position, chain_hash)))
                kinds.append(topics.setdefault(cls, len(topics)))
                plains.append(e)
            notification_ids = [row[0] for row in page]
            send((after, orjson.dumps([notification_ids, [get_topic(cls) for cls in topics], kinds, plains, lines])))
            after = notification_ids[-1]
    finally:
        close()


def _read_after(ahead: Any, after: int) -> list[Any] | None:
    """The page the second process read that follows notification `after`, unpacked; None if it has none.

    Pages it read of events this process did not apply (another process
    applied them meanwhile) are passed over.
    """
    import orjson

    while True:
        sent = ahead.next()
        if sent is None or sent[0] >= after:
            break
    return orjson.loads(sent[1]) if sent is not None and sent[0] == after else None


def follow(
    store: Any, tracking: Any, decode: Callable[[Any], Any], native: Any, rows: list[Any],
    cache: dict[tuple[Any, ...], Any] | None = None,
) -> None:
    """Apply newly recorded events to the views inside the transaction that records them.

    Only when the views had seen everything before these events; otherwise the
    next catch-up applies them in order. A failure here leaves the views as
    they were (a savepoint) and never stops the events from being recorded.
    `decode` is as for `catch_up`. `cache`, for a caller that records many pages in one transaction of its
    own (an import), keeps the rows read between pages; it is emptied when a
    page fails, as the views then roll back.
    """
    from eventsourcing.persistence import Tracking

    from projections.fold import fold

    c = store.cursor_on(native)
    first = rows[0][0]
    c.execute("SELECT MAX({nid}) FROM {events} WHERE {nid} < ?", (first,))
    row = c.fetchone()
    before = row[0] if row and row[0] is not None else 0
    if store.tracked(c, VIEWS) != before:
        return
    c.execute("SAVEPOINT follow_views")
    try:
        state = SqlViewState(c)
        if cache is not None:
            state.rows = cache
        for notification_id, position, chain_hash, stored in rows:
            fold(state, *decode(stored), position, chain_hash)
        state.flush()
        tracking._insert_tracking(native, Tracking(VIEWS, rows[-1][0]))
    except Exception:  # noqa: BLE001 - the views are a cache; the events must still be recorded
        if cache is not None:
            cache.clear()
        c.execute("ROLLBACK TO SAVEPOINT follow_views")
    c.execute("RELEASE SAVEPOINT follow_views")


class ChainGapError(Exception):
    """The event log and the integrity chain disagree: run `pulje verify`."""


class UnreadableEventError(Exception):
    """A stored event the fold cannot read (changed behind pulje's back): run `pulje verify`."""


def load_stored(cursor: Any) -> Any:
    """Every stored view row, as a `MemoryState` to compare with a full replay."""
    from projections.memory import MemoryState

    state = MemoryState()
    for cls, (table, _) in _TABLES.items():
        cursor.execute(f"SELECT data FROM {table}")
        for (data,) in cursor.fetchall():
            row = decode_row(cls, data)
            {
                PlanRow: state.put_plan,
                LineRow: state.put_line,
                LineYearRow: state.put_line_year,
                PoolRow: state.put_pool,
                GrantRow: state.put_grant,
            }[cls](row)
    cursor.execute("SELECT data FROM view_audit ORDER BY sequence")
    state.audit = [decode_row(AuditRow, data) for (data,) in cursor.fetchall()]
    return state
