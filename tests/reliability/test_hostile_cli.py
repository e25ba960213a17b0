"""Hostile command lines: generated argument lists against the whole command tree, in process.

Hypothesis builds argument lists from the real command tree (`cli.main:main`
walked with click: every command, its options and arguments, their types),
mixing values a user would type with hostile ones: huge and negative numbers,
NaN, digits of other scripts, right-to-left marks, NUL bytes (click passes
them through), text that is not UTF-8 (how Python hands a Latin-1 byte on
the command line to a program: a lone surrogate), empty and 10,000-character
strings, impossible dates (2022-02-30), amounts like 1e9, 1.5 and -5, unknown
options, `--help`, and paths that do not exist, are folders or hold garbage.

Every argument list runs through click's `CliRunner`, with `PULJE_DEBUG`,
`PULJE_DB` and `PULJE_ACTOR` unset, in a folder of its own holding a copy of
one prepared SQLite ledger (the 2022 plan adopted, three grants, a payment
and a reallocation). What must hold for every one of them:

- no traceback, and no exception other than click's exit;
- an exit code the contract documents (0, 1, 2, 3, 4), and the one the
  output claims: 2 says `Error:` (or `Usage:` / `Cannot read the plan file`),
  3 says `Refused:` (or `The plan file has problems`), 4 says
  `Storage error:`, 1 is a verification that failed; an `Internal error`
  (an exception nobody classified) is a failure whatever its code;
- a refusal (2, 3, 4) says why on stderr and prints nothing on stdout;
- a command that exits non-zero changes nothing: the same event count and
  chain head in the ledger, and no file made, changed or left behind in its
  folder (a report, an export, a temporary `.pulje-*`, a new ledger file);
- a command that wrote something leaves a ledger that `pulje verify` accepts.

The bugs this search found (six of them) are fixed, and each has a test below
that reproduced it; `KNOWN_BUGS` would list a bug the search finds while it
is being fixed, so the search keeps guarding everything else meanwhile.

The default run tries 1000 argument lists (`demo` is left out: it builds a
whole year and renders a PDF, seconds per call); `PULJE_SOAK=1` or `-m soak`
runs 10,000 with `demo` included (about ten minutes).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import main
from cli.params import AMOUNT, DATE, HASH, Timestamp

ROOT = Path(__file__).resolve().parents[2]
PLAN_2022 = ROOT / "plans" / "tingbjerg-husum-2022.toml"
AG = "arbejdsgruppen"
OEKF = "Økonomiforvaltningen"
GENESIS = "0" * 64
DOCUMENTED = {0, 1, 2, 3, 4}
ENV = {"PULJE_DEBUG": None, "PULJE_DB": None, "PULJE_ACTOR": None}
LEDGER = "ledger.db"


def explain(result: Result) -> str:
    return (
        f"exit {result.exit_code}\n--- stdout\n{result.stdout[:3000]}\n--- stderr\n{result.stderr[:3000]}\n"
        f"--- exception {result.exception!r}"
    )


def soak_only(request: pytest.FixtureRequest) -> None:
    """Run a soak variant only when asked: `-m soak` or PULJE_SOAK=1."""
    if "soak" not in (request.config.option.markexpr or "") and not os.environ.get("PULJE_SOAK"):
        pytest.skip("a soak variant: run with -m soak or PULJE_SOAK=1")


# ---------------------------------------------------------------------- the command tree


def walk(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))
        else:
            yield (*path, name), command


ALL_COMMANDS = list(walk(main))
#: `demo` builds a whole year and renders every report format: only the soak run calls it.
COMMANDS = [(path, command) for path, command in ALL_COMMANDS if path != ("demo",)]


# ---------------------------------------------------------------------- the prepared world


@dataclass
class World:
    """Files every example may point at (read only), and the prepared ledger it copies."""

    folder: Path
    base: Path
    count: int
    head: str
    event_ids: list[str]
    files: dict[str, Path] = field(default_factory=dict)


def ledger_state(db: Path) -> tuple[int, int, str]:
    """(stored events, chain length, chain head) read behind the program's back."""
    conn = sqlite3.connect(db)
    try:
        events = conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]
        row = conn.execute("SELECT position, hash FROM event_chain ORDER BY position DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return (events, *(row or (0, GENESIS)))


def build_world(folder: Path) -> World:
    import datetime as dt

    from domain.money import parse_amount
    from ledger.service import Pulje
    from tests.conftest import TickingClock

    base = folder / "base.db"
    with Pulje(str(base), "sekretariatet", clock=TickingClock()) as pulje:
        pulje.import_plan(PLAN_2022)
        for recipient, amount, pool, day in (
            ("Beboerforeningen i Tingbjerg", "5.000", "BTP", "2022-03-01"),
            ("Husum Boldklub", "3.000", "BTP", "2022-04-01"),
            ("Sikker By", "2.000", "VP", "2022-05-01"),
        ):
            pulje.award(
                pool=pool,
                year=2022,
                recipient=recipient,
                purpose="Tryghedsvandring",
                area=None,
                amount=parse_amount(amount),
                requested=None,
                date=dt.date.fromisoformat(day),
                decided_by=AG,
                decision_ref="AG-møde",
            )
        pulje.disburse(
            grant="BTP-2022-001", amount=parse_amount("4.000"), date=dt.date(2022, 3, 10), payment_ref="Bilag 1"
        )
        pulje.reallocate(
            year=2022,
            from_line="12",
            to_line="14",
            amount=parse_amount("20.000"),
            date=dt.date(2022, 6, 15),
            decided_by=OEKF,
            decision_ref="ØKF 2022-41",
            reason="Flere tryghedsvandringer",
        )
        rows, _, _ = pulje.audit()
        event_ids = [row.event_id for row in rows]
    for suffix in ("-wal", "-shm"):
        assert not Path(f"{base}{suffix}").exists(), "the prepared ledger was not closed cleanly"
    count, _, head = ledger_state(base)
    world = World(folder, base, count, head, event_ids)

    files = folder / "files"
    files.mkdir()
    world.files["plan"] = PLAN_2022
    plan_2023 = PLAN_2022.read_text(encoding="utf-8").replace("year = 2022", "year = 2023", 1)
    (files / "plan-2023.toml").write_text(plan_2023, encoding="utf-8")
    world.files["plan 2023"] = files / "plan-2023.toml"
    (files / "float.toml").write_text(
        PLAN_2022.read_text(encoding="utf-8").replace("total = 107000", "total = 107.000", 1), encoding="utf-8"
    )
    world.files["plan with a float"] = files / "float.toml"
    (files / "empty").write_bytes(b"")
    world.files["empty"] = files / "empty"
    (files / "nul").write_bytes(b"\x00" * 4096)
    world.files["NUL bytes"] = files / "nul"
    (files / "bytes").write_bytes(bytes(range(256)) * 64)
    world.files["every byte"] = files / "bytes"
    result = CliRunner().invoke(
        main, ["--db", str(base), "export", "--format", "jsonl", "--output", str(files / "export.jsonl")]
    )
    assert result.exit_code == 0, explain(result)
    for suffix in ("-wal", "-shm"):
        Path(f"{base}{suffix}").unlink(missing_ok=True)
    assert ledger_state(base) == (count, count, head)
    world.files["export"] = files / "export.jsonl"
    (files / "folder").mkdir()
    world.files["a folder"] = files / "folder"
    world.files["missing"] = files / "missing.toml"
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("hostile-cli"))


# ---------------------------------------------------------------------- values


HOSTILE_TEXTS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u200f",
    "\u202eBTP",
    "\u202e",
    "٢٠٢٢",
    "١٢٣",
    "NaN",
    "nan",
    "inf",
    "-1",
    "-5",
    "--help",
    "-",
    "--",
    '=HYPERLINK("http://evil.example","x")',
    "+1",
    "@SUM(A1)",
    "<script>alert(1)</script>",
    "x" * 10_000,
    "Ø" * 300,
    "linje 1\nlinje 2",
    "\r\n",
    "\t",
    "Caf\udce9",
    "\udcff",
    "😀",
    "'; DROP TABLE stored_events; --",
    "%s%s%n",
    "{}",
    "null",
    "../../etc/passwd",
    "BTP-2022-001\x00",
    "0",
    "99999999999999999999999999",
]
HUGE_NUMBERS = [
    "99999999999999999999999999",
    str(2**63),
    str(2**64),
    "-" + str(2**63),
    "1" + "0" * 400,
    "-1",
    "0",
    "+7",
]
HOSTILE_DATES = [
    "2022-02-30",
    "2022-13-01",
    "2022-00-10",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "22-03-01",
    "2022-3-1",
    "2022/03/01",
    "01-03-2022",
    "2022-03-01T10:00",
    "2022-03-01 ",
    " 2022-03-01",
    "٢٠٢٢-٠٣-٠١",
    "２０２２-０３-０１",
    "2022-03-01\x00",
    "",
    "today",
    "2023-01-01",
    "2021-12-31",
    "2022-12-31",
    "2022-03-27",
    "2022-10-30",
]
HOSTILE_AMOUNTS = [
    "1e9",
    "1E9",
    "1.5",
    "-5",
    "0",
    "0,00",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "١٠٠",
    "１００",
    "1.00.0",
    "1,2,3",
    "1_000",
    "9" * 30,
    "1" + "0" * 400,
    "",
    " ",
    "kr.",
    "5.000\x00",
    "0x10",
    "5.000,001",
    "5 000",
    "1e-2",
    "+5",
    "--5",
    "107.000.000.000",
    "10.000.000.000,01",
]
HOSTILE_TIMESTAMPS = [
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00Z",
    "9999-12-31T23:59:59Z",
    "2022-02-30T00:00Z",
    "2022-06-01T25:00Z",
    "2022-06-01T00:00",
    "2022-06-01T00:00+25:00",
    "2022-10-30T02:30",
    "now",
    "",
    "2022-06-01T00:00:00.1234567Z",
    "٢٠٢٢-06-01T00:00Z",
    "2022-06-01t00:00z",
]
HOSTILE_CHOICES = ["", "TABLE", "xml", "json\x00", "Json", " json"]


def texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE_TEXTS),
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
        st.builds(lambda c, n: c * n, st.characters(), st.integers(1, 3000)),
    )


def iso_dates() -> st.SearchStrategy[str]:
    import datetime as dt

    return st.dates(dt.date(2020, 1, 1), dt.date(2024, 12, 31)).map(lambda d: d.isoformat())


def moments() -> st.SearchStrategy[str]:
    import datetime as dt

    offsets = st.sampled_from(["Z", "+00:00", "+01:00", "+02:00", "-05:00", "+0530", "+23:59", "-23:59"])
    return st.builds(
        lambda d, o: d.strftime("%Y-%m-%dT%H:%M:%S") + o,
        st.datetimes(dt.datetime(2021, 1, 1), dt.datetime(2024, 1, 1)),
        offsets,
    )


@dataclass
class Values:
    """For one parameter: what a user would type, and what a hostile user would."""

    valid: st.SearchStrategy[str]
    hostile: st.SearchStrategy[str]


def values_for(param: click.Parameter, world: World, sandbox_names: bool = True) -> Values:
    """The values to try for one parameter, from its type and its name."""
    kind, name = param.type, param.name or ""
    texts_ = texts()
    files = world.files
    if kind is DATE or isinstance(kind, type(DATE)):
        return Values(iso_dates(), st.one_of(st.sampled_from(HOSTILE_DATES), texts_))
    if kind is AMOUNT or isinstance(kind, type(AMOUNT)):
        valid = st.one_of(
            st.sampled_from(["5.000", "500", "1", "20.000", "107.000", "1.000,50", "2.000 kr.", "kr. 300", "4000"]),
            st.integers(1, 200_000).map(str),
        )
        return Values(
            valid, st.one_of(st.sampled_from(HOSTILE_AMOUNTS), st.integers(-(10**20), 10**20).map(str), texts_)
        )
    if kind is HASH or isinstance(kind, type(HASH)):
        return Values(
            st.sampled_from([world.head, world.head.upper(), GENESIS]),
            st.one_of(st.sampled_from(["", "g" * 64, "a" * 63, "a" * 65, world.head + "\x00"]), texts_),
        )
    if isinstance(kind, Timestamp):
        return Values(
            st.one_of(moments(), iso_dates()),
            st.one_of(st.sampled_from(HOSTILE_TIMESTAMPS), texts_),
        )
    if isinstance(kind, click.IntRange) or kind is click.INT:
        return Values(
            st.sampled_from(["2022", "2022", "2023", "2021"]),
            st.one_of(
                st.sampled_from(HUGE_NUMBERS + ["٢٠٢٢", "2022.0", "2_022", "1899", "2201", ""]),
                st.integers(-(10**30), 10**30).map(str),
                texts_,
            ),
        )
    if isinstance(kind, click.Choice):
        return Values(st.sampled_from(list(kind.choices)), st.one_of(st.sampled_from(HOSTILE_CHOICES), texts_))
    if isinstance(kind, click.Path):
        if name in ("output",):
            return Values(
                st.sampled_from(["out.file", "report.out", "export.out"]),
                st.sampled_from(
                    [
                        "existing.txt",
                        "folder",
                        "missing/out.file",
                        "",
                        "out\x00.file",
                        "x" * 300,
                        "-",
                        ".",
                        "..",
                        "folder/",
                        "existing-link",
                    ]
                ),
            )
        readable = [files["plan"], files["export"]] if name == "file" else []
        return Values(
            st.sampled_from([str(p) for p in readable] or [str(files["plan"])]),
            st.one_of(
                st.sampled_from([str(p) for p in files.values()] + ["", "x\x00.toml", str(files["a folder"]) + "/"]),
                texts_,
            ),
        )
    named: dict[str, list[str]] = {
        "pool": ["BTP", "VP", "bylivs-og-tryghedspulje", "videnspulje", "btp"],
        "from_line": ["12", "14", "15", "1", "juniorbetjent"],
        "to_line": ["14", "12", "15", "2"],
        "decided_by": [AG, OEKF, "ARBEJDSGRUPPEN", "økonomiforvaltningen"],
        "number": ["BTP-2022-001", "BTP-2022-002", "VP-2022-001", "btp-2022-001", "BTP-2022-999"],
        "event": [str(i) for i in range(1, world.count + 1)] + world.event_ids[-4:] + ["#23"],
        "partnership": ["Tingbjerg-Husum", "tingbjerg-husum"],
        "area": ["Tryggere byliv", "Positive fællesskaber", "Uddannelse og beskæftigelse"],
        "out": ["demo-out"],
    }
    if name in named:
        return Values(st.sampled_from(named[name]), texts_)
    return Values(
        st.one_of(
            st.sampled_from(["Beboerforeningen", "Tryghedsvandring", "AG 2022-03", "Ubrugte midler", "k-1"]),
            st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=20),
        ),
        texts_,
    )


DB_HOSTILE = [
    "new.db",
    "folder",
    "missing/ledger.db",
    "",
    "not-a-ledger.txt",
    "ledger\x00.db",
    "mysql://pulje@localhost/x",
    "postgresql://pulje@127.0.0.1:1/nothing",
    "postgresql://",
    "sqlite:///ledger.db",
    "x" * 300,
    ".",
]
JUNK = [
    "--bogus",
    "-x",
    "--help",
    "-h",
    "--amount",
    "--",
    "extra",
    "--format=xml",
    "--year",
    "-5",
    "\x00",
    "--db",
    "--version",
]


@dataclass
class Example:
    args: list[str]
    command: tuple[str, ...]
    mode: str
    db: str


@st.composite
def argument_lists(draw: st.DrawFn, world: World, commands: list[tuple[tuple[str, ...], click.Command]]) -> Example:
    path, command = draw(st.sampled_from(commands))
    mode = draw(st.sampled_from(["valid", "valid", "one hostile", "mixed"]))
    groups: list[list[str]] = []

    db = LEDGER
    if mode == "mixed" and draw(st.integers(0, 5)) == 0:
        db = draw(st.one_of(st.sampled_from(DB_HOSTILE), texts()))
    elif draw(st.integers(0, 15)) == 0:
        db = "new.db"
    head = [] if (mode == "mixed" and draw(st.integers(0, 12)) == 0) else ["--db", db]
    if draw(st.booleans()):
        actor = (
            draw(st.one_of(st.sampled_from(["sekretariatet", "revisor"]), texts()))
            if mode == "mixed"
            else "sekretariatet"
        )
        head += ["--actor", actor]

    params = [p for p in command.params if not (isinstance(p, click.Option) and p.name == "help")]
    hostile_one = draw(st.integers(0, max(len(params) - 1, 0))) if mode == "one hostile" and params else None
    for i, param in enumerate(params):
        values = values_for(param, world)
        hostile = mode == "mixed" and draw(st.booleans()) or i == hostile_one
        if isinstance(param, click.Argument):
            if hostile and draw(st.integers(0, 4)) == 0:
                continue  # a missing argument
            groups.append([draw(values.hostile if hostile else values.valid)])
            continue
        assert isinstance(param, click.Option)
        present = param.required or draw(st.integers(0, 2)) == 0
        if hostile and draw(st.integers(0, 3)) == 0:
            present = not present  # a missing required option, or an optional one given
        if not present:
            continue
        option = draw(st.sampled_from(list(param.opts)))
        if param.is_flag:
            groups.append([option])
        else:
            groups.append([option, draw(values.hostile if hostile else values.valid)])
    if mode != "valid":
        for _ in range(draw(st.integers(0, 2) if mode == "mixed" else st.integers(0, 1))):
            if draw(st.booleans()):
                groups.insert(draw(st.integers(0, len(groups))), [draw(st.sampled_from(JUNK))])
    groups = draw(st.permutations(groups)) if mode == "mixed" else groups
    args = [*head, *path, *(token for group in groups for token in group)]
    return Example(args, path, mode, head[1] if head else "pulje.db")


# ---------------------------------------------------------------------- running one example


def folder_state(folder: Path) -> dict[str, str]:
    """Every file in the folder (but the prepared ledger and its WAL files), with a digest of its bytes."""
    state = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if relative in (LEDGER, f"{LEDGER}-wal", f"{LEDGER}-shm", f"{LEDGER}-journal"):
            continue
        if path.is_symlink():
            state[relative] = "link -> " + os.readlink(path)
        elif path.is_dir():
            state[relative] = "folder"
        else:
            state[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def claimed(result: Result) -> int | str:
    """The exit code the output claims."""
    err, out = result.stderr, result.stdout
    if "Internal error" in err:
        return "internal error"
    first = next((line for line in err.splitlines() if line.strip() and not line.startswith("warning:")), "")
    if first.startswith("Storage error:") or "may read the ledger but not change it" in first:
        return 4
    if first.startswith("Refused: the export file does not verify"):
        return 1
    if first.startswith(("Refused:", "The plan file has problems")):
        return 3
    if first.startswith(("Error:", "Usage:", "Cannot read the plan file")):
        return 2
    if "FAILED:" in out or "NOT in this ledger" in out or re.search(r'"ok": false', out):
        return 1
    return 0


@dataclass
class KnownBug:
    """A bug the search found, reproduced by its strict-xfail test; its hits are counted, not failed."""

    name: str
    test: str
    matches: Callable[[Example, Result, list[str]], bool]


def _has_surrogate(args: list[str]) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for arg in args for c in arg)


#: Bugs this search found are fixed; their tests below guard them. A new one would be listed here
#: with the test that reproduces it, while it is being fixed.
KNOWN_BUGS: list[KnownBug] = [
]


@dataclass
class Tally:
    examples: int = 0
    codes: Counter = field(default_factory=Counter)
    commands: Counter = field(default_factory=Counter)
    modes: Counter = field(default_factory=Counter)
    bugs: Counter = field(default_factory=Counter)
    wrote: int = 0
    tracebacks: int = 0
    seconds: float = 0.0

    def figure(self) -> str:
        codes = ", ".join(f"exit {code}: {self.codes[code]}" for code in sorted(self.codes))
        bugs = "; ".join(f"{name}: {n}" for name, n in self.bugs.most_common()) or "none"
        return (
            f"hostile command lines: {self.examples} argument lists over {len(self.commands)} commands "
            f"({', '.join(f'{m} {n}' for m, n in sorted(self.modes.items()))}) in {self.seconds:.1f} s; {codes}; "
            f"tracebacks 0, undocumented exit codes 0, codes the output contradicts 0, writes by refused commands 0; "
            f"{self.wrote} commands wrote and verify accepted the ledger; known bugs hit: {bugs}"
        )


def run_example(world: World, example: Example, scratch: Path, tally: Tally) -> None:
    sandbox = Path(tempfile.mkdtemp(dir=scratch))
    cwd = os.getcwd()
    try:
        shutil.copyfile(world.base, sandbox / LEDGER)
        (sandbox / "existing.txt").write_text("an earlier report\n", encoding="utf-8")
        (sandbox / "not-a-ledger.txt").write_text("not a ledger\n", encoding="utf-8")
        (sandbox / "folder").mkdir()
        (sandbox / "existing-link").symlink_to("existing.txt")
        files_before = folder_state(sandbox)
        os.chdir(sandbox)
        result = CliRunner().invoke(main, example.args, env=ENV)
        os.chdir(cwd)
        after = ledger_state(sandbox / LEDGER)
        problems = []
        code = result.exit_code
        if "Traceback" in result.output or not (result.exception is None or isinstance(result.exception, SystemExit)):
            problems.append("a traceback or an uncaught exception")
        if code not in DOCUMENTED:
            problems.append(f"undocumented exit code {code}")
        said = claimed(result)
        if said != code:
            problems.append(f"exit {code} but the output claims {said}")
        if code in (2, 3, 4):
            if not result.stderr.strip():
                problems.append("a refusal without a message on stderr")
            if result.stdout.strip():
                problems.append("a refusal printed on stdout")
        if code != 0:
            if after != (world.count, world.count, world.head):
                problems.append(f"a refused command changed the ledger: {after}")
            files_after = folder_state(sandbox)
            made = sorted(k for k, v in files_after.items() if files_before.get(k) != v)
            gone = sorted(set(files_before) - set(files_after))
            ledger_files = {example.db, f"{example.db}-wal", f"{example.db}-shm", f"{example.db}-journal"}
            if made and not gone and set(made) <= ledger_files:
                problems.append(f"a refused command left a ledger file behind: {made}")
            elif made or gone:
                problems.append(f"a refused command left behind or changed files: made {made}, removed {gone}")
        elif after[2] != world.head:
            tally.wrote += 1
            check = CliRunner().invoke(main, ["--db", str(sandbox / LEDGER), "verify"], env=ENV)
            if check.exit_code != 0:
                problems.append("verify refuses the ledger the command left:\n" + explain(check))
        tally.examples += 1
        tally.codes[code] += 1
        tally.commands[" ".join(example.command)] += 1
        tally.modes[example.mode] += 1
        if problems:
            bug = next((b for b in KNOWN_BUGS if b.matches(example, result, problems)), None)
            assert bug is not None, f"{'; '.join(problems)}\nargs: {example.args!r}\n{explain(result)}"
            tally.bugs[bug.name] += 1
    finally:
        os.chdir(cwd)
        shutil.rmtree(sandbox, ignore_errors=True)


def search(world: World, scratch: Path, examples: int, commands: list[Any]) -> Tally:
    tally = Tally()
    started = time.monotonic()

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(argument_lists(world, commands))
    def one(example: Example) -> None:
        run_example(world, example, scratch, tally)

    one()
    tally.seconds = time.monotonic() - started
    return tally


# ---------------------------------------------------------------------- the searches


def test_a_thousand_hostile_argument_lists_give_no_traceback_and_only_documented_exit_codes(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = search(world, tmp_path, 1000, COMMANDS)

    with capsys.disabled():
        print(f"\n[figure] {tally.figure()}")
    assert tally.examples >= 1000
    assert len(tally.commands) == len(COMMANDS), "every command of the tree was tried"
    assert {0, 2, 3} <= set(tally.codes), tally.codes


#: The soak run's commands: `demo` too, a tenth as often as each other command (a call takes seconds).
SOAK_COMMANDS = COMMANDS * 10 + [(path, command) for path, command in ALL_COMMANDS if path == ("demo",)]


@pytest.mark.soak
def test_ten_thousand_hostile_argument_lists_with_demo(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    soak_only(request)
    tally = search(world, tmp_path, 10_000, SOAK_COMMANDS)

    with capsys.disabled():
        print(f"\n[figure] {tally.figure()}")
    assert len(tally.commands) == len(ALL_COMMANDS)


def test_the_search_walks_every_command_of_the_tree() -> None:
    names = {" ".join(path) for path, _ in ALL_COMMANDS}

    assert {
        "plan import",
        "plan show",
        "reallocate",
        "grant award",
        "grant disburse",
        "grant return",
        "grant withdraw",
        "pool show",
        "pool close",
        "reverse",
        "status",
        "audit",
        "replay",
        "report ultimo",
        "export",
        "import-events",
        "verify",
        "demo",
    } <= names


# ---------------------------------------------------------------------- the bugs it found, one test each


@pytest.fixture
def ledger(world: World, tmp_path: Path) -> Path:
    copy = tmp_path / LEDGER
    shutil.copyfile(world.base, copy)
    return copy


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=ENV)


def assert_refused(result: Result, code: int, ledger: Path, world: World) -> str:
    assert result.exit_code == code, explain(result)
    assert "Internal error" not in result.stderr and "Traceback" not in result.output, explain(result)
    assert result.stderr.strip() and not result.stdout.strip(), explain(result)
    assert ledger_state(ledger) == (world.count, world.count, world.head)
    return result.stderr


def test_reversing_an_event_number_beyond_sqlites_integers_is_refused_as_unknown(ledger: Path, world: World) -> None:
    message = assert_refused(
        invoke("--db", str(ledger), "reverse", "99999999999999999999999", "--reason", "x"), 3, ledger, world
    )

    assert "99999999999999999999999" in message


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_recorded_before_moment_at_the_edge_of_the_calendar_is_a_usage_error(
    ledger: Path, world: World, moment: str
) -> None:
    message = assert_refused(invoke("--db", str(ledger), "status", "--recorded-before", moment), 2, ledger, world)

    assert "--recorded-before" in message


@pytest.mark.parametrize("where", ["--db of plan import", "plan import FILE", "report --output", "export --output"])
def test_a_nul_byte_in_a_file_path_is_a_usage_error(ledger: Path, world: World, tmp_path: Path, where: str) -> None:
    nul = str(tmp_path / "x\x00.out")
    args = {
        "--db of plan import": ["--db", nul, "plan", "import", str(PLAN_2022)],
        "plan import FILE": ["--db", str(ledger), "plan", "import", nul],
        "report --output": [
            "--db",
            str(ledger),
            "report",
            "ultimo",
            "--year",
            "2022",
            "--format",
            "md",
            "--output",
            nul,
        ],
        "export --output": ["--db", str(ledger), "export", "--format", "csv", "--output", nul],
    }[where]

    assert_refused(invoke(*args), 2, ledger, world)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LEDGER]


@pytest.mark.parametrize("where", ["--recipient", "--actor", "--key", "GRANT"])
def test_text_that_is_not_utf8_is_refused_in_one_sentence(ledger: Path, world: World, where: str) -> None:
    latin1 = b"Caf\xe9 Husum".decode("utf-8", "surrogateescape")  # what Python makes of `--recipient $'Caf\xe9'`
    award = [
        "grant",
        "award",
        "--pool",
        "BTP",
        "--year",
        "2022",
        "--purpose",
        "Aftenfodbold",
        "--amount",
        "1.000",
        "--date",
        "2022-05-01",
        "--decided-by",
        AG,
        "--decision-ref",
        "AG",
    ]
    args = {
        "--recipient": ["--db", str(ledger), *award, "--recipient", latin1],
        "--actor": ["--db", str(ledger), "--actor", latin1, *award, "--recipient", "Husum Boldklub"],
        "--key": ["--db", str(ledger), *award, "--recipient", "Husum Boldklub", "--key", latin1],
        "GRANT": ["--db", str(ledger), "grant", "disburse", latin1, "--amount", "1", "--date", "2022-05-01"],
    }[where]

    result = invoke(*args)

    assert result.exit_code in (2, 3), explain(result)
    assert_refused(result, result.exit_code, ledger, world)
