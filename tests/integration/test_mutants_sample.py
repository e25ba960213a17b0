"""Tests written against a sample of the mutants that survived mutation testing (docs/mutation.md).

They pin what the other tests left loose: every refusal of a plan file with
its exact sentence and the key it names; a ledger that holds plans for more
than one year and more than one partnership, where choosing a plan, a pool
or a grant by year and partnership must pick exactly one; what an
idempotency key records (command, digest, actor) for each kind of write; the
extra figures a write reports; reading the audit by date and a missing
sequence number; the views kept current inside the write that records an
event; `verify` on a log reordered behind the program's back and on views
edited by hand; the demo year built, refused and rebuilt; a closed pool's
snapshot and a plan whose budgets no longer add up.

Each test works on real SQLite files in tmp; conftest's `pulje` session has
the 2022 plan adopted and a clock that ticks one second per reading.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import RecordConflictError

import ledger.app as app_module
from domain import ids
from domain.errors import AmbiguousError, NotFoundError, ReversalError
from domain.money import Money, parse_amount
from ledger.app import StorageConflictError
from ledger.demo import DemoClock, build_demo, record_year
from ledger.files import write_atomic
from ledger.planfile import PlanFileError, parse_plan, read_plan_file
from ledger.queries import ViewReader
from ledger.service import LocationError, Pulje
from ledger.verify import compare_tables, verify
from ledger.views import create_views
from projections.model import GrantRow, decode_row, encode_row
from tests.conftest import BTP_ID_2022 as BTP
from tests.conftest import PARTNERSHIP_2022 as PARTNERSHIP
from tests.conftest import PLAN_2022, TickingClock
from tests.conftest import PLAN_ID_2022 as PLAN

AG = "arbejdsgruppen"
OEKF = "Økonomiforvaltningen"
NAME = "testplan.toml"

HEAD = (
    '[plan]\npartnership = "Testby"\ntitle = "Tryghedsplan 2022"\nyear = 2022\n'
    'areas = ["Tryggere byliv", "Fællesskaber"]\n'
)
AUTHORITY = '[authority]\nreallocation = "Økonomiforvaltningen"\n'
LINE = '[[line]]\nno = "1"\nname = "Fælleshaven"\n[line.budget.2022]\ntotal = 220000\n'


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def problems_of(text: str) -> list[str]:
    with pytest.raises(PlanFileError) as refused:
        parse_plan(text.encode(), NAME)
    return refused.value.problems


def award(pulje: Pulje, recipient: str, amount: str, date: str = "2022-03-01", **more: Any) -> Any:
    return pulje.award(
        pool="BTP", year=2022, recipient=recipient, purpose=f"Arrangement for {recipient}", area="Tryggere byliv",
        amount=parse_amount(amount), requested=None, date=day(date), decided_by=AG, decision_ref=f"AG-møde {date}",
        **more,
    )


def digest(command: str, content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([command, content], sort_keys=True).encode()).hexdigest()


def key_event(pulje: Pulje, key: str) -> Any:
    (recorded,) = pulje.ledger.events_of(ids.command_key_id(key))
    return recorded


def plan_variant(tmp_path: Path, partnership: str, year: int) -> Path:
    """The 2022 plan file as another partnership's or another year's plan."""
    text = PLAN_2022.read_text(encoding="utf-8")
    text = text.replace('partnership = "Tingbjerg-Husum"', f'partnership = "{partnership}"', 1)
    text = text.replace("\nyear = 2022\n", f"\nyear = {year}\n", 1)
    path = tmp_path / f"{partnership}-{year}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def several(pulje: Pulje, tmp_path: Path) -> Pulje:
    """Tingbjerg-Husum's plans for 2022 and 2023 and Folehaven's for 2022, each with its BTP and VP."""
    pulje.import_plan(plan_variant(tmp_path, PARTNERSHIP, 2023))
    pulje.import_plan(plan_variant(tmp_path, "Folehaven", 2022))
    return pulje


# ---------------------------------------------------------------------- plan files


def test_a_folder_given_as_plan_file_is_refused_naming_the_folder(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError) as refused:
        read_plan_file(tmp_path)
    assert (refused.value.path, refused.value.problems, refused.value.unreadable) == (
        str(tmp_path), [f"{tmp_path}: is a folder, not a plan file"], True
    )


def test_a_file_name_with_a_nul_character_is_refused_as_unreadable() -> None:
    with pytest.raises(PlanFileError) as refused:
        read_plan_file("plan\x00.toml")
    assert (refused.value.path, refused.value.problems, refused.value.unreadable) == (
        "'plan\\x00.toml'", ["'plan\\x00.toml': is not a file name"], True
    )


def test_a_plan_file_with_nul_bytes_or_nothing_in_it_is_refused_naming_the_file() -> None:
    with pytest.raises(PlanFileError) as nul:
        parse_plan(HEAD.encode() + b"\x00", NAME)
    assert (nul.value.path, nul.value.problems, nul.value.unreadable) == (
        NAME, [f"{NAME}: contains NUL bytes; a plan file is UTF-8 text"], True
    )
    with pytest.raises(PlanFileError) as empty:
        parse_plan(b" \n", NAME)
    assert (empty.value.path, empty.value.problems, empty.value.unreadable) == (
        NAME, [f"{NAME}: is empty; see plans/README.md for what a plan file holds"], True
    )


def test_a_plan_whose_areas_or_source_are_not_texts_is_refused_naming_the_key() -> None:
    text = HEAD.replace('areas = ["Tryggere byliv", "Fællesskaber"]', 'areas = "Tryggere byliv"\nsource = 7')
    assert problems_of(text + AUTHORITY + LINE) == [
        f"{NAME}: plan.source: must be non-empty text, not 7",
        f"{NAME}: plan.areas: must be a list of non-empty texts",
    ]


def test_a_plan_without_a_reallocation_authority_is_refused_naming_the_key() -> None:
    assert problems_of(HEAD + '[authority]\nadoption = "Styregruppen"\n' + LINE) == [
        f"{NAME}: authority.reallocation: missing"
    ]


def test_the_adopting_body_is_the_one_the_file_names_and_otherwise_the_reallocating_one() -> None:
    named = parse_plan((HEAD + AUTHORITY + 'adoption = "Styregruppen"\n' + LINE).encode(), NAME).spec
    unnamed = parse_plan((HEAD + AUTHORITY + LINE).encode(), NAME).spec
    assert (named.adoption_body, named.reallocation_body) == ("Styregruppen", OEKF)
    assert (unnamed.adoption_body, unnamed.reallocation_body) == (OEKF, OEKF)


def test_a_plan_with_an_empty_list_of_lines_is_refused() -> None:
    assert problems_of("line = []\n" + HEAD + AUTHORITY) == [
        f"{NAME}: line: missing: a plan needs at least one [[line]]"
    ]


def test_a_line_in_an_area_the_plan_does_not_have_is_refused_listing_the_plans_areas() -> None:
    line = LINE.replace('name = "Fælleshaven"\n', 'name = "Fælleshaven"\nareas = ["Beskæftigelse"]\n')
    assert problems_of(HEAD + AUTHORITY + line) == [
        f"{NAME}: line[1] (no 1).areas: 'Beskæftigelse' is not one of the plan's areas (Tryggere byliv, Fællesskaber)"
    ]


def test_a_line_whose_new_flag_is_not_true_or_false_is_refused_naming_the_line() -> None:
    line = LINE.replace('name = "Fælleshaven"\n', 'name = "Fælleshaven"\nnew = "ja"\n')
    assert problems_of(HEAD + AUTHORITY + line) == [f"{NAME}: line[1] (no 1).new: must be true or false, not 'ja'"]


def test_a_line_without_a_budget_is_read_as_a_line_with_no_budgets() -> None:
    plan_file = parse_plan((HEAD + AUTHORITY + LINE + '[[line]]\nno = "2"\nname = "Uden budget"\n').encode(), NAME)
    assert [(line.line, line.budgets) for line in plan_file.spec.lines][1] == ("2", ())
    assert plan_file.totals() == {2022: (Money.kroner(220_000), False)}


def test_a_budget_year_that_is_not_a_table_is_refused_naming_the_year() -> None:
    line = '[[line]]\nno = "1"\nname = "Fælleshaven"\n[line.budget]\n2022 = 220000\n'
    assert problems_of(HEAD + AUTHORITY + line) == [
        f"{NAME}: line[1] (no 1).budget.2022: must be a table (total, posts, preliminary, discontinued, note)"
    ]


def test_budget_posts_that_are_not_a_table_are_refused_naming_the_key() -> None:
    assert problems_of(HEAD + AUTHORITY + LINE + "posts = 220000\n") == [
        f"{NAME}: line[1] (no 1).budget.2022.posts: must be a table of post name = amount"
    ]


def test_a_budget_figure_one_krone_above_ten_billion_is_too_large_and_ten_billion_is_not() -> None:
    assert problems_of(HEAD + AUTHORITY + LINE.replace("220000", "10000000001")) == [
        f"{NAME}: line[1] (no 1).budget.2022.total: 10000000001 is too large for one budget figure"
    ]
    largest = parse_plan((HEAD + AUTHORITY + LINE.replace("220000", "10000000000")).encode(), NAME)
    assert largest.totals() == {2022: (Money.kroner(10_000_000_000), False)}


def test_pools_that_are_not_an_array_of_tables_are_refused() -> None:
    assert problems_of('pool = "BTP"\n' + HEAD + AUTHORITY + LINE) == [
        f"{NAME}: pool: must be an array of tables ([[pool]])"
    ]


# ---------------------------------------------------------------------- several plans in one ledger


def test_status_for_a_year_shows_only_that_years_plans_and_pools(several: Pulje) -> None:
    status = several.status(year=2023, partnership=PARTNERSHIP)
    assert [(p.plan.partnership, p.plan.year) for p in status.plans] == [(PARTNERSHIP, 2023)]
    assert [(p.partnership, p.year, p.code) for p in status.pools] == [
        (PARTNERSHIP, 2023, "BTP"), (PARTNERSHIP, 2023, "VP")
    ]
    every_2022 = several.status(year=2022)
    assert [p.plan.partnership for p in every_2022.plans] == ["Folehaven", PARTNERSHIP]


def test_an_award_goes_to_the_pool_of_the_year_and_partnership_named(several: Pulje) -> None:
    recorded = award(several, "Beboerforeningen", "6.500", partnership=PARTNERSHIP)
    assert recorded.grant == "BTP-2022-001"
    assert recorded.event_id == str(ids.event_id(BTP, 2))


def test_an_unknown_pool_is_refused_listing_only_the_pools_of_that_year(several: Pulje) -> None:
    with several.reader() as views, pytest.raises(NotFoundError) as refused:
        views.pool("XP", 2023, PARTNERSHIP)
    assert refused.value.message == (
        "no pool 'XP' in 2023 (pools in 2023: bylivs-og-tryghedspulje (BTP), videnspulje (VP))"
    )


def test_the_ultimo_report_of_one_pool_is_of_the_named_years_and_partnerships_plan(several: Pulje) -> None:
    award(several, "Beboerforeningen", "6.500", partnership=PARTNERSHIP)
    report = several.ultimo(year=2022, pool="BTP", partnership=PARTNERSHIP)
    whole = several.ultimo(year=2022, partnership=PARTNERSHIP)
    assert [(p["code"], p["partnership"], p["year"], p["awarded_ore"]) for p in report["pools"]] == [
        ("BTP", PARTNERSHIP, 2022, 650_000)
    ]
    assert [p["code"] for p in whole["pools"]] == ["BTP", "VP"]


def test_a_grant_is_found_by_number_within_the_partnership_named(several: Pulje) -> None:
    award(several, "Beboerforeningen", "6.500", partnership=PARTNERSHIP)
    award(several, "Folehavens klub", "4.000", partnership="Folehaven")
    with several.reader() as views:
        pool, grant = views.grant("btp-2022-001", PARTNERSHIP)
        with pytest.raises(AmbiguousError) as refused:
            views.grant("BTP-2022-001")
    assert (pool.partnership, grant.recipient) == (PARTNERSHIP, "Beboerforeningen")
    assert refused.value.message == "grant 'BTP-2022-001' exists for Tingbjerg-Husum, Folehaven; add --partnership NAME"


def test_a_grant_number_is_found_typed_in_another_case_than_a_mixed_case_pool_code(
    pulje: Pulje, tmp_path: Path
) -> None:
    text = PLAN_2022.read_text(encoding="utf-8").replace('code = "BTP"', 'code = "Btp"')
    text = text.replace('partnership = "Tingbjerg-Husum"', 'partnership = "Husum"', 1)
    path = tmp_path / "husum.toml"
    path.write_text(text, encoding="utf-8")
    pulje.import_plan(path)
    assert award(pulje, "Husums klub", "3.000", partnership="Husum").grant == "Btp-2022-001"
    with pulje.reader() as views:
        pool, grant = views.grant("btp-2022-001")
    assert (pool.partnership, grant.number) == ("Husum", "Btp-2022-001")


def test_the_demo_year_can_be_recorded_into_a_ledger_that_holds_the_next_years_plan(tmp_path: Path) -> None:
    clock = DemoClock()
    with Pulje(str(tmp_path / "demo.db"), "sekretariatet", clock=clock) as pulje:
        pulje.import_plan(plan_variant(tmp_path, PARTNERSHIP, 2023))
        record_year(pulje, clock)
        vp = pulje.pool_show("VP", year=2022)
    assert [(g.number, g.recipient) for g in vp[1]] == [
        ("VP-2022-001", "Sikker By, tryghedspartnerskabernes følgegruppe")
    ]


# ---------------------------------------------------------------------- what a write records


def test_an_award_key_records_a_digest_of_the_recipient_area_and_deciding_body(pulje: Pulje) -> None:
    award(pulje, "Beboerforeningen", "6.500", key="a-1")
    content = {
        "pool": str(BTP), "recipient": "Beboerforeningen", "purpose": "Arrangement for Beboerforeningen",
        "area": "Tryggere byliv", "amount": 650_000, "requested": None, "date": "2022-03-01", "decided_by": AG,
        "decision_ref": "AG-møde 2022-03-01",
    }
    recorded = key_event(pulje, "a-1")
    expected = ("grant award", digest("grant award", content), "test")
    assert (recorded.command, recorded.digest, recorded.actor) == expected


def test_a_reallocation_key_records_the_command_and_a_digest_of_the_decision(pulje: Pulje) -> None:
    pulje.reallocate(
        year=2022, from_line="12", to_line="14", amount=parse_amount("20.000"), date=day("2022-06-15"),
        decided_by=OEKF, decision_ref="ØKF j.nr. 2022-0412", reason="Flere tryghedsvandringer", key="r-1",
    )
    content = {
        "plan": str(PLAN), "year": 2022, "from": "12", "to": "14", "amount": 2_000_000, "date": "2022-06-15",
        "decided_by": OEKF, "decision_ref": "ØKF j.nr. 2022-0412", "reason": "Flere tryghedsvandringer",
    }
    recorded = key_event(pulje, "r-1")
    assert (recorded.command, recorded.digest) == ("reallocate", digest("reallocate", content))


def test_return_withdrawal_and_close_keys_record_their_command_digest_and_actor(pulje: Pulje) -> None:
    award(pulje, "Beboerforeningen", "6.500")
    award(pulje, "Klubben", "4.000")
    pulje.disburse(grant="BTP-2022-001", amount=parse_amount("6.500"), date=day("2022-03-02"), payment_ref="B-1")
    pulje.actor = "revisor"
    same = {"grant": "BTP-2022-001", "amount": parse_amount("500"), "date": day("2022-04-01"), "reason": "Ubrugt"}
    first = pulje.take_back(**same, key="t-1")
    again = pulje.take_back(**same, key="t-1")
    pulje.withdraw(grant="BTP-2022-002", date=day("2022-05-01"), reason="Aflyst", key="w-1")
    pulje.close_pool(pool="BTP", year=2022, date=day("2022-12-15"), decided_by=AG, decision_ref="AG-møde", key="c-1")
    assert (first.repeated, again.repeated, again.sequence) == (False, True, first.sequence)
    returned = {"grant": "BTP-2022-001", "amount": 50_000, "date": "2022-04-01", "reason": "Ubrugt"}
    withdrawn = {"grant": "BTP-2022-002", "date": "2022-05-01", "reason": "Aflyst"}
    closed = {"pool": str(BTP), "date": "2022-12-15", "decided_by": AG, "decision_ref": "AG-møde"}
    found = [key_event(pulje, k) for k in ("t-1", "w-1", "c-1")]
    assert [(e.command, e.digest, e.actor) for e in found] == [
        ("grant return", digest("grant return", returned), "revisor"),
        ("grant withdraw", digest("grant withdraw", withdrawn), "revisor"),
        ("pool close", digest("pool close", closed), "revisor"),
    ]


def test_a_withdrawal_reports_the_money_it_released(pulje: Pulje) -> None:
    award(pulje, "Klubben", "4.000")
    pulje.disburse(grant="BTP-2022-001", amount=parse_amount("1.500"), date=day("2022-03-02"), payment_ref="B-1")
    recorded = pulje.withdraw(grant="BTP-2022-001", date=day("2022-05-01"), reason="Aflyst")
    assert recorded.extra == {"released_ore": 250_000}


def test_a_payment_from_a_pool_that_does_not_exist_is_refused_as_no_pool(pulje: Pulje) -> None:
    missing = ids.pool_id(PARTNERSHIP, "ingen", 2022)
    with pytest.raises(NotFoundError) as refused:
        pulje.ledger.disburse(
            pool_id=missing, number="BTP-2022-001", amount=parse_amount("100"), date=day("2022-03-02"),
            payment_ref=None, actor="test",
        )
    assert refused.value.message == f"no pool with id {missing}"


def test_reversing_a_key_event_is_refused_naming_its_kind(pulje: Pulje) -> None:
    recorded = award(pulje, "Beboerforeningen", "6.500", key="a-1")
    key_sequence = recorded.sequence + 1
    assert pulje.locate(str(key_sequence))[2] == "key_recorded"
    with pytest.raises(ReversalError) as refused:
        pulje.reverse(str(key_sequence), reason="Fejl")
    assert refused.value.message == (
        f"event {key_sequence} is a command key, which cannot be reversed; only reallocations, grant awards, "
        "payments, returns and withdrawals can (record a new decision instead)"
    )


def test_an_event_of_a_kind_this_version_does_not_know_is_named_by_its_class_and_not_reversed(pulje: Pulje) -> None:
    recorded = award(pulje, "Beboerforeningen", "6.500", key="a-1")
    key_sequence = recorded.sequence + 1
    store = pulje.ledger.store
    with store.write() as c:
        c.execute("UPDATE {events} SET topic = 'domain.keys:CommandKey.Renamed' WHERE {nid} = ?", (key_sequence,))
    assert pulje.locate(str(key_sequence))[1:] == (1, "CommandKey.Renamed")
    with pytest.raises(ReversalError) as refused:
        pulje.reverse(str(key_sequence), reason="Fejl")
    assert refused.value.message.startswith(f"event {key_sequence} is CommandKey.Renamed, which cannot be reversed; ")


def test_a_write_that_keeps_colliding_gives_up_counting_its_attempts(
    pulje: Pulje, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "RETRY_SECONDS", 0.05)
    attempts = []

    def collide() -> Any:
        attempts.append(1)
        raise RecordConflictError("taken")

    with pytest.raises(StorageConflictError) as refused:
        pulje.ledger._retrying(collide)
    assert len(attempts) > 1
    assert str(refused.value) == (
        f"other writers kept changing the same records for 0 s ({len(attempts)} attempts); nothing recorded"
    )


# ---------------------------------------------------------------------- reading


def test_the_audit_from_a_date_holds_the_events_on_and_after_it(pulje: Pulje) -> None:
    award(pulje, "Beboerforeningen", "6.500", date="2022-03-01")
    award(pulje, "Klubben", "4.000", date="2022-04-01")
    rows, _, _ = pulje.audit(since=day("2022-03-02"))
    assert [(r.kind, r.date) for r in rows] == [("grant_awarded", "2022-04-01")]


def test_no_event_is_found_at_a_sequence_number_past_the_head(pulje: Pulje) -> None:
    with pulje.reader() as views:
        head = views.head()
        assert views.event_at(head[0]).sequence == head[0]
        assert views.event_at(head[0] + 1) is None


def test_a_write_brings_the_views_along_in_its_own_transaction(pulje: Pulje) -> None:
    ledger = pulje.ledger
    ledger.award(
        pool_id=BTP, recipient="Klubben", purpose="Fodbold", area=None, amount=parse_amount("4.000"), requested=None,
        date=day("2022-03-01"), decided_by=AG, decision_ref="AG-møde", actor="test",
    )
    with ledger.store.read() as c:
        assert ViewReader(c).head() == ledger.store.head()
        assert [g.recipient for g in ViewReader(c).grants(str(BTP))] == ["Klubben"]


def test_creating_views_that_are_current_reports_nothing_to_rebuild(pulje: Pulje) -> None:
    award(pulje, "Klubben", "4.000")
    with pulje.ledger.store.write() as c:
        assert create_views(c) is False
    with pulje.ledger.store.read() as c:
        assert [g.recipient for g in ViewReader(c).grants(str(BTP))] == ["Klubben"]


def test_an_empty_ledger_has_no_last_notification(tmp_path: Path) -> None:
    with Pulje(str(tmp_path / "empty.db"), "test", clock=TickingClock()) as pulje:
        store = pulje.ledger.store
        with store.read() as c:
            assert store.last_notification(c) == 0


# ---------------------------------------------------------------------- verify


def test_verify_names_a_log_whose_last_two_events_were_swapped_as_reordered(pulje: Pulje) -> None:
    award(pulje, "Beboerforeningen", "6.500")
    award(pulje, "Klubben", "4.000")
    store = pulje.ledger.store
    last = store.head()[0]
    with store.write() as c:
        c.execute("UPDATE event_chain SET notification_id = -1 WHERE position = ?", (last,))
        c.execute("UPDATE event_chain SET notification_id = ? WHERE position = ?", (last, last - 1))
        c.execute("UPDATE event_chain SET notification_id = ? WHERE position = ?", (last - 1, last))
    report = verify(pulje.ledger)
    assert ("chain", last, "the log's order disagrees with the chain (events reordered)") in [
        (p.check, p.position, p.message) for p in report.problems
    ]
    assert not [p for p in report.problems if "no event behind them" in p.message]


def test_views_edited_by_hand_are_named_row_by_row(pulje: Pulje) -> None:
    award(pulje, "Beboerforeningen", "6.500")
    store = pulje.ledger.store
    with store.write() as c:
        c.execute("SELECT data FROM view_grants")
        (data,) = c.fetchone()
        row = decode_row(GrantRow, data)
        row.recipient, row.purpose = "Andre", "Andet"
        c.execute("UPDATE view_grants SET data = ?", (encode_row(row),))
        c.execute("DELETE FROM view_line_years WHERE line = '14' AND year = 2022")
    found = list(compare_tables(store, pulje.ledger.full_replay()))
    assert found == [
        f"view line_years row {PLAN}/14/2022 is missing",
        f"view grants row {BTP}/BTP-2022-001 differs from a replay in recipient, purpose",
    ]


# ---------------------------------------------------------------------- demo and files


def test_the_demo_is_refused_over_an_existing_file_and_replaces_it_with_force(tmp_path: Path) -> None:
    db, out = tmp_path / "demo.db", str(tmp_path / "out")
    db.write_text("not a ledger")
    with pytest.raises(LocationError) as refused:
        build_demo(str(db), out)
    built = build_demo(str(db), out, force=True)
    assert str(refused.value) == f"{db} already exists; choose another --db/--out or add --force to replace"
    with Pulje(str(db), "test") as pulje:
        assert pulje.ledger.store.head()[0] == built.events > 0


def test_the_demo_in_a_database_of_an_unknown_kind_is_refused_naming_the_scheme(tmp_path: Path) -> None:
    with pytest.raises(LocationError) as refused:
        build_demo("mysql://host/demo", str(tmp_path / "out"))
    assert str(refused.value) == (
        "unknown database scheme 'mysql' (host host): give an SQLite file path or a postgresql:// URL"
    )


def test_a_file_written_with_force_replaces_the_one_there(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"old")
    write_atomic(str(path), b"new", force=True)
    assert path.read_bytes() == b"new"


# ---------------------------------------------------------------------- domain


def test_a_closed_pools_snapshot_keeps_the_day_it_closed(pulje: Pulje) -> None:
    pulje.close_pool(pool="BTP", year=2022, date=day("2022-12-15"), decided_by=AG, decision_ref="AG-møde")
    pool = pulje.ledger.repository.get(BTP)
    assert pool.snapshot_state()["closed_on"] == "2022-12-15"


def test_a_plan_whose_budgets_no_longer_add_up_names_the_year_and_both_sums(pulje: Pulje) -> None:
    plan = pulje.ledger.repository.get(PLAN)
    plan.lines["14"].timelines[2022].add(day("2022-02-01"), 99, 10_000)
    total = plan.total(2022)
    assert plan.problems() == [
        f"the 2022 budgets of the 2022 plan sum to {total.format()}, not the adopted {(total - Money(10_000)).format()}"
    ]
