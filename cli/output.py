"""Printing results, and turning failures into one sentence and an exit code.

Exit codes (DESIGN.md): 0 done; 1 verification found a problem; 2 usage
error; 3 refused by a rule of the domain; 4 storage failure or a conflict
that retries did not resolve. A user error never prints a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

VERIFY, USAGE, REFUSED, STORAGE = 1, 2, 3, 4


@contextmanager
def output_file(path: str | None, force: bool, *, binary: bool = False) -> Iterator[Any]:
    """Write to stdout, or to a file that appears whole or not at all (see `ledger.files`)."""
    if path is None:
        yield sys.stdout.buffer if binary else sys.stdout
        return
    from ledger.files import atomic_file

    with atomic_file(path, force, binary=binary) as out:
        yield out


def dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def emit(fmt: str, data: dict[str, Any] | Callable[[], dict[str, Any]], text: str | Callable[[], str]) -> None:
    """Print the JSON or the text; either may be given as a function, so only the one asked for is built."""
    chosen = data if fmt == "json" else text
    if callable(chosen):
        chosen = chosen()
    click.echo(dump(chosen) if fmt == "json" else chosen)


def recorded_json(recorded: Any) -> dict[str, Any]:
    out = {"event_id": recorded.event_id, "sequence": recorded.sequence, "head": recorded.head}
    if recorded.grant:
        out["grant"] = recorded.grant
    out["repeated"] = recorded.repeated
    out.update(recorded.extra)
    return out


def recorded_text(recorded: Any, what: str) -> str:
    again = " (already recorded with this key; nothing new written)" if recorded.repeated else ""
    return f"{what}{again}\nevent #{recorded.sequence} {recorded.event_id}\nhead {recorded.head}"


def fail(code: int, message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def period(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def sentence(text: str) -> str:
    """A message as one sentence: a capital first letter and one full stop."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def classify(error: BaseException) -> tuple[int, str] | None:
    """The exit code and sentence for a failure, or None to let it through."""
    from domain.errors import DomainError
    from ledger.planfile import PlanFileError
    from ledger.service import LocationError

    if isinstance(error, DomainError):
        return REFUSED, f"Refused: {sentence(error.message)}"
    if isinstance(error, PlanFileError):
        head = "Cannot read the plan file" if error.unreadable else "The plan file has problems; nothing was recorded"
        return (USAGE if error.unreadable else REFUSED), head + ":\n" + "\n".join(f"  {p}" for p in error.problems)
    if isinstance(error, LocationError):
        return USAGE, f"Error: {period(str(error))}"
    from ledger.exports import ImportFileError, ImportRefusedError, ImportVerificationError

    if isinstance(error, ImportFileError):
        return USAGE, f"Error: the export file is not usable, nothing was imported: {period(str(error))}"
    if isinstance(error, ImportVerificationError):
        return VERIFY, f"Refused: the export file does not verify, nothing was imported: {period(str(error))}"
    if isinstance(error, ImportRefusedError):
        return REFUSED, f"Refused: {sentence(str(error))}"
    from ledger.files import OutputExistsError

    if isinstance(error, OutputExistsError):
        return USAGE, f"Error: {period(str(error))}"
    from ledger.postgres import ReadOnlyError, StorageUnavailableError

    database_error = type(error).__module__.startswith(("eventsourcing", "psycopg"))
    if isinstance(error, ReadOnlyError) or (database_error and "permission denied" in str(error).lower()):
        return STORAGE, "Refused: this database user may read the ledger but not change it (permission denied); use a role that may write."
    if isinstance(error, StorageUnavailableError):
        return STORAGE, f"Storage error: {period(str(error))}"
    module = type(error).__module__
    if module.startswith(("eventsourcing", "sqlite3", "psycopg")) or type(error).__name__ in (
        "StorageConflictError", "ChainGapError", "UnreadableEventError", "OperationalError", "DatabaseError",
    ):
        return STORAGE, f"Storage error: {error}"
    if isinstance(error, UnicodeError):
        return USAGE, "Error: some text given is not valid UTF-8 (check the terminal's encoding); nothing was recorded."
    if isinstance(error, OSError):
        return STORAGE, f"Storage error: {error.strerror or error}: {error.filename or ''}".rstrip(": ")
    return None


def handle(error: BaseException) -> NoReturn:
    """Exit with the documented code; unknown errors too, without a traceback."""
    found = classify(error)
    if found is None:
        if os.environ.get("PULJE_DEBUG"):
            raise error
        found = (STORAGE, f"Internal error ({type(error).__name__}): {error}. Set PULJE_DEBUG=1 to see the traceback.")
    fail(*found)


def verify_json(report: Any) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "head": report.head[1],
        "head_sequence": report.head[0],
        "events": report.events,
        "aggregates": report.aggregates,
        "snapshots": report.snapshots,
        "views_sequence": report.views_position,
        "expected_head": report.expected_head,
        "expected_head_found_at": report.head_found,
        "first_problem": str(report.problems[0]) if report.problems else None,
        "problems": [{"check": p.check, "position": p.position, "message": p.message} for p in report.problems],
    }


def verify_text(report: Any) -> str:
    lines = [
        f"events: {report.events}, aggregates: {report.aggregates}, snapshots: {report.snapshots}",
        f"head: {report.head[1]} (#{report.head[0]})",
    ]
    if report.expected_head is not None:
        if report.head_found is not None:
            lines.append(f"--head {report.expected_head}: found at #{report.head_found}; everything up to it is unchanged"
                         if not report.problems else f"--head {report.expected_head}: found at #{report.head_found}")
        else:
            lines.append(f"--head {report.expected_head}: NOT in this ledger (it was rewritten, cut short, or is another ledger)")
    if report.problems:
        lines.append(f"FAILED: {len(report.problems)} problem(s); the first: {report.problems[0]}")
        lines += [f"  {p}" for p in report.problems[1:20]]
        if len(report.problems) > 20:
            lines.append(f"  ... and {len(report.problems) - 20} more (see --format json)")
    elif report.ok:
        lines.append("OK: the chain, the replay, every rule and the read models all hold.")
    return "\n".join(lines)
