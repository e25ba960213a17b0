"""PostgreSQL storage: eventsourcing's recorders with our chain, schema and checks.

`--db postgresql://user[:password]@host[:port]/dbname[?schema=NAME]` selects
this module. On top of eventsourcing's PostgreSQL persistence (psycopg 3):
- the tables live in the schema the URL names (default `public`), created on
  first use, so several ledgers can share one database;
- events are inserted under eventsourcing's `EXCLUSIVE` table lock, and the
  integrity chain and the read models are extended in that same transaction,
  so the chain never forks and a reader never sees events the views lack;
- a role that may only SELECT can open the ledger and run every reading
  command: nothing is created or written when the tables exist.
The password never appears in a message: errors name user, host and database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder, PostgresFactory
from psycopg import sql

from ledger.sqlite import extend_chain
from ledger.store import Cursor, Store

CONNECT_TIMEOUT_SECONDS = 5


class StorageUnavailableError(Exception):
    """The database cannot be reached or used; the message names no password."""


class ReadOnlyError(Exception):
    """The database user may read the ledger but not write to it."""


class PostgresLocation:
    """A parsed `postgresql://` URL, and how to show it without the password."""

    def __init__(self, url: str) -> None:
        try:
            parts = urlsplit(url.strip())
        except ValueError as error:
            host = url.split("://", 1)[-1].split("/", 1)[0].rpartition("@")[2]
            raise ValueError(f"the database URL's host {host!r} cannot be read ({error})") from None
        if parts.scheme.lower() not in ("postgresql", "postgres"):
            raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://")
        self.user = unquote(parts.username or "") or "postgres"
        self.password = unquote(parts.password or "")
        self.host = parts.hostname or "localhost"
        try:
            self.port = parts.port or 5432
        except ValueError:
            raise ValueError(
                f"the port in postgresql://{self.user}@{parts.netloc.rpartition('@')[2]} is not a port (1-65535)"
            ) from None
        self.dbname = unquote(parts.path.lstrip("/")) or self.user
        query = parse_qs(parts.query)
        unknown = sorted(set(query) - {"schema"})
        if unknown:
            raise ValueError(f"unknown option {unknown[0]!r} in the database URL (only ?schema=NAME is understood)")
        self.schema = (query.get("schema") or ["public"])[0] or "public"
        if len(self.schema) > 63 or not all(c.isalnum() or c == "_" for c in self.schema):
            raise ValueError(f"schema {self.schema!r} must be letters, digits and _ (at most 63)")

    def shown(self) -> str:
        schema = "" if self.schema == "public" else f"?schema={self.schema}"
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}{schema}"

    def env(self) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": "ledger.postgres:LedgerPostgresFactory",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT_SECONDS),
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": "4",
            "POSTGRES_LOCK_TIMEOUT": "60",
            "PULJE_SHOWN_LOCATION": self.shown(),
        }


class PostgresStore(Store):
    kind = "postgresql"
    nid = "notification_id"
    placeholder = "%s"
    bigint = "BIGINT"

    def __init__(self, recorder: Any) -> None:
        super().__init__(recorder)
        self.events = recorder.events_table_name
        prefix = self.events.rsplit("_", 1)[0]
        self.snapshots = f"{prefix}_snapshots"
        self.tracking = f"{prefix}_tracking"
        self.schema = self.datastore.schema

    def oid(self, originator_id: UUID) -> Any:
        return originator_id

    def _enter(self, conn: Any) -> Cursor:
        from psycopg.rows import tuple_row

        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.schema)))
        return Cursor(conn.cursor(row_factory=tuple_row), self, native=conn.cursor(), tuples=True)

    def cursor_on(self, native: Any) -> Cursor:
        from psycopg.rows import tuple_row

        return Cursor(native.connection.cursor(row_factory=tuple_row), self, native=native)

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        """One snapshot for the whole read (REPEATABLE READ), so every query of it sees one state."""
        with self.datastore.get_connection() as conn, conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield self._enter(conn)

    @contextmanager
    def write(self, *, cache_only: bool = False) -> Iterator[Cursor]:
        """A transaction holding the lock every writer of events takes."""
        if not self.can_write():
            raise ReadOnlyError("this database user may read the ledger but not write to it")
        with self.datastore.get_connection() as conn, conn.transaction():
            cursor = self._enter(conn)
            self.recorder._lock_table(cursor.native)
            yield cursor

    @contextmanager
    def fill(self) -> Iterator[Cursor]:
        """`write`: PostgreSQL writes a transaction's pages once whatever it fills."""
        with self.write() as cursor:
            yield cursor

    @contextmanager
    def parallel_sorts(self, c: Cursor) -> Iterator[None]:
        """PostgreSQL plans its own sorts."""
        yield

    def can_write(self) -> bool:
        with self.datastore.get_connection() as conn, conn.transaction(force_rollback=True):
            row = conn.execute(
                "SELECT has_table_privilege(current_user, %s, 'INSERT')", (f'"{self.schema}"."{self.events}"',)
            ).fetchone()
        return bool(row and (row["has_table_privilege"] if isinstance(row, dict) else row[0]))


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    """The application recorder that also writes the integrity chain, under the table lock."""

    store_class = PostgresStore
    on_recorded = None

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements.append(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.event_chain ("
                "position BIGINT PRIMARY KEY, notification_id BIGINT NOT NULL UNIQUE, hash TEXT NOT NULL)"
            ).format(schema=sql.Identifier(self.datastore.schema))
        )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            return self.record_in(curs, stored_events)

    def record_in(self, curs: Any, stored_events: Sequence[StoredEvent], hashes: Sequence[str] | None = None) -> Sequence[int]:
        """Insert events, their chain links and the views' update in the caller's transaction.

        `hashes` as for the SQLite recorder's `record_in`.
        """
        curs.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.datastore.schema)))
        self._lock_table(curs)
        PostgresAggregateRecorder._insert_stored_events(self, curs, stored_events)
        ids = [row["notification_id"] for row in curs.fetchall()]
        rows = extend_chain(curs, ids, stored_events, hashes)
        if self.on_recorded is not None:
            self.on_recorded(curs, rows)
        return ids


class LedgerPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory: our recorder, the schema, tables only when missing."""

    application_recorder_class = ChainedPostgresRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.shown = self.env.get("PULJE_SHOWN_LOCATION") or "the PostgreSQL database"
        self.create_tables = self._prepare()

    def _prepare(self) -> bool:
        """Check the server answers; create the schema when needed. True when tables must be created."""
        import psycopg

        schema = self.datastore.schema
        table = f"{self.env.name.lower()}_events"
        try:
            with psycopg.connect(
                dbname=self.env.get(self.POSTGRES_DBNAME), host=self.env.get(self.POSTGRES_HOST),
                port=self.env.get(self.POSTGRES_PORT), user=self.env.get(self.POSTGRES_USER),
                password=self.env.get(self.POSTGRES_PASSWORD) or None, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                autocommit=True,
            ) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s", (schema, table)
                ).fetchone()
                if exists:
                    return False
                if self.env.get("PULJE_MAY_CREATE") == "no":
                    from ledger.service import LocationError

                    raise LocationError(f"there is no ledger in {self.shown}; start one with `pulje plan import FILE`")
                # CREATE SCHEMA IF NOT EXISTS asks for the right to create even when the schema is there
                if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
                    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                return True
        except psycopg.Error as error:
            raise StorageUnavailableError(f"cannot use {self.shown}: {first_line(error)}") from None

    def env_create_table(self) -> bool:
        return self.create_tables


def first_line(error: BaseException) -> str:
    """A driver's message, one line, without anything that looks like a password."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text.replace("FATAL:  ", "").replace("FATAL: ", "")
