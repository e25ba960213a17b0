"""Convert pulje's hledger journal export to a Beancount v3 file, for the benchmark.

    python bench/beancount.py IN.journal OUT.beancount

Reads the journal that `pulje export --format journal` writes (see
projections/journal.py) line by line and writes the same transactions, with
the same dates, postings and amounts, as Beancount:

    2015-01-01 * (2) vedtaget: 1 Fælleshaven          2015-01-01 * "vedtaget: 1 Fælleshaven"
        ; kind:line_budgeted, seq:2                       code: "2"
        plan:P 01:2015:1 Fælleshaven  2000000.00 DKK      ; kind:line_budgeted, seq:2
        finansiering:P 01:2015  -2000000.00 DKK           Assets:Plan:P-01-…:2015:1-Faelleshaven-…  2000000.00 DKK
                                                          Equity:Finansiering:P-01-…:2015  -2000000.00 DKK

Account roots map `plan` -> `Assets:Plan` and `finansiering` ->
`Equity:Finansiering`; every further part is made a valid Beancount
component by `component()`. Comment lines are kept as comments. An `open`
directive for every account used (dated 1900-01-01, before any use) is
written at the end, where Beancount accepts it because it sorts directives by
date; so only the set of account names is held in memory.

Nothing here imports Beancount: this file is named like the package and is
only ever run as a script or imported as `bench.beancount`.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

ROOTS = {"plan": "Assets:Plan", "finansiering": "Equity:Finansiering"}
OPEN_DATE = "1900-01-01"
CURRENCY = "DKK"
DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa", "ß": "ss"})

HEADER = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})(?:\s+(?P<flag>[*!]))?(?:\s+\((?P<code>[^)]*)\))?\s*(?P<text>[^;]*)(?:;.*)?")
POSTING = re.compile(r"\s+(?P<account>\S.*?)(?:\t|  )\s*(?P<number>-?\d+(?:\.\d+)?) (?P<commodity>[A-Z]+)\s*")


class JournalError(ValueError):
    """A journal line this converter does not understand."""


def component(text: str) -> str:
    """One hledger account part as a valid Beancount component (ASCII letters, digits, dashes).

    Danish letters are spelt out (æ -> ae), other accents dropped, anything
    else becomes a dash; the first letter is made upper case, or an `X` is put
    in front when it is not a letter or digit. If that changed the text at
    all, eight hex digits of the SHA-256 of the original are appended, so two
    distinct hledger names never meet.
    """
    ascii_text = unicodedata.normalize("NFKD", text.translate(DANISH)).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9-]", "-", ascii_text)).strip("-")
    if cleaned[:1].islower():
        cleaned = cleaned[0].upper() + cleaned[1:]
    elif not cleaned[:1].isalnum():
        cleaned = "X" + cleaned
    if cleaned != text:
        cleaned = f"{cleaned}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    return cleaned


def account(name: str) -> str:
    """An hledger account name (`plan:P:2015:1 X`) as a Beancount account (`Assets:Plan:…`)."""
    root, *rest = name.split(":")
    if root not in ROOTS:
        raise JournalError(f"unknown account root {root!r} in {name!r} (expected one of {', '.join(ROOTS)})")
    return ":".join([ROOTS[root], *(component(part) for part in rest)])


def quoted(text: str) -> str:
    """A Beancount string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def convert_lines(lines: Iterable[str], accounts: set[str] | None = None) -> Iterator[str]:
    """Beancount lines for hledger journal lines, in order; the `open`s for every account used come last."""
    accounts = set() if accounts is None else accounts
    yield f"option \"operating_currency\" \"{CURRENCY}\""
    yield ""
    in_transaction = False
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped:
            in_transaction = False
            yield ""
        elif stripped.startswith((";", "#")):
            yield ("    ; " if line[0].isspace() else "; ") + stripped.lstrip(";#").strip()
        elif not line[0].isspace():
            if line.startswith(("decimal-mark ", "commodity ")):
                yield f"; hledger: {stripped}"
                continue
            head = HEADER.fullmatch(line)
            if not head:
                raise JournalError(f"line {number}: not a transaction header: {line!r}")
            in_transaction = True
            yield f"{head['date']} {head['flag'] or '*'} {quoted(head['text'].strip())}"
            if head["code"]:
                yield f"    code: {quoted(head['code'])}"
        else:
            posting = POSTING.fullmatch(line)
            if not in_transaction or not posting:
                raise JournalError(f"line {number}: not a posting: {line!r}")
            if posting["commodity"] != CURRENCY:
                raise JournalError(f"line {number}: commodity {posting['commodity']}, expected {CURRENCY}")
            name = account(posting["account"].strip())
            accounts.add(name)
            yield f"    {name}  {posting['number']} {posting['commodity']}"
    yield ""
    yield f"{OPEN_DATE} commodity {CURRENCY}"
    for name in sorted(accounts):
        yield f"{OPEN_DATE} open {name} {CURRENCY}"


def convert(source: Path | str, target: Path | str) -> int:
    """Write the Beancount version of the journal `source` to `target`; the number of accounts."""
    accounts: set[str] = set()
    target = Path(target)
    partial = target.with_name(target.name + ".partial")
    with open(source, encoding="utf-8") as inp, open(partial, "w", encoding="utf-8") as out:
        write_lines(out, convert_lines(inp, accounts))
    partial.replace(target)
    return len(accounts)


def write_lines(out: TextIO, lines: Iterable[str]) -> None:
    for line in lines:
        out.write(line)
        out.write("\n")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] in ("-h", "--help"):
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    try:
        count = convert(args[0], args[1])
    except JournalError as exc:
        print(f"{args[0]}: {exc}", file=sys.stderr)
        return 1
    print(f"{args[1]}: {count} accounts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
