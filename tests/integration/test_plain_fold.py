"""The fold reads events in their plain form, and a catch-up reads that form straight from the stored JSON.

`PydanticMapper.to_plain` skips validating each stored event again: a
catch-up of a million events spent a third of its time building models it
only read. These tests hold the shortcut to the long way on real ledgers
(the demo year, a year with every kind of reversal, a generated ledger with
sub-second timestamps): for every stored event, the plain form read from
its JSON equals the validated event's JSON form, and the audit details equal
what the model's own fields give when walked one by one (the code the
shortcut replaced). A stored state that is not exactly the class's current
shape goes through the model, and a topic that names no pulje event is
refused as before.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from domain import ids
from domain.money import MAX_ORE
from ledger.app import Ledger
from ledger.service import ledger_env
from projections.fold import AMOUNT_FIELD, apply, fold, kind_of, plain
from projections.memory import MemoryState
from projections.model import encode_values
from tests.integration.test_exports import build_demo, build_varied

COMMON = {
    "originator_id", "originator_version", "originator_topic", "timestamp", "actor", "date", "decided_by",
    "decision_ref", "reason",
}


def walked_fields(model: Any, skip: set[str] = frozenset()) -> dict[str, Any]:
    """The obvious implementation: each field of the model, money as øre under `<field>_ore`, at any depth."""
    out: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        if name in skip:
            continue
        key = f"{name}_ore" if "Money" in str(info.annotation) else name
        out[key] = walked(getattr(model, name))
    return out


def walked(value: Any) -> Any:
    if hasattr(type(value), "model_fields"):
        return walked_fields(value)
    if type(value).__name__ == "Money":
        return value.ore
    if isinstance(value, (list, tuple)):
        return [walked(v) for v in value]
    if isinstance(value, dict):
        return {k: walked(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def build_generated(db: str) -> str:
    from bench.generate import generate

    generate(db, 1500, progress=False)
    return db


def stored_events(db: str) -> tuple[Ledger, list[StoredEvent]]:
    ledger = Ledger(env=ledger_env(db))
    notifications = ledger.recorder.select_notifications(start=1, limit=100_000)
    return ledger, [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in notifications]


@pytest.fixture(scope="module", params=["demo year", "varied year", "generated"])
def recorded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Ledger, list[StoredEvent]]:
    build = {"demo year": build_demo, "varied year": build_varied, "generated": build_generated}[request.param]
    db = str(tmp_path_factory.mktemp("plain") / "ledger.db")
    build(db)
    return stored_events(db)


def test_the_plain_form_read_from_the_log_is_the_validated_events_json(recorded: tuple[Ledger, list[StoredEvent]]) -> None:
    ledger, stored = recorded
    kinds = set()
    for event in stored:
        validated = ledger.mapper.to_domain_event(event)
        cls, data = ledger.mapper.to_plain(event)
        assert cls is type(validated)
        assert data == plain(validated)
        kinds.add(kind_of(cls))
    assert {"plan_adopted", "line_budgeted", "pool_opened", "grant_awarded", "grant_disbursed"} <= kinds


def test_every_recorded_event_is_validated_from_its_stored_json_and_serialises_back_to_it(
    recorded: tuple[Ledger, list[StoredEvent]],
) -> None:
    # `verify` compares the validated event's JSON with the JSON it was validated from, as bytes.
    ledger, stored = recorded
    for event in stored:
        read, text = ledger.mapper.read(event.originator_id, event.originator_version, event.topic, event.state)
        assert read == ledger.mapper.to_domain_event(event)
        assert text is not None and json.loads(text) == read.model_dump(mode="json")
        assert type(read).__pydantic_serializer__.to_json(read) == text


def test_the_validated_json_is_the_stored_json_as_it_stands_and_absent_for_an_old_shape(
    demo: tuple[Ledger, list[StoredEvent]],
) -> None:
    ledger, stored = demo
    event = first_of(stored, "grant_awarded", ledger)
    spaced = StoredEvent(
        event.originator_id, event.originator_version, event.topic, bytes(event.state).replace(b'"actor":', b'"actor": ')
    )
    read, text = ledger.mapper.read(spaced.originator_id, spaced.originator_version, spaced.topic, spaced.state)
    assert read == ledger.mapper.to_domain_event(event)
    assert text is not None and text != type(read).__pydantic_serializer__.to_json(read)  # spaced: not alike
    upcast = with_state(event, lambda s: s.update(class_version=1))  # an explicit version: read through json, not spliced
    read, text = ledger.mapper.read(upcast.originator_id, upcast.originator_version, upcast.topic, upcast.state)
    assert read == ledger.mapper.to_domain_event(event) and text is None


def test_the_audit_trail_says_what_the_models_say(recorded: tuple[Ledger, list[StoredEvent]]) -> None:
    ledger, stored = recorded
    state, from_models = MemoryState(), MemoryState()
    for sequence, event in enumerate(stored, start=1):
        fold(state, *ledger.mapper.to_plain(event), sequence, f"hash-{sequence}")
        validated = ledger.mapper.to_domain_event(event)
        apply(from_models, validated, sequence, f"hash-{sequence}")  # the way verify folds: the model's JSON form
        row = state.audit[-1]
        assert row.details == walked_fields(validated, skip=COMMON) == from_models.audit[-1].details
        assert row.recorded_at == validated.timestamp.isoformat().replace("+00:00", "Z")
        assert row.date == validated.date.isoformat()
        assert row.aggregate_id == str(validated.originator_id)
        field = AMOUNT_FIELD.get(row.kind)
        assert row.amount_ore == (getattr(validated, field).ore if field else None)
        assert (row.sequence, row.hash, row.version) == (sequence, f"hash-{sequence}", validated.originator_version)
        assert row.event_id == str(ids.event_id(validated.originator_id, validated.originator_version))
        assert (row.kind, row.actor, row.decided_by, row.decision_ref, row.reason, row.grant) == (
            kind_of(validated), validated.actor, validated.decided_by, validated.decision_ref, validated.reason,
            getattr(validated, "number", None),
        )
        if row.pool is not None:
            pool = state.pools[row.aggregate_id]
            assert (row.pool, row.year) == (pool.key, pool.year)
        else:
            assert row.year == getattr(validated, "year", None)
        reversed_version = getattr(validated, "reversed_version", None) or getattr(validated, "reverses", None)
        assert row.reverses == (
            str(ids.event_id(validated.originator_id, reversed_version)) if reversed_version is not None else None
        )


def test_whole_and_fractional_seconds_are_written_as_the_audit_trail_writes_them(tmp_path: Path) -> None:
    db = build_generated(str(tmp_path / "ledger.db"))  # its clock has milliseconds; the demo's has whole minutes
    ledger, stored = stored_events(db)
    stamps = {ledger.mapper.to_plain(event)[1]["timestamp"] for event in stored}
    assert any("." in stamp for stamp in stamps) and all(stamp.endswith("Z") for stamp in stamps)


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Ledger, list[StoredEvent]]:
    return stored_events(build_demo(str(tmp_path / "ledger.db")))


def first_of(stored: list[StoredEvent], kind: str, ledger: Ledger) -> StoredEvent:
    return next(e for e in stored if kind_of(ledger.mapper.to_plain(e)[0]) == kind)


def with_state(event: StoredEvent, change: Any) -> StoredEvent:
    state = json.loads(event.state)
    change(state)
    return StoredEvent(event.originator_id, event.originator_version, event.topic, json.dumps(state).encode())


def test_a_stored_state_missing_a_field_goes_through_the_model_and_gets_its_default(
    demo: tuple[Ledger, list[StoredEvent]],
) -> None:
    ledger, stored = demo
    event = with_state(first_of(stored, "grant_awarded", ledger), lambda s: s.pop("reason"))
    cls, data = ledger.mapper.to_plain(event)
    assert cls.__qualname__ == "Pool.GrantAwarded" and data["reason"] is None
    assert data == plain(ledger.mapper.to_domain_event(event))


@pytest.mark.parametrize(
    "change", [lambda s: s.update(unknown=1), lambda s: s.pop("recipient")], ids=["an unknown field", "a field missing"]
)
def test_a_stored_state_of_another_shape_is_refused_by_the_plain_reading_as_by_the_model(
    demo: tuple[Ledger, list[StoredEvent]], change: Any
) -> None:
    ledger, stored = demo
    event = with_state(first_of(stored, "grant_awarded", ledger), change)
    with pytest.raises(ValueError):
        ledger.mapper.to_domain_event(event)
    with pytest.raises(ValueError):
        ledger.mapper.to_plain(event)


def test_a_stored_state_of_the_right_shape_is_trusted_as_it_was_validated_when_recorded(
    demo: tuple[Ledger, list[StoredEvent]],
) -> None:
    # A value changed behind pulje's back is `verify`'s to find (the chain, and every event validated).
    ledger, stored = demo
    event = with_state(first_of(stored, "grant_awarded", ledger), lambda s: s.update(amount="lots"))
    with pytest.raises(ValueError):
        ledger.mapper.to_domain_event(event)
    assert ledger.mapper.to_plain(event)[1]["amount"] == "lots"


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("state", "lots", "unsupported operand type(s) for +=: 'int' and 'str'"),
        ("topic", "domain.pool:Pool.Nothing", "Failed to resolve topic 'domain.pool:Pool.Nothing'"),
        ("topic", "os:system", "'os:system' is not the topic of a pulje event"),
    ],
    ids=["a value of the wrong type", "a class that does not exist", "a topic outside pulje"],
)
def test_a_catch_up_that_meets_an_unreadable_event_stops_and_sends_the_user_to_verify(
    tmp_path: Path, column: str, value: str, reason: str
) -> None:
    from click.testing import CliRunner

    from bench.run import drop_views
    from cli.main import main

    db = build_demo(str(tmp_path / "ledger.db"))
    with sqlite3.connect(db) as conn:
        rowid, state = conn.execute(
            "SELECT rowid, state FROM stored_events WHERE topic LIKE '%GrantAwarded' ORDER BY rowid LIMIT 1"
        ).fetchone()
        if column == "state":
            changed = json.loads(state)
            changed["amount"] = value
            conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (json.dumps(changed).encode(), rowid))
        else:
            conn.execute("UPDATE stored_events SET topic = ? WHERE rowid = ?", (value, rowid))
    drop_views(Path(db))

    status = CliRunner().invoke(main, ["--db", db, "status"])
    assert status.exit_code == 4, status.output
    message = status.stderr.strip()
    assert message.startswith(f"Storage error: stored event {rowid} cannot be read into the read models ("), message
    assert reason in message and message.endswith("); run `pulje verify`."), message
    verified = CliRunner().invoke(main, ["--db", db, "verify"])
    assert verified.exit_code == 1 and f"chain: position {rowid}: " in verified.output, verified.output


def test_a_topic_that_names_no_pulje_event_is_refused(demo: tuple[Ledger, list[StoredEvent]]) -> None:
    ledger, stored = demo
    event = stored[0]
    forged = StoredEvent(event.originator_id, event.originator_version, "os:system", event.state)
    with pytest.raises(ValueError, match="is not the topic of a pulje event"):
        ledger.mapper.to_plain(forged)


#: What view rows hold: no floats (money is integer øre; orjson and the standard library write floats differently).
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def standard(values: Any) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


@given(st.lists(JSON, max_size=6))
def test_a_rows_json_is_what_the_standard_encoder_writes(values: list[Any]) -> None:
    assert encode_values(values) == standard(values)


@pytest.mark.parametrize(
    "values", [[2**70, -(2**64)], ["\ud800 alone"], [{1: "a number as a key"}], ["\u2028\x7f\x1f\"\\/"]],
    ids=["beyond 64 bits", "a lone surrogate", "a key that is no text", "odd characters"],
)
def test_what_orjson_will_not_write_the_standard_encoder_writes(values: list[Any]) -> None:
    assert encode_values(values) == standard(values)


def test_a_value_json_cannot_hold_is_refused_by_the_rows_encoder() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode_values([dt.date(2022, 1, 1)])


@pytest.mark.parametrize("number", [MAX_ORE, -MAX_ORE, 2**63 - 1, -(2**63)])
def test_integers_a_recorded_event_can_hold_are_read_exactly(demo: tuple[Ledger, list[StoredEvent]], number: int) -> None:
    # Money stops at MAX_ORE and versions and years are far below 2**63; an integer beyond 64 bits can only be
    # written behind pulje's back, and orjson may read it as a float: `verify` is what finds such a state.
    ledger, stored = demo
    event = with_state(first_of(stored, "grant_awarded", ledger), lambda s: s.update(amount=number))
    read = ledger.mapper.to_plain(event)[1]["amount"]
    assert read == number and type(read) is int
