"""Imports point downward: cli -> ledger -> projections -> domain, never back up.

This test reads every module of `domain`, `ledger`, `projections` and `cli`
with `ast` (both `import x` and `from x import y`, wherever they are: at the
top, inside functions, under `if TYPE_CHECKING:`) and fails, naming the file,
the line and the import, when an arrow points the wrong way:

- `domain` imports nothing of ours and, outside the standard library, only
  pydantic, pydantic_core, eventsourcing.domain and eventsourcing.utils;
- `projections` may import `domain` only (not `ledger`, not `cli`);
- `ledger` may import `domain` and `projections` (not `cli`);
- nothing imports `cli` except `cli` itself.

`plans` is a data package; `ledger` and `cli` may load it. The last tests
feed the checker small sources with forbidden imports, so that a checker
that cannot fail would be noticed.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "projections", "ledger", "cli")
OURS = {*PACKAGES, "plans"}

#: Which of our packages each package may import (itself included).
MAY_IMPORT = {
    "domain": {"domain"},
    "projections": {"projections", "domain"},
    "ledger": {"ledger", "projections", "domain", "plans"},
    "cli": {"cli", "ledger", "projections", "domain", "plans"},
}

#: What `domain` may import from outside the standard library (a module and everything below it).
#: DESIGN.md's Layout names pydantic and eventsourcing.domain; its Money section asks for Babel's
#: formatter in the one money type, so `babel.numbers` is allowed too (a pure library, no I/O).
DOMAIN_THIRD_PARTY = ("pydantic", "pydantic_core", "eventsourcing.domain", "eventsourcing.utils", "babel.numbers")


def imported_names(node: ast.Import | ast.ImportFrom, module_parts: list[str], is_package: bool) -> list[str]:
    """The dotted names an import statement brings in, relative imports resolved."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module_parts if is_package else module_parts[:-1]
        anchor = package[: max(len(package) - (node.level - 1), 0)]
        base = ".".join([*anchor, *([base] if base else [])])
    return [base if alias.name == "*" else f"{base}.{alias.name}".lstrip(".") for alias in node.names]


def is_within(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")


def why_forbidden(package: str, name: str) -> str | None:
    """Why `package` may not import `name`, or None when the arrow points the right way."""
    top = name.split(".")[0]
    if top in OURS:
        if top not in MAY_IMPORT[package]:
            allowed = ", ".join(sorted(MAY_IMPORT[package] - {package})) or "nothing"
            return f"{package} may import {allowed} of ours, not {top}"
        return None
    if package == "domain" and top not in sys.stdlib_module_names:
        if not any(is_within(name, allowed) for allowed in DOMAIN_THIRD_PARTY):
            return (
                f"{top} is outside the standard library, and domain may use only "
                f"{', '.join(DOMAIN_THIRD_PARTY)}"
            )
    return None


def forbidden_imports(source: str, path: str) -> list[str]:
    """One message per import in `source` (the module at `path`, e.g. "ledger/app.py") that points the wrong way."""
    module_parts = path.removesuffix(".py").split("/")
    is_package = module_parts[-1] == "__init__"
    if is_package:
        module_parts = module_parts[:-1]
    package = module_parts[0]
    problems = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        for name in imported_names(node, module_parts, is_package):
            reason = why_forbidden(package, name)
            if reason:
                problems.append(f"{path}:{node.lineno}: `{ast.unparse(node)}` imports {name}: {reason}")
    return problems


def modules() -> list[str]:
    return sorted(str(p.relative_to(ROOT).as_posix()) for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


KNOWN_BAD: dict[str, str] = {}


def module_params() -> list:
    return [
        pytest.param(path, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BAD[path])) if path in KNOWN_BAD else path
        for path in modules()
    ]


@pytest.mark.parametrize("path", module_params())
def test_every_import_of_a_module_points_downward(path: str) -> None:
    source = (ROOT / path).read_text(encoding="utf-8")
    problems = forbidden_imports(source, path)
    assert not problems, "imports that point the wrong way:\n" + "\n".join(problems)


@pytest.mark.parametrize("package", PACKAGES)
def test_the_layering_test_sees_every_package(package: str) -> None:
    assert any(path.startswith(package + "/") and path != f"{package}/__init__.py" for path in modules())


# --- the checker itself: it must catch what it is for ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "source", "line", "forbidden"),
    [
        ("domain/x.py", "from ledger.app import Ledger\n", 1, "ledger.app"),
        ("domain/x.py", "import projections.fold\n", 1, "projections.fold"),
        ("domain/x.py", "from cli import main\n", 1, "cli.main"),
        ("domain/x.py", "import json\n\ndef f():\n    import requests\n", 4, "requests"),
        ("domain/x.py", "from babel.dates import format_date\n", 1, "babel.dates"),
        ("domain/x.py", "from eventsourcing.application import Application\n", 1, "eventsourcing.application"),
        ("domain/x.py", "import eventsourcing\n", 1, "eventsourcing"),
        ("domain/x.py", "from eventsourcing import persistence\n", 1, "eventsourcing.persistence"),
        ("domain/x.py", "import plans\n", 1, "plans"),
        ("projections/x.py", "def f():\n    from ledger.app import Ledger\n", 2, "ledger.app"),
        ("projections/x.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cli.main\n", 3, "cli"),
        ("projections/x.py", "from .. import cli\n", 1, "cli"),
        ("ledger/x.py", "import os, cli.output\n", 1, "cli.output"),
        ("ledger/x.py", "class C:\n    def m(self):\n        from cli.params import AMOUNT\n", 3, "cli.params"),
        ("ledger/sub/__init__.py", "from ...cli import main\n", 1, "cli"),
    ],
)
def test_the_checker_catches_an_import_that_points_the_wrong_way(
    path: str, source: str, line: int, forbidden: str
) -> None:
    problems = forbidden_imports(source, path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{line}: ")
    assert forbidden in problems[0]


@pytest.mark.parametrize(
    ("path", "source"),
    [
        (
            "domain/x.py",
            "from __future__ import annotations\nimport datetime as dt\nfrom uuid import UUID\n"
            "from pydantic import BaseModel\nfrom pydantic_core import core_schema\n"
            "from eventsourcing.domain import BaseAggregate\nfrom eventsourcing.utils import get_topic\n"
            "from eventsourcing import domain\nfrom domain.money import Money\nfrom . import errors\n",
        ),
        ("projections/x.py", "from domain.money import Money\nfrom projections.model import PoolRow\nimport json\n"),
        ("ledger/x.py", "from domain import ids\nfrom projections.fold import apply\nimport eventsourcing.sqlite\n"),
        ("cli/x.py", "import click\nfrom ledger.service import Pulje\nfrom projections import render\nfrom . import output\n"),
    ],
)
def test_the_checker_lets_downward_imports_pass(path: str, source: str) -> None:
    assert forbidden_imports(source, path) == []


def test_the_checker_reports_every_wrong_import_of_a_module_with_its_line() -> None:
    source = "import json\nfrom ledger import app\n\n\ndef f():\n    import cli.main\n"
    problems = forbidden_imports(source, "projections/x.py")
    assert [p.split(": ")[0] for p in problems] == ["projections/x.py:2", "projections/x.py:6"]
    assert "from ledger import app" in problems[0]
    assert "import cli.main" in problems[1]
