"""Hostile files: plan files and export files that are empty, cut, padded, forged or not text at all.

`pulje plan import FILE` gets plan files built from the bundled 2022 plan
with one hostile change each (and one with many): empty, a byte order mark,
Windows or bare-CR line endings, NUL bytes, 10 MB of text, Latin-1 bytes,
TOML floats, unknown keys, duplicate lines, a pool on a missing line, absurd
amounts. A file that cannot be adopted exits 2 (it cannot be read as a plan
file) or 3 (it reads, and breaks the rules of a plan file), names the file
and the key of every problem in one run, writes no event into an adopted
ledger and creates no ledger file where there was none. A byte order mark
and CRLF line endings on an otherwise good file are no problem at all.

`pulje import-events FILE` gets what `tests/integration/test_exports.py`
does not already try: 10 MB of garbage, a file of NUL bytes, a folder, a
file cut in the middle of a character, UTF-16, JSON lines with numbers far
beyond 64 bits, every event in reverse order, the whole file twice, an event
repeated with the header's count raised, forged topics, ids and heads. Each
is refused with the documented code (2 a file that is not a usable export,
1 one that does not verify), says that nothing was imported, and leaves no
event in the target.

The unit tests in `tests/unit/test_planfile.py` check the same checks on
bytes; these run the command a user runs.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from ledger.chain import GENESIS, link

ROOT = Path(__file__).resolve().parents[2]
PLAN_2022 = ROOT / "plans" / "tingbjerg-husum-2022.toml"
PLAN_TEXT = PLAN_2022.read_text(encoding="utf-8")
ENV = {"PULJE_DEBUG": None, "PULJE_DB": None, "PULJE_ACTOR": None}
MB = 1024 * 1024
AG = "arbejdsgruppen"

LINE_14_2022 = 'total = 107000\nposts = { "Bylivs- og tryghedspuljen" = 107000 }'
VP_LINE = 'line = "15"\ndecided_by'


def explain(result: Result) -> str:
    return (
        f"exit {result.exit_code}\n--- stdout\n{result.stdout[:3000]}\n--- stderr\n{result.stderr[:3000]}\n"
        f"--- exception {result.exception!r}"
    )


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=ENV)


def edited(old: str, new: str, text: str = PLAN_TEXT) -> str:
    assert old in text, f"the 2022 plan no longer has {old!r}"
    return text.replace(old, new, 1)


def ledger_state(db: Path) -> tuple[int, int, str]:
    conn = sqlite3.connect(db)
    try:
        events = conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]
        row = conn.execute("SELECT position, hash FROM event_chain ORDER BY position DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return (events, *(row or (0, GENESIS)))


def clean_failure(result: Result, codes: set[int]) -> list[str]:
    """The message lines of a refusal: a documented code, stderr only, no traceback, no internal error."""
    assert result.exit_code in codes, explain(result)
    assert isinstance(result.exception, SystemExit), explain(result)
    assert "Traceback" not in result.output and "Internal error" not in result.stderr, explain(result)
    assert result.stdout == "", explain(result)
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("Usage:", "Try '"))]
    assert lines, explain(result)
    return lines


# ---------------------------------------------------------------------- plan files


@pytest.fixture(scope="module")
def adopted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[int, int, str]]:
    """A ledger with the 2022 plan adopted (copied per test) and its (events, chain, head)."""
    from ledger.service import Pulje
    from tests.conftest import TickingClock

    db = tmp_path_factory.mktemp("adopted") / "adopted.db"
    with Pulje(str(db), "sekretariatet", clock=TickingClock()) as pulje:
        pulje.import_plan(PLAN_2022)
    return db, ledger_state(db)


@pytest.fixture
def ledger(adopted: tuple[Path, tuple[int, int, str]], tmp_path: Path) -> Path:
    copy = tmp_path / "ledger" / "adopted.db"
    copy.parent.mkdir()
    shutil.copyfile(adopted[0], copy)
    return copy


def float_total() -> str:
    return edited(LINE_14_2022, 'total = 107.000\nposts = { "Bylivs- og tryghedspuljen" = 107000 }')


#: name -> (the file's bytes, exit code, fragments every message must hold besides the file's name)
PLAN_FILES: dict[str, tuple[Callable[[], bytes], int, tuple[str, ...]]] = {
    "empty": (lambda: b"", 2, ("is empty",)),
    "only white space": (lambda: b"  \n\n\t\r\n   \n", 2, ("is empty",)),
    "a byte order mark in the middle": (
        lambda: edited("[authority]", "\ufeff[authority]").encode("utf-8"),
        2,
        ("not valid TOML",),
    ),
    "a byte order mark and a float": (
        lambda: b"\xef\xbb\xbf" + float_total().encode("utf-8"),
        3,
        ("(no 14).budget.2022.total", "107000"),
    ),
    "CRLF line endings and a float": (
        lambda: float_total().replace("\n", "\r\n").encode("utf-8"),
        3,
        ("(no 14).budget.2022.total", "107000"),
    ),
    "bare CR line endings": (lambda: PLAN_TEXT.replace("\n", "\r").encode("utf-8"), 2, ("not valid TOML",)),
    "a NUL byte": (lambda: edited("[authority]", "[authority]\x00").encode("utf-8"), 2, ("NUL",)),
    "nothing but NUL bytes": (lambda: b"\x00" * 4096, 2, ("NUL",)),
    "10 MB of comments after a good plan": (
        lambda: PLAN_TEXT.encode("utf-8") + (b"# " + b"x" * 1021 + b"\n") * (10 * 1024),
        2,
        ("5 MB",),
    ),
    "10 MB on one line": (lambda: b"x" * (10 * MB), 2, ("5 MB",)),
    "Latin-1 instead of UTF-8": (lambda: PLAN_TEXT.encode("latin-1"), 2, ("not UTF-8",)),
    "a TOML float as a total": (
        lambda: float_total().encode("utf-8"),
        3,
        ("(no 14).budget.2022.total", "107000", '"107.000"'),
    ),
    "a TOML float as a post": (
        lambda: edited('"Bylivs- og tryghedspuljen" = 107000 }', '"Bylivs- og tryghedspuljen" = 91.7 }').encode(
            "utf-8"
        ),
        3,
        ("(no 14).budget.2022.posts.Bylivs- og tryghedspuljen", "91700"),
    ),
    "TOML inf and nan": (
        lambda: edited(LINE_14_2022, 'total = inf\nposts = { "Bylivs- og tryghedspuljen" = nan }').encode("utf-8"),
        3,
        ("(no 14).budget.2022.total", "inf"),
    ),
    "an unknown top-level key": (
        lambda: ("budget_total = 1970000\n" + PLAN_TEXT).encode("utf-8"),
        3,
        ("budget_total", "unknown key"),
    ),
    "an unknown key in [plan]": (
        lambda: edited("year = 2022\n", "year = 2022\nyaer = 2022\n").encode("utf-8"),
        3,
        ("plan.yaer", "unknown key"),
    ),
    "an unknown key in a line": (
        lambda: edited('no = "14"\n', 'no = "14"\nbudgett = 1\n').encode("utf-8"),
        3,
        ("].budgett", "unknown key"),
    ),
    "an unknown key in a budget year": (
        lambda: edited(LINE_14_2022, LINE_14_2022 + "\ntotla = 107000").encode("utf-8"),
        3,
        ("(no 14).budget.2022.totla", "unknown key"),
    ),
    "an unknown key in a pool": (
        lambda: edited('code = "BTP"\n', 'code = "BTP"\nkode = "BTP"\n').encode("utf-8"),
        3,
        ("pool[1].kode", "unknown key"),
    ),
    "a line number used twice": (
        lambda: edited('no = "15"', 'no = "14"').encode("utf-8"),
        3,
        ("(no 14).no", "duplicate line number"),
    ),
    "a whole line repeated": (
        lambda: (
            PLAN_TEXT
            + '\n[[line]]\nno = "14"\nname = "Bylivs- og tryghedspulje"\n[line.budget.2022]\n'
            + LINE_14_2022
            + "\n"
        ).encode("utf-8"),
        3,
        ("(no 14).no", "duplicate line number"),
    ),
    "a key written twice": (
        lambda: edited("year = 2022\n", "year = 2022\nyear = 2022\n").encode("utf-8"),
        2,
        ("not valid TOML",),
    ),
    "a pool on a missing line": (
        lambda: edited(VP_LINE, 'line = "99"\ndecided_by').encode("utf-8"),
        3,
        ("pool[2].line", "'99'"),
    ),
    "ten thousand billion kroner": (
        lambda: edited(LINE_14_2022, 'total = 10000000000000\nposts = { "Bylivs- og tryghedspuljen" = 107000 }').encode(
            "utf-8"
        ),
        3,
        ("(no 14).budget.2022.total", "too large"),
    ),
    "a number of 400 digits": (
        lambda: edited(
            LINE_14_2022, "total = 1" + "0" * 400 + '\nposts = { "Bylivs- og tryghedspuljen" = 107000 }'
        ).encode("utf-8"),
        3,
        ("(no 14).budget.2022.total", "too large"),
    ),
    "2^64 as a post": (
        lambda: edited('"Bylivs- og tryghedspuljen" = 107000 }', f'"Bylivs- og tryghedspuljen" = {2**64} }}').encode(
            "utf-8"
        ),
        3,
        ("(no 14).budget.2022.posts", "too large"),
    ),
    "a text amount of a quadrillion": (
        lambda: edited(
            LINE_14_2022, 'total = "999.999.999.999.999"\nposts = { "Bylivs- og tryghedspuljen" = 107000 }'
        ).encode("utf-8"),
        3,
        ("(no 14).budget.2022.total", "too large"),
    ),
    "a negative amount": (
        lambda: edited(LINE_14_2022, 'total = -107000\nposts = { "Bylivs- og tryghedspuljen" = 107000 }').encode(
            "utf-8"
        ),
        3,
        ("(no 14).budget.2022.total", "negative"),
    ),
    "Arabic-Indic digits": (
        lambda: edited(LINE_14_2022, 'total = "١٠٧٠٠٠"\nposts = { "Bylivs- og tryghedspuljen" = 107000 }').encode(
            "utf-8"
        ),
        3,
        ("(no 14).budget.2022.total", "0-9"),
    ),
    "an exponent in text": (
        lambda: edited(LINE_14_2022, 'total = "1e9"\nposts = { "Bylivs- og tryghedspuljen" = 107000 }').encode("utf-8"),
        3,
        ("(no 14).budget.2022.total", "1e9"),
    ),
    "true as an amount": (
        lambda: edited(LINE_14_2022, 'total = true\nposts = { "Bylivs- og tryghedspuljen" = 107000 }').encode("utf-8"),
        3,
        ("(no 14).budget.2022.total", "True"),
    ),
}


@pytest.mark.parametrize("kind", list(PLAN_FILES))
def test_a_hostile_plan_file_is_refused_naming_file_and_key_and_writes_nothing(
    kind: str, ledger: Path, adopted: tuple[Path, tuple[int, int, str]], tmp_path: Path
) -> None:
    content, code, fragments = PLAN_FILES[kind]
    folder = tmp_path / "plans"
    folder.mkdir()
    plan = folder / "hostile-plan.toml"
    plan.write_bytes(content())
    new = tmp_path / "new" / "ledger.db"
    new.parent.mkdir()

    into_new = clean_failure(invoke("--db", str(new), "--actor", "t", "plan", "import", str(plan)), {code})
    into_adopted = clean_failure(invoke("--db", str(ledger), "--actor", "t", "plan", "import", str(plan)), {code})

    assert into_new == into_adopted
    message = "\n".join(into_new)
    assert plan.name in message, message
    for fragment in fragments:
        assert any(fragment in line for line in into_new if plan.name in line), (fragment, message)
    if code == 3:
        assert into_new[0] == "The plan file has problems; nothing was recorded:"
        assert all(line.startswith(f"  {plan.name}: ") for line in into_new[1:]), message
    assert list(new.parent.iterdir()) == [], "no ledger file where there was none"
    assert ledger_state(ledger) == adopted[1], "no event in the adopted ledger"
    assert [p.name for p in folder.iterdir()] == [plan.name]


def test_a_plan_file_with_many_problems_reports_every_one_in_one_run_with_file_and_key(
    ledger: Path, adopted: tuple[Path, tuple[int, int, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = float_total()
    text = edited("year = 2022\n", "year = 2022\nyaer = 2022\n", text)
    text = edited('no = "15"', 'no = "14"', text)
    text = edited(VP_LINE, 'line = "99"\ndecided_by', text)
    text = edited(
        '"Lønmidler" = 120000, "Aktivitetsmidler" = 30000, "Husleje" = 70000 }\n[line.budget.2022]',
        '"Lønmidler" = 120000, "Aktivitetsmidler" = 30000, "Husleje" = 70000 }\n[line.budget.2022]\nfoo = 1',
        text,
    )
    text = edited(
        '"Lønmidler" = 120000, "Aktivitetsmidler" = 30000, "Husleje" = 70000 }',
        '"Lønmidler" = -120000, "Aktivitetsmidler" = 30000, "Husleje" = 70000 }',
        text,
    )
    text = edited('code = "BTP"', 'code = "B-T-P"', text)
    text = edited("total = 220000\n", "total = 10000000000000\n", text)
    plan = tmp_path / "mange-fejl.toml"
    plan.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    expected = {
        "a TOML float": ("(no 14).budget.2022.total", "TOML float"),
        "an unknown key in [plan]": ("plan.yaer", "unknown key"),
        "an unknown key in a budget year": ("(no 1).budget.2022.foo", "unknown key"),
        "a line number used twice": ("(no 14).no", "duplicate line number"),
        "a pool on a missing line": ("pool[2].line", "'99'"),
        "a negative post": ("(no 1).budget.2021.posts.Lønmidler", "negative"),
        "a bad pool code": ("pool[1].code", "'B-T-P'"),
        "an absurd amount": ("(no 1).budget.2021.total", "too large"),
    }

    lines = clean_failure(invoke("--db", str(ledger), "plan", "import", str(plan)), {3})

    problems = lines[1:]
    missing = [name for name, (key, what) in expected.items() if not any(key in p and what in p for p in problems)]
    assert missing == [], f"not reported: {missing}\n" + "\n".join(lines)
    assert all(p.startswith(f"  {plan.name}: ") for p in problems)
    assert ledger_state(ledger) == adopted[1]
    with capsys.disabled():
        print(
            f"\n[figure] one plan file with {len(expected)} kinds of problem: {len(problems)} problems reported "
            f"in one run, every one naming {plan.name} and its key; exit 3; 0 events written"
        )


@pytest.mark.parametrize(
    "variant",
    ["a byte order mark", "CRLF line endings", "a byte order mark and CRLF line endings"],
)
def test_a_good_plan_file_with_a_byte_order_mark_or_crlf_is_adopted_with_the_same_figures(
    variant: str, tmp_path: Path
) -> None:
    text = PLAN_TEXT.replace("\n", "\r\n") if "CRLF" in variant else PLAN_TEXT
    raw = (b"\xef\xbb\xbf" if "byte order mark" in variant else b"") + text.encode("utf-8")
    plan = tmp_path / "plan.toml"
    plan.write_bytes(raw)

    plain = invoke("--db", str(tmp_path / "plain.db"), "plan", "import", str(PLAN_2022), "--format", "json")
    hostile = invoke("--db", str(tmp_path / "variant.db"), "plan", "import", str(plan), "--format", "json")

    assert plain.exit_code == 0 and hostile.exit_code == 0, explain(hostile)
    assert json.loads(hostile.stdout)["totals"] == json.loads(plain.stdout)["totals"]
    status = [
        json.loads(invoke("--db", str(tmp_path / db), "status", "--format", "json").stdout)
        for db in ("plain.db", "variant.db")
    ]
    assert status[0]["plans"] == status[1]["plans"] and status[0]["pools"] == status[1]["pools"]


# ---------------------------------------------------------------------- import-events


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A jsonl export of a small year: the plan, three grants, a payment, a return and a reallocation."""
    import datetime as dt

    from domain.money import parse_amount
    from ledger.service import Pulje
    from tests.conftest import TickingClock

    folder = tmp_path_factory.mktemp("export")
    db = folder / "source.db"
    with Pulje(str(db), "sekretariatet", clock=TickingClock()) as pulje:
        pulje.import_plan(PLAN_2022)
        for recipient, amount in (
            ("Beboerforeningen i Tingbjerg", "5.000"),
            ("Husum Boldklub", "3.000"),
            ("Café Ø", "2.000"),
        ):
            pulje.award(
                pool="BTP",
                year=2022,
                recipient=recipient,
                purpose="Tryghedsvandring i Gadelandet",
                area=None,
                amount=parse_amount(amount),
                requested=None,
                date=dt.date(2022, 3, 1),
                decided_by=AG,
                decision_ref="AG-møde 3. marts 2022",
            )
        pulje.disburse(
            grant="BTP-2022-001", amount=parse_amount("4.000"), date=dt.date(2022, 3, 10), payment_ref="Bilag 1"
        )
        pulje.take_back(
            grant="BTP-2022-001", amount=parse_amount("500"), date=dt.date(2022, 4, 1), reason="Ubrugte midler"
        )
        pulje.reallocate(
            year=2022,
            from_line="12",
            to_line="14",
            amount=parse_amount("20.000"),
            date=dt.date(2022, 6, 15),
            decided_by="Økonomiforvaltningen",
            decision_ref="ØKF 2022-41",
            reason="Flere tryghedsvandringer",
        )
    path = folder / "export.jsonl"
    result = invoke("--db", str(db), "export", "--format", "jsonl", "--output", str(path))
    assert result.exit_code == 0, explain(result)
    return path


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def dumped(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def relinked(lines: list[str], start: int) -> list[str]:
    """Every hash from line index `start` on recomputed, and the header's head too: a forger's file."""
    out = list(lines)
    previous = json.loads(out[start - 1])["hash"] if start > 1 else GENESIS
    for i in range(start, len(out)):
        data = json.loads(out[i])
        previous = data["hash"] = link(
            previous,
            data["position"],
            data["originator_id"],
            data["originator_version"],
            data["topic"],
            data["state"].encode("utf-8"),
        )
        out[i] = dumped(data)
    header = json.loads(out[0])
    header["head"] = previous
    out[0] = json.dumps(header) + "\n"
    return out


def changed(lines: list[str], index: int, **fields: Any) -> list[str]:
    out = list(lines)
    data = json.loads(out[index])
    data.update(fields)
    out[index] = dumped(data)
    return out


def text(lines: list[str]) -> bytes:
    return "".join(lines).encode("utf-8")


def cut_inside_a_character(lines: list[str]) -> bytes:
    raw = text(lines)
    at = raw.rindex("Ø".encode("utf-8")) + 1  # between the two bytes of the last Ø
    return raw[:at]


def header_with(lines: list[str], **fields: Any) -> list[str]:
    header = json.loads(lines[0])
    header.update(fields)
    return [json.dumps(header) + "\n", *lines[1:]]


#: name -> (the file's bytes from the export's lines, exit code, a fragment of the message)
EXPORT_FILES: dict[str, tuple[Callable[[list[str]], bytes], int, str]] = {
    "10 MB of UTF-8 garbage": (lambda lines: ("Ødelagt linje { ] \n" * (10 * MB // 20)).encode("utf-8"), 2, "line 1"),
    "10 MB after a good header": (lambda lines: text(lines[:1]) + b"{" * (10 * MB) + b"\n", 2, "line 2 is not JSON"),
    "a file of NUL bytes": (lambda lines: b"\x00" * MB, 2, "line 1 holds NUL bytes"),
    "only the header": (lambda lines: text(lines[:1]), 2, "holds 0 events"),
    "a position of 5,000 digits": (
        lambda lines: text(lines).replace(b'{"position":1,', b'{"position":' + b"9" * 5000 + b",", 1),
        2,
        "line 2 is not JSON",
    ),
    "a position of 2^70": (lambda lines: text(changed(lines, 1, position=2**70)), 2, "line 2: position"),
    "the plan's first event at version 2^70, relinked": (
        lambda lines: text(relinked(changed(lines, 1, originator_version=2**70), 1)),
        2,
        "line 2: originator_version",
    ),
    "a negative position": (lambda lines: text(changed(lines, 1, position=-1)), 2, "line 2"),
    "an event count of 10^30": (
        lambda lines: text(header_with(lines, events=10**30)),
        2,
        "header says 1000000000000000000000000000000",
    ),
    "an event count of 5,000 digits": (
        lambda lines: text(lines).replace(b'"events": ', b'"events": ' + b"9" * 5000, 1),
        2,
        "line 1",
    ),
    "every event in reverse order": (lambda lines: text([lines[0], *reversed(lines[1:])]), 1, "line 2: "),
    "the header at the end": (lambda lines: text([*lines[1:], lines[0]]), 2, "line 1 is not a pulje export header"),
    "the whole file twice": (lambda lines: text(lines + lines), 2, f"line {0}"),
    "the last event repeated, count raised": (
        lambda lines: text(header_with([*lines, lines[-1]], events=len(lines))),
        1,
        f"line {0}",
    ),
    "the header's head forged": (lambda lines: text(header_with(lines, head="ab" * 32)), 1, "head the header names"),
    "a topic in a module that does not exist": (
        lambda lines: text(relinked(changed(lines, 3, topic="pulje_no_such_module:Event"), 3)),
        2,
        "line 4: topic",
    ),
    "a topic of another pulje class": (
        lambda lines: text(relinked(changed(lines, 3, topic="domain.pool:Pool.PoolClosed"), 3)),
        1,
        "line 4: ",
    ),
    "an aggregate id that is not an id": (
        lambda lines: text(changed(lines, 3, originator_id="not-an-id")),
        1,
        "line 4: ",
    ),
    "a state with a field added": (
        lambda lines: text(relinked(changed(lines, 3, state=json.loads(lines[3])["state"][:-1] + ',"forged":1}'), 3)),
        1,
        "line 4: ",
    ),
    "a state that is not JSON": (lambda lines: text(relinked(changed(lines, 3, state="{"), 3)), 1, "line 4: "),
}


def expected_fragment(fragment: str, lines: list[str]) -> str:
    return fragment.replace("line 0", f"line {len(lines) + 1}")


def assert_no_events(db: Path) -> None:
    """Nothing was imported: no ledger file, or a ledger without a single event."""
    if db.exists():
        assert ledger_state(db) == (0, 0, GENESIS)


@pytest.mark.parametrize("kind", list(EXPORT_FILES))
def test_a_hostile_export_file_is_refused_with_the_documented_code_and_imports_nothing(
    kind: str, export: Path, tmp_path: Path
) -> None:
    make, code, fragment = EXPORT_FILES[kind]
    lines = lines_of(export)
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_bytes(make(lines))
    target = tmp_path / "copy.db"

    message = clean_failure(invoke("--db", str(target), "import-events", str(hostile)), {code})

    assert len(message) == 1, message
    assert "nothing was imported" in message[0]
    assert expected_fragment(fragment, lines) in message[0], message[0]
    assert_no_events(target)


def test_an_export_behind_a_byte_order_mark_imports_as_if_it_had_none(export: Path, tmp_path: Path) -> None:
    with_mark = tmp_path / "with-mark.jsonl"
    with_mark.write_bytes(b"\xef\xbb\xbf" + export.read_bytes())
    target = tmp_path / "copy.db"

    result = invoke("--db", str(target), "import-events", str(with_mark))

    assert result.exit_code == 0, result.output
    assert json.loads(export.read_text(encoding="utf-8").splitlines()[0])["head"] in result.output


def test_a_folder_given_as_the_export_file_is_a_usage_error_and_creates_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "export.jsonl"
    folder.mkdir()

    message = clean_failure(invoke("--db", str(tmp_path / "copy.db"), "import-events", str(folder)), {2})

    assert "directory" in "\n".join(message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.jsonl"]


@pytest.mark.parametrize("kind", ["10 MB of random bytes", "UTF-16", "cut inside a character", "one Latin-1 byte"])
def test_an_export_file_that_is_not_utf8_is_refused_as_unusable(kind: str, export: Path, tmp_path: Path) -> None:
    lines = lines_of(export)
    content = {
        "10 MB of random bytes": lambda: os.urandom(10 * MB),
        "UTF-16": lambda: "".join(lines).encode("utf-16"),
        "cut inside a character": lambda: cut_inside_a_character(lines),
        "one Latin-1 byte": lambda: text(lines).replace("Café Ø".encode("utf-8"), "Café Ø".encode("latin-1"), 1),
    }[kind]()
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_bytes(content)
    target = tmp_path / "copy.db"

    message = clean_failure(invoke("--db", str(target), "import-events", str(hostile)), {2})

    assert "not usable" in message[0] and "nothing was imported" in message[0]
    assert_no_events(target)


@pytest.mark.parametrize("kind", ["a file of NUL bytes", "only the header", "the header's head forged"])
def test_a_refused_import_leaves_no_ledger_file_behind(kind: str, export: Path, tmp_path: Path) -> None:
    make, code, _ = EXPORT_FILES[kind]
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_bytes(make(lines_of(export)))
    target = tmp_path / "new" / "copy.db"
    target.parent.mkdir()

    clean_failure(invoke("--db", str(target), "import-events", str(hostile)), {code})

    assert list(target.parent.iterdir()) == []


def single_event_renumbered(lines: list[str], version: int) -> list[str]:
    """The last aggregate with a single event (a pool's opening) renumbered, every hash and the head recomputed."""
    ids = [json.loads(line)["originator_id"] for line in lines[1:]]
    index = max(i for i, oid in enumerate(ids, start=1) if ids.count(oid) == 1)
    return relinked(changed(lines, index, originator_version=version), index)


@pytest.mark.parametrize("version", [2**63, 2**70], ids=["2^63", "2^70"])
def test_an_export_with_a_version_beyond_64_bits_is_refused_naming_the_line(
    version: int, export: Path, tmp_path: Path
) -> None:
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_bytes(text(single_event_renumbered(lines_of(export), version)))
    target = tmp_path / "copy.db"

    message = clean_failure(invoke("--db", str(target), "import-events", str(hostile)), {1, 2})

    assert "nothing was imported" in message[0] and "line " in message[0]
    assert_no_events(target)


def test_an_aggregate_that_starts_at_version_5_is_refused(export: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_bytes(text(single_event_renumbered(lines_of(export), 5)))
    target = tmp_path / "copy.db"

    message = clean_failure(invoke("--db", str(target), "import-events", str(hostile)), {1})

    assert "nothing was imported" in message[0]
    assert_no_events(target)


FORGED_MODULE = "pulje_forged_topic_marker"


@pytest.mark.parametrize("hash_kept", [True, False], ids=["hash left as it was", "hash relinked"])
def test_a_forged_topic_never_imports_the_module_it_names(
    hash_kept: bool, export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    marker = tmp_path / "imported"
    # a name of its own per test: eventsourcing caches every topic it has resolved
    module = f"{FORGED_MODULE}_{'kept' if hash_kept else 'relinked'}_{os.getpid()}"
    (modules / f"{module}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\nclass Event: pass\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(modules))
    monkeypatch.delitem(sys.modules, module, raising=False)
    lines = changed(lines_of(export), 3, topic=f"{module}:Event")
    hostile = tmp_path / "forged.jsonl"
    hostile.write_bytes(text(lines if hash_kept else relinked(lines, 3)))
    target = tmp_path / "copy.db"

    try:
        message = clean_failure(invoke("--db", str(target), "import-events", str(hostile)), {1, 2})
    finally:
        sys.modules.pop(module, None)

    assert "line 4" in message[0]
    assert not marker.exists(), "the module named by a forged topic was imported"
    assert_no_events(target)


def test_the_unchanged_export_imports_so_every_refusal_above_is_about_its_one_change(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "copy.db"

    result = invoke("--db", str(target), "import-events", str(export))

    assert result.exit_code == 0, explain(result)
    header = json.loads(lines_of(export)[0])
    assert ledger_state(target) == (header["events"], header["events"], header["head"])
    with capsys.disabled():
        print(
            f"\n[figure] hostile files: {len(PLAN_FILES)} hostile plan files and {len(EXPORT_FILES)} hostile export "
            f"files refused with exit 2 or 3 (plan) and 1 or 2 (export), 0 events written; the untouched "
            f"{header['events']}-event export imports to head {header['head'][:12]}"
        )
