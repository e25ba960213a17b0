"""The application: every command is load, one domain decision, save.

`Ledger` is an eventsourcing `Application` whose aggregates are the plans,
the pools and the command keys. A command loads what it decides on, calls one
domain method (which refuses with a `DomainError` or triggers events), and
saves every aggregate it changed in one atomic write. When another process
wrote first (`RecordConflictError`: the same aggregate version taken), the
command is decided again on fresh state; only a real rule refuses.

The clock is injected (`clock`), so tests and the demo year are exact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, OperationalError, RecordConflictError
from eventsourcing.utils import Environment

from domain import ids
from domain.base import Snapshot, utc
from domain.errors import NotFoundError, PlanError, ReversalError
from domain.keys import CommandKey
from domain.money import Money
from domain.plan import LineTerms, Plan, PoolTerms
from domain.pool import Pool
from ledger.mapper import PydanticMapper
from ledger.store import store_for
from ledger.views import catch_up, create_views, follow, views_current

#: How long a write keeps deciding again while other writers take the same records first.
RETRY_SECONDS = 120.0


class StorageConflictError(Exception):
    """A write kept colliding with other writers; nothing was recorded."""


@dataclass
class Recorded:
    """What a write command reports: the event it recorded and the head after it."""

    event_id: str
    sequence: int
    head: str
    grant: str | None = None
    repeated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    """What a command decided: the aggregates to save and its main event."""

    aggregates: list[Any]
    target_id: UUID
    target_version: int
    grant: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PlanSpec:
    """A plan file, read and checked, ready to adopt."""

    partnership: str
    title: str
    year: int
    areas: tuple[str, ...]
    reallocation_body: str
    adoption_body: str
    lines: list[LineTerms]
    pools: list[PoolTerms]
    source_file: str
    source_sha256: str


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Ledger(Application[UUID]):
    """pulje's application: plans, pools and grants as events."""

    name = "pulje"
    snapshotting_intervals = {Plan: 50, Pool: 50}  # noqa: RUF012
    snapshot_class = Snapshot

    def __init__(
        self, env: dict[str, str], *, clock: Callable[[], dt.datetime] | None = None, snapshotting: bool = True
    ) -> None:
        self.clock = clock or system_clock
        self.snapshotting = snapshotting
        super().__init__(env)
        self.tracking = self.factory.tracking_recorder()
        self.store = store_for(self.recorder)
        with self.store.read() as c:
            current = views_current(c)
        if not current:
            with self.store.write() as c:
                create_views(c)
        self.recorder.on_recorded = self._follow

    def _follow(self, native: Any, rows: list[Any]) -> None:
        follow(self.store, self.tracking, self.mapper.to_plain, native, rows)

    def construct_env(self, name: str, env: Any = None) -> Environment:
        # Only what the composition root gives: no stray eventsourcing
        # variables from the user's shell change how the ledger is stored.
        values = dict(env or {})
        values["IS_SNAPSHOTTING_ENABLED"] = "y"
        return Environment(name, values)

    def _take_snapshots(self, processing_event: Any) -> None:
        # A bulk load (bench/generate.py) may leave snapshots to later writes.
        if self.snapshotting:
            super()._take_snapshots(processing_event)

    def construct_mapper(self) -> PydanticMapper:
        return PydanticMapper(transcoder=JSONTranscoder())

    def now(self) -> dt.datetime:
        return utc(self.clock())

    # ------------------------------------------------------------------ plan

    def adopt_plan(
        self, spec: PlanSpec, *, actor: str, date: dt.date | None = None, decision_ref: str | None = None,
        key: str | None = None,
    ) -> Recorded:
        """Adopt a plan file; the same file a second time is a no-op."""
        plan_id = ids.plan_id(spec.partnership, spec.year)
        content = {"sha256": spec.source_sha256, "date": _iso(date), "decision_ref": decision_ref}

        def decide() -> Decision | Recorded:
            existing = self._get_or_none(plan_id)
            if existing is not None:
                if existing.source_sha256 != spec.source_sha256:
                    raise PlanError(
                        f"the {spec.year} plan of {spec.partnership} is already adopted from another file "
                        f"({existing.source_file}, sha256 {existing.source_sha256[:12]}...); "
                        "change an adopted plan with reallocations"
                    )
                last = [(plan_id, len(existing.lines) + 1)]
                last += [(ids.pool_id(spec.partnership, terms.key, spec.year), 1) for terms in existing.pools.values()]
                return self._recorded(plan_id, 1, repeated=True, write=last)
            when = date or dt.date(spec.year, 1, 1)
            timestamp = self.now()
            plan = Plan.adopt(
                id=plan_id, partnership=spec.partnership, title=spec.title, year=spec.year,
                source_file=spec.source_file, source_sha256=spec.source_sha256, areas=spec.areas,
                reallocation_body=spec.reallocation_body, lines=spec.lines, pools=spec.pools,
                timestamp=timestamp, actor=actor, date=when, decided_by=spec.adoption_body,
                decision_ref=decision_ref or f"{spec.title} ({spec.source_file})",
            )
            pools = [
                Pool.open_for_year(
                    id=ids.pool_id(spec.partnership, terms.key, spec.year), plan_id=plan_id,
                    partnership=spec.partnership, key=terms.key, code=terms.code, name=terms.name,
                    year=spec.year, line=terms.line, areas=spec.areas, decided_by=terms.decided_by,
                    funding=plan.budget(terms.line, spec.year), timestamp=timestamp, actor=actor, date=when,
                    decision_ref=decision_ref or f"{spec.title} ({spec.source_file})",
                )
                for terms in spec.pools
            ]
            return Decision([plan, *pools], plan_id, 1)

        return self._run("plan import", content, key, actor, decide)

    def reallocate(
        self, *, plan_id: UUID, year: int, from_line: str, to_line: str, amount: Money, date: dt.date,
        decided_by: str | None, decision_ref: str | None, reason: str | None, actor: str, key: str | None = None,
    ) -> Recorded:
        """Move money between two lines; a pool funded by either line follows."""
        content = {
            "plan": str(plan_id), "year": year, "from": from_line, "to": to_line, "amount": amount.ore,
            "date": _iso(date), "decided_by": decided_by, "decision_ref": decision_ref, "reason": reason,
        }

        def decide() -> Decision:
            plan: Plan = self._get(plan_id, "plan")
            timestamp = self.now()
            plan.reallocate(
                year=year, from_line=from_line, to_line=to_line, amount=amount, date=date, decided_by=decided_by,
                decision_ref=decision_ref, reason=reason, actor=actor, timestamp=timestamp,
            )
            event_version = plan.version
            record = plan.reallocations[event_version]
            pools = self._follow_lines(
                plan, record.year, [(record.from_line, -amount.ore), (record.to_line, amount.ore)], event_version,
                date=date, decided_by=plan.reallocation_body, decision_ref=decision_ref, reason=reason,
                actor=actor, timestamp=timestamp,
            )
            return Decision([plan, *pools], plan_id, event_version)

        return self._run("reallocate", content, key, actor, decide)

    def _follow_lines(
        self, plan: Plan, year: int, changes: Iterable[tuple[str, int]], cause_version: int, *,
        reversing: int | None = None, **details: Any,
    ) -> list[Pool]:
        """Change the funding of the pools funded by the given lines, in the plan year.

        When `reversing` is a plan version, each pool's change points back at
        the funding change that reallocation made.
        """
        if year != plan.year:
            return []
        pools = []
        for line, ore in changes:
            terms = plan.pool_of_line(line)
            if terms is None:
                continue
            pool: Pool = self._get(ids.pool_id(plan.partnership, terms.key, plan.year), "pool")
            reverses = None
            if reversing is not None:
                reverses = next(
                    (v for v, e in pool.entries.items() if e.cause_id == str(plan.id) and e.cause_version == reversing),
                    None,
                )
            pool.change_funding(
                change=Money(ore), cause_id=plan.id, cause_version=cause_version, reverses=reverses, **details
            )
            pools.append(pool)
        return pools

    # ------------------------------------------------------------------ pools

    def award(
        self, *, pool_id: UUID, recipient: str, purpose: str, area: str | None, amount: Money,
        requested: Money | None, date: dt.date, decided_by: str | None, decision_ref: str | None, actor: str,
        key: str | None = None,
    ) -> Recorded:
        content = {
            "pool": str(pool_id), "recipient": recipient, "purpose": purpose, "area": area, "amount": amount.ore,
            "requested": requested.ore if requested else None, "date": _iso(date), "decided_by": decided_by,
            "decision_ref": decision_ref,
        }

        def decide() -> Decision:
            pool: Pool = self._get(pool_id, "pool")
            number = pool.award(
                recipient=recipient, purpose=purpose, area=area, amount=amount, requested=requested, date=date,
                decided_by=decided_by, decision_ref=decision_ref, actor=actor, timestamp=self.now(),
            )
            return Decision([pool], pool_id, pool.version, grant=number)

        return self._run("grant award", content, key, actor, decide)

    def disburse(
        self, *, pool_id: UUID, number: str, amount: Money, date: dt.date, payment_ref: str | None, actor: str,
        key: str | None = None,
    ) -> Recorded:
        content = {"grant": number, "amount": amount.ore, "date": _iso(date), "payment_ref": payment_ref}

        def decide() -> Decision:
            pool: Pool = self._get(pool_id, "pool")
            pool.disburse(number=number, amount=amount, date=date, payment_ref=payment_ref, actor=actor, timestamp=self.now())
            return Decision([pool], pool_id, pool.version, grant=pool.grant(number).number)

        return self._run("grant disburse", content, key, actor, decide)

    def take_back(
        self, *, pool_id: UUID, number: str, amount: Money, date: dt.date, reason: str | None, actor: str,
        key: str | None = None,
    ) -> Recorded:
        content = {"grant": number, "amount": amount.ore, "date": _iso(date), "reason": reason}

        def decide() -> Decision:
            pool: Pool = self._get(pool_id, "pool")
            pool.take_back(number=number, amount=amount, date=date, reason=reason, actor=actor, timestamp=self.now())
            return Decision([pool], pool_id, pool.version, grant=pool.grant(number).number)

        return self._run("grant return", content, key, actor, decide)

    def withdraw(
        self, *, pool_id: UUID, number: str, date: dt.date, reason: str | None, actor: str, key: str | None = None,
    ) -> Recorded:
        content = {"grant": number, "date": _iso(date), "reason": reason}

        def decide() -> Decision:
            pool: Pool = self._get(pool_id, "pool")
            released = pool.withdraw(number=number, date=date, reason=reason, actor=actor, timestamp=self.now())
            return Decision(
                [pool], pool_id, pool.version, grant=pool.grant(number).number, extra={"released_ore": released.ore}
            )

        return self._run("grant withdraw", content, key, actor, decide)

    def close_pool(
        self, *, pool_id: UUID, date: dt.date, decided_by: str | None, decision_ref: str | None, actor: str,
        key: str | None = None,
    ) -> Recorded:
        content = {"pool": str(pool_id), "date": _iso(date), "decided_by": decided_by, "decision_ref": decision_ref}

        def decide() -> Decision:
            pool: Pool = self._get(pool_id, "pool")
            pool.close(date=date, decided_by=decided_by, decision_ref=decision_ref, actor=actor, timestamp=self.now())
            outstanding = sum(
                max(g.payable.total, 0) for g in pool.grants.values() if not g.reversed and not g.withdrawn
            )
            return Decision(
                [pool], pool_id, pool.version,
                extra={"unspent_ore": pool.unspent, "outstanding_ore": outstanding},
            )

        return self._run("pool close", content, key, actor, decide)

    # ------------------------------------------------------------------ reversal

    def reverse(
        self, *, originator_id: UUID, version: int, reason: str | None, date: dt.date | None, actor: str,
        key: str | None = None,
    ) -> Recorded:
        """A counter-entry for an earlier event, pointing back at it."""
        content = {"event": f"{originator_id}:{version}", "reason": reason, "date": _iso(date)}

        def decide() -> Decision:
            target = self._get(originator_id, "event")
            timestamp = self.now()
            if isinstance(target, Pool):
                entry = target.entries.get(version)
                if entry is not None and entry.kind == "FundingChanged":
                    if entry.cause_id is None or entry.cause_version is None:
                        raise ReversalError("that funding change has no reallocation behind it")
                    return self._reverse_reallocation(
                        UUID(entry.cause_id), entry.cause_version, reason, date, actor, timestamp
                    )
                target.reverse(version=version, reason=reason, date=date, actor=actor, timestamp=timestamp)
                return Decision([target], originator_id, target.version, grant=target.entries[version].number)
            if isinstance(target, Plan):
                return self._reverse_reallocation(originator_id, version, reason, date, actor, timestamp)
            raise ReversalError("that event records a command key; there is nothing to reverse")

        return self._run("reverse", content, key, actor, decide)

    def _reverse_reallocation(
        self, plan_id: UUID, version: int, reason: str | None, date: dt.date | None, actor: str, timestamp: dt.datetime
    ) -> Decision:
        plan: Plan = self._get(plan_id, "plan")
        if version not in plan.reallocations:
            if any(record.reversed_by == version for record in plan.reallocations.values()):
                raise ReversalError("that event reverses a reallocation; a reversal cannot be reversed")
            what = "the plan's adoption" if version == 1 else "a line's budget as adopted"
            raise ReversalError(f"{what} cannot be reversed; record a reallocation instead")
        plan.reverse_reallocation(version=version, reason=reason, date=date, actor=actor, timestamp=timestamp)
        record = plan.reallocations[version]
        pools = self._follow_lines(
            plan, record.year, [(record.to_line, -record.amount), (record.from_line, record.amount)], plan.version,
            reversing=version, date=date or record.date, decided_by=None, decision_ref=None, reason=reason,
            actor=actor, timestamp=timestamp,
        )
        return Decision([plan, *pools], plan_id, plan.version)

    # ------------------------------------------------------------------ machinery

    def _run(
        self, command: str, content: dict[str, Any], key: str | None, actor: str,
        decide: Callable[[], Decision | Recorded],
    ) -> Recorded:
        digest = hashlib.sha256(json.dumps([command, content], sort_keys=True, default=str).encode()).hexdigest()

        def attempt() -> Recorded:
            if key is not None:
                earlier = self._get_or_none(ids.command_key_id(key))
                if earlier is not None:
                    earlier.check_same(command, digest)
                    return self._recorded(
                        earlier.target_id, earlier.target_version, grant=earlier.grant, repeated=True,
                        write=[(earlier.id, 1)],
                    )
            decision = decide()
            if isinstance(decision, Recorded):
                return decision
            aggregates = list(decision.aggregates)
            if key is not None:
                aggregates.append(
                    CommandKey.record(
                        id=ids.command_key_id(key), key=key, command=command, digest=digest,
                        target_id=decision.target_id, target_version=decision.target_version,
                        grant=decision.grant, timestamp=self.now(), actor=actor, date=self.now().date(),
                    )
                )
            recordings = self.save(*aggregates)
            last = recordings[-1].domain_event
            return self._recorded(
                decision.target_id, decision.target_version, grant=decision.grant, extra=decision.extra,
                write=[(last.originator_id, last.originator_version)],
            )

        return self._retrying(attempt)

    def _retrying(self, attempt: Callable[[], Recorded]) -> Recorded:
        """Decide again on fresh state after a collision, with growing random pauses, for up to RETRY_SECONDS.

        A collision means another writer recorded first; deciding again is
        always safe (nothing of ours was written). Random pauses that grow
        with each loss keep many writers from colliding in step, so every one
        of them gets its turn.
        """
        deadline = time.monotonic() + RETRY_SECONDS
        losses = 0
        while True:
            try:
                return attempt()
            except RecordConflictError:
                pass
            except OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
            losses += 1
            if time.monotonic() > deadline:
                raise StorageConflictError(
                    f"other writers kept changing the same records for {RETRY_SECONDS:.0f} s "
                    f"({losses} attempts); nothing recorded"
                )
            time.sleep(random.uniform(0, min(0.005 * 2 ** min(losses, 7), 0.5)))

    def _get(self, aggregate_id: UUID, what: str) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"no {what} with id {aggregate_id}") from None

    def _get_or_none(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _recorded(
        self, originator_id: UUID, version: int, *, grant: str | None = None, repeated: bool = False,
        extra: dict[str, Any] | None = None, write: list[tuple[UUID, int]] | None = None,
    ) -> Recorded:
        """The main event's id and sequence, and the head after the whole write.

        `write` names the write's events whose latest chain link is the head
        the write left (a write may store several events after its main one).
        """
        position, head = self.store.position_of(originator_id, version)
        end = position
        for other_id, other_version in write or []:
            other_position, other_head = self.store.position_of(other_id, other_version)
            if other_position > end:
                end, head = other_position, other_head
        return Recorded(
            event_id=str(ids.event_id(originator_id, version)), sequence=position, head=head, grant=grant,
            repeated=repeated, extra=extra or {},
        )

    def catch_up(self, progress: Callable[[int], None] | None = None, *, processes: int | None = None) -> int:
        """Bring the stored read models up to the end of the log.

        Filling them from empty may take a second process (`processes` as
        for `ledger.forked.second_process`), which opens the ledger anew: not
        for a ledger in memory, which a second process cannot open.
        """
        in_memory = getattr(self.store.datastore, "is_sqlite_memory_mode", False)
        return catch_up(
            self.store, self.tracking, self.mapper.to_plain, progress=progress, processes=processes,
            reopen=None if in_memory else lambda: reopened(dict(self.env)),
        )

    def full_replay(self, page_size: int = 1000) -> Any:
        """The read models folded from the whole log, in memory (no stored view used)."""
        from projections.memory import MemoryState
        from projections.fold import apply

        state = MemoryState()
        last = 0
        while True:
            notifications = self.recorder.select_notifications(start=last + 1, limit=page_size)
            if not notifications:
                return state
            for notification in notifications:
                position, chain_hash = self.store.position_of(notification.originator_id, notification.originator_version)
                apply(state, self.mapper.to_domain_event(notification), position, chain_hash)
            last = notifications[-1].id

    def stored_views(self) -> Any:
        """The stored read models, as they are (no catch-up)."""
        from ledger.views import load_stored

        with self.store.read() as c:
            return load_stored(c)

    def events_of(self, aggregate_id: UUID) -> list[Any]:
        """Every event of one aggregate, in order (no snapshot)."""
        return list(self.events.get(aggregate_id))


def reopened(env: dict[str, str]) -> tuple[Any, Callable[[Any], Any], Callable[[], None]]:
    """The ledger opened anew (in a second process): its store, the read models' `decode`, and how to close it.

    It creates nothing (every table is there): on SQLite even a `CREATE TABLE
    IF NOT EXISTS` waits for the writers' lock, which the first process holds.
    """
    ledger = Ledger({**env, "CREATE_TABLE": "no"}, snapshotting=False)
    return ledger.store, ledger.mapper.to_plain, ledger.close


def _iso(date: dt.date | None) -> str | None:
    return date.isoformat() if date else None
