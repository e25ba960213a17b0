"""Upgrades: a ledger written by an earlier version still reads, verifies and reports the same bytes.

`tests/fixtures/vN/` holds a ledger file written by version N of the event
shapes (the demo year), its ultimo report in md, html and json, and its
`pulje export --format jsonl`. These files are never regenerated (see
`tests/fixtures/README.md`): they are what users have on disk. Every test
works on a copy in a temporary directory, because opening a ledger switches
the file to WAL mode and brings its read models up to date.

The last tests show the way a later change to an event's shape must go: the
event class gets `class_version = 2` and an upcaster, and the v1 bytes stored
in the fixture are read through it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import pytest
from click.testing import CliRunner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
V1 = FIXTURES / "v1"
# The head of the demo year as version 1 wrote it (also in its report and its export header).
HEAD_V1 = "942c9a6cafe70c817248c09d099971060f0c20e9b6c67327abd6d4f88d86d827"
EVENTS_V1 = 63
REPORT_FORMATS = ("md", "html", "json")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def committed_digest() -> str:
    return sha256(V1 / "ledger.db")


@pytest.fixture
def v1_copy(tmp_path: Path, committed_digest: str):
    """A copy of the committed v1 ledger in a temporary directory; the committed file stays as it was."""
    copy = tmp_path / "v1.db"
    shutil.copyfile(V1 / "ledger.db", copy)
    yield str(copy)
    assert sha256(V1 / "ledger.db") == committed_digest, "a test changed the committed fixture ledger"
    for suffix in ("-wal", "-shm", "-journal"):
        assert not (V1 / f"ledger.db{suffix}").exists(), f"a test opened the committed fixture (ledger.db{suffix})"


def open_ledger(db: str):
    from ledger.service import Pulje

    return Pulje(db, "revisor")


# ---------------------------------------------------------------------- the committed files themselves


def test_the_committed_fixture_is_a_small_self_contained_sqlite_file() -> None:
    db = V1 / "ledger.db"
    assert db.stat().st_size < 512 * 1024
    header = db.read_bytes()[:100]
    assert header[:16] == b"SQLite format 3\x00"
    # bytes 18 and 19 are 1 for a rollback-journal file, 2 for WAL: a WAL file would need its -wal beside it
    assert header[18:20] == b"\x01\x01"
    assert not any(V1.glob("*-wal")) and not any(V1.glob("*-shm"))


def test_the_fixture_files_agree_on_one_head() -> None:
    header = json.loads((V1 / "events.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert (header["format"], header["version"], header["events"], header["head"]) == (
        "pulje-events", 1, EVENTS_V1, HEAD_V1,
    )
    report = json.loads((V1 / "ultimo-2022.json").read_text(encoding="utf-8"))
    assert report["head"] == HEAD_V1 and report["year"] == 2022
    assert HEAD_V1 in (V1 / "ultimo-2022.md").read_text(encoding="utf-8")
    assert HEAD_V1 in (V1 / "ultimo-2022.html").read_text(encoding="utf-8")
    conn = sqlite3.connect(f"file:{V1 / 'ledger.db'}?mode=ro&immutable=1", uri=True)
    try:
        position, stored = conn.execute("SELECT position, hash FROM event_chain ORDER BY position DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    assert (position, stored) == (EVENTS_V1, HEAD_V1)


# ---------------------------------------------------------------------- the current code on the v1 ledger


def test_the_current_code_verifies_the_v1_ledger_with_its_recorded_head(v1_copy: str) -> None:
    with open_ledger(v1_copy) as pulje:
        report = pulje.verify(expected_head=HEAD_V1)
    assert report.problems == []
    assert report.ok
    assert report.events == EVENTS_V1
    assert report.head == (EVENTS_V1, HEAD_V1)
    assert report.head_found == EVENTS_V1


def test_verify_with_a_head_the_v1_ledger_never_had_fails(v1_copy: str) -> None:
    with open_ledger(v1_copy) as pulje:
        report = pulje.verify(expected_head="ab" * 32)
    assert not report.ok and report.head_found is None


def test_the_cli_verifies_the_v1_ledger_and_prints_its_head(v1_copy: str) -> None:
    from cli.main import main

    result = CliRunner().invoke(main, ["--db", v1_copy, "verify", "--head", HEAD_V1])
    assert result.exit_code == 0, result.output
    assert HEAD_V1 in result.output


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_the_ultimo_report_of_the_v1_ledger_has_the_committed_bytes(v1_copy: str, fmt: str) -> None:
    from projections.report_render import render

    with open_ledger(v1_copy) as pulje:
        data = pulje.ultimo(year=2022)
    assert render(data, fmt) == (V1 / f"ultimo-2022.{fmt}").read_bytes()


def test_the_cli_writes_the_committed_report_bytes(v1_copy: str, tmp_path: Path) -> None:
    from cli.main import main

    out = tmp_path / "ultimo.md"
    result = CliRunner().invoke(
        main, ["--db", v1_copy, "report", "ultimo", "--year", "2022", "--format", "md", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == (V1 / "ultimo-2022.md").read_bytes()


def test_the_v1_ledger_exports_the_committed_jsonl_bytes(v1_copy: str) -> None:
    import io

    out = io.StringIO(newline="")
    with open_ledger(v1_copy) as pulje:
        count = pulje.export("jsonl", out)
    assert count == EVENTS_V1
    assert out.getvalue().encode("utf-8") == (V1 / "events.jsonl").read_bytes()


def test_import_events_of_the_v1_export_gives_the_same_head_and_report(tmp_path: Path) -> None:
    from projections.report_render import render

    target = str(tmp_path / "imported.db")
    with open_ledger(target) as pulje:
        header = pulje.import_events(str(V1 / "events.jsonl"))
        assert (header.events, header.head) == (EVENTS_V1, HEAD_V1)
        assert pulje.ledger.store.head() == (EVENTS_V1, HEAD_V1)
        report = pulje.verify(expected_head=HEAD_V1)
        data = pulje.ultimo(year=2022)
    assert report.ok, [str(p) for p in report.problems]
    for fmt in REPORT_FORMATS:
        assert render(data, fmt) == (V1 / f"ultimo-2022.{fmt}").read_bytes(), fmt


def test_the_v1_ledger_takes_new_decisions_after_the_upgrade(v1_copy: str) -> None:
    """An upgraded ledger is not read-only: it records on top of the v1 history and still verifies."""
    import datetime as dt

    from domain.money import Money

    with open_ledger(v1_copy) as pulje:
        recorded = pulje.reallocate(
            year=2022, from_line="12", to_line="13", amount=Money.kroner(1_000), date=dt.date(2022, 12, 20),
            decided_by="Økonomiforvaltningen", decision_ref="ØKF j.nr. 2022-0999", reason="Efter opgraderingen",
        )
        report = pulje.verify(expected_head=HEAD_V1)
    assert recorded.sequence == EVENTS_V1 + 1
    assert report.ok and report.head_found == EVENTS_V1 and report.events == EVENTS_V1 + 1


# ---------------------------------------------------------------------- a later shape, through class_version upcasting

from domain.pool import Pool  # noqa: E402

AWARDED_TOPIC = "domain.pool:Pool.GrantAwarded"


class Later:
    """The namespace of event classes as a later version might define them."""

    class GrantAwarded(Pool.GrantAwarded):
        """Version 2 of `Pool.GrantAwarded`: it also records how the application came in.

        Version 1 had no `channel`; its upcaster fills in what an old event
        cannot know.
        """

        # A release would change `Pool.GrantAwarded` in place; the read models know events by that name.
        __qualname__ = "Pool.GrantAwarded"
        class_version: ClassVar[int] = 2
        channel: str
        upcast_calls: ClassVar[list[dict[str, Any]]] = []

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            Later.GrantAwarded.upcast_calls.append(dict(state))
            state["channel"] = "ikke registreret"


@pytest.fixture
def later_shape(monkeypatch: pytest.MonkeyPatch) -> type:
    """Make the stored topic of GrantAwarded resolve to its v2 class for one test (as a new release would)."""
    from eventsourcing import utils

    Later.GrantAwarded.upcast_calls.clear()
    monkeypatch.setitem(utils._topic_cache, AWARDED_TOPIC, Later.GrantAwarded)
    monkeypatch.setitem(utils._type_cache, Later.GrantAwarded, AWARDED_TOPIC)
    return Later.GrantAwarded


def stored_awards(db: str) -> list[tuple[str, int, bytes]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [
            (oid, version, bytes(state))
            for oid, version, state in conn.execute(
                "SELECT originator_id, originator_version, state FROM stored_events WHERE topic = ? ORDER BY rowid",
                (AWARDED_TOPIC,),
            )
        ]
    finally:
        conn.close()


def test_a_v1_award_in_the_fixture_is_read_through_the_v2_upcaster(v1_copy: str, later_shape: type) -> None:
    from ledger.mapper import decode_event

    awards = stored_awards(v1_copy)
    assert len(awards) == 15  # 14 from the Bylivs- og tryghedspulje, 1 from the Videnspulje
    for oid, version, state in awards:
        assert b'"class_version"' not in state and b'"channel"' not in state  # written as v1
        v1 = decode_event(Pool.GrantAwarded, oid, version, state)
        v2 = decode_event(later_shape, oid, version, state)
        assert type(v2) is later_shape and v2.channel == "ikke registreret"
        assert v2.model_dump(exclude={"channel"}) == v1.model_dump()
    assert len(later_shape.upcast_calls) == 15


def test_the_application_reads_the_v1_ledger_through_the_upcaster(v1_copy: str, later_shape: type) -> None:
    """The application's own mapper resolves the stored topic to v2 and upcasts each old award on read."""
    with open_ledger(v1_copy) as pulje:
        pools = pulje.status(year=2022).pools
        events = {row.pool_id: pulje.ledger.events_of(UUID(row.pool_id)) for row in pools}
    awards = [e for history in events.values() for e in history if e.kind == "GrantAwarded"]
    assert len(awards) == 15 and all(type(e) is later_shape and e.channel == "ikke registreret" for e in awards)
    assert len(later_shape.upcast_calls) >= 15
    assert {e.number for e in awards} >= {f"BTP-2022-{n:03d}" for n in range(1, 15)}


def test_a_v2_award_is_stored_with_its_class_version_and_reads_back(later_shape: type) -> None:
    from eventsourcing.persistence import JSONTranscoder

    from ledger.mapper import PydanticMapper, decode_event

    mapper = PydanticMapper(transcoder=JSONTranscoder())
    awards = stored_awards(str(V1 / "ledger.db"))
    oid, version, state = awards[0]
    upcast = decode_event(later_shape, oid, version, state)
    stored = mapper.to_stored_event(upcast)
    assert stored.topic == AWARDED_TOPIC
    assert json.loads(stored.state)["class_version"] == 2
    before = len(later_shape.upcast_calls)
    assert mapper.to_domain_event(stored) == upcast
    assert len(later_shape.upcast_calls) == before  # a v2 state is not upcast again
