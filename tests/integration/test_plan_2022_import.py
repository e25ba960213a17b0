"""The adopted 2022 plan holds the document's figures, line by line and year by year.

The expected figures are the ones typed from the document in
tests/unit/test_plan_2022_document.py; here they go through the importer,
the events and the read models, as `pulje plan show` shows them, on SQLite
and on PostgreSQL (`pulje_on` runs each test on both backends).
"""

from __future__ import annotations

from ledger.service import Pulje
from tests.unit.test_plan_2022_document import ACTIVITY, OVERVIEW, UDGAAR


def test_every_line_and_year_of_the_adopted_plan_matches_the_document(pulje_on: Pulje) -> None:
    [view], _ = pulje_on.plan_show(year=2022)
    years = {(r.line, str(r.year)): r for r in view.years}
    assert [line.line for line in view.lines] == [line for line, _, _ in OVERVIEW]
    for line, _, figures in OVERVIEW:
        assert {y for (no, y) in years if no == line} == set(figures), line
        for year, figure in figures.items():
            row = years[(line, year)]
            if figure == UDGAAR:
                assert row.discontinued and row.budget_ore == 0, (line, year)
            else:
                assert row.total_ore == figure * 100 and row.budget_ore == figure * 100, (line, year)
            posts = ACTIVITY.get(line, {}).get(year, {})
            assert row.posts == {name: kroner * 100 for name, kroner in posts.items()}, (line, year)
            assert row.preliminary == (year in ("2023", "2024")), (line, year)


def test_the_pools_open_with_their_lines_budget_in_the_plan_year(pulje_on: Pulje) -> None:
    status = pulje_on.status(year=2022)
    funding = {pool.code: pool.funding_ore for pool in status.pools}
    assert funding == {"BTP": 10_700_000, "VP": 1_000_000}
    assert sum(r.budget_ore for r in status.plans[0].years if r.year == 2022) == 197_000_000


def test_a_new_session_reads_the_same_plan_back_from_storage(pulje_on: Pulje, ledger_db: str) -> None:
    """What the importing session shows is what another session reads from the stored views."""
    before, head = pulje_on.plan_show(year=2022)
    pulje_on.close()
    with Pulje(ledger_db, "reader", create=False) as reader:
        after, again = reader.plan_show(year=2022)
        assert again == head
        assert [(v.plan, v.lines, sorted(v.years, key=lambda r: (r.line, r.year))) for v in after] == [
            (v.plan, v.lines, sorted(v.years, key=lambda r: (r.line, r.year))) for v in before
        ]
