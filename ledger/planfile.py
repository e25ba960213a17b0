"""Plan files: TOML in, a checked `PlanSpec` and the document's warnings out.

`read_plan_file` reports every problem of a file in one run, each naming the
file and the key (`plan.toml: line[3].budget.2022.total: ...`), and refuses
the file if there is any. Problems are things the file must fix (a TOML
float, an unknown key, a pool on a missing line); warnings are things the
document says about itself (an overview figure the activity's own table
lacks, a total that disagrees with its posts) and are kept, not corrected.
The schema is in `plans/README.md`.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.errors import AmountError
from domain.money import ZERO, Money, parse_amount
from domain.plan import LineTerms, PoolTerms, YearBudget
from ledger.app import PlanSpec

MAX_FILE_BYTES = 5 * 1024 * 1024

_PLAN_KEYS = {"partnership", "title", "year", "source", "areas"}
_AUTHORITY_KEYS = {"reallocation", "adoption"}
_LINE_KEYS = {"no", "name", "new", "areas", "responsible", "notes", "budget"}
_BUDGET_KEYS = {"total", "posts", "preliminary", "discontinued", "note"}
_POOL_KEYS = {"id", "code", "name", "line", "decided_by"}
_TOP_KEYS = {"plan", "authority", "line", "pool"}
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,9}")
_YEAR = re.compile(r"(19|20|21)[0-9]{2}")


class PlanFileError(Exception):
    """A plan file that cannot be adopted; `problems` lists every reason."""

    def __init__(self, path: str, problems: list[str], *, unreadable: bool = False) -> None:
        self.path = path
        self.problems = problems
        self.unreadable = unreadable
        super().__init__("\n".join(problems))


@dataclass
class PlanFile:
    spec: PlanSpec
    warnings: list[str] = field(default_factory=list)

    def totals(self) -> dict[int, tuple[Money, bool]]:
        """Year -> (total budget, preliminary?) over the lines."""
        years: dict[int, tuple[Money, bool]] = {}
        for line in self.spec.lines:
            for budget in line.budgets:
                total, prelim = years.get(budget.year, (ZERO, False))
                years[budget.year] = (total + budget.amount, prelim or budget.preliminary)
        return dict(sorted(years.items()))


def read_plan_file(path: str | Path) -> PlanFile:
    """Read and check a plan file; raises `PlanFileError` listing every problem."""
    path = Path(path)
    name = path.name
    try:
        raw = path.read_bytes() if path.stat().st_size <= MAX_FILE_BYTES else None
    except FileNotFoundError:
        raise PlanFileError(str(path), [f"{path}: no such file"], unreadable=True) from None
    except IsADirectoryError:
        raise PlanFileError(str(path), [f"{path}: is a folder, not a plan file"], unreadable=True) from None
    except OSError as error:
        raise PlanFileError(str(path), [f"{path}: cannot be read ({error.strerror})"], unreadable=True) from None
    except ValueError:
        raise PlanFileError(repr(str(path)), [f"{str(path)!r}: is not a file name"], unreadable=True) from None
    if raw is None:
        raise PlanFileError(str(path), [f"{name}: larger than 5 MB; a plan file is a few kB of TOML"], unreadable=True)
    return parse_plan(raw, name)


def parse_plan(raw: bytes, name: str) -> PlanFile:
    """Check the bytes of a plan file called `name`."""
    if b"\x00" in raw:
        raise PlanFileError(name, [f"{name}: contains NUL bytes; a plan file is UTF-8 text"], unreadable=True)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PlanFileError(name, [f"{name}: not UTF-8 text (byte {error.start})"], unreadable=True) from None
    if not text.strip():
        raise PlanFileError(name, [f"{name}: is empty; see plans/README.md for what a plan file holds"], unreadable=True)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PlanFileError(name, [f"{name}: not valid TOML: {error}"], unreadable=True) from None
    checker = _Checker(name)
    spec = checker.plan(data, hashlib.sha256(raw).hexdigest())
    if checker.problems:
        raise PlanFileError(name, checker.problems)
    assert spec is not None
    return PlanFile(spec, checker.warnings)


class _Checker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.name}: {key}: {message}")

    def unknown(self, table: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                self.problem(f"{where}.{key}" if where else key, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def text(self, table: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.problem(f"{where}.{key}", "missing")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{where}.{key}", f"must be non-empty text, not {value!r}")
            return None
        return value.strip()

    def texts(self, table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(f"{where}.{key}", "must be a list of non-empty texts")
            return ()
        return tuple(v.strip() for v in value)

    def flag(self, table: dict[str, Any], key: str, where: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            self.problem(f"{where}.{key}", f"must be true or false, not {value!r}")
            return False
        return value

    def amount(self, value: Any, where: str) -> Money | None:
        if isinstance(value, bool):
            self.problem(where, f"{value!r} is not an amount")
        elif isinstance(value, int):
            if value < 0:
                self.problem(where, f"{value} is negative; budgets are written without a sign")
            elif value * 100 > 10_000_000_000 * 100:
                self.problem(where, f"{value} is too large for one budget figure")
            else:
                return Money.kroner(value)
        elif isinstance(value, float):
            self.problem(where, _float_hint(value))
        elif isinstance(value, str):
            try:
                return parse_amount(value, allow_zero=True)
            except AmountError as error:
                self.problem(where, error.message)
        else:
            self.problem(where, f"{value!r} is not an amount; write whole kroner (120000) or Danish text (\"120.000\")")
        return None

    def plan(self, data: dict[str, Any], sha256: str) -> PlanSpec | None:
        self.unknown(data, _TOP_KEYS, "")
        head = data.get("plan")
        if not isinstance(head, dict):
            self.problem("plan", "missing [plan] table (partnership, title, year)")
            head = {}
        self.unknown(head, _PLAN_KEYS, "plan")
        partnership = self.text(head, "partnership", "plan")
        title = self.text(head, "title", "plan")
        year = head.get("year")
        if not isinstance(year, int) or isinstance(year, bool) or not _YEAR.fullmatch(str(year)):
            self.problem("plan.year", f"must be a year such as 2022, not {year!r}")
            year = None
        source = self.text(head, "source", "plan", required=False)
        areas = self.texts(head, "areas", "plan")

        authority = data.get("authority")
        if not isinstance(authority, dict):
            self.problem("authority", "missing [authority] table (reallocation = \"Økonomiforvaltningen\")")
            authority = {}
        self.unknown(authority, _AUTHORITY_KEYS, "authority")
        reallocation = self.text(authority, "reallocation", "authority")
        adoption = self.text(authority, "adoption", "authority", required=False) or reallocation

        lines = self.lines(data.get("line"), areas)
        pools = self.pools(data.get("pool"), lines, year)
        if self.problems or partnership is None or title is None or year is None or reallocation is None:
            return None
        return PlanSpec(
            partnership=partnership, title=title, year=year, areas=areas, reallocation_body=reallocation,
            adoption_body=adoption or reallocation, lines=lines, pools=pools, source_file=source or self.name,
            source_sha256=sha256,
        )

    def lines(self, value: Any, areas: tuple[str, ...]) -> list[LineTerms]:
        if not isinstance(value, list) or not value:
            self.problem("line", "missing: a plan needs at least one [[line]]")
            return []
        lines: list[LineTerms] = []
        seen: dict[str, int] = {}
        for i, table in enumerate(value):
            where = f"line[{i + 1}]"
            if not isinstance(table, dict):
                self.problem(where, "must be a table")
                continue
            self.unknown(table, _LINE_KEYS, where)
            no = table.get("no")
            if isinstance(no, int) and not isinstance(no, bool):
                no = str(no)
            if not isinstance(no, str) or not no.strip():
                self.problem(f"{where}.no", f"must be a line number or id such as \"14\", not {no!r}")
                continue
            no = no.strip()
            where = f"line[{i + 1}] (no {no})"
            duplicate = no in seen
            if duplicate:
                self.problem(f"{where}.no", f"duplicate line number (also line[{seen[no]}])")
            else:
                seen[no] = i + 1
            name = self.text(table, "name", where)
            line_areas = self.texts(table, "areas", where)
            for area in line_areas:
                if areas and area.casefold() not in {a.casefold() for a in areas}:
                    self.problem(f"{where}.areas", f"{area!r} is not one of the plan's areas ({', '.join(areas)})")
            budgets = self.budgets(table.get("budget", {}), where, no, name or no)
            if name is None or duplicate:
                continue
            lines.append(
                LineTerms(
                    line=no, name=name, new=self.flag(table, "new", where), areas=line_areas,
                    responsible=self.text(table, "responsible", where, required=False),
                    notes=self.texts(table, "notes", where), budgets=tuple(budgets),
                )
            )
        return lines

    def budgets(self, value: Any, where: str, no: str, name: str) -> list[YearBudget]:
        if not isinstance(value, dict):
            self.problem(f"{where}.budget", "must be a table of years, e.g. [line.budget.2022]")
            return []
        budgets = []
        for year_key, table in value.items():
            at = f"{where}.budget.{year_key}"
            if not _YEAR.fullmatch(year_key):
                self.problem(at, "budget years are written as four digits, e.g. [line.budget.2022]")
                continue
            if not isinstance(table, dict):
                self.problem(at, "must be a table (total, posts, preliminary, discontinued, note)")
                continue
            self.unknown(table, _BUDGET_KEYS, at)
            year = int(year_key)
            discontinued = self.flag(table, "discontinued", at)
            total = self.amount(table["total"], f"{at}.total") if "total" in table else None
            posts: dict[str, Money] = {}
            raw_posts = table.get("posts", {})
            if not isinstance(raw_posts, dict):
                self.problem(f"{at}.posts", "must be a table of post name = amount")
                raw_posts = {}
            for post, amount in raw_posts.items():
                money = self.amount(amount, f"{at}.posts.{post}")
                if money is not None:
                    posts[post] = money
            if discontinued and ("total" in table or raw_posts):
                self.problem(at, "a discontinued year (udgår) has no total and no posts")
            note = self.text(table, "note", at, required=False)
            budgets.append(
                YearBudget(
                    year=year, total=total, posts=posts, preliminary=self.flag(table, "preliminary", at),
                    discontinued=discontinued, note=note,
                )
            )
        budgets.sort(key=lambda b: b.year)
        self.warn_budgets(no, name, budgets)
        return budgets

    def warn_budgets(self, no: str, name: str, budgets: list[YearBudget]) -> None:
        """One warning per place where the document disagrees with itself or lacks a figure."""
        live = [b for b in budgets if not b.discontinued]
        if live and not any(b.posts for b in live):
            figures = ", ".join(f"{b.year}: {b.amount.format()}" for b in live)
            self.warnings.append(
                f"line {no} {name}: the document has no table of budget posts for this line; "
                f"its overview figures ({figures}) are kept as totals without posts"
            )
        else:
            for b in live:
                label = f"line {no} {name}, {b.year}"
                summed = sum(b.posts.values(), ZERO)
                if b.total is not None and b.posts and summed != b.total:
                    self.warnings.append(
                        f"{label}: the overview says {b.total.format()} but the activity's own table sums to "
                        f"{summed.format()}; using the overview's {b.total.format()}"
                    )
                elif b.total is not None and not b.posts:
                    self.warnings.append(
                        f"{label}: the overview has {b.total.format()} but the activity's own table has no figure; "
                        "kept as a total without posts"
                    )
                elif b.total is None and b.posts:
                    self.warnings.append(
                        f"{label}: the activity's own table has {summed.format()} but the overview has no figure; "
                        "using the posts' sum"
                    )
        stopped = [b.year for b in budgets if b.discontinued]
        for b in live:
            if stopped and b.year > min(stopped) and b.amount:
                self.warnings.append(
                    f"line {no} {name}, {b.year}: the line is discontinued (udgår) from {min(stopped)}, "
                    f"yet the overview gives {b.amount.format()} for {b.year}"
                )

    def pools(self, value: Any, lines: list[LineTerms], year: int | None) -> list[PoolTerms]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem("pool", "must be an array of tables ([[pool]])")
            return []
        pools: list[PoolTerms] = []
        keys: set[str] = set()
        codes: set[str] = set()
        by_no = {line.line: line for line in lines}
        for i, table in enumerate(value):
            where = f"pool[{i + 1}]"
            if not isinstance(table, dict):
                self.problem(where, "must be a table")
                continue
            self.unknown(table, _POOL_KEYS, where)
            key = self.text(table, "id", where)
            code = self.text(table, "code", where)
            name = self.text(table, "name", where)
            line = table.get("line")
            if isinstance(line, int) and not isinstance(line, bool):
                line = str(line)
            decided_by = self.text(table, "decided_by", where)
            if not isinstance(line, str) or not line.strip():
                self.problem(f"{where}.line", f"must name the funding line, e.g. \"14\", not {line!r}")
                line = None
            else:
                line = line.strip()
            if code is not None and not _CODE.fullmatch(code):
                self.problem(f"{where}.code", f"{code!r} must be 1-10 letters or digits starting with a letter, e.g. BTP")
            if key is not None:
                if key.casefold() in keys:
                    self.problem(f"{where}.id", f"duplicate pool id {key!r}")
                keys.add(key.casefold())
            if code is not None:
                if code.casefold() in codes:
                    self.problem(f"{where}.code", f"duplicate pool code {code!r}")
                codes.add(code.casefold())
            funding_line = by_no.get(line) if line is not None else None
            if line is not None and funding_line is None:
                self.problem(f"{where}.line", f"points at line {line!r}, which the plan does not have")
            elif funding_line is not None and year is not None:
                budget = funding_line.budget_for(year)
                if budget is not None and budget.discontinued:
                    self.problem(f"{where}.line", f"points at line {line!r}, which is discontinued in {year}")
            if None in (key, code, name, decided_by, line):
                continue
            pools.append(PoolTerms(key=key, code=code, name=name, line=line, decided_by=decided_by))
        return pools


def _float_hint(value: float) -> str:
    """What to write instead of a TOML float, from how TOML printed it."""
    shown = repr(value)
    whole, _, fraction = shown.partition(".")
    if "e" not in shown and fraction and len(fraction) <= 3 and whole.isdigit():
        thousands = whole + fraction.ljust(3, "0")
        danish = f"{whole}.{fraction.ljust(3, '0')}"
        return (
            f"{shown} is a TOML float ({danish} in TOML reads as {shown}); write whole kroner as "
            f"{int(thousands)} or as the text \"{danish}\""
        )
    return f"{shown} is a TOML float; write whole kroner as an integer (91700) or as text (\"91.700,50\")"
