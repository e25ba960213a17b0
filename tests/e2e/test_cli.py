"""End to end: the `pulje` command line, driven as a user types it.

Every test runs `cli.main:main` through click's `CliRunner` on a real ledger
(`--db`, `--actor tester`) and checks what people and programs rely on
(DESIGN.md, "Command-line contract" and "JSON shapes"): the exit code, the
documented JSON keys and figures, a refusal that says why in one line on
stderr without a traceback, and that a refused command writes nothing (the
audit trail and the status head are the same before and after).

Every test that touches storage runs twice, through conftest's `ledger_db`:
on an SQLite file in `tmp_path` and on a schema of its own in PostgreSQL
(`PULJE_TEST_POSTGRES`). Only what is about files stays SQLite-only: a folder
given as the ledger, a file that is not a ledger, a folder that does not exist.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from cli.main import main

AG = "arbejdsgruppen"
OEKF = "Økonomiforvaltningen"
BTP = "bylivs-og-tryghedspulje"
BTP_FUNDING = 10_700_000  # line 14 of the 2022 plan: 107.000 kr.
PLAN_TOTAL_2022 = 197_000_000  # 1.970.000 kr.

POOL_KEYS = {
    "pool", "code", "year", "funding_ore", "awarded_ore", "disbursed_ore", "returned_ore", "withdrawn_ore",
    "committed_ore", "available_ore", "closed",
}
GRANT_KEYS = {
    "grant", "pool", "year", "recipient", "purpose", "area", "date", "decided_by", "decision_ref", "awarded_ore",
    "disbursed_ore", "returned_ore", "withdrawn_ore", "status",
}
AUDIT_KEYS = {
    "sequence", "recorded_at", "date", "kind", "actor", "decided_by", "decision_ref", "reason", "amount_ore", "hash",
}
FORMULA_STARTS = ("=", "+", "-", "@")


# ---------------------------------------------------------------------- the command line, as a user types it


def explain(result: Result) -> str:
    return (
        f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n"
        f"--- exception {result.exception!r}"
    )


class Cli:
    """`pulje --db LOCATION --actor NAME ...` on one ledger: an SQLite path or a PostgreSQL URL."""

    def __init__(self, db: Path | str, actor: str = "tester") -> None:
        self.db = str(db)
        self.actor = actor
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(main, ["--db", self.db, "--actor", self.actor, *args])

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, explain(result)
        return result

    def json(self, *args: str) -> dict[str, Any]:
        return json.loads(self.ok(*args, "--format", "json").stdout)

    def events(self, *args: str) -> list[dict[str, Any]]:
        return self.json("audit", *args)["events"]

    def status(self, *args: str) -> dict[str, Any]:
        return self.json("status", *args)

    def pool(self, *args: str, code: str = "BTP") -> dict[str, Any]:
        return self.json("pool", "show", code, "--year", "2022", *args)

    def line(self, number: str, *args: str) -> dict[str, Any]:
        (plan,) = self.status("--year", "2022", *args)["plans"]
        return next(row for row in plan["lines"] if row["line"] == number)

    def award(
        self, amount: str = "5.000", *, date: str = "2022-03-01", recipient: str = "Beboerforeningen i Tingbjerg",
        purpose: str = "Tryghedsvandring i Gadelandet", decided_by: str = AG, pool: str = "BTP",
        more: tuple[str, ...] = (),
    ) -> Result:
        return self(
            "grant", "award", "--pool", pool, "--year", "2022", "--recipient", recipient, "--purpose", purpose,
            "--area", "Tryggere byliv", "--amount", amount, "--date", date, "--decided-by", decided_by,
            "--decision-ref", "AG 2022-03", *more,
        )

    def granted(self, amount: str = "5.000", **kwargs: Any) -> str:
        """Award a grant and return its number."""
        result = self.award(amount, **kwargs, more=("--format", "json"))
        assert result.exit_code == 0, explain(result)
        return json.loads(result.stdout)["grant"]

    def reallocate(
        self, amount: str = "20.000", *, from_line: str = "12", to_line: str = "14", date: str = "2022-06-15",
        decided_by: str = OEKF, more: tuple[str, ...] = (),
    ) -> Result:
        return self(
            "reallocate", "--year", "2022", "--from", from_line, "--to", to_line, "--amount", amount, "--date", date,
            "--decided-by", decided_by, "--decision-ref", "ØKF 2022-41", "--reason", "Flere tryghedsvandringer", *more,
        )

    def written(self) -> tuple[list[dict[str, Any]], str, int]:
        """What the ledger holds: the audit trail and the chain head."""
        status = self.status()
        return self.events(), status["head"], status["head_sequence"]


def refusal(result: Result, code: int, *, one_line: bool = True) -> str:
    """Check a clean refusal (exit code, message on stderr, no traceback) and return its message."""
    assert result.exit_code == code, explain(result)
    assert isinstance(result.exception, SystemExit), explain(result)
    assert "Traceback" not in result.output, explain(result)
    assert result.stdout == "", explain(result)
    # click's own usage errors add its "Usage:" and "Try ... --help" lines around the message
    message = [
        line for line in result.stderr.splitlines()
        if line.strip() and not line.startswith(("Usage:", "Try '"))
    ]
    assert message, explain(result)
    if one_line:
        assert len(message) == 1, explain(result)
    return "\n".join(message)


@contextmanager
def nothing_written(cli: Cli) -> Iterator[None]:
    before = cli.written()
    yield
    assert cli.written() == before


def is_postgres(db: str) -> bool:
    return "://" in db


def nothing_created(db: str) -> bool:
    """True when the location holds no ledger at all: no SQLite file, or no PostgreSQL schema (or an empty one)."""
    if not is_postgres(db):
        return not Path(db).exists()
    from urllib.parse import parse_qs, urlsplit

    import psycopg

    schema = parse_qs(urlsplit(db).query)["schema"][0]
    with psycopg.connect(db.split("?")[0], autocommit=True) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,)).fetchone()
    return tables[0] == 0


def names_location(message: str, db: str) -> bool:
    """The message names the ledger: the SQLite path, or the PostgreSQL schema (and never the raw URL's password)."""
    if not is_postgres(db):
        return db in message
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(db).query)["schema"][0] in message and "postgresql://" in message


@pytest.fixture
def cli(ledger_db: str) -> Cli:
    return Cli(ledger_db)


@pytest.fixture
def adopted(cli: Cli, plan_2022: Path) -> Cli:
    """A ledger with the 2022 Tingbjerg-Husum plan adopted."""
    cli.ok("plan", "import", str(plan_2022))
    return cli


@pytest.fixture
def paying(adopted: Cli) -> Cli:
    """BTP-2022-001: 5.000 awarded, 4.000 paid. BTP-2022-002: 3.000 awarded and paid in full."""
    assert adopted.granted("5.000", date="2022-03-01") == "BTP-2022-001"
    adopted.ok("grant", "disburse", "BTP-2022-001", "--amount", "4.000", "--date", "2022-03-10")
    assert adopted.granted("3.000", date="2022-04-01", recipient="Husum Boldklub") == "BTP-2022-002"
    adopted.ok("grant", "disburse", "BTP-2022-002", "--amount", "3.000", "--date", "2022-04-10")
    return adopted


def by_grant(pool: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["grant"]: g for g in pool["grants"]}


def without_head(shown: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in shown.items() if k not in ("head", "head_sequence")}


def figures(obj: dict[str, Any], keys: set[str] | tuple[str, ...]) -> dict[str, Any]:
    return {k: obj[k] for k in keys}


# ---------------------------------------------------------------------- plan import


def test_importing_the_2022_plan_prints_the_plan_totals_and_the_warnings_on_stderr(cli: Cli, plan_2022: Path) -> None:
    result = cli("plan", "import", str(plan_2022))

    assert result.exit_code == 0, explain(result)
    assert "1.970.000,00" in result.stdout  # 2022, as the document's overview table
    assert "1.934.000,00" in result.stdout  # 2021
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings, explain(result)
    assert "warning:" not in result.stdout
    assert any("Fælleshaven, 2023" in w for w in warnings)
    assert "Traceback" not in result.output


def test_importing_with_json_keeps_stdout_pure_json_and_lists_the_same_warnings(cli: Cli, plan_2022: Path) -> None:
    result = cli.ok("plan", "import", str(plan_2022), "--format", "json")

    data = json.loads(result.stdout)
    assert {"event_id", "sequence", "head", "repeated"} <= data.keys()
    assert data["repeated"] is False
    assert data["partnership"] == "Tingbjerg-Husum" and data["year"] == 2022
    totals = {t["year"]: t["total_ore"] for t in data["totals"]}
    assert totals[2022] == PLAN_TOTAL_2022
    assert totals[2021] == 193_400_000
    assert len(data["warnings"]) == result.stderr.count("warning:")


def test_importing_the_same_plan_again_changes_nothing(adopted: Cli, plan_2022: Path) -> None:
    first_event = adopted.events()[0]
    before = adopted.written()

    again = adopted.json("plan", "import", str(plan_2022))

    assert again["repeated"] is True
    assert again["event_id"] == first_event["event_id"]
    assert again["sequence"] == first_event["sequence"]
    assert adopted.written() == before


def test_importing_another_file_for_an_adopted_partnership_and_year_is_refused(
    adopted: Cli, plan_2022: Path, tmp_path: Path
) -> None:
    other = tmp_path / "tingbjerg-husum-2022-edited.toml"
    other.write_text(plan_2022.read_text(encoding="utf-8") + "\n# edited after adoption\n", encoding="utf-8")

    with nothing_written(adopted):
        message = refusal(adopted("plan", "import", str(other)), 3)

    assert "already adopted" in message


def test_a_plan_file_with_problems_is_refused_listing_each_problem_with_file_and_key(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad-plan.toml"
    bad.write_text(
        """
[plan]
partnership = "Prøve"
title = "Tryghedsplan med fejl"
year = 2022

[authority]
reallocation = "Økonomiforvaltningen"

[[line]]
no = "1"
name = "En"
[line.budget.2022]
total = 91.700

[[line]]
no = "1"
name = "To"
[line.budget.2022]
total = 1000

[[pool]]
id = "pulje"
code = "P"
name = "Pulje"
line = "99"
decided_by = "arbejdsgruppen"
""",
        encoding="utf-8",
    )

    message = refusal(cli("plan", "import", str(bad)), 3, one_line=False)

    problems = [line.strip() for line in message.splitlines()[1:]]
    assert len(problems) == 3, message
    assert all(p.startswith("bad-plan.toml: ") for p in problems), message
    assert any("line[1]" in p and "budget.2022.total" in p and "91700" in p for p in problems), message
    assert any("line[2]" in p and ".no" in p and "duplicate" in p for p in problems), message
    assert any("pool[1].line" in p and "'99'" in p for p in problems), message
    assert nothing_created(cli.db)  # not even an empty ledger


def test_importing_a_file_that_does_not_exist_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    message = refusal(cli("plan", "import", str(tmp_path / "no-such-plan.toml")), 2, one_line=False)

    assert "no-such-plan.toml" in message
    assert nothing_created(cli.db)


# ---------------------------------------------------------------------- status


def test_status_as_json_has_the_documented_keys_and_the_2022_figures(adopted: Cli) -> None:
    status = adopted.status()

    assert {"head", "plans", "pools"} <= status.keys()
    (plan,) = status["plans"]
    assert {"partnership", "year", "total_adopted_ore", "total_budget_ore", "lines"} <= plan.keys()
    assert plan["partnership"] == "Tingbjerg-Husum" and plan["year"] == 2022
    assert plan["total_budget_ore"] == PLAN_TOTAL_2022
    assert plan["total_adopted_ore"] == PLAN_TOTAL_2022
    for line in plan["lines"]:
        assert {"line", "name", "adopted_ore", "budget_ore"} <= line.keys()
    assert sum(line["budget_ore"] for line in plan["lines"]) == PLAN_TOTAL_2022
    pools = {p["code"]: p for p in status["pools"]}
    assert set(pools) == {"BTP", "VP"}
    for pool in pools.values():
        assert POOL_KEYS <= pool.keys()
        assert "grants" not in pool
    assert pools["BTP"]["funding_ore"] == BTP_FUNDING
    assert pools["BTP"]["available_ore"] == BTP_FUNDING
    assert pools["VP"]["funding_ore"] == 1_000_000
    assert pools["BTP"]["closed"] is False


def test_status_year_shows_only_the_plan_and_pools_of_that_year(adopted: Cli) -> None:
    assert [p["year"] for p in adopted.status("--year", "2022")["plans"]] == [2022]
    assert {p["year"] for p in adopted.status("--year", "2022")["pools"]} == {2022}

    other_year = adopted.status("--year", "2023")

    assert other_year["plans"] == []
    assert other_year["pools"] == []


def test_status_as_a_table_shows_the_head(adopted: Cli) -> None:
    head = adopted.status()["head"]

    table = adopted.ok("status").stdout

    assert head in table
    assert "Bylivs- og tryghedspulje" in table
    assert "1.970.000,00" in table


# ---------------------------------------------------------------------- a year through the command line


def test_a_small_year_through_the_command_line_gives_exact_pool_figures_and_a_closed_pool(adopted: Cli) -> None:
    cli = adopted

    awarded = cli.award("5.000", date="2022-03-01", recipient="Beboerforeningen i Tingbjerg")
    assert awarded.exit_code == 0, explain(awarded)
    assert awarded.stdout.splitlines()[0] == "BTP-2022-001"

    second = json.loads(
        cli.ok(
            "grant", "award", "--pool", "BTP", "--year", "2022", "--recipient", "Husum Boldklub", "--purpose",
            "Aftenfodbold for unge", "--area", "Tryggere byliv", "--amount", "10.000,00", "--date", "2022-04-21",
            "--decided-by", AG, "--decision-ref", "AG 2022-04", "--format", "json",
        ).stdout
    )
    assert {"event_id", "sequence", "head", "grant"} <= second.keys()
    assert second["grant"] == "BTP-2022-002"
    assert second["repeated"] is False
    status = cli.status()
    assert (second["head"], second["sequence"]) == (status["head"], status["head_sequence"])

    cli.ok("grant", "disburse", "BTP-2022-001", "--amount", "4.000", "--date", "2022-03-10",
           "--payment-ref", "Bilag 118")
    cli.ok("grant", "return", "BTP-2022-001", "--amount", "500", "--date", "2022-04-01", "--reason", "Ubrugte midler")
    withdrawn = cli.ok("grant", "withdraw", "BTP-2022-001", "--date", "2022-04-02", "--reason", "Resten bruges ikke")
    assert "1.000,00" in withdrawn.stdout  # the undisbursed remainder is released
    cli.ok("grant", "disburse", "BTP-2022-002", "--amount", "10.000", "--date", "2022-05-01")
    assert cli.granted(
        "2.500", date="2022-06-16", recipient="Tingbjerg Skole, forældrerådet", purpose="Sommerfest"
    ) == "BTP-2022-003"

    cli.ok("reallocate", "--year", "2022", "--from", "12", "--to", "14", "--amount", "20.000", "--date", "2022-06-15",
           "--decided-by", OEKF, "--decision-ref", "ØKF 2022-41", "--reason", "Flere tryghedsvandringer")
    assert figures(cli.line("12"), ("adopted_ore", "budget_ore")) == {"adopted_ore": 6_000_000, "budget_ore": 4_000_000}
    assert figures(cli.line("14"), ("adopted_ore", "budget_ore")) == {
        "adopted_ore": BTP_FUNDING, "budget_ore": BTP_FUNDING + 2_000_000,
    }
    assert cli.status()["plans"][0]["total_budget_ore"] == PLAN_TOTAL_2022  # money moved, not made

    pool = cli.pool()
    assert POOL_KEYS | {"grants", "head"} <= pool.keys()
    assert figures(pool, POOL_KEYS - {"pool"}) == {
        "code": "BTP",
        "year": 2022,
        "funding_ore": BTP_FUNDING + 2_000_000,
        "awarded_ore": 500_000 + 1_000_000 + 250_000,
        "disbursed_ore": 400_000 + 1_000_000,
        "returned_ore": 50_000,
        "withdrawn_ore": 100_000,
        "committed_ore": 1_750_000 - 100_000 - 50_000,
        "available_ore": 12_700_000 - 1_600_000,
        "closed": False,
    }
    grants = by_grant(pool)
    assert list(grants) == ["BTP-2022-001", "BTP-2022-002", "BTP-2022-003"]
    assert figures(grants["BTP-2022-001"], GRANT_KEYS) == {
        "grant": "BTP-2022-001", "pool": BTP, "year": 2022, "recipient": "Beboerforeningen i Tingbjerg",
        "purpose": "Tryghedsvandring i Gadelandet", "area": "Tryggere byliv", "date": "2022-03-01", "decided_by": AG,
        "decision_ref": "AG 2022-03", "awarded_ore": 500_000, "disbursed_ore": 400_000, "returned_ore": 50_000,
        "withdrawn_ore": 100_000, "status": "withdrawn",
    }
    assert figures(grants["BTP-2022-002"], GRANT_KEYS) == {
        "grant": "BTP-2022-002", "pool": BTP, "year": 2022, "recipient": "Husum Boldklub",
        "purpose": "Aftenfodbold for unge", "area": "Tryggere byliv", "date": "2022-04-21", "decided_by": AG,
        "decision_ref": "AG 2022-04", "awarded_ore": 1_000_000, "disbursed_ore": 1_000_000, "returned_ore": 0,
        "withdrawn_ore": 0, "status": "disbursed",
    }
    amounts_and_status = ("awarded_ore", "disbursed_ore", "returned_ore", "withdrawn_ore", "status")
    assert figures(grants["BTP-2022-003"], amounts_and_status) == {
        "awarded_ore": 250_000, "disbursed_ore": 0, "returned_ore": 0, "withdrawn_ore": 0, "status": "awarded",
    }

    closed = cli.json("pool", "close", "BTP", "--year", "2022", "--date", "2022-12-31", "--decided-by", AG,
                      "--decision-ref", "AG 2022-12")
    assert closed["unspent_ore"] == 11_100_000
    pool = cli.pool()
    assert pool["closed"] is True
    assert pool["available_ore"] == 11_100_000
    assert by_grant(pool)["BTP-2022-003"]["status"] == "closed"
    assert [p["closed"] for p in cli.status()["pools"] if p["code"] == "BTP"] == [True]
    assert "lukket" in cli.ok("pool", "show", "BTP", "--year", "2022").stdout

    later_writes = [
        ("grant", "award", "--pool", "BTP", "--year", "2022", "--recipient", "Sen ansøger", "--purpose", "Julefest",
         "--amount", "1.000", "--date", "2022-12-31", "--decided-by", AG, "--decision-ref", "AG 2022-12"),
        ("grant", "disburse", "BTP-2022-003", "--amount", "1.000", "--date", "2022-12-31"),
        ("grant", "return", "BTP-2022-002", "--amount", "1.000", "--date", "2022-12-31", "--reason", "Ubrugt"),
        ("grant", "withdraw", "BTP-2022-003", "--date", "2022-12-31", "--reason", "Nåede det ikke"),
        ("reallocate", "--year", "2022", "--from", "12", "--to", "14", "--amount", "1.000", "--date", "2022-12-31",
         "--decided-by", OEKF, "--decision-ref", "ØKF 2022-50", "--reason", "Mere til puljen"),
        ("reallocate", "--year", "2022", "--from", "14", "--to", "12", "--amount", "1.000", "--date", "2022-12-31",
         "--decided-by", OEKF, "--decision-ref", "ØKF 2022-51", "--reason", "Mindre til puljen"),
        ("pool", "close", "BTP", "--year", "2022", "--date", "2022-12-31", "--decided-by", AG,
         "--decision-ref", "AG 2022-12b"),
    ]
    for command in later_writes:
        with nothing_written(cli):
            message = refusal(cli(*command), 3)
        assert "closed" in message, command


def test_pool_show_as_of_a_date_shows_only_what_was_effective_then(adopted: Cli) -> None:
    cli = adopted
    assert cli.granted("5.000", date="2022-03-01") == "BTP-2022-001"
    cli.ok("grant", "disburse", "BTP-2022-001", "--amount", "4.000", "--date", "2022-03-10")
    cli.ok(*("reallocate", "--year", "2022", "--from", "12", "--to", "14", "--amount", "20.000", "--date", "2022-06-15",
             "--decided-by", OEKF, "--decision-ref", "ØKF 2022-41", "--reason", "Flere tryghedsvandringer"))
    assert cli.granted("7.000", date="2022-09-01") == "BTP-2022-002"
    # recorded last, decided first: the effective date counts, not the order of recording
    assert cli.granted("1.500", date="2022-02-01", recipient="Afdelingsbestyrelsen Voldparken") == "BTP-2022-003"
    keys = ("funding_ore", "awarded_ore", "disbursed_ore", "committed_ore", "available_ore")

    early = cli.pool("--as-of", "2022-03-05")
    assert figures(early, keys) == {
        "funding_ore": BTP_FUNDING, "awarded_ore": 650_000, "disbursed_ore": 0, "committed_ore": 650_000,
        "available_ore": BTP_FUNDING - 650_000,
    }
    assert sorted(by_grant(early)) == ["BTP-2022-001", "BTP-2022-003"]
    assert by_grant(early)["BTP-2022-001"]["disbursed_ore"] == 0

    summer = cli.pool("--as-of", "2022-06-30")
    assert figures(summer, keys) == {
        "funding_ore": BTP_FUNDING + 2_000_000, "awarded_ore": 650_000, "disbursed_ore": 400_000,
        "committed_ore": 650_000, "available_ore": BTP_FUNDING + 2_000_000 - 650_000,
    }
    assert sorted(by_grant(summer)) == ["BTP-2022-001", "BTP-2022-003"]

    now = cli.pool()
    assert now["awarded_ore"] == 1_350_000
    assert sorted(by_grant(now)) == ["BTP-2022-001", "BTP-2022-002", "BTP-2022-003"]
    assert cli.line("14", "--as-of", "2022-06-14")["budget_ore"] == BTP_FUNDING
    assert cli.line("14", "--as-of", "2022-06-15")["budget_ore"] == BTP_FUNDING + 2_000_000


@pytest.mark.parametrize("name", ["BTP", "bylivs-og-tryghedspulje"])
def test_a_pool_is_named_by_its_code_or_its_id(adopted: Cli, name: str) -> None:
    assert adopted.granted("1.000", pool=name) == "BTP-2022-001"

    shown = adopted.pool(code=name)

    assert (shown["pool"], shown["code"], shown["awarded_ore"]) == (BTP, "BTP", 100_000)


def test_pool_show_as_of_a_date_before_the_pool_opened_is_refused(adopted: Cli) -> None:
    message = refusal(adopted("pool", "show", "BTP", "--year", "2022", "--as-of", "2021-12-31"), 3)

    assert "2021-12-31" in message


# ---------------------------------------------------------------------- refusals: exit code, one line, nothing written


def test_overspending_a_pool_is_refused_naming_what_is_available(paying: Cli) -> None:
    with nothing_written(paying):
        message = refusal(paying.award("200.000", date="2022-05-01"), 3)

    assert message.startswith("Refused:")
    assert "available" in message
    assert "99.000,00" in message  # 107.000 - 5.000 - 3.000


def test_a_grant_decided_by_another_body_than_the_pools_is_refused(paying: Cli) -> None:
    with nothing_written(paying):
        message = refusal(paying.award("1.000", decided_by="styregruppen"), 3)

    assert "arbejdsgruppen" in message and "styregruppen" in message


def test_a_reallocation_decided_by_another_body_than_the_plans_is_refused(adopted: Cli) -> None:
    with nothing_written(adopted):
        message = refusal(adopted.reallocate(decided_by=AG), 3)

    assert OEKF in message and AG in message


@pytest.mark.parametrize("amount", ["1.5", "1e9", "-5", "0", "abc"])
@pytest.mark.parametrize("command", ["award", "disburse", "return", "reallocate"])
def test_a_malformed_amount_is_refused_naming_the_input(paying: Cli, command: str, amount: str) -> None:
    argv = {
        "award": ("grant", "award", "--pool", "BTP", "--year", "2022", "--recipient", "R", "--purpose", "P",
                  "--amount", amount, "--date", "2022-03-01", "--decided-by", AG, "--decision-ref", "AG"),
        "disburse": ("grant", "disburse", "BTP-2022-001", "--amount", amount, "--date", "2022-03-11"),
        "return": ("grant", "return", "BTP-2022-001", "--amount", amount, "--date", "2022-03-11", "--reason", "x"),
        "reallocate": ("reallocate", "--year", "2022", "--from", "12", "--to", "14", "--amount", amount,
                       "--date", "2022-06-15", "--decided-by", OEKF, "--decision-ref", "ØKF", "--reason", "x"),
    }[command]

    with nothing_written(paying):
        message = refusal(paying(*argv), 3)

    assert repr(amount) in message
    assert "--amount" in message


@pytest.mark.parametrize("date", ["2022-02-30", "2022-13-01", "22-01-01"])
def test_an_impossible_date_is_a_usage_error_naming_the_input(adopted: Cli, date: str) -> None:
    with nothing_written(adopted):
        message = refusal(adopted.award("1.000", date=date), 2)

    assert repr(date) in message
    assert "--date" in message


@pytest.mark.parametrize("date", ["2021-12-31", "2023-01-05"])
def test_a_grant_dated_outside_the_pools_year_is_refused(adopted: Cli, date: str) -> None:
    with nothing_written(adopted):
        message = refusal(adopted.award("1.000", date=date), 3)

    assert date in message and "2022" in message


def test_a_grant_from_an_unknown_pool_is_refused(adopted: Cli) -> None:
    with nothing_written(adopted):
        message = refusal(adopted.award("1.000", pool="NOPE"), 3)

    assert "NOPE" in message


@pytest.mark.parametrize(
    "command",
    [
        ("grant", "disburse", "BTP-2022-099", "--amount", "100", "--date", "2022-03-11"),
        ("grant", "return", "BTP-2022-099", "--amount", "100", "--date", "2022-03-11", "--reason", "x"),
        ("grant", "withdraw", "BTP-2022-099", "--date", "2022-03-11", "--reason", "x"),
    ],
    ids=["disburse", "return", "withdraw"],
)
def test_an_unknown_grant_is_refused(paying: Cli, command: tuple[str, ...]) -> None:
    with nothing_written(paying):
        message = refusal(paying(*command), 3)

    assert "BTP-2022-099" in message


@pytest.mark.parametrize("from_line, to_line", [("99", "14"), ("12", "99")])
def test_a_reallocation_naming_an_unknown_line_is_refused(adopted: Cli, from_line: str, to_line: str) -> None:
    with nothing_written(adopted):
        message = refusal(adopted.reallocate(from_line=from_line, to_line=to_line), 3)

    assert "'99'" in message


def test_paying_out_more_than_is_left_of_a_grant_is_refused(paying: Cli) -> None:
    with nothing_written(paying):
        message = refusal(paying("grant", "disburse", "BTP-2022-001", "--amount", "1.001", "--date", "2022-03-11"), 3)

    assert "1.000,00" in message  # what is left to pay out


def test_taking_back_more_than_was_paid_out_is_refused(paying: Cli) -> None:
    with nothing_written(paying):
        message = refusal(
            paying("grant", "return", "BTP-2022-001", "--amount", "4.001", "--date", "2022-03-11", "--reason", "x"), 3
        )

    assert "4.000,00" in message


def test_withdrawing_a_grant_that_is_paid_in_full_is_refused(paying: Cli) -> None:
    with nothing_written(paying):
        message = refusal(paying("grant", "withdraw", "BTP-2022-002", "--date", "2022-04-11", "--reason", "x"), 3)

    assert "BTP-2022-002" in message


def test_reversing_the_same_event_twice_is_refused(paying: Cli) -> None:
    payment = paying.events()[-1]
    assert payment["kind"] == "grant_disbursed"
    paying.ok("reverse", str(payment["sequence"]), "--reason", "Tastefejl")

    with nothing_written(paying):
        refusal(paying("reverse", str(payment["sequence"]), "--reason", "Igen"), 3)


def test_reversing_the_adoption_of_the_plan_is_refused(adopted: Cli) -> None:
    adoption = adopted.events()[0]
    assert adoption["kind"] == "plan_adopted"

    with nothing_written(adopted):
        message = refusal(adopted("reverse", str(adoption["sequence"]), "--reason", "Forkert plan"), 3)

    assert "adoption" in message


@pytest.mark.parametrize("event", ["9999", "not-an-event"])
def test_reversing_an_event_that_does_not_exist_is_refused(adopted: Cli, event: str) -> None:
    with nothing_written(adopted):
        message = refusal(adopted("reverse", event, "--reason", "x"), 3)

    assert event in message


@pytest.mark.parametrize("command", [("status",), ("plan", "import", "PLAN")], ids=["status", "plan-import"])
def test_a_ledger_in_a_folder_that_does_not_exist_is_a_usage_error(
    tmp_path: Path, plan_2022: Path, command: tuple[str, ...]
) -> None:
    folder = tmp_path / "no-such-folder"

    message = refusal(Cli(folder / "ledger.db")(*(str(plan_2022) if a == "PLAN" else a for a in command)), 2)

    assert str(folder) in message
    assert not folder.exists()


@pytest.mark.parametrize(
    "command", [("status",), ("audit",), ("pool", "show", "BTP", "--year", "2022"), ("plan", "show")],
    ids=["status", "audit", "pool-show", "plan-show"],
)
def test_reading_a_ledger_that_does_not_exist_is_a_usage_error_and_creates_no_file(
    ledger_db: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    message = refusal(Cli(ledger_db)(*command), 2)

    assert "no ledger" in message and names_location(message, ledger_db), message
    assert nothing_created(ledger_db)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [
        ("grant", "award", "--pool", "BTP", "--year", "2022", "--recipient", "R", "--purpose", "P", "--amount", "1.000",
         "--date", "2022-03-01", "--decided-by", AG, "--decision-ref", "AG"),
        ("grant", "disburse", "BTP-2022-001", "--amount", "1.000", "--date", "2022-03-01"),
        ("reallocate", "--year", "2022", "--from", "12", "--to", "14", "--amount", "1.000", "--date", "2022-06-15",
         "--decided-by", OEKF, "--decision-ref", "ØKF", "--reason", "x"),
        ("pool", "close", "BTP", "--year", "2022", "--date", "2022-12-31", "--decided-by", AG, "--decision-ref", "AG"),
        ("reverse", "3", "--reason", "x"),
    ],
    ids=["award", "disburse", "reallocate", "pool-close", "reverse"],
)
def test_a_refused_write_on_a_ledger_that_does_not_exist_leaves_no_file_behind(
    ledger_db: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    message = refusal(Cli(ledger_db)(*command), 2)

    assert "no ledger" in message and names_location(message, ledger_db), message
    assert nothing_created(ledger_db)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_given_as_the_ledger_is_a_usage_error(tmp_path: Path) -> None:
    message = refusal(Cli(tmp_path)("status"), 2)

    assert "folder" in message
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_a_ledger_is_a_storage_failure_without_a_traceback(tmp_path: Path) -> None:
    not_a_ledger = tmp_path / "notes.txt"
    not_a_ledger.write_text("not a ledger\n", encoding="utf-8")

    refusal(Cli(not_a_ledger)("status"), 4)

    assert not_a_ledger.read_text(encoding="utf-8") == "not a ledger\n"


@pytest.mark.parametrize(
    "url, named",
    [
        ("mysql://pulje@localhost/pulje", "mysql"),
        ("sqlite:///tmp/pulje.db", "sqlite"),
        ("http://pulje.example/ledger", "http"),
    ],
)
def test_a_database_url_with_an_unknown_scheme_is_refused_in_one_sentence(
    tmp_path: Path, plan_2022: Path, monkeypatch: pytest.MonkeyPatch, url: str, named: str
) -> None:
    monkeypatch.chdir(tmp_path)

    message = refusal(Cli(url)("plan", "import", str(plan_2022)), 2)

    assert named in message
    assert message.startswith("Error: ") and message.endswith(".")
    assert message.count(". ") == 0  # one sentence
    assert list(tmp_path.iterdir()) == []  # no file made from the URL


@pytest.mark.parametrize(
    "command, option",
    [
        (("grant", "award", "--pool", "BTP", "--year", "2022"), "--recipient"),
        (("grant", "disburse", "BTP-2022-001", "--date", "2022-03-11"), "--amount"),
        (("reverse", "3"), "--reason"),
        (("pool", "show", "BTP"), "--year"),
    ],
    ids=["award", "disburse", "reverse", "pool-show"],
)
def test_a_missing_required_option_is_a_usage_error_naming_it(
    paying: Cli, command: tuple[str, ...], option: str
) -> None:
    with nothing_written(paying):
        message = refusal(paying(*command), 2)

    assert option in message


# ---------------------------------------------------------------------- --key


def test_repeating_a_command_with_the_same_key_prints_the_earlier_result_and_writes_nothing(adopted: Cli) -> None:
    first = adopted.award("1.000", more=("--key", "ag-2022-03-pkt-4", "--format", "json"))
    assert first.exit_code == 0, explain(first)
    earlier = json.loads(first.stdout)

    with nothing_written(adopted):
        again = json.loads(adopted.award("1.000", more=("--key", "ag-2022-03-pkt-4", "--format", "json")).stdout)
        text = adopted.award("1.000", more=("--key", "ag-2022-03-pkt-4"))

    assert again["repeated"] is True and earlier["repeated"] is False
    assert {k: again[k] for k in ("event_id", "sequence", "head", "grant")} == {
        k: earlier[k] for k in ("event_id", "sequence", "head", "grant")
    }
    assert text.exit_code == 0 and text.stdout.splitlines()[0] == earlier["grant"]
    assert "already recorded" in text.stdout
    assert [g["grant"] for g in adopted.pool()["grants"]] == [earlier["grant"]]


def test_a_retried_payment_with_the_same_key_is_paid_once(paying: Cli) -> None:
    pay = ("grant", "disburse", "BTP-2022-001", "--amount", "500", "--date", "2022-03-20", "--key", "bilag-201")
    paying.ok(*pay)

    paying.ok(*pay)

    assert by_grant(paying.pool())["BTP-2022-001"]["disbursed_ore"] == 450_000


def test_the_same_key_with_other_content_is_refused(adopted: Cli) -> None:
    first = adopted.award("1.000", more=("--key", "k-1"))
    assert first.exit_code == 0, explain(first)

    with nothing_written(adopted):
        message = refusal(adopted.award("2.000", more=("--key", "k-1")), 3)
        refusal(adopted("grant", "disburse", "BTP-2022-001", "--amount", "100", "--date", "2022-03-11",
                        "--key", "k-1"), 3)

    assert "'k-1'" in message


def test_a_key_whose_command_was_refused_is_still_free(adopted: Cli) -> None:
    refusal(adopted.award("200.000", more=("--key", "k-2")), 3)

    result = adopted.award("2.000", more=("--key", "k-2", "--format", "json"))

    assert result.exit_code == 0, explain(result)
    assert json.loads(result.stdout)["repeated"] is False


# ---------------------------------------------------------------------- reverse


def test_reversing_a_payment_restores_the_figures_and_the_audit_trail_points_both_ways(paying: Cli) -> None:
    before = paying.pool()
    paid = paying.json("grant", "disburse", "BTP-2022-001", "--amount", "1.000", "--date", "2022-03-20")
    assert by_grant(paying.pool())["BTP-2022-001"]["status"] == "disbursed"

    reversal = paying.json("reverse", str(paid["sequence"]), "--reason", "Beløbet blev tastet forkert")

    after = paying.pool()
    assert without_head(after) == without_head(before)
    assert by_grant(after)["BTP-2022-001"]["status"] == "partly_disbursed"
    events = {e["sequence"]: e for e in paying.events()}
    assert events[reversal["sequence"]]["reverses_sequence"] == paid["sequence"]
    assert events[reversal["sequence"]]["reason"] == "Beløbet blev tastet forkert"
    assert events[paid["sequence"]]["reversed_by_sequence"] == reversal["sequence"]


def test_an_event_can_be_reversed_by_its_id(paying: Cli) -> None:
    paid = paying.json("grant", "disburse", "BTP-2022-001", "--amount", "1.000", "--date", "2022-03-20")

    reversal = paying.json("reverse", paid["event_id"], "--reason", "Dobbelt registreret")

    events = {e["sequence"]: e for e in paying.events()}
    assert events[reversal["sequence"]]["reverses_sequence"] == paid["sequence"]
    assert paying.pool()["disbursed_ore"] == 700_000


def test_reversing_the_pools_funding_change_reverses_the_reallocation_behind_it(adopted: Cli) -> None:
    realloc = adopted.reallocate("20.000", more=("--format", "json"))
    assert realloc.exit_code == 0, explain(realloc)
    reallocated = json.loads(realloc.stdout)
    assert adopted.pool()["funding_ore"] == BTP_FUNDING + 2_000_000
    (funding_change,) = [e for e in adopted.events() if e["kind"] == "funding_changed"]
    assert funding_change["amount_ore"] == 2_000_000

    adopted.ok("reverse", str(funding_change["sequence"]), "--reason", "Omdisponeringen blev ikke godkendt")

    (plan,) = adopted.status()["plans"]
    assert all(line["budget_ore"] == line["adopted_ore"] for line in plan["lines"])
    assert plan["total_budget_ore"] == PLAN_TOTAL_2022
    assert adopted.pool()["funding_ore"] == BTP_FUNDING
    events = {e["sequence"]: e for e in adopted.events()}
    assert events[reallocated["sequence"]]["reversed_by_sequence"] is not None
    assert events[funding_change["sequence"]]["reversed_by_sequence"] is not None


# ---------------------------------------------------------------------- the head a write prints


@pytest.mark.parametrize(
    "write",
    [
        "award",
        "reallocate",
        "plan import",
    ],
)
def test_a_write_prints_the_head_of_the_ledger_it_leaves_behind(cli: Cli, plan_2022: Path, write: str) -> None:
    if write != "plan import":
        cli.ok("plan", "import", str(plan_2022))
    argv = {
        "plan import": ("plan", "import", str(plan_2022)),
        "award": ("grant", "award", "--pool", "BTP", "--year", "2022", "--recipient", "R", "--purpose", "P",
                  "--amount", "1.000", "--date", "2022-03-01", "--decided-by", AG, "--decision-ref", "AG"),
        "reallocate": ("reallocate", "--year", "2022", "--from", "12", "--to", "14", "--amount", "1.000",
                       "--date", "2022-06-15", "--decided-by", OEKF, "--decision-ref", "ØKF", "--reason", "x"),
    }[write]

    printed = cli.json(*argv)

    assert printed["head"] == cli.status()["head"]


# ---------------------------------------------------------------------- audit


def test_every_audit_event_has_the_documented_keys(paying: Cli) -> None:
    paying.ok("grant", "return", "BTP-2022-001", "--amount", "500", "--date", "2022-04-01", "--reason", "Ubrugt")
    paying.reallocate()

    audit = paying.json("audit")

    assert audit["head"] == paying.status()["head"]
    events = audit["events"]
    assert events
    for event in events:
        assert AUDIT_KEYS <= event.keys(), event
        assert event["actor"] == "tester"
    sequences = [e["sequence"] for e in events]
    assert sequences == sorted(sequences)
    kinds = {e["kind"] for e in events}
    assert {"plan_adopted", "pool_opened", "grant_awarded", "grant_disbursed", "grant_returned",
            "reallocated", "funding_changed"} <= kinds
    returned = next(e for e in events if e["kind"] == "grant_returned")
    assert (returned["amount_ore"], returned["reason"], returned["date"]) == (50_000, "Ubrugt", "2022-04-01")
    award = next(e for e in events if e["kind"] == "grant_awarded")
    assert (award["decided_by"], award["decision_ref"]) == (AG, "AG 2022-03")


def test_audit_since_and_until_select_by_effective_date(paying: Cli) -> None:
    # recorded last, effective early: it must come with its date, not its recording
    paying.granted("1.000", date="2022-03-05", recipient="Sent registreret")
    everything = paying.events()

    chosen = paying.events("--since", "2022-03-05", "--until", "2022-04-01")

    expected = [e["sequence"] for e in everything if "2022-03-05" <= e["date"] <= "2022-04-01"]
    assert [e["sequence"] for e in chosen] == expected
    assert {e["date"] for e in chosen} == {"2022-03-05", "2022-03-10", "2022-04-01"}
    assert [e["sequence"] for e in paying.events("--until", "2022-01-01")] == [
        e["sequence"] for e in everything if e["date"] <= "2022-01-01"
    ]
    assert [e["sequence"] for e in paying.events("--since", "2022-04-02")] == [
        e["sequence"] for e in everything if e["date"] >= "2022-04-02"
    ]


def test_audit_csv_neutralises_cells_a_spreadsheet_would_run_as_formulas(adopted: Cli) -> None:
    office = Cli(adopted.db, actor="@kontoret")
    grant = office.granted("5.000", recipient='=HYPERLINK("http://x.example","klik")', purpose="+1 tryghed")
    office.ok("grant", "disburse", grant, "--amount", "3.000", "--date", "2022-03-10", "--payment-ref", "-bilag")
    office.ok("grant", "return", grant, "--amount", "1.000", "--date", "2022-03-20", "--reason", "=1+1")
    office.ok("grant", "withdraw", grant, "--date", "2022-03-21", "--reason", "-rest annulleres")
    office.ok("reallocate", "--year", "2022", "--from", "12", "--to", "14", "--amount", "1.000", "--date", "2022-06-15",
              "--decided-by", OEKF, "--decision-ref", "@ØKF 2022-41", "--reason", "+mere til puljen")

    text = office.ok("audit", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))

    assert len(rows) == len(office.events())
    for row in rows:
        for column, value in row.items():
            if column == "amount_ore":
                assert re.fullmatch(r"-?[0-9]*", value), (column, value)
            else:
                assert not value.startswith(FORMULA_STARTS), (column, value)
    reasons = [row["reason"] for row in rows if row["reason"]]
    assert "'=1+1" in reasons
    assert "'-rest annulleres" in reasons
    assert "'+mere til puljen" in reasons
    assert {row["actor"] for row in rows} == {"tester", "'@kontoret"}  # the plan was imported by tester
    assert "'@ØKF 2022-41" in {row["decision_ref"] for row in rows}
    awarded = next(row for row in rows if row["kind"] == "grant_awarded")
    details = json.loads(awarded["details"])
    assert details["recipient"] == '=HYPERLINK("http://x.example","klik")'  # inside a cell that starts with "{"


# ---------------------------------------------------------------------- plan show


def test_plan_show_as_json_has_every_line_with_its_posts_and_notes(adopted: Cli) -> None:
    shown = adopted.json("plan", "show", "--year", "2022")

    assert shown["head"] == adopted.status()["head"]
    (plan,) = shown["plans"]
    assert plan["year"] == 2022
    lines = {line["line"]: line for line in plan["lines"]}
    assert len(lines) == 20
    assert [line["line"] for line in plan["lines"]] == [line["line"] for line in adopted.status()["plans"][0]["lines"]]
    for line in plan["lines"]:
        assert isinstance(line["notes"], list)
        for year in line["years"]:
            assert isinstance(year["posts_ore"], dict) and "posts" in year
    fælleshaven = next(y for y in lines["1"]["years"] if y["year"] == 2022)
    assert fælleshaven["posts_ore"] == {"Lønmidler": 12_000_000, "Aktivitetsmidler": 3_000_000, "Husleje": 7_000_000}
    assert fælleshaven["budget_ore"] == sum(fælleshaven["posts_ore"].values())
    assert any("Socialforvaltningen" in note for note in lines["4"]["notes"])  # co-funding is a note, not budget
    totals = {t["year"]: t["budget_ore"] for t in plan["totals"]}
    assert totals[2022] == PLAN_TOTAL_2022


def test_plan_show_for_a_year_without_a_plan_is_refused(adopted: Cli) -> None:
    with nothing_written(adopted):
        message = refusal(adopted("plan", "show", "--year", "2031"), 3)

    assert "2031" in message


# ---------------------------------------------------------------------- demo


def test_demo_builds_a_closed_year_in_the_given_file(ledger_db: str, tmp_path: Path) -> None:
    demo = Cli(ledger_db)

    result = demo.ok("demo", "--out", str(tmp_path / "reports"))

    assert "lukket" in result.stdout
    assert "Demo ledger" in result.stdout
    status = demo.status()
    assert status["head"] in result.stdout
    pools = {p["code"]: p for p in status["pools"]}
    assert pools["BTP"]["closed"] is True and pools["VP"]["closed"] is True
    assert pools["BTP"]["funding_ore"] == BTP_FUNDING + 2_000_000


def test_demo_refuses_to_overwrite_its_reports_without_force(ledger_db: str, tmp_path: Path) -> None:
    demo = Cli(ledger_db)
    out = str(tmp_path / "reports")
    demo.ok("demo", "--out", out)

    with nothing_written(demo):
        message = refusal(demo("demo", "--out", out), 2)

    assert "--force" in message




@pytest.mark.parametrize(
    "backend", ["sqlite", "postgres"],
    indirect=True,
)
def test_demo_with_force_replaces_the_demo_ledger_with_the_same_one(ledger_db: str, tmp_path: Path) -> None:
    demo = Cli(ledger_db)
    out = str(tmp_path / "reports")
    demo.ok("demo", "--out", out)
    head = demo.status()["head"]

    demo.ok("demo", "--out", out, "--force")

    assert demo.status()["head"] == head


@pytest.mark.parametrize(
    "backend", ["sqlite", "postgres"],
    indirect=True,
)
def test_demo_into_an_existing_ledger_without_force_is_refused_and_writes_nothing(
    adopted: Cli, tmp_path: Path
) -> None:
    with nothing_written(adopted):
        message = refusal(adopted("demo", "--out", str(tmp_path / "reports")), 2)

    assert "--force" in message


def test_the_demo_gives_the_same_head_in_two_fresh_ledgers(ledger_db: str, new_ledger_db: Any, tmp_path: Path) -> None:
    first, second = Cli(ledger_db), Cli(new_ledger_db("two"))
    first.ok("demo", "--out", str(tmp_path / "one"))
    second.ok("demo", "--out", str(tmp_path / "two"))

    assert first.status()["head"] == second.status()["head"]
    for fmt in ("md", "html", "json", "xlsx", "pdf"):
        name = f"ultimo-2022.{fmt}"
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), fmt
    assert first.events() == second.events()


# ---------------------------------------------------------------------- help


def command_paths(command: click.Command = main, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from command_paths(sub, (*path, name))


@pytest.mark.parametrize("path", list(command_paths()), ids=lambda p: " ".join(("pulje", *p)))
def test_help_works_for_every_command(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])

    assert result.exit_code == 0, explain(result)
    assert result.stdout.startswith("Usage:")
