"""The fast paths written for speed and memory equal the plain code they replace.

`event_id_text` is uuid5 by hand; `Timeline` keeps its entries packed in one
array and walks back from the newest; `canonical_id` remembers the ids it has
seen; the stored views keep each row as a JSON array of its values. Each is held here against the obvious
implementation on arbitrary inputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from uuid import UUID, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.ids import canonical_id, event_id, event_id_text
from domain.timeline import Timeline
from ledger.chain import link
from projections.model import AuditRow, LineYearRow, PoolRow, decode_row, encode_row

DAY0 = dt.date(2022, 1, 1)


@given(st.uuids(), st.integers(min_value=0, max_value=10**12))
def test_event_id_text_is_uuid5_of_the_version(originator: UUID, version: int) -> None:
    expected = str(uuid5(originator, str(version)))
    assert event_id_text(originator, version) == expected == str(event_id(originator, version))
    assert event_id_text(str(originator), version) == expected == event_id_text(originator.hex, version)


class Reference:
    """The plain model: a list of (date, version, change), sorted on every question."""

    def __init__(self) -> None:
        self.entries: list[tuple[dt.date, int, int]] = []

    def add(self, date: dt.date, version: int, change: int) -> None:
        self.entries.append((date, version, change))

    def ordered(self) -> list[tuple[dt.date, int, int]]:
        return sorted(self.entries, key=lambda e: (e[0], e[1]))

    def balance_on(self, date: dt.date) -> int:
        return sum(c for d, _, c in self.entries if d <= date)

    def lowest_from(self, date: dt.date) -> tuple[int, dt.date | None]:
        # Balance at `date` itself (None), then after each later entry; the lowest, the earliest on a tie.
        best, at = self.balance_on(date), None
        running = best
        for d, _, c in self.ordered():
            if d <= date:
                continue
            running += c
            if running < best:
                best, at = running, d
        return best, at

    def first_negative(self) -> tuple[int, dt.date] | None:
        running = 0
        for d, _, c in self.ordered():
            running += c
            if running < 0:
                return running, d
        return None


changes = st.lists(
    st.tuples(st.integers(min_value=0, max_value=60), st.integers(min_value=-50_000, max_value=50_000)), max_size=30
)


@given(changes, st.lists(st.integers(min_value=-2, max_value=62), min_size=1, max_size=8))
def test_a_timeline_answers_as_a_sorted_list_does(adds: list[tuple[int, int]], asked: list[int]) -> None:
    timeline, reference = Timeline(), Reference()
    for version, (day, change) in enumerate(adds, start=1):
        timeline.add(DAY0 + dt.timedelta(days=day), version, change)
        reference.add(DAY0 + dt.timedelta(days=day), version, change)
    assert timeline.total == sum(c for _, c in adds)
    assert timeline.entries == [(d.toordinal(), v, c) for d, v, c in reference.ordered()]
    assert timeline.first_negative() == reference.first_negative()
    for day in asked:
        on = DAY0 + dt.timedelta(days=day)
        assert timeline.balance_on(on) == reference.balance_on(on)
        assert timeline.lowest_from(on) == reference.lowest_from(on)
    assert Timeline.from_data(timeline.to_data()) == timeline


def test_an_empty_timeline_holds_no_array_and_answers_zero() -> None:
    timeline = Timeline()
    assert timeline.data is None
    assert timeline.entries == [] and timeline.total == 0
    assert timeline.balance_on(DAY0) == 0
    assert timeline.lowest_from(DAY0) == (0, None)
    assert timeline.first_negative() is None
    assert timeline == Timeline.from_data({"entries": [], "total": 0})
    assert timeline != Timeline([(DAY0.toordinal(), 1, 5)], 5)


def test_a_version_beyond_the_packed_range_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        Timeline().add(DAY0, 1 << 40, 1)


@given(st.uuids(), st.sampled_from(["32", "dashed", "upper", "uuid"]))
def test_canonical_id_is_the_dashed_text_however_often_it_is_asked(originator: UUID, form: str) -> None:
    given_as = {"32": originator.hex, "dashed": str(originator), "upper": originator.hex.upper(), "uuid": originator}[form]
    assert canonical_id(given_as) == canonical_id(given_as) == str(originator)  # the second answer is the remembered one


def test_canonical_id_refuses_what_is_not_an_id_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ValueError):
            canonical_id("not-an-id")


ROW_CLASSES = {
    PoolRow: st.builds(PoolRow, pool_id=st.text(), key=st.text(), code=st.text(), name=st.text(), year=st.integers(),
                       plan_id=st.text(), partnership=st.text(), line=st.text(), decided_by=st.text(),
                       opened_on=st.text(), initial_ore=st.integers(), funding_ore=st.integers(),
                       closed_on=st.none() | st.text(), unspent_ore=st.none() | st.integers()),
    LineYearRow: st.builds(LineYearRow, plan_id=st.text(), line=st.text(), year=st.integers(),
                           posts=st.dictionaries(st.text(), st.integers()), note=st.none() | st.text()),
    AuditRow: st.builds(AuditRow, sequence=st.integers(), event_id=st.text(), hash=st.text(), recorded_at=st.text(),
                        date=st.text(), kind=st.text(), actor=st.text(), decided_by=st.none() | st.text(),
                        decision_ref=st.none(), reason=st.none() | st.text(), amount_ore=st.none() | st.integers(),
                        aggregate_id=st.text(), version=st.integers(), year=st.none() | st.integers(),
                        pool=st.none() | st.text(), grant=st.none() | st.text(),
                        details=st.dictionaries(st.text(), st.integers() | st.text() | st.lists(st.text()))),
}


@given(st.one_of(*ROW_CLASSES.values()))
def test_a_stored_row_reads_back_equal(row: object) -> None:
    data = encode_row(row)
    assert data.startswith("[")
    assert decode_row(type(row), data) == row


@pytest.mark.parametrize("data", ['{"plan_id": "p"}', '"p"', "7"])
def test_a_stored_row_that_is_no_array_is_refused(data: str) -> None:
    with pytest.raises(TypeError, match="is a JSON array"):
        decode_row(LineYearRow, data)


def plain_link(previous: str, position: int, originator_id: UUID, version: int, topic: str, state: bytes) -> str:
    """The chain's framing as the module docstring states it: every field length-prefixed (8 bytes, big-endian)."""
    parts = (previous.encode(), str(position).encode(), str(originator_id).encode(), str(version).encode(),
             topic.encode(), state)
    return hashlib.sha256(b"".join(len(part).to_bytes(8, "big") + part for part in parts)).hexdigest()


@given(st.text(), st.integers(min_value=0, max_value=10**12), st.uuids(), st.integers(min_value=0, max_value=10**9),
       st.text(), st.binary(), st.sampled_from(["uuid", "hex", "dashed"]))
def test_a_link_hashes_the_framing_the_chain_documents(
    previous: str, position: int, originator: UUID, version: int, topic: str, state: bytes, form: str
) -> None:
    given_as = {"uuid": originator, "hex": originator.hex, "dashed": str(originator)}[form]
    assert link(previous, position, given_as, version, topic, state) == plain_link(
        previous, position, originator, version, topic, state
    )


def test_a_long_walk_hides_what_it_keeps_from_the_collector_and_gives_it_back() -> None:
    import gc

    from ledger.walk import frozen_pages

    kept = [[] for _ in range(1000)]
    assert gc.get_freeze_count() == 0
    with frozen_pages() as settle:
        settle()
        assert gc.get_freeze_count() >= len(kept)
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), frozen_pages() as settle:
        settle()
        raise RuntimeError("a walk that fails")
    assert gc.get_freeze_count() == 0


def plain_cell(value: object, width: int = 48) -> str:
    """`render.cell` without its printable-text shortcut: every character looked at."""
    import unicodedata

    if value is None:
        return ""
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in str(value))
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@given(st.none() | st.integers() | st.text() | st.text(alphabet=st.sampled_from("ab \t\n\u200e\u2028\u00a0\x00æ")),
       st.integers(min_value=2, max_value=60))
def test_a_table_cell_is_what_looking_at_every_character_gives(value: object, width: int) -> None:
    from projections.render import cell

    assert cell(value, width) == plain_cell(value, width)
