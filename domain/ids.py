"""Aggregate ids derived from what identifies a thing, so a retry finds it.

A plan is the partnership's plan for one year; a pool is one pool of that plan
in that year; a command key is the key a user gave. Deriving the ids (uuid5)
instead of drawing them makes a second import of the same plan collide with
the first, and makes a replay produce the same ids.
"""

from __future__ import annotations

from hashlib import sha1
from uuid import UUID, uuid5

from domain.rules import body_key

NAMESPACE = UUID("6d1f2b0e-59a4-4c1b-9a53-2f7c1e0b8a11")


def plan_id(partnership: str, year: int) -> UUID:
    return uuid5(NAMESPACE, f"plan/{body_key(partnership)}/{year}")


def pool_id(partnership: str, pool: str, year: int) -> UUID:
    return uuid5(NAMESPACE, f"pool/{body_key(partnership)}/{pool.casefold()}/{year}")


def command_key_id(key: str) -> UUID:
    return uuid5(NAMESPACE, f"key/{key}")


def event_id(originator_id: UUID, version: int) -> UUID:
    """A stable id for the event at `version` of an aggregate (uuid5 of the version in the aggregate's namespace)."""
    return uuid5(originator_id, str(version))


def event_id_text(originator_id: UUID | str, version: int) -> str:
    """`str(event_id(originator_id, version))`, without building UUID objects; the id as a UUID or its text.

    uuid5 by hand (RFC 4122: the first 16 bytes of the SHA-1 of the
    namespace's bytes and the name, with the version digit 5 and the variant
    bits 10): the read models' fold writes one per event, and
    two UUID objects per event were a tenth of a catch-up. Each aggregate's
    bytes are worked out once. A test holds the two equal.
    """
    namespace = _ID_BYTES.get(originator_id)
    if namespace is None:
        namespace = (originator_id if isinstance(originator_id, UUID) else UUID(originator_id)).bytes
        if len(_ID_BYTES) >= 10_000:
            _ID_BYTES.clear()
        _ID_BYTES[originator_id] = namespace
    h = sha1(namespace + str(version).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


#: An aggregate id (a UUID or its text) -> its 16 bytes, the namespace of its events' ids.
_ID_BYTES: dict[UUID | str, bytes] = {}


#: The first hex digit of uuid5's clock_seq_hi_and_reserved: its top two bits set to 10 (RFC 4122's variant).
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def canonical_id(originator_id: UUID | str) -> str:
    """The dashed lowercase text of an aggregate id, from a UUID or its hex or dashed text."""
    known = _CANONICAL.get(originator_id)
    if known is not None:  # a ledger has few aggregates and many events each: each id is checked once
        return known
    if isinstance(originator_id, UUID):
        known = str(originator_id)
    elif len(text := originator_id.lower()) == 32 and all(c in "0123456789abcdef" for c in text):
        known = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    else:
        known = str(UUID(text))
    if len(_CANONICAL) >= 10_000:
        _CANONICAL.clear()
    _CANONICAL[originator_id] = known
    return known


_CANONICAL: dict[UUID | str, str] = {}


def uuid_of(text: str) -> UUID:
    """`UUID(text)`, remembered: a log names each of its few aggregates many times."""
    known = _UUIDS.get(text)
    if known is None:
        known = UUID(text)
        if len(_UUIDS) >= 10_000:
            _UUIDS.clear()
        _UUIDS[text] = known
    return known


_UUIDS: dict[str, UUID] = {}
