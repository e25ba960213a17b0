"""The ultimo report: what the working group tells the steering group at year end.

`ultimo_report` turns read-model rows and each pool's replay into one plain
data structure (the `json` format, and the source of every other format).
It does no I/O and reads no clock: the same events always give the same
report, so a report can later be checked against the ledger with
`pulje verify --head` and the head it states.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from projections.model import AuditRow, GrantRow, LineRow, LineYearRow, PlanRow, PoolRow
from projections.render import amounts, plan_json, pool_json
from projections.replay import ReplayStep

#: How a grant's purpose is sorted into the kinds the plan names, first match wins.
PURPOSE_KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("viden", re.compile(r"vidensarrangement|fyraftensmøde|temadag|vidensdeling|konference", re.I)),
    ("dialogpavillon", re.compile(r"dialogpavillon", re.I)),
    ("tryghedsvandring", re.compile(r"tryghedsvandring|lysvandring|vandring", re.I)),
    ("borgermoede", re.compile(r"borgermøde|dialogmøde|beboermøde", re.I)),
    ("efter_haendelse", re.compile(r"\befter\b.*\b(brand|uro|overfald|knivoverfald|indbrud|skyderi|hændelse|episode|hærværk)", re.I)),
    ("beboerdrevet", re.compile(r"beboerdrevet|fest|fællesspisning|marked|arrangement|gårdfest", re.I)),
]
OTHER_KIND = "andet"

LABELS = {
    "da": {
        "title": "Afrapportering til styregruppen", "ultimo": "Ultimo", "plan": "Tryghedsplan",
        "head": "Kontrolsum (ledgerens hoved)", "last_event": "Seneste registrerede hændelse",
        "check": "Kontrol", "check_text": "Enhver kan kontrollere, at ledgeren stadig indeholder præcis de hændelser, rapporten bygger på:",
        "pool": "Pulje", "funding": "Midler", "start_funding": "Midler ved årets start", "funding_changes": "Ændringer i puljens midler",
        "grants": "Bevillinger", "totals": "I alt", "unspent": "Ubrugte midler", "by_area": "Fordeling på indsatsområder",
        "by_kind": "Fordeling på typer af aktiviteter", "chart": "Puljen over året", "budget": "Tryghedsplanens budget",
        "reallocations": "Omdisponeringer", "no_reallocations": "Ingen omdisponeringer.", "no_grants": "Ingen bevillinger.",
        "no_changes": "Ingen ændringer.",
        "date": "Dato", "decision": "Beslutning", "decided_by": "Besluttet af", "ref": "Reference", "change": "Ændring",
        "after": "Midler efter", "grant": "Bevilling", "recipient": "Modtager", "purpose": "Formål", "area": "Indsatsområde",
        "requested": "Ansøgt", "awarded": "Bevilget", "disbursed": "Udbetalt", "returned": "Tilbagebetalt",
        "withdrawn": "Annulleret", "status": "Status", "committed": "Disponeret", "available": "Til rådighed",
        "outstanding": "Bevilget, ikke udbetalt", "disbursed_net": "Udbetalt netto", "count": "Antal",
        "line": "Linje", "name": "Aktivitet", "original": "Oprindeligt budget", "corrected": "Korrigeret budget",
        "from": "Fra linje", "to": "Til linje", "amount": "Beløb", "reason": "Begrundelse", "reversed": "tilbageført",
        "month": "Måned", "none": "(intet)", "no_area": "(intet indsatsområde)",
        "closed_text": "Puljen blev lukket {date} efter beslutning i {body}, jf. {ref}. Ubrugte midler ved lukningen: {unspent}",
        "closed_outstanding": "Desuden var {outstanding} bevilget, men ikke udbetalt, da puljen blev lukket; beløbet kan ikke længere udbetales fra puljen.",
        "open_text": "Puljen er ikke lukket. Til rådighed nu: {available}",
        "unspent_fate": "Ubrugte midler falder tilbage til tryghedsplanens budget via Økonomiforvaltningen.",
        "opened": "puljen åbnet (tryghedsplanen vedtaget)", "reallocation": "omdisponering",
        "reversal_of": "tilbageførsel af", "reversed_reallocation": "omdisponering tilbageført",
        "chart_alt": "Midler, disponeret og udbetalt over året", "legend_funding": "Midler",
        "legend_committed": "Disponeret", "legend_disbursed": "Udbetalt netto",
        "kinds": {
            "dialogpavillon": "Dialogpavillon", "tryghedsvandring": "Tryghedsvandringer", "borgermoede": "Borgermøder",
            "efter_haendelse": "Arrangementer efter utryghedsskabende hændelser", "viden": "Vidensarrangementer",
            "beboerdrevet": "Beboerdrevne arrangementer", "andet": "Andet",
        },
        "statuses": {
            "awarded": "bevilget", "partly_disbursed": "delvist udbetalt", "disbursed": "udbetalt",
            "withdrawn": "annulleret", "closed": "lukket", "reversed": "tilbageført",
        },
        "months": ["jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec"],
    },
    "en": {
        "title": "Report to the steering group", "ultimo": "Year end", "plan": "Safety plan",
        "head": "Ledger head", "last_event": "Last recorded event",
        "check": "Check", "check_text": "Anyone can check that the ledger still holds exactly the events this report is built on:",
        "pool": "Pool", "funding": "Funding", "start_funding": "Funding at the start of the year", "funding_changes": "Changes to the pool's funding",
        "grants": "Grants", "totals": "Totals", "unspent": "Unspent money", "by_area": "By focus area",
        "by_kind": "By kind of activity", "chart": "The pool over the year", "budget": "The plan's budget",
        "reallocations": "Reallocations", "no_reallocations": "No reallocations.", "no_grants": "No grants.",
        "no_changes": "No changes.",
        "date": "Date", "decision": "Decision", "decided_by": "Decided by", "ref": "Reference", "change": "Change",
        "after": "Funding after", "grant": "Grant", "recipient": "Recipient", "purpose": "Purpose", "area": "Focus area",
        "requested": "Requested", "awarded": "Awarded", "disbursed": "Disbursed", "returned": "Returned",
        "withdrawn": "Withdrawn", "status": "Status", "committed": "Committed", "available": "Available",
        "outstanding": "Awarded, not paid", "disbursed_net": "Paid out, net", "count": "Number",
        "line": "Line", "name": "Activity", "original": "Original budget", "corrected": "Corrected budget",
        "from": "From line", "to": "To line", "amount": "Amount", "reason": "Reason", "reversed": "reversed",
        "month": "Month", "none": "(none)", "no_area": "(no focus area)",
        "closed_text": "The pool was closed on {date} by decision of {body}, see {ref}. Unspent at the close: {unspent}",
        "closed_outstanding": "Besides, {outstanding} was awarded but not paid out when the pool closed; it can no longer be paid from the pool.",
        "open_text": "The pool is not closed. Available now: {available}",
        "unspent_fate": "Unspent money returns to the plan's budget through Økonomiforvaltningen.",
        "opened": "pool opened (plan adopted)", "reallocation": "reallocation",
        "reversal_of": "reversal of", "reversed_reallocation": "reallocation reversed",
        "chart_alt": "Funding, committed and paid out over the year", "legend_funding": "Funding",
        "legend_committed": "Committed", "legend_disbursed": "Paid out, net",
        "kinds": {
            "dialogpavillon": "Dialogue pavilion", "tryghedsvandring": "Safety walks", "borgermoede": "Citizen meetings",
            "efter_haendelse": "Events after incidents", "viden": "Knowledge events",
            "beboerdrevet": "Resident-driven events", "andet": "Other",
        },
        "statuses": {
            "awarded": "awarded", "partly_disbursed": "partly disbursed", "disbursed": "disbursed",
            "withdrawn": "withdrawn", "closed": "closed", "reversed": "reversed",
        },
        "months": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    },
}

CHART_WIDTH, CHART_HEIGHT = 640, 260
CHART_LEFT, CHART_RIGHT, CHART_TOP, CHART_BOTTOM = 84, 12, 12, 28


def purpose_kind(purpose: str) -> str:
    for kind, pattern in PURPOSE_KINDS:
        if pattern.search(purpose):
            return kind
    return OTHER_KIND


@dataclass
class PoolInput:
    pool: PoolRow
    grants: Sequence[GrantRow]
    steps: Sequence[ReplayStep]


def ultimo_report(
    *,
    year: int,
    plan: PlanRow,
    lines: Sequence[LineRow],
    years: Sequence[LineYearRow],
    reallocations: Sequence[AuditRow],
    reversed_by: dict[str, int],
    pools: Sequence[PoolInput],
    head: tuple[int, str],
    last_event_at: str | None,
    lang: str = "da",
) -> dict[str, Any]:
    """The report as plain data: the `json` format."""
    plan_part = plan_json(plan, lines, years, year)
    sequences = {r.event_id: r.sequence for r in reallocations}
    plan_part["reallocations"] = [
        {
            "sequence": r.sequence,
            "date": r.date,
            "kind": r.kind,
            "from_line": r.details.get("from_line") if r.kind == "reallocated" else r.details.get("to_line"),
            "to_line": r.details.get("to_line") if r.kind == "reallocated" else r.details.get("from_line"),
            **amounts(amount=r.amount_ore),
            "decided_by": r.decided_by,
            "decision_ref": r.decision_ref,
            "reason": r.reason,
            "reversed_by_sequence": reversed_by.get(r.event_id),
            "reverses_sequence": sequences.get(r.reverses) if r.reverses else None,
        }
        for r in reallocations
    ]
    return {
        "report": "ultimo",
        "lang": lang,
        "year": year,
        "partnership": plan.partnership,
        "plan_title": plan.title,
        "head": head[1],
        "head_sequence": head[0],
        "last_event_at": last_event_at,
        "verify_command": f"pulje verify --head {head[1]}",
        "pools": [_pool_part(p, year, plan.decided_by) for p in pools],
        "plan": plan_part,
    }


def _pool_part(data: PoolInput, year: int, adopted_by: str | None) -> dict[str, Any]:
    pool = data.pool
    part = pool_json(pool, data.grants)
    for grant_part, grant in zip(part["grants"], data.grants, strict=True):
        grant_part["kind_of_purpose"] = purpose_kind(grant.purpose)
    part.update(
        amounts(
            disbursed_net=pool.disbursed_ore - pool.returned_ore,
            outstanding=sum(g.awarded_ore - g.withdrawn_ore - g.disbursed_ore for g in data.grants if not g.reversed),
        )
    )
    part["funding_changes"] = [
        {
            "sequence": s.sequence,
            "date": s.date,
            "kind": s.kind,
            **amounts(change=s.amount_ore, funding_after=s.funding_ore),
            "reversal": s.reversal,
            "decided_by": adopted_by if s.kind == "pool_opened" else s.decided_by,
            "decision_ref": s.decision_ref,
            "reason": s.reason,
        }
        for s in data.steps
        if s.kind in ("pool_opened", "funding_changed")
    ]
    close = next((s for s in data.steps if s.kind == "pool_closed"), None)
    part["close"] = (
        None if close is None else {"date": close.date, "decided_by": close.decided_by, "decision_ref": close.decision_ref}
    )
    part["summary_by_area"] = _summary(data.grants, lambda g: g.area or "")
    order = [kind for kind, _ in PURPOSE_KINDS] + [OTHER_KIND]
    part["summary_by_kind"] = sorted(_summary(data.grants, lambda g: purpose_kind(g.purpose)), key=lambda s: order.index(s["key"]))
    part["months"] = _months(data.steps, year)
    part["chart"] = _chart(data.steps, year)
    return part


def _summary(grants: Sequence[GrantRow], key: Any) -> list[dict[str, Any]]:
    groups: dict[str, list[GrantRow]] = {}
    for grant in grants:
        if not grant.reversed:
            groups.setdefault(key(grant), []).append(grant)
    return [
        {
            "key": name,
            "grants": len(items),
            **amounts(
                awarded=sum(g.awarded_ore for g in items),
                committed=sum(g.awarded_ore - g.withdrawn_ore - g.returned_ore for g in items),
                disbursed_net=sum(g.disbursed_ore - g.returned_ore for g in items),
            ),
        }
        for name, items in sorted(groups.items())
    ]


def _at(steps: Sequence[ReplayStep], date: str) -> ReplayStep | None:
    found = None
    for step in steps:
        if step.date <= date:
            found = step
    return found


def _months(steps: Sequence[ReplayStep], year: int) -> list[dict[str, Any]]:
    out = []
    for month in range(1, 13):
        end = dt.date(year, month, calendar.monthrange(year, month)[1]).isoformat()
        step = _at(steps, end)
        out.append(
            {
                "month": month,
                **amounts(
                    funding=step.funding_ore if step else 0,
                    committed=step.committed_ore if step else 0,
                    disbursed_net=(step.disbursed_ore - step.returned_ore) if step else 0,
                ),
            }
        )
    return out


def _chart(steps: Sequence[ReplayStep], year: int) -> dict[str, Any]:
    """Step lines in integer SVG coordinates for funding, committed and paid out."""
    days = 366 if calendar.isleap(year) else 365
    start = dt.date(year, 1, 1)
    tick, top = nice_scale(max([s.funding_ore for s in steps] + [s.committed_ore for s in steps] + [1]))
    plot_w = CHART_WIDTH - CHART_LEFT - CHART_RIGHT
    plot_h = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM

    def x(date: str) -> int:
        day = min(max((dt.date.fromisoformat(date) - start).days, 0), days)
        return CHART_LEFT + day * plot_w // days

    def y(ore: int) -> int:
        return CHART_TOP + plot_h - max(ore, 0) * plot_h // top

    series: dict[str, list[list[int]]] = {"funding": [], "committed": [], "disbursed_net": []}
    values = {"funding": 0, "committed": 0, "disbursed_net": 0}
    in_year = [s for s in steps if s.date[:4] <= str(year)]
    for step in in_year:
        now = {
            "funding": step.funding_ore,
            "committed": step.committed_ore,
            "disbursed_net": step.disbursed_ore - step.returned_ore,
        }
        for name, points in series.items():
            px = x(step.date)
            if points:
                points.append([px, points[-1][1]])
            points.append([px, y(now[name])])
        values = now
    end = CHART_LEFT + plot_w
    for name, points in series.items():
        if points:
            points.append([end, y(values[name])])
    ticks = [
        {"x": CHART_LEFT + (dt.date(year, m, 1) - start).days * plot_w // days, "month": m} for m in range(1, 13)
    ]
    levels = [{"y": y(value), **amounts(value=value)} for value in range(0, top + 1, tick)]
    return {
        "width": CHART_WIDTH, "height": CHART_HEIGHT, "left": CHART_LEFT, "top": CHART_TOP,
        "plot_width": plot_w, "plot_height": plot_h, "max_ore": top,
        "series": {name: _compact(points) for name, points in series.items()},
        "x_ticks": ticks, "y_ticks": levels,
    }


def nice_scale(ore: int) -> tuple[int, int]:
    """A round step (1, 2, 2.5 or 5 times a power of ten kroner) and a top of at most 6 steps at or above `ore`."""
    power = 100
    while True:
        for step in (power, power * 2, power * 5 // 2, power * 5):
            count = -(-ore // step)
            if count <= 6:
                return step, max(count, 1) * step
        power *= 10


def _compact(points: list[list[int]]) -> list[list[int]]:
    """Drop repeated points, so the same events give the same coordinates however they are grouped."""
    out: list[list[int]] = []
    for point in points:
        if not out or out[-1] != point:
            out.append(point)
    return out
