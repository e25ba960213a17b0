"""Tests written against the mutants that survived mutation testing of reversals and lookups (docs/mutation.md).

They pin what `pulje reverse`, `pool show`, `replay`, `plan show` and
`--recorded-before` promise and the other tests left loose: a reversal of each
kind of event and the fields its counter-entry stores (reason, date, actor,
what it points back at), the money it moves back on the plan and the pool,
the content an idempotency key records, every refusal with its exact sentence
(the command line prints it as it is), finding an event by its sequence
number or its id, the head as it stood at an earlier moment, and choosing a
plan or pool by year and partnership when a ledger holds several.

Each test works on a real SQLite file in tmp: conftest's `pulje` session has
the 2022 plan adopted and a clock that ticks one second per reading.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain import ids
from domain.errors import AmbiguousError, KeyConflictError, NotFoundError, ReversalError
from domain.money import Money, parse_amount
from ledger.app import Recorded
from ledger.chain import GENESIS
from ledger.service import Pulje
from tests.conftest import BTP_ID_2022 as BTP
from tests.conftest import PARTNERSHIP_2022 as PARTNERSHIP
from tests.conftest import PLAN_ID_2022 as PLAN

AG = "arbejdsgruppen"
OEKF = "Økonomiforvaltningen"
BTP_FUNDING = 10_700_000  # line 14 of the 2022 plan: 107.000 kr.
UTC = dt.timezone.utc
ONLY_SOME = (
    "which cannot be reversed; only reallocations, grant awards, payments, returns and withdrawals can "
    "(record a new decision instead)"
)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def award(pulje: Pulje, recipient: str, amount: str, date: str = "2022-03-01") -> Recorded:
    return pulje.award(
        pool="BTP", year=2022, recipient=recipient, purpose=f"Arrangement for {recipient}", area="Tryggere byliv",
        amount=parse_amount(amount), requested=None, date=day(date), decided_by=AG, decision_ref=f"AG-møde {date}",
    )


def reallocate_into_the_pool(pulje: Pulje) -> Recorded:
    """20.000 kr. from line 12 to the pool's line 14 on 15 June: the plan's event, then the pool's at +1."""
    return pulje.reallocate(
        year=2022, from_line="12", to_line="14", amount=parse_amount("20.000"), date=day("2022-06-15"),
        decided_by=OEKF, decision_ref="ØKF j.nr. 2022-0412", reason="Flere tryghedsvandringer",
    )


def last_event(pulje: Pulje, aggregate_id: UUID) -> Any:
    return pulje.ledger.events_of(aggregate_id)[-1]


def head(pulje: Pulje) -> tuple[int, str]:
    return pulje.ledger.store.head()


def describe(event: Any) -> dict[str, Any]:
    """What a counter-entry says about itself besides its amounts: who, when, why, on whose decision."""
    return {
        "kind": type(event).__name__, "date": event.date, "reason": event.reason, "actor": event.actor,
        "decided_by": event.decided_by, "decision_ref": event.decision_ref,
    }


# ---------------------------------------------------------------------- reallocations


def test_reversing_a_pools_funding_change_reverses_the_reallocation_behind_it_on_plan_and_pool(pulje: Pulje) -> None:
    moved = reallocate_into_the_pool(pulje)
    _, reallocation_version, _ = pulje.locate(str(moved.sequence))
    pool_id, funding_version, kind = pulje.locate(str(moved.sequence + 1))
    assert (pool_id, kind) == (BTP, "funding_changed")
    line_12 = pulje.ledger.repository.get(PLAN).budget("12", 2022)
    moved_at = last_event(pulje, BTP).timestamp

    pulje.actor = "revisor"
    undone = pulje.reverse(str(moved.sequence + 1), reason="Forkert linje", date=day("2022-07-01"))

    # the command answers with the plan's counter-entry, the one decision behind both changes
    assert pulje.locate(undone.event_id) == (PLAN, reallocation_version + 1, "reallocation_reversed")
    assert (undone.sequence, undone.grant, undone.repeated) == (moved.sequence + 2, None, False)
    said = {
        "date": day("2022-07-01"), "reason": "Forkert linje", "actor": "revisor", "decided_by": None,
        "decision_ref": None,
    }
    on_plan, on_pool = last_event(pulje, PLAN), last_event(pulje, BTP)
    assert describe(on_plan) == {"kind": "ReallocationReversed", **said}
    assert (on_plan.reversed_version, on_plan.year, on_plan.from_line, on_plan.to_line, on_plan.amount) == (
        reallocation_version, 2022, "12", "14", Money(2_000_000)
    )
    assert describe(on_pool) == {"kind": "FundingChanged", **said}
    assert (on_pool.change, on_pool.cause_id, on_pool.cause_version, on_pool.reverses) == (
        Money(-2_000_000), PLAN, reallocation_version + 1, funding_version
    )
    assert on_pool.originator_version == funding_version + 1
    assert on_pool.timestamp == on_plan.timestamp > moved_at

    # the money is back where the plan put it, on both lines and in the pool
    plan = pulje.ledger.repository.get(PLAN)
    assert plan.budget("14", 2022) == Money(BTP_FUNDING)
    assert plan.budget("12", 2022) == line_12 + Money(2_000_000)
    row, _, _ = pulje.pool_show("BTP", year=2022)
    assert row.funding_ore == BTP_FUNDING
    # and the audit trail says which event reversed each of the two
    with pulje.reader() as views:
        reversed_by = views.reversed_by()
    assert reversed_by == {
        str(ids.event_id(PLAN, reallocation_version)): moved.sequence + 2,
        str(ids.event_id(BTP, funding_version)): moved.sequence + 3,
    }


def test_reversing_a_reallocation_without_a_date_dates_the_counter_entries_as_the_reallocation(pulje: Pulje) -> None:
    moved = reallocate_into_the_pool(pulje)

    undone = pulje.reverse(str(moved.sequence), reason="Dobbeltregistreret", date=None)

    assert pulje.locate(undone.event_id)[2] == "reallocation_reversed"
    for aggregate_id in (PLAN, BTP):
        event = last_event(pulje, aggregate_id)
        assert (event.date, event.reason, event.actor) == (day("2022-06-15"), "Dobbeltregistreret", "test")
    assert last_event(pulje, BTP).change == Money(-2_000_000)
    row, _, _ = pulje.pool_show("BTP", year=2022)
    assert row.funding_ore == BTP_FUNDING


def test_a_reallocation_is_reversed_once_from_either_side(pulje: Pulje) -> None:
    moved = reallocate_into_the_pool(pulje)
    reallocation_version = pulje.locate(str(moved.sequence))[1]
    undone = pulje.reverse(str(moved.sequence), reason="Fejl", date=None)
    after = head(pulje)

    for side in (moved.sequence, moved.sequence + 1):
        with pytest.raises(ReversalError) as error:
            pulje.reverse(str(side), reason="Fejl igen", date=None)
        assert str(error.value) == f"that reallocation was already reversed (plan version {reallocation_version + 1})"
    with pytest.raises(ReversalError) as error:
        pulje.reverse(str(undone.sequence), reason="Fortrudt", date=None)
    assert str(error.value) == f"event {undone.sequence} is a reversal of a reallocation, {ONLY_SOME}"
    # the pool's side of the reversal is a funding change too; it cannot be undone on its own
    with pytest.raises(ReversalError) as error:
        pulje.reverse(str(undone.sequence + 1), reason="Fortrudt", date=None)
    assert str(error.value) == "that event reverses a reallocation; a reversal cannot be reversed"
    assert head(pulje) == after


# ---------------------------------------------------------------------- grants


@pytest.fixture
def grants(pulje: Pulje) -> dict[str, tuple[Recorded, str]]:
    """One reversible entry of each kind, with the grant it belongs to.

    Zeta is paid 4.000 and returns 1.000; Alfa is withdrawn; Gamma is only
    awarded; Delta is paid in full. Each entry can be reversed as it stands.
    """
    zeta = award(pulje, "Zeta Idrætsforening", "10.000")
    pulje.disburse(grant=zeta.grant, amount=parse_amount("4.000"), date=day("2022-03-15"), payment_ref="Bilag 14")
    returned = pulje.take_back(grant=zeta.grant, amount=parse_amount("1.000"), date=day("2022-06-20"), reason="Ubrugt")
    alfa = award(pulje, "Alfa Beboerforening", "5.000")
    withdrawn = pulje.withdraw(grant=alfa.grant, date=day("2022-09-01"), reason="Aflyst")
    gamma = award(pulje, "Gamma Skole", "3.000", "2022-04-01")
    delta = award(pulje, "Delta Klub", "2.000", "2022-04-01")
    paid = pulje.disburse(
        grant=delta.grant, amount=parse_amount("2.000"), date=day("2022-05-02"), payment_ref="Bilag 31"
    )
    return {
        "GrantAwarded": (gamma, gamma.grant), "GrantDisbursed": (paid, delta.grant),
        "GrantReturned": (returned, zeta.grant), "GrantWithdrawn": (withdrawn, alfa.grant),
    }


@pytest.mark.parametrize(
    ("kind", "amount", "entry_date", "date"),
    [
        ("GrantAwarded", 300_000, "2022-04-01", None),
        ("GrantDisbursed", 200_000, "2022-05-02", "2022-05-20"),
        ("GrantReturned", 100_000, "2022-06-20", None),
        ("GrantWithdrawn", 500_000, "2022-09-01", "2022-10-03"),
    ],
)
def test_reversing_a_grants_entry_records_a_counter_entry_that_names_the_grant_and_points_back(
    pulje: Pulje, grants: dict[str, tuple[Recorded, str]], kind: str, amount: int, entry_date: str, date: str | None
) -> None:
    entry, number = grants[kind]
    pool_id, version, _ = pulje.locate(entry.event_id)
    latest = last_event(pulje, BTP).originator_version
    pulje.actor = "revisor"

    undone = pulje.reverse(str(entry.sequence), reason="Fejlregistrering", date=day(date) if date else None)

    assert (undone.grant, undone.repeated) == (number, False)
    assert pulje.locate(undone.event_id) == (BTP, latest + 1, "entry_reversed") and pool_id == BTP
    event = last_event(pulje, BTP)
    assert describe(event) == {
        "kind": "EntryReversed", "date": day(date or entry_date), "reason": "Fejlregistrering", "actor": "revisor",
        "decided_by": None, "decision_ref": None,
    }
    assert (event.reversed_version, event.reversed_kind, event.number, event.amount) == (
        version, kind, number, Money(amount)
    )
    with pulje.reader() as views:
        assert views.reversed_by() == {entry.event_id: undone.sequence}


def test_an_entry_reversed_once_is_refused_the_second_time_and_its_reversal_cannot_be_reversed(
    pulje: Pulje, grants: dict[str, tuple[Recorded, str]]
) -> None:
    paid, _ = grants["GrantDisbursed"]
    version = pulje.locate(str(paid.sequence))[1]
    undone = pulje.reverse(str(paid.sequence), reason="Betalt to gange")
    after = head(pulje)

    with pytest.raises(ReversalError) as error:
        pulje.reverse(str(paid.sequence), reason="Betalt to gange")
    assert str(error.value) == f"that entry was already reversed (pool version {version + 1})"
    with pytest.raises(ReversalError) as error:
        pulje.reverse(str(undone.sequence), reason="Alligevel betalt")
    assert str(error.value) == f"event {undone.sequence} is a reversal, {ONLY_SOME}"
    assert head(pulje) == after


# ---------------------------------------------------------------------- idempotency keys


def test_a_reversal_repeated_with_its_key_says_repeated_and_records_nothing_new(pulje: Pulje) -> None:
    given = award(pulje, "Beboerforeningen", "6.500")
    first = pulje.reverse(str(given.sequence), reason="Forkert modtager", date=day("2022-03-02"), key="rev-1")
    after = head(pulje)

    again = pulje.reverse(str(given.sequence), reason="Forkert modtager", date=day("2022-03-02"), key="rev-1")

    assert not first.repeated and again.repeated
    assert (again.event_id, again.sequence, again.head, again.grant) == (
        first.event_id, first.sequence, first.head, "BTP-2022-001"
    )
    # the reversal, then its key, in one write
    assert after == (first.sequence + 1, first.head) == head(pulje)


def test_a_reversal_key_records_the_command_and_a_digest_of_what_was_reversed_why_and_when(pulje: Pulje) -> None:
    # The digest is stored: a retry with the same key after an upgrade must still match it.
    given = award(pulje, "Beboerforeningen", "6.500")
    version = pulje.locate(given.event_id)[1]
    pulje.actor = "revisor"

    first = pulje.reverse(str(given.sequence), reason="Forkert modtager", date=day("2022-03-02"), key="rev-1")

    (recorded,) = pulje.ledger.events_of(ids.command_key_id("rev-1"))
    content = {"event": f"{BTP}:{version}", "reason": "Forkert modtager", "date": "2022-03-02"}
    digest = hashlib.sha256(json.dumps(["reverse", content], sort_keys=True).encode()).hexdigest()
    assert (recorded.key, recorded.command, recorded.digest, recorded.actor) == ("rev-1", "reverse", digest, "revisor")
    assert (recorded.target_id, recorded.target_version, recorded.grant) == (BTP, version + 1, "BTP-2022-001")
    assert first.event_id == str(ids.event_id(BTP, version + 1))


@pytest.mark.parametrize("change", ["reason", "date", "event"])
def test_a_reversal_key_given_again_with_another_reason_date_or_event_is_refused(pulje: Pulje, change: str) -> None:
    one = award(pulje, "Beboerforeningen", "6.500")
    two = award(pulje, "Husum Boldklub", "12.000")
    asked = {"event": str(one.sequence), "reason": "Forkert modtager", "date": day("2022-03-02")}
    pulje.reverse(asked["event"], reason=asked["reason"], date=asked["date"], key="rev-1")
    after = head(pulje)
    other = {"event": str(two.sequence), "reason": "Forkert beløb", "date": day("2022-03-03")}
    asked[change] = other[change]

    with pytest.raises(KeyConflictError) as error:
        pulje.reverse(asked["event"], reason=asked["reason"], date=asked["date"], key="rev-1")

    assert str(error.value) == (
        "the key 'rev-1' was already used for another command (reverse); use a new key for a new command"
    )
    assert head(pulje) == after


# ---------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("sequence", "what"),
    [(1, "the plan's adoption"), (2, "a line's budget as adopted"), (22, "a pool's opening")],
)
def test_an_event_that_is_not_a_decision_on_money_is_refused_naming_its_kind(
    pulje: Pulje, sequence: int, what: str
) -> None:
    before = head(pulje)
    with pytest.raises(ReversalError) as error:
        pulje.reverse(f" {sequence} ", reason="Fejl")
    assert str(error.value) == f"event {sequence} is {what}, {ONLY_SOME}"
    assert head(pulje) == before


def test_the_record_of_a_command_key_cannot_be_reversed(pulje: Pulje) -> None:
    given = pulje.award(
        pool="BTP", year=2022, recipient="Beboerforeningen", purpose="Vandring", area=None,
        amount=parse_amount("6.500"), requested=None, date=day("2022-03-01"), decided_by=AG, decision_ref="AG 1",
        key="award-1",
    )
    key_sequence = given.sequence + 1
    assert pulje.locate(str(key_sequence)) == (ids.command_key_id("award-1"), 1, "key_recorded")

    with pytest.raises(ReversalError) as error:
        pulje.reverse(str(key_sequence), reason="Fejl")
    assert str(error.value) == f"event {key_sequence} is a command key, {ONLY_SOME}"
    with pytest.raises(ReversalError) as error:
        pulje.ledger.reverse(
            originator_id=ids.command_key_id("award-1"), version=1, reason="Fejl", date=None, actor="test"
        )
    assert str(error.value) == "that event records a command key; there is nothing to reverse"
    assert head(pulje) == (key_sequence, given.head)


@pytest.mark.parametrize(
    ("version", "what"),
    [(1, "the plan's adoption"), (2, "a line's budget as adopted"), (21, "a line's budget as adopted")],
)
def test_the_application_refuses_to_reverse_what_the_plan_adopted(pulje: Pulje, version: int, what: str) -> None:
    before = head(pulje)
    with pytest.raises(ReversalError) as error:
        pulje.ledger.reverse(originator_id=PLAN, version=version, reason="Fejl", date=None, actor="test")
    assert str(error.value) == f"{what} cannot be reversed; record a reallocation instead"
    assert head(pulje) == before


def test_the_application_refuses_an_event_of_an_unknown_aggregate(pulje: Pulje) -> None:
    unknown = UUID("00000000-0000-4000-8000-000000000001")
    with pytest.raises(NotFoundError) as error:
        pulje.ledger.reverse(originator_id=unknown, version=1, reason="Fejl", date=None, actor="test")
    assert str(error.value) == f"no event with id {unknown}"


def test_reversing_an_event_number_the_ledger_does_not_have_is_refused(pulje: Pulje) -> None:
    before = head(pulje)
    with pytest.raises(NotFoundError) as error:
        pulje.reverse("999", reason="Fejl")
    assert str(error.value) == "no event with sequence number 999"
    assert head(pulje) == before


# ---------------------------------------------------------------------- finding an event


def test_an_event_is_found_by_its_sequence_number_written_with_or_without_a_hash_sign(pulje: Pulje) -> None:
    for text in ("1", " #1 ", "#1", "##1"):
        assert pulje.locate(text) == (PLAN, 1, "plan_adopted")
    assert pulje.locate("21") == (PLAN, 21, "line_budgeted")
    assert pulje.locate("22") == (BTP, 1, "pool_opened")
    # leading zeros are a number's: up to 18 characters in all, beyond that the text is too long to be one
    assert pulje.locate("0" * 16 + "22") == (BTP, 1, "pool_opened")
    with pytest.raises(NotFoundError) as error:
        pulje.locate("0" * 17 + "22")
    assert str(error.value) == f"no event with sequence number {'0' * 17}22"


def test_an_event_is_found_by_its_id_in_any_case(pulje: Pulje) -> None:
    given = award(pulje, "Beboerforeningen", "6.500")
    expected = (BTP, 2, "grant_awarded")
    assert given.event_id == str(ids.event_id(BTP, 2))
    assert pulje.locate(given.event_id) == expected
    assert pulje.locate(f" {given.event_id.upper()} ") == expected
    assert pulje.locate(UUID(given.event_id).hex) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("999", "no event with sequence number 999"),
        ("#999", "no event with sequence number 999"),
        ("99999999999999999999", "no event with sequence number 99999999999999999999"),
        ("X22", "'X22' is neither a sequence number nor an event id"),
        ("abc", "'abc' is neither a sequence number nor an event id"),
        ("22a", "'22a' is neither a sequence number nor an event id"),
        # digits of another script are not a sequence number, even though Python calls them digits
        ("\u0662\u0662", "'\u0662\u0662' is neither a sequence number nor an event id"),
        ("", "'' is neither a sequence number nor an event id"),
        (
            "0F0B1C2D-0000-4000-8000-00000000ABCD",
            "no event with id 0f0b1c2d-0000-4000-8000-00000000abcd",
        ),
    ],
)
def test_a_reference_to_no_event_is_refused_saying_what_was_looked_for(pulje: Pulje, text: str, message: str) -> None:
    with pytest.raises(NotFoundError) as error:
        pulje.locate(text)
    assert str(error.value) == message


# ---------------------------------------------------------------------- the head at an earlier moment


def test_the_head_before_a_moment_is_the_last_event_recorded_strictly_before_it(pulje: Pulje, clock: Any) -> None:
    adopted = head(pulje)
    clock.now = dt.datetime(2022, 3, 2, 9, 0, tzinfo=UTC)
    first = award(pulje, "Beboerforeningen", "6.500")
    clock.now = dt.datetime(2022, 4, 2, 9, 0, tzinfo=UTC)
    second = award(pulje, "Husum Boldklub", "12.000")
    first_at = pulje.ledger.events_of(BTP)[1].timestamp  # the clock ticked once: 09:00:01
    assert first_at == dt.datetime(2022, 3, 2, 9, 0, 1, tzinfo=UTC)

    def head_before(moment: dt.datetime) -> tuple[int, str]:
        return pulje.status(year=2022, recorded_before=moment).head

    assert head_before(dt.datetime(2021, 12, 31, tzinfo=UTC)) == (0, GENESIS)
    assert head_before(first_at) == adopted
    assert head_before(first_at + dt.timedelta(microseconds=1)) == (first.sequence, first.head)
    assert head_before(dt.datetime(2023, 1, 1, tzinfo=UTC)) == (second.sequence, second.head) == head(pulje)


def test_pool_show_and_replay_report_the_head_as_it_stood_at_the_moment_asked(pulje: Pulje, clock: Any) -> None:
    clock.now = dt.datetime(2022, 3, 2, 9, 0, tzinfo=UTC)
    first = award(pulje, "Beboerforeningen", "6.500")
    clock.now = dt.datetime(2022, 4, 2, 9, 0, tzinfo=UTC)
    award(pulje, "Husum Boldklub", "12.000")
    moment = dt.datetime(2022, 4, 1, tzinfo=UTC)

    shown, shown_grants, shown_head = pulje.pool_show("BTP", year=2022, recorded_before=moment)
    row, steps, replay_head = pulje.replay("BTP", year=2022, recorded_before=moment)

    assert shown_head == replay_head == (first.sequence, first.head)
    assert [g.number for g in shown_grants] == ["BTP-2022-001"] and shown.awarded_ore == 650_000
    assert row.code == "BTP" and [s.sequence for s in steps][-1] == first.sequence
    assert pulje.pool_show("BTP", year=2022)[2] == pulje.replay("BTP", year=2022)[2] == head(pulje)


def test_a_pool_not_yet_open_says_on_which_date_or_before_which_moment_it_was_not(pulje: Pulje) -> None:
    with pytest.raises(NotFoundError) as error:
        pulje.pool_show("BTP", year=2022, as_of=day("2021-12-31"))
    assert str(error.value) == "Bylivs- og tryghedspulje 2022 was not open on 2021-12-31 (it opened 2022-01-01)"
    with pytest.raises(NotFoundError) as error:
        pulje.pool_show("BTP", year=2022, recorded_before=dt.datetime(2022, 1, 3, 9, 0, tzinfo=UTC))
    assert str(error.value) == (
        "Bylivs- og tryghedspulje 2022 was not open before 2022-01-03T09:00:00+00:00 (it opened 2022-01-01)"
    )


# ---------------------------------------------------------------------- several plans in one ledger


def plan_file(tmp_path: Path, partnership: str, year: int, pool_name: str) -> Path:
    """A small plan: two lines, the second funding a pool with the code BTP."""
    text = f"""\
[plan]
partnership = "{partnership}"
title = "Tryghedsplan {year}"
year = {year}

[authority]
reallocation = "Økonomiforvaltningen"

[[line]]
no = "1"
name = "Fælleshaven"
[line.budget.{year}]
total = 220000

[[line]]
no = "14"
name = "{pool_name}"
[line.budget.{year}]
total = 50000

[[pool]]
id = "bylivs-og-tryghedspulje"
code = "BTP"
name = "{pool_name}"
line = "14"
decided_by = "arbejdsgruppen"
"""
    path = tmp_path / f"{partnership}-{year}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def three_plans(pulje: Pulje, tmp_path: Path) -> Pulje:
    """The 2022 plan of Tingbjerg-Husum, its 2023 plan, and a 2022 plan of Testby: three pools coded BTP."""
    pulje.import_plan(plan_file(tmp_path, PARTNERSHIP, 2023, "Bylivs- og tryghedspulje"))
    pulje.import_plan(plan_file(tmp_path, "Testby", 2022, "Testbys pulje"))
    return pulje


def test_pool_show_and_replay_choose_the_pool_by_its_year_and_partnership(three_plans: Pulje) -> None:
    for show in (three_plans.pool_show, three_plans.replay):
        row = show("BTP", year=2023)[0]
        assert (row.partnership, row.year, row.funding_ore) == (PARTNERSHIP, 2023, 5_000_000)
        row = show("btp", year=2022, partnership="testby")[0]
        assert (row.partnership, row.year, row.name) == ("Testby", 2022, "Testbys pulje")
        with pytest.raises(AmbiguousError) as error:
            show("BTP", year=2022)
        assert str(error.value) == "pool 'BTP' in 2022 exists for Testby, Tingbjerg-Husum; add --partnership NAME"


def test_plan_show_lists_the_plans_of_the_year_and_partnership_asked(three_plans: Pulje) -> None:
    def shown(**asked: Any) -> list[tuple[str, int, int]]:
        views, at = three_plans.plan_show(**asked)
        assert at == head(three_plans)
        return [(v.plan.partnership, v.plan.year, len(v.lines)) for v in views]

    assert shown() == [("Testby", 2022, 2), (PARTNERSHIP, 2022, 20), (PARTNERSHIP, 2023, 2)]
    assert shown(year=2023) == [(PARTNERSHIP, 2023, 2)]
    assert shown(year=2022) == [("Testby", 2022, 2), (PARTNERSHIP, 2022, 20)]
    assert shown(year=2022, partnership="Testby") == [("Testby", 2022, 2)]
    assert shown(partnership=PARTNERSHIP) == [(PARTNERSHIP, 2022, 20), (PARTNERSHIP, 2023, 2)]


def test_plan_show_of_a_year_without_a_plan_says_how_to_adopt_one(three_plans: Pulje) -> None:
    with pytest.raises(NotFoundError) as error:
        three_plans.plan_show(year=2030)
    assert str(error.value) == "no plan for 2030 is adopted; import one with `pulje plan import FILE`"
    with pytest.raises(NotFoundError) as error:
        three_plans.plan_show(year=2023, partnership="Testby")
    assert str(error.value) == "no plan of Testby for 2023 is adopted; import one with `pulje plan import FILE`"


def test_plan_show_of_a_year_without_a_plan_is_refused_even_when_the_ledger_has_one_plan(pulje: Pulje) -> None:
    with pytest.raises(NotFoundError) as error:
        pulje.plan_show(year=2030)
    assert str(error.value) == "no plan for 2030 is adopted; import one with `pulje plan import FILE`"
    views, _ = pulje.plan_show()
    assert [(v.plan.partnership, v.plan.year) for v in views] == [(PARTNERSHIP, 2022)]
