"""Generate a realistic pulje ledger of N events, deterministically, for benchmarks.

    python bench/generate.py --events 100000 --db bench/.data/100k.db
    python bench/generate.py --events 100000 --db 'postgresql://postgres@127.0.0.1/test?schema=bench'

Several partnerships over ten plan years, each plan with sixteen lines and two
pools; about 60 % of the events are awards, 25 % payments, 5 % returns and
withdrawals and 10 % reallocations (some into a pool's line, which changes
its funding too). Everything goes through the ledger's own application and
domain: plans are adopted from specs like a plan file's, and decisions are
made by the aggregates' command methods, which check every rule; the events
of many decisions are saved together in batches, each batch one atomic write
(chain and read models included). The same N always gives the same ledger
and the same head.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from domain import ids  # noqa: E402
from domain.errors import DomainError  # noqa: E402
from domain.money import Money  # noqa: E402
from domain.plan import LineTerms, Plan, PoolTerms, YearBudget  # noqa: E402
from domain.pool import Pool  # noqa: E402

AREAS = ("Tryggere byliv", "Uddannelse og beskæftigelse", "Positive fællesskaber")
LINES = [
    "Fælleshaven", "Videnshus", "Tidlig foreningsstart", "Lommepenge- og fritidsjob", "Teknologi og håndværk",
    "Tryggere kældre", "Det gode valg", "Kreative fællesskaber", "Challenge", "Fællesskab om café",
    "Synlighed og dialog", "Måling af tryghed", "Kommunikation", "Bylivs- og tryghedspulje", "Videnspulje",
    "Sekretariatsbetjening",
]
PURPOSES = [
    "Tryghedsvandring", "Borgermøde om tryghed", "Dialogpavillon", "Beboerdrevet sommerfest",
    "Fællesspisning efter hændelse", "Lysvandring", "Gårdfest", "Fyraftensmøde",
]
RECIPIENTS = [f"Forening {n:03d}" for n in range(1, 301)]
EVENTS_PER_PLAN_YEAR = 2000
BATCH = 2000


class Clock:
    """Recorded times that follow the decisions' dates."""

    def __init__(self) -> None:
        self.now = dt.datetime(2014, 12, 1, 9, tzinfo=dt.timezone.utc)

    def at(self, day: dt.date) -> None:
        moment = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(9), dt.timezone.utc)
        self.now = max(self.now, moment)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(milliseconds=1)
        return self.now


def plan_spec(partnership: str, year: int) -> tuple[list[LineTerms], list[PoolTerms]]:
    lines = []
    for n, name in enumerate(LINES, start=1):
        kroner = 10_000_000 if n in (14, 15) else 2_000_000
        lines.append(
            LineTerms(
                line=str(n), name=name, areas=(AREAS[n % 3],),
                budgets=(YearBudget(year=year, total=Money.kroner(kroner)),),
            )
        )
    pools = [
        PoolTerms(key="bylivs-og-tryghedspulje", code="BTP", name="Bylivs- og tryghedspulje", line="14", decided_by="arbejdsgruppen"),
        PoolTerms(key="videnspulje", code="VP", name="Videnspulje", line="15", decided_by="arbejdsgruppen"),
    ]
    return lines, pools


def generate(db: str, events: int, *, seed: int = 2022, progress: bool = True) -> int:
    """Record about `events` events into a new ledger at `db`; returns the count."""
    from ledger.app import Ledger
    from ledger.service import ledger_env

    rng = random.Random(seed)
    clock = Clock()
    app = Ledger(ledger_env(db), clock=clock, snapshotting=False)
    if app.store.head()[0]:
        raise SystemExit(f"{db} is not empty; generate into a new ledger")
    plan_years = max(1, round(events / EVENTS_PER_PLAN_YEAR))
    partnerships = max(1, min(50, -(-plan_years // 10)))
    years = list(range(2015, 2015 + -(-plan_years // partnerships)))
    written = 0
    started = time.perf_counter()
    pending: list = []
    pending_events = 0

    def flush() -> None:
        nonlocal pending, pending_events, written
        if pending:
            recordings = app.save(*pending)
            written += len(recordings)
            pending, pending_events = [], 0
            if progress:
                rate = written / max(time.perf_counter() - started, 1e-9)
                print(f"\r{written:>9} events  {rate:>8.0f}/s", end="", file=sys.stderr, flush=True)

    for year in years:
        for p in range(partnerships):
            left = events - written - pending_events
            if left <= 0:
                break
            partnership = f"Partnerskab {p + 1:02d}"
            plan, pools = adopt(app, partnership, year, clock)
            pending += [plan, *pools]
            pending_events += 1 + len(LINES) + len(pools)
            decisions = min(EVENTS_PER_PLAN_YEAR, left) - (1 + len(LINES) + len(pools))
            pending_events += record_year(app, rng, clock, plan, pools, year, decisions)
            flush()
    flush()
    if progress:
        print(file=sys.stderr)
    app.close()
    return written


def adopt(app, partnership: str, year: int, clock: Clock) -> tuple[Plan, list[Pool]]:
    lines, pool_terms = plan_spec(partnership, year)
    day = dt.date(year, 1, 1)
    clock.at(day - dt.timedelta(days=20))
    plan = Plan.adopt(
        id=ids.plan_id(partnership, year), partnership=partnership, title=f"Tryghedsplan {year}", year=year,
        source_file=f"bench-{year}.toml", source_sha256="0" * 64, areas=AREAS,
        reallocation_body="Økonomiforvaltningen", lines=lines, pools=pool_terms, timestamp=clock(),
        actor="bench", date=day, decided_by="Økonomiforvaltningen", decision_ref=f"Styregruppen {year - 1}",
    )
    pools = [
        Pool.open_for_year(
            id=ids.pool_id(partnership, t.key, year), plan_id=plan.id, partnership=partnership, key=t.key, code=t.code,
            name=t.name, year=year, line=t.line, areas=AREAS, decided_by=t.decided_by,
            funding=plan.budget(t.line, year), timestamp=clock(), actor="bench", date=day, decision_ref="plan",
        )
        for t in pool_terms
    ]
    return plan, pools


def record_year(app, rng: random.Random, clock: Clock, plan: Plan, pools: list[Pool], year: int, count: int) -> int:
    """Decide about `count` things in one plan year, in date order; returns the events triggered."""
    before = plan.version + sum(p.version for p in pools)
    grants: list[tuple[Pool, str, int]] = []
    day0 = dt.date(year, 1, 2)
    by_code = {p.code: p for p in pools}
    i = 0
    while plan.version + sum(p.version for p in pools) - before < count and i < 3 * count:
        i += 1
        day = day0 + dt.timedelta(days=min(360, i * 360 // max(count, 1)))
        clock.at(day)
        roll = rng.random()
        now = clock()
        try:
            if roll < 0.60 or not grants:
                pool = by_code["BTP"] if rng.random() < 0.85 else by_code["VP"]
                kroner = rng.choice((1500, 2500, 4000, 6500, 8000, 12000))
                number = pool.award(
                    recipient=rng.choice(RECIPIENTS), purpose=rng.choice(PURPOSES), area=rng.choice(AREAS),
                    amount=Money.kroner(kroner), requested=Money.kroner(kroner + 500), date=day,
                    decided_by="arbejdsgruppen", decision_ref=f"AG {year}-{i // 40:02d}", actor="bench", timestamp=now,
                )
                grants.append((pool, number, kroner))
            elif roll < 0.85:
                pool, number, kroner = rng.choice(grants)
                pool.disburse(number=number, amount=Money.kroner(max(kroner // 2, 1)), date=day, payment_ref=f"Bilag {i}",
                              actor="bench", timestamp=now)
            elif roll < 0.90:
                pool, number, _ = rng.choice(grants)
                if rng.random() < 0.5:
                    pool.take_back(number=number, amount=Money.kroner(100), date=day, reason="Ubrugte midler",
                                   actor="bench", timestamp=now)
                else:
                    pool.withdraw(number=number, date=day, reason="Aflyst", actor="bench", timestamp=now)
            else:
                source, target = rng.sample(["1", "2", "3", "5", "13", "14"], 2)
                amount = Money.kroner(rng.choice((5000, 10000, 20000)))
                giving = plan.pool_of_line(source)
                if giving is not None:
                    by_code[giving.code].check_available(amount.ore, day, "give up")
                plan.reallocate(
                    year=year, from_line=source, to_line=target, amount=amount,
                    date=day, decided_by="Økonomiforvaltningen", decision_ref=f"ØKF {year}-{i}", reason="Behov",
                    actor="bench", timestamp=now,
                )
                for line, sign in ((source, -1), (target, 1)):
                    terms = plan.pool_of_line(line)
                    if terms is not None:
                        amount = plan.reallocations[plan.version].amount
                        by_code[terms.code].change_funding(
                            change=Money(sign * amount), cause_id=plan.id, cause_version=plan.version, date=day,
                            decided_by="Økonomiforvaltningen", decision_ref=f"ØKF {year}-{i}", reason="Behov",
                            actor="bench", timestamp=now,
                        )
        except DomainError:
            continue
    return plan.version + sum(p.version for p in pools) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, required=True, help="about how many events to generate")
    parser.add_argument("--db", required=True, help="a new SQLite file or a postgresql:// URL (empty schema)")
    parser.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args()
    started = time.perf_counter()
    count = generate(args.db, args.events, seed=args.seed)
    seconds = time.perf_counter() - started
    print(f"{count} events in {seconds:.1f} s ({count / seconds:.0f}/s) -> {args.db}")


if __name__ == "__main__":
    main()
