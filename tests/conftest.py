"""Shared fixtures: a fixed clock, the bundled 2022 plan, ledgers in real SQLite files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLAN_2022 = ROOT / "plans" / "tingbjerg-husum-2022.toml"


class TickingClock:
    """A clock for tests: starts at a fixed UTC instant, one second per reading."""

    def __init__(self, start: dt.datetime = dt.datetime(2022, 1, 3, 9, 0, tzinfo=dt.timezone.utc)) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def plan_2022() -> Path:
    return PLAN_2022


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def pulje(db_path: Path, clock: TickingClock):
    """A session on a new SQLite ledger with the 2022 plan adopted."""
    from ledger.service import Pulje

    with Pulje(str(db_path), "test", clock=clock) as session:
        session.import_plan(PLAN_2022)
        yield session
