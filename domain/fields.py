"""A slotted dataclass instance's fields as a dict (standard library only).

`vars()` has nothing to give once a dataclass has `__slots__`, and
`dataclasses.asdict` deep-copies every value. Used for the domain's state
classes (snapshots).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def fields_of(obj: Any) -> dict[str, Any]:
    """The instance's fields, by name, in declaration order; the values themselves, not copies."""
    return {name: getattr(obj, name) for name in _field_names(type(obj))}
