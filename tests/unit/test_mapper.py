"""The pydantic mapper: events to stored bytes and back, strictly, with upcasting."""

from __future__ import annotations

import datetime as dt
import json
from uuid import uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder, StoredEvent
from pydantic import ValidationError

from domain.base import Aggregate
from domain.money import Money
from domain.plan import LineTerms, Plan, PoolTerms, YearBudget
from domain.pool import Pool
from ledger.mapper import PydanticMapper, allow_event_module

allow_event_module(__name__)

NOW = dt.datetime(2022, 3, 1, 9, 30, tzinfo=dt.timezone.utc)
DAY = dt.date(2022, 3, 1)


class Renamed(Aggregate):
    """A test aggregate whose event changed shape: v1 had `name`, v2 has `first` and `last`."""

    class Event(Aggregate.Event):
        pass

    class Named(Event):
        class_version = 2
        first: str
        last: str

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            first, _, last = state.pop("name").partition(" ")
            state["first"], state["last"] = first, last


@pytest.fixture
def mapper() -> PydanticMapper:
    return PydanticMapper(transcoder=JSONTranscoder())


def a_pool_with_history() -> Pool:
    pool = Pool.open_for_year(
        id=uuid4(), plan_id=uuid4(), partnership="Tingbjerg-Husum", key="btp", code="BTP", name="Bylivs- og tryghedspulje",
        year=2022, line="14", areas=("Tryggere byliv",), decided_by="arbejdsgruppen", funding=Money.kroner(107_000),
        timestamp=NOW, actor="t", date=dt.date(2022, 1, 1), decision_ref="plan",
    )
    number = pool.award(
        recipient="Beboerforeningen", purpose="Tryghedsvandring", area="tryggere byliv", amount=Money.kroner(5_000),
        requested=Money.kroner(6_000), date=DAY, decided_by="arbejdsgruppen", decision_ref="AG 3", actor="t", timestamp=NOW,
    )
    pool.disburse(number=number, amount=Money(400_000), date=DAY, payment_ref="Bilag 1", actor="t", timestamp=NOW)
    pool.take_back(number=number, amount=Money(50_000), date=DAY, reason="Ubrugt", actor="t", timestamp=NOW)
    pool.withdraw(number=number, date=DAY, reason="Rest", actor="t", timestamp=NOW)
    return pool


def test_every_pool_event_survives_the_round_trip_unchanged(mapper: PydanticMapper) -> None:
    for event in a_pool_with_history().collect_events():
        stored = mapper.to_stored_event(event)
        assert mapper.to_domain_event(stored) == event


def test_a_plan_event_with_nested_budgets_survives_the_round_trip(mapper: PydanticMapper) -> None:
    terms = LineTerms(
        line="14", name="Bylivs- og tryghedspulje", areas=("Tryggere byliv",),
        budgets=(YearBudget(year=2022, total=Money.kroner(107_000), posts={"Puljen": Money.kroner(107_000)}),),
    )
    plan = Plan.adopt(
        id=uuid4(), partnership="T", title="Plan", year=2022, source_file="p.toml", source_sha256="0" * 64,
        areas=("Tryggere byliv",), reallocation_body="Økonomiforvaltningen", lines=[terms],
        pools=[PoolTerms(key="btp", code="BTP", name="B", line="14", decided_by="arbejdsgruppen")],
        timestamp=NOW, actor="t", date=DAY, decided_by="Økonomiforvaltningen", decision_ref="ref",
    )
    for event in plan.collect_events():
        assert mapper.to_domain_event(mapper.to_stored_event(event)) == event


def test_stored_state_is_compact_json_in_field_order_without_the_ids(mapper: PydanticMapper) -> None:
    event = a_pool_with_history().collect_events()[1]
    stored = mapper.to_stored_event(event)
    state = json.loads(stored.state)
    assert "originator_id" not in state and "originator_version" not in state
    assert list(state)[:3] == ["timestamp", "actor", "date"]
    assert state["amount"] == 500_000 and state["requested"] == 600_000
    assert state["timestamp"] == "2022-03-01T09:30:00Z"
    assert mapper.to_stored_event(event).state == stored.state
    assert stored.topic == "domain.pool:Pool.GrantAwarded"


def test_an_amount_stored_as_text_is_refused_not_coerced(mapper: PydanticMapper) -> None:
    stored = mapper.to_stored_event(a_pool_with_history().collect_events()[1])
    state = json.loads(stored.state)
    state["amount"] = "500000"
    forged = StoredEvent(stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode())
    with pytest.raises(ValidationError):
        mapper.to_domain_event(forged)


def test_a_recorded_time_without_timezone_is_refused(mapper: PydanticMapper) -> None:
    stored = mapper.to_stored_event(a_pool_with_history().collect_events()[1])
    state = json.loads(stored.state)
    state["timestamp"] = "2022-03-01T09:30:00"
    forged = StoredEvent(stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode())
    with pytest.raises(ValidationError):
        mapper.to_domain_event(forged)


def test_an_old_version_of_an_event_is_upcast_when_read(mapper: PydanticMapper) -> None:
    topic = f"{__name__}:Renamed.Named"
    v1_state = json.dumps(
        {"actor": "t", "date": "2022-03-01", "name": "Ada Lovelace", "timestamp": "2022-03-01T09:30:00Z"}
    ).encode()
    event = mapper.to_domain_event(StoredEvent(uuid4(), 2, topic, v1_state))
    assert (event.first, event.last) == ("Ada", "Lovelace")


def test_a_new_version_is_stored_with_its_class_version(mapper: PydanticMapper) -> None:
    event = Renamed.Named(originator_id=uuid4(), originator_version=2, timestamp=NOW, actor="t", date=DAY, first="Ada", last="L")
    stored = mapper.to_stored_event(event)
    assert json.loads(stored.state)["class_version"] == 2
    assert mapper.to_domain_event(stored) == event
