"""The integrity chain: every stored event linked to the one before it.

Each event at position n gets `hash_n = sha256(hash_{n-1}, n, originator id,
version, topic, state)`, over a framing that cannot be confused (every field
is length-prefixed). Position 1 links to `GENESIS`. The newest hash is the
ledger's head: whoever wrote it down can later prove that the ledger still
contains, unchanged, everything up to that point.
"""

from __future__ import annotations

import hashlib
import re
from struct import Struct
from uuid import UUID

from domain.ids import canonical_id

GENESIS = "0" * 64
_LENGTH = Struct(">Q").pack


def link(previous: str, position: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> str:
    """The hash of one event, given the hash before it."""
    p, n, o = previous.encode(), str(position).encode(), canonical_id(originator_id).encode()
    v, t = str(version).encode(), topic.encode()
    framed = b"".join((
        _LENGTH(len(p)), p, _LENGTH(len(n)), n, _LENGTH(len(o)), o, _LENGTH(len(v)), v, _LENGTH(len(t)), t,
        _LENGTH(len(state)), state,
    ))
    return hashlib.sha256(framed).hexdigest()


_HASH = re.compile("[0-9a-fA-F]{64}")


def is_hash(text: str) -> bool:
    """64 lowercase or uppercase hex digits (ASCII only)."""
    return _HASH.fullmatch(text) is not None
