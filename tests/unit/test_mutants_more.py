"""Tests written against mutants that survived mutation testing and that need no ledger (docs/mutation.md).

They pin what a user reads or what protects a ledger: how a `--db` value is
shown (never with its password), the advice for a TOML float in a plan file
(word for word, with the figure the user meant), a refused plan file's path
and its problems one per line, and that only modules let in on purpose may be
named by a stored event's topic. No database.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import pytest
from eventsourcing.persistence import JSONTranscoder

from domain.base import Aggregate
from ledger.mapper import EVENT_MODULES, PydanticMapper, allow_event_module, is_topic
from ledger.planfile import PlanFileError, parse_plan
from ledger.service import shown_location

# ---------------------------------------------------------------------- shown_location


@pytest.mark.parametrize(
    ("db", "shown"),
    [
        ("ledger.db", "ledger.db"),
        ("/srv/pulje/tingbjerg 2022.db", "/srv/pulje/tingbjerg 2022.db"),
        ("~/pulje.db", "~/pulje.db"),
        (
            "postgresql://alice:hemmeligt@db.example:5433/pulje?schema=aar2022",
            "postgresql://alice@db.example:5433/pulje?schema=aar2022",
        ),
        ("postgres://alice:hemmeligt@db.example/pulje", "postgresql://alice@db.example:5432/pulje"),
        ("postgresql://db.example/pulje", "postgresql://postgres@db.example:5432/pulje"),
    ],
)
def test_a_db_value_is_shown_as_given_or_as_a_url_without_its_password(db: str, shown: str) -> None:
    assert shown_location(db) == shown


@pytest.mark.parametrize(
    ("db", "shown"),
    [
        ("postgresql://alice:hemmeligt@db.example:99999/pulje", "postgresql://db.example:99999/pulje"),
        ("postgresql://alice:hemmeligt@db.example/pulje?sslmode=require", "postgresql://db.example/pulje?sslmode=require"),
        ("postgresql://alice:hemmeligt@[::1/pulje", "postgresql://[::1/pulje"),
        ("mysql://alice:hemmeligt@db.example/pulje", "mysql://db.example/pulje"),
    ],
)
def test_a_url_that_cannot_be_read_is_shown_from_its_host_on_without_user_or_password(db: str, shown: str) -> None:
    assert shown_location(db) == shown
    assert "hemmeligt" not in shown_location(db)


# ---------------------------------------------------------------------- plan files: TOML floats


def plan_with_total(total: str) -> bytes:
    """A small valid plan whose line 1 has the given TOML value as its 2022 total."""
    return f"""\
[plan]
partnership = "Testby"
title = "Tryghedsplan 2022"
year = 2022

[authority]
reallocation = "Økonomiforvaltningen"

[[line]]
no = "1"
name = "Fælleshaven"
[line.budget.2022]
total = {total}

[[line]]
no = "14"
name = "Bylivs- og tryghedspulje"
[line.budget.2022]
total = 107000

[[pool]]
id = "bylivs-og-tryghedspulje"
code = "BTP"
name = "Bylivs- og tryghedspulje"
line = "14"
decided_by = "arbejdsgruppen"
""".encode()


GENERAL = 'write whole kroner as an integer (91700) or as text ("91.700,50")'


@pytest.mark.parametrize(
    ("written", "advice"),
    [
        # a dot for thousands: TOML reads a float; the advice shows the figure the user meant
        ("91.700", '91.7 is a TOML float (91.700 in TOML reads as 91.7); '
                   'write whole kroner as 91700 or as the text "91.700"'),
        ("91.705", '91.705 is a TOML float (91.705 in TOML reads as 91.705); '
                   'write whole kroner as 91705 or as the text "91.705"'),
        ("120.000", '120.0 is a TOML float (120.000 in TOML reads as 120.0); '
                    'write whole kroner as 120000 or as the text "120.000"'),
        # anything else that is a float cannot be read as thousands: the general advice
        ("91.7005", f"91.7005 is a TOML float; {GENERAL}"),
        ("1.5e16", f"1.5e+16 is a TOML float; {GENERAL}"),
        ("-91.700", f"-91.7 is a TOML float; {GENERAL}"),
        ("inf", f"inf is a TOML float; {GENERAL}"),
    ],
)
def test_a_toml_float_is_refused_with_advice_on_what_to_write_instead(written: str, advice: str) -> None:
    with pytest.raises(PlanFileError) as caught:
        parse_plan(plan_with_total(written), "testplan.toml")
    assert caught.value.problems == [f"testplan.toml: line[1] (no 1).budget.2022.total: {advice}"]


def test_a_refused_plan_file_names_its_path_and_gives_one_problem_a_line() -> None:
    text = plan_with_total("91.700").replace(b"total = 107000", b"total = 1.5e16")
    with pytest.raises(PlanFileError) as caught:
        parse_plan(text, "plans/testby.toml")
    error = caught.value
    assert error.path == "plans/testby.toml" and not error.unreadable
    assert len(error.problems) == 2
    assert str(error) == f"{error.problems[0]}\n{error.problems[1]}"
    assert str(error).splitlines() == error.problems


# ---------------------------------------------------------------------- the mapper's event modules


class Gadget(Aggregate):
    """An aggregate of a module pulje does not know until it is let in."""

    class Event(Aggregate.Event):
        pass

    class Renamed(Event):
        name: str


def test_only_a_module_let_in_may_be_named_by_a_stored_topic() -> None:
    mapper = PydanticMapper(transcoder=JSONTranscoder())
    event = Gadget.Renamed(
        originator_id=UUID("00000000-0000-4000-8000-000000000007"), originator_version=2,
        timestamp=dt.datetime(2022, 3, 1, 9, 30, tzinfo=dt.timezone.utc), actor="t", date=dt.date(2022, 3, 1),
        name="ny",
    )
    stored = mapper.to_stored_event(event)
    assert stored.topic == f"{__name__}:Gadget.Renamed"
    assert __name__ not in EVENT_MODULES
    with pytest.raises(ValueError) as error:
        mapper.to_domain_event(stored)
    assert str(error.value) == f"{stored.topic!r} is not the topic of a pulje event"

    allow_event_module(__name__)
    try:
        assert is_topic(stored.topic)
        assert mapper.to_domain_event(stored) == event
        assert not is_topic("tests.unit.elsewhere:Gadget.Renamed")
    finally:
        EVENT_MODULES.discard(__name__)
