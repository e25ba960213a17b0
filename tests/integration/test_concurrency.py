"""Several processes at once, on SQLite and on PostgreSQL: no overspending, no torn reads.

Real subprocesses against one real ledger (an SQLite file, or a schema on the
PostgreSQL test server), started together through a gate of files. A write
that collides with another is decided again on fresh state, so the only
failures are the domain's own refusals (exit code 3 on the command line),
never a storage error; the number of winners is exactly what the pool can
fund, and a reader never sees half of a decision.

Two bugs these tests found are fixed and guarded here: a writer starved by
the others used to get a storage error (writes now decide again with growing
random pauses for up to two minutes), and on PostgreSQL one read was not one
snapshot (reads now run REPEATABLE READ).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from domain.money import Money
from ledger.service import Pulje
from tests.conftest import PLAN_2022, ROOT

PULJE_EXE = Path(sys.executable).with_name("pulje")
#: Far beyond any healthy run: a race that has not finished by then is stuck (a deadlock or a livelock).
DEADLOCK_SECONDS = 240
PLAN_TOTAL_2022 = 197_000_000  # 1.970.000 kr. in øre
BTP_FUNDING = 10_700_000  # line 14 in 2022: 107.000 kr.

PRELUDE = textwrap.dedent(
    """
    import datetime as dt, json, sys, time
    from pathlib import Path

    def ready_and_wait(gate, name):
        Path(gate, f"ready-{name}").touch()
        while not Path(gate, "go").exists():
            time.sleep(0.002)

    def outcome(error):
        # How the command line would end on this failure: exit 3 is a rule's refusal, 4 a storage error.
        from cli.output import classify
        from domain.errors import DomainError
        found = classify(error)
        return {"kind": "refused" if isinstance(error, DomainError) else "error", "type": type(error).__name__,
                "message": str(error), "exit": found[0] if found else None}
    """
)

AWARD_WORKER = PRELUDE + textwrap.dedent(
    """
    from domain.money import Money
    from ledger.service import Pulje

    db, gate, name, attempts, ore = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    # A slow decision (a loaded machine): the clock is read once per attempt, between loading the pool and saving it.
    pause = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0

    def clock():
        time.sleep(pause)
        return dt.datetime.now(dt.timezone.utc)

    with Pulje(db, f"worker-{name}", clock=clock) as pulje:
        pulje.ledger  # connected and imported before the gate opens
        ready_and_wait(gate, name)
        for i in range(attempts):
            began = time.monotonic()
            try:
                r = pulje.award(pool="BTP", year=2022, recipient=f"Forening {name}-{i}", purpose="Tryghedsvandring",
                                area=None, amount=Money(ore), requested=None, date=dt.date(2022, 3, 1),
                                decided_by="arbejdsgruppen", decision_ref="AG")
                result = {"ok": r.grant, "sequence": r.sequence}
            except Exception as error:  # every failure is reported; the test decides which are allowed
                result = outcome(error)
            result["seconds"] = round(time.monotonic() - began, 4)
            print(json.dumps(result), flush=True)
    """
)

WRITER = PRELUDE + textwrap.dedent(
    """
    from domain.money import Money
    from ledger.service import Pulje

    db, gate, name, a, b = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[6], sys.argv[7]
    moves, ore = int(sys.argv[4]), int(sys.argv[5])
    with Pulje(db, f"writer-{name}") as pulje:
        pulje.ledger
        ready_and_wait(gate, name)
        for i in range(moves):
            source, target = (a, b) if i % 2 == 0 else (b, a)
            try:
                r = pulje.reallocate(year=2022, from_line=source, to_line=target, amount=Money(ore),
                                     date=dt.date(2022, 6, 1), decided_by="Økonomiforvaltningen",
                                     decision_ref=f"ØKF {name}-{i}", reason="Jepsen")
                result = {"ok": r.sequence}
            except Exception as error:
                result = outcome(error)
            print(json.dumps(result), flush=True)
    """
)

READER = PRELUDE + textwrap.dedent(
    """
    from ledger.service import Pulje

    db, gate, name, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

    def problems(status, last_head):
        # (what, detail) for everything wrong with one read
        if len(status.plans) != 1:
            return [("total", f"{len(status.plans)} plans")]
        found = []
        budgets = {(r.line, r.year): r.budget_ore for r in status.plans[0].years}
        total = sum(ore for (_, year), ore in budgets.items() if year == 2022)
        if total != expected:
            found.append(("total", f"plan total {total} at head {status.head[0]}"))
        for pool in status.pools:
            if pool.funding_ore != budgets[(pool.line, 2022)]:
                found.append(("funding", f"{pool.code} funding {pool.funding_ore} != line {pool.line} "
                                         f"{budgets[(pool.line, 2022)]} at head {status.head[0]}"))
        if status.head[0] < last_head:
            found.append(("head", f"head went back from {last_head} to {status.head[0]}"))
        return found

    session = Pulje(db, "reader", create=False)
    session.ledger  # this session reads through the application; fresh ones may take the warm path
    reads = fresh = 0
    bad, errors, heads, last_head = {"total": [], "funding": [], "head": []}, [], set(), 0
    ready_and_wait(gate, name)
    while True:
        stopping = Path(gate, "stop").exists()
        use_fresh = reads % 4 == 3
        try:
            if use_fresh:
                with Pulje(db, "reader", create=False) as other:
                    status = other.status(year=2022)
            else:
                status = session.status(year=2022)
        except Exception as error:
            errors.append(outcome(error))
        else:
            reads += 1
            fresh += use_fresh
            for what, detail in problems(status, last_head):
                bad[what].append(detail)
            last_head = max(last_head, status.head[0])
            heads.add(status.head[0])
        if stopping or len(errors) > 20:
            break
    session.close()
    print(json.dumps({"reads": reads, "fresh": fresh, "bad": {k: v[:5] for k, v in bad.items()},
                      "bad_count": {k: len(v) for k, v in bad.items()}, "errors": errors[:5],
                      "heads": len(heads), "last_head": last_head}))
    """
)


def adopt(db: str) -> None:
    with Pulje(db, "setup") as pulje:
        pulje.import_plan(PLAN_2022)


class Gate:
    """Processes that get ready (connected, imported) and then start at one signal."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "gate"
        self.dir.mkdir()
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, script: str, *args: object) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            [sys.executable, "-c", script, args[0], str(self.dir), name, *map(str, args[1:])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )
        self.procs[name] = proc
        return proc

    def open(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not all((self.dir / f"ready-{name}").exists() for name in self.procs):
            for name, proc in self.procs.items():
                if proc.poll() is not None and not (self.dir / f"ready-{name}").exists():
                    pytest.fail(f"{name} ended before the start (exit {proc.returncode}): {proc.stderr.read()}")
            if time.monotonic() > deadline:
                pytest.fail("the processes did not get ready in time")
            time.sleep(0.01)
        (self.dir / "go").touch()

    def stop(self) -> None:
        (self.dir / "stop").touch()

    def finish(self, name: str, deadline: float) -> list[dict]:
        """The JSON lines a process printed; it must exit cleanly before the deadline."""
        proc = self.procs[name]
        try:
            out, err = proc.communicate(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} had not finished after {DEADLOCK_SECONDS} s: a deadlock or a livelock")
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err
        return [json.loads(line) for line in out.splitlines()]

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@contextmanager
def gate(root: Path) -> Iterator[Gate]:
    g = Gate(root)
    try:
        yield g
    finally:
        g.kill_all()


def award_race(db: str, root: Path, processes: int, attempts: int, ore: int, pause: float = 0.0) -> list[dict]:
    with gate(root) as g:
        for n in range(processes):
            g.start(f"w{n}", AWARD_WORKER, db, attempts, ore, pause)
        g.open()
        deadline = time.monotonic() + DEADLOCK_SECONDS
        return [r for n in range(processes) for r in g.finish(f"w{n}", deadline)]


def check_pool_after_race(db: str, winners: list[str], ore: int) -> None:
    with Pulje(db, "check", create=False) as pulje:
        pool, grants, _ = pulje.pool_show("BTP", year=2022)
        assert pool.committed_ore == pool.awarded_ore == len(winners) * ore <= pool.funding_ore == BTP_FUNDING
        assert pool.available_ore == BTP_FUNDING % ore
        assert sorted(g.number for g in grants) == sorted(winners)
        assert sum(g.awarded_ore for g in grants) == pool.committed_ore
        pulje.ledger.catch_up()
        assert pulje.ledger.stored_views() == pulje.ledger.full_replay()
        assert pulje.verify().ok


def test_processes_racing_for_a_pool_get_exactly_what_it_can_fund(ledger_db: str, tmp_path: Path) -> None:
    adopt(ledger_db)
    results = award_race(ledger_db, tmp_path, processes=6, attempts=4, ore=1_000_000)

    winners = [r["ok"] for r in results if "ok" in r]
    refusals = [r for r in results if "ok" not in r]
    assert len(results) == 24
    assert len(winners) == 10  # 10 x 10.000 fits in 107.000; an 11th would not
    assert sorted(winners) == [f"BTP-2022-{n:03d}" for n in range(1, 11)]
    assert all(r["kind"] == "refused" and r["exit"] == 3 and "available" in r["message"] for r in refusals), refusals
    check_pool_after_race(ledger_db, winners, 1_000_000)




def test_eight_processes_making_a_hundred_award_attempts_each_never_overspend(ledger_db: str, tmp_path: Path) -> None:
    """8 x 100 attempts at 350 kr. on a pool of 107.000 kr.: 305 fit, 250 kr. stay, the rest are refused."""
    ore = 35_000
    adopt(ledger_db)
    began = time.monotonic()
    results = award_race(ledger_db, tmp_path, processes=8, attempts=100, ore=ore)
    seconds = time.monotonic() - began
    print(f"\n8 x 100 award attempts: {seconds:.1f} s, slowest attempt {max(r['seconds'] for r in results):.2f} s")

    assert len(results) == 800
    winners = [r["ok"] for r in results if "ok" in r]
    refusals = [r for r in results if r.get("kind") == "refused"]
    errors = [r for r in results if r.get("kind") == "error"]
    # The only storage error ever seen here is the known starvation bug (see the strict test below);
    # anything else fails at once.
    conflicts = [r for r in errors if r["type"] == "StorageConflictError" and r["exit"] == 4]
    assert errors == conflicts, f"unexpected errors reached the user: {errors[:3]}"
    assert len(winners) == BTP_FUNDING // ore == 305
    assert len(refusals) + len(conflicts) == 800 - 305
    assert all(r["exit"] == 3 and "available" in r["message"] for r in refusals), refusals[:3]
    # Grant numbers are contiguous and none is given twice; every award has a chain position of its own.
    assert sorted(winners) == [f"BTP-2022-{n:03d}" for n in range(1, 306)]
    assert len({r["sequence"] for r in results if "ok" in r}) == 305
    check_pool_after_race(ledger_db, winners, ore)
    assert conflicts == [], f"{len(conflicts)} attempts ended in a storage error"


def test_racing_writers_with_slow_decisions_are_refused_only_by_rules(ledger_db: str, tmp_path: Path) -> None:
    """The 8-process race, reproducibly: every decision takes 50 ms, so most saves collide.

    8 x 25 awards of 100 kr. all fit; every attempt should win in the end. Checks other
    than the bug's fail with pytest.fail, which the expected failure does not swallow.
    """
    adopt(ledger_db)
    results = award_race(ledger_db, tmp_path, processes=8, attempts=25, ore=10_000, pause=0.05)
    errors = [r for r in results if r.get("kind") == "error"]
    winners = [r["ok"] for r in results if "ok" in r]
    if [r for r in errors if r["type"] != "StorageConflictError"] or [r for r in results if r.get("kind") == "refused"]:
        pytest.fail(f"not the known bug: {[r for r in results if 'ok' not in r][:3]}")
    if sorted(winners) != [f"BTP-2022-{n:03d}" for n in range(1, len(winners) + 1)]:
        pytest.fail("grant numbers are not contiguous")
    with Pulje(ledger_db, "check", create=False) as pulje:
        pool, grants, _ = pulje.pool_show("BTP", year=2022)
        if not pool.committed_ore == sum(g.awarded_ore for g in grants) == len(winners) * 10_000 <= pool.funding_ore:
            pytest.fail(f"committed {pool.committed_ore} for {len(winners)} winners")
    assert errors == [], f"{len(errors)} of {len(results)} attempts ended in a storage error, e.g. {errors[0]}"
    assert len(winners) == 200


def test_two_command_lines_awarding_at_once_never_overspend(ledger_db: str) -> None:
    adopt(ledger_db)
    command = [
        str(PULJE_EXE), "--db", ledger_db, "grant", "award", "--pool", "BTP", "--year", "2022", "--recipient", "X",
        "--purpose", "Borgermøde", "--amount", "60.000", "--date", "2022-04-01", "--decided-by", "arbejdsgruppen",
        "--decision-ref", "AG", "--format", "json",
    ]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        outcomes = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 3], outcomes
    refused = next(err for code, _, err in outcomes if code == 3)
    assert "available" in refused and "Traceback" not in refused
    with Pulje(ledger_db, "check") as pulje:
        pool, _, _ = pulje.pool_show("BTP", year=2022)
        assert pool.committed_ore == 6_000_000



#: Each writer moves its amount back and forth between two lines; a move out of
#: or into line 14 (pool BTP) also changes the pool's funding in the same write.
WRITERS = [("12", "14", 100_000), ("13", "1", 123_400), ("14", "2", 77_700), ("15", "4", 50_000)]


def status_by_cli(db: str) -> dict:
    done = subprocess.run(
        [str(PULJE_EXE), "--db", db, "status", "--year", "2022", "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout)


def cli_read_problems(data: dict) -> tuple[list[str], list[str]]:
    """What is wrong with one `pulje status --format json`: (the plan total, a pool against its line)."""
    [plan] = data["plans"]
    budgets = {row["line"]: row["budget_ore"] for row in plan["lines"]}
    totals = [
        f"total {total} at head {data['head_sequence']}"
        for total in (plan["total_budget_ore"], sum(budgets.values())) if total != PLAN_TOTAL_2022
    ]
    pools = [
        f"{pool['code']} funding {pool['funding_ore']} != line {budgets[pool['line']]}"
        for pool in data["pools"] if pool["funding_ore"] != budgets[pool["line"]]
    ]
    return totals, pools


def test_a_reader_never_sees_the_plan_total_change_while_writers_reallocate(
    ledger_db: str, tmp_path: Path, backend: str
) -> None:
    """Jepsen-style: every read, through the library and through `pulje status`, is one whole state."""
    adopt(ledger_db)
    moves = 30
    writers = WRITERS[:3]
    cli_reads: list[dict] = []
    began = time.monotonic()
    with gate(tmp_path) as g:
        g.start("reader", READER, ledger_db, PLAN_TOTAL_2022)
        for n, (a, b, ore) in enumerate(writers):
            g.start(f"writer{n}", WRITER, ledger_db, moves, ore, a, b)
        g.open()
        deadline = time.monotonic() + DEADLOCK_SECONDS
        running = [p for name, p in g.procs.items() if name.startswith("writer")]
        while len(cli_reads) < 5 and any(p.poll() is None for p in running):
            cli_reads.append(status_by_cli(ledger_db))
        written = {name: g.finish(name, deadline) for name in list(g.procs) if name.startswith("writer")}
        g.stop()
        [reader] = g.finish("reader", deadline)
    print(f"\nreader: {reader['reads']} reads ({reader['fresh']} by fresh sessions), {reader['heads']} distinct heads, "
          f"{len(cli_reads)} `pulje status` reads, {time.monotonic() - began:.1f} s")

    for name, results in written.items():
        failed = [r for r in results if "ok" not in r]
        assert len(results) == moves and failed == [], (name, failed[:3])
    assert reader["errors"] == [], reader["errors"]
    assert reader["reads"] >= 40, f"only {reader['reads']} reads while the writers ran"
    assert reader["fresh"] >= 10
    assert reader["heads"] >= 5, "the reads did not overlap the writes"
    assert len(cli_reads) >= 3, "the writers finished before the command line could read"

    # The invariant: the plan total never changes, in any read; and no read goes back in time.
    assert reader["bad_count"]["total"] == 0, reader["bad"]["total"]
    assert reader["bad_count"]["head"] == 0, reader["bad"]["head"]
    cli_problems = [cli_read_problems(data) for data in cli_reads]
    assert not [totals for totals, _ in cli_problems if totals], cli_problems

    with Pulje(ledger_db, "check", create=False) as pulje:
        status = pulje.status(year=2022)
        assert status.head[0] == 23 + sum(2 if "14" in (a, b) else 1 for a, b, _ in writers) * moves
        # An even number of moves by every writer undoes itself.
        assert all(r.budget_ore == r.adopted_ore for r in status.plans[0].years)
        pulje.ledger.catch_up()
        assert pulje.ledger.stored_views() == pulje.ledger.full_replay()
        assert pulje.verify().ok

    # A pool's funding follows its line in the same read, too; on PostgreSQL a read is not
    # one snapshot (see the strict test below), so there this shows only when a write fell in between.
    torn = reader["bad"]["funding"] + [p for _, pools in cli_problems for p in pools]
    assert torn == []


@pytest.mark.parametrize(
    "backend",
    ["sqlite", "postgres"],
)
@pytest.mark.parametrize("session", ["writing", "fresh"])
def test_a_write_committed_during_a_read_is_not_half_seen_by_it(pulje_on: Pulje, ledger_db: str, session: str) -> None:
    """One read is one state: a reallocation into the pool's line commits between two queries of a read."""
    with Pulje(ledger_db, "other") as other, Pulje(ledger_db, "reader", create=False) as fresh:
        other.status(year=2022)
        reading = pulje_on if session == "writing" else fresh
        with reading.reader() as views:
            [plan] = views.plans(2022, None)
            head = views.head()
            funding = {p.code: p.funding_ore for p in views.pools(2022, None)}
            other.reallocate(
                year=2022, from_line="12", to_line="14", amount=Money.kroner(20_000), date=dt.date(2022, 6, 1),
                decided_by="Økonomiforvaltningen", decision_ref="ØKF 7", reason="Midt i en læsning",
            )
            budgets = {r.line: r.budget_ore for r in views.line_years(plan.plan_id) if r.year == 2022}
            if sum(budgets.values()) != PLAN_TOTAL_2022:
                pytest.fail(f"the plan total changed: {sum(budgets.values())}")
            seen = (funding["BTP"], budgets["14"], views.head())
    if pulje_on.pool_show("BTP", year=2022)[0].funding_ore != BTP_FUNDING + 2_000_000:
        pytest.fail("the reallocation did not reach the pool")
    # The read saw the state before the write, whole: the pool's funding, its line and the head.
    assert seen == (BTP_FUNDING, BTP_FUNDING, head)
