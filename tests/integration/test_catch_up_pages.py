"""A catch-up remembers the view rows it read from one page to the next, and forgets them when it must.

`ledger.views.catch_up` keeps the rows of its last page for the next one
(one query per grant instead of one per event), which is right only while
no other process applied events in between. Here a second ledger applies a
page between two of the first one's pages, deterministically, in one
process; the views must still equal a full replay. The import keeps rows
across its pages the same way, inside its one transaction.

A bulk fill of empty views (a first catch-up of many events, an import)
drops the audit view's unique index of event ids and builds it in the
transaction of its last page: it is whole whenever the views are current.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.service import Pulje
from ledger.views import AUDIT_INDEXES, catch_up
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
        catch_up(ledger.store, ledger.tracking, ledger.mapper.to_plain, page_size=PAGE, progress=after_page)
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

        applied = catch_up(ledger.store, ledger.tracking, ledger.mapper.to_plain, page_size=PAGE,
                           progress=after_page)
        assert interrupted == [PAGE, PAGE, PAGE]
        head = ledger.store.head()[0]
        assert applied + sum(interrupted) == head  # every event applied once, by one or the other
        assert views_problems(generated, ledger) == []


def test_a_catch_up_alone_over_many_pages_gives_the_replay(generated: str) -> None:
    put_views_behind(generated, "emptied")
    with Pulje(generated, "alone") as session:
        ledger = session.ledger
        applied = catch_up(ledger.store, ledger.tracking, ledger.mapper.to_plain, page_size=PAGE)
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
        assert has_audit_indexes(target, ledger)


def has_audit_indexes(db: str, ledger: object) -> bool:
    """Whether the audit view has its secondary indexes: all of them (True) or none (False)."""
    names = tuple(AUDIT_INDEXES)
    query = (
        f"SELECT COUNT(*) FROM pg_indexes WHERE indexname IN {names} AND schemaname = current_schema()"
        if db.startswith("postgresql") else f"SELECT COUNT(*) FROM sqlite_master WHERE name IN {names}"
    )
    with ledger.store.read() as c:  # type: ignore[attr-defined]
        c.execute(query)
        found = c.fetchone()[0]
    assert found in (0, len(names)), f"{found} of the audit view's {len(names)} indexes"
    return found == len(names)


def test_a_bulk_catch_up_builds_the_event_id_index_in_its_last_page(generated: str) -> None:
    put_views_behind(generated, "emptied")
    with Pulje(generated, "bulk") as session:
        ledger = session.ledger
        assert has_audit_indexes(generated, ledger)
        indexed: list[bool] = []
        applied = catch_up(ledger.store, ledger.tracking, ledger.mapper.to_plain, page_size=PAGE,
                           bulk_from=PAGE, progress=lambda _: indexed.append(has_audit_indexes(generated, ledger)))
        assert applied == ledger.store.head()[0]
        assert indexed[:-1] == [False] * (len(indexed) - 1) and indexed[-1]  # dropped at the first page, built in the last
        assert views_problems(generated, ledger) == []


def test_an_interrupted_bulk_catch_up_leaves_the_index_to_the_next_one(generated: str) -> None:
    put_views_behind(generated, "emptied")
    with Pulje(generated, "interrupted") as first:
        ledger = first.ledger

        def stop_after_two(_: int, pages: list[int] = []) -> None:  # noqa: B006 - counts this test's pages
            pages.append(1)
            if len(pages) == 2:
                raise Stop

        with pytest.raises(Stop):
            catch_up(ledger.store, ledger.tracking, ledger.mapper.to_plain, page_size=PAGE, bulk_from=PAGE,
                     progress=stop_after_two)
        assert not has_audit_indexes(generated, ledger)
    with Pulje(generated, "next") as second:  # any reading command catches up the rest
        second.status()
        assert has_audit_indexes(generated, second.ledger)
        assert views_problems(generated, second.ledger) == []


def test_a_catch_up_below_the_bulk_size_keeps_the_index(generated: str) -> None:
    put_views_behind(generated, "emptied")
    with Pulje(generated, "small") as session:
        ledger = session.ledger
        indexed: list[bool] = []
        catch_up(ledger.store, ledger.tracking, ledger.mapper.to_plain, page_size=PAGE,
                 progress=lambda _: indexed.append(has_audit_indexes(generated, ledger)))
        assert indexed and all(indexed)  # 1,500 events are fewer than BULK_FROM
