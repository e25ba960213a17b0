"""Plan files are read, checked and refused as the Plan files section of DESIGN.md says.

`parse_plan` gets bytes, `read_plan_file` gets real files in `tmp_path`.
Every test builds its plan from one minimal valid plan (`plan_toml`) and
changes one part, so what a test is about is the one thing it changes.
A refused file names the file and the key in every problem; an unreadable
file (exit-2 class) says so with `unreadable=True`; warnings are what the
document says about itself and never stop an import.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from domain.money import Money
from ledger.planfile import PlanFile, PlanFileError, parse_plan, read_plan_file

PLAN_2022 = Path(__file__).resolve().parents[2] / "plans" / "tingbjerg-husum-2022.toml"
NAME = "testplan.toml"

PLAN = """\
[plan]
partnership = "Testby"
title = "Tryghedsplan 2022"
year = 2022
"""

AUTHORITY = """\
[authority]
reallocation = "Økonomiforvaltningen"
"""

FAELLESHAVEN_2022 = 'total = 220000\nposts = { "Lønmidler" = 120000, "Husleje" = 100000 }'
PULJE_2022 = 'total = 107000\nposts = { "Bylivs- og tryghedspuljen" = 107000 }'


def line_toml(no: str = '"1"', name: str = "Fælleshaven", budgets: dict[str, str] | None = None, extra: str = "") -> str:
    """One [[line]]; `no` is written as given (so a test can write an integer), budgets are year -> body."""
    if budgets is None:
        budgets = {"2022": FAELLESHAVEN_2022}
    text = f'[[line]]\nno = {no}\nname = "{name}"\n{extra}\n'
    for year, body in budgets.items():
        text += f"[line.budget.{year}]\n{body}\n"
    return text


def pool_toml(
    id: str = "bylivs-og-tryghedspulje", code: str = "BTP", line: str = '"14"', decided_by: str = "arbejdsgruppen",
    extra: str = "",
) -> str:
    return (
        f'[[pool]]\nid = "{id}"\ncode = "{code}"\nname = "Bylivs- og tryghedspulje"\n'
        f'line = {line}\ndecided_by = "{decided_by}"\n{extra}\n'
    )


LINE_1 = line_toml()
LINE_14 = line_toml('"14"', "Bylivs- og tryghedspulje", {"2022": PULJE_2022})
POOL = pool_toml()


def plan_toml(
    *, plan: str = PLAN, authority: str = AUTHORITY, lines: list[str] | None = None, pools: list[str] | None = None,
    top: str = "",
) -> str:
    """A minimal valid plan: two lines (1 and the pool line 14) and one pool; change one part per test."""
    lines = [LINE_1, LINE_14] if lines is None else lines
    pools = [POOL] if pools is None else pools
    return top + "\n" + plan + "\n" + authority + "\n" + "\n".join(lines) + "\n" + "\n".join(pools)


def parse(text: str, name: str = NAME) -> PlanFile:
    return parse_plan(text.encode("utf-8"), name)


def refused(text: str, name: str = NAME) -> PlanFileError:
    with pytest.raises(PlanFileError) as caught:
        parse(text, name)
    assert not caught.value.unreadable, "a file that reads as TOML is refused, not unreadable"
    assert caught.value.problems, "a refusal lists at least one problem"
    return caught.value


def problem_about(error: PlanFileError, *fragments: str) -> str:
    """The first problem that mentions every fragment (the file, the key, the figure)."""
    hits = [p for p in error.problems if all(f in p for f in fragments)]
    assert hits, f"no problem mentions all of {fragments}; problems: {error.problems}"
    return hits[0]


def write(tmp_path: Path, content: bytes, name: str = NAME) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


# --- the bundled 2022 plan -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan_2022() -> PlanFile:
    return read_plan_file(PLAN_2022)


def test_the_2022_plan_has_the_twenty_rows_of_the_overview(plan_2022: PlanFile) -> None:
    assert len(plan_2022.spec.lines) == 20
    assert plan_2022.spec.year == 2022
    assert plan_2022.spec.partnership == "Tingbjerg-Husum"
    assert len({line.line for line in plan_2022.spec.lines}) == 20


def test_the_2022_plan_funds_two_pools_that_the_working_group_decides(plan_2022: PlanFile) -> None:
    pools = {pool.code: pool for pool in plan_2022.spec.pools}
    assert set(pools) == {"BTP", "VP"}
    assert pools["BTP"].line == "14"
    assert pools["VP"].line == "15"
    assert {pool.decided_by.casefold() for pool in pools.values()} == {"arbejdsgruppen"}


def test_the_2022_plan_totals_match_the_document(plan_2022: PlanFile) -> None:
    totals = plan_2022.totals()
    assert totals[2022] == (Money(197_000_000), False)
    assert totals[2021] == (Money(193_400_000), False)
    assert totals[2022][0] == Money.kroner(1_970_000)


def test_the_2022_pools_are_funded_with_107000_and_10000_kroner(plan_2022: PlanFile) -> None:
    by_no = {line.line: line for line in plan_2022.spec.lines}
    assert by_no["14"].budget_for(2022).amount == Money.kroner(107_000)
    assert by_no["15"].budget_for(2022).amount == Money.kroner(10_000)


def test_the_2022_plan_warns_that_line_8_has_no_activity_figure_for_2021(plan_2022: PlanFile) -> None:
    hits = [w for w in plan_2022.warnings if "line 8" in w and "2021" in w]
    assert hits, plan_2022.warnings
    assert "120.000" in hits[0]


def test_the_2022_plan_warns_that_the_discontinued_juniorbetjent_has_money_in_2024(plan_2022: PlanFile) -> None:
    hits = [w for w in plan_2022.warnings if "juniorbetjent" in w.casefold() and "2024" in w]
    assert any("udgår" in w or "discontinued" in w for w in hits), plan_2022.warnings


def test_the_2022_plan_records_the_sha256_of_its_bytes(plan_2022: PlanFile) -> None:
    assert plan_2022.spec.source_sha256 == hashlib.sha256(PLAN_2022.read_bytes()).hexdigest()


# --- the minimal plan of these tests ----------------------------------------------------------------


def test_the_minimal_plan_is_accepted_without_warnings() -> None:
    plan = parse(plan_toml())
    assert [line.line for line in plan.spec.lines] == ["1", "14"]
    assert [pool.code for pool in plan.spec.pools] == ["BTP"]
    assert plan.warnings == []
    assert plan.totals() == {2022: (Money.kroner(327_000), False)}


def test_the_same_minimal_plan_is_read_from_a_real_file(tmp_path: Path) -> None:
    plan = read_plan_file(write(tmp_path, plan_toml().encode()))
    assert plan.spec == parse(plan_toml()).spec


# --- refusals: each problem names the file and the key ----------------------------------------------


def test_a_toml_float_is_refused_with_a_message_that_shows_how_to_write_it() -> None:
    text = plan_toml(lines=[line_toml(budgets={"2022": "total = 91.700"}), LINE_14])
    problem = problem_about(refused(text), NAME, "line[1]", "budget.2022.total")
    assert "91700" in problem
    assert '"91.700"' in problem


def test_a_toml_float_among_the_posts_is_refused_with_the_same_advice() -> None:
    body = 'total = 220000\nposts = { "Lønmidler" = 120.000, "Husleje" = 100000 }'
    text = plan_toml(lines=[line_toml(budgets={"2022": body}), LINE_14])
    problem = problem_about(refused(text), NAME, "budget.2022.posts.Lønmidler")
    assert "120000" in problem
    assert '"120.000"' in problem


@pytest.mark.parametrize(
    ("change", "key_fragments"),
    [
        ("top", ("colour",)),
        ("plan", ("plan.colour",)),
        ("authority", ("authority.colour",)),
        ("line", ("line[1]", ".colour")),
        ("budget", ("line[1]", "budget.2022.colour")),
        ("pool", ("pool[1]", ".colour")),
    ],
)
def test_an_unknown_key_is_refused_wherever_it_is(change: str, key_fragments: tuple[str, ...]) -> None:
    unknown = 'colour = "blå"\n'
    parts = {
        "top": dict(top=unknown),
        "plan": dict(plan=PLAN + unknown),
        "authority": dict(authority=AUTHORITY + unknown),
        "line": dict(lines=[line_toml(extra=unknown), LINE_14]),
        "budget": dict(lines=[line_toml(budgets={"2022": FAELLESHAVEN_2022 + "\n" + unknown}), LINE_14]),
        "pool": dict(pools=[pool_toml(extra=unknown)]),
    }
    problem = problem_about(refused(plan_toml(**parts[change])), NAME, *key_fragments)
    assert "unknown key" in problem


@pytest.mark.parametrize("second_no", ['"1"', "1", '" 1 "'], ids=["text", "integer", "padded"])
def test_a_line_number_used_twice_is_refused(second_no: str) -> None:
    text = plan_toml(lines=[LINE_1, LINE_14, line_toml(second_no, "Fælleshaven igen")])
    problem = problem_about(refused(text), NAME, "line[3]", ".no")
    assert "duplicate" in problem


def test_a_pool_on_a_line_the_plan_lacks_is_refused() -> None:
    problem = problem_about(refused(plan_toml(pools=[pool_toml(line='"99"')])), NAME, "pool[1].line")
    assert "99" in problem


def test_a_pool_on_a_line_discontinued_in_the_plan_year_is_refused() -> None:
    closed = line_toml('"14"', "Bylivs- og tryghedspulje", {"2021": "total = 180000", "2022": "discontinued = true"})
    problem = problem_about(refused(plan_toml(lines=[LINE_1, closed])), NAME, "pool[1].line")
    assert "2022" in problem
    assert "discontinued" in problem or "udgår" in problem


@pytest.mark.parametrize("second_code", ["BTP", "btp"])
def test_a_pool_code_used_twice_is_refused(second_code: str) -> None:
    other = line_toml('"15"', "Videnspulje", {"2022": 'total = 10000\nposts = { "Vidensarrangementer" = 10000 }'})
    text = plan_toml(
        lines=[LINE_1, LINE_14, other], pools=[POOL, pool_toml(id="videnspulje", code=second_code, line='"15"')]
    )
    problem = problem_about(refused(text), NAME, "pool[2].code")
    assert "duplicate" in problem


def test_a_pool_id_used_twice_is_refused() -> None:
    text = plan_toml(pools=[POOL, pool_toml(code="VP")])
    assert "duplicate" in problem_about(refused(text), NAME, "pool[2].id")


@pytest.mark.parametrize("code", ["B-T", "1BT", "BT P", "ABCDEFGHIJK", "ÆØÅ", ""])
def test_a_pool_code_that_cannot_prefix_a_grant_number_is_refused(code: str) -> None:
    problem_about(refused(plan_toml(pools=[pool_toml(code=code)])), NAME, "pool[1].code")


@pytest.mark.parametrize("total", ["-5", '"-5"', '"-107.000"', '"−107.000"'])
def test_a_negative_amount_is_refused(total: str) -> None:
    text = plan_toml(lines=[line_toml(budgets={"2022": f"total = {total}"}), LINE_14])
    problem = problem_about(refused(text), NAME, "budget.2022.total")
    assert "negative" in problem


def test_a_negative_post_is_refused() -> None:
    body = 'posts = { "Lønmidler" = -120000 }'
    text = plan_toml(lines=[line_toml(budgets={"2022": body}), LINE_14])
    assert "negative" in problem_about(refused(text), NAME, "budget.2022.posts.Lønmidler")


@pytest.mark.parametrize("amount", ['"1.5"', '"1.00.0"', '"107_000"', '"1e9"', '"NaN"', '"١٠٧"', "true", "[1, 2]"])
def test_an_amount_that_is_not_danish_kroner_is_refused(amount: str) -> None:
    text = plan_toml(lines=[line_toml(budgets={"2022": f"total = {amount}"}), LINE_14])
    problem = problem_about(refused(text), NAME, "budget.2022.total")
    shown = amount.strip('"')
    assert shown in problem or shown.capitalize() in problem, problem


@pytest.mark.parametrize("year_key", ["twenty", "22", "3022", '"2022 "'])
def test_a_budget_year_that_is_not_a_year_is_refused(year_key: str) -> None:
    text = plan_toml(lines=[line_toml(budgets={"2022": FAELLESHAVEN_2022, year_key: "total = 1000"}), LINE_14])
    problem_about(refused(text), NAME, "line[1]", "budget." + year_key.strip('"'))


def test_a_discontinued_year_with_a_total_is_refused() -> None:
    text = plan_toml(lines=[line_toml(budgets={"2022": "discontinued = true\ntotal = 5000"}), LINE_14])
    problem_about(refused(text), NAME, "line[1]", "budget.2022")


def test_a_discontinued_year_with_posts_is_refused() -> None:
    body = 'discontinued = true\nposts = { "Lønmidler" = 5000 }'
    text = plan_toml(lines=[line_toml(budgets={"2022": body}), LINE_14])
    problem_about(refused(text), NAME, "line[1]", "budget.2022")


def test_a_plan_without_its_plan_table_is_refused() -> None:
    problem_about(refused(plan_toml(plan="")), NAME, "plan")
    assert any("[plan]" in p for p in refused(plan_toml(plan="")).problems)


def test_a_plan_without_an_authority_table_is_refused() -> None:
    problem_about(refused(plan_toml(authority="")), NAME, "authority")


def test_a_plan_without_lines_is_refused() -> None:
    error = refused(plan_toml(lines=[], pools=[]))
    problem_about(error, NAME, "line")


@pytest.mark.parametrize("field", ["partnership", "title"])
def test_a_plan_without_its_name_is_refused(field: str) -> None:
    plan = "\n".join(row for row in PLAN.splitlines() if not row.startswith(field)) + "\n"
    problem_about(refused(plan_toml(plan=plan)), NAME, f"plan.{field}")


@pytest.mark.parametrize("year", ['"2022"', "22", "2022.0", "true", "12022", "1850", None], ids=str)
def test_a_plan_year_that_is_not_a_year_is_refused(year: str | None) -> None:
    rows = [row for row in PLAN.splitlines() if not row.startswith("year")]
    if year is not None:
        rows.append(f"year = {year}")
    problem_about(refused(plan_toml(plan="\n".join(rows) + "\n")), NAME, "plan.year")


def test_every_problem_of_a_file_is_reported_in_one_run() -> None:
    planted = {
        "a TOML float": (NAME, "line[1]", "budget.2022.total", "91700"),
        "an unknown top-level key": (NAME, "colour", "unknown key"),
        "a duplicate line number": (NAME, "line[3]", ".no", "duplicate"),
        "a negative post": (NAME, "line[2]", "posts.Puljen", "negative"),
        "a pool on a missing line": (NAME, "pool[1].line", "99"),
        "a bad pool code": (NAME, "pool[1].code", "B-T"),
        "a non-year budget key": (NAME, "line[4]", "budget.twenty"),
        "a bad plan year": (NAME, "plan.year"),
    }
    text = plan_toml(
        top='colour = "blå"\n',
        plan=PLAN.replace("year = 2022", 'year = "2022"'),
        lines=[
            line_toml(budgets={"2022": "total = 91.700"}),
            line_toml('"14"', "Pulje", {"2022": 'posts = { "Puljen" = -107000 }'}),
            line_toml('"1"', "Fælleshaven igen"),
            line_toml('"16"', "Sekretariat", {"twenty": "total = 5000"}),
        ],
        pools=[pool_toml(code="B-T", line='"99"')],
    )
    error = refused(text)
    assert len(error.problems) >= len(planted), error.problems
    for what, fragments in planted.items():
        assert any(all(f in p for f in fragments) for p in error.problems), f"{what} is not reported: {error.problems}"
    assert all(p.startswith(f"{NAME}: ") for p in error.problems)
    assert all(p in str(error) for p in error.problems)


def test_the_problems_inside_a_line_with_a_duplicate_number_are_reported_too() -> None:
    text = plan_toml(lines=[LINE_1, LINE_14, line_toml('"1"', "Fælleshaven igen", {"2022": "total = 91.700"})])
    error = refused(text)
    problem_about(error, NAME, "line[3]", ".no", "duplicate")
    problem_about(error, NAME, "line[3]", "budget.2022.total", "91700")


def test_the_problems_of_a_pool_without_a_line_are_reported_too() -> None:
    pool = pool_toml(code="B-T").replace('line = "14"\n', "")
    error = refused(plan_toml(pools=[pool]))
    problem_about(error, NAME, "pool[1].line")
    problem_about(error, NAME, "pool[1].code")


# --- unreadable files: the exit-2 class --------------------------------------------------------------

UNREADABLE = {
    "empty": b"",
    "whitespace only": b"  \n\t\r\n   \n",
    "NUL bytes": plan_toml().encode()[:40] + b"\x00" + plan_toml().encode()[40:],
    "UTF-16": plan_toml().encode("utf-16"),
    "not UTF-8": plan_toml().encode("latin-1"),
}


@pytest.mark.parametrize("content", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_file_that_is_not_toml_text_is_unreadable(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(PlanFileError) as caught:
        read_plan_file(write(tmp_path, content))
    assert caught.value.unreadable
    assert len(caught.value.problems) == 1
    assert NAME in caught.value.problems[0]


@pytest.mark.parametrize("content", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_bytes_that_are_not_toml_text_are_unreadable(content: bytes) -> None:
    with pytest.raises(PlanFileError) as caught:
        parse_plan(content, NAME)
    assert caught.value.unreadable
    assert NAME in caught.value.problems[0]


def test_invalid_toml_is_unreadable_and_the_message_says_where(tmp_path: Path) -> None:
    text = '[plan]\npartnership = "Testby"\ntitle = Tryghedsplan 2022\nyear = 2022\n'
    with pytest.raises(PlanFileError) as caught:
        read_plan_file(write(tmp_path, text.encode()))
    assert caught.value.unreadable
    assert NAME in caught.value.problems[0]
    assert "line 3" in caught.value.problems[0]


def test_a_key_written_twice_is_invalid_toml() -> None:
    with pytest.raises(PlanFileError) as caught:
        parse(plan_toml(plan=PLAN + "year = 2023\n"))
    assert caught.value.unreadable
    assert "line" in caught.value.problems[0]


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError) as caught:
        read_plan_file(tmp_path / "nowhere.toml")
    assert caught.value.unreadable
    assert "nowhere.toml" in caught.value.problems[0]


def test_a_folder_is_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "plans.toml"
    folder.mkdir()
    with pytest.raises(PlanFileError) as caught:
        read_plan_file(folder)
    assert caught.value.unreadable
    assert "plans.toml" in caught.value.problems[0]


def test_a_file_over_five_megabytes_is_unreadable(tmp_path: Path) -> None:
    padding = b"# " + b"x" * (5 * 1024 * 1024) + b"\n"
    with pytest.raises(PlanFileError) as caught:
        read_plan_file(write(tmp_path, plan_toml().encode() + padding))
    assert caught.value.unreadable
    assert NAME in caught.value.problems[0]
    assert "5 MB" in caught.value.problems[0]


def test_a_file_just_under_five_megabytes_is_read(tmp_path: Path) -> None:
    content = plan_toml().encode()
    content += b"#" * (5 * 1024 * 1024 - len(content) - 1) + b"\n"
    assert len(content) == 5 * 1024 * 1024
    assert read_plan_file(write(tmp_path, content)).spec.year == 2022


# --- accepted variants -------------------------------------------------------------------------------


def test_a_byte_order_mark_at_the_start_is_accepted(tmp_path: Path) -> None:
    plan = read_plan_file(write(tmp_path, b"\xef\xbb\xbf" + plan_toml().encode()))
    assert plan.spec.lines == parse(plan_toml()).spec.lines
    assert plan.spec.partnership == "Testby"


def test_windows_line_endings_are_accepted(tmp_path: Path) -> None:
    plan = read_plan_file(write(tmp_path, plan_toml().replace("\n", "\r\n").encode()))
    assert plan.spec.lines == parse(plan_toml()).spec.lines
    assert plan.spec.pools == parse(plan_toml()).spec.pools


def test_amounts_may_be_written_as_danish_text() -> None:
    body = 'total = "220.000"\nposts = { "Lønmidler" = "120.000", "Husleje" = "100.000,00" }'
    halves = 'total = "91.700,50"\nposts = { "Lønmidler" = "91.700,50" }'
    plan = parse(plan_toml(lines=[line_toml(budgets={"2022": body, "2023": halves}), LINE_14]))
    line = plan.spec.lines[0]
    assert line.budget_for(2022).total == Money.kroner(220_000)
    assert line.budget_for(2022).posts == {"Lønmidler": Money.kroner(120_000), "Husleje": Money.kroner(100_000)}
    assert line.budget_for(2023).amount == Money(9_170_050)
    assert plan.warnings == []


def test_a_line_number_may_be_a_toml_integer() -> None:
    plan = parse(plan_toml(lines=[line_toml("1"), line_toml("14", "Bylivs- og tryghedspulje", {"2022": PULJE_2022})]))
    assert [line.line for line in plan.spec.lines] == ["1", "14"]
    assert plan.spec.pools[0].line == "14"


def test_a_pool_may_name_its_line_as_a_toml_integer() -> None:
    assert parse(plan_toml(pools=[pool_toml(line="14")])).spec.pools[0].line == "14"


# --- warnings: what the document says about itself ---------------------------------------------------


def test_a_total_that_disagrees_with_its_posts_is_a_warning_and_the_total_is_used() -> None:
    body = 'total = 220000\nposts = { "Lønmidler" = 120000, "Husleje" = 90000 }'
    plan = parse(plan_toml(lines=[line_toml(budgets={"2022": body}), LINE_14]))
    [warning] = plan.warnings
    assert "line 1" in warning
    assert "2022" in warning
    assert "220.000" in warning
    assert "210.000" in warning
    assert plan.spec.lines[0].budget_for(2022).amount == Money.kroner(220_000)
    assert plan.totals()[2022] == (Money.kroner(220_000 + 107_000), False)


def test_posts_without_a_total_are_a_warning_and_their_sum_is_used() -> None:
    body = 'posts = { "Lønmidler" = 120000, "Husleje" = 90000 }'
    plan = parse(plan_toml(lines=[line_toml(budgets={"2022": body}), LINE_14]))
    [warning] = plan.warnings
    assert "line 1" in warning
    assert "2022" in warning
    assert "210.000" in warning
    assert plan.spec.lines[0].budget_for(2022).amount == Money.kroner(210_000)


def test_a_total_without_posts_is_a_warning_and_is_kept_as_the_budget() -> None:
    budgets = {"2022": FAELLESHAVEN_2022, "2023": "total = 230000\npreliminary = true"}
    plan = parse(plan_toml(lines=[line_toml(budgets=budgets), LINE_14]))
    [warning] = plan.warnings
    assert "line 1" in warning
    assert "2023" in warning
    assert "230.000" in warning
    budget = plan.spec.lines[0].budget_for(2023)
    assert budget.posts == {}
    assert budget.amount == Money.kroner(230_000)
    assert plan.totals()[2023] == (Money.kroner(230_000), True)


def test_a_line_with_no_posts_in_any_year_gets_one_warning_naming_its_figures() -> None:
    lonely = line_toml('"16"', "Sekretariatsbetjening", {"2021": "total = 5000", "2022": "total = 6000"})
    plan = parse(plan_toml(lines=[LINE_1, LINE_14, lonely]))
    [warning] = plan.warnings
    assert "line 16" in warning
    assert "5.000" in warning
    assert "6.000" in warning
