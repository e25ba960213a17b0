"""A catch-up remembers the view rows it read from one page to the next, and forgets them when it must.

`ledger.views.catch_up` keeps the rows of its last page for the next one
(one query per grant instead of one per event), which is right only while
no other process applied events in between. Here a second ledger applies a
page between two of the first one's pages, deterministically, in one
process; the views must still equal a full replay. The import keeps rows
across its pages the same way, inside its one transaction.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.service import Pulje
from ledger.views import catch_up
from tests.reliability.ledger_checks import put_views_behind, views_problems

EVENTS = 1500
PAGE = 100


class Stop(Exception):
    """Ends the interrupting catch-up after one page."""


@pytest.fixture
def generated(ledger_db: str) -> str:
    from bench.generate import generate

    generate(ledger_db, EVENTS, progress=False)
    return ledger_db


def one_page(session: Pulje) -> int:
    """Let `session` apply exactly one page of events, as another process would."""
    ledger = session.ledger
    pages: list[int] = []

    def after_page(applied: int) -> None:
        pages.append(applied)
        raise Stop

    try:
        catch_up(ledger.store, ledger.tracking, ledger.mapper.to_domain_event, page_size=PAGE, progress=after_page)
    except Stop:
        pass
    return sum(pages)


def test_a_catch_up_interrupted_between_its_pages_still_gives_the_replay(generated: str) -> None:
    put_views_behind(generated, "emptied")
    with Pulje(generated, "first") as first, Pulje(generated, "second") as second:
        ledger = first.ledger
        seen: list[int] = []
        interrupted: list[int] = []

        def after_page(applied: int) -> None:
            seen.append(applied)
            if len(seen) in (2, 5, 6):  # the other process applies a page here (twice in a row once)
                interrupted.append(one_page(second))

        applied = catch_up(ledger.store, ledger.tracking, ledger.mapper.to_domain_event, page_size=PAGE,
                           progress=after_page)
        assert interrupted == [PAGE, PAGE, PAGE]
        head = ledger.store.head()[0]
        assert applied + sum(interrupted) == head  # every event applied once, by one or the other
        assert views_problems(generated, ledger) == []


def test_a_catch_up_alone_over_many_pages_gives_the_replay(generated: str) -> None:
    put_views_behind(generated, "emptied")
    with Pulje(generated, "alone") as session:
        ledger = session.ledger
        applied = catch_up(ledger.store, ledger.tracking, ledger.mapper.to_domain_event, page_size=PAGE)
        assert applied == ledger.store.head()[0]
        assert views_problems(generated, ledger) == []


def test_an_import_of_many_pages_gives_the_replay(generated: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ledger.exports
    from ledger.exports import import_events

    monkeypatch.setattr(ledger.exports, "PAGE", PAGE)  # fifteen pages of the import's one transaction
    with Pulje(generated, "export") as source:
        exported = tmp_path / "events.jsonl"
        with exported.open("w", encoding="utf-8") as out:
            source.export("jsonl", out)
    target = str(tmp_path / "imported.db")
    with Pulje(target, "import") as session:
        ledger = session.ledger
        import_events(ledger, str(exported))  # the import alone: the service's catch-up afterwards is not run
        assert ledger.store.head()[0] >= EVENTS
        with ledger.store.read() as c:
            assert ledger.store.tracked(c, "views") == ledger.store.last_notification(c)  # followed, no catch-up needed
        assert views_problems(target, ledger) == []
