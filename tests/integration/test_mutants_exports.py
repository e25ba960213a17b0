"""Tests written against the mutants that survived mutation testing of exports and the audit trail (docs/mutation.md).

They pin what `pulje export`, `import-events` and `pulje audit` promise and
the other tests left loose: the exact `jsonl` format (a header line, then one
compact record per event in chain order, non-ASCII text kept as it is), the
progress an export reports, every refusal of a malformed export file with its
exact sentence (the command line prints it as it is) and the line it names,
that an import keeps the views current in the transaction that writes the
events and hands the recorder back its own follow-up afterwards, the audit
trail between dates with its reversal pointers, a database URL shown without
its password however odd it is, and `verify` on a log with a deleted event.

Each test works on a real SQLite file in tmp: conftest's `pulje` session has
the 2022 plan adopted and a clock that ticks one second per reading.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from domain import ids
from domain.money import parse_amount
from ledger.app import Recorded
from ledger.chain import GENESIS
from ledger.exports import (
    Header,
    ImportFileError,
    ImportRefusedError,
    ImportVerificationError,
    import_events,
    read_header,
)
from ledger.service import Pulje, shown_location
from tests.conftest import PLAN_2022, TickingClock

AG = "arbejdsgruppen"
PARTNERSHIP = "Tingbjerg-Husum"
BTP = ids.pool_id(PARTNERSHIP, "bylivs-og-tryghedspulje", 2022)
FIELDS = ["position", "hash", "originator_id", "originator_version", "topic", "state"]
NO_FIELDS = "does not have the fields position, hash, originator_id, originator_version, topic, state"
BAD_HEADER = "line 1: the header's event count or head is malformed"


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def award(pulje: Pulje, recipient: str, date: str) -> Recorded:
    return pulje.award(
        pool="BTP", year=2022, recipient=recipient, purpose=f"Arrangement for {recipient}", area="Tryggere byliv",
        amount=parse_amount("1.000"), requested=None, date=day(date), decided_by=AG, decision_ref=f"AG-møde {date}",
    )


class Progress:
    """A progress bar as the command line passes one: `start(total)`, then calls with each step."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.steps: list[Any] = []

    def start(self, total: int) -> None:
        self.started.append(total)

    def __call__(self, step: Any) -> None:
        self.steps.append(step)


def exported(pulje: Pulje, path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        pulje.export("jsonl", out)
    return path


def new_session(tmp_path: Path, name: str = "target") -> Pulje:
    return Pulje(str(tmp_path / f"{name}.db"), "test", clock=TickingClock())


def import_into_new(tmp_path: Path, path: Path) -> Any:
    with new_session(tmp_path) as target:
        return target.import_events(str(path))


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def with_line(path: Path, number: int, content: bytes, out: Path) -> Path:
    """The file at `path` with its line `number` (1-based) replaced."""
    lines = lines_of(path)
    lines[number - 1] = content
    out.write_bytes(b"".join(lines))
    return out


def with_record(path: Path, out: Path, number: int = 2, **changes: Any) -> Path:
    """The file with one event line's fields changed (a value of ... removes the field)."""
    record = json.loads(lines_of(path)[number - 1])
    for name, value in changes.items():
        if value is ...:
            del record[name]
        else:
            record[name] = value
    return with_line(path, number, json.dumps(record, ensure_ascii=False).encode() + b"\n", out)


@pytest.fixture
def year(pulje: Pulje) -> dict[str, Recorded]:
    """The 2022 plan, four awards on 1-4 March and the reversal of the second on 10 March."""
    done = {name: award(pulje, name, f"2022-03-0{n}") for n, name in enumerate(["Ada", "Bo", "Cy", "Di"], start=1)}
    done["reversal"] = pulje.reverse(done["Bo"].event_id, reason="Fejl i beløbet", date=day("2022-03-10"))
    return done


@pytest.fixture
def export_file(pulje: Pulje, year: dict[str, Recorded], tmp_path: Path) -> Path:
    return exported(pulje, tmp_path / "ledger.jsonl")


# ---------------------------------------------------------------------- the jsonl format


def test_the_jsonl_export_is_a_header_line_then_one_compact_record_per_event_in_chain_order(
    pulje: Pulje, year: dict[str, Recorded]
) -> None:
    out = io.StringIO()
    count = pulje.export("jsonl", out)
    events, head = pulje.ledger.store.head()
    rows, _, _ = pulje.audit()

    header, *records = out.getvalue().split("\n")[:-1]
    assert out.getvalue().endswith("\n")
    assert count == events == len(records) == len(rows) == year["reversal"].sequence
    assert header == f'{{"format": "pulje-events", "version": 1, "events": {events}, "head": "{head}"}}'
    assert [json.loads(r)["position"] for r in records] == list(range(1, events + 1))
    assert [json.loads(r)["hash"] for r in records] == [row.hash for row in rows]
    assert json.loads(records[-1])["hash"] == head
    for text, row in zip(records, rows):
        record = json.loads(text)
        assert list(record) == FIELDS
        assert text == json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        assert (record["originator_id"], record["originator_version"]) == (row.aggregate_id, row.version)
    # Text is written as it is, not as \u escapes: the state of the plan's adoption names Økonomiforvaltningen.
    assert "Økonomiforvaltningen" in records[0] and "\\u00d8" not in records[0]
    assert json.loads(records[0])["topic"] == "domain.plan:Plan.Adopted"


def test_an_export_starts_the_progress_bar_at_the_number_of_events_and_steps_only_per_thousand(
    pulje: Pulje, year: dict[str, Recorded]
) -> None:
    progress = Progress()

    assert pulje.export("jsonl", io.StringIO(), progress) == year["reversal"].sequence

    assert progress.started == [year["reversal"].sequence]
    assert progress.steps == []


def test_an_export_accepts_a_plain_function_as_progress(pulje: Pulje, year: dict[str, Recorded]) -> None:
    steps: list[int] = []

    assert pulje.export("jsonl", io.StringIO(), steps.append) == year["reversal"].sequence
    assert steps == []


def test_an_export_brings_the_views_up_to_date_first_and_shows_that_on_the_progress_bar(
    db_path: Path, pulje: Pulje, year: dict[str, Recorded]
) -> None:
    events = year["reversal"].sequence
    pulje.close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE view_meta SET value = value - 1 WHERE name = 'version'")  # views of an older pulje
    conn.commit()
    conn.close()
    progress = Progress()

    with Pulje(str(db_path), "test", clock=TickingClock()) as again:
        assert again.export("jsonl", io.StringIO(), progress) == events

    assert progress.started == [events, events]  # the views' catch-up, then the export


def test_an_empty_ledger_exports_a_header_with_no_events_and_imports_as_an_empty_ledger(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    with new_session(tmp_path, "empty") as empty:
        exported(empty, path)

    assert path.read_text() == f'{{"format": "pulje-events", "version": 1, "events": 0, "head": "{GENESIS}"}}\n'
    assert import_into_new(tmp_path, path) == Header(0, GENESIS)


# ---------------------------------------------------------------------- importing


def test_an_import_writes_the_views_in_its_own_transaction_and_gives_the_recorder_back_its_follow_up(
    export_file: Path, pulje: Pulje, tmp_path: Path
) -> None:
    events, head = pulje.ledger.store.head()
    with new_session(tmp_path) as target:
        assert import_events(target.ledger, str(export_file)) == Header(events, head)
        assert target.ledger.catch_up() == 0  # nothing left for a catch-up: the import kept the views current

        target.ledger.award(
            pool_id=BTP, recipient="Eva", purpose="Arrangement for Eva", area="Tryggere byliv",
            amount=parse_amount("1.000"), requested=None, date=day("2022-04-01"), decided_by=AG,
            decision_ref="AG-møde 2022-04-01", actor="test",
        )
        assert target.ledger.catch_up() == 0  # a write after the import keeps the views current itself

        rows, reversed_by, views_head = target.audit()
    assert views_head == target.ledger.store.head() and views_head[0] == events + 1
    assert (rows[-1].sequence, rows[-1].kind, rows[-1].grant) == (events + 1, "grant_awarded", "BTP-2022-005")
    assert reversed_by == pulje.audit()[1]


def test_a_file_with_a_byte_order_mark_imports_to_the_same_head(
    export_file: Path, pulje: Pulje, tmp_path: Path
) -> None:
    marked = tmp_path / "marked.jsonl"
    marked.write_bytes(b"\xef\xbb\xbf" + export_file.read_bytes())

    assert import_into_new(tmp_path, marked) == Header(*pulje.ledger.store.head())


def test_a_byte_order_mark_is_only_skipped_at_the_start_of_the_file(export_file: Path, tmp_path: Path) -> None:
    second = lines_of(export_file)[1]
    path = with_line(export_file, 2, b"\xef\xbb\xbf" + second, tmp_path / "bom2.jsonl")

    with pytest.raises(ImportFileError, match=r"^line 2 is not JSON \(garbage or a cut line\)$"):
        import_into_new(tmp_path, path)


@pytest.mark.parametrize(
    ("number", "spoil", "message"),
    [
        (3, lambda line: line[:10] + b"\x00" + line[10:], "line 3 holds NUL bytes; an export is UTF-8 text"),
        (2, lambda line: line[:7] + b"\xff" + line[8:], "line 2 is not UTF-8 text (byte 8)"),
    ],
    ids=["a NUL byte", "not UTF-8"],
)
def test_a_line_that_is_not_text_is_refused_naming_the_line(
    export_file: Path, tmp_path: Path, number: int, spoil: Any, message: str
) -> None:
    line = lines_of(export_file)[number - 1]
    path = with_line(export_file, number, spoil(line), tmp_path / "spoiled.jsonl")

    with pytest.raises(ImportFileError) as refused:
        import_into_new(tmp_path, path)
    assert str(refused.value) == message


def test_an_empty_file_is_refused_as_having_no_header(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")

    with pytest.raises(ImportFileError) as refused:
        import_into_new(tmp_path, path)
    assert str(refused.value) == "line 1 is not a pulje export header (a JSON object with format 'pulje-events')"


@pytest.mark.parametrize(
    "changes",
    [
        {"events": -1},
        {"events": True},
        {"events": "3"},
        {"events": None},
        {"head": "abc"},
        {"head": "X" * 64},
        {"head": "g" * 64},
        {"head": 123},
    ],
    ids=["negative", "bool", "text-count", "no-count", "short-head", "X-head", "g-head", "number-head"],
)
def test_a_header_with_a_malformed_count_or_head_is_refused(changes: dict[str, Any]) -> None:
    header = {"format": "pulje-events", "version": 1, "events": 3, "head": "a" * 64} | changes

    with pytest.raises(ImportFileError) as refused:
        read_header(json.dumps(header))
    assert str(refused.value) == BAD_HEADER


def test_a_header_head_in_upper_case_is_read_in_lower_case() -> None:
    line = json.dumps({"format": "pulje-events", "version": 1, "events": 0, "head": "AB" * 32})

    assert read_header(line) == Header(0, "ab" * 32)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"state": ...}, f"line 2 {NO_FIELDS}"),
        ({"extra": 1}, f"line 2 {NO_FIELDS}"),
        ({"position": True}, "line 2: position must be a number"),
        ({"originator_version": "1"}, "line 2: originator_version must be a number"),
        ({"hash": 5}, "line 2: hash must be text"),
        ({"topic": 7}, "line 2: topic must be text"),
        ({"state": {}}, "line 2: state must be text"),
        ({"hash": "z" * 64}, "line 2: hash is not 64 hexadecimal digits"),
        ({"position": 0}, "line 2: position 0 is out of range"),
        ({"originator_version": 2**62 + 1}, f"line 2: originator_version {2**62 + 1} is out of range"),
        ({"topic": "x" * 100}, f"line 2: topic {'x' * 80!r} is not a pulje event"),
    ],
    ids=[
        "missing", "extra", "bool-position", "text-version", "number-hash", "number-topic", "object-state",
        "not-hex", "position-0", "version-too-big", "long-topic",
    ],
)
def test_a_malformed_event_line_is_refused_naming_the_line_and_what_is_wrong(
    export_file: Path, tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    path = with_record(export_file, tmp_path / "bad.jsonl", **changes)

    with pytest.raises(ImportFileError) as refused:
        import_into_new(tmp_path, path)
    assert str(refused.value) == message


def test_the_largest_position_is_in_range_and_refused_only_as_a_gap_in_the_chain(
    export_file: Path, tmp_path: Path
) -> None:
    path = with_record(export_file, tmp_path / "far.jsonl", position=2**62)

    with pytest.raises(ImportVerificationError) as refused:
        import_into_new(tmp_path, path)
    assert str(refused.value) == f"line 2: positions jump from 0 to {2**62}: events were removed from the chain"


def test_a_file_whose_header_names_another_head_is_refused_with_a_report_that_is_not_ok(
    export_file: Path, pulje: Pulje, tmp_path: Path
) -> None:
    events = pulje.ledger.store.head()[0]
    other = "c" * 64
    header = json.dumps({"format": "pulje-events", "version": 1, "events": events, "head": other}).encode() + b"\n"
    path = with_line(export_file, 1, header, tmp_path / "other-head.jsonl")

    with pytest.raises(ImportVerificationError) as refused:
        import_into_new(tmp_path, path)
    assert str(refused.value) == "the last event's hash is not the head the header names"
    report = refused.value.report
    assert (report.expected_head, report.head_found, report.events) == (other, None, events)
    assert not report.ok


def test_importing_into_a_ledger_that_is_not_empty_is_refused_with_the_sentence(
    export_file: Path, pulje: Pulje
) -> None:
    with pytest.raises(ImportRefusedError) as refused:
        pulje.import_events(str(export_file))
    assert str(refused.value) == "the target ledger is not empty; import into a new --db"


def test_a_ledger_holding_events_is_not_empty_even_when_its_chain_table_is_empty(
    export_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "half.db"
    with Pulje(str(path), "test", clock=TickingClock()) as half:
        half.import_plan(PLAN_2022)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM event_chain")
    conn.commit()
    conn.close()

    with Pulje(str(path), "test", clock=TickingClock()) as half:
        assert half.ledger.store.head() == (0, GENESIS)
        with pytest.raises(ImportRefusedError, match=r"^the target ledger is not empty; import into a new --db$"):
            import_events(half.ledger, str(export_file))


# ---------------------------------------------------------------------- the audit trail


def test_the_audit_trail_between_two_dates_holds_the_events_dated_in_them_in_chain_order(
    pulje: Pulje, year: dict[str, Recorded]
) -> None:
    rows, reversed_by, head = pulje.audit(since=day("2022-03-02"), until=day("2022-03-03"))

    assert [(r.sequence, r.date, r.kind, r.grant) for r in rows] == [
        (year["Bo"].sequence, "2022-03-02", "grant_awarded", "BTP-2022-002"),
        (year["Cy"].sequence, "2022-03-03", "grant_awarded", "BTP-2022-003"),
    ]
    assert reversed_by == {year["Bo"].event_id: year["reversal"].sequence}
    assert head == pulje.ledger.store.head()


def test_the_audit_trail_since_a_date_runs_to_the_end_with_the_reversal_pointing_back(
    pulje: Pulje, year: dict[str, Recorded]
) -> None:
    rows, _, _ = pulje.audit(since=day("2022-03-04"))

    assert [(r.sequence, r.date, r.kind) for r in rows] == [
        (year["Di"].sequence, "2022-03-04", "grant_awarded"),
        (year["reversal"].sequence, "2022-03-10", "entry_reversed"),
    ]
    assert rows[-1].reverses == year["Bo"].event_id and rows[-1].event_id == year["reversal"].event_id
    assert rows[-1].reason == "Fejl i beløbet"


def test_the_audit_trail_until_a_date_stops_at_that_date(pulje: Pulje, year: dict[str, Recorded]) -> None:
    everything, _, _ = pulje.audit()
    rows, _, _ = pulje.audit(until=day("2022-03-01"))

    assert [r.sequence for r in rows] == list(range(1, year["Ada"].sequence + 1))
    assert rows[-1].date == "2022-03-01" and rows[-1].kind == "grant_awarded"
    assert all(r.date <= "2022-03-01" for r in rows)
    assert [r.sequence for r in everything] == list(range(1, year["reversal"].sequence + 1))


# ---------------------------------------------------------------------- verify


def test_verify_names_a_deleted_event_once_and_still_checks_the_next_events_link(
    db_path: Path, pulje: Pulje, year: dict[str, Recorded]
) -> None:
    gone = year["Di"].sequence  # its pool's next event is the reversal, on the same pool
    conn = sqlite3.connect(db_path)
    conn.execute(
        "DELETE FROM stored_events WHERE rowid = (SELECT notification_id FROM event_chain WHERE position = ?)", (gone,)
    )
    conn.commit()
    conn.close()

    report = pulje.verify()

    chain = [(p.position, p.message) for p in report.problems if p.check == "chain"]
    assert chain == [(gone, "the event recorded here is missing from the log (deleted)")]


# ---------------------------------------------------------------------- shown_location


@pytest.mark.parametrize(
    ("db", "shown"),
    [
        ("mysql://alice:p@ss@db.example/pulje", "mysql://db.example/pulje"),
        ("mysql://alice:hemmeligt@db.example/pulje?next=http://x", "mysql://db.example/pulje?next=http://x"),
        (
            "mysql://alice:hemmeligt@db.example/pulje?a=http://x&b=ftp://y",
            "mysql://db.example/pulje?a=http://x&b=ftp://y",
        ),
    ],
    ids=["at-sign-in-password", "url-in-query", "two-urls-in-query"],
)
def test_a_url_that_cannot_be_read_loses_everything_up_to_its_last_at_sign_before_the_path(db: str, shown: str) -> None:
    assert shown_location(db) == shown
