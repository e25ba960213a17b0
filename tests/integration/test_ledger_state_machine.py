"""The ledger on SQLite and on PostgreSQL, driven by random sequences of commands.

A hypothesis state machine records plans, reallocations, awards, payments,
returns, withdrawals, closes, reversals and restarts in any order, with dates
that jump back and forth, and checks after every step that money is
conserved, no pool is overspent, no grant pays out more than awarded or takes
back more than it paid, the pool's funding follows its line, a refused
command wrote nothing, and the stored read models equal a full replay.

The same machine runs on both backends (the `backend` fixture): each example
gets a new SQLite file, or a schema of its own on the PostgreSQL test server,
dropped when the example ends. PostgreSQL runs fewer examples: every example
creates and drops a schema and every command is a round trip to the server.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test,
)

from domain.errors import DomainError
from domain.money import Money
from ledger.service import Pulje
from tests.conftest import PostgresSchema, TickingClock, _postgres_base

SMALL_PLAN = """
[plan]
partnership = "Testby"
title = "Tryghedsplan 2022"
year = 2022
areas = ["Tryggere byliv", "Positive fællesskaber"]

[authority]
reallocation = "Økonomiforvaltningen"

[[line]]
no = "1"
name = "Fælleshave"
[line.budget.2022]
total = 50000

[[line]]
no = "2"
name = "Kommunikation"
[line.budget.2022]
total = 30000

[[line]]
no = "3"
name = "Bylivspulje"
[line.budget.2022]
total = 40000

[[line]]
no = "4"
name = "Videnspulje"
[line.budget.2022]
total = 10000

[[pool]]
id = "bylivspulje"
code = "BP"
name = "Bylivspulje"
line = "3"
decided_by = "arbejdsgruppen"

[[pool]]
id = "videnspulje"
code = "VP"
name = "Videnspulje"
line = "4"
decided_by = "arbejdsgruppen"
"""

TOTAL_2022 = Money.kroner(130000).ore
POOLS = {"BP": "3", "VP": "4"}
days = st.integers(min_value=0, max_value=364).map(lambda n: dt.date(2022, 1, 1) + dt.timedelta(days=n))
kroner = st.integers(min_value=1, max_value=9000).map(Money.kroner)
small = st.integers(min_value=1, max_value=2500).map(Money.kroner)
later = st.one_of(days, st.integers(min_value=250, max_value=364).map(lambda n: dt.date(2022, 1, 1) + dt.timedelta(days=n)))


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, postgres_base: str | None = None) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="pulje-sm-"))
        self.schema = PostgresSchema(postgres_base) if postgres_base else None
        self.db = self.schema.url if self.schema else str(self.dir / "ledger.db")
        self.clock = TickingClock()
        self.pulje = Pulje(self.db, "machine", clock=self.clock)
        self.grants: list[str] = []
        self.recorded: list[int] = []
        self.paid: list[tuple[str, dt.date]] = []
        self.refusals = 0

    def teardown(self) -> None:
        try:
            self.pulje.close()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            if self.schema is not None:
                self.schema.drop()

    @initialize()
    def adopt_plan(self) -> None:
        plan = self.dir / "plan.toml"
        plan.write_text(SMALL_PLAN, encoding="utf-8")
        self.pulje.import_plan(plan)

    # ------------------------------------------------------------------ helpers

    def head(self) -> tuple[int, str]:
        return self.pulje.ledger.store.head()

    def attempt(self, command, **kwargs):
        before = self.head()
        try:
            recorded = command(**kwargs)
            self.recorded.append(recorded.sequence)
            return recorded
        except DomainError:
            self.refusals += 1
            assert self.head() == before, "a refused command wrote something"
            return None

    # ------------------------------------------------------------------ rules

    @rule(pool=st.sampled_from(sorted(POOLS)), amount=kroner, date=days, body=st.sampled_from(["arbejdsgruppen", "Arbejdsgruppen", "ARBEJDSGRUPPEN ", "styregruppen"]))
    def award(self, pool: str, amount: Money, date: dt.date, body: str) -> None:
        recorded = self.attempt(
            self.pulje.award, pool=pool, year=2022, recipient="Beboerforeningen", purpose="Tryghedsvandring",
            area=None, amount=amount, requested=None, date=date, decided_by=body, decision_ref="AG",
        )
        if recorded is not None:
            assert body.strip().lower() == "arbejdsgruppen"
            self.grants.append(recorded.grant)

    @precondition(lambda self: self.grants)
    @rule(data=st.data(), amount=small, date=later)
    def disburse(self, data, amount: Money, date: dt.date) -> None:
        grant = data.draw(st.sampled_from(self.grants))
        if self.attempt(self.pulje.disburse, grant=grant, amount=amount, date=date, payment_ref=None):
            self.paid.append((grant, date))

    @precondition(lambda self: self.paid)
    @rule(data=st.data(), amount=small, days_after=st.integers(min_value=-30, max_value=60))
    def take_back(self, data, amount: Money, days_after: int) -> None:
        grant, paid_on = data.draw(st.sampled_from(self.paid))
        date = min(paid_on + dt.timedelta(days=days_after), dt.date(2022, 12, 31))
        self.attempt(self.pulje.take_back, grant=grant, amount=amount, date=date, reason="Ubrugt")

    @precondition(lambda self: self.grants)
    @rule(data=st.data(), date=days)
    def withdraw(self, data, date: dt.date) -> None:
        grant = data.draw(st.sampled_from(self.grants))
        self.attempt(self.pulje.withdraw, grant=grant, date=date, reason="Aflyst")

    @rule(source=st.sampled_from(["1", "2", "3", "4"]), destination=st.sampled_from(["1", "2", "3", "4"]), amount=kroner,
          date=days, body=st.sampled_from(["Økonomiforvaltningen", "økonomiforvaltningen", "arbejdsgruppen"]))
    def reallocate(self, source: str, destination: str, amount: Money, date: dt.date, body: str) -> None:
        self.attempt(
            self.pulje.reallocate, year=2022, from_line=source, to_line=destination, amount=amount, date=date,
            decided_by=body, decision_ref="ØKF", reason="Behov",
        )

    @precondition(lambda self: len(self.grants) >= 4)
    @rule(pool=st.sampled_from(sorted(POOLS)), date=days)
    def close(self, pool: str, date: dt.date) -> None:
        self.attempt(self.pulje.close_pool, pool=pool, year=2022, date=date, decided_by="arbejdsgruppen", decision_ref="AG")

    @rule(data=st.data(), anything=st.booleans())
    def reverse(self, data, anything: bool) -> None:
        if anything or not self.recorded:
            sequence = data.draw(st.integers(min_value=1, max_value=max(self.head()[0], 1)))
        else:
            sequence = data.draw(st.sampled_from(self.recorded))
        self.attempt(self.pulje.reverse, event=str(sequence), reason="Fejl")

    @rule()
    def restart(self) -> None:
        self.pulje.close()
        self.pulje = Pulje(self.db, "machine", clock=self.clock)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def money_is_conserved_and_no_pool_is_overspent(self) -> None:
        status = self.pulje.status(year=2022)
        if not status.plans:
            return
        years = {(r.line, r.year): r for r in status.plans[0].years}
        assert sum(r.budget_ore for r in status.plans[0].years if r.year == 2022) == TOTAL_2022
        for row in status.plans[0].years:
            assert row.budget_ore >= 0
        for pool in status.pools:
            assert 0 <= pool.committed_ore <= pool.funding_ore
            assert pool.funding_ore == years[(POOLS[pool.code], 2022)].budget_ore
            assert pool.returned_ore <= pool.disbursed_ore

    @invariant()
    def no_grant_pays_out_more_than_awarded(self) -> None:
        status = self.pulje.status(year=2022)
        for pool in status.pools:
            _, grants, _ = self.pulje.pool_show(pool.code, year=2022)
            assert sum(g.awarded_ore for g in grants) == pool.awarded_ore
            for g in grants:
                assert 0 <= g.disbursed_ore <= g.awarded_ore - g.withdrawn_ore
                assert 0 <= g.returned_ore <= g.disbursed_ore

    @invariant()
    def stored_read_models_equal_a_full_replay(self) -> None:
        ledger = self.pulje.ledger
        ledger.catch_up()
        assert ledger.stored_views() == ledger.full_replay()


SETTINGS = {
    "sqlite": settings(
        max_examples=30, stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    ),
    # Every example is a new schema and every step a round trip to the server:
    # fewer examples keep the PostgreSQL run within a minute.
    "postgres": settings(
        max_examples=20, stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    ),
}


def machine_factory(backend: str) -> Callable[[], LedgerMachine]:
    """The machine on the backend; skips (or fails in CI) without a PostgreSQL server."""
    base = _postgres_base() if backend == "postgres" else None
    return lambda: LedgerMachine(base)


def test_ledger_keeps_every_invariant(backend: str) -> None:
    run_state_machine_as_test(machine_factory(backend), settings=SETTINGS[backend])
