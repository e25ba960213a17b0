"""The composition root and the user's verbs: what the command line calls.

`Pulje` opens the ledger the `--db` value names, turns the user's references
(a pool's code and year, a grant number, an event's sequence number) into
aggregate ids through the read models, calls the application, and keeps the
read models current. Reading methods return rows for `projections.render`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.errors import NotFoundError

if TYPE_CHECKING:
    from domain.money import Money
    from ledger.app import Ledger, Recorded
    from ledger.planfile import PlanFile
    from ledger.queries import ViewReader
    from projections.model import AuditRow, GrantRow, LineRow, LineYearRow, PlanRow, PoolRow

DEFAULT_DB = "pulje.db"

#: The kinds of event a counter-entry can undo (a pool's funding change stands
#: for the reallocation behind it).
REVERSIBLE = {
    "reallocated", "funding_changed", "grant_awarded", "grant_disbursed", "grant_returned", "grant_withdrawn",
}


class LocationError(Exception):
    """A `--db` value that names no usable ledger."""


def shown_location(db: str) -> str:
    """A `--db` value as it may be shown: a URL without its password."""
    if "://" not in db:
        return db
    try:
        from ledger.postgres import PostgresLocation

        return PostgresLocation(db).shown()
    except ValueError:
        return db.split("://", 1)[0] + "://" + db.split("://", 1)[1].rpartition("@")[2]


def ledger_env(db: str, *, create: bool = True) -> dict[str, str]:
    """The application environment for a `--db` value: an SQLite path or a PostgreSQL URL.

    With `create=False` (reading commands) a missing ledger is an error rather
    than a new empty one.
    """
    text = db.strip()
    if "\x00" in text or not text:
        raise LocationError("the --db value is empty or holds a NUL character; give a file path or a postgresql:// URL")
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in ("postgresql", "postgres"):
            host = text.split("://", 1)[1].split("/", 1)[0].rpartition("@")[2] or "no host"
            raise LocationError(
                f"unknown database scheme {scheme!r} (host {host}): give an SQLite file path or a postgresql:// URL"
            )
        from ledger.postgres import PostgresLocation

        try:
            location = PostgresLocation(text)
        except ValueError as error:
            raise LocationError(str(error)) from None
        env = location.env()
        env["PULJE_MAY_CREATE"] = "yes" if create else "no"
        return env
    path = Path(text).expanduser()
    if path.is_dir():
        raise LocationError(f"{path} is a folder; give the path of a ledger file, e.g. {path / DEFAULT_DB}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise LocationError(f"the folder {parent} does not exist; create it or choose another --db path")
    if not create and not path.exists():
        raise LocationError(f"there is no ledger at {path}; start one with `pulje plan import FILE` or give --db")
    return {"PERSISTENCE_MODULE": "ledger.sqlite:LedgerSQLiteFactory", "SQLITE_DBNAME": str(path)}


@dataclass
class PlanView:
    plan: PlanRow
    lines: list[LineRow]
    years: list[LineYearRow]


@dataclass
class Status:
    head: tuple[int, str]
    plans: list[PlanView]
    pools: list[PoolRow]


class Pulje:
    """One user's session on one ledger."""

    def __init__(
        self, db: str, actor: str, *, clock: Callable[[], dt.datetime] | None = None, create: bool = True
    ) -> None:
        self.env = ledger_env(db, create=create)
        self.actor = actor
        self.clock = clock
        self._ledger: Ledger | None = None
        #: Told about long catch-ups (a progress bar on a terminal); see cli/progress.py.
        self.progress: Callable[[int], None] | None = None

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            from ledger.app import Ledger

            self._ledger = Ledger(self.env, clock=self.clock)
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def __enter__(self) -> Pulje:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    @contextmanager
    def reader(self, progress: Callable[[int], None] | None = None) -> Iterator[ViewReader]:
        """Current read models, in one read transaction.

        When the ledger is not open yet and its views are already current, this
        reads them straight from the file with sqlite3, without importing the
        application (eventsourcing, pydantic): a warm read costs what the query
        costs, however long the history.
        """
        from ledger.queries import ViewReader

        if self._ledger is None and "SQLITE_DBNAME" in self.env:
            from ledger.store import current_sqlite_views

            with current_sqlite_views(self.env["SQLITE_DBNAME"]) as cursor:
                if cursor is not None:
                    yield ViewReader(cursor)
                    return
        self.ledger.catch_up(progress or self.progress)
        with self.ledger.store.read() as c:
            yield ViewReader(c)

    def _written(self, recorded: Recorded) -> Recorded:
        self.ledger.catch_up()
        return recorded

    # ------------------------------------------------------------------ writes

    def import_plan(
        self, path: str | Path, *, date: dt.date | None = None, decision_ref: str | None = None, key: str | None = None
    ) -> tuple[Recorded, PlanFile]:
        from ledger.planfile import read_plan_file

        plan_file = read_plan_file(path)
        recorded = self.ledger.adopt_plan(plan_file.spec, actor=self.actor, date=date, decision_ref=decision_ref, key=key)
        return self._written(recorded), plan_file

    def reallocate(
        self, *, year: int, from_line: str, to_line: str, amount: Money, date: dt.date, decided_by: str | None,
        decision_ref: str | None, reason: str | None, partnership: str | None = None, key: str | None = None,
    ) -> Recorded:
        with self.reader() as views:
            plan = views.plan_for_year(year, partnership)
        return self._written(
            self.ledger.reallocate(
                plan_id=UUID(plan.plan_id), year=year, from_line=from_line, to_line=to_line, amount=amount,
                date=date, decided_by=decided_by, decision_ref=decision_ref, reason=reason, actor=self.actor, key=key,
            )
        )

    def award(
        self, *, pool: str, year: int, recipient: str, purpose: str, area: str | None, amount: Money,
        requested: Money | None, date: dt.date, decided_by: str | None, decision_ref: str | None,
        partnership: str | None = None, key: str | None = None,
    ) -> Recorded:
        with self.reader() as views:
            row = views.pool(pool, year, partnership)
        return self._written(
            self.ledger.award(
                pool_id=UUID(row.pool_id), recipient=recipient, purpose=purpose, area=area, amount=amount,
                requested=requested, date=date, decided_by=decided_by, decision_ref=decision_ref,
                actor=self.actor, key=key,
            )
        )

    def _grant_pool(self, number: str, partnership: str | None) -> tuple[UUID, str]:
        with self.reader() as views:
            pool, grant = views.grant(number, partnership)
        return UUID(pool.pool_id), grant.number

    def disburse(
        self, *, grant: str, amount: Money, date: dt.date, payment_ref: str | None, partnership: str | None = None,
        key: str | None = None,
    ) -> Recorded:
        pool_id, number = self._grant_pool(grant, partnership)
        return self._written(
            self.ledger.disburse(
                pool_id=pool_id, number=number, amount=amount, date=date, payment_ref=payment_ref, actor=self.actor, key=key
            )
        )

    def take_back(
        self, *, grant: str, amount: Money, date: dt.date, reason: str | None, partnership: str | None = None,
        key: str | None = None,
    ) -> Recorded:
        pool_id, number = self._grant_pool(grant, partnership)
        return self._written(
            self.ledger.take_back(
                pool_id=pool_id, number=number, amount=amount, date=date, reason=reason, actor=self.actor, key=key
            )
        )

    def withdraw(
        self, *, grant: str, date: dt.date, reason: str | None, partnership: str | None = None, key: str | None = None
    ) -> Recorded:
        pool_id, number = self._grant_pool(grant, partnership)
        return self._written(
            self.ledger.withdraw(pool_id=pool_id, number=number, date=date, reason=reason, actor=self.actor, key=key)
        )

    def close_pool(
        self, *, pool: str, year: int, date: dt.date, decided_by: str | None, decision_ref: str | None,
        partnership: str | None = None, key: str | None = None,
    ) -> Recorded:
        with self.reader() as views:
            row = views.pool(pool, year, partnership)
        return self._written(
            self.ledger.close_pool(
                pool_id=UUID(row.pool_id), date=date, decided_by=decided_by, decision_ref=decision_ref,
                actor=self.actor, key=key,
            )
        )

    def reverse(self, event: str, *, reason: str | None, date: dt.date | None = None, key: str | None = None) -> Recorded:
        originator_id, version, kind = self.locate(event)
        if kind not in REVERSIBLE:
            from domain.errors import ReversalError
            from projections.render import KIND_EN

            raise ReversalError(
                f"event {event.strip()} is {KIND_EN.get(kind, kind)}, which cannot be reversed; only reallocations, "
                "grant awards, payments, returns and withdrawals can (record a new decision instead)"
            )
        return self._written(
            self.ledger.reverse(
                originator_id=originator_id, version=version, reason=reason, date=date, actor=self.actor, key=key
            )
        )

    def locate(self, event: str) -> tuple[UUID, int, str]:
        """An event by its sequence number or its id: aggregate id, version and kind."""
        from projections.fold import KINDS

        text = event.strip().lstrip("#")
        if text.isascii() and text.isdigit():
            if len(text) > 18:
                raise NotFoundError(f"no event with sequence number {text}")
            found = self.ledger.store.locate(int(text))
            if found is None:
                raise NotFoundError(f"no event with sequence number {text}")
            topic = found[2].partition(":")[2]
            return found[0], found[1], KINDS.get(topic, topic)
        try:
            event_id = str(UUID(text))
        except ValueError:
            raise NotFoundError(f"{event!r} is neither a sequence number nor an event id") from None
        with self.reader() as views:
            row = views.event_by_id(event_id)
        if row is None:
            raise NotFoundError(f"no event with id {event_id}")
        return UUID(row.aggregate_id), row.version, row.kind

    # ------------------------------------------------------------------ reads

    def status(
        self, *, year: int | None = None, as_of: dt.date | None = None, partnership: str | None = None,
        recorded_before: dt.datetime | None = None,
    ) -> Status:
        with self.reader() as views:
            plans = views.plans(year, partnership)
            pools = views.pools(year, partnership)
            head = views.head_before(recorded_before) if recorded_before else views.head()
            if as_of is None and recorded_before is None:
                return Status(head, [PlanView(p, views.lines(p.plan_id), views.line_years(p.plan_id)) for p in plans], pools)
        state = self._as_of([p.plan_id for p in plans] + [p.pool_id for p in pools], as_of, recorded_before)
        views_as_of = [
            PlanView(
                state.plans[p.plan_id],
                sorted((r for r in state.lines.values() if r.plan_id == p.plan_id), key=lambda r: r.ord),
                [r for r in state.line_years.values() if r.plan_id == p.plan_id],
            )
            for p in plans
            if p.plan_id in state.plans
        ]
        return Status(head, views_as_of, [state.pools[p.pool_id] for p in pools if p.pool_id in state.pools])

    def pool_show(
        self, pool: str, *, year: int, as_of: dt.date | None = None, partnership: str | None = None,
        recorded_before: dt.datetime | None = None,
    ) -> tuple[PoolRow, list[GrantRow], tuple[int, str]]:
        with self.reader() as views:
            row = views.pool(pool, year, partnership)
            head = views.head_before(recorded_before) if recorded_before else views.head()
            if as_of is None and recorded_before is None:
                return row, views.grants(row.pool_id), head
        state = self._as_of([row.pool_id], as_of, recorded_before)
        shown = state.pools.get(row.pool_id)
        if shown is None:
            when = f"on {as_of.isoformat()}" if as_of else f"before {recorded_before.isoformat()}"
            raise NotFoundError(f"{row.name} {row.year} was not open {when} (it opened {row.opened_on})")
        grants = sorted((g for g in state.grants.values() if g.pool_id == row.pool_id), key=lambda g: g.number)
        return shown, grants, head

    def replay(
        self, pool: str, *, year: int, until: dt.date | None = None, recorded_before: dt.datetime | None = None,
        partnership: str | None = None,
    ) -> tuple[PoolRow, list[Any], tuple[int, str]]:
        """Every decision on a pool in effective-date order, with the balances after it."""
        from projections.replay import replay_pool

        with self.reader() as views:
            row = views.pool(pool, year, partnership)
            head = views.head_before(recorded_before) if recorded_before else views.head()
        pool_id = UUID(row.pool_id)
        positions = self.ledger.store.positions_of(pool_id)
        events = [(positions[e.originator_version][0], e) for e in self.ledger.events_of(pool_id)]
        return row, replay_pool(events, until=until, recorded_before=recorded_before), head

    def plan_show(self, *, year: int | None = None, partnership: str | None = None) -> tuple[list[PlanView], tuple[int, str]]:
        with self.reader() as views:
            plans = views.plans(year, partnership)
            if year is not None and not plans:
                views.plan_for_year(year, partnership)
            return [PlanView(p, views.lines(p.plan_id), views.line_years(p.plan_id)) for p in plans], views.head()

    def audit(
        self, *, since: dt.date | None = None, until: dt.date | None = None
    ) -> tuple[list[AuditRow], dict[str, int], tuple[int, str]]:
        with self.reader() as views:
            rows = views.audit(since.isoformat() if since else None, until.isoformat() if until else None)
            return rows, views.reversed_by(), views.head()

    def verify(
        self, *, expected_head: str | None = None, progress: Callable[[int], None] | None = None,
        processes: int | None = None,
    ) -> Any:
        """Recompute the chain, replay, the rules and the views; writes nothing (see `ledger.verify.verify`)."""
        from ledger.verify import verify

        return verify(self.ledger, expected_head=expected_head, progress=progress, processes=processes)

    def ultimo(self, *, year: int, pool: str | None = None, partnership: str | None = None, lang: str = "da") -> dict[str, Any]:
        """The ultimo report's data for a plan year (every pool of the plan, or one)."""
        from projections.replay import replay_pool
        from projections.report import PoolInput, ultimo_report

        with self.reader() as views:
            plan = views.plan_for_year(year, partnership)
            lines, years = views.lines(plan.plan_id), views.line_years(plan.plan_id)
            pools = [views.pool(pool, year, plan.partnership)] if pool else views.pools(year, plan.partnership)
            grants = {p.pool_id: views.grants(p.pool_id) for p in pools}
            moves = [
                r for r in views.audit_of_kinds(("reallocated", "reallocation_reversed"), year=year)
                if r.aggregate_id == plan.plan_id
            ]
            reversed_by = views.reversed_by()
            head = views.head()
            last = views.event_at(head[0])
        inputs = []
        for row in pools:
            pool_id = UUID(row.pool_id)
            positions = self.ledger.store.positions_of(pool_id)
            events = [(positions[e.originator_version][0], e) for e in self.ledger.events_of(pool_id)]
            steps = [s for s in replay_pool(events) if s.sequence <= head[0]]
            inputs.append(PoolInput(row, grants[row.pool_id], steps))
        return ultimo_report(
            year=year, plan=plan, lines=lines, years=years, reallocations=moves, reversed_by=reversed_by,
            pools=inputs, head=head, last_event_at=last.recorded_at if last else None, lang=lang,
        )

    def export(self, fmt: str, out: Any, progress: Callable[[int], None] | None = None) -> int:
        """Write every event as `jsonl`, `csv` or an hledger `journal`; returns how many."""
        self.ledger.catch_up(progress)
        if fmt == "jsonl":
            from ledger.exports import export_jsonl

            return export_jsonl(self.ledger, out, progress)
        if fmt == "csv":
            import csv

            from projections.render import audit_csv_rows

            rows, reversed_by, _ = self.audit()
            writer = csv.writer(out, lineterminator="\r\n")
            for row in audit_csv_rows(rows, reversed_by, {r.event_id: r.sequence for r in rows}):
                writer.writerow(row)
            return len(rows)
        from eventsourcing.persistence import StoredEvent

        from ledger.exports import stored_rows
        from projections.journal import JournalWriter

        head = self.ledger.store.head()
        writer = JournalWriter()
        for line in writer.header(head):
            out.write(line + "\n")
        mapper = self.ledger.mapper
        events = (
            (position, mapper.to_domain_event(StoredEvent(UUID(oid), version, topic, state)))
            for position, _, oid, version, topic, state in stored_rows(self.ledger, head[0])
        )
        for line in writer.transactions(events):
            out.write(line + "\n")
        return head[0]

    def import_events(
        self, path: str, progress: Callable[[int], None] | None = None, processes: int | None = None
    ) -> Any:
        """Rebuild a ledger from a `jsonl` export, into this empty ledger (see `ledger.exports.import_events`)."""
        from ledger.exports import import_events

        new_file = self.env.get("SQLITE_DBNAME")
        fresh = bool(new_file) and (not os.path.exists(new_file) or os.path.getsize(new_file) == 0)
        try:
            header = import_events(self.ledger, path, progress, processes)
        except BaseException:
            if fresh:
                # A refused import into a new file leaves no ledger behind (the events were rolled back).
                self.close()
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(f"{new_file}{suffix}"):
                        os.remove(f"{new_file}{suffix}")
            raise
        self.ledger.catch_up(progress)
        return header

    def _as_of(self, aggregate_ids: list[str], as_of: dt.date | None, recorded_before: dt.datetime | None = None) -> Any:
        """Read models from the events effective by a date and recorded before a moment."""
        from projections.asof import fold_as_of

        return fold_as_of((self.ledger.events_of(UUID(i)) for i in aggregate_ids), as_of, recorded_before)
