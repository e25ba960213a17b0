"""End to end: `pulje report ultimo` and `pulje demo` as a user types them.

`cli.main:main` runs through click's `CliRunner` on a real ledger, once on
an SQLite file in `tmp_path` and once on a PostgreSQL schema of its own
(`PULJE_TEST_POSTGRES`; see conftest). A report is written whole or not at
all: every refusal exits with the documented code (2 usage, 3 refused by a
rule), says why in one sentence on stderr, and leaves the output folder as it
was, without even a temporary `.pulje-*` file.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import main

FORMATS = ("md", "html", "json", "xlsx", "pdf")
MAGIC = {"md": b"# ", "html": b"<!DOCTYPE html>", "json": b"{", "xlsx": b"PK\x03\x04", "pdf": b"%PDF-"}
AG = "arbejdsgruppen"


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

    def report(self, output: Path, *args: str, fmt: str = "md", year: str = "2022") -> Result:
        return self("report", "ultimo", "--year", year, "--format", fmt, "--output", str(output), *args)


def refusal(result: Result, code: int) -> str:
    """A clean refusal: the exit code, one sentence on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == code, explain(result)
    assert isinstance(result.exception, SystemExit), explain(result)
    assert "Traceback" not in result.output, explain(result)
    assert result.stdout == "", explain(result)
    # click's own usage errors put its "Usage:" and "Try ... --help" lines around the message
    message = [
        line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("Usage:", "Try '"))
    ]
    assert len(message) == 1, explain(result)
    (sentence,) = message
    assert sentence.startswith(("Error: ", "Refused: ")) and sentence.endswith("."), sentence
    return sentence


def listing(folder: Path) -> dict[str, bytes]:
    """Every file in a folder, hidden ones too, with its content."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@contextmanager
def new_location(backend: str, folder: Path) -> Iterator[str]:
    """A new, empty ledger location that lives as long as a module's fixture: a file, or a schema dropped after."""
    if backend == "sqlite":
        yield str(folder / "ledger.db")
        return
    from tests.conftest import PostgresSchema, _postgres_base

    schema = PostgresSchema(_postgres_base())
    try:
        yield schema.url
    finally:
        schema.drop()


def nothing_created(db: str) -> bool:
    """No SQLite file, or no table in the PostgreSQL schema (which may not even exist)."""
    if "://" not in db:
        return not Path(db).exists()
    from urllib.parse import parse_qs, urlsplit

    import psycopg

    schema = parse_qs(urlsplit(db).query)["schema"][0]
    with psycopg.connect(db.split("?")[0], autocommit=True) as conn:
        (tables,) = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,)).fetchone()
    return tables == 0


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """The 2022 plan with a grant from each pool, a payment and a return, on each backend."""
    from tests.conftest import PLAN_2022

    with new_location(request.param, tmp_path_factory.mktemp("ledger")) as db:
        yield record_ledger(Cli(db), PLAN_2022)


def record_ledger(cli: Cli, plan: Path) -> Cli:
    cli.ok("plan", "import", str(plan))
    for pool, recipient, purpose, amount in (
        ("BTP", "Beboerforeningen i Tingbjerg", "Tryghedsvandring i Gadelandet", "6.500"),
        ("VP", "Sikker By", "Fyraftensmøde om tryghed", "4.000"),
    ):
        cli.ok(
            "grant", "award", "--pool", pool, "--year", "2022", "--recipient", recipient, "--purpose", purpose,
            "--amount", amount, "--date", "2022-03-01", "--decided-by", AG, "--decision-ref", "AG 2022-03",
        )
    cli.ok("grant", "disburse", "BTP-2022-001", "--amount", "6.500", "--date", "2022-03-10")
    cli.ok("grant", "return", "BTP-2022-001", "--amount", "500", "--date", "2022-04-01", "--reason", "Ubrugte midler")
    return cli


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    return folder


# ---------------------------------------------------------------------- every format


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_writes_the_file_and_prints_its_path_and_the_head(ledger: Cli, out: Path, fmt: str) -> None:
    head = ledger.json("status")["head"]
    target = out / f"ultimo-2022.{fmt}"

    result = ledger.report(target, fmt=fmt)

    assert result.exit_code == 0, explain(result)
    assert str(target) in result.stdout and head in result.stdout
    assert result.stdout == f"Wrote {target} (head {head}).\n"
    assert list(listing(out)) == [target.name]
    content = target.read_bytes()
    assert content.startswith(MAGIC[fmt])
    if fmt == "json":
        assert json.loads(content)["head"] == head
    elif fmt == "xlsx":
        assert zipfile.ZipFile(target).testzip() is None
    elif fmt in ("md", "html"):
        assert head in content.decode("utf-8")


def test_without_pool_the_report_covers_every_pool_of_the_plan(ledger: Cli, out: Path) -> None:
    ledger.ok("report", "ultimo", "--year", "2022", "--format", "json", "--output", str(out / "all.json"))

    report = json.loads((out / "all.json").read_text(encoding="utf-8"))
    assert [p["code"] for p in report["pools"]] == ["BTP", "VP"]


@pytest.mark.parametrize("fmt", ["json", "md"])
def test_pool_limits_the_report_to_that_pool(ledger: Cli, out: Path, fmt: str) -> None:
    target = out / f"btp.{fmt}"

    ledger.ok("report", "ultimo", "--year", "2022", "--pool", "BTP", "--format", fmt, "--output", str(target))

    text = target.read_text(encoding="utf-8")
    if fmt == "json":
        report = json.loads(text)
        assert [p["code"] for p in report["pools"]] == ["BTP"]
        assert [g["grant"] for g in report["pools"][0]["grants"]] == ["BTP-2022-001"]
        assert report["plan"]["total_adopted_ore"] == 197_000_000  # the plan part is the whole plan's
    else:
        assert "## Pulje: Bylivs- og tryghedspulje (BTP) 2022" in text
        assert "(VP)" not in text and "VP-2022-001" not in text


def test_lang_en_writes_an_english_report(ledger: Cli, out: Path) -> None:
    target = out / "en.md"

    ledger.ok("report", "ultimo", "--year", "2022", "--format", "md", "--lang", "en", "--output", str(target))

    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Report to the steering group, year end 2022")
    assert "### Grants" in text and "### Bevillinger" not in text


def test_the_same_ledger_gives_the_same_bytes_twice(ledger: Cli, out: Path) -> None:
    for fmt in FORMATS:
        ledger.ok("report", "ultimo", "--year", "2022", "--format", fmt, "--output", str(out / f"a.{fmt}"))
        ledger.ok("report", "ultimo", "--year", "2022", "--format", fmt, "--output", str(out / f"b.{fmt}"))
        assert (out / f"a.{fmt}").read_bytes() == (out / f"b.{fmt}").read_bytes(), fmt


def test_the_reports_head_passes_verify(ledger: Cli, out: Path) -> None:
    ledger.ok("report", "ultimo", "--year", "2022", "--format", "json", "--output", str(out / "r.json"))
    head = json.loads((out / "r.json").read_text(encoding="utf-8"))["head"]

    ledger.ok("verify", "--head", head)


# ---------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("--year", "2030"), 3, "No plan for 2030"),
        (("--pool", "NOPE"), 3, "No pool 'NOPE'"),
        (("--format", "docx"), 2, "'docx' is not one of"),
        (("--lang", "fr"), 2, "'fr' is not one of"),
        (("--year", "1066"), 2, "--year"),
    ],
    ids=["a year with no plan", "a pool that does not exist", "an unknown format", "an unknown language",
         "a year out of range"],
)
def test_bad_input_is_refused_in_one_sentence_and_writes_no_file(
    ledger: Cli, out: Path, args: tuple[str, ...], code: int, says: str
) -> None:
    base = {"--year": "2022", "--format": "md"}
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    options = [x for key, value in {**base, **pairs}.items() for x in (key, value)]

    result = ledger("report", "ultimo", *options, "--output", str(out / "ultimo.x"))

    assert says in refusal(result, code)
    assert listing(out) == {}


def test_an_output_in_a_folder_that_does_not_exist_is_a_usage_error(ledger: Cli, out: Path) -> None:
    missing = out / "missing"

    message = refusal(ledger.report(missing / "ultimo-2022.md"), 2)

    assert str(missing) in message and "does not exist" in message
    assert not missing.exists()
    assert listing(out) == {}


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_existing_output_is_kept_without_force_and_replaced_with_it(ledger: Cli, out: Path, fmt: str) -> None:
    target = out / f"ultimo-2022.{fmt}"
    target.write_bytes(b"last year's report\n")

    message = refusal(ledger.report(target, fmt=fmt), 2)

    assert "--force" in message and target.name in message
    assert listing(out) == {target.name: b"last year's report\n"}

    result = ledger.report(target, "--force", fmt=fmt)

    assert result.exit_code == 0, explain(result)
    assert list(listing(out)) == [target.name]
    assert target.read_bytes().startswith(MAGIC[fmt])


def test_a_folder_given_as_the_output_is_a_usage_error(ledger: Cli, out: Path) -> None:
    (out / "ultimo.md").mkdir()

    refusal(ledger.report(out / "ultimo.md"), 2)

    assert [p.name for p in out.iterdir()] == ["ultimo.md"] and (out / "ultimo.md").is_dir()


def test_a_missing_ledger_is_a_usage_error_and_creates_neither_ledger_nor_report(
    ledger_db: str, tmp_path: Path
) -> None:
    nowhere = Cli(ledger_db)

    message = refusal(nowhere.report(tmp_path / "ultimo.md"), 2)

    assert "no ledger" in message
    assert (ledger_db.rsplit("=", 1)[1] if "://" in ledger_db else ledger_db) in message  # the schema, or the path
    assert nothing_created(ledger_db)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_same_events_on_postgresql_give_the_same_report_bytes(ledger_db: str, tmp_path: Path) -> None:
    """Same events, same report: an SQLite ledger moved to PostgreSQL (export, import-events) reports identically."""
    from tests.conftest import PLAN_2022

    source = record_ledger(Cli(tmp_path / "source.db"), PLAN_2022)
    source.ok("export", "--format", "jsonl", "--output", str(tmp_path / "events.jsonl"))
    copy = Cli(ledger_db)
    copy.ok("import-events", str(tmp_path / "events.jsonl"))
    assert copy.json("status")["head"] == source.json("status")["head"]

    for fmt in FORMATS:
        for name, cli in (("sqlite", source), ("postgres", copy)):
            result = cli.report(tmp_path / f"{name}.{fmt}", fmt=fmt)
            assert result.exit_code == 0, explain(result)
        assert (tmp_path / f"sqlite.{fmt}").read_bytes() == (tmp_path / f"postgres.{fmt}").read_bytes(), fmt


# ---------------------------------------------------------------------- demo


def run_demo(folder: Path, db: str, *more: str) -> Result:
    return CliRunner().invoke(main, ["--db", db, "demo", "--out", str(folder), *more])


def test_the_demo_in_two_fresh_folders_gives_the_same_report_bytes_and_prints_the_paths(
    ledger_db: str, new_ledger_db: Any, tmp_path: Path
) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    dbs = (ledger_db, new_ledger_db("two"))

    results = [run_demo(first, dbs[0]), run_demo(second, dbs[1])]

    for folder, db, result in zip((first, second), dbs, results, strict=True):
        assert result.exit_code == 0, explain(result)
        for fmt in FORMATS:
            path = folder / f"ultimo-2022.{fmt}"
            assert f"  {path}\n" in result.stdout
            assert path.read_bytes().startswith(MAGIC[fmt])
        assert f"Demo ledger: {db} " in result.stdout
        assert not [p.name for p in folder.iterdir() if p.name.startswith(".pulje-")]
    for fmt in FORMATS:
        name = f"ultimo-2022.{fmt}"
        assert (first / name).read_bytes() == (second / name).read_bytes(), fmt
    head = json.loads((first / "ultimo-2022.json").read_text(encoding="utf-8"))["head"]
    assert head in results[0].stdout and head in results[1].stdout
    assert Cli(dbs[0]).json("status")["head"] == head


def test_the_demo_into_the_same_folder_again_without_force_is_refused_and_changes_nothing(
    ledger_db: str, tmp_path: Path
) -> None:
    out = tmp_path / "demo"
    assert run_demo(out, ledger_db).exit_code == 0
    before = listing(out)
    stamps = {name: os.stat(out / name).st_mtime_ns for name in before if name.startswith("ultimo-")}
    head = Cli(ledger_db).json("status")["head"]

    message = refusal(run_demo(out, ledger_db), 2)

    assert "--force" in message
    assert listing(out) == before
    assert {name: os.stat(out / name).st_mtime_ns for name in stamps} == stamps
    assert Cli(ledger_db).json("status")["head"] == head


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        "postgres",
    ],
    indirect=True,
)
def test_the_demo_again_with_force_gives_the_same_ledger_and_reports(ledger_db: str, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert run_demo(out, ledger_db).exit_code == 0
    before = listing(out)
    head = Cli(ledger_db).json("status")["head"]

    again = run_demo(out, ledger_db, "--force")

    assert again.exit_code == 0, explain(again)
    assert listing(out).keys() == before.keys()
    for fmt in FORMATS:
        name = f"ultimo-2022.{fmt}"
        assert (out / name).read_bytes() == before[name], fmt
    assert Cli(ledger_db).json("status")["head"] == head
