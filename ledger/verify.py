"""`pulje verify`: recompute everything and name the first thing that is wrong.

Four checks, in one pass over the log in chain order:
1. The chain: positions run 1, 2, 3, ... without gaps; every position's event
   exists; the notification order agrees with the chain; every hash
   recomputes from the stored bytes and the hash before it; no stored event
   lacks a place in the chain.
2. The replay: every event reads back as a pulje event and applies to its
   aggregate as the next version; every stored snapshot equals the replayed
   aggregate at its version.
3. The rules: each replayed plan and pool keeps every invariant on every
   effective date, and every pool's funding equals its line's budget.
4. The views: the stored read models equal a fold of the events they claim
   to include.

What a check cannot see without an outside anchor: the newest events deleted
together with their chain rows, or the whole chain rewritten from some point
on with fresh hashes. `--head HASH` catches both: a head written down earlier
(in last year's ultimo report, say) must still be in the chain.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.ids import uuid_of
from ledger.chain import GENESIS, link
from ledger.forked import Forked, second_process
from ledger.views import VIEWS
from ledger.walk import frozen_pages

PAGE = 2000


@dataclass
class Problem:
    check: str
    message: str
    position: int | None = None

    def __str__(self) -> str:
        where = f"position {self.position}: " if self.position is not None else ""
        return f"{self.check}: {where}{self.message}"


@dataclass
class VerifyReport:
    """What `verify` found.

    Attributes:
        events: how many chain positions were walked.
        head: the last position and its stored hash.
        head_found: for `--head`, the position where that hash stands (None if absent).
        processes: how many processes walked the log (2: the views were checked in a second one).
    """

    events: int = 0
    head: tuple[int, str] = (0, GENESIS)
    aggregates: int = 0
    snapshots: int = 0
    views_position: int = 0
    problems: list[Problem] = field(default_factory=list)
    expected_head: str | None = None
    head_found: int | None = None
    processes: int = 1

    @property
    def ok(self) -> bool:
        return not self.problems and (self.expected_head is None or self.head_found is not None)


_FORGED = "the stored event does not match its hash (changed, swapped or forged after it was recorded)"


def links(previous: str, position: int, oid: Any, version: Any, topic: Any, state: Any, stored_hash: str) -> bool:
    """Whether a stored event's hash recomputes from its stored fields and the hash before it."""
    try:
        return link(previous, position, oid, version, topic, _as_bytes(state)) == stored_hash
    except (TypeError, ValueError, AttributeError):
        return False


class Walker:
    """Walks events in chain order: checks each link, reads and replays each event.

    Used by `verify` on the stored log and by `import-events` on a file
    before anything is written.
    """

    def __init__(
        self, mapper: Any, report: VerifyReport, snapshots: dict[tuple[UUID, int], tuple[str, bytes]] | None = None,
        *, check_links: bool = True,
    ) -> None:
        self.mapper = mapper
        self.check_links = check_links
        self.report = report
        self.snapshots = snapshots or {}
        self.aggregates: dict[UUID, Any] = {}
        self.expected = 1
        self.previous = GENESIS
        self.validated: bytes | None = None  # the JSON the last event was validated from, where it was the stored JSON

    def position(self, position: int, stored_hash: str) -> _Recorder:
        """Account for a chain position; returns the recorder of its problems."""
        problem = _Recorder(self.report, position)
        if position > self.expected:
            problem("chain", f"positions jump from {self.expected - 1} to {position}: events were removed from the chain")
        elif position < self.expected:
            problem("chain", f"position {position} comes after {self.expected - 1}: events were duplicated or reordered")
        self.expected = position + 1
        self.report.events += 1
        self.report.head = (position, stored_hash)
        if self.report.expected_head is not None and self.report.expected_head == stored_hash.lower():
            self.report.head_found = position
        return problem

    def event(
        self, problem: _Recorder, position: int, stored_hash: str, oid: Any, version: Any, topic: Any, state: Any
    ) -> Any:
        """Check the link of one stored event (unless the walk leaves links to another) and replay it.

        Returns the event, or None where it cannot be read.
        """
        state = _as_bytes(state)
        if self.check_links and not links(self.previous, position, oid, version, topic, state, stored_hash):
            problem("chain", _FORGED)
        self.previous = stored_hash
        try:
            oid = uuid_of(str(oid))
        except ValueError:
            problem("replay", f"the stored aggregate id {oid!r} is not an id")
            return None
        event, self.validated = _replay(problem, self.mapper, self.aggregates, self.snapshots, oid, version, topic, state)
        return event

    def finish(self) -> None:
        for oid, version in self.snapshots:
            self.report.problems.append(
                Problem("snapshots", f"a snapshot of {oid} at version {version} has no event behind it")
            )
        _rules(self.report, self.aggregates)
        self.report.aggregates = len(self.aggregates)


def verify(
    ledger: Any, *, expected_head: str | None = None, progress: Callable[[int], None] | None = None,
    processes: int | None = None,
) -> VerifyReport:
    """Check the ledger without writing to it.

    Two walks over the log in chain order: the history (the chain's order, the
    replay, the snapshots, the rules) and the views (every link's hash, the
    read models' fold and the comparison with the stored views). With two
    processes the views walk runs in a second process beside the history
    walk; with one, after it (`ledger.forked.second_process` decides; not for
    a ledger in memory, which a second process cannot open). The report is
    the same either way: the problems found while walking in order of
    position (at one position: chain, replay, snapshots, views), then what
    only the end of each walk shows.
    """
    report = VerifyReport(expected_head=expected_head.lower() if expected_head else None)
    if report.expected_head == GENESIS:
        report.head_found = 0
    store = ledger.store
    with store.read() as c:
        tracked = store.tracked(c, VIEWS)
        snapshots = _snapshots(c)
    report.snapshots = len(snapshots)
    positions = store.head()[0]
    in_memory = getattr(store.datastore, "is_sqlite_memory_mode", False)  # eventsourcing's own reading of the name
    two = second_process(positions, processes) and not in_memory
    if progress is not None and hasattr(progress, "start"):
        progress.start(positions if two else 2 * positions)
    if two:
        env = dict(ledger.env)
        with Forked(lambda: _views_afresh(env, tracked)) as elsewhere:
            history = _check_history(ledger, report, snapshots, progress)
            views = elsewhere.result()
        if views is None:  # the second process could not finish: the same check here
            views = _check_views(ledger, tracked)
        else:
            report.processes = 2
    else:
        history = _check_history(ledger, report, snapshots, progress)
        views = _check_views(ledger, tracked, progress)
    report.views_position = tracked
    report.problems = [p for _, p in sorted(history.walked + views.walked, key=lambda k: k[0])]
    report.problems += history.at_end + views.at_end
    return report


#: The order of the checks at one position, as one walk would find them.
_RANK = {"chain": 0, "replay": 1, "snapshots": 2, "views": 3}


@dataclass
class _Found:
    """One walk's problems: those found while walking, each with its place, and those its end found.

    A place orders the problems of both walks as one walk over pages of
    positions would find them: a page's problems at its positions (by
    position, then check), then its audit rows compared.
    """

    walked: list[tuple[tuple[int, ...], Problem]] = field(default_factory=list)
    at_end: list[Problem] = field(default_factory=list)

    def at_position(self, page: int, problem: Problem) -> None:
        rank = _RANK.get(problem.check, len(_RANK))
        self.walked.append(((page, 0, problem.position or 0, rank, len(self.walked)), problem))

    def compared(self, page: int, problems: list[Problem]) -> None:
        self.walked += [((page, 1, len(self.walked) + i, 0, 0), problem) for i, problem in enumerate(problems)]


def _check_history(
    ledger: Any, report: VerifyReport, snapshots: dict[tuple[UUID, int], tuple[str, bytes]],
    progress: Callable[[int], None] | None,
) -> _Found:
    """The chain's order, the replay of every event, the snapshots and the rules.

    Also holds the read models' reading of each event to the event the
    replay validated: the views walk folds what `to_plain` reads from the
    stored JSON, so the two must agree for its comparison to mean anything.
    """
    store, to_plain = ledger.store, ledger.mapper.to_plain
    walker = Walker(ledger.mapper, report, snapshots, check_links=False)
    found = _Found()
    last_notification = 0
    with frozen_pages() as settle:
        while True:
            rows = _page(store, walker.expected)
            if not rows:
                break
            page = rows[0][0]
            for position, notification_id, stored_hash, rowid, oid, version, topic, state in rows:
                problem = walker.position(position, stored_hash)
                if rowid is None:
                    problem("chain", "the event recorded here is missing from the log (deleted)")
                    continue
                if notification_id <= last_notification:
                    problem("chain", "the log's order disagrees with the chain (events reordered)")
                last_notification = max(last_notification, notification_id)
                event = walker.event(problem, position, stored_hash, oid, version, topic, state)
                if event is not None and not _read_alike(to_plain, event, walker.validated, oid, version, topic, state):
                    problem("views", "the read models read this event's stored JSON differently from its validation")
            for found_here in report.problems:
                found.at_position(page, found_here)
            report.problems.clear()
            if progress is not None:
                progress(len(rows))
            settle()
    _orphans(ledger, report)
    walker.finish()
    found.at_end, report.problems = report.problems, []
    return found


def _read_alike(
    to_plain: Callable[[StoredEvent], Any], event: Any, validated: bytes | None, oid: Any, version: int, topic: Any,
    state: Any,
) -> bool:
    """Whether the read models read a stored event (`to_plain`) as the validated event's JSON form (`plain`).

    Where the event was validated from its stored JSON (`validated`: that
    JSON with the ids spliced in) and serialises back to the very same bytes,
    as every event pulje recorded does, they do: the comparison is of bytes.
    Otherwise it is of the two readings.
    """
    if validated is not None and type(event).__pydantic_serializer__.to_json(event) == validated:
        return True
    from projections.fold import plain

    return to_plain(StoredEvent(oid, version, topic, _as_bytes(state)))[1] == plain(event)


def _check_views(ledger: Any, tracked: int, progress: Callable[[int], None] | None = None) -> _Found:
    """Every link's hash, and the stored read models against a fold of the events they claim to include."""
    from projections.fold import fold
    from projections.memory import MemoryState

    store, plain_of = ledger.store, ledger.mapper.plain
    found = _Found()
    replayed = MemoryState()
    previous, expected, audit_compared = GENESIS, 1, 0
    with frozen_pages() as settle:
        while True:
            rows = _page(store, expected)
            if not rows:
                break
            page = rows[0][0]
            for position, notification_id, stored_hash, rowid, oid, version, topic, state in rows:
                if rowid is not None:
                    if not links(previous, position, oid, version, topic, state, stored_hash):
                        found.at_position(page, Problem("chain", _FORGED, position))
                    if notification_id <= tracked:
                        try:
                            cls, event = plain_of(oid, version, topic, _as_bytes(state))
                        except Exception:  # noqa: BLE001 - an event the replay cannot read is the history walk's to report
                            cls = None
                        if cls is not None:
                            try:
                                fold(replayed, cls, event, position, stored_hash)
                            except Exception as error:  # noqa: BLE001 - a fold that cannot apply an event is a finding
                                found.at_position(
                                    page, Problem("views", f"the read models cannot apply this event ({error})", position)
                                )
                previous = stored_hash
            expected = rows[-1][0] + 1
            compared: list[Problem] = []
            audit_compared += _compare_audit_page(store, compared, replayed, page, rows[-1][0])
            found.compared(page, compared)
            if progress is not None:
                progress(len(rows))
            settle()
    found.at_end += [Problem("views", message) for message in compare_tables(store, replayed)]
    with store.read() as c:
        c.execute("SELECT COUNT(*) FROM view_audit")
        stored_audit = c.fetchone()[0]
    if stored_audit != audit_compared:
        found.at_end.append(Problem("views", f"view audit has {stored_audit - audit_compared} rows with no event behind them"))
    return found


def _page(store: Any, first: int) -> list[tuple[Any, ...]]:
    """A page of chain positions from `first` on, each with its stored event (None where it is missing)."""
    with store.read() as c:
        c.execute(
            "SELECT c.position, c.notification_id, c.hash, e.{nid}, e.originator_id, e.originator_version, "
            "e.topic, e.state FROM event_chain c LEFT JOIN {events} e ON e.{nid} = c.notification_id "
            "WHERE c.position >= ? ORDER BY c.position LIMIT ?",
            (first, PAGE),
        )
        return c.fetchall()


def _views_afresh(env: dict[str, Any], tracked: int) -> _Found:
    """The views walk on the ledger opened anew (in a second process)."""
    from ledger.app import Ledger

    ledger = Ledger(env, snapshotting=False)
    try:
        return _check_views(ledger, tracked)
    finally:
        ledger.close()


def _compare_audit_page(store: Any, problems: list[Problem], replayed: Any, first: int, last: int) -> int:
    """Compare the audit rows of one page of positions with the replay's, then forget them.

    Every stored column is compared, not only the JSON: the columns are what
    queries filter on. A stored row equal to what the views would store for
    the replayed row is not decoded at all.
    """
    from ledger.views import stored_columns, stored_values
    from projections.model import AuditRow, decode_row

    mine = {row.sequence: row for row in replayed.audit}
    replayed.audit.clear()
    with store.read() as c:
        c.execute(
            f"SELECT {', '.join(stored_columns(AuditRow))} FROM view_audit WHERE sequence BETWEEN ? AND ?", (first, last)
        )
        stored = c.fetchall()
    for values in stored:
        sequence, data = values[0], values[-1]
        ours = mine.pop(sequence, None)
        if ours is not None and stored_values(ours) == tuple(values):
            continue
        try:
            row = decode_row(AuditRow, data)
        except (TypeError, ValueError):
            row = None
        what = "differs from a replay" if ours is None or row != ours else "has columns that differ from a replay"
        problems.append(Problem("views", f"view audit row {sequence} {what}", sequence))
    for sequence in sorted(mine):
        problems.append(Problem("views", f"view audit row {sequence} is missing", sequence))
    return len(stored)


def compare_tables(store: Any, replayed: Any, page_size: int = PAGE) -> Iterator[str]:
    """One message per stored view row (plans, lines, pools, grants) that differs from the replay, streamed.

    A row is found by its key columns and compared column by column with
    what the views would store for the replayed row; only a row that differs
    is decoded, to name the fields that differ.
    """
    from ledger.views import _TABLES, stored_columns, stored_values
    from projections.model import decode_row

    names = {"view_plans": "plans", "view_lines": "lines", "view_line_years": "line_years", "view_pools": "pools",
             "view_grants": "grants"}
    for cls, (table, keys) in _TABLES.items():
        theirs = dict(getattr(replayed, names[table]))
        columns = stored_columns(cls)
        select = f"SELECT {', '.join(columns)} FROM {table}"
        order = f"ORDER BY {', '.join(keys)} LIMIT {int(page_size)}"
        after = f"WHERE ({', '.join(keys)}) > ({', '.join('?' for _ in keys)})"
        seen, last = 0, None
        while True:
            with store.read() as c:
                # By key from the last one read: each page is found through the key's index (an offset would walk
                # every row before it again: a million-event ledger's grants took a fifth of the views walk).
                c.execute(f"{select} {order}" if last is None else f"{select} {after} {order}", last or ())
                page = c.fetchall()
            if not page:
                break
            seen += len(page)
            last = page[-1][: len(keys)]
            for values in page:
                key = tuple(values[: len(keys)])
                other = theirs.pop(key if len(key) > 1 else key[0], None)
                if other is not None and stored_values(other) == tuple(values):
                    continue
                label = f"view {names[table]} row {'/'.join(str(k) for k in key)}"
                data = values[-1]
                try:
                    row = decode_row(cls, data)
                except (TypeError, ValueError):
                    yield f"view {names[table]} has a row that is not a row: {str(data)[:60]!r}"
                    continue
                if other is None:
                    yield f"{label} has no event behind it"
                    continue
                diffs = [f.name for f in fields(row) if getattr(row, f.name) != getattr(other, f.name)]
                if diffs:
                    yield f"{label} differs from a replay in {', '.join(diffs)}"
                else:
                    changed = [n for n, a, b in zip(columns, values, stored_values(other)) if a != b]
                    yield f"{label} differs from a replay in its column {', '.join(changed)}"
        with store.read() as c:
            c.execute(f"SELECT COUNT(*) FROM {table}")
            unordered = c.fetchone()[0] - seen
        if unordered:  # SQLite lets a text key hold NULL (behind pulje's back); no page starts after one
            yield f"view {names[table]} has {unordered} rows past a key that is NULL, not compared"
        for key in sorted(theirs, key=str):
            yield f"view {names[table]} row {'/'.join(str(k) for k in (key if isinstance(key, tuple) else (key,)))} is missing"


class _Recorder:
    def __init__(self, report: VerifyReport, position: int) -> None:
        self.report, self.position = report, position

    def __call__(self, check: str, message: str) -> None:
        self.report.problems.append(Problem(check, message, self.position))


def _snapshots(c: Any) -> dict[tuple[UUID, int], tuple[str, bytes]]:
    try:
        c.execute("SELECT originator_id, originator_version, topic, state FROM {snapshots}")
    except Exception:  # noqa: BLE001 - no snapshot table yet
        return {}
    return {(UUID(str(oid)), version): (str(topic), _as_bytes(state)) for oid, version, topic, state in c.fetchall()}


def _replay(
    problem: _Recorder, mapper: Any, aggregates: dict[UUID, Any], snapshots: dict[tuple[UUID, int], tuple[str, bytes]],
    oid: UUID, version: int, topic: str, state: bytes,
) -> tuple[Any, bytes | None]:
    """The event read and applied to its aggregate (None where it cannot be read), and the JSON it was validated from."""
    try:
        event, validated = mapper.read(oid, version, topic, state)
    except Exception as error:  # noqa: BLE001 - unreadable stored bytes are a finding, not a crash
        problem("replay", f"the stored event cannot be read as a pulje event ({type(error).__name__})")
        return None, None
    aggregate = aggregates.get(oid)
    if aggregate is None and version != 1:
        problem("replay", f"the history of aggregate {oid} starts at version {version}, not 1")
        return event, validated
    try:
        aggregates[oid] = event.mutate(aggregate)
    except Exception as error:  # noqa: BLE001
        problem("replay", f"the event does not follow its aggregate's history (version {version}: {type(error).__name__})")
        return event, validated
    snapshot = snapshots.pop((oid, version), None) if snapshots else None
    if snapshot is not None:
        try:
            taken = mapper.to_domain_event(StoredEvent(oid, version, snapshot[0], snapshot[1]))
            same = _canonical(taken.state) == _canonical(aggregates[oid].snapshot_state())
        except Exception:  # noqa: BLE001
            same = False
        if not same:
            problem("snapshots", f"the snapshot of this aggregate at version {version} differs from its replay")
    return event, validated


def _as_bytes(value: Any) -> bytes:
    """Stored state as bytes, whatever type an edit behind our back left in the column."""
    if type(value) is bytes:  # as pulje stores it: twice an event in a walk
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if value is None:
        return b""
    if isinstance(value, int):
        return str(value).encode()
    return bytes(value)


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def _orphans(ledger: Any, report: VerifyReport) -> None:
    with ledger.store.read() as c:
        c.execute(
            "SELECT e.{nid} FROM {events} e LEFT JOIN event_chain c ON c.notification_id = e.{nid} "
            "WHERE c.position IS NULL ORDER BY e.{nid}"
        )
        orphans = [row[0] for row in c.fetchall()]
    for rowid in orphans:
        report.problems.append(
            Problem("chain", f"stored event {rowid} has no place in the chain (inserted behind the program's back)")
        )


def _rules(report: VerifyReport, aggregates: dict[UUID, Any]) -> None:
    from domain.plan import Plan
    from domain.pool import Pool

    for aggregate in aggregates.values():
        try:
            _rules_of(report, aggregate, aggregates, Plan, Pool)
        except Exception as error:  # noqa: BLE001 - a state the rules cannot even read is itself a finding
            report.problems.append(
                Problem("rules", f"aggregate {aggregate.id} cannot be checked ({type(error).__name__}: {error})")
            )


def _rules_of(report: VerifyReport, aggregate: Any, aggregates: dict[UUID, Any], plan_cls: type, pool_cls: type) -> None:
    if isinstance(aggregate, (plan_cls, pool_cls)):
        report.problems += [Problem("rules", message) for message in aggregate.problems()]
    if isinstance(aggregate, pool_cls):
        plan = aggregates.get(aggregate.plan_id)
        if not isinstance(plan, plan_cls):
            report.problems.append(Problem("rules", f"{aggregate.name} {aggregate.year} has no plan behind it"))
        elif aggregate.line not in plan.lines:
            report.problems.append(
                Problem("rules", f"{aggregate.name} {aggregate.year} is funded by line {aggregate.line}, which its plan lacks")
            )
        elif plan.year == aggregate.year and plan.budget(aggregate.line, aggregate.year).ore != aggregate.funding:
            report.problems.append(
                Problem("rules", f"{aggregate.name} {aggregate.year}: funding differs from line {aggregate.line}'s budget")
            )
