"""The 2022 plan file says what the 2022 safety plan document says.

The figures below are typed independently from
shared/seeds/tryghedsplan-2022.txt (the overview table "Tryghedsplanens
økonomi" and each activity's own "Økonomi" table); the tests compare
plans/tingbjerg-husum-2022.toml against them.  Only tomllib and pytest are
used: this checks the transcription, not the importer.
"""

import tomllib
from pathlib import Path

import pytest

PLAN_FILE = Path(__file__).parents[2] / "plans" / "tingbjerg-husum-2022.toml"

UDGAAR = "Udgår"
YEARS = ("2021", "2022", "2023", "2024")
AREAS = ("Tryggere byliv", "Uddannelse og beskæftigelse", "Positive fællesskaber")
ALL_THREE = set(AREAS)

# The overview table, row by row in the document's order:
# (line id, the overview's "Aktivitet" text, {year: kroner or "Udgår"}).
OVERVIEW = [
    ("juniorbetjent", "Juniorbetjent", {"2021": 80_000, "2022": UDGAAR, "2024": 80_000}),
    ("1", "Fælleshaven", {"2021": 220_000, "2022": 220_000, "2023": 220_000, "2024": 220_000}),
    ("2", "Videnshus", {"2021": 190_000, "2022": 180_000}),
    ("tryghed-ved-byggepladser", "Tryghed ved byggepladser", {"2021": 50_000, "2022": UDGAAR}),
    ("3", "Tidlig foreningsstart", {"2021": 149_000, "2022": 213_000, "2023": 212_400, "2024": 162_000}),
    ("tryghed-ved-energicenter-voldparken", "Tryghed ved Energicenter Voldparken", {"2021": 50_000, "2022": UDGAAR}),
    ("4", "Lommepege- og fritidsjob", {"2021": 200_000, "2022": 200_000, "2023": 200_000, "2024": 200_000}),
    ("5", "Fællesskab om teknologi, håndværk og design", {"2021": 125_000, "2022": 125_000}),
    ("6", "Tryggere og renere kældre", {"2021": 75_000, "2022": 75_000}),
    ("7", "Det gode valg", {"2021": 100_000, "2022": 100_000}),
    ("motion-i-husum", "Motion i Husum", {"2021": 35_000, "2022": UDGAAR}),
    ("8", "Ungedrevet kreative fællesskaber", {"2021": 120_000, "2022": 100_000}),
    ("9", "Tingbjerg Challenge", {"2021": 15_000, "2022": 15_000}),
    ("10", "Fællesskab om Cafe (ny)", {"2022": 200_000, "2023": 200_000}),
    ("11", "Synlighed og dialog om tryghed (ny)", {"2022": 30_000}),
    ("12", "Kvalitativ særmåling af tryghed (ny)", {"2022": 60_000}),
    ("13", "Kommunikation, dialog og begivenheder", {"2021": 330_000, "2022": 330_000, "2023": 330_000, "2024": 330_000}),
    ("14", "Bylivs- og tryghedspulje", {"2021": 180_000, "2022": 107_000}),
    ("15", "Videnspulje", {"2021": 10_000, "2022": 10_000}),
    ("16", "Sekretariatsbetjening (mødeforplejning)", {"2021": 5_000, "2022": 5_000, "2023": 5_000, "2024": 5_000}),
]
OVERVIEW_BY_LINE = {line: years for line, _, years in OVERVIEW}

# The overview's "Sum (kr.)" row (it has no sum for 2023 and 2024).
OVERVIEW_SUM = {"2021": 1_934_000, "2022": 1_970_000}

# Where the overview misspells the name, the TOML uses the activity heading's spelling.
MISSPELT_IN_OVERVIEW = {"4": "Lommepenge- og fritidsjob"}
# Where the overview abbreviates or differs from the heading, the TOML keeps the
# overview's text and a note names the heading.
HEADING_DIFFERS = {
    "2": "Videnshus i Husum Nord",
    "8": "UNGEDRETVET KREATIVE FÆLLESSKABER",
    "10": "Fællesskab om café",
    "12": "Kvalitativ måling af tryghed i Tingbjerg-Husum",
}

# Each activity's own "Økonomi" table: line -> {year: {post: kroner}}.
# Post names as written (footnote asterisks dropped); years with no figure are absent.
ACTIVITY = {
    "1": {
        "2021": {"Lønmidler": 120_000, "Aktivitetsmidler": 30_000, "Husleje": 70_000},
        "2022": {"Lønmidler": 120_000, "Aktivitetsmidler": 30_000, "Husleje": 70_000},
    },
    "2": {
        "2021": {"Lønmidler": 80_000, "Aktivitetsmidler": 20_000, "Tilskud til husleje": 90_000},
        "2022": {"Lønmidler": 80_000, "Aktivitetsmidler": 10_000, "Tilskud til husleje": 90_000},
    },
    "3": {
        "2021": {"Lønmidler": 137_000, "Aktivitetmidler": 12_000},
        "2022": {"Lønmidler": 188_000, "Aktivitetmidler": 25_000},
    },
    "4": {
        year: {
            "Lønmidler til unge i lommepenge-/fritidsjob, aflønning af eksterne mentorer ved behov, fsb": 120_000,
            "Forplejning og materialer, fsb": 10_000,
            "Lønmidler til unge i lommepenge-/fritidsjob, NY START": 50_000,
            "Aktivitetsmidler, NY START": 20_000,
        }
        for year in ("2021", "2022")
    },
    "5": {
        "2021": {"Lønmidler": 95_000, "Materialer/aktivitetsmidler": 30_000},
        "2022": {"Lønmidler": 95_000, "Materialer/aktivitetsmidler": 30_000},
    },
    "6": {
        "2021": {"Fysiske tiltag i kældrene": 60_000, "Skiltning i kældrene samt andet formidlingsmateriale": 15_000},
        "2022": {"Fysiske tiltag i kældrene": 60_000, "Skiltning i kældrene samt andet formidlingsmateriale": 15_000},
    },
    "7": {"2021": {"Aktivitetsmidler": 100_000}, "2022": {"Aktivitetsmidler": 100_000}},
    "8": {"2022": {"Lønmidler": 91_700, "Aktivitetsmidler": 8_300}},
    "9": {"2021": {"Aktivitetsmidler": 15_000}, "2022": {"Aktivitetsmidler": 15_000}},
    "10": {"2022": {"Lønmidler": 200_000}},
    "11": {"2022": {"Aktivitetsmidler": 30_000}},
    "12": {"2022": {"Aktivitetsmidler": 60_000}},
    "13": {
        "2021": {"Lønmidler": 300_000, "Kommunikationsprodukter/aktiviteter": 30_000},
        "2022": {"Lønmidler": 300_000, "Kommunikationsprodukter/aktiviteter": 30_000},
    },
    "14": {"2021": {"Bylivs- og tryghedspuljen": 180_000}, "2022": {"Bylivs- og tryghedspuljen": 107_000}},
    "15": {"2021": {"Vidensarrangementer": 10_000}, "2022": {"Vidensarrangementer": 10_000}},
}

# Each activity table's own "I alt" row.
ACTIVITY_I_ALT = {
    "1": {"2021": 220_000, "2022": 220_000},
    "2": {"2021": 190_000, "2022": 180_000},
    "3": {"2021": 149_000, "2022": 213_000},
    "4": {"2021": 200_000, "2022": 200_000},
    "5": {"2021": 125_000, "2022": 125_000},
    "6": {"2021": 75_000, "2022": 75_000},
    "7": {"2021": 100_000, "2022": 100_000},
    "8": {"2022": 100_000},
    "9": {"2021": 15_000, "2022": 15_000},
    "10": {"2022": 200_000},
    "11": {"2022": 30_000},
    "12": {"2022": 60_000},
    "13": {"2021": 330_000, "2022": 330_000},
    "14": {"2021": 180_000, "2022": 107_000},
    "15": {"2021": 10_000, "2022": 10_000},
}

# The focus areas each activity's first paragraph names (mapped to the canonical names).
ACTIVITY_AREAS = {
    "1": {"Positive fællesskaber", "Uddannelse og beskæftigelse"},
    "2": ALL_THREE,
    "3": {"Positive fællesskaber", "Uddannelse og beskæftigelse"},
    "4": {"Uddannelse og beskæftigelse"},
    "5": {"Uddannelse og beskæftigelse", "Positive fællesskaber"},
    "6": {"Tryggere byliv", "Positive fællesskaber"},
    "7": {"Positive fællesskaber"},
    "8": {"Uddannelse og beskæftigelse", "Positive fællesskaber"},
    "9": {"Positive fællesskaber"},
    "10": ALL_THREE,
    "11": {"Tryggere byliv", "Positive fællesskaber"},
    "12": {"Tryggere byliv", "Positive fællesskaber"},
    "13": ALL_THREE,
    "14": {"Tryggere byliv", "Positive fællesskaber"},
    "15": ALL_THREE,
}

# Co-funding outside the plan's budget (footnotes): line -> words the notes must contain.
CO_FUNDING = {
    "2": ("130.000",),
    "4": ("Socialforvaltningen", "200.000"),
    "6": ("Boligorganisationerne",),
    "9": ("SSP København", "10.000"),
}

ALLOWED_KEYS = {
    "top": {"plan", "authority", "line", "pool"},
    "plan": {"partnership", "title", "year", "source", "areas"},
    "authority": {"reallocation", "adoption"},
    "line": {"no", "name", "new", "areas", "responsible", "notes", "budget"},
    "year": {"total", "posts", "preliminary", "discontinued", "note"},
    "pool": {"id", "code", "name", "line", "decided_by"},
}


@pytest.fixture(scope="module")
def plan():
    with PLAN_FILE.open("rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="module")
def lines(plan):
    return {line["no"]: line for line in plan["line"]}


def budget(lines, line, year):
    return lines[line].get("budget", {}).get(year, {})


def notes_of(line):
    return " ".join(line.get("notes", [])) + " " + " ".join(
        year.get("note", "") for year in line.get("budget", {}).values()
    )


def test_the_plan_header_names_partnership_title_year_source_and_the_three_areas(plan):
    assert plan["plan"] == {
        "partnership": "Tingbjerg-Husum",
        "title": "Tryghedsplan 2022",
        "year": 2022,
        "source": "tryghedsplan-2022.txt",
        "areas": list(AREAS),
    }


def test_okonomiforvaltningen_decides_reallocations(plan):
    assert plan["authority"]["reallocation"] == "Økonomiforvaltningen"


def test_only_keys_of_the_schema_are_used(plan):
    assert set(plan) <= ALLOWED_KEYS["top"]
    assert set(plan["plan"]) <= ALLOWED_KEYS["plan"]
    assert set(plan["authority"]) <= ALLOWED_KEYS["authority"]
    for line in plan["line"]:
        assert set(line) <= ALLOWED_KEYS["line"], line["no"]
        for year, entry in line.get("budget", {}).items():
            assert year in YEARS, (line["no"], year)
            assert set(entry) <= ALLOWED_KEYS["year"], (line["no"], year)
    for pool in plan["pool"]:
        assert set(pool) <= ALLOWED_KEYS["pool"], pool["id"]


def test_every_amount_is_whole_kroner_as_an_integer(plan):
    for line in plan["line"]:
        for year, entry in line.get("budget", {}).items():
            amounts = [entry["total"]] if "total" in entry else []
            amounts += list(entry.get("posts", {}).values())
            for amount in amounts:
                assert type(amount) is int, (line["no"], year, amount)


def test_every_overview_row_is_a_line_in_document_order(plan):
    assert [line["no"] for line in plan["line"]] == [line for line, _, _ in OVERVIEW]


def test_names_are_the_overview_text_without_the_ny_marker(lines):
    for line, text, _ in OVERVIEW:
        is_new = text.endswith(" (ny)")
        expected = MISSPELT_IN_OVERVIEW.get(line, text.removesuffix(" (ny)"))
        assert lines[line]["name"] == expected, line
        assert lines[line].get("new", False) is is_new, line


def test_a_name_the_overview_misspells_is_corrected_and_the_overview_spelling_noted(lines):
    overview_text = {line: text for line, text, _ in OVERVIEW}
    for line in MISSPELT_IN_OVERVIEW:
        notes = " ".join(lines[line]["notes"])
        assert "Oversigtstabellen staver navnet" in notes
        assert overview_text[line] in notes


def test_a_name_that_differs_from_the_activity_heading_notes_the_heading(lines):
    for line, heading in HEADING_DIFFERS.items():
        assert heading in " ".join(lines[line]["notes"]), line


def test_every_line_and_year_matches_the_overview_table(lines):
    for line, _, years in OVERVIEW:
        for year in YEARS:
            entry = budget(lines, line, year)
            figure = years.get(year)
            if figure == UDGAAR:
                assert entry.get("discontinued") is True, (line, year)
                assert "total" not in entry and "posts" not in entry, (line, year)
            elif figure is None:
                assert "total" not in entry, (line, year)
                assert not entry.get("discontinued", False), (line, year)
            else:
                assert entry.get("total") == figure, (line, year)
                assert not entry.get("discontinued", False), (line, year)


def test_every_activity_table_matches_the_posts(lines):
    for line, _, _ in OVERVIEW:
        for year in YEARS:
            expected = ACTIVITY.get(line, {}).get(year)
            actual = budget(lines, line, year).get("posts")
            assert actual == expected, (line, year)


def test_every_activity_tables_i_alt_equals_the_sum_of_its_posts():
    for line, years in ACTIVITY.items():
        assert set(years) == set(ACTIVITY_I_ALT[line]), line
        for year, posts in years.items():
            assert sum(posts.values()) == ACTIVITY_I_ALT[line][year], (line, year)


def test_no_year_has_a_total_and_posts_that_disagree(lines):
    for line, _, _ in OVERVIEW:
        for year in YEARS:
            entry = budget(lines, line, year)
            if "total" in entry and "posts" in entry:
                assert entry["total"] == sum(entry["posts"].values()), (line, year)


def test_ungedrevet_kreative_faellesskaber_has_a_2021_total_without_posts_and_a_note(lines):
    entry = budget(lines, "8", "2021")
    assert entry["total"] == 120_000
    assert "posts" not in entry
    assert "120.000" in entry["note"]


def test_juniorbetjent_keeps_the_overviews_2024_figure_with_a_note(lines):
    entry = budget(lines, "juniorbetjent", "2024")
    assert entry["total"] == 80_000
    assert entry["preliminary"] is True
    assert "80.000" in entry["note"]
    assert "2023" not in lines["juniorbetjent"]["budget"]


def test_every_year_with_only_one_of_the_two_tables_is_explained_or_has_no_activity_section(lines):
    for line, _, years in OVERVIEW:
        for year in YEARS:
            entry = budget(lines, line, year)
            if entry.get("discontinued") or not entry:
                continue
            if ("total" in entry) != ("posts" in entry) and line in ACTIVITY:
                assert entry.get("note"), (line, year)


def test_2022_totals_sum_to_1_970_000(plan):
    totals = [line["budget"]["2022"]["total"] for line in plan["line"]
              if not line["budget"]["2022"].get("discontinued", False)]
    assert sum(totals) == OVERVIEW_SUM["2022"] == 1_970_000
    typed = [years["2022"] for _, _, years in OVERVIEW if years.get("2022") not in (None, UDGAAR)]
    assert sum(typed) == 1_970_000


def test_2021_totals_sum_to_1_934_000(plan):
    totals = [line["budget"]["2021"]["total"] for line in plan["line"] if "2021" in line["budget"]]
    assert sum(totals) == OVERVIEW_SUM["2021"] == 1_934_000
    typed = [years["2021"] for _, _, years in OVERVIEW if "2021" in years]
    assert sum(typed) == 1_934_000


def test_2023_and_2024_are_preliminary_and_2021_and_2022_are_not(plan):
    for line in plan["line"]:
        for year, entry in line.get("budget", {}).items():
            assert entry.get("preliminary", False) is (year in ("2023", "2024")), (line["no"], year)


def test_udgaar_rows_are_discontinued_in_2022(lines):
    for line in ("juniorbetjent", "tryghed-ved-byggepladser",
                 "tryghed-ved-energicenter-voldparken", "motion-i-husum"):
        assert lines[line]["budget"]["2022"] == {"discontinued": True}, line
    discontinued = {no for no, line in lines.items()
                    if any(entry.get("discontinued") for entry in line["budget"].values())}
    assert discontinued == {"juniorbetjent", "tryghed-ved-byggepladser",
                            "tryghed-ved-energicenter-voldparken", "motion-i-husum"}


def test_areas_are_the_ones_each_activity_text_names(plan, lines):
    for no, line in lines.items():
        assert set(line.get("areas", [])) <= set(plan["plan"]["areas"]), no
        assert set(line.get("areas", [])) == ACTIVITY_AREAS.get(no, set()), no


def test_every_activity_section_names_a_responsible_and_rows_without_one_do_not(lines):
    for no, line in lines.items():
        assert bool(line.get("responsible")) is (no in ACTIVITY), no


def test_pools_point_at_lines_14_and_15(plan, lines):
    pools = {pool["id"]: pool for pool in plan["pool"]}
    assert pools == {
        "bylivs-og-tryghedspulje": {
            "id": "bylivs-og-tryghedspulje", "code": "BTP", "name": "Bylivs- og tryghedspulje",
            "line": "14", "decided_by": "arbejdsgruppen",
        },
        "videnspulje": {
            "id": "videnspulje", "code": "VP", "name": "Videnspulje",
            "line": "15", "decided_by": "arbejdsgruppen",
        },
    }
    assert lines["14"]["budget"]["2022"]["total"] == 107_000
    assert lines["15"]["budget"]["2022"]["total"] == 10_000


def test_co_funding_is_a_note_not_budget(lines):
    for line, words in CO_FUNDING.items():
        notes = notes_of(lines[line])
        for word in words:
            assert word in notes, (line, word)
        for year, entry in lines[line]["budget"].items():
            assert entry.get("total") == OVERVIEW_BY_LINE[line].get(year), (line, year)
            assert entry.get("posts") == ACTIVITY[line].get(year), (line, year)
