"""The log as an hledger journal: double-entry postings for plans, pools and grants.

Accounts (colon-separated, as hledger reads them):

    finansiering:<partnership>:<year>                      where the adopted budget comes from
    plan:<partnership>:<year>:<line> <name>                a line's budget
    plan:<partnership>:<year>:<line> <name>:til rådighed   a pool line's money not yet committed
    plan:<partnership>:<year>:<line> <name>:bevilget:<grant>    awarded and not yet paid
    plan:<partnership>:<year>:<line> <name>:udbetalt:<recipient>    paid to a recipient

So `hledger bal plan:<partnership>:<year> --depth 4` shows every line's
budget now (for a pool line: available + awarded-unpaid + paid = its
funding), and the sub-accounts of a pool line show available, outstanding
grants and what each recipient received, net of returns. A reallocation moves
money between two lines; a pool's funding change mirrors it and gets no
posting of its own.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

from projections.fold import kind_of

AVAILABLE = "til rådighed"
AWARDED = "bevilget"
PAID = "udbetalt"


def amount(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    ore = abs(ore)
    return f"{sign}{ore // 100}.{ore % 100:02d} DKK"


def name_part(text: str) -> str:
    """Text that hledger reads as one part of an account name."""
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    for bad, good in ((":", "-"), (";", ","), ("(", ""), (")", ""), ("[", ""), ("]", ""), ("=", "-"), ("*", ""), ("!", "")):
        cleaned = cleaned.replace(bad, good)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > 80:
        # Long names are cut; a short digest of the whole keeps two names that differ late apart.
        import hashlib

        cleaned = f"{cleaned[:70]} #{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    return cleaned or "-"


def description(text: str) -> str:
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    return " ".join(cleaned.replace(";", ",").replace("|", "/").split())[:200]


class JournalWriter:
    """Turns events, in chain order, into journal transactions."""

    def __init__(self) -> None:
        self.plans: dict[str, dict[str, Any]] = {}
        self.pools: dict[str, dict[str, Any]] = {}

    def header(self, head: tuple[int, str]) -> Iterator[str]:
        yield f"; pulje journal export: {head[0]} events, head {head[1]}"
        yield "; amounts in DKK; accounts: see `pulje export --help`"
        yield "decimal-mark ."
        yield "commodity 1000.00 DKK"
        yield ""

    def line_account(self, plan_id: str, year: int, line: str) -> str:
        plan = self.plans[plan_id]
        label = name_part(f"{line} {plan['names'].get(line, '')}")
        base = f"plan:{name_part(plan['partnership'])}:{year}:{label}"
        if year == plan["year"] and line in plan["pool_lines"]:
            return f"{base}:{AVAILABLE}"
        return base

    def pool_base(self, pool_id: str) -> str:
        pool = self.pools[pool_id]
        return self.line_account(pool["plan_id"], pool["year"], pool["line"]).rsplit(":", 1)[0]

    def transactions(self, events: Iterable[tuple[int, Any]]) -> Iterator[str]:
        for position, event in events:
            yield from self.transaction(position, event)

    def transaction(self, position: int, e: Any) -> Iterator[str]:
        kind = kind_of(e)
        postings: list[tuple[str, int]] = []
        text = kind.replace("_", " ")
        plan_id = str(e.originator_id)
        if kind == "plan_adopted":
            self.plans[plan_id] = {
                "partnership": e.partnership, "year": e.year, "names": {},
                "pool_lines": {p.line for p in e.pools},
            }
            return
        if kind == "line_budgeted":
            plan = self.plans[plan_id]
            plan["names"][e.terms.line] = e.terms.name
            for budget in e.terms.budgets:
                if budget.amount.ore:
                    postings.append((self.line_account(plan_id, budget.year, e.terms.line), budget.amount.ore))
                    postings.append((f"finansiering:{name_part(plan['partnership'])}:{budget.year}", -budget.amount.ore))
            text = f"vedtaget: {e.terms.line} {e.terms.name}"
        elif kind in ("reallocated", "reallocation_reversed"):
            source, target = (e.from_line, e.to_line) if kind == "reallocated" else (e.to_line, e.from_line)
            postings = [
                (self.line_account(plan_id, e.year, source), -e.amount.ore),
                (self.line_account(plan_id, e.year, target), e.amount.ore),
            ]
            text = f"omdisponering {source} -> {target}" + (" (tilbageført)" if kind != "reallocated" else "")
        elif kind == "pool_opened":
            self.pools[plan_id] = {"plan_id": str(e.plan_id), "year": e.year, "line": e.line, "recipients": {}}
            return
        elif kind.startswith("grant_") or kind == "entry_reversed":
            postings, text = self.grant_postings(kind, e)
        else:
            return
        if not postings:
            return
        yield f"{e.date.isoformat()} * ({position}) {description(text)}"
        yield f"    ; kind:{kind}, seq:{position}"
        if e.decision_ref:
            yield f"    ; decision: {description(e.decision_ref)}"
        for account, ore in postings:
            yield f"    {account}  {amount(ore)}"
        yield ""

    def grant_postings(self, kind: str, e: Any) -> tuple[list[tuple[str, int]], str]:
        pool = self.pools[str(e.originator_id)]
        base = self.pool_base(str(e.originator_id))
        available, awarded = f"{base}:{AVAILABLE}", f"{base}:{AWARDED}:{name_part(e.number)}"
        if kind == "grant_awarded":
            pool["recipients"][e.number] = e.recipient
        paid = f"{base}:{PAID}:{name_part(pool['recipients'].get(e.number, e.number))}"
        effects = {
            "grant_awarded": [(available, -1), (awarded, 1)],
            "grant_disbursed": [(awarded, -1), (paid, 1)],
            "grant_returned": [(paid, -1), (available, 1)],
            "grant_withdrawn": [(awarded, -1), (available, 1)],
        }
        if kind == "entry_reversed":
            undo = "grant_" + {"GrantAwarded": "awarded", "GrantDisbursed": "disbursed", "GrantReturned": "returned",
                               "GrantWithdrawn": "withdrawn"}[e.reversed_kind]
            ore = e.amount.ore
            return [(account, -sign * ore) for account, sign in effects[undo]], f"tilbageførsel: {e.number}"
        ore = (e.released if kind == "grant_withdrawn" else e.amount).ore
        label = {"grant_awarded": "bevilling", "grant_disbursed": "udbetaling", "grant_returned": "tilbagebetaling",
                 "grant_withdrawn": "annulleret"}[kind]
        return [(account, sign * ore) for account, sign in effects[kind]], f"{label}: {e.number} {pool['recipients'].get(e.number, '')}"
