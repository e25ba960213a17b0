"""The pydantic mapper: domain events to stored bytes and back, with upcasting.

eventsourcing 9.5 maps dataclass events through its JSON transcoder; our
events are pydantic models, so this mapper serialises them with pydantic
(`model_dump_json`) and validates them back strictly.

A stored event's state is the event's JSON without `originator_id` and
`originator_version` (those are columns of their own), compact, with keys in
the model's field order and mappings in the order they were given (a plan
line's budget posts keep the document's order). When an event class
changes shape it gets `class_version = N` and static methods
`upcast_v1_v2(state)`, ... that rewrite an old state dict in place; the
stored state of a version above 1 carries `"class_version": N`.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from domain.ids import canonical_id

_IDS = {"originator_id", "originator_version"}

#: The modules whose classes may be named by a stored topic. Reading an event
#: resolves its topic, which imports a module: a topic from a forged file or a
#: tampered row must never make pulje import anything else.
EVENT_MODULES = {"domain.plan", "domain.pool", "domain.keys", "domain.base"}


def allow_event_module(module: str) -> None:
    """Let topics name classes in one more module (tests defining events of their own)."""
    EVENT_MODULES.add(module)


def is_topic(topic: object) -> bool:
    """Whether a stored topic names a class in one of pulje's event modules."""
    if not isinstance(topic, str):
        return False
    module, colon, name = topic.partition(":")
    if topic in _TOPICS and module in EVENT_MODULES:  # a ledger has a dozen topics; each name is checked once
        return True
    good = bool(colon) and module in EVENT_MODULES and bool(name) and all(p.isidentifier() for p in name.split("."))
    if good and len(_TOPICS) < 1000:
        _TOPICS.add(topic)
    return good


_TOPICS: set[str] = set()

_CLASS_VERSION_KEY = b'"class_version":'


class _Shapes(dict):  # type: ignore[type-arg]
    """Topic -> (event class, its stored fields), for `to_plain`; None where the model must read the event.

    Only current (version 1) classes of pulje's event modules have a shape:
    a topic outside them, or an older shape that needs upcasting, does not.
    """

    def __missing__(self, topic: str) -> tuple[type, set[str]] | None:
        shape = None
        if is_topic(topic):
            try:
                cls = resolve_topic(topic)
            except Exception:  # noqa: BLE001 - to_domain_event reports an unresolvable topic
                cls = None
            if cls is not None and getattr(cls, "class_version", 1) == 1 and hasattr(cls, "model_fields"):
                shape = (cls, set(cls.model_fields) - _IDS)
        if len(self) < 1000:
            self[topic] = shape
        return shape


_SHAPES = _Shapes()


class PydanticMapper(Mapper[UUID]):
    """Maps pydantic domain events to `StoredEvent` and back."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        cls = type(domain_event)
        state = domain_event.model_dump(mode="json", exclude=_IDS)
        version = getattr(cls, "class_version", 1)
        if version > 1:
            state["class_version"] = version
        data = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(cls),
            state=data,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self.read(stored_event.originator_id, stored_event.originator_version, stored_event.topic,
                         stored_event.state)[0]

    def read(self, originator_id: UUID | str, version: int, topic: Any, state: Any) -> tuple[Any, bytes | None]:
        """`to_domain_event` of a stored event's columns, and the exact JSON the model validated.

        The JSON is None where the model read something else (an old shape,
        or a ledger with a cipher or compressor). For `verify`: the validated
        event serialises to those very bytes when the stored JSON is what
        pulje writes.
        """
        data = bytes(state)
        if self.cipher:
            data = self.cipher.decrypt(data)
        if self.compressor:
            data = self.compressor.decompress(data)
        if not is_topic(topic):
            raise ValueError(f"{str(topic)[:80]!r} is not the topic of a pulje event")
        event, validated = decode(resolve_topic(topic), originator_id, version, data)
        return event, None if self.cipher or self.compressor else validated

    def to_plain(self, stored_event: StoredEvent) -> tuple[type, dict[str, Any]]:
        """The event class and the event's plain form (`projections.fold.plain`), read from its stored JSON.

        For the read models' fold: a stored event was validated when it was
        recorded, so its JSON is already the plain form and only needs its
        ids back. An old shape (a class version below the current), a stored
        state whose fields are not exactly the class's, a state orjson cannot
        read, and any ledger with a cipher or compressor go through the model
        instead (`to_domain_event`, then its JSON form), which reads or
        refuses them as it always has. orjson reads the JSON: exact for
        every integer a recorded event can hold (money stops at MAX_ORE); an
        integer beyond 64 bits, written behind pulje's back, may come back as
        a float, and `verify`, which validates every event, reports it.
        """
        return self.plain(stored_event.originator_id, stored_event.originator_version, stored_event.topic,
                          stored_event.state)

    def plain(self, originator_id: Any, version: int, topic: Any, state: Any) -> tuple[type, dict[str, Any]]:
        """`to_plain` of a stored event's columns (a walk over pages of rows builds no `StoredEvent` for it)."""
        shape = _SHAPES[topic] if isinstance(topic, str) and not (self.cipher or self.compressor) else None
        if shape is not None:
            cls, stored_fields = shape
            try:
                data = orjson.loads(state if type(state) is bytes else bytes(state))
            except (TypeError, ValueError):  # not JSON, or integers orjson will not read: the model's turn
                data = None
            if type(data) is dict and data.keys() == stored_fields:
                data["originator_id"] = canonical_id(originator_id)
                data["originator_version"] = version
                return cls, data
        event = self.to_domain_event(StoredEvent(originator_id, version, topic, state))
        return type(event), event.model_dump(mode="json")


def decode_event(cls: Any, originator_id: UUID | str, version: int, data: bytes) -> Any:
    """Validate stored JSON as an event of `cls`, upcasting old shapes."""
    return decode(cls, originator_id, version, data)[0]


def decode(cls: Any, originator_id: UUID | str, version: int, data: bytes) -> tuple[Any, bytes | None]:
    """`decode_event`, and the JSON it validated where that is the stored JSON with the ids spliced in (else None)."""
    current = getattr(cls, "class_version", 1)
    oid = canonical_id(originator_id)
    if current == 1 and _CLASS_VERSION_KEY not in data:
        # The common case: splice the ids in and validate the JSON in one pass, with the model's own validator
        # (as `model_validate_json` calls it without options; its wrapping was a tenth of validating an event).
        head = b'{"originator_id":"' + oid.encode() + b'","originator_version":' + str(version).encode()
        body = data[1:].lstrip()
        whole = head + (b"," + body if body != b"}" else b"}")
        return cls.__pydantic_validator__.validate_json(whole), whole
    state = json.loads(data)
    stored = state.pop("class_version", 1)
    while stored < current:
        getattr(cls, f"upcast_v{stored}_v{stored + 1}")(state)
        stored += 1
    state["originator_id"] = oid
    state["originator_version"] = version
    return cls.model_validate_json(json.dumps(state, ensure_ascii=False)), None
