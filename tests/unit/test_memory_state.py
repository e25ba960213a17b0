"""The in-memory read models keep one copy of each text their grants repeat (verify's views walk at 1M events)."""

from __future__ import annotations

from projections.memory import MemoryState
from projections.model import GrantRow


def text(value: str) -> str:
    """An equal string that is another object (as each JSON reading gives)."""
    return "".join(list(value))


def grant(number: str, **texts: str | None) -> GrantRow:
    fields = {"recipient": "Forening 3", "purpose": "Tryghedsvandring", "area": "Tingbjerg", "date": "2022-03-01",
              "decided_by": "arbejdsgruppen", "decision_ref": "AG 1/3"}
    fields.update(texts)
    return GrantRow(
        number=number, pool_id="p", year=2022, **{k: text(v) if v is not None else None for k, v in fields.items()},
        requested_ore=None, awarded_ore=100, version=1,
    )


def test_a_new_grant_shares_the_texts_an_earlier_grant_has():
    state = MemoryState()
    first, second = grant("BTP-2022-001"), grant("BTP-2022-002", area=None, decision_ref="AG 2/3")
    assert second.recipient is not first.recipient
    state.put_grant(first)
    state.put_grant(second)
    assert second.recipient is first.recipient and second.purpose is first.purpose and second.date is first.date
    assert second.decided_by is first.decided_by
    assert second.area is None and second.decision_ref == "AG 2/3" and second.decision_ref is not first.decision_ref
    assert state.grants == {("p", "BTP-2022-001"): grant("BTP-2022-001"), ("p", "BTP-2022-002"): second}


def test_the_shared_texts_are_not_part_of_the_state_compared():
    one, other = MemoryState(), MemoryState()
    one.put_grant(grant("BTP-2022-001"))
    other.grants[("p", "BTP-2022-001")] = grant("BTP-2022-001")
    assert one == other
