"""End to end on PostgreSQL only: roles, bad locations, schemas, and passwords.

What only PostgreSQL has, through the `pulje` command line (`CliRunner`, and
a real process where the exit code and stderr of the installed command
matter):

- a read-only auditor: a role with only USAGE on the schema and SELECT on its
  tables runs every reading command with the owner's output, and every write
  command fails with exit 4 and one line saying the user may not change the
  ledger, writing nothing;
- bad locations: a closed port, a missing database, an unknown role, a wrong
  password, an unknown scheme, a bad option: one sentence naming the host,
  exit 4 (the server) or 2 (the URL), no traceback, and a password in the URL
  appears nowhere in what pulje prints or writes;
- a reading command on a schema with no ledger exits 2 and creates nothing;
- two ledgers in two schemas of one database are independent;
- a plan file with problems writes nothing, not even the tables.

Every test here needs the server in `PULJE_TEST_POSTGRES` and skips (or, with
`PULJE_REQUIRE_POSTGRES=1`, fails) without it, as conftest decides. The
module's `backend` fixture is "postgres", so conftest's `ledger_db` and
`new_ledger_db` are fresh schemas, dropped after each test. Roles get a
unique name per test and are dropped afterwards (`DROP OWNED BY`, then
`DROP ROLE`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from tests.conftest import PostgresSchema, _postgres_base

AG = "arbejdsgruppen"
OEKF = "Økonomiforvaltningen"
PASSWORD = "S3cr3t-P4ss"
READ_ONLY_PASSWORD = "R3ad-0nly-Pw-9f2"
NOT_CHANGE = "may read the ledger but not change it"
FORMATS = ("md", "html", "json", "xlsx", "pdf")


@pytest.fixture
def backend() -> str:
    """This module is PostgreSQL only: conftest's `ledger_db` and `new_ledger_db` give schemas."""
    return "postgres"


@pytest.fixture(autouse=True)
def _server() -> str:
    """Every test here skips without the test server (or fails where PULJE_REQUIRE_POSTGRES=1), as conftest says."""
    return _postgres_base()


# ---------------------------------------------------------------------- helpers


def explain(result: Result) -> str:
    return (
        f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n"
        f"--- exception {result.exception!r}"
    )


class Cli:
    """`pulje --db URL --actor NAME ...` through click's CliRunner."""

    def __init__(self, db: str, actor: str = "tester") -> None:
        self.db = db
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

    def head(self) -> tuple[str, int]:
        status = self.json("status")
        return status["head"], status["head_sequence"]

    def written(self) -> tuple[tuple[str, int], list[dict[str, Any]]]:
        return self.head(), self.json("audit")["events"]


def one_sentence(result: Result, code: int) -> str:
    """A clean failure: the exit code, one line on stderr, nothing on stdout, no traceback; returns the line."""
    assert result.exit_code == code, explain(result)
    assert isinstance(result.exception, SystemExit), explain(result)
    assert "Traceback" not in result.output, explain(result)
    assert result.stdout == "", explain(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, explain(result)
    (line,) = lines
    assert line.startswith(("Error: ", "Storage error: ", "Refused: ")) and line.endswith("."), line
    return line


def url_as(url: str, user: str, password: str | None = None, *, port: int | None = None, dbname: str | None = None,
           query: str | None = None) -> str:
    """The URL with another user (and password, port, database or query)."""
    parts = urlsplit(url)
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    netloc = f"{auth}@{parts.hostname}:{port if port is not None else (parts.port or 5432)}"
    path = f"/{dbname}" if dbname is not None else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query if query is None else query, ""))


def schema_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["schema"][0]


def admin(statement: Any, params: tuple | dict = ()) -> list[tuple]:
    """SQL as the test server's own user (a superuser that may create roles), outside any ledger."""
    import psycopg

    with psycopg.connect(_postgres_base(), autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def tables_in(url: str) -> list[str]:
    """The tables in the URL's schema; [] also when the schema does not exist."""
    return [r[0] for r in admin("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema_of(url),))]


def objects_in(url: str) -> list[str]:
    """Everything in the URL's schema: relations (tables, indexes, sequences), types and functions."""
    rows = admin(
        "SELECT 'relation ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %(s)s"
        " UNION ALL SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        " WHERE n.nspname = %(s)s"
        " UNION ALL SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = %(s)s ORDER BY 1",
        {"s": schema_of(url)},
    )
    return [r[0] for r in rows]


def schema_exists(url: str) -> bool:
    return bool(admin("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema_of(url),)))


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound for a moment by us, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Role:
    """A login role of its own for one test; `drop` removes its privileges, what it owns, and the role."""

    def __init__(self, prefix: str, password: str) -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.password = password
        from psycopg import sql

        admin(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(self.name), sql.Literal(password)))

    def url(self, ledger_url: str) -> str:
        return url_as(ledger_url, self.name, self.password)

    def drop(self) -> None:
        admin(f'DROP OWNED BY "{self.name}" CASCADE')
        admin(f'DROP ROLE IF EXISTS "{self.name}"')


def grant_read_only(role: Role, url: str) -> None:
    schema = schema_of(url)
    admin(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role.name}"')
    admin(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role.name}"')


def record_small_year(cli: Cli, plan: Path) -> dict[str, Any]:
    """The 2022 plan, two grants (one partly paid), a return and a reallocation; returns marks along the way."""
    cli.ok("plan", "import", str(plan))
    marks: dict[str, Any] = {"head_after_plan": cli.head()[0]}
    for amount, recipient, date in (("5.000", "Beboerforeningen i Tingbjerg", "2022-03-01"),
                                    ("3.000", "Husum Boldklub", "2022-04-01")):
        marks["award"] = cli.json(
            "grant", "award", "--pool", "BTP", "--year", "2022", "--recipient", recipient, "--purpose",
            "Tryghedsvandring", "--area", "Tryggere byliv", "--amount", amount, "--date", date,
            "--decided-by", AG, "--decision-ref", "AG 2022-03",
        )  # the last: BTP-2022-002, nothing paid on it
    marks["payment"] = cli.json("grant", "disburse", "BTP-2022-001", "--amount", "4.000", "--date", "2022-03-10")
    cli.ok("grant", "return", "BTP-2022-001", "--amount", "500", "--date", "2022-04-01", "--reason", "Ubrugt")
    cli.ok("reallocate", "--year", "2022", "--from", "12", "--to", "14", "--amount", "20.000", "--date", "2022-06-15",
           "--decided-by", OEKF, "--decision-ref", "ØKF 2022-41", "--reason", "Flere tryghedsvandringer")
    return marks


# ---------------------------------------------------------------------- the read-only auditor


@pytest.fixture(scope="module")
def shared_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cli, dict[str, Any]]]:
    """One recorded year for the reading tests (which write nothing), in a schema of its own."""
    from tests.conftest import PLAN_2022

    schema = PostgresSchema(_postgres_base())
    try:
        owner = Cli(schema.url)
        marks = record_small_year(owner, PLAN_2022)
        yield owner, marks
    finally:
        schema.drop()


@pytest.fixture
def auditor(shared_ledger: tuple[Cli, dict[str, Any]]) -> Iterator[Cli]:
    """A role of this test's own that may only read the shared ledger, as a Cli."""
    owner, _ = shared_ledger
    role = Role("pulje_auditor", READ_ONLY_PASSWORD)
    try:
        grant_read_only(role, owner.db)
        yield Cli(role.url(owner.db), actor="revisor")
    finally:
        role.drop()


READING = {
    "status": ("status",),
    "status json": ("status", "--format", "json"),
    "status as-of": ("status", "--year", "2022", "--as-of", "2022-04-01", "--format", "json"),
    "pool show": ("pool", "show", "BTP", "--year", "2022"),
    "pool show json": ("pool", "show", "BTP", "--year", "2022", "--format", "json"),
    "pool show as-of": ("pool", "show", "BTP", "--year", "2022", "--as-of", "2022-03-05", "--format", "json"),
    "plan show": ("plan", "show"),
    "plan show json": ("plan", "show", "--year", "2022", "--format", "json"),
    "audit": ("audit",),
    "audit json": ("audit", "--format", "json"),
    "audit csv": ("audit", "--format", "csv"),
    "replay": ("replay", "--pool", "BTP", "--year", "2022"),
    "replay json": ("replay", "--pool", "BTP", "--year", "2022", "--format", "json"),
    "verify": ("verify",),
    "verify json": ("verify", "--format", "json"),
    "verify --head": ("verify", "--head", "{head_after_plan}"),
    "export jsonl": ("export", "--format", "jsonl"),
    "export csv": ("export", "--format", "csv"),
    "export journal": ("export", "--format", "journal"),
}


@pytest.mark.parametrize("command", list(READING), ids=list(READING))
def test_a_read_only_role_runs_every_reading_command_with_the_owners_output(
    shared_ledger: tuple[Cli, dict[str, Any]], auditor: Cli, command: str
) -> None:
    owner, marks = shared_ledger
    argv = [arg.format(**marks) for arg in READING[command]]
    before = owner.written()

    theirs = owner(*argv)
    mine = auditor(*argv)

    assert theirs.exit_code == 0, explain(theirs)
    assert mine.exit_code == 0, explain(mine)
    assert mine.stdout == theirs.stdout
    assert "Traceback" not in mine.output
    assert READ_ONLY_PASSWORD not in mine.output
    assert owner.written() == before


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("more", [(), ("--pool", "BTP", "--lang", "en")], ids=["all-pools", "one-pool-en"])
def test_a_read_only_role_writes_the_same_ultimo_report_as_the_owner(
    shared_ledger: tuple[Cli, dict[str, Any]], auditor: Cli, tmp_path: Path, fmt: str, more: tuple[str, ...]
) -> None:
    owner, _ = shared_ledger
    head = owner.head()[0]

    theirs = owner("report", "ultimo", "--year", "2022", "--format", fmt, "--output", str(tmp_path / f"o.{fmt}"), *more)
    mine = auditor("report", "ultimo", "--year", "2022", "--format", fmt, "--output", str(tmp_path / f"a.{fmt}"), *more)

    assert theirs.exit_code == 0, explain(theirs)
    assert mine.exit_code == 0, explain(mine)
    assert mine.stdout == f"Wrote {tmp_path / f'a.{fmt}'} (head {head}).\n"
    assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"o.{fmt}").read_bytes()
    assert READ_ONLY_PASSWORD.encode() not in (tmp_path / f"a.{fmt}").read_bytes()


def test_a_read_only_role_exports_to_a_file_the_same_bytes_as_the_owner(
    shared_ledger: tuple[Cli, dict[str, Any]], auditor: Cli, tmp_path: Path
) -> None:
    owner, _ = shared_ledger
    for fmt in ("jsonl", "csv", "journal"):
        owner.ok("export", "--format", fmt, "--output", str(tmp_path / f"owner.{fmt}"))
        auditor.ok("export", "--format", fmt, "--output", str(tmp_path / f"auditor.{fmt}"))

        assert (tmp_path / f"auditor.{fmt}").read_bytes() == (tmp_path / f"owner.{fmt}").read_bytes(), fmt


@pytest.fixture
def owned(ledger_db: str, plan_2022: Path) -> tuple[Cli, dict[str, Any]]:
    """A recorded year of this test's own (the write tests check the owner can do what the auditor cannot)."""
    owner = Cli(ledger_db)
    return owner, record_small_year(owner, plan_2022)


@pytest.fixture
def read_only(owned: tuple[Cli, dict[str, Any]]) -> Iterator[Role]:
    owner, _ = owned
    role = Role("pulje_ro", READ_ONLY_PASSWORD)
    try:
        grant_read_only(role, owner.db)
        yield role
    finally:
        role.drop()


OTHER_PLAN = """
[plan]
partnership = "Prøveby"
title = "Tryghedsplan 2022"
year = 2022

[authority]
reallocation = "Økonomiforvaltningen"

[[line]]
no = "1"
name = "Tryghedsvandringer"
[line.budget.2022]
total = 50000

[[pool]]
id = "pulje"
code = "PP"
name = "Prøvepulje"
line = "1"
decided_by = "arbejdsgruppen"
"""

WRITING = {
    "award": ("grant", "award", "--pool", "BTP", "--year", "2022", "--recipient", "Sikker By", "--purpose",
              "Fyraftensmøde", "--amount", "1.000", "--date", "2022-05-01", "--decided-by", AG,
              "--decision-ref", "AG 2022-05"),
    "disburse": ("grant", "disburse", "BTP-2022-001", "--amount", "500", "--date", "2022-05-01"),
    "return": ("grant", "return", "BTP-2022-001", "--amount", "500", "--date", "2022-05-01", "--reason", "Ubrugt"),
    "withdraw": ("grant", "withdraw", "BTP-2022-002", "--date", "2022-05-01", "--reason", "Blev ikke til noget"),
    "reallocate": ("reallocate", "--year", "2022", "--from", "12", "--to", "14", "--amount", "1.000", "--date",
                   "2022-06-20", "--decided-by", OEKF, "--decision-ref", "ØKF 2022-44", "--reason", "Mere"),
    "pool close": ("pool", "close", "BTP", "--year", "2022", "--date", "2022-12-31", "--decided-by", AG,
                   "--decision-ref", "AG 2022-12"),
    "reverse": ("reverse", "{award}", "--reason", "Registreret på den forkerte pulje"),
    "plan import (another plan)": ("plan", "import", "{other_plan}"),
}


@pytest.mark.parametrize("command", list(WRITING), ids=list(WRITING))
def test_every_write_under_a_read_only_role_fails_in_one_line_and_writes_nothing(
    owned: tuple[Cli, dict[str, Any]], read_only: Role, tmp_path: Path, command: str
) -> None:
    owner, marks = owned
    other_plan = tmp_path / "proeveby-2022.toml"
    other_plan.write_text(OTHER_PLAN, encoding="utf-8")
    argv = [a.format(award=marks["award"]["sequence"], other_plan=other_plan) for a in WRITING[command]]
    auditor = Cli(read_only.url(owner.db), actor="revisor")
    before = owner.written()
    objects = objects_in(owner.db)

    message = one_sentence(auditor(*argv), 4)

    assert NOT_CHANGE in message, message
    assert READ_ONLY_PASSWORD not in message
    assert owner.written() == before  # the head and the audit trail, as the owner sees them
    assert objects_in(owner.db) == objects
    # the same command was a valid one: the owner may do it
    owner.ok(*argv)
    assert owner.head() != before[0]


def test_a_repeated_command_with_its_key_is_answered_under_a_read_only_role(
    owned: tuple[Cli, dict[str, Any]], read_only: Role
) -> None:
    """Repeating with the same key writes nothing, so a reader may ask for the earlier result."""
    owner, _ = owned
    argv = (*WRITING["award"], "--key", "ag-2022-05-pkt-1", "--format", "json")
    first = json.loads(owner.ok(*argv).stdout)
    before = owner.written()

    again = json.loads(Cli(read_only.url(owner.db)).ok(*argv).stdout)

    assert again["repeated"] is True
    assert (again["event_id"], again["grant"], again["head"]) == (first["event_id"], first["grant"], first["head"])
    assert owner.written() == before


def test_import_events_into_an_empty_schema_the_role_may_only_read_fails_in_one_line_and_creates_nothing(
    owned: tuple[Cli, dict[str, Any]], read_only: Role, new_ledger_db: Any, tmp_path: Path
) -> None:
    owner, _ = owned
    export = tmp_path / "ledger.jsonl"
    owner.ok("export", "--format", "jsonl", "--output", str(export))
    empty = new_ledger_db("empty")
    admin(f'CREATE SCHEMA "{schema_of(empty)}"')
    grant_read_only(read_only, empty)

    message = one_sentence(Cli(read_only.url(empty))("import-events", str(export)), 4)

    assert NOT_CHANGE in message, message
    assert objects_in(empty) == []
    # the owner may: the file itself was fine
    Cli(empty).ok("import-events", str(export))
    assert Cli(empty).head() == owner.head()


def test_a_read_only_role_cannot_start_a_ledger_in_a_schema_that_does_not_exist(
    owned: tuple[Cli, dict[str, Any]], read_only: Role, new_ledger_db: Any, plan_2022: Path
) -> None:
    missing = new_ledger_db("missing")

    message = one_sentence(Cli(read_only.url(missing))("plan", "import", str(plan_2022)), 4)

    assert "permission denied" in message, message
    assert READ_ONLY_PASSWORD not in message
    assert not schema_exists(missing)


# ---------------------------------------------------------------------- bad locations


def bad_locations() -> dict[str, tuple[str, int, list[str]]]:
    """name -> (URL with the password in it, exit code, what the sentence must name)."""
    base = _postgres_base()
    host = urlsplit(base).hostname or "localhost"
    user = urlsplit(base).username or "postgres"
    db = urlsplit(base).path.lstrip("/")
    port = closed_port()
    missing_db, nobody = f"pulje_missing_{uuid.uuid4().hex[:8]}", f"pulje_nobody_{uuid.uuid4().hex[:8]}"
    return {
        # the server: exit 4, naming the host
        "closed port": (url_as(base, user, PASSWORD, port=port), 4, [host, str(port)]),
        "the brief's closed port": (f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/x", 4, ["127.0.0.1"]),
        "localhost, closed port": (f"postgresql://postgres:{PASSWORD}@localhost:{port}/x", 4, ["localhost"]),
        "missing database": (url_as(base, user, PASSWORD, dbname=missing_db), 4, [host, missing_db]),
        "unknown role": (url_as(base, nobody, PASSWORD), 4, [host, nobody]),
        # the URL itself: exit 2
        "unknown scheme": (f"mysql://{user}:{PASSWORD}@{host}:3306/{db}", 2, ["mysql", host]),
        "port not a number": (f"postgresql://{user}:{PASSWORD}@{host}:fem/{db}", 2, [host, "port"]),
        "port out of range": (f"postgresql://{user}:{PASSWORD}@{host}:99999/{db}", 2, [host, "port"]),
        "unknown option": (url_as(base, user, PASSWORD, query="sslmode=disable"), 2, ["sslmode"]),
        "bad schema name": (url_as(base, user, PASSWORD, query="schema=a;drop"), 2, ["a;drop"]),
        "malformed host": (f"postgresql://{user}:{PASSWORD}@[::1/{db}", 2, []),
    }


BAD = [
    "closed port", "the brief's closed port", "localhost, closed port", "missing database", "unknown role",
    "unknown scheme",
    "port not a number", "port out of range", "unknown option", "bad schema name", "malformed host",
]


@pytest.mark.parametrize("command", ["status", "plan import", "award", "export"])
@pytest.mark.parametrize("where", BAD)
def test_a_bad_location_is_one_sentence_naming_the_host_and_never_the_password(
    plan_2022: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, command: str
) -> None:
    url, code, named = bad_locations()[where]
    argv = {
        "status": ("status",),
        "plan import": ("plan", "import", str(plan_2022)),
        "award": WRITING["award"],
        "export": ("export", "--format", "jsonl", "--output", str(tmp_path / "out.jsonl")),
    }[command]
    monkeypatch.chdir(tmp_path)

    result = Cli(url)(*argv)

    assert PASSWORD not in result.output and quote(PASSWORD) not in result.output, explain(result)
    message = one_sentence(result, code)
    assert message.count(". ") == 0, message  # one sentence
    for name in named:
        assert name in message, (name, message)
    assert list(tmp_path.iterdir()) == []  # no file named after the URL, no export


def test_a_wrong_password_is_one_sentence_naming_the_host_and_never_the_password(
    ledger_db: str, plan_2022: Path
) -> None:
    """Where the server checks passwords: exit 4. Under trust auth it lets the role in: exit 2, no ledger there.

    Either way the sentence names the host and not the password.
    """
    import psycopg

    role = Role("pulje_pw", "the-right-one")
    try:
        wrong = url_as(ledger_db, role.name, PASSWORD)
        try:
            psycopg.connect(url_as(ledger_db, role.name, PASSWORD, query=""), connect_timeout=5).close()
            checked = False
        except psycopg.OperationalError:
            checked = True

        result = Cli(wrong)("status")

        message = one_sentence(result, 4 if checked else 2)
        assert urlsplit(ledger_db).hostname in message, message
        assert role.name in message, message
        assert PASSWORD not in result.output
        assert not schema_exists(ledger_db)
    finally:
        role.drop()


def test_an_unreachable_server_fails_as_a_real_process_in_one_line_without_the_password(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("pulje")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{closed_port()}/x"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULJE_")}

    for argv in (("--db", url, "status"), ("status",)):
        process = subprocess.run(
            [*command, *argv], cwd=tmp_path, env={**env, "PULJE_DB": url}, capture_output=True, text=True,
            timeout=60, check=False,
        )

        assert process.returncode == 4, process
        assert process.stdout == ""
        assert len(process.stderr.strip().splitlines()) == 1, process.stderr
        assert "Traceback" not in process.stderr
        assert "127.0.0.1" in process.stderr
        assert PASSWORD not in process.stderr
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- a schema without a ledger

READ_ON_NOTHING = {
    "status": ("status",),
    "pool show": ("pool", "show", "BTP", "--year", "2022"),
    "plan show": ("plan", "show"),
    "audit": ("audit",),
    "replay": ("replay", "--pool", "BTP", "--year", "2022"),
    "report": ("report", "ultimo", "--year", "2022", "--format", "md", "--output", "{out}"),
    "verify": ("verify",),
    "export": ("export", "--format", "jsonl"),
}


@pytest.mark.parametrize("schema", ["absent", "empty"])
@pytest.mark.parametrize("command", list(READ_ON_NOTHING), ids=list(READ_ON_NOTHING))
def test_a_reading_command_on_a_schema_without_a_ledger_exits_2_and_creates_nothing(
    ledger_db: str, tmp_path: Path, command: str, schema: str
) -> None:
    if schema == "empty":
        admin(f'CREATE SCHEMA "{schema_of(ledger_db)}"')
    argv = [a.format(out=tmp_path / "ultimo.md") for a in READ_ON_NOTHING[command]]

    message = one_sentence(Cli(ledger_db)(*argv), 2)

    assert "no ledger" in message and schema_of(ledger_db) in message, message
    assert schema_exists(ledger_db) is (schema == "empty")
    assert objects_in(ledger_db) == []
    assert list(tmp_path.iterdir()) == []


def test_a_schema_with_other_tables_but_no_ledger_is_not_a_ledger(ledger_db: str) -> None:
    schema = schema_of(ledger_db)
    admin(f'CREATE SCHEMA "{schema}"')
    admin(f'CREATE TABLE "{schema}".notes (line TEXT)')

    message = one_sentence(Cli(ledger_db)("status"), 2)

    assert "no ledger" in message
    assert tables_in(ledger_db) == ["notes"]


# ---------------------------------------------------------------------- schemas: several ledgers in one database


def test_two_ledgers_in_two_schemas_of_one_database_are_independent(
    ledger_db: str, new_ledger_db: Any, plan_2022: Path
) -> None:
    first, second = Cli(ledger_db), Cli(new_ledger_db("second"))
    assert urlsplit(first.db).path == urlsplit(second.db).path  # one database
    first.ok("plan", "import", str(plan_2022))
    second.ok("plan", "import", str(plan_2022))
    award = WRITING["award"][:4] + ("--year", "2022")
    first.ok(*award, "--recipient", "Kun i den første", "--purpose", "Tryghedsvandring", "--amount", "1.000",
             "--date", "2022-03-01", "--decided-by", AG, "--decision-ref", "AG 1")
    second.ok(*award, "--recipient", "Kun i den anden", "--purpose", "Sommerfest", "--amount", "2.500",
              "--date", "2022-03-02", "--decided-by", AG, "--decision-ref", "AG 2")
    second.ok("grant", "disburse", "BTP-2022-001", "--amount", "2.500", "--date", "2022-03-05")

    assert first.head() != second.head()
    one = first.json("pool", "show", "BTP", "--year", "2022")
    two = second.json("pool", "show", "BTP", "--year", "2022")
    assert [(g["grant"], g["recipient"]) for g in one["grants"]] == [("BTP-2022-001", "Kun i den første")]
    assert [(g["grant"], g["recipient"]) for g in two["grants"]] == [("BTP-2022-001", "Kun i den anden")]
    assert (one["awarded_ore"], one["disbursed_ore"]) == (100_000, 0)
    assert (two["awarded_ore"], two["disbursed_ore"]) == (250_000, 250_000)
    assert "Kun i den anden" not in first.ok("pool", "show", "BTP", "--year", "2022").stdout
    assert "Kun i den første" not in second.ok("audit", "--format", "csv").stdout
    (btp,) = [p for p in first.json("status")["pools"] if p["code"] == "BTP"]
    assert btp["awarded_ore"] == 100_000
    assert len(second.json("audit")["events"]) == len(first.json("audit")["events"]) + 1
    for cli in (first, second):
        assert cli.json("verify")["ok"] is True

    head_of_first = first.head()
    second.ok("reallocate", "--year", "2022", "--from", "12", "--to", "14", "--amount", "1.000", "--date",
              "2022-06-15", "--decided-by", OEKF, "--decision-ref", "ØKF", "--reason", "Kun i den anden")
    assert first.head() == head_of_first
    # both ledgers' tables live in their own schema and nowhere else
    assert set(tables_in(first.db)) == set(tables_in(second.db)) and "pulje_events" in tables_in(first.db)


# ---------------------------------------------------------------------- a plan file with problems


BAD_PLAN = """
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

[[pool]]
id = "pulje"
code = "P"
name = "Pulje"
line = "99"
decided_by = "arbejdsgruppen"
"""


@pytest.mark.parametrize("before", ["no schema", "an empty schema", "a ledger"])
def test_a_plan_file_with_problems_writes_nothing(ledger_db: str, plan_2022: Path, tmp_path: Path, before: str) -> None:
    bad = tmp_path / "bad-plan.toml"
    bad.write_text(BAD_PLAN, encoding="utf-8")
    cli = Cli(ledger_db)
    if before == "an empty schema":
        admin(f'CREATE SCHEMA "{schema_of(ledger_db)}"')
    if before == "a ledger":
        cli.ok("plan", "import", str(plan_2022))
    written = cli.written() if before == "a ledger" else None
    objects = objects_in(ledger_db)

    result = cli("plan", "import", str(bad))

    assert result.exit_code == 3, explain(result)
    assert "Traceback" not in result.output and result.stdout == ""
    assert "nothing was recorded" in result.stderr
    assert objects_in(ledger_db) == objects
    assert schema_exists(ledger_db) is (before != "no schema")
    if written is not None:
        assert cli.written() == written


# ---------------------------------------------------------------------- the password on a working server


@pytest.fixture
def writer(ledger_db: str) -> Iterator[Cli]:
    """A role with a password that may create schemas in the test database: the URL carries the password."""
    dbname = urlsplit(ledger_db).path.lstrip("/")
    role = Role("pulje_rw", PASSWORD)
    try:
        admin(f'GRANT CREATE ON DATABASE "{dbname}" TO "{role.name}"')
        yield Cli(role.url(ledger_db))
    finally:
        role.drop()


def test_a_password_in_a_working_url_appears_in_no_output_and_no_file(
    writer: Cli, plan_2022: Path, tmp_path: Path
) -> None:
    outputs: list[str] = []

    def run(*argv: str) -> Result:
        result = writer(*argv)
        assert result.exit_code == 0, explain(result)
        outputs.append(result.output)
        return result

    run("plan", "import", str(plan_2022))
    run(*WRITING["award"])
    run(*WRITING["disburse"])
    for argv in READING.values():
        if "{head_after_plan}" not in argv:
            run(*argv)
    for fmt in FORMATS:
        run("report", "ultimo", "--year", "2022", "--format", fmt, "--output", str(tmp_path / f"ultimo.{fmt}"))
    for fmt in ("jsonl", "csv", "journal"):
        run("export", "--format", fmt, "--output", str(tmp_path / f"export.{fmt}"))
    outputs.append(one_sentence(writer("grant", "disburse", "BTP-2022-099", "--amount", "1", "--date", "2022-05-02"),
                                3))

    for text in outputs:
        assert PASSWORD not in text and quote(PASSWORD) not in text, text
    for path in tmp_path.iterdir():
        assert PASSWORD.encode() not in path.read_bytes(), path.name


def test_the_demo_on_a_url_with_a_password_does_not_print_the_password(writer: Cli, tmp_path: Path) -> None:
    result = writer("demo", "--out", str(tmp_path / "demo"))

    assert result.exit_code == 0, explain(result)
    assert PASSWORD not in result.output, result.output
