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
from uuid import UUID

GENESIS = "0" * 64
_HEX = set("0123456789abcdef")


def link(previous: str, position: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> str:
    """The hash of one event, given the hash before it."""
    if isinstance(originator_id, UUID):
        oid = str(originator_id)
    elif len(originator_id) == 32 and not set(originator_id.lower()) - _HEX:
        text = originator_id.lower()
        oid = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    else:
        oid = str(UUID(originator_id))
    framed = b"".join(
        len(part).to_bytes(8, "big") + part
        for part in (previous.encode(), str(position).encode(), oid.encode(), str(version).encode(), topic.encode(), state)
    )
    return hashlib.sha256(framed).hexdigest()


_HASH = re.compile("[0-9a-fA-F]{64}")


def is_hash(text: str) -> bool:
    """64 lowercase or uppercase hex digits (ASCII only)."""
    return _HASH.fullmatch(text) is not None
