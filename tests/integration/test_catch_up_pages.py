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

Filling empty views may take a second process that reads the pages ahead
(each event's plain form and audit line); the views must be the replay
whether it finishes, stops half-way, never starts, or reads pages that
another process applies first, and what it reads must be what is applied.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.app import reopened
from ledger.service import Pulje
from ledger.views import AUDIT_INDEXES, ChainGapError, UnreadableEventError, catch_up
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


@pytest.mark.parametrize("processes", [1, 2])
def test_a_catch_up_interrupted_between_its_pages_still_gives_the_replay(generated: str, processes: int) -> None:
    put_views_behind(generated, "emptied")
    with Pulje(generated, "first") as first, Pulje(generated, "second") as second:
        ledger = first.ledger
        seen: list[int] = []
        interrupted: list[int] = []

        def after_page(applied: int) -> None:
            seen.append(applied)
            if len(seen) in (2, 5, 6):  # the other process applies a page here (twice in a row once)
                interrupted.append(one_page(second))

        env = dict(ledger.env)
        applied = catch_up(ledger.store, ledger.tracking, ledger.mapper.to_plain, page_size=PAGE,
                           progress=after_page, processes=processes, reopen=lambda: reopened(env))
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


def two_processes(ledger: object, reopen: object = None, **options: object) -> int:
    """A catch-up whose second process reads the pages ahead (through `reopen`, by default the ledger reopened)."""
    env = dict(ledger.env)  # type: ignore[attr-defined]
    return catch_up(ledger.store, ledger.tracking, ledger.mapper.to_plain, page_size=PAGE,  # type: ignore[attr-defined]
                    processes=2, reopen=reopen or (lambda: reopened(env)), **options)


def reading(env: dict[str, str], change: object) -> object:
    """A reopen whose `decode` passes what it reads through `change` (event number, class, plain form)."""
    def reopen() -> tuple[object, object, object]:
        store, decode, close = reopened(env)
        seen = [0]

        def changed(stored: object) -> object:
            seen[0] += 1
            return change(seen[0], *decode(stored))  # type: ignore[operator]

        return store, changed, close

    return reopen


def test_a_catch_up_in_two_processes_gives_the_replay(generated: str) -> None:
    put_views_behind(generated, "emptied")
    with Pulje(generated, "two") as session:
        ledger = session.ledger
        indexed: list[bool] = []
        applied = two_processes(ledger, bulk_from=PAGE,
                                progress=lambda _: indexed.append(has_audit_indexes(generated, ledger)))
        assert applied == ledger.store.head()[0]
        assert len(indexed) == -(-applied // PAGE)  # page by page
        assert indexed[:-1] == [False] * (len(indexed) - 1) and indexed[-1]
        assert views_problems(generated, ledger) == []


def test_what_the_second_process_reads_is_what_the_views_apply(generated: str) -> None:
    # The counter-test of the one above: a second process that reads every amount doubled leaves views that
    # are not the replay, so its pages were the ones applied.
    def doubled(_: int, cls: type, e: dict) -> tuple[type, dict]:
        return cls, {**e, "amount": e["amount"] * 2} if "amount" in e else e

    put_views_behind(generated, "emptied")
    with Pulje(generated, "doubled") as session:
        ledger = session.ledger
        assert two_processes(ledger, reading(dict(ledger.env), doubled)) == ledger.store.head()[0]
        problems = views_problems(generated, ledger)
        assert any("pools" in p for p in problems) and any("audit" in p for p in problems), problems


def test_a_second_process_that_stops_half_way_leaves_the_rest_to_the_first(generated: str) -> None:
    def stops(number: int, cls: type, e: dict) -> tuple[type, dict]:
        if number > 7 * PAGE + 50:
            raise RuntimeError("the second process stops here")
        return cls, e

    put_views_behind(generated, "emptied")
    with Pulje(generated, "stops") as session:
        ledger = session.ledger
        assert two_processes(ledger, reading(dict(ledger.env), stops)) == ledger.store.head()[0]
        assert views_problems(generated, ledger) == []


def test_a_second_process_that_cannot_open_the_ledger_leaves_it_all_to_the_first(generated: str) -> None:
    def cannot() -> None:
        raise OSError("no second process today")

    put_views_behind(generated, "emptied")
    with Pulje(generated, "alone") as session:
        ledger = session.ledger
        assert two_processes(ledger, cannot) == ledger.store.head()[0]
        assert views_problems(generated, ledger) == []


@pytest.mark.parametrize("processes", [1, 2])
def test_a_catch_up_stops_at_an_event_the_fold_cannot_apply_however_many_processes_read(
    generated: str, processes: int
) -> None:
    # The amount of the 900th event, a grant award, made text: the second process reads it (its shape is
    # right); the fold of the balances, in the first, refuses it.
    from tests.conftest import RawSQL

    raw = RawSQL(generated)
    put_views_behind(generated, "emptied")
    with Pulje(generated, "unreadable") as session:
        ledger = session.ledger
        with ledger.store.read() as c:
            c.execute("SELECT {nid}, state FROM {events} WHERE topic LIKE ? AND {nid} > 900 ORDER BY {nid} LIMIT 1",
                      ("%GrantAwarded",))
            nid, state = c.fetchone()
        changed = json.loads(bytes(state))
        changed["amount"] = "lots"
        raw.run("UPDATE {events} SET state = ? WHERE {nid} = ?", (json.dumps(changed).encode(), nid))
        with pytest.raises(UnreadableEventError, match=rf"^stored event {nid} cannot be read into the read models \("):
            if processes == 2:
                two_processes(ledger)
            else:
                catch_up(ledger.store, ledger.tracking, ledger.mapper.to_plain, page_size=PAGE)
        with ledger.store.read() as c:
            assert 0 < ledger.store.tracked(c, "views") < nid  # the pages before it applied, its own not


@pytest.mark.parametrize("processes", [1, 2])
def test_a_catch_up_stops_at_an_event_with_no_place_in_the_chain_however_many_processes_read(
    generated: str, processes: int
) -> None:
    from tests.conftest import RawSQL

    put_views_behind(generated, "emptied")
    RawSQL(generated).run("DELETE FROM event_chain WHERE notification_id = 777")
    with Pulje(generated, "gap") as session:
        ledger = session.ledger
        with pytest.raises(ChainGapError, match="^stored event 777 has no place in the integrity chain$"):
            if processes == 2:
                two_processes(ledger)
            else:
                catch_up(ledger.store, ledger.tracking, ledger.mapper.to_plain, page_size=PAGE)


def test_the_second_process_opens_the_ledger_while_the_first_holds_the_writers_lock(
    generated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A catch-up forks its reader inside its first page's write transaction: a reopen that wanted the lock
    # (on SQLite even a CREATE TABLE IF NOT EXISTS does) would wait for it, here a second, then fail.
    import ledger.sqlite

    monkeypatch.setattr(ledger.sqlite, "LOCK_TIMEOUT_SECONDS", 1)
    with Pulje(generated, "first") as session:
        first = session.ledger
        with first.store.write() as c:
            c.execute("SELECT MAX({nid}) FROM {events}")
            last = c.fetchone()[0]
            store, _, close = reopened(dict(first.env))
            try:
                with store.read() as r:
                    assert store.last_notification(r) == last
            finally:
                close()


def test_the_ledger_fills_empty_views_in_two_processes_when_asked(generated: str) -> None:
    put_views_behind(generated, "emptied")
    with Pulje(generated, "ledger") as session:
        ledger = session.ledger
        assert ledger.catch_up(processes=2) == ledger.store.head()[0]
        assert ledger.catch_up(processes=2) == 0  # nothing left: no second process started
        assert views_problems(generated, ledger) == []
