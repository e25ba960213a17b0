"""Rendering read-model rows: the documented JSON shapes and terminal tables.

JSON keys are fixed by DESIGN.md: amounts as integer øre in keys ending
`_ore`, each with a formatted twin without the suffix. Tables are Danish by
default (`lang="en"` for English); every cell is one line, whatever a
recipient's name contains.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from domain.money import format_ore
from projections.model import AuditRow, GrantRow, LineRow, LineYearRow, PlanRow, PoolRow

_POOL_AMOUNTS = ("funding", "awarded", "disbursed", "returned", "withdrawn", "committed", "available")


def money(ore: int | None) -> str | None:
    return None if ore is None else format_ore(ore)


def amounts(**values: int | None) -> dict[str, Any]:
    """`{name}_ore` and its formatted twin `{name}` for each amount."""
    out: dict[str, Any] = {}
    for name, ore in values.items():
        out[f"{name}_ore"] = ore
        out[name] = money(ore)
    return out


def moment(value: Any) -> str | None:
    """A recorded time as JSON writes it: ISO 8601 in UTC with a Z."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def head_json(head: tuple[int, str]) -> dict[str, Any]:
    return {"head": head[1], "head_sequence": head[0]}


# ---------------------------------------------------------------------- JSON


def grant_json(grant: GrantRow, pool: PoolRow) -> dict[str, Any]:
    return {
        "grant": grant.number,
        "pool": pool.key,
        "code": pool.code,
        "year": grant.year,
        "recipient": grant.recipient,
        "purpose": grant.purpose,
        "area": grant.area,
        "date": grant.date,
        "decided_by": grant.decided_by,
        "decision_ref": grant.decision_ref,
        **amounts(
            requested=grant.requested_ore, awarded=grant.awarded_ore, disbursed=grant.disbursed_ore,
            returned=grant.returned_ore, withdrawn=grant.withdrawn_ore,
            outstanding=grant.awarded_ore - grant.withdrawn_ore - grant.disbursed_ore,
        ),
        "status": grant.status(pool.closed),
    }


def pool_json(pool: PoolRow, grants: Sequence[GrantRow] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pool": pool.key,
        "code": pool.code,
        "name": pool.name,
        "year": pool.year,
        "partnership": pool.partnership,
        "line": pool.line,
        "decided_by": pool.decided_by,
        **amounts(
            initial_funding=pool.initial_ore, funding=pool.funding_ore, awarded=pool.awarded_ore,
            disbursed=pool.disbursed_ore, returned=pool.returned_ore, withdrawn=pool.withdrawn_ore,
            committed=pool.committed_ore, available=pool.available_ore,
        ),
        "grant_count": pool.grants,
        "closed": pool.closed,
        "closed_on": pool.closed_on,
        **amounts(unspent=pool.unspent_ore, outstanding_at_close=pool.outstanding_ore),
    }
    if grants is not None:
        out["grants"] = [grant_json(g, pool) for g in grants]
    return out


def line_json(line: LineRow, year_row: LineYearRow | None) -> dict[str, Any]:
    adopted = year_row.adopted_ore if year_row else 0
    budget = year_row.budget_ore if year_row else 0
    return {
        "line": line.line,
        "name": line.name,
        **amounts(adopted=adopted, budget=budget),
        "preliminary": bool(year_row and year_row.preliminary),
        "discontinued": bool(year_row and year_row.discontinued),
    }


def plan_json(plan: PlanRow, lines: Sequence[LineRow], years: Sequence[LineYearRow], year: int | None = None) -> dict[str, Any]:
    """A plan for one year (the plan year by default), as `status` shows it."""
    year = plan.year if year is None else year
    by_line = {r.line: r for r in years if r.year == year}
    rows = [line_json(line, by_line.get(line.line)) for line in lines]
    return {
        "partnership": plan.partnership,
        "title": plan.title,
        "year": year,
        **amounts(
            total_adopted=sum(r["adopted_ore"] for r in rows), total_budget=sum(r["budget_ore"] for r in rows)
        ),
        "lines": rows,
    }


def plan_detail_json(plan: PlanRow, lines: Sequence[LineRow], years: Sequence[LineYearRow]) -> dict[str, Any]:
    """Every line with every year's figures, posts and notes (`plan show`)."""
    by_line: dict[str, list[LineYearRow]] = {}
    for row in years:
        by_line.setdefault(row.line, []).append(row)
    all_years = sorted({r.year for r in years})
    return {
        "partnership": plan.partnership,
        "title": plan.title,
        "year": plan.year,
        "source_file": plan.source_file,
        "source_sha256": plan.source_sha256,
        "reallocation_by": plan.reallocation_body,
        "areas": plan.areas,
        "pools": plan.pools,
        "totals": [
            {
                "year": y,
                **amounts(
                    adopted=sum(r.adopted_ore for r in years if r.year == y),
                    budget=sum(r.budget_ore for r in years if r.year == y),
                ),
                "preliminary": any(r.preliminary for r in years if r.year == y),
            }
            for y in all_years
        ],
        "lines": [
            {
                "line": line.line,
                "name": line.name,
                "new": line.new,
                "areas": line.areas,
                "responsible": line.responsible,
                "notes": line.notes,
                "years": [
                    {
                        "year": r.year,
                        **amounts(adopted=r.adopted_ore, budget=r.budget_ore, overview_total=r.total_ore),
                        "posts_ore": r.posts,
                        "posts": {k: money(v) for k, v in r.posts.items()},
                        "preliminary": r.preliminary,
                        "discontinued": r.discontinued,
                        "note": r.note,
                    }
                    for r in sorted(by_line.get(line.line, []), key=lambda r: r.year)
                ],
            }
            for line in lines
        ],
    }


def recorded_days_after(row: AuditRow) -> int:
    import datetime as dt

    return (dt.date.fromisoformat(row.recorded_at[:10]) - dt.date.fromisoformat(row.date)).days


def audit_json(row: AuditRow, reversed_by: dict[str, int], sequences: dict[str, int]) -> dict[str, Any]:
    from projections.replay import LATE_AFTER_DAYS

    out = dict(row.details)
    days = recorded_days_after(row)
    out.update(
        {
            "sequence": row.sequence,
            "event_id": row.event_id,
            "recorded_at": row.recorded_at,
            "date": row.date,
            "kind": row.kind,
            "actor": row.actor,
            "decided_by": row.decided_by,
            "decision_ref": row.decision_ref,
            "reason": row.reason,
            **amounts(amount=row.amount_ore),
            "hash": row.hash,
            "pool": row.pool,
            "year": row.year,
            "grant": row.grant,
            "reverses": row.reverses,
            "reverses_sequence": sequences.get(row.reverses) if row.reverses else None,
            "reversed_by_sequence": reversed_by.get(row.event_id),
            "recorded_days_after": days,
            "late": days >= LATE_AFTER_DAYS,
        }
    )
    return out


# ---------------------------------------------------------------------- tables

LABELS = {
    "da": {
        "line": "Linje", "name": "Aktivitet", "adopted": "Vedtaget", "budget": "Budget nu", "total": "I alt",
        "pool": "Pulje", "year": "År", "funding": "Midler", "awarded": "Bevilget", "disbursed": "Udbetalt",
        "returned": "Tilbagebetalt", "withdrawn": "Annulleret", "committed": "Disponeret",
        "available": "Til rådighed", "closed": "lukket", "open": "åben", "grant": "Bevilling", "date": "Dato",
        "recipient": "Modtager", "purpose": "Formål", "area": "Indsatsområde", "status": "Status",
        "decided_by": "Besluttet af", "ref": "Reference", "seq": "Nr.", "kind": "Hændelse", "actor": "Registreret af",
        "amount": "Beløb", "reason": "Begrundelse", "head": "Hoved", "discontinued": "udgår",
        "preliminary": "foreløbig", "plan": "Tryghedsplan", "no_plans": "Ingen tryghedsplaner i ledgeren.",
        "note": "Note", "recorded": "Registreret",
    },
    "en": {
        "line": "Line", "name": "Activity", "adopted": "Adopted", "budget": "Budget now", "total": "Total",
        "pool": "Pool", "year": "Year", "funding": "Funding", "awarded": "Awarded", "disbursed": "Disbursed",
        "returned": "Returned", "withdrawn": "Withdrawn", "committed": "Committed", "available": "Available",
        "closed": "closed", "open": "open", "grant": "Grant", "date": "Date", "recipient": "Recipient",
        "purpose": "Purpose", "area": "Focus area", "status": "Status", "decided_by": "Decided by",
        "ref": "Reference", "seq": "No.", "kind": "Event", "actor": "Recorded by", "amount": "Amount",
        "reason": "Reason", "head": "Head", "discontinued": "discontinued", "preliminary": "preliminary",
        "plan": "Safety plan", "no_plans": "No plans in the ledger.", "note": "Note", "recorded": "Recorded",
    },
}

STATUS_DA = {
    "awarded": "bevilget", "partly_disbursed": "delvist udbetalt", "disbursed": "udbetalt",
    "withdrawn": "annulleret", "closed": "lukket", "reversed": "tilbageført",
}

KIND_DA = {
    "plan_adopted": "tryghedsplan vedtaget", "line_budgeted": "aktivitet budgetteret",
    "reallocated": "omdisponering", "reallocation_reversed": "omdisponering tilbageført",
    "line_discontinued": "aktivitet udgår", "pool_opened": "pulje åbnet", "funding_changed": "puljens midler ændret",
    "grant_awarded": "bevilling", "grant_disbursed": "udbetaling", "grant_returned": "tilbagebetaling",
    "grant_withdrawn": "bevilling annulleret", "pool_closed": "pulje lukket", "entry_reversed": "tilbageførsel",
    "key_recorded": "idempotensnøgle",
}


LATE_AFTER = 30  # days; the same threshold as projections.replay.LATE_AFTER_DAYS

KIND_EN = {
    "plan_adopted": "the plan's adoption", "line_budgeted": "a line's budget as adopted",
    "reallocated": "a reallocation", "reallocation_reversed": "a reversal of a reallocation",
    "line_discontinued": "a line discontinued", "pool_opened": "a pool's opening",
    "funding_changed": "a change to a pool's funding", "grant_awarded": "a grant award",
    "grant_disbursed": "a payment", "grant_returned": "a return", "grant_withdrawn": "a withdrawal",
    "pool_closed": "a pool's close", "entry_reversed": "a reversal", "key_recorded": "a command key",
}


def cell(value: Any, width: int = 48) -> str:
    """One line of text: control characters and line breaks shown as spaces, long text cut."""
    if value is None:
        return ""
    text = str(value)
    if not text.isprintable():  # printable text has none of these (a pool of a thousand grants: 10,000 cells)
        text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], right: Iterable[int] = ()) -> str:
    right_cols = set(right)
    body = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]

    def fmt(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if i in right_cols else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    lines = [fmt(list(headers)), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in body]
    return "\n".join(lines)


def status_table(status_plans: Sequence[dict[str, Any]], pools: Sequence[PoolRow], head: tuple[int, str], lang: str = "da") -> str:
    t = LABELS[lang]
    out: list[str] = []
    if not status_plans and not pools:
        out.append(t["no_plans"])
    for plan in status_plans:
        out.append(f"{t['plan']}: {plan['title']} ({plan['partnership']}, {plan['year']})")
        rows = []
        for line in plan["lines"]:
            mark = f" ({t['discontinued']})" if line["discontinued"] else ""
            rows.append([line["line"], line["name"] + mark, line["adopted"], line["budget"]])
        rows.append(["", t["total"], plan["total_adopted"], plan["total_budget"]])
        out.append(table([t["line"], t["name"], t["adopted"], t["budget"]], rows, right=(2, 3)))
        out.append("")
    if pools:
        rows = [
            [
                f"{p.code} {p.name}", p.year, money(p.funding_ore), money(p.committed_ore), money(p.disbursed_ore),
                money(p.available_ore), t["closed"] if p.closed else t["open"],
            ]
            for p in pools
        ]
        out.append(
            table([t["pool"], t["year"], t["funding"], t["committed"], t["disbursed"], t["available"], ""], rows, right=(2, 3, 4, 5))
        )
        out.append("")
    out.append(f"{t['head']}: {head[1]} (#{head[0]})")
    return "\n".join(out)


def pool_table(pool: PoolRow, grants: Sequence[GrantRow], head: tuple[int, str], lang: str = "da") -> str:
    t = LABELS[lang]
    state = t["closed"] if pool.closed else t["open"]
    lines = [f"{pool.name} ({pool.code}) {pool.year}, {pool.partnership}, {t['line']} {pool.line}: {state}"]
    figures = [
        (t["funding"], pool.funding_ore), (t["awarded"], pool.awarded_ore), (t["withdrawn"], pool.withdrawn_ore),
        (t["returned"], pool.returned_ore), (t["committed"], pool.committed_ore), (t["disbursed"], pool.disbursed_ore),
        (t["available"], pool.available_ore),
    ]
    width = max(len(label) for label, _ in figures)
    lines += [f"  {label.ljust(width)}  {money(ore):>20}" for label, ore in figures]
    lines.append("")
    if grants:
        rows = [
            [
                g.number, g.date, g.recipient, g.purpose, g.area or "", money(g.awarded_ore), money(g.disbursed_ore),
                money(g.returned_ore), STATUS_DA.get(g.status(pool.closed), g.status(pool.closed)) if lang == "da" else g.status(pool.closed),
            ]
            for g in grants
        ]
        lines.append(
            table(
                [t["grant"], t["date"], t["recipient"], t["purpose"], t["area"], t["awarded"], t["disbursed"], t["returned"], t["status"]],
                rows,
                right=(5, 6, 7),
            )
        )
        lines.append("")
    lines.append(f"{t['head']}: {head[1]} (#{head[0]})")
    return "\n".join(lines)


def audit_table(rows: Sequence[AuditRow], reversed_by: dict[str, int], sequences: dict[str, int], head: tuple[int, str], lang: str = "da") -> str:
    t = LABELS[lang]
    body = []
    for r in rows:
        kind = KIND_DA.get(r.kind, r.kind) if lang == "da" else r.kind
        subject = r.grant or r.pool or ""
        if r.kind in ("reallocated", "reallocation_reversed"):
            subject = f"{r.details.get('from_line')} -> {r.details.get('to_line')}"
        elif r.kind == "line_budgeted":
            subject = f"{t['line'].lower()} {r.details['terms']['line']}"
        elif r.kind == "key_recorded":
            subject = f"--key {r.details.get('key')} ({r.details.get('command')})"
        elif r.kind == "plan_adopted":
            subject = f"{r.details.get('partnership')} {r.details.get('year')}"
        note = r.reason or r.details.get("payment_ref") or ""
        days = recorded_days_after(r)
        if days >= LATE_AFTER:
            late = f"registreret {days} dage efter" if lang == "da" else f"recorded {days} days after"
            note = f"[{late}] {note}".strip()
        if r.reverses:
            note = f"↩ #{sequences.get(r.reverses, '?')} {note}".strip()
        if r.event_id in reversed_by:
            note = f"↪ #{reversed_by[r.event_id]} {note}".strip()
        body.append([r.sequence, r.date, kind, subject or "", money(r.amount_ore) or "", r.decided_by or "", r.decision_ref or "", r.actor, note])
    text = table([t["seq"], t["date"], t["kind"], "", t["amount"], t["decided_by"], t["ref"], t["actor"], t["reason"]], body, right=(0, 4))
    return f"{text}\n\n{t['head']}: {head[1]} (#{head[0]})"


def plan_text(data: dict[str, Any], lang: str = "da") -> str:
    """`plan show` as text: budget now per line and year, posts, notes."""
    t = LABELS[lang]
    out: list[str] = []
    if not data["plans"]:
        out.append(t["no_plans"])
    for plan in data["plans"]:
        years = [y["year"] for y in plan["totals"]]
        prelim = {y["year"] for y in plan["totals"] if y["preliminary"]}
        out.append(f"{t['plan']}: {plan['title']} ({plan['partnership']}, {plan['year']})")
        headers = [t["line"], t["name"], *[f"{y}*" if y in prelim else str(y) for y in years]]
        rows = []
        for line in plan["lines"]:
            by_year = {y["year"]: y for y in line["years"]}
            cells = []
            for y in years:
                entry = by_year.get(y)
                if entry is None:
                    cells.append("")
                elif entry["discontinued"]:
                    cells.append(t["discontinued"])
                else:
                    cells.append(entry["budget"])
            rows.append([line["line"], line["name"], *cells])
        rows.append(["", t["total"], *[y["budget"] for y in plan["totals"]]])
        out.append(table(headers, rows, right=range(2, 2 + len(years))))
        if prelim:
            out.append(f"* {t['preliminary']}")
        out.append("")
        for line in plan["lines"]:
            year_entry = next((y for y in line["years"] if y["year"] == plan["year"]), None)
            posts = year_entry["posts"] if year_entry else {}
            if posts:
                shown = "; ".join(f"{cell(name)} {amount}" for name, amount in posts.items())
                out.append(f"{line['line']} {cell(line['name'])} ({plan['year']}): {shown}")
        notes = [(line["line"], note) for line in plan["lines"] for note in line["notes"]]
        notes += [(line["line"], f"{y['year']}: {y['note']}") for line in plan["lines"] for y in line["years"] if y["note"]]
        if notes:
            out.append("")
            out.append(f"{t['note']}:")
            out += [f"  {no}: {cell(note, 200)}" for no, note in notes]
        out.append("")
    out.append(f"{t['head']}: {data['head']} (#{data['head_sequence']})")
    return "\n".join(out)


CSV_COLUMNS = (
    "sequence", "recorded_at", "date", "kind", "actor", "decided_by", "decision_ref", "reason", "amount_ore",
    "amount", "pool", "year", "grant", "reverses_sequence", "reversed_by_sequence", "hash", "event_id", "details",
)


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def audit_csv_rows(rows: Sequence[AuditRow], reversed_by: dict[str, int], sequences: dict[str, int]) -> Iterable[list[Any]]:
    import json

    yield list(CSV_COLUMNS)
    for row in rows:
        data = audit_json(row, reversed_by, sequences)
        data["details"] = json.dumps(row.details, ensure_ascii=False, sort_keys=True)
        yield [neutralise(data.get(column)) if column != "amount_ore" else data.get(column) for column in CSV_COLUMNS]


def replay_json(step: Any) -> dict[str, Any]:
    return {
        "sequence": step.sequence,
        "date": step.date,
        "recorded_at": step.recorded_at,
        "recorded_days_after": step.recorded_days_after,
        "late": step.late,
        "kind": step.kind,
        "grant": step.grant,
        "recipient": step.recipient,
        "purpose": step.purpose,
        **amounts(amount=step.amount_ore),
        "decided_by": step.decided_by,
        "decision_ref": step.decision_ref,
        "reason": step.reason,
        **amounts(
            funding=step.funding_ore, awarded=step.awarded_ore, committed=step.committed_ore,
            disbursed=step.disbursed_ore, returned=step.returned_ore, withdrawn=step.withdrawn_ore,
            available=step.available_ore,
        ),
    }


def replay_table(pool: PoolRow, steps: Sequence[Any], head: tuple[int, str], lang: str = "da") -> str:
    t = LABELS[lang]
    rows = []
    for s in steps:
        kind = KIND_DA.get(s.kind, s.kind) if lang == "da" else s.kind
        what = " ".join(x for x in (s.grant, s.recipient) if x) or (s.reason or "")
        late = ""
        if s.late:
            late = f"{s.recorded_days_after} d. sent" if lang == "da" else f"{s.recorded_days_after} d. late"
        rows.append([
            s.sequence, s.date, kind, what, money(s.amount_ore) or "", s.decided_by or "", s.decision_ref or "",
            money(s.funding_ore), money(s.committed_ore), money(s.available_ore), late,
        ])
    headers = [t["seq"], t["date"], t["kind"], "", t["amount"], t["decided_by"], t["ref"], t["funding"],
               t["committed"], t["available"], ""]
    title = f"{pool.name} ({pool.code}) {pool.year}, {pool.partnership}"
    return f"{title}\n{table(headers, rows, right=(0, 4, 7, 8, 9))}\n\n{t['head']}: {head[1]} (#{head[0]})"
