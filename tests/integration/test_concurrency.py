"""Several processes at once: racing for one pool never overspends it.

Real subprocesses against one real SQLite file. A conflicting write is
decided again on fresh state, so the only refusals are the pool's own rule;
the number of winners is exactly what the pool can fund.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from ledger.service import Pulje
from tests.conftest import PLAN_2022, ROOT

WORKER = textwrap.dedent(
    """
    import json, sys, time
    from domain.errors import DomainError
    from domain.money import Money
    from ledger.service import Pulje
    import datetime as dt

    db, start, attempts, amount = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    with Pulje(db, "worker") as pulje:
        while time.time() < start:
            time.sleep(0.001)
        for i in range(attempts):
            try:
                r = pulje.award(pool="BTP", year=2022, recipient=f"Forening {i}", purpose="Tryghedsvandring",
                                area=None, amount=Money.kroner(amount), requested=None, date=dt.date(2022, 3, 1),
                                decided_by="arbejdsgruppen", decision_ref="AG")
                print(json.dumps({"ok": r.grant}), flush=True)
            except DomainError as e:
                print(json.dumps({"refused": e.message}), flush=True)
    """
)


def race(db: Path, processes: int, attempts: int, kroner: int) -> list[dict]:
    start = time.time() + 2.0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(db), str(start), str(attempts), str(kroner)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )
        for _ in range(processes)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        results += [json.loads(line) for line in out.splitlines()]
    return results


def test_processes_racing_for_a_pool_get_exactly_what_it_can_fund(tmp_path: Path) -> None:
    db = tmp_path / "race.db"
    with Pulje(str(db), "setup") as pulje:
        pulje.import_plan(PLAN_2022)

    results = race(db, processes=6, attempts=4, kroner=10_000)

    winners = [r["ok"] for r in results if "ok" in r]
    refusals = [r["refused"] for r in results if "refused" in r]
    assert len(results) == 24
    assert len(winners) == 10  # 10 x 10.000 fits in 107.000; an 11th would not
    assert sorted(winners) == [f"BTP-2022-{n:03d}" for n in range(1, 11)]
    assert all("available" in message for message in refusals)
    with Pulje(str(db), "check") as pulje:
        pool, grants, _ = pulje.pool_show("BTP", year=2022)
        assert pool.committed_ore == 10 * 1_000_000
        assert pool.available_ore == 700_000
        assert len(grants) == 10
        pulje.ledger.catch_up()
        assert pulje.ledger.stored_views() == pulje.ledger.full_replay()


def test_two_command_lines_awarding_at_once_never_overspend(tmp_path: Path) -> None:
    db = tmp_path / "cli-race.db"
    with Pulje(str(db), "setup") as pulje:
        pulje.import_plan(PLAN_2022)
    pulje_exe = Path(sys.executable).with_name("pulje")
    command = [
        str(pulje_exe), "--db", str(db), "grant", "award", "--pool", "BTP", "--year", "2022", "--recipient", "X",
        "--purpose", "Borgermøde", "--amount", "60.000", "--date", "2022-04-01", "--decided-by", "arbejdsgruppen",
        "--decision-ref", "AG", "--format", "json",
    ]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 3], outcomes
    refused = next(err for code, _, err in outcomes if code == 3)
    assert "available" in refused and "Traceback" not in refused
    with Pulje(str(db), "check") as pulje:
        pool, _, _ = pulje.pool_show("BTP", year=2022)
        assert pool.committed_ore == 6_000_000
