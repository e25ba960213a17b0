"""The ultimo report in Markdown, HTML, PDF and XLSX, from `ultimo_report` data.

Markdown and HTML are byte-for-byte the same for the same events: no time of
generation, stable order, integer chart coordinates. HTML is one
self-contained file (inline CSS and SVG, everything from the ledger escaped
by Jinja2's autoescape); the PDF is WeasyPrint's rendering of the same HTML;
the XLSX has real numbers with a kroner format, one sheet per table, and text
cells that a spreadsheet would run as formulas are neutralised.
"""

from __future__ import annotations

import io
from typing import Any

from projections.render import money
from projections.report import LABELS

FORMATS = ("md", "html", "json", "xlsx", "pdf")


def render(data: dict[str, Any], fmt: str) -> bytes:
    """The report in one of FORMATS, as the bytes of its file."""
    import json

    if fmt == "json":
        return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if fmt == "md":
        return to_markdown(data).encode("utf-8")
    if fmt == "html":
        return to_html(data).encode("utf-8")
    if fmt == "pdf":
        return to_pdf(data)
    if fmt == "xlsx":
        return to_xlsx(data)
    raise ValueError(f"unknown report format {fmt!r} (formats: {', '.join(FORMATS)})")


def labels(data: dict[str, Any]) -> dict[str, Any]:
    return LABELS[data["lang"]]


def area_name(key: str, t: dict[str, Any]) -> str:
    return key or t["no_area"]


# ---------------------------------------------------------------------- Markdown


def md_cell(value: Any) -> str:
    """One Markdown table cell: one line, pipes and HTML made harmless, no direction overrides."""
    import unicodedata

    text = "" if value is None else str(value)
    text = " ".join(
        "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text).split()
    )
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
        .replace("`", "\\`").replace("*", "\\*").replace("_", "\\_").replace("[", "\\[")
    )


def md_table(headers: list[str], rows: list[list[Any]], right: set[int] = frozenset()) -> list[str]:
    out = ["| " + " | ".join(md_cell(h) for h in headers) + " |"]
    out.append("|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|")
    out += ["| " + " | ".join(md_cell(v) for v in row) + " |" for row in rows]
    return out


def to_markdown(data: dict[str, Any]) -> str:
    t = labels(data)
    out = [
        f"# {md_cell(t['title'])}, {t['ultimo'].lower()} {data['year']}: {md_cell(data['plan_title'])} "
        f"({md_cell(data['partnership'])})",
        "",
    ]
    out += [
        f"- {t['head']}: `{data['head']}` (#{data['head_sequence']})",
        f"- {t['last_event']}: {data['last_event_at'] or t['none']}",
        f"- {t['check']}: {t['check_text']} `{data['verify_command']}`",
        "",
    ]
    for pool in data["pools"]:
        out += _md_pool(pool, t)
    plan = data["plan"]
    out += [f"## {t['budget']} {data['year']}", ""]
    rows = [
        [line["line"], line["name"], line["adopted"], line["budget"], money(line["budget_ore"] - line["adopted_ore"])]
        for line in plan["lines"]
    ]
    rows.append(["", t["totals"], plan["total_adopted"], plan["total_budget"], money(plan["total_budget_ore"] - plan["total_adopted_ore"])])
    out += md_table([t["line"], t["name"], t["original"], t["corrected"], t["change"]], rows, {2, 3, 4}) + [""]
    out += [f"### {t['reallocations']}", ""]
    if plan["reallocations"]:
        out += md_table(
            [t["date"], t["from"], t["to"], t["amount"], t["decided_by"], t["ref"], t["reason"]],
            [
                [r["date"], r["from_line"], r["to_line"], r["amount"], r["decided_by"], r["decision_ref"],
                 reallocation_note(r, t)]
                for r in plan["reallocations"]
            ],
            {3},
        )
    else:
        out.append(t["no_reallocations"])
    out.append("")
    return "\n".join(out)


def _md_pool(pool: dict[str, Any], t: dict[str, Any]) -> list[str]:
    out = [f"## {t['pool']}: {md_cell(pool['name'])} ({md_cell(pool['code'])}) {pool['year']}", ""]
    out += [f"### {t['funding_changes']}", ""]
    out += md_table(
        [t["date"], t["decision"], t["decided_by"], t["ref"], t["change"], t["after"]],
        [
            [c["date"], funding_label(c, t), c["decided_by"], c["decision_ref"], c["change"], c["funding_after"]]
            for c in pool["funding_changes"]
        ],
        {4, 5},
    ) + [""]
    out += [f"### {t['grants']}", ""]
    if pool["grants"]:
        out += md_table(
            [t["grant"], t["date"], t["recipient"], t["purpose"], t["area"], t["decided_by"], t["ref"], t["requested"],
             t["awarded"], t["disbursed"], t["returned"], t["withdrawn"], t["status"]],
            [
                [g["grant"], g["date"], g["recipient"], g["purpose"], g["area"] or "", g["decided_by"], g["decision_ref"],
                 g["requested"] or "", g["awarded"], g["disbursed"], g["returned"], g["withdrawn"],
                 t["statuses"].get(g["status"], g["status"])]
                for g in pool["grants"]
            ],
            {7, 8, 9, 10, 11},
        )
    else:
        out.append(t["no_grants"])
    out += ["", f"### {t['totals']}", ""]
    out += md_table(
        ["", t["amount"]],
        [[t[k], pool[k]] for k in ("funding", "awarded", "withdrawn", "returned", "committed", "disbursed", "disbursed_net",
                                    "outstanding", "available")],
        {1},
    ) + [""]
    out += [f"### {t['unspent']}", "", md_cell(unspent_text(pool, t)), ""]
    for title, key, name in ((t["by_area"], "summary_by_area", area_name), (t["by_kind"], "summary_by_kind", lambda k, t: t["kinds"].get(k, k))):
        out += [f"### {title}", ""]
        out += md_table(
            ["", t["count"], t["awarded"], t["committed"], t["disbursed_net"]],
            [[name(s["key"], t), s["grants"], s["awarded"], s["committed"], s["disbursed_net"]] for s in pool[key]],
            {1, 2, 3, 4},
        ) + [""]
    out += [f"### {t['chart']}", ""]
    out += md_table(
        [t["month"], t["funding"], t["committed"], t["disbursed_net"]],
        [[t["months"][m["month"] - 1], m["funding"], m["committed"], m["disbursed_net"]] for m in pool["months"]],
        {1, 2, 3},
    ) + [""]
    return out


def funding_label(change: dict[str, Any], t: dict[str, Any]) -> str:
    """What a row of the pool's funding changes was."""
    if change["kind"] == "pool_opened":
        return t["opened"]
    label = t["reversed_reallocation"] if change.get("reversal") else t["reallocation"]
    return f"{label}: {change['reason']}" if change.get("reason") else label


def reallocation_note(move: dict[str, Any], t: dict[str, Any]) -> str:
    """A reallocation's reason, saying what it reverses or that it was reversed."""
    note = move.get("reason") or ""
    if move.get("reverses_sequence"):
        note = f"{t['reversal_of']} #{move['reverses_sequence']}: {note}".rstrip(": ")
    if move.get("reversed_by_sequence"):
        note = f"{note} ({t['reversed']})".strip()
    return note


def unspent_text(pool: dict[str, Any], t: dict[str, Any]) -> str:
    """What is unspent and what happens to it, as sentences."""
    close = pool.get("close")
    if close is None:
        parts = [t["open_text"].format(available=pool["available"])]
    else:
        parts = [t["closed_text"].format(
            date=close["date"], body=close["decided_by"], ref=close["decision_ref"], unspent=pool["unspent"] or money(0)
        )]
        if pool.get("outstanding_at_close_ore"):
            parts.append(t["closed_outstanding"].format(outstanding=pool["outstanding_at_close"]))
    parts.append(t["unspent_fate"])
    return " ".join(p if p.endswith(".") else p + "." for p in parts)


# ---------------------------------------------------------------------- HTML and PDF


def to_html(data: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("projections", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(
        money=money, unspent_text=unspent_text, area_name=area_name, funding_label=funding_label,
        reallocation_note=reallocation_note,
    )
    return env.get_template("ultimo.html.j2").render(r=data, t=labels(data))


def to_pdf(data: dict[str, Any]) -> bytes:
    """The HTML rendered by WeasyPrint; the same bytes for the same events.

    fontTools stamps the embedded font subsets with the time it makes them
    unless SOURCE_DATE_EPOCH says otherwise: it is set to the report year's
    last day while rendering, so nothing of the moment of generation gets in.
    """
    import calendar
    import datetime as dt
    import os

    from weasyprint import HTML

    epoch = str(calendar.timegm(dt.date(data["year"], 12, 31).timetuple()))
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = epoch
    try:
        return HTML(string=to_html(data)).write_pdf()  # type: ignore[no-any-return]
    finally:
        if before is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before


# ---------------------------------------------------------------------- XLSX

KR_FORMAT = '#,##0.00 "kr."'
SHEETS = {
    "da": {"overview": "Oversigt", "totals": "I alt", "funding": "Midler", "grants": "Bevillinger",
           "areas": "Områder", "kinds": "Typer", "budget": "Tryghedsplanens budget", "reallocations": "Omdisponeringer"},
    "en": {"overview": "Overview", "totals": "Totals", "funding": "Funding", "grants": "Grants",
           "areas": "Areas", "kinds": "Kinds", "budget": "The plan's budget", "reallocations": "Reallocations"},
}


def neutralise(value: Any) -> Any:
    """A text cell that no spreadsheet runs as a formula and every workbook can hold.

    Characters XML 1.0 cannot carry (NUL, ESC, BEL, ...) become U+FFFD; a
    leading `=`, `+`, `-`, `@`, tab or carriage return gets an apostrophe.
    """
    if not isinstance(value, str):
        return value
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_xlsx(data: dict[str, Any]) -> bytes:
    import datetime as dt
    from decimal import Decimal

    from openpyxl import Workbook
    from openpyxl.styles import Font

    t = labels(data)
    book = Workbook()
    fixed = dt.datetime(data["year"], 12, 31, 0, 0)
    book.properties.created = fixed
    book.properties.modified = fixed
    book.properties.creator = "pulje"

    def cell_value(value: Any, is_money: bool) -> Any:
        if is_money and isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value).scaleb(-2)
        if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-" and value[:4].isdigit():
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        return neutralise(value)

    def sheet(title: str, headers: list[str], rows: list[list[Any]], money_cols: set[int]) -> None:
        ws = book.create_sheet(title[:31])
        ws.append([neutralise(h) for h in headers])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append([cell_value(v, i in money_cols) for i, v in enumerate(row)])
        for cells in ws.iter_rows(min_row=2):
            for cell in cells:
                if cell.column - 1 in money_cols:
                    cell.number_format = KR_FORMAT
                elif isinstance(cell.value, dt.date):
                    cell.number_format = "yyyy-mm-dd"
        for i, header in enumerate(headers, start=1):
            width = max([len(str(header))] + [len(str(r[i - 1])) for r in rows if i - 1 < len(r)] + [8])
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(width + 2, 60)

    names = SHEETS[data["lang"]]
    overview = book.active
    overview.title = names["overview"]
    for row in [
        [t["title"], f"{t['ultimo']} {data['year']}: {data['plan_title']} ({data['partnership']})"],
        [t["head"], data["head"]],
        [t["last_event"], data["last_event_at"] or ""],
        [t["check"], data["verify_command"]],
    ]:
        overview.append([neutralise(v) for v in row])
    overview.column_dimensions["A"].width = 34
    overview.column_dimensions["B"].width = 80
    kind_name = lambda k, t: t["kinds"].get(k, k)  # noqa: E731
    for pool in data["pools"]:
        code = pool["code"]
        sheet(
            f"{names['totals']} {code}", ["", t["amount"]],
            [[t[k], pool[f"{k}_ore"]] for k in ("funding", "awarded", "withdrawn", "returned", "committed", "disbursed",
                                                 "disbursed_net", "outstanding", "available")],
            {1},
        )
        sheet(
            f"{names['funding']} {code}", [t["date"], t["decision"], t["decided_by"], t["ref"], t["change"], t["after"]],
            [[c["date"], funding_label(c, t), c["decided_by"], c["decision_ref"], c["change_ore"], c["funding_after_ore"]]
             for c in pool["funding_changes"]],
            {4, 5},
        )
        sheet(
            f"{names['grants']} {code}",
            [t["grant"], t["date"], t["recipient"], t["purpose"], t["area"], t["decided_by"], t["ref"], t["requested"],
             t["awarded"], t["disbursed"], t["returned"], t["withdrawn"], t["status"]],
            [[g["grant"], g["date"], g["recipient"], g["purpose"], g["area"] or "", g["decided_by"], g["decision_ref"],
              g["requested_ore"], g["awarded_ore"], g["disbursed_ore"], g["returned_ore"], g["withdrawn_ore"],
              t["statuses"].get(g["status"], g["status"])] for g in pool["grants"]],
            {7, 8, 9, 10, 11},
        )
        for title, key, name in ((names["areas"], "summary_by_area", area_name), (names["kinds"], "summary_by_kind", kind_name)):
            sheet(
                f"{title} {code}", ["", t["count"], t["awarded"], t["committed"], t["disbursed_net"]],
                [[name(s["key"], t), s["grants"], s["awarded_ore"], s["committed_ore"], s["disbursed_net_ore"]] for s in pool[key]],
                {2, 3, 4},
            )
    plan = data["plan"]
    sheet(
        names["budget"], [t["line"], t["name"], t["original"], t["corrected"], t["change"]],
        [[line["line"], line["name"], line["adopted_ore"], line["budget_ore"], line["budget_ore"] - line["adopted_ore"]]
         for line in plan["lines"]]
        + [["", t["totals"], plan["total_adopted_ore"], plan["total_budget_ore"], plan["total_budget_ore"] - plan["total_adopted_ore"]]],
        {2, 3, 4},
    )
    sheet(
        names["reallocations"], [t["date"], t["from"], t["to"], t["amount"], t["decided_by"], t["ref"], t["reason"]],
        [[r["date"], r["from_line"], r["to_line"], r["amount_ore"], r["decided_by"], r["decision_ref"], reallocation_note(r, t)]
         for r in plan["reallocations"]],
        {3},
    )
    buffer = io.BytesIO()
    book.save(buffer)
    return _stable_zip(buffer.getvalue(), fixed)


def _stable_zip(data: bytes, when: Any) -> bytes:
    """The same workbook bytes every time: fixed entry dates, same order."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(when.year, when.month, when.day, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                # openpyxl stamps the moment of saving as "modified"; the report's year end instead.
                import re

                stamp = f"{when.year:04d}-{when.month:02d}-{when.day:02d}T00:00:00Z".encode()
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>" + stamp + rb"\g<2>", content)
            target.writestr(fixed, content)
    return out.getvalue()
