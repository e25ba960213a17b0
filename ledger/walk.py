"""Long walks over the log, and Python's cyclic garbage collector.

A walk over a million events keeps what it builds (the replayed aggregates,
the cached view rows) for the whole walk. The collector's periodic full
passes look at every one of those objects again and again: a quarter of a
`verify`. `frozen_pages` hands the walk a `settle` to call after each page,
which moves everything alive at that point out of the collector's sight
(`gc.freeze`), so a pass looks only at what the next page makes; cyclic
garbage within a page is still collected. On leaving, everything is given
back to the collector (`gc.unfreeze`), so a long-lived process (the test
suite) leaks nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def frozen_pages() -> Iterator[Callable[[], None]]:
    """Yield `settle`, to call after each page of a long walk."""
    try:
        yield gc.freeze
    finally:
        gc.unfreeze()
