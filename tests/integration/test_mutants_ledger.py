"""Tests written against the mutants that survived mutation testing of `ledger/` (docs/mutation.md).

They pin what is stored or promised and that other tests left loose: every
hash of the committed v1 export recomputes with `ledger.chain.link`, the demo
year is the one the README's `verify --head` example names, output files are
written whole with the documented refusals, and the mapper's id handling.
Most need no database; the demo and a few others use SQLite files in tmp.
If the demo year is changed on purpose, its head changes: update DEMO_HEAD
and the README, and compare the demo's report with the committed v1 fixture
no more (the fixture itself is never regenerated: tests/fixtures/README.md).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from uuid import UUID

import pytest

from ledger.chain import GENESIS, is_hash, link

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "v1"
DEMO_HEAD = "942c9a6cafe70c817248c09d099971060f0c20e9b6c67327abd6d4f88d86d827"


def v1_records() -> list[dict]:
    lines = (FIXTURE / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:]]


# ---------------------------------------------------------------------- chain


def test_every_hash_of_the_v1_export_recomputes_from_the_one_before() -> None:
    previous = GENESIS
    for record in v1_records():
        oid = UUID(record["originator_id"])
        state = record["state"].encode("utf-8")
        args = (record["position"], record["originator_version"], record["topic"], state)
        expected = link(previous, args[0], oid, *args[1:])
        assert expected == record["hash"]
        # the id may come as a UUID, its dashed text, its 32 hex digits, in either case
        for form in (str(oid), oid.hex, oid.hex.upper(), str(oid).upper()):
            assert link(previous, args[0], form, *args[1:]) == expected
        previous = expected
    assert previous == DEMO_HEAD


def test_each_part_of_an_event_changes_its_hash() -> None:
    oid = UUID("592b63d6-39aa-5357-b58a-28ed5d1dc983")
    base = link(GENESIS, 1, oid, 1, "domain.plan:Plan.Adopted", b"{}")
    assert base == "1ab747a61cedbee399d3f5af823bb0c601d69a4b6a12a0b5070325a17e4dc30d"
    others = {
        link("1" * 64, 1, oid, 1, "domain.plan:Plan.Adopted", b"{}"),
        link(GENESIS, 2, oid, 1, "domain.plan:Plan.Adopted", b"{}"),
        link(GENESIS, 1, UUID(int=oid.int + 1), 1, "domain.plan:Plan.Adopted", b"{}"),
        link(GENESIS, 1, oid, 2, "domain.plan:Plan.Adopted", b"{}"),
        link(GENESIS, 1, oid, 1, "domain.plan:Plan.Budgeted", b"{}"),
        link(GENESIS, 1, oid, 1, "domain.plan:Plan.Adopted", b"{ }"),
        # the framing keeps the parts apart: moving a byte from one part into the next changes the hash
        link(GENESIS, 1, oid, 1, "domain.plan:Plan.Adopted{", b"}"),
    }
    assert base not in others and len(others) == 7


def test_an_id_that_is_no_uuid_is_refused() -> None:
    with pytest.raises(ValueError):
        link(GENESIS, 1, "not-an-id", 1, "t", b"{}")
    with pytest.raises(ValueError):
        link(GENESIS, 1, "g" * 32, 1, "t", b"{}")


@pytest.mark.parametrize(
    ("text", "answer"),
    [(GENESIS, True), (DEMO_HEAD, True), (DEMO_HEAD.upper(), True), (DEMO_HEAD[:-1], False),
     (DEMO_HEAD + "0", False), ("g" * 64, False), ("", False), (" " + DEMO_HEAD[1:], False)],
)
def test_a_hash_is_64_hex_digits(text: str, answer: bool) -> None:
    assert is_hash(text) is answer


# ---------------------------------------------------------------------- files


def test_an_output_file_is_refused_in_one_sentence_where_it_would_do_harm(tmp_path: Path) -> None:
    from ledger.files import OutputExistsError, check_target

    missing = tmp_path / "nowhere" / "r.md"
    with pytest.raises(OutputExistsError) as error:
        check_target(str(missing), force=True)
    assert str(error.value) == f"the folder {tmp_path / 'nowhere'} does not exist"
    with pytest.raises(OutputExistsError) as error:
        check_target(str(tmp_path), force=True)
    assert str(error.value) == f"{tmp_path} is a folder"
    existing = tmp_path / "r.md"
    existing.write_text("old")
    with pytest.raises(OutputExistsError) as error:
        check_target(str(existing), force=False)
    assert str(error.value) == f"{existing} exists; add --force to replace it"
    assert check_target(str(existing), force=True) == str(existing)
    assert check_target("relative.md", force=False) == os.path.abspath("relative.md")


def test_a_file_is_written_whole_with_the_mode_a_shell_would_give(tmp_path: Path) -> None:
    from ledger.files import atomic_file, write_atomic

    target = tmp_path / "r.txt"
    old = os.umask(0o027)
    try:
        write_atomic(str(target), b"one", force=False)
    finally:
        os.umask(old)
    assert target.read_bytes() == b"one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    os.chmod(target, 0o604)
    with atomic_file(str(target), True) as out:
        out.write("tw\u00f8\r\n")
    assert target.read_bytes() == "tw\u00f8\r\n".encode("utf-8")
    assert stat.S_IMODE(target.stat().st_mode) == 0o604
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]


def test_a_failed_write_leaves_neither_the_target_nor_a_temporary_file(tmp_path: Path) -> None:
    from ledger.files import atomic_file

    target = tmp_path / "r.txt"
    with pytest.raises(RuntimeError):
        with atomic_file(str(target), False, binary=True) as out:
            out.write(b"half")
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"kept")
    with pytest.raises(RuntimeError):
        with atomic_file(str(target), True) as out:
            out.write("new")
            raise RuntimeError("stop")
    assert target.read_bytes() == b"kept" and sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]


# ---------------------------------------------------------------------- the demo year


def test_the_demo_records_the_year_whose_head_the_readme_names(tmp_path: Path) -> None:
    """The demo is deterministic: the same events, hashes and head on every machine (README: verify --head)."""
    from ledger.demo import build_demo

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"{DEMO_HEAD[:8]}...{DEMO_HEAD[-4:]}" in readme
    result = build_demo(str(tmp_path / "demo.db"), str(tmp_path / "out"))
    assert result.events == 63 and result.status.head == (63, DEMO_HEAD)
    assert result.db == str(tmp_path / "demo.db")
    assert [Path(p).name for p in result.reports] == [f"ultimo-2022.{f}" for f in ("md", "html", "json", "xlsx", "pdf")]
    for fmt in ("md", "html", "json"):
        assert (tmp_path / "out" / f"ultimo-2022.{fmt}").read_bytes() == (FIXTURE / f"ultimo-2022.{fmt}").read_bytes()
