"""End to end: the installed `pulje` command as a real process.

CliRunner (test_cli.py) runs the command inside pytest's process; these tests
start the console script next to `sys.executable` (or `python -m cli.main`
where there is none), as a shell or a cron job would: real argv parsing,
real stdout/stderr, real exit codes, and the `PULJE_DB` / `PULJE_ACTOR`
environment variables. The short year and the refusals run on both backends
(conftest's `ledger_db`); on PostgreSQL the short year finds its ledger
through `PULJE_DB` set to a `postgresql://` URL, as a cron job would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

AG = "arbejdsgruppen"
SCRIPT = Path(sys.executable).with_name("pulje")
PULJE = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "cli.main"]


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without pulje's own variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULJE_")}
    env.update(extra)
    return env


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PULJE, *args], cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=120, check=False
    )


def explain(process: subprocess.CompletedProcess[str]) -> str:
    return f"exit {process.returncode}\n--- stdout\n{process.stdout}\n--- stderr\n{process.stderr}"


def ok_json(*args: str, cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    process = run(*args, "--format", "json", cwd=cwd, env=env)
    assert process.returncode == 0, explain(process)
    return json.loads(process.stdout)


def award(amount: str, *, date: str = "2022-03-01") -> tuple[str, ...]:
    return (
        "grant", "award", "--pool", "BTP", "--year", "2022", "--recipient", "Beboerforeningen i Tingbjerg",
        "--purpose", "Tryghedsvandring", "--area", "Tryggere byliv", "--amount", amount, "--date", date,
        "--decided-by", AG, "--decision-ref", "AG 2022-03",
    )


@pytest.fixture
def ledger(ledger_db: str) -> tuple[str, ...]:
    """The global options for a new ledger on the backend: a file in tmp_path, or a PostgreSQL schema."""
    return ("--db", ledger_db, "--actor", "tester")


def test_a_short_year_runs_end_to_end_through_the_installed_command(
    tmp_path: Path, plan_2022: Path, ledger_db: str, backend: str
) -> None:
    # SQLite through --db; PostgreSQL through PULJE_DB (and PULJE_ACTOR), as a cron job would set them
    if backend == "sqlite":
        ledger: tuple[str, ...] = ("--db", ledger_db, "--actor", "tester")
        env = clean_env()
    else:
        ledger = ()
        env = clean_env(PULJE_DB=ledger_db, PULJE_ACTOR="tester")
    work = tmp_path / "work"
    work.mkdir()

    def ok_json(*args: str) -> dict[str, Any]:
        process = run(*args, "--format", "json", cwd=work, env=env)
        assert process.returncode == 0, explain(process)
        return json.loads(process.stdout)

    imported = run(*ledger, "plan", "import", str(plan_2022), cwd=work, env=env)
    assert imported.returncode == 0, explain(imported)
    assert "1.970.000,00" in imported.stdout
    assert "warning:" in imported.stderr and "warning:" not in imported.stdout

    granted = ok_json(*ledger, *award("5.000"))
    assert granted["grant"] == "BTP-2022-001"
    assert {"event_id", "sequence", "head"} <= granted.keys()

    paid = ok_json(*ledger, "grant", "disburse", "BTP-2022-001", "--amount", "4.000", "--date", "2022-03-10")
    assert paid["grant"] == "BTP-2022-001"

    status = ok_json(*ledger, "status")
    assert status["head"] == paid["head"]
    assert status["plans"][0]["total_budget_ore"] == 197_000_000
    (btp,) = [p for p in status["pools"] if p["code"] == "BTP"]
    assert (btp["funding_ore"], btp["awarded_ore"], btp["disbursed_ore"], btp["available_ore"]) == (
        10_700_000, 500_000, 400_000, 10_200_000,
    )
    shown = ok_json(*ledger, "pool", "show", "BTP", "--year", "2022")
    assert [(g["grant"], g["status"]) for g in shown["grants"]] == [("BTP-2022-001", "partly_disbursed")]
    audit = ok_json(*ledger, "audit")
    assert audit["head"] == status["head"]
    assert {e["actor"] for e in audit["events"]} == {"tester"}
    verified = ok_json(*ledger, "verify", "--head", granted["head"])
    assert verified["ok"] is True and verified["head"] == status["head"]
    assert ok_json(*ledger, "verify", "--head", granted["head"], "--processes", "2") == verified
    assert list(work.iterdir()) == []  # the ledger is where --db / PULJE_DB says, not ./pulje.db


@pytest.mark.parametrize(
    "args, code",
    [
        (award("200.000"), 3),  # more than the pool has
        (award("1e9"), 3),  # a bad amount
        (award("5.000", date="2022-02-30"), 2),  # no such day
        (("grant", "disburse", "BTP-2022-099", "--amount", "100", "--date", "2022-03-10"), 3),
        (("reverse", "1", "--reason", "Forkert plan"), 3),
        (("grant", "award", "--pool", "BTP"), 2),  # required options missing
    ],
    ids=["overspending", "bad-amount", "bad-date", "unknown-grant", "reverse-adoption", "missing-option"],
)
def test_a_refusal_exits_with_its_code_and_prints_no_traceback(
    tmp_path: Path, plan_2022: Path, ledger: tuple[str, ...], args: tuple[str, ...], code: int
) -> None:
    assert run(*ledger, "plan", "import", str(plan_2022), cwd=tmp_path).returncode == 0
    before = ok_json(*ledger, "audit", cwd=tmp_path)

    refused = run(*ledger, *args, cwd=tmp_path)

    assert refused.returncode == code, explain(refused)
    assert "Traceback" not in refused.stdout + refused.stderr
    assert refused.stdout == ""
    assert refused.stderr.strip()
    assert ok_json(*ledger, "audit", cwd=tmp_path) == before


@pytest.mark.parametrize(
    "db", ["mysql://pulje@localhost/pulje", "sqlite:///pulje.db", "postgresql://pulje@localhost:x/p"]
)
def test_an_unknown_scheme_or_a_malformed_url_is_a_usage_error_in_one_line(
    tmp_path: Path, plan_2022: Path, db: str
) -> None:
    refused = run("--db", db, "plan", "import", str(plan_2022), cwd=tmp_path)

    assert refused.returncode == 2, explain(refused)
    assert "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_pulje_db_and_pulje_actor_choose_the_ledger_and_who_records(tmp_path: Path, plan_2022: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    db = tmp_path / "from-env.db"
    env = clean_env(PULJE_DB=str(db), PULJE_ACTOR="kasserer-env")

    assert run("plan", "import", str(plan_2022), cwd=work, env=env).returncode == 0
    granted = ok_json(*award("2.000"), cwd=work, env=env)
    overridden = ok_json("--actor", "kasserer-cli", "grant", "disburse", granted["grant"], "--amount", "2.000",
                         "--date", "2022-03-10", cwd=work, env=env)

    assert db.exists()
    assert list(work.iterdir()) == []  # nothing in the working directory: no ./pulje.db
    events = {e["sequence"]: e for e in ok_json("audit", cwd=work, env=env)["events"]}
    assert events[granted["sequence"]]["actor"] == "kasserer-env"
    assert events[overridden["sequence"]]["actor"] == "kasserer-cli"  # the option beats the variable
    assert {e["actor"] for e in events.values()} == {"kasserer-env", "kasserer-cli"}
    direct = ok_json("--db", str(db), "status", cwd=work, env=clean_env())
    assert direct["head"] == overridden["head"]


def test_without_db_or_pulje_db_the_ledger_is_pulje_db_in_the_working_directory(
    tmp_path: Path, plan_2022: Path
) -> None:
    imported = run("--actor", "tester", "plan", "import", str(plan_2022), cwd=tmp_path)

    assert imported.returncode == 0, explain(imported)
    assert (tmp_path / "pulje.db").exists()


def test_python_dash_m_cli_main_runs_the_same_command(tmp_path: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "cli.main", "--help"], cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
        timeout=120, check=False,
    )

    assert process.returncode == 0, explain(process)
    assert "Usage:" in process.stdout and "reallocate" in process.stdout


#: Run a command as the console script does, then name the heavy modules it imported.
_HEAVY = (
    "import sys, runpy\n"
    "sys.argv = ['pulje', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('cli.main', run_name='__main__')\n"
    "except SystemExit as done:\n"
    "    code = done.code\n"
    "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'eventsourcing', 'babel', 'jinja2', 'weasyprint', 'openpyxl'})\n"
    "print('HEAVY', ','.join(heavy), code, file=sys.stderr)\n"
)


def test_a_read_of_caught_up_views_imports_none_of_the_heavy_libraries(tmp_path: Path) -> None:
    made = run("demo", "--out", str(tmp_path / "demo"), cwd=tmp_path)
    assert made.returncode == 0, explain(made)
    db = str(tmp_path / "demo" / "pulje.db")
    for args in (("status",), ("pool", "show", "BTP", "--year", "2022"), ("pool", "show", "BTP", "--year", "2022", "--format", "json")):
        process = subprocess.run(
            [sys.executable, "-c", _HEAVY, "--db", db, *args], cwd=tmp_path, env=clean_env(), capture_output=True,
            text=True, timeout=120, check=False,
        )
        assert "HEAVY  0" in process.stderr or "HEAVY  None" in process.stderr, explain(process)
    # The check itself can see a heavy import: a write needs eventsourcing and pydantic.
    process = subprocess.run(
        [sys.executable, "-c", _HEAVY, "--db", db, "verify"], cwd=tmp_path, env=clean_env(), capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert "HEAVY eventsourcing,pydantic" in process.stderr, explain(process)
