"""A writer killed with SIGKILL at random moments leaves a whole ledger, on SQLite and on PostgreSQL.

A real writer process (`crash_writer.py`) awards, pays, takes back,
withdraws, reallocates into and out of the pools' lines (the plan and one or
two pools in one write) and reverses, as fast as it can, printing each
decision it committed. The test kills it with SIGKILL after a random delay
(a few milliseconds to most of a second; one kill in ten during start-up),
50 times by default and 500 times under `-m soak`, and after every kill
checks, in a fresh session:

- the ledger opens, and on SQLite its connections run in WAL mode with
  `synchronous=FULL` (2), the writer's own connections included;
- `verify` is ok (through the service every time, through the `pulje verify`
  command line every tenth kill);
- every aggregate's stored versions run 1..N without a gap;
- no decision is half-recorded: a reallocation touching a pool's line has
  its pool's funding change and the other way round, a plan its pools, a
  command key its target event (`ledger_checks.half_recorded`);
- the views were current without catching up (writers update them in the
  transaction that records the events), and after `catch_up()` they equal a
  full replay, with one audit row per chain position; every fifth writer
  starts on emptied views, so some kills cut a catch-up short (one
  transaction per page of 500 events) and the next catch-up must finish it;
- the number of events never goes down, and every decision the writer
  reported as committed is still there, at the position and with the head it
  reported (durability);
- a keyed command that was in flight when the writer died is repeated with
  the same key by the next writer: it is recorded exactly once (the repeat
  says `repeated` exactly when the first attempt had committed).

On PostgreSQL the server survives its client's death: the killed writer's
locks are gone within seconds (the next writer would wait for them).

The command sequence is reproducible: the seed is printed with the figures
and `PULJE_CRASH_SEED` sets it; the kill moments are not.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain import ids
from ledger.service import Pulje
from tests.conftest import PLAN_2022, ROOT
from tests.reliability.crash_writer import sqlite_settings
from tests.reliability.ledger_checks import (
    event_count,
    half_recorded,
    put_views_behind,
    skip_unless_soak,
    version_gaps,
    views_current,
    views_problems,
)

WRITER = Path(__file__).with_name("crash_writer.py")
PULJE_EXE = Path(sys.executable).with_name("pulje")
FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
#: Far beyond a healthy start-up: a writer not ready by then is stuck.
READY_SECONDS = 60


@dataclass
class Figures:
    """What the kills found; `line()` is the figure the test prints."""

    backend: str
    seed: int
    kills: int = 0
    fresh: int = 0
    during_start: int = 0
    in_flight: int = 0
    unreported_commits: int = 0
    verify_failures: int = 0
    cli_verifies: int = 0
    version_gaps: int = 0
    half_recorded: int = 0
    views_behind: int = 0
    behind_at_start: int = 0
    catch_ups_cut: int = 0
    views_mismatches: int = 0
    lost_reports: int = 0
    reported: int = 0
    refused: int = 0
    redone: int = 0
    redone_repeated: int = 0
    pool_moves: int = 0
    keyed: int = 0
    events: int = 0
    lock_wait_max: float = 0.0
    held_locks: int = 0
    start_seconds: list[float] = field(default_factory=list)
    check_seconds: float = 0.0
    delays: list[float] = field(default_factory=list)

    def line(self, seconds: float) -> str:
        return (
            f"{self.backend}: {self.kills} kills ({self.fresh} writers in a fresh interpreter, the rest forked; "
            f"{self.during_start} before the ledger was open, {self.in_flight} with a command "
            f"in flight, {self.unreported_commits} after a commit the writer did not live to report), "
            f"{self.verify_failures} verify failures ({self.cli_verifies} by the command line), "
            f"{self.half_recorded} half-recorded decisions, {self.version_gaps} version gaps, "
            f"{self.views_behind} kills leaving current views behind, {self.views_mismatches} views unlike a replay "
            f"after a catch-up; {self.behind_at_start} writers started on emptied views, {self.catch_ups_cut} of them "
            "killed before the views had caught up; "
            f"{self.lost_reports} of {self.reported} reported commits lost; {self.redone} in-flight keyed commands "
            f"repeated ({self.redone_repeated} had committed); {self.events} events, {self.pool_moves} reallocations "
            f"moving a pool's funding, {self.keyed} keyed commands, {self.refused} refusals; "
            f"kill delays {min(self.delays, default=0):.3f}-{max(self.delays, default=0):.3f} s; "
            + (
                f"{self.held_locks} writers died holding locks, gone after at most {self.lock_wait_max:.2f} s; "
                if self.backend == "postgres" else ""
            )
            + f"writers ready after {sum(self.start_seconds) / max(len(self.start_seconds), 1):.2f} s on average; "
            + f"checks {self.check_seconds:.1f} s; seed {self.seed}; {seconds:.1f} s"
        )


@dataclass
class Run:
    """One writer's output, as far as it got."""

    lines: list[dict[str, Any]]
    stderr: str

    @property
    def started(self) -> bool:
        return any("opened" in line for line in self.lines)

    @property
    def reported(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if "ok" in line]

    @property
    def in_flight(self) -> dict[str, Any] | None:
        return self.lines[-1]["attempt"] if self.lines and "attempt" in self.lines[-1] else None

    @property
    def redo(self) -> dict[str, Any] | None:
        return next((line for line in self.lines if "redo" in line), None)


class Writers:
    """Starts writers: forked by a fork server that has imported everything, or (every tenth) a fresh interpreter."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.server_err = (tmp / "fork-server.err").open("w")
        self.server = subprocess.Popen(
            [sys.executable, str(WRITER), "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.server_err, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
        )
        hello = self.server.stdout.readline()
        if not hello:
            pytest.fail(f"the fork server did not start: {(tmp / 'fork-server.err').read_text()}")

    def close(self) -> None:
        self.server.stdin.close()
        try:
            self.server.wait(timeout=30)
        finally:
            if self.server.poll() is None:
                self.server.kill()
                self.server.wait()
            self.server_err.close()

    def start(self, args: list[str], out: Path, err: Path, fresh: bool) -> Writer:
        status = self.tmp / f"{out.stem}.status"
        if fresh:
            with out.open("w") as stdout, err.open("w") as stderr:
                proc = subprocess.Popen(
                    [sys.executable, str(WRITER), *args], stdout=stdout, stderr=stderr,
                    env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                )
            return Writer(proc.pid, proc=proc)
        request = {"args": args, "out": str(out), "err": str(err), "status": str(status)}
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        reply = self.server.stdout.readline()
        if not reply:
            pytest.fail(f"the fork server ended: {(self.tmp / 'fork-server.err').read_text()}")
        return Writer(json.loads(reply)["pid"], status=status)


@dataclass
class Writer:
    """One writer process, a child of the test or of the fork server."""

    pid: int
    proc: subprocess.Popen | None = None
    status: Path | None = None

    def ended(self) -> dict[str, int] | None:
        """How it ended ({"signal": 9} or {"exit": 1}), or None while it runs."""
        if self.proc is not None:
            code = self.proc.poll()
            return None if code is None else {"signal": -code} if code < 0 else {"exit": code}
        return json.loads(self.status.read_text()) if self.status.exists() else None

    def kill(self) -> dict[str, int]:
        if self.ended() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while (ended := self.ended()) is None:
            if time.monotonic() > deadline:
                pytest.fail(f"writer {self.pid} did not end after SIGKILL")
            time.sleep(0.001)
        return ended


def run_writer(
    writers: Writers, db: str, n: int, seed: int, redo: dict | None, rng: random.Random, figures: Figures
) -> Run:
    """Start a writer, kill it with SIGKILL at a random moment, return what it printed."""
    tmp = writers.tmp
    ready, out, err = tmp / f"ready-{n}", tmp / f"writer-{n}.out", tmp / f"writer-{n}.err"
    redo_file = "-"
    if redo is not None:
        redo_file = str(tmp / f"redo-{n}.json")
        Path(redo_file).write_text(json.dumps(redo))
    fresh = n % 10 == 5
    figures.fresh += fresh
    out.touch()  # a writer killed right after the fork never gets to create its files
    err.touch()
    writer = writers.start([db, str(ready), str(seed), str(n), redo_file], out, err, fresh)
    try:
        if rng.random() < 0.1:
            # while the ledger opens (and, in a fresh interpreter, while Python starts)
            delay = rng.uniform(0.0, 0.5 if fresh else 0.05)
        else:
            started = time.monotonic()
            deadline = started + READY_SECONDS
            while not ready.exists():
                if writer.ended() is not None:
                    pytest.fail(f"writer {n} ended before it was ready ({writer.ended()}):\n{err.read_text()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"writer {n} was not ready after {READY_SECONDS} s")
                time.sleep(0.001)
            figures.start_seconds.append(time.monotonic() - started)
            shape = rng.random()
            low, high = (0, 0.05) if shape < 0.4 else (0.05, 0.25) if shape < 0.8 else (0.25, 0.6)
            delay = rng.uniform(low, high)
        time.sleep(delay)
        figures.delays.append(delay)
        if writer.ended() is not None:
            pytest.fail(f"writer {n} ended by itself ({writer.ended()}):\n{err.read_text()[-3000:]}")
    finally:
        ended = writer.kill()
    assert ended == {"signal": signal.SIGKILL}, f"writer {n} ended {ended}:\n{err.read_text()[-3000:]}"
    text = out.read_text()
    complete = text[: text.rfind("\n") + 1]  # a line cut short by the kill was never reported
    return Run([json.loads(line) for line in complete.splitlines()], err.read_text())


def postgres_locks(db: str) -> int:
    """Locks that other clients' sessions hold on the ledger's tables (autovacuum's are not a writer's)."""
    import psycopg

    from ledger.postgres import PostgresLocation

    location = PostgresLocation(db)
    with psycopg.connect(db.split("?")[0], autocommit=True) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace s ON s.oid = c.relnamespace JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE s.nspname = %s AND l.pid <> pg_backend_pid() AND a.backend_type = 'client backend'",
            (location.schema,),
        ).fetchone()[0]


def wait_for_locks(db: str, figures: Figures, n: int) -> None:
    began = time.monotonic()
    figures.held_locks += bool(postgres_locks(db))
    while postgres_locks(db):
        if time.monotonic() - began > 30:
            pytest.fail(f"kill {n}: the killed writer's locks were still held after 30 s")
        time.sleep(0.01)
    figures.lock_wait_max = max(figures.lock_wait_max, time.monotonic() - began)


def check_after_kill(
    db: str, backend: str, n: int, run: Run, figures: Figures, state: dict[str, Any], behind: bool
) -> bool | None:
    """Everything the module docstring lists, on the ledger as the kill left it.

    Returns whether the keyed command in flight at the kill (if any) was recorded.
    """
    context = f"kill {n} (seed {figures.seed}); the writer's last lines: {run.lines[-3:]}"
    with Pulje(db, "revisor", create=False) as pulje:
        ledger = pulje.ledger
        if backend == "sqlite":
            settings = sqlite_settings(ledger)
            assert settings == {"read": ["wal", FULL], "write": ["wal", FULL]}, settings
        if not views_current(ledger):
            # Current views stay current (writers update them in the same transaction); emptied ones may be
            # left part-way when the writer's catch-up was cut short.
            figures.catch_ups_cut += behind
            figures.views_behind += not behind
        report = pulje.verify()
        if not report.ok:
            figures.verify_failures += 1
            pytest.fail(f"{context}\nverify: {[str(p) for p in report.problems[:5]]}")
        gaps = version_gaps(db)
        figures.version_gaps += len(gaps)
        assert gaps == [], context
        decisions = half_recorded(ledger)
        figures.half_recorded += len(decisions.problems)
        assert decisions.problems == [], f"{context}\n{decisions.problems[:5]}"
        figures.pool_moves, figures.keyed = decisions.pool_moves, decisions.keyed
        ledger.catch_up()
        mismatches = views_problems(db, ledger, full_replay=n % 10 == 9)
        figures.views_mismatches += bool(mismatches)
        assert mismatches == [], f"{context}\n{mismatches[:5]}"

        count, (head, _) = event_count(db), ledger.store.head()
        assert count >= state["events"] and head >= state["head"], (
            f"{context}: events went from {state['events']} to {count}, the head from {state['head']} to {head}"
        )
        reported_end = state["head"]
        if run.reported:
            with ledger.store.read() as c:
                c.execute(
                    "SELECT c.position, c.hash, e.originator_id, e.originator_version FROM event_chain c "
                    "JOIN {events} e ON e.{nid} = c.notification_id WHERE c.position >= ?",
                    (min(ok["sequence"] for ok in run.reported),),
                )
                rows = c.fetchall()
            at = {position: str(ids.event_id(UUID(str(oid)), version)) for position, _, oid, version in rows}
            positions = {chain_hash: position for position, chain_hash, _, _ in rows}
            for ok in run.reported:
                if at.get(ok["sequence"]) != ok["event_id"] or ok["head"] not in positions:
                    figures.lost_reports += 1
                    pytest.fail(f"{context}\nthe reported decision {ok} is not where the writer reported it")
                reported_end = max(reported_end, positions[ok["head"]])
        figures.unreported_commits += head > reported_end
        state["events"], state["head"] = count, head

        in_flight = run.in_flight
        if in_flight is None or not in_flight.get("key"):
            return None
        return bool(ledger.store.positions_of(ids.command_key_id(in_flight["key"])))


def check_redo(run: Run, committed: bool | None, figures: Figures, n: int) -> None:
    """The writer repeated the keyed command that was in flight: recorded once, `repeated` exactly when it had been."""
    line = run.redo
    if line is None:
        return
    figures.redone += 1
    if "refused" in line:
        assert not committed, f"kill {n}: the repeat of a committed keyed command was refused: {line}"
        return
    assert line["repeated"] is committed, f"kill {n}: {line} (its key was {'' if committed else 'not '}recorded)"
    figures.redone_repeated += committed


def all_reported_present(db: str, reported: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every decision the writers reported, that is no longer where they reported it."""
    with Pulje(db, "revisor", create=False) as pulje, pulje.ledger.store.read() as c:
        c.execute(
            "SELECT c.position, c.hash, e.originator_id, e.originator_version FROM event_chain c "
            "JOIN {events} e ON e.{nid} = c.notification_id"
        )
        rows = c.fetchall()
    at = {position: str(ids.event_id(UUID(str(oid)), version)) for position, _, oid, version in rows}
    hashes = {chain_hash for _, chain_hash, _, _ in rows}
    return [ok for ok in reported if at.get(ok["sequence"]) != ok["event_id"] or ok["head"] not in hashes]


@dataclass
class Pending:
    """The keyed command in flight when a writer was killed, for the next writer to repeat."""

    spec: dict[str, Any]
    committed: bool


def kill_once(
    writers: Writers, db: str, backend: str, n: int, rng: random.Random, figures: Figures, state: dict[str, Any],
    reported: list[dict[str, Any]], pending: Pending | None,
) -> Pending | None:
    """One writer started, killed and checked after; returns what the next writer must repeat.

    Every fifth writer starts on emptied views: its first read catches them up, and the kill may cut that short.
    """
    behind = n % 5 == 2
    if behind:
        put_views_behind(db)
        figures.behind_at_start += 1
    run = run_writer(writers, db, n, figures.seed * 1000 + n, pending.spec if pending else None, rng, figures)
    figures.kills += 1
    figures.during_start += not run.started
    figures.in_flight += run.in_flight is not None
    figures.refused += sum("refused" in line for line in run.lines)
    if run.started and run.lines[0]["sqlite"] is not None:
        assert run.lines[0]["sqlite"] == {"read": ["wal", FULL], "write": ["wal", FULL]}, run.lines[0]
    if backend == "postgres":
        wait_for_locks(db, figures, n)
    checking = time.monotonic()
    if pending is not None:
        check_redo(run, pending.committed, figures, n)
    committed = check_after_kill(db, backend, n, run, figures, state, behind)
    figures.check_seconds += time.monotonic() - checking
    reported += run.reported
    if n % 10 == 9:
        done = subprocess.run(
            [str(PULJE_EXE), "--db", db, "verify"], capture_output=True, text=True, timeout=120, check=False
        )
        figures.cli_verifies += 1
        if done.returncode != 0:
            figures.verify_failures += 1
            pytest.fail(f"`pulje verify` after kill {n} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    if committed is not None:
        return Pending(run.in_flight, committed)
    if run.redo is not None:
        return None
    return pending  # killed before it could repeat it


def crash_many_times(db: str, backend: str, tmp: Path, kills: int) -> Figures:
    seed = int(os.environ.get("PULJE_CRASH_SEED") or random.randrange(10**6))
    rng = random.Random(seed)
    figures = Figures(backend, seed)
    began = time.monotonic()
    with Pulje(db, "sekretariatet") as pulje:
        pulje.import_plan(PLAN_2022)
    reported: list[dict[str, Any]] = []
    state: dict[str, Any] = {"events": event_count(db), "head": 0}
    pending: Pending | None = None
    writers = Writers(tmp)
    try:
        for n in range(kills):
            pending = kill_once(writers, db, backend, n, rng, figures, state, reported, pending)
    finally:
        writers.close()
    lost = all_reported_present(db, reported)
    figures.lost_reports = len(lost)
    figures.reported = len(reported)
    figures.events = event_count(db)
    print(f"\n{figures.line(time.monotonic() - began)}")
    assert lost == [], lost[:5]
    return figures


def check_file_settings(db: str) -> None:
    """The file itself stays in WAL mode (persistent), and a plain connection says so."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def check_figures(figures: Figures, kills: int) -> None:
    assert figures.kills == kills
    assert figures.verify_failures == figures.half_recorded == figures.version_gaps == 0
    assert figures.views_mismatches == figures.lost_reports == 0
    # The writers update the read models in the transaction that records the events: a kill never leaves them behind.
    assert figures.views_behind == 0
    # The kills landed where they matter: most writers got going, and many were cut off mid-command.
    assert figures.reported > kills
    assert figures.in_flight >= kills // 3


def test_a_writer_killed_fifty_times_leaves_a_whole_ledger(ledger_db: str, backend: str, tmp_path: Path) -> None:
    figures = crash_many_times(ledger_db, backend, tmp_path, kills=50)
    check_figures(figures, 50)
    if backend == "sqlite":
        check_file_settings(ledger_db)


@pytest.mark.soak
def test_a_writer_killed_five_hundred_times_leaves_a_whole_ledger(
    ledger_db: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    skip_unless_soak(request.config)
    figures = crash_many_times(ledger_db, backend, tmp_path, kills=500)
    check_figures(figures, 500)
    if backend == "sqlite":
        check_file_settings(ledger_db)
