"""Reading the stored views: rows for the projections to render.

Plain SQL over the `view_*` tables through any DB-API cursor; nothing here
needs eventsourcing or pydantic, so a read whose views are current is quick.
"""

from __future__ import annotations

from typing import Any

from domain.errors import AmbiguousError, NotFoundError
from projections.model import AuditRow, GrantRow, LineRow, LineYearRow, PlanRow, PoolRow, decode_row

GENESIS = "0" * 64


class ViewReader:
    """Queries over the stored views, through one cursor."""

    def __init__(self, cursor: Any) -> None:
        self.c = cursor

    def _rows(self, cls: type, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        self.c.execute(sql, params)
        return [decode_row(cls, row[0]) for row in self.c.fetchall()]

    # ---------------------------------------------------------------- plans

    def plans(self, year: int | None = None, partnership: str | None = None) -> list[PlanRow]:
        # Text is ordered here, by code point, not by the database: PostgreSQL would follow its
        # collation (a Danish one sorts "Aa" as "Å"), and the same events must give the same bytes.
        rows = sorted(self._rows(PlanRow, "SELECT data FROM view_plans"), key=lambda r: (r.year, r.partnership))
        return [
            r for r in rows
            if (year is None or r.year == year) and (partnership is None or _same(r.partnership, partnership))
        ]

    def plan_for_year(self, year: int, partnership: str | None = None) -> PlanRow:
        plans = self.plans(year, partnership)
        if not plans:
            whose = f" of {partnership}" if partnership else ""
            raise NotFoundError(f"no plan{whose} for {year} is adopted; import one with `pulje plan import FILE`")
        if len(plans) > 1:
            names = ", ".join(p.partnership for p in plans)
            raise AmbiguousError(f"{len(plans)} plans for {year} ({names}); add --partnership NAME")
        return plans[0]

    def lines(self, plan_id: str) -> list[LineRow]:
        return self._rows(LineRow, "SELECT data FROM view_lines WHERE plan_id = ? ORDER BY ord", (plan_id,))

    def line_years(self, plan_id: str) -> list[LineYearRow]:
        rows = self._rows(LineYearRow, "SELECT data FROM view_line_years WHERE plan_id = ?", (plan_id,))
        return sorted(rows, key=lambda r: (r.line, r.year))

    # ---------------------------------------------------------------- pools

    def pools(self, year: int | None = None, partnership: str | None = None) -> list[PoolRow]:
        rows = sorted(self._rows(PoolRow, "SELECT data FROM view_pools"), key=lambda r: (r.year, r.partnership, r.key))
        return [
            r for r in rows
            if (year is None or r.year == year) and (partnership is None or _same(r.partnership, partnership))
        ]

    def pool(self, ref: str, year: int, partnership: str | None = None) -> PoolRow:
        """A pool by its id or code in a year."""
        wanted = ref.strip().casefold()
        found = [p for p in self.pools(year, partnership) if wanted in (p.key.casefold(), p.code.casefold())]
        if not found:
            known = ", ".join(f"{p.key} ({p.code})" for p in self.pools(year, partnership)) or "none"
            raise NotFoundError(f"no pool {ref!r} in {year} (pools in {year}: {known})")
        if len(found) > 1:
            names = ", ".join(p.partnership for p in found)
            raise AmbiguousError(f"pool {ref!r} in {year} exists for {names}; add --partnership NAME")
        return found[0]

    def grants(self, pool_id: str) -> list[GrantRow]:
        return sorted(
            self._rows(GrantRow, "SELECT data FROM view_grants WHERE pool_id = ?", (pool_id,)), key=lambda r: r.number
        )

    def grant(self, number: str, partnership: str | None = None) -> tuple[PoolRow, GrantRow]:
        """A grant by its number (case ignored), with its pool."""
        wanted = number.strip()
        query = (
            "SELECT g.data, p.data FROM view_grants g JOIN view_pools p ON p.pool_id = g.pool_id WHERE g.number = ?"
        )
        self.c.execute(query, (wanted,))
        rows = self.c.fetchall()
        if not rows:
            # Typed in another case: the numbers are upper case, the code part as the plan file wrote it.
            self.c.execute(query, (wanted.upper(),))
            rows = self.c.fetchall()
        if not rows:
            self.c.execute(query.replace("g.number = ?", "lower(g.number) = lower(?)"), (wanted,))
            rows = self.c.fetchall()
        found = [(decode_row(PoolRow, p), decode_row(GrantRow, g)) for g, p in rows]
        if partnership is not None:
            found = [(p, g) for p, g in found if _same(p.partnership, partnership)]
        if not found:
            raise NotFoundError(f"no grant {number!r} (grant numbers look like BTP-2022-007)")
        if len(found) > 1:
            names = ", ".join(p.partnership for p, _ in found)
            raise AmbiguousError(f"grant {number!r} exists for {names}; add --partnership NAME")
        return found[0]

    # ---------------------------------------------------------------- audit

    def audit(self, since: str | None = None, until: str | None = None) -> list[AuditRow]:
        sql, params = "SELECT data FROM view_audit", []
        where = []
        if since:
            where.append("date >= ?")
            params.append(since)
        if until:
            where.append("date <= ?")
            params.append(until)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._rows(AuditRow, sql + " ORDER BY sequence", tuple(params))

    def audit_of_kinds(self, kinds: tuple[str, ...], *, year: int | None = None) -> list[AuditRow]:
        """The audit rows of these kinds, in order; with `year`, only those of that year (the `year` column:
        a pool's year for a pool's events, the event's own year for a plan's)."""
        marks = ", ".join("?" for _ in kinds)
        sql, params = f"SELECT data FROM view_audit WHERE kind IN ({marks})", kinds
        if year is not None:
            sql, params = sql + " AND year = ?", (*kinds, year)
        return self._rows(AuditRow, sql + " ORDER BY sequence", params)

    def event_at(self, sequence: int) -> AuditRow | None:
        rows = self._rows(AuditRow, "SELECT data FROM view_audit WHERE sequence = ?", (sequence,))
        return rows[0] if rows else None

    def head_before(self, moment: Any) -> tuple[int, str]:
        """The head as it stood at a moment: the last event recorded before it."""
        import datetime as dt

        found = (0, GENESIS)
        self.c.execute("SELECT sequence, data FROM view_audit ORDER BY sequence")
        for sequence, data in self.c.fetchall():
            row = decode_row(AuditRow, data)
            if dt.datetime.fromisoformat(row.recorded_at.replace("Z", "+00:00")) < moment:
                found = (sequence, row.hash)
        return found

    def reversed_by(self) -> dict[str, int]:
        """Event id -> the sequence of the event that reverses it."""
        self.c.execute("SELECT reverses, sequence FROM view_audit WHERE reverses IS NOT NULL")
        return {row[0]: row[1] for row in self.c.fetchall()}

    def event_by_id(self, event_id: str) -> AuditRow | None:
        rows = self._rows(AuditRow, "SELECT data FROM view_audit WHERE event_id = ?", (event_id,))
        return rows[0] if rows else None

    # ---------------------------------------------------------------- position

    def head(self) -> tuple[int, str]:
        """The chain position and hash the views reflect."""
        self.c.execute("SELECT notification_id FROM {tracking} WHERE application_name = 'views'")
        row = self.c.fetchone()
        if row is None:
            return 0, GENESIS
        # Positions grow with notification ids, so the last id at or below the tracked one is the
        # head; asked this way the index answers it in one seek, however long the chain.
        self.c.execute(
            "SELECT position, hash FROM event_chain WHERE notification_id = "
            "(SELECT MAX(notification_id) FROM event_chain WHERE notification_id <= ?)",
            (row[0],),
        )
        found = self.c.fetchone()
        return (found[0], found[1]) if found else (0, GENESIS)


def _same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())
