"""What must hold in a ledger after anything at all happened to the processes writing it.

Shared by the reliability tests (a writer killed with SIGKILL, read models
caught up by several processes at once). Each check reads the stored ledger
on either backend and returns a list of findings (empty when all hold),
Beancount-style, so a test reports every problem at once:

- `version_gaps`: every aggregate's stored versions run 1..N without a gap;
- `half_recorded`: every decision that saves several aggregates is either
  wholly in the log or not at all (a plan's reallocation and its pools'
  funding changes, a plan and the pools it opened, a command key and its
  target event);
- `views_problems`: the stored read models, caught up, equal a full replay,
  the audit view has exactly one row per chain position and the views'
  tracking stands at the last notification.

`postgres_location` gives a schema on the test server that lives as long as
a module's fixture (the conftest's `ledger_db` lives for one test), and
`skip_unless_soak` keeps the long variants out of a run that did not ask
for them with `-m soak` (or `PULJE_SOAK=1`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any
from uuid import UUID

from domain import ids
from tests.conftest import PostgresSchema, RawSQL, _postgres_base


def skip_unless_soak(config: Any) -> None:
    """Skip a `@pytest.mark.soak` test unless the run asked for soak tests (`-m soak` or PULJE_SOAK=1)."""
    import os

    import pytest

    if "soak" not in (config.getoption("-m") or "") and not os.environ.get("PULJE_SOAK"):
        pytest.skip("a soak test: run it with -m soak (or PULJE_SOAK=1)")


@contextmanager
def postgres_location() -> Iterator[str]:
    """A new schema on the PostgreSQL test server (or a skip), dropped afterwards."""
    schema = PostgresSchema(_postgres_base())
    try:
        yield schema.url
    finally:
        schema.drop()


def version_gaps(db: str) -> list[str]:
    """One finding per aggregate whose stored versions are not exactly 1..N."""
    rows = RawSQL(db).run(
        "SELECT originator_id, COUNT(*), COUNT(DISTINCT originator_version), MIN(originator_version), "
        "MAX(originator_version) FROM {events} GROUP BY originator_id"
    )
    return [
        f"aggregate {oid}: {count} events, versions {low}..{high} ({distinct} distinct)"
        for oid, count, distinct, low, high in rows
        if not (low == 1 and high == count == distinct)
    ]


def event_count(db: str) -> int:
    return RawSQL(db).run("SELECT COUNT(*) FROM {events}")[0][0]


def all_events(ledger: Any, page_size: int = 1000) -> Iterator[Any]:
    """Every stored event, decoded, in notification order."""
    last = 0
    while True:
        notifications = ledger.recorder.select_notifications(start=last + 1, limit=page_size)
        if not notifications:
            return
        for notification in notifications:
            yield ledger.mapper.to_domain_event(notification)
        last = notifications[-1].id


@dataclass
class Decisions:
    """What `half_recorded` looked at.

    Attributes:
        reallocations: reallocations and their reversals in a plan year.
        pool_moves: those of them that moved a pool's funding (two or three aggregates in one save).
        keyed: commands recorded with an idempotency key (the key and the target in one save).
        problems: one sentence per decision found half-recorded.
    """

    reallocations: int = 0
    pool_moves: int = 0
    keyed: int = 0
    problems: list[str] = field(default_factory=list)


def half_recorded(ledger: Any) -> Decisions:
    """Decisions of several aggregates whose parts are not all in the log."""
    present: set[tuple[UUID, int]] = set()
    plans: dict[UUID, Any] = {}  # plan id -> its Adopted event
    plan_events: dict[tuple[UUID, int], Any] = {}
    opened: dict[UUID, Any] = {}  # pool id -> its Opened event
    fundings: list[Any] = []
    keys: list[Any] = []
    for event in all_events(ledger):
        present.add((event.originator_id, event.originator_version))
        kind = type(event).__qualname__
        if kind == "Plan.Adopted":
            plans[event.originator_id] = event
        elif kind in ("Plan.Reallocated", "Plan.ReallocationReversed"):
            plan_events[(event.originator_id, event.originator_version)] = event
        elif kind == "Pool.Opened":
            opened[event.originator_id] = event
        elif kind == "Pool.FundingChanged":
            fundings.append(event)
        elif kind == "CommandKey.Recorded":
            keys.append(event)

    found = Decisions(keyed=len(keys))
    # A plan and the pools it opened are one save.
    pool_of_line: dict[tuple[UUID, str], UUID] = {}
    for plan_id, adopted in plans.items():
        for terms in adopted.pools:
            pool_id = ids.pool_id(adopted.partnership, terms.key, adopted.year)
            pool_of_line[(plan_id, terms.line)] = pool_id
            if pool_id not in opened:
                found.problems.append(f"plan {plan_id} was adopted but its pool {terms.key} was never opened")
    for pool_id, event in opened.items():
        if event.plan_id not in plans:
            found.problems.append(f"pool {pool_id} was opened for plan {event.plan_id}, which was never adopted")

    # A reallocation touching a pool's line and the pool's funding change are one save.
    changes = {(f.originator_id, f.cause_id, f.cause_version): f for f in fundings}
    for (plan_id, version), event in plan_events.items():
        adopted = plans.get(plan_id)
        if adopted is None or event.year != adopted.year:
            continue
        found.reallocations += 1
        reversal = type(event).__qualname__ == "Plan.ReallocationReversed"
        moves = [(event.from_line, -event.amount.ore), (event.to_line, event.amount.ore)]
        touched = False
        for line, ore in moves:
            pool_id = pool_of_line.get((plan_id, line))
            if pool_id is None:
                continue
            touched = True
            expected = -ore if reversal else ore
            change = changes.pop((pool_id, plan_id, version), None)
            if change is None:
                found.problems.append(
                    f"plan {plan_id} version {version} moved line {line}, "
                    f"but pool {pool_id} has no funding change for it"
                )
            elif change.change.ore != expected:
                found.problems.append(
                    f"pool {pool_id} version {change.originator_version} changed funding by {change.change.ore}, "
                    f"its cause (plan version {version}) by {expected}"
                )
        found.pool_moves += touched
    for (pool_id, plan_id, version), change in changes.items():
        found.problems.append(
            f"pool {pool_id} version {change.originator_version} changed its funding for plan {plan_id} version "
            f"{version}, which is not a reallocation of its line in the log"
        )
    # A command key and the event it names are one save.
    for key in keys:
        if (key.target_id, key.target_version) not in present:
            found.problems.append(
                f"key {key.key!r} ({key.command}) names {key.target_id} version {key.target_version}, "
                "which is not in the log"
            )
    return found


def replay(ledger: Any, page_size: int = 1000) -> Any:
    """The read models folded from the whole log in memory: `Ledger.full_replay` with one chain query per page.

    `Ledger.full_replay` looks up each event's chain position in a read
    transaction of its own (about 3 ms an event on PostgreSQL); this is the
    same fold over the same events and positions, for checks after every kill.
    """
    from projections.fold import apply
    from projections.memory import MemoryState

    state = MemoryState()
    last = 0
    while True:
        notifications = ledger.recorder.select_notifications(start=last + 1, limit=page_size)
        if not notifications:
            return state
        with ledger.store.read() as c:
            c.execute(
                "SELECT notification_id, position, hash FROM event_chain WHERE notification_id BETWEEN ? AND ?",
                (notifications[0].id, notifications[-1].id),
            )
            chain = {row[0]: (row[1], row[2]) for row in c.fetchall()}
        for notification in notifications:
            position, chain_hash = chain[notification.id]
            apply(state, ledger.mapper.to_domain_event(notification), position, chain_hash)
        last = notifications[-1].id


def compare_views(stored: Any, replayed: Any) -> list[str]:
    """One message per stored view row that differs from the replay."""
    found = []
    for name in ("plans", "lines", "line_years", "pools", "grants"):
        mine, theirs = getattr(stored, name), getattr(replayed, name)
        for key in sorted(set(mine) | set(theirs), key=str):
            a, b = mine.get(key), theirs.get(key)
            if a == b:
                continue
            label = f"view {name} row {'/'.join(str(k) for k in (key if isinstance(key, tuple) else (key,)))}"
            if a is None:
                found.append(f"{label} is missing")
            elif b is None:
                found.append(f"{label} has no event behind it")
            else:
                diffs = [f.name for f in fields(a) if getattr(a, f.name) != getattr(b, f.name)]
                found.append(f"{label} differs from a replay in {', '.join(diffs)}")
    audit_stored = {row.sequence: row for row in stored.audit}
    audit_replayed = {row.sequence: row for row in replayed.audit}
    for sequence in sorted(set(audit_stored) | set(audit_replayed)):
        if audit_stored.get(sequence) != audit_replayed.get(sequence):
            found.append(f"view audit row {sequence} differs from a replay")
    return found


def views_problems(db: str, ledger: Any, *, full_replay: bool = True) -> list[str]:
    """After a catch-up: the stored views equal a full replay, one audit row per position, tracking at the end.

    With `full_replay=False` the replay is `replay` above rather than the ledger's own.
    """
    from ledger.views import VIEWS

    found = compare_views(ledger.stored_views(), ledger.full_replay() if full_replay else replay(ledger))
    head = ledger.store.head()[0]
    raw = RawSQL(db)
    count, low, high, distinct = raw.run(
        "SELECT COUNT(*), MIN(sequence), MAX(sequence), COUNT(DISTINCT sequence) FROM view_audit"
    )[0]
    if head and not (count == distinct == head and low == 1 and high == head):
        found.append(f"view_audit has {count} rows ({distinct} distinct, {low}..{high}) for {head} chain positions")
    with ledger.store.read() as c:
        tracked, last = ledger.store.tracked(c, VIEWS), ledger.store.last_notification(c)
    if tracked != last:
        found.append(f"the views' tracking stands at notification {tracked}, the log ends at {last}")
    return found


VIEW_TABLES = ("view_plans", "view_lines", "view_line_years", "view_pools", "view_grants", "view_audit")


def put_views_behind(db: str, how: str = "emptied") -> None:
    """Put the read models behind the log, behind the program's back.

    `emptied`: the view tables emptied and the views' tracking row deleted (an
    interrupted catch-up, a restore); `dropped`: the views' version row deleted,
    so the next process to open the ledger drops and recreates every view table.
    """
    raw = RawSQL(db)
    if how == "emptied":
        for table in VIEW_TABLES:
            raw.run(f"DELETE FROM {table}")
        raw.run("DELETE FROM {tracking} WHERE application_name = 'views'")
    else:
        raw.run("DELETE FROM view_meta")


def views_current(ledger: Any) -> bool:
    """Whether the stored views have applied every stored event (without catching up)."""
    from ledger.views import VIEWS

    with ledger.store.read() as c:
        return ledger.store.tracked(c, VIEWS) == ledger.store.last_notification(c)


def by_kind(ledger: Any) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for event in all_events(ledger):
        counts[type(event).__qualname__] += 1
    return dict(counts)
