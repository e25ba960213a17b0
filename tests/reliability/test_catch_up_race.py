"""Several processes catching up the read models at once, on SQLite and on PostgreSQL: each event applied once.

A ledger of many events (bench/generate.py's `generate()`, a few plan years
of several partnerships) has its read models put behind the log, in one of
two ways:

- emptied: the view tables are emptied and the views' tracking row deleted,
  as an interrupted catch-up or a restore might leave them;
- dropped: the views' version row (`view_meta`) is deleted, so the next
  process that opens the ledger drops and recreates every view table (what a
  new pulje version does); the racing processes open the ledger only after
  the gate, so they race to rebuild the views as well as to fill them.

Then two or more real processes, started together through the gate of
`tests/integration/test_concurrency.py`, each call `catch_up()`. A third kind
of process may record decisions meanwhile (the application's own writes,
which leave the views to the catch-up while they are behind). Afterwards, on
the ledger as the processes left it (the test catches nothing up itself):

- every process exited 0, with no storage error and no traceback;
- none missed: the views' tracking stands at the last notification id and
  the audit view has exactly one row per chain position, 1..N;
- none applied twice: the events the processes report applying add up to
  the number of events (when nobody wrote meanwhile), and every plan, line,
  pool and grant row equals a full replay of the log (a payment applied twice
  would double a grant's `disbursed`);
- `verify` is ok.

The processes take the page lock in turns; the figures say how the pages were
shared out, so a run where one process did everything is visible.
"""

from __future__ import annotations

import shutil
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.service import Pulje
from tests.conftest import RawSQL
from tests.integration.test_concurrency import DEADLOCK_SECONDS, PRELUDE, gate
from tests.reliability.ledger_checks import (
    event_count,
    postgres_location,
    put_views_behind,
    replay,
    skip_unless_soak,
    version_gaps,
)

EVENTS = 8_000
SOAK_EVENTS = 100_000

CATCH_UP = PRELUDE + textwrap.dedent(
    """
    from ledger.service import Pulje

    db, gate, name, open_first = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "open-first"
    session = Pulje(db, f"catch-up-{name}")
    if open_first:
        session.ledger  # the views exist (behind); only the catch-up happens after the gate
    else:
        import ledger.app  # imported, not opened: opening after the gate races to rebuild the views
    ready_and_wait(gate, name)
    began = time.monotonic()
    try:
        applied = session.ledger.catch_up()
        result = {"applied": applied}
    except Exception as error:  # every failure is reported; the test allows none
        result = outcome(error)
    result["seconds"] = round(time.monotonic() - began, 3)
    session.close()
    print(json.dumps(result), flush=True)
    """
)

#: Records decisions through the application (not the service, which would catch up itself): a few before
#: the gate while the views are behind (when it opens the ledger first), then more until the test says stop.
WRITER = PRELUDE + textwrap.dedent(
    """
    from domain import ids
    from domain.money import Money
    from ledger.service import Pulje

    db, gate, name, open_first = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "open-first"
    before, at_least = int(sys.argv[5]), int(sys.argv[6])
    session = Pulje(db, f"writer-{name}")
    plan_id = ids.plan_id("Partnerskab 01", 2015)
    pool_id = ids.pool_id("Partnerskab 01", "bylivs-og-tryghedspulje", 2015)

    def decide(i, phase):
        ledger = session.ledger
        try:
            if i % 3 == 2:
                r = ledger.reallocate(plan_id=plan_id, year=2015, from_line="1", to_line="14", amount=Money(10_000),
                                      date=dt.date(2015, 12, 20), decided_by="Økonomiforvaltningen",
                                      decision_ref=f"ØKF {name}-{i}", reason="Under indhentning", actor="writer")
            else:
                r = ledger.award(pool_id=pool_id, recipient=f"Forening {name}-{i}", purpose="Tryghedsvandring",
                                 area=None, amount=Money(10_000), requested=None, date=dt.date(2015, 12, 20),
                                 decided_by="arbejdsgruppen", decision_ref=f"AG {name}-{i}", actor="writer")
            result = {"ok": r.sequence}
        except Exception as error:
            result = outcome(error)
        result["phase"] = phase
        print(json.dumps(result), flush=True)

    i = 0
    if open_first:
        for i in range(before):
            decide(i, "before")
    ready_and_wait(gate, name)
    while i < before + at_least or not Path(gate, "stop").exists():
        i += 1
        decide(i, "during")
        if i > before + 500:
            break
    session.close()
    """
)


# ---------------------------------------------------------------------- ledgers


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A generated SQLite ledger, made once; each test works on a copy."""
    from bench.generate import generate

    path = tmp_path_factory.mktemp("generated") / "template.db"
    generate(str(path), EVENTS, progress=False)
    yield path


@pytest.fixture(scope="module")
def postgres_generated() -> Iterator[str]:
    """A generated ledger in a schema of its own, made once for the module (each test puts its views behind)."""
    from bench.generate import generate

    with postgres_location() as url:
        generate(url, EVENTS, progress=False)
        yield url


@pytest.fixture
def generated(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A ledger of about EVENTS events with current views, on the backend."""
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        copy = tmp_path / "ledger.db"
        for suffix in ("", "-wal"):
            if Path(f"{template}{suffix}").exists():
                shutil.copyfile(f"{template}{suffix}", f"{copy}{suffix}")
        return str(copy)
    return request.getfixturevalue("postgres_generated")


# ---------------------------------------------------------------------- the race


@dataclass
class Race:
    """What the racing processes reported."""

    results: list[dict]
    written: list[dict]
    seconds: float
    events_before: int
    base: int


def race(db: str, root: Path, catch_ups: int, how: str, writer: bool = False) -> Race:
    """Start the catch-ups (and a writer) at one signal; stop the writer when the catch-ups are done."""
    put_views_behind(db, how)
    opening = "open-first" if how == "emptied" else "open-after"
    base = event_count(db)
    with gate(root) as g:
        for n in range(catch_ups):
            g.start(f"c{n}", CATCH_UP, db, opening)
        if writer:
            g.start("writer", WRITER, db, opening, 3, 6)
            deadline = time.monotonic() + 120
            while not (g.dir / "ready-writer").exists() and g.procs["writer"].poll() is None:
                if time.monotonic() > deadline:
                    pytest.fail("the writer did not get ready")
                time.sleep(0.01)
        events_before = event_count(db)  # the writer's first decisions are in, and the views behind them
        g.open()
        began = time.monotonic()
        deadline = began + DEADLOCK_SECONDS
        results = [r for n in range(catch_ups) for r in g.finish(f"c{n}", deadline)]
        g.stop()
        written = g.finish("writer", deadline) if writer else []
        seconds = time.monotonic() - began
    return Race(results, written, seconds, events_before, base)


def check_views(db: str, backend: str) -> tuple[int, int]:
    """Every check of the module docstring on the ledger as the racers left it; returns (events, positions)."""
    raw = RawSQL(db)
    events = raw.run("SELECT COUNT(*) FROM {events}")[0][0]
    [(tracked,)] = raw.run("SELECT notification_id FROM {tracking} WHERE application_name = 'views'") or [(0,)]
    [(last,)] = raw.run("SELECT MAX({nid}) FROM {events}")
    assert tracked == last, f"the views' tracking stands at {tracked}, the log ends at {last}: events were missed"
    [(head,)] = raw.run("SELECT MAX(position) FROM event_chain")
    rows, distinct, low, high = raw.run(
        "SELECT COUNT(*), COUNT(DISTINCT sequence), MIN(sequence), MAX(sequence) FROM view_audit"
    )[0]
    assert (rows, distinct, low, high) == (head, head, 1, head), f"view_audit: {rows} rows for {head} positions"
    assert version_gaps(db) == []
    with Pulje(db, "revisor", create=False) as pulje:
        ledger = pulje.ledger
        # Ledger.full_replay reads each event's position in a transaction of its own: 3 ms an event on PostgreSQL.
        stored, replayed = ledger.stored_views(), ledger.full_replay() if backend == "sqlite" else replay(ledger)
        assert stored.audit == replayed.audit
        for name in ("plans", "lines", "line_years", "pools", "grants"):
            theirs, mine = getattr(replayed, name), getattr(stored, name)
            wrong = [key for key in theirs.keys() | mine.keys() if theirs.get(key) != mine.get(key)]
            assert wrong == [], f"{len(wrong)} {name} rows differ from a full replay, e.g. {wrong[:3]}"
        report = pulje.verify()
        assert report.ok, [str(p) for p in report.problems[:5]]
    return events, head


def run_and_check(db: str, root: Path, backend: str, catch_ups: int, how: str, writer: bool = False) -> str:
    done = race(db, root, catch_ups, how, writer)
    errors = [
        r for r in done.results + done.written if "applied" not in r and "ok" not in r and r.get("kind") != "refused"
    ]
    assert errors == [], f"{len(errors)} processes failed: {errors[:3]}"
    events, head = check_views(db, backend)
    applied = [r["applied"] for r in done.results]
    if not writer:
        # Nobody else wrote: the catch-ups applied every event exactly once between them.
        assert sum(applied) == events, f"{applied} applied for {events} events"
    else:
        # Every event recorded while the views were behind (the log and the writer's first decisions) was applied
        # by a catch-up; the writer's own transactions applied the events they recorded once the views were current.
        assert done.events_before <= sum(applied) <= events, (applied, done.events_before, events)
    wrote = {phase: sum("ok" in r and r["phase"] == phase for r in done.written) for phase in ("before", "during")}
    refused = sum(r.get("kind") == "refused" for r in done.written)
    figure = (
        f"{backend}, views {how}: {catch_ups} processes caught up {events} events at once "
        f"(applied {' + '.join(map(str, applied))} = {sum(applied)}"
        + (
            f"; a writer recorded {wrote['before']} decisions before and {wrote['during']} during the race, "
            f"{refused} refused; {sum(applied) - done.base} of its {events - done.base} events applied by the "
            "catch-ups, "
            f"{events - sum(applied)} by its own writes"
            if writer else ""
        )
        + f"), audit rows 1..{head} once each, 0 applied twice, 0 missed, 0 storage errors, "
        f"slowest catch-up {max(r['seconds'] for r in done.results):.2f} s, race {done.seconds:.1f} s"
    )
    print(f"\n{figure}")
    return figure


def test_two_processes_catching_up_emptied_views_apply_every_event_once(
    generated: str, tmp_path: Path, backend: str
) -> None:
    run_and_check(generated, tmp_path, backend, catch_ups=2, how="emptied")


def test_four_processes_rebuilding_dropped_views_apply_every_event_once(
    generated: str, tmp_path: Path, backend: str
) -> None:
    run_and_check(generated, tmp_path, backend, catch_ups=4, how="dropped")


def test_catching_up_while_a_writer_records_decisions_misses_nothing(
    generated: str, tmp_path: Path, backend: str
) -> None:
    run_and_check(generated, tmp_path, backend, catch_ups=2, how="emptied", writer=True)


@pytest.mark.soak
@pytest.mark.parametrize("how", ["emptied", "dropped"])
def test_eight_processes_catching_up_a_hundred_thousand_events_apply_each_once(
    backend: str, tmp_path: Path, how: str, request: pytest.FixtureRequest
) -> None:
    skip_unless_soak(request.config)
    from bench.generate import generate

    if backend == "sqlite":
        db = str(tmp_path / "big.db")
        generate(db, SOAK_EVENTS, progress=False)
        run_and_check(db, tmp_path, backend, catch_ups=8, how=how, writer=True)
        return
    with postgres_location() as db:
        generate(db, SOAK_EVENTS, progress=False)
        run_and_check(db, tmp_path, backend, catch_ups=8, how=how, writer=True)
