"""The base of every aggregate and event: pydantic events on eventsourcing.

Events are frozen, strict pydantic models that eventsourcing can apply to an
aggregate (`CanMutateAggregate`). Every event records who recorded it
(`actor`), when (`timestamp`, UTC, from the application's injected clock) and
the effective date the user gave (`date`). Decisions also carry the deciding
body, a decision reference and, where they change a decision, a reason.

Aggregates keep their state in plain attributes and turn it into JSON-ready
data for snapshots with `snapshot_state` / `restore_state`, so a snapshot
never depends on how pickling or pydantic would guess a type.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate, CanSnapshotAggregate
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel, ConfigDict, GetPydanticSchema


def _utc_datetime_schema(source: Any, handler: Any) -> Any:
    from pydantic_core import core_schema

    return core_schema.datetime_schema(tz_constraint=0, strict=True)


#: A datetime with a timezone whose offset is 0 (UTC), refused otherwise. Checked inside pydantic's validator:
#: a validator of our own, called for every event read, was a twentieth of validating one.
UtcDatetime = Annotated[dt.datetime, GetPydanticSchema(_utc_datetime_schema)]


class Fact(BaseModel):
    """A frozen, strict value inside an event."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class DomainEvent(Fact):
    """What every stored event records.

    Attributes:
        originator_id: the aggregate the event belongs to.
        originator_version: its position in that aggregate's history.
        timestamp: when it was recorded (UTC, set by the system).
        actor: who recorded it.
        date: the effective date the user gave (decision or payment date).
        decided_by: the deciding body, for decisions.
        decision_ref: the decision's reference, e.g. the meeting minutes.
        reason: why, where the event changes or undoes a decision.
    """

    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: UtcDatetime
    actor: str
    date: dt.date
    decided_by: str | None = None
    decision_ref: str | None = None
    reason: str | None = None

    @property
    def kind(self) -> str:
        """The event's kind, e.g. `GrantAwarded`."""
        return type(self).__name__


class Aggregate(BaseAggregate[UUID]):
    """An event-sourced aggregate whose events are pydantic models."""

    class Event(DomainEvent, CanMutateAggregate[UUID]):
        def apply(self, aggregate: Any) -> None:
            aggregate.apply_event(self)

    class Created(Event, CanInitAggregate[UUID]):
        originator_topic: str

    def apply_event(self, event: DomainEvent) -> None:
        """Evolve the state by one event; each aggregate dispatches on kind (`_on_<kind>`, looked up once per class)."""
        key = (type(self), type(event))
        handler = _HANDLERS.get(key)
        if handler is None:
            handler = getattr(type(self), f"_on_{event.kind}", None)
            if handler is None:
                raise TypeError(f"{type(self).__name__} cannot apply {event.kind}")
            _HANDLERS[key] = handler
        handler(self, event)

    def snapshot_state(self) -> dict[str, Any]:
        """The aggregate's state as JSON-ready data."""
        raise NotImplementedError

    def restore_state(self, state: dict[str, Any]) -> None:
        """Set the state from `snapshot_state` data."""
        raise NotImplementedError


#: (aggregate class, event class) -> its handler: a replay applies millions of events of a dozen kinds.
_HANDLERS: dict[tuple[type, type], Any] = {}


class Snapshot(DomainEvent, CanSnapshotAggregate[UUID]):
    """The state of an aggregate at one version, to load it without replay."""

    actor: str = "system"
    date: dt.date = dt.date(1970, 1, 1)
    topic: str
    state: dict[str, Any]

    @classmethod
    def take(cls, aggregate: Any) -> Snapshot:
        return cls(
            originator_id=aggregate.id,
            originator_version=aggregate.version,
            timestamp=aggregate.modified_on,
            topic=get_topic(type(aggregate)),
            state=aggregate.snapshot_state(),
        )

    def mutate(self, _: Any) -> Any:
        cls = resolve_topic(self.topic)
        aggregate = object.__new__(cls)
        aggregate.__base_init__(self.originator_id, self.originator_version, self.timestamp)
        aggregate.restore_state(self.state)
        return aggregate


def utc(value: dt.datetime) -> dt.datetime:
    """The same instant as an aware UTC datetime (refuses naive datetimes)."""
    if value.tzinfo is None:
        raise ValueError("a naive datetime has no place in the ledger; give it a timezone")
    return value.astimezone(dt.timezone.utc)
