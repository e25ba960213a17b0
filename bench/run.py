"""Time pulje against hledger (and Beancount where installed) on identical data, in one run.

    python bench/run.py                      # 10k and 100k events
    python bench/run.py --sizes 10000 100000 1000000 --runs 5
    python bench/run.py --markdown bench/RESULTS.md

For each size N: generate a ledger with bench/generate.py (cached in
bench/.data/), export the same data as an hledger journal, then time as real
subprocesses the median wall time and peak memory of several runs of:
`pulje status`, `pulje pool show`, `pulje report ultimo --format json`,
`pulje verify`, the first catch-up of the read models (views dropped, then one
`pulje status`), `pulje import-events` of the jsonl export, and `hledger bal`
(and `bean-query` balances, where installed) on the journal. Ratios are
pulje / peer: below 1 means pulje is faster. Also times `pulje --help`, a bare
interpreter and `pulje status` on the 2022 demo ledger, for the warm-read and
start-up targets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / ".data"
PULJE = str(Path(sys.executable).with_name("pulje"))


def measure(command: list[str], runs: int, *, before: object = None, env: dict | None = None) -> tuple[float, float]:
    """Median wall seconds and peak resident MiB of a command over several runs."""
    walls, peaks = [], []
    for _ in range(runs):
        if callable(before):
            before()
        started = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", *command], capture_output=True, text=True, env=env or os.environ.copy()
        )
        walls.append(time.perf_counter() - started)
        if proc.returncode not in (0,):
            raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}): {proc.stderr[-400:]}")
        peaks.append(int(proc.stderr.strip().splitlines()[-1]) / 1024)
    return statistics.median(walls), max(peaks)


def ledger_for(size: int) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    db = DATA / f"{size}.db"
    if not db.exists():
        print(f"generating {size} events ...", file=sys.stderr)
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--events", str(size), "--db", str(db)], check=True)
    return db


def exports_for(db: Path) -> tuple[Path, Path]:
    journal, jsonl = db.with_suffix(".journal"), db.with_suffix(".jsonl")
    for fmt, path in (("journal", journal), ("jsonl", jsonl)):
        if not path.exists():
            subprocess.run([PULJE, "--db", str(db), "export", "--format", fmt, "--output", str(path)], check=True,
                           capture_output=True)
    return journal, jsonl


def a_pool(db: Path) -> tuple[str, int]:
    conn = sqlite3.connect(db)
    partnership, year = conn.execute("SELECT partnership, year FROM view_pools ORDER BY year, partnership LIMIT 1").fetchone()
    conn.close()
    return partnership, year


def drop_views(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM view_meta")
    conn.commit()
    conn.close()


def bench_size(size: int, runs: int) -> dict:
    db = ledger_for(size)
    journal, jsonl = exports_for(db)
    events = sqlite3.connect(db).execute("SELECT MAX(position) FROM event_chain").fetchone()[0]
    subprocess.run([PULJE, "--db", str(db), "status"], check=True, capture_output=True)  # views current
    partnership, year = a_pool(db)
    work = Path(tempfile.mkdtemp(prefix="pulje-bench-"))
    results: dict[str, tuple[float, float]] = {}
    results["pulje status"] = measure([PULJE, "--db", str(db), "status", "--year", str(year)], runs)
    results["pulje pool show"] = measure(
        [PULJE, "--db", str(db), "pool", "show", "BTP", "--year", str(year), "--partnership", partnership], runs
    )
    results["pulje report ultimo json"] = measure(
        [PULJE, "--db", str(db), "report", "ultimo", "--year", str(year), "--partnership", partnership, "--format", "json",
         "--output", str(work / "ultimo.json"), "--force"], runs,
    )
    results["pulje verify"] = measure([PULJE, "--db", str(db), "verify"], max(1, runs // 2))
    copy = work / "catchup.db"

    def fresh_copy() -> None:
        for suffix in ("", "-wal", "-shm"):
            if (work / f"catchup.db{suffix}").exists():
                (work / f"catchup.db{suffix}").unlink()
        shutil.copy(db, copy)
        drop_views(copy)

    results["pulje first catch-up"] = measure([PULJE, "--db", str(copy), "status", "--year", str(year)], max(1, runs // 2),
                                              before=fresh_copy)
    target = work / "imported.db"

    def no_target() -> None:
        for suffix in ("", "-wal", "-shm"):
            if (work / f"imported.db{suffix}").exists():
                (work / f"imported.db{suffix}").unlink()

    results["pulje import-events"] = measure([PULJE, "--db", str(target), "import-events", str(jsonl)], max(1, runs // 2),
                                             before=no_target)
    if shutil.which("hledger"):
        results["hledger bal"] = measure(["hledger", "-f", str(journal), "bal"], runs)
    if shutil.which("bean-query"):
        results["bean-query balances"] = measure(["bean-query", str(db.with_suffix(".beancount")), "balances"], runs)
    shutil.rmtree(work, ignore_errors=True)
    return {"size": size, "events": events, "results": results}


def startup(runs: int) -> dict[str, tuple[float, float]]:
    demo = Path(tempfile.mkdtemp(prefix="pulje-demo-"))
    subprocess.run([PULJE, "demo", "--out", str(demo)], check=True, capture_output=True)
    out = {
        "python -c pass": measure([sys.executable, "-c", "pass"], runs),
        "pulje --help": measure([PULJE, "--help"], runs),
        "pulje status (demo)": measure([PULJE, "--db", str(demo / "pulje.db"), "status"], runs),
        "pulje pool show (demo)": measure([PULJE, "--db", str(demo / "pulje.db"), "pool", "show", "BTP", "--year", "2022"], runs),
    }
    shutil.rmtree(demo, ignore_errors=True)
    return out


def table(start: dict, sizes: list[dict]) -> str:
    lines = [
        f"Measured {dt.date.today().isoformat()} on {platform.node()} ({os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}); median of runs, peak RSS.",
        "",
        "| command | wall | peak memory |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {wall:.3f} s | {mem:.0f} MiB |" for name, (wall, mem) in start.items()]
    for entry in sizes:
        r = entry["results"]
        peer = r.get("hledger bal")
        lines += ["", f"**{entry['events']:,} events** (`bench/generate.py --events {entry['size']}`)", "",
                  "| command | wall | peak memory | events/s | pulje / hledger bal |", "|---|---:|---:|---:|---:|"]
        for name, (wall, mem) in r.items():
            rate = f"{entry['events'] / wall:,.0f}" if name in ("pulje verify", "pulje first catch-up", "pulje import-events") else ""
            ratio = f"{wall / peer[0]:.3f}" if peer and name.startswith("pulje") else ""
            lines.append(f"| {name} | {wall:.3f} s | {mem:.0f} MiB | {rate} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table to this file")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures to this file")
    args = parser.parse_args()
    start = startup(args.runs)
    sizes = [bench_size(size, args.runs) for size in args.sizes]
    text = table(start, sizes)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"startup": start, "sizes": sizes}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
