"""Integration: replaying a pool's decisions, and views "as known at" a moment of recording.

The auditor's questions (DESIGN.md, "Who uses it"): in the order things were
decided, how did the pool stand after each decision; and what did the ledger
say at New Year, before a decision about December was typed in January?
Each test records a small year through the service with the test clock set
to the day after each decision (or weeks later, for a late entry), then reads
it back through `Pulje` and the command line; every test runs twice, on a new
SQLite file and on a fresh PostgreSQL schema (conftest's `backend`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from domain.money import parse_amount
from ledger.chain import GENESIS
from ledger.service import Pulje

AG = "arbejdsgruppen"
OEKF = "Økonomiforvaltningen"
FUNDING = 10_700_000  # line 14 of the 2022 plan: 107.000 kr.
UTC = dt.timezone.utc
BALANCES = (
    "funding_ore", "awarded_ore", "committed_ore", "disbursed_ore", "returned_ore", "withdrawn_ore", "available_ore",
)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def at(clock: Any, when: str, time: dt.time = dt.time(9)) -> None:
    """The next event is recorded just after `time` UTC on `when`."""
    clock.now = dt.datetime.combine(day(when), time, UTC)


def award(
    pulje: Pulje, clock: Any, recipient: str, amount: str, date: str, *, recorded: str, pool: str = "BTP"
) -> str:
    at(clock, recorded)
    return pulje.award(
        pool=pool, year=2022, recipient=recipient, purpose=f"Arrangement for {recipient}", area="Tryggere byliv",
        amount=parse_amount(amount), requested=None, date=day(date), decided_by=AG,
        decision_ref=f"AG-møde {date}, pkt. {len(recipient)}",
    ).grant


def disburse(pulje: Pulje, clock: Any, grant: str, amount: str, date: str, *, recorded: str) -> None:
    at(clock, recorded)
    pulje.disburse(grant=grant, amount=parse_amount(amount), date=day(date), payment_ref=f"Bilag {date}")


def balances(row: Any) -> dict[str, int]:
    """The figures of a replay step, a pool row or a pool's JSON."""
    if isinstance(row, dict):
        return {name: row[name] for name in BALANCES}
    return {name: getattr(row, name) for name in BALANCES}


def explain(result: Result) -> str:
    return (
        f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n--- {result.exception!r}"
    )


class Cli:
    def __init__(self, db: str) -> None:
        self.db = str(db)
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(main, ["--db", self.db, "--actor", "revisor", *args])

    def json(self, *args: str) -> dict[str, Any]:
        result = self(*args, "--format", "json")
        assert result.exit_code == 0, explain(result)
        return json.loads(result.stdout)


@pytest.fixture
def pulje(pulje_on: Pulje) -> Pulje:
    """A session with the 2022 plan adopted, on a new ledger on each backend (SQLite, PostgreSQL)."""
    return pulje_on


# ---------------------------------------------------------------------- a year with a late entry


class Year:
    """A pool's year, recorded mostly on time, with one award typed in weeks after its date.

    In recorded order: two awards on 1 March (Zeta then Alfa, the bigger one
    first, so neither name nor amount order is the recorded order), a payment
    on 15 March, an award dated 10 March typed in on 20 March, a reallocation
    of 20.000 kr. to the pool on 15 June, a return, a withdrawal, a payment on
    20 December, and finally, on 20 January 2023, an award dated 10 December.
    """

    def __init__(self, pulje: Pulje, clock: Any) -> None:
        self.zeta = award(pulje, clock, "Zeta Idrætsforening", "10.000", "2022-03-01", recorded="2022-03-02")
        self.alfa = award(pulje, clock, "Alfa Beboerforening", "5.000", "2022-03-01", recorded="2022-03-02")
        disburse(pulje, clock, self.zeta, "4.000", "2022-03-15", recorded="2022-03-16")
        self.gamma = award(pulje, clock, "Gamma Skole", "8.000", "2022-03-10", recorded="2022-03-20")
        at(clock, "2022-06-16")
        pulje.reallocate(
            year=2022, from_line="12", to_line="14", amount=parse_amount("20.000"), date=day("2022-06-15"),
            decided_by=OEKF, decision_ref="ØKF j.nr. 2022-0412", reason="Flere tryghedsvandringer",
        )
        at(clock, "2022-06-21")
        pulje.take_back(grant=self.zeta, amount=parse_amount("1.000"), date=day("2022-06-20"), reason="Ubrugte midler")
        at(clock, "2022-09-02")
        pulje.withdraw(grant=self.alfa, date=day("2022-09-01"), reason="Arrangementet blev aflyst")
        disburse(pulje, clock, self.gamma, "8.000", "2022-12-20", recorded="2022-12-21")
        self.late = award(pulje, clock, "Delta Julemarked", "3.000", "2022-12-10", recorded="2023-01-20")


@pytest.fixture
def year(pulje: Pulje, clock: Any) -> Year:
    return Year(pulje, clock)


#: (kind, date, grant attribute, funding, committed, available) after each step, in effective-date order.
EXPECTED_STEPS = [
    ("pool_opened", "2022-01-01", None, FUNDING, 0, FUNDING),
    ("grant_awarded", "2022-03-01", "zeta", FUNDING, 1_000_000, FUNDING - 1_000_000),
    ("grant_awarded", "2022-03-01", "alfa", FUNDING, 1_500_000, FUNDING - 1_500_000),
    ("grant_awarded", "2022-03-10", "gamma", FUNDING, 2_300_000, FUNDING - 2_300_000),
    ("grant_disbursed", "2022-03-15", "zeta", FUNDING, 2_300_000, FUNDING - 2_300_000),
    ("funding_changed", "2022-06-15", None, FUNDING + 2_000_000, 2_300_000, FUNDING + 2_000_000 - 2_300_000),
    ("grant_returned", "2022-06-20", "zeta", FUNDING + 2_000_000, 2_200_000, FUNDING + 2_000_000 - 2_200_000),
    ("grant_withdrawn", "2022-09-01", "alfa", FUNDING + 2_000_000, 1_700_000, FUNDING + 2_000_000 - 1_700_000),
    ("grant_awarded", "2022-12-10", "late", FUNDING + 2_000_000, 2_000_000, FUNDING + 2_000_000 - 2_000_000),
    ("grant_disbursed", "2022-12-20", "gamma", FUNDING + 2_000_000, 2_000_000, FUNDING + 2_000_000 - 2_000_000),
]


def test_replay_lists_every_decision_in_effective_date_order_with_the_balances_after_each(
    pulje: Pulje, year: Year
) -> None:
    _, steps, head = pulje.replay("BTP", year=2022)

    assert [
        (s.kind, s.date, s.grant, s.funding_ore, s.committed_ore, s.available_ore) for s in steps
    ] == [
        (kind, date, getattr(year, grant) if grant else None, funding, committed, available)
        for kind, date, grant, funding, committed, available in EXPECTED_STEPS
    ]
    assert [s.date for s in steps] == sorted(s.date for s in steps)
    assert head == pulje.status().head


def test_replay_keeps_the_recorded_order_on_a_tie_and_the_date_order_across_dates(pulje: Pulje, year: Year) -> None:
    _, steps, _ = pulje.replay("BTP", year=2022)
    sequences = [s.sequence for s in steps]

    # the two awards of 1 March come in the order they were typed in (Zeta, then Alfa) ...
    first_of_march = [s for s in steps if s.date == "2022-03-01"]
    assert [s.grant for s in first_of_march] == [year.zeta, year.alfa]
    assert first_of_march[0].sequence < first_of_march[1].sequence
    # ... while the award dated 10 March, typed in after the payment of 15 March, comes before it
    gamma = next(s for s in steps if s.grant == year.gamma and s.kind == "grant_awarded")
    paid = next(s for s in steps if s.grant == year.zeta and s.kind == "grant_disbursed")
    assert steps.index(gamma) < steps.index(paid)
    assert gamma.sequence > paid.sequence
    assert sequences != sorted(sequences)  # so the order really is by date, not by recording


def test_the_last_step_of_the_replay_equals_pool_show(pulje: Pulje, year: Year, ledger_db: str) -> None:
    _, steps, _ = pulje.replay("BTP", year=2022)
    shown, _, _ = pulje.pool_show("BTP", year=2022)

    assert balances(steps[-1]) == balances(shown)

    pulje.close()
    cli = Cli(ledger_db)
    replayed = cli.json("replay", "--pool", "BTP", "--year", "2022")
    assert balances(replayed["steps"][-1]) == balances(cli.json("pool", "show", "BTP", "--year", "2022"))
    assert [s["sequence"] for s in replayed["steps"]] == [s.sequence for s in steps]


def test_each_replay_step_names_the_deciding_body_and_the_decision_reference(pulje: Pulje, year: Year) -> None:
    _, steps, _ = pulje.replay("BTP", year=2022)

    awards = [s for s in steps if s.kind == "grant_awarded"]
    assert awards and all(s.decided_by == AG for s in awards)
    assert all(s.decision_ref == f"AG-møde {s.date}, pkt. {len(s.recipient)}" for s in awards)
    assert {s.recipient for s in awards} == {
        "Zeta Idrætsforening", "Alfa Beboerforening", "Gamma Skole", "Delta Julemarked",
    }
    (funding,) = [s for s in steps if s.kind == "funding_changed"]
    assert (funding.decided_by, funding.decision_ref, funding.amount_ore) == (OEKF, "ØKF j.nr. 2022-0412", 2_000_000)
    withdrawn = next(s for s in steps if s.kind == "grant_withdrawn")
    assert withdrawn.reason == "Arrangementet blev aflyst"
    assert withdrawn.amount_ore == 500_000


def test_replay_until_a_date_stops_after_that_date_and_ends_where_pool_show_as_of_that_date_stands(
    pulje: Pulje, year: Year
) -> None:
    _, everything, _ = pulje.replay("BTP", year=2022)
    _, until, _ = pulje.replay("BTP", year=2022, until=day("2022-06-15"))
    shown, _, _ = pulje.pool_show("BTP", year=2022, as_of=day("2022-06-15"))

    assert until == [s for s in everything if s.date <= "2022-06-15"]
    assert until[-1].kind == "funding_changed"  # the date itself is included
    assert balances(until[-1]) == balances(shown)


def test_a_decision_recorded_weeks_after_its_date_is_marked_late_and_replayed_at_its_date(
    pulje: Pulje, year: Year
) -> None:
    _, steps, _ = pulje.replay("BTP", year=2022)

    (late,) = [s for s in steps if s.late]
    assert late.grant == year.late
    assert late.recorded_days_after == (day("2023-01-20") - day("2022-12-10")).days >= 30
    assert late.recorded_at.startswith("2023-01-20T")
    # at its effective-date place: after the withdrawal of September, before the payment of 20 December
    kinds_around = [(s.kind, s.date) for s in steps[steps.index(late) - 1: steps.index(late) + 2]]
    assert kinds_around == [("grant_withdrawn", "2022-09-01"), ("grant_awarded", "2022-12-10"),
                            ("grant_disbursed", "2022-12-20")]
    assert late.sequence == max(s.sequence for s in steps)  # though it was the last thing typed in


def test_the_audit_trail_marks_the_late_decision_and_only_it(pulje: Pulje, year: Year, ledger_db: str) -> None:
    pulje.close()
    events = Cli(ledger_db).json("audit")["events"]

    late = [e for e in events if e["late"]]
    assert [(e["kind"], e["grant"], e["date"]) for e in late] == [("grant_awarded", year.late, "2022-12-10")]
    assert late[0]["recorded_days_after"] >= 30
    assert all(e["recorded_days_after"] < 30 for e in events if not e["late"])


def test_a_decision_recorded_after_new_year_is_absent_from_every_view_recorded_before_new_year(
    pulje: Pulje, year: Year
) -> None:
    new_year = dt.datetime(2023, 1, 1, tzinfo=UTC)

    now_status = next(p for p in pulje.status(year=2022).pools if p.code == "BTP")
    then_status = next(p for p in pulje.status(year=2022, recorded_before=new_year).pools if p.code == "BTP")
    now_pool, now_grants, _ = pulje.pool_show("BTP", year=2022)
    then_pool, then_grants, _ = pulje.pool_show("BTP", year=2022, recorded_before=new_year)
    _, now_steps, _ = pulje.replay("BTP", year=2022)
    _, then_steps, _ = pulje.replay("BTP", year=2022, recorded_before=new_year)

    assert year.late in {g.number for g in now_grants}
    assert year.late not in {g.number for g in then_grants}
    assert year.late in {s.grant for s in now_steps}
    assert year.late not in {s.grant for s in then_steps}
    assert [s.sequence for s in then_steps] == [s.sequence for s in now_steps if s.grant != year.late]
    for now, then in ((now_status, then_status), (now_pool, then_pool)):
        assert now.awarded_ore - then.awarded_ore == 300_000
        assert now.available_ore - then.available_ore == -300_000
        assert then.committed_ore == 1_700_000
    assert balances(then_steps[-1]) == balances(then_pool)


def test_the_command_line_leaves_out_the_late_decision_with_recorded_before(
    pulje: Pulje, year: Year, ledger_db: str
) -> None:
    pulje.close()
    cli = Cli(ledger_db)
    before = ("--recorded-before", "2023-01-01")

    def btp(status: dict[str, Any]) -> dict[str, Any]:
        return next(p for p in status["pools"] if p["code"] == "BTP")

    assert btp(cli.json("status"))["awarded_ore"] - btp(cli.json("status", *before))["awarded_ore"] == 300_000
    assert year.late in {g["grant"] for g in cli.json("pool", "show", "BTP", "--year", "2022")["grants"]}
    assert year.late not in {g["grant"] for g in cli.json("pool", "show", "BTP", "--year", "2022", *before)["grants"]}
    replay = ("replay", "--pool", "BTP", "--year", "2022")
    assert year.late in {s["grant"] for s in cli.json(*replay)["steps"]}
    assert year.late not in {s["grant"] for s in cli.json(*replay, *before)["steps"]}
    assert cli.json("status", *before)["recorded_before"] == "2023-01-01T00:00:00Z"


# ---------------------------------------------------------------------- as-of and recorded-before together


@pytest.fixture
def three_awards(pulje: Pulje, clock: Any) -> dict[str, str]:
    """A: dated 1 March, typed in 2 March. B: dated 1 May, typed in 15 July. C: dated 1 August, typed in 2 August."""
    return {
        "A": award(pulje, clock, "Alfa", "1.000", "2022-03-01", recorded="2022-03-02"),
        "B": award(pulje, clock, "Beta", "2.000", "2022-05-01", recorded="2022-07-15"),
        "C": award(pulje, clock, "Gamma", "4.000", "2022-08-01", recorded="2022-08-02"),
    }


@pytest.mark.parametrize(
    ("as_of", "recorded_before", "visible"),
    [
        (None, None, "ABC"),
        ("2022-06-30", None, "AB"),
        (None, "2022-07-01", "A"),
        (None, "2022-08-10", "ABC"),
        ("2022-06-30", "2022-07-01", "A"),  # B was decided by then, but nobody had typed it in
        ("2022-06-30", "2022-07-20", "AB"),
        ("2022-06-30", "2022-08-10", "AB"),  # C was typed in, but decided later
        ("2022-02-28", "2022-08-10", ""),
    ],
)
def test_as_of_and_recorded_before_together_keep_only_what_was_both_decided_and_known(
    pulje: Pulje, three_awards: dict[str, str], as_of: str | None, recorded_before: str | None, visible: str
) -> None:
    amounts = {"A": 100_000, "B": 200_000, "C": 400_000}
    as_of_date = day(as_of) if as_of else None
    moment = dt.datetime.combine(day(recorded_before), dt.time(0), UTC) if recorded_before else None
    expected = {three_awards[name] for name in visible}

    shown, grants, _ = pulje.pool_show("BTP", year=2022, as_of=as_of_date, recorded_before=moment)
    status = pulje.status(year=2022, as_of=as_of_date, recorded_before=moment)
    (status_pool,) = [p for p in status.pools if p.code == "BTP"]
    _, steps, _ = pulje.replay("BTP", year=2022, until=as_of_date, recorded_before=moment)

    assert {g.number for g in grants} == expected
    assert {s.grant for s in steps if s.kind == "grant_awarded"} == expected
    assert shown.awarded_ore == status_pool.awarded_ore == sum(amounts[name] for name in visible)
    assert balances(steps[-1]) == balances(shown) == balances(status_pool)


def test_as_of_and_recorded_before_together_on_the_command_line(
    pulje: Pulje, three_awards: dict[str, str], ledger_db: str
) -> None:
    pulje.close()
    cli = Cli(ledger_db)

    both = cli.json("pool", "show", "BTP", "--year", "2022", "--as-of", "2022-06-30", "--recorded-before", "2022-07-20")
    known_then = cli.json("pool", "show", "BTP", "--year", "2022", "--as-of", "2022-06-30",
                          "--recorded-before", "2022-07-01")

    assert [g["grant"] for g in both["grants"]] == [three_awards["A"], three_awards["B"]]
    assert [g["grant"] for g in known_then["grants"]] == [three_awards["A"]]
    assert (both["as_of"], both["recorded_before"]) == ("2022-06-30", "2022-07-20T00:00:00Z")


# ---------------------------------------------------------------------- the TIMESTAMP option


@pytest.fixture
def around_new_year(pulje: Pulje, clock: Any, ledger_db: str) -> tuple[Cli, str, str]:
    """One award typed in one second before New Year (UTC), one a second after."""
    clock.now = dt.datetime(2022, 12, 31, 23, 59, 58, tzinfo=UTC)
    before = award_now(pulje, "Nytårsaften", "2022-12-31")
    clock.now = dt.datetime(2023, 1, 1, 0, 0, 0, tzinfo=UTC)
    after = award_now(pulje, "Nytårsdag", "2022-12-31")
    pulje.close()
    return Cli(ledger_db), before, after


def award_now(pulje: Pulje, recipient: str, date: str) -> str:
    return pulje.award(
        pool="BTP", year=2022, recipient=recipient, purpose="Nytårsarrangement", area=None,
        amount=parse_amount("1.000"), requested=None, date=day(date), decided_by=AG, decision_ref="AG-mail",
    ).grant


READING_COMMANDS = {
    "status": ("status",),
    "pool show": ("pool", "show", "BTP", "--year", "2022"),
    "replay": ("replay", "--pool", "BTP", "--year", "2022"),
}


@pytest.mark.parametrize("command", READING_COMMANDS)
def test_a_date_utc_and_an_offset_naming_the_same_moment_give_the_same_answer(
    around_new_year: tuple[Cli, str, str], command: str
) -> None:
    cli, before, after = around_new_year
    args = READING_COMMANDS[command]

    answers = [
        cli.json(*args, "--recorded-before", moment)
        for moment in ("2023-01-01", "2023-01-01T00:00:00Z", "2023-01-01T01:00+01:00", "2022-12-31T19:00-05:00")
    ]

    assert all(answer == answers[0] for answer in answers[1:])
    assert answers[0]["recorded_before"] == "2023-01-01T00:00:00Z"
    assert awarded(answers[0]) == 100_000  # the award typed in at 23:59:59 UTC, not the one at 00:00:01
    # an hour earlier in UTC is another moment: the award typed in at 23:59:59 is not known yet
    assert awarded(cli.json(*args, "--recorded-before", "2023-01-01T00:00+01:00")) == 0
    assert awarded(cli.json(*args)) == 200_000
    if command != "status":
        text = json.dumps(answers[0])
        assert before in text and after not in text


def awarded(answer: dict[str, Any]) -> int:
    """What `status`, `pool show` or `replay` says was awarded from BTP."""
    if "steps" in answer:
        return answer["steps"][-1]["awarded_ore"]
    if "pools" in answer:
        return next(p for p in answer["pools"] if p["code"] == "BTP")["awarded_ore"]
    return answer["awarded_ore"]


@pytest.mark.parametrize("command", READING_COMMANDS)
@pytest.mark.parametrize(
    "moment",
    [
        "2023-13-01", "01-01-2023", "2023-01-01T10:00", "yesterday",
        "2023-02-30", "2023-01-01T25:00Z", "２０２３-01-01", "",
    ],
)
def test_a_timestamp_in_a_wrong_form_is_a_usage_error_in_one_sentence(
    pulje: Pulje, ledger_db: str, command: str, moment: str
) -> None:
    pulje.close()
    cli = Cli(ledger_db)
    head_before = cli.json("status")["head"]

    result = cli(*READING_COMMANDS[command], "--recorded-before", moment, "--format", "json")

    assert result.exit_code == 2, explain(result)
    assert result.stdout == "", explain(result)
    assert "Traceback" not in result.output
    message = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("Usage:", "Try '"))]
    assert len(message) == 1, explain(result)
    assert "--recorded-before" in message[0] and repr(moment) in message[0], message[0]
    assert cli.json("status")["head"] == head_before != GENESIS
