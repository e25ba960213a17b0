"""Time pulje against hledger (and Beancount where installed) on identical data, in one run.

    python bench/run.py                      # 10k and 100k events
    python bench/run.py --sizes 10000 100000 1000000 --runs 5
    python bench/run.py --markdown bench/RESULTS.md
    python bench/run.py --sizes 1000000 --reads-only 1000000 --runs 3   # warm reads and hledger only
    python bench/run.py --sizes 1000000 --no-beancount 1000000 --runs 1  # every pulje row and hledger

For each size N: generate a ledger with bench/generate.py (cached in
bench/.data/), export the same data as an hledger journal, then time as real
subprocesses the median wall time and peak memory of several runs of:
`pulje status`, `pulje pool show`, `pulje report ultimo --format json`,
`pulje verify`, the first catch-up of the read models (views dropped, then one
`pulje status`), `pulje import-events` of the jsonl export, and `hledger bal`
on the journal. Where Beancount is installed (`bean-query` next to this
interpreter or on PATH), the journal is also converted by bench/beancount.py
(cached as bench/.data/N.beancount), checked once (bean-check reports no
errors; its balances per account and per partnership and year equal those of
`hledger bal`, else the run stops), and timed: `bean-query` balances per
account and `bean-check`, uncached (Beancount's pickle cache
.N.beancount.picklecache deleted and disabled before each run) and, for
bean-query, cached (cache written once beforehand, then hit by every run).
Ratios are pulje / peer: below 1 means pulje is faster. Also times `pulje
--help`, a bare interpreter and `pulje status` on the 2022 demo ledger, for
the warm-read and start-up targets. pulje's own modules are compiled to
bytecode first, as an installation would leave them.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import beancount as to_beancount  # the converter, not the Beancount package

DATA = ROOT / "bench" / ".data"
PULJE = str(Path(sys.executable).with_name("pulje"))
BALANCES = "SELECT account, sum(position) GROUP BY account"
PEERS = ("hledger bal", "bean-query balances", "bean-query balances, cached")


def measure(command: list[str], runs: int, *, before: object = None, env: dict | None = None) -> tuple[float, float]:
    """Median wall seconds and peak resident MiB of a command over several runs.

    Peak memory is that of the whole process tree: `/usr/bin/time`'s maximum
    resident size of the largest process, or the largest sum of the tree's
    resident sizes seen by sampling it every 20 ms (`pulje verify` and
    `import-events` take a second process on a large ledger), whichever is larger.
    """
    walls, peaks = [], []
    for _ in range(runs):
        if callable(before):
            before()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile(mode="w+") as err:  # files: a full pipe would stall it
            started = time.perf_counter()
            proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", *command], stdout=out, stderr=err,
                                    env=env or os.environ.copy())
            peak = [0]

            def sample(pid: int = proc.pid) -> None:
                while proc.returncode is None:
                    peak[0] = max(peak[0], tree_rss_kib(pid))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            proc.wait()  # a blocking wait: the wall time ends as the command does
            walls.append(time.perf_counter() - started)
            sampler.join()
            tree_peak = peak[0]
            err.seek(0)
            stderr = err.read()
        if proc.returncode not in (0,):
            raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}): {stderr[-400:]}")
        peaks.append(max(int(stderr.strip().splitlines()[-1]), tree_peak) / 1024)
    return statistics.median(walls), max(peaks)


def tree_rss_kib(pid: int) -> int:
    """The resident KiB of a process and all its descendants (0 where /proc cannot tell)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except (OSError, ValueError):
            continue
    return total


def ledger_for(size: int) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    db = DATA / f"{size}.db"
    if not db.exists():
        print(f"generating {size} events ...", file=sys.stderr)
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--events", str(size), "--db", str(db)], check=True)
    return db


def exports_for(db: Path, *, jsonl: bool = True) -> tuple[Path, Path]:
    journal, lines = db.with_suffix(".journal"), db.with_suffix(".jsonl")
    wanted = [("journal", journal)] + ([("jsonl", lines)] if jsonl else [])
    for fmt, path in wanted:
        if not path.exists():
            subprocess.run([PULJE, "--db", str(db), "export", "--format", fmt, "--output", str(path)], check=True,
                           capture_output=True)
    return journal, lines


def tool(name: str) -> str | None:
    """A command next to this interpreter (the venv's), else on PATH."""
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else shutil.which(name)


def beancount_for(journal: Path) -> Path:
    """The journal converted by bench/beancount.py; redone when the journal or the converter is newer."""
    target = journal.with_suffix(".beancount")
    sources = (journal, Path(to_beancount.__file__))
    if not target.exists() or target.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        to_beancount.convert(journal, target)
    return target


def beancount_python(command: str) -> str:
    """The interpreter that runs a Beancount script (its shebang), to write its cache with the same version."""
    if Path(command).parent == Path(sys.executable).parent:
        return sys.executable
    first = Path(command).read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
    words = first[2:].split() if first.startswith("#!") else []
    if words and Path(words[0]).name == "env":
        words = words[1:]
    return words[0] if words else sys.executable


def pickle_cache(ledger: Path) -> Path:
    """Where beancount.loader keeps its cache of a loaded file (its default pattern .{filename}.picklecache)."""
    return ledger.with_name(f".{ledger.name}.picklecache")


def no_pickle_cache(ledger: Path) -> None:
    pickle_cache(ledger).unlink(missing_ok=True)


def warm_pickle_cache(python: str, ledger: Path) -> os.stat_result | None:
    """Write Beancount's cache for the file even when loading takes less than its 1 s threshold (None if that fails)."""
    no_pickle_cache(ledger)
    code = ("import sys, beancount.loader as loader; loader.PICKLE_CACHE_THRESHOLD = 0; loader.initialize(True); "
            "loader.load_file(sys.argv[1])")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEANCOUNT_")}
    proc = subprocess.run([python, "-I", "-c", code, str(ledger)], check=False, capture_output=True, env=env)
    return pickle_cache(ledger).stat() if proc.returncode == 0 and pickle_cache(ledger).exists() else None


def amounts(text: str) -> dict[str, Decimal]:
    """Account -> amount from CSV rows `account,amount`, zero amounts (and hledger's total row) left out."""
    out = {}
    for row in list(csv.reader(io.StringIO(text)))[1:]:
        if len(row) != 2:
            raise SystemExit(f"unexpected balance row {row!r} (more than one commodity?)")
        name, value = row[0], Decimal(row[1].strip().removesuffix(" DKK").strip() or "0")
        if name != "total" and value:
            out[name] = value
    return out


def check_beancount(journal: Path, ledger: Path, bean_query: str, bean_check: str | None) -> str:
    """bean-check finds no errors, and bean-query's balances equal hledger's: per account and per partnership/year."""
    notes = []
    env = {**os.environ, "BEANCOUNT_DISABLE_LOAD_CACHE": "1"}
    if bean_check:
        proc = subprocess.run([bean_check, str(ledger)], check=False, capture_output=True, text=True, env=env)
        if proc.returncode or proc.stdout.strip() or proc.stderr.strip():
            raise SystemExit(f"bean-check {ledger} failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-2000:]}")
        notes.append("bean-check: no errors")
    if not shutil.which("hledger"):
        return "; ".join(notes + ["balances not compared (no hledger)"])
    query = subprocess.run([bean_query, "-f", "csv", "-m", str(ledger), BALANCES], capture_output=True, text=True,
                           env=env, check=True)
    beancount = amounts(query.stdout)
    hledger = {
        to_beancount.account(name): value
        for name, value in amounts(subprocess.run(["hledger", "-f", str(journal), "bal", "-O", "csv"], capture_output=True,
                                                  text=True, check=True).stdout).items()
    }
    totals: dict[str, Decimal] = {}
    for name, value in beancount.items():  # Assets:Plan:<partnership>:<year>, Equity:Finansiering:<partnership>:<year>
        key = ":".join(name.split(":")[:4])
        totals[key] = totals.get(key, Decimal(0)) + value
    totals = {name: value for name, value in totals.items() if value}
    hledger_totals = {
        to_beancount.account(name): value
        for name, value in amounts(subprocess.run(["hledger", "-f", str(journal), "bal", "--depth", "3", "-O", "csv"],
                                                  capture_output=True, text=True, check=True).stdout).items()
    }
    for what, ours, theirs in (("account", beancount, hledger), ("partnership/year", totals, hledger_totals)):
        if ours != theirs:
            diff = sorted(
                f"{name}: bean-query {ours.get(name, 0)}, hledger {theirs.get(name, 0)}"
                for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name)
            )
            raise SystemExit(f"Beancount and hledger disagree per {what} on {ledger.name} ({len(diff)} differ):\n"
                             + "\n".join(diff[:20]))
    plans = sum(1 for name in totals if name.startswith("Assets:Plan:"))
    notes.append(f"bean-query balances agree with hledger bal: {len(beancount):,} non-zero accounts, "
                 f"{plans} partnership/year totals under Assets:Plan (and their Equity:Finansiering)")
    return "; ".join(notes)


def a_pool(db: Path) -> tuple[str, int]:
    conn = sqlite3.connect(db)
    partnership, year = conn.execute("SELECT partnership, year FROM view_pools ORDER BY year, partnership LIMIT 1").fetchone()
    conn.close()
    return partnership, year


def drop_views(db: Path) -> None:
    """Leave the ledger without read models, as before its first catch-up (untimed: dropping a million rows'
    tables takes SQLite seconds that belong to no catch-up)."""
    conn = sqlite3.connect(db)
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'view\\_%' ESCAPE '\\'").fetchall():
        conn.execute(f"DROP TABLE {table}")
    conn.execute("DELETE FROM tracking WHERE application_name = 'views'")
    conn.commit()
    conn.close()


def bench_size(size: int, runs: int, *, reads_only: bool = False, beancount: bool = True) -> dict:
    db = ledger_for(size)
    journal, jsonl = exports_for(db, jsonl=not reads_only)
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
    if reads_only:
        if shutil.which("hledger"):
            results["hledger bal"] = measure(["hledger", "-f", str(journal), "bal"], runs)
        shutil.rmtree(work, ignore_errors=True)
        return {"size": size, "events": events, "results": results, "notes": ["reads only (--reads-only)"]}
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
        for suffix in ("", "-wal", "-shm", "-journal"):
            if (work / f"imported.db{suffix}").exists():
                (work / f"imported.db{suffix}").unlink()

    results["pulje import-events"] = measure([PULJE, "--db", str(target), "import-events", str(jsonl)], max(1, runs // 2),
                                             before=no_target)
    if shutil.which("hledger"):
        results["hledger bal"] = measure(["hledger", "-f", str(journal), "bal"], runs)
    notes = []
    bean_query, bean_check = tool("bean-query"), tool("bean-check")
    if not beancount:
        notes.append("Beancount not timed at this size (--no-beancount)")
    elif bean_query:
        ledger = beancount_for(journal)
        notes.append(check_beancount(journal, ledger, bean_query, bean_check))
        print(f"{size}: {notes[-1]}", file=sys.stderr)
        uncached = {**os.environ, "BEANCOUNT_DISABLE_LOAD_CACHE": "1"}
        results["bean-query balances"] = measure([bean_query, str(ledger), BALANCES], runs, env=uncached,
                                                 before=lambda: no_pickle_cache(ledger))
        if bean_check:
            results["bean-check"] = measure([bean_check, str(ledger)], runs, env=uncached,
                                            before=lambda: no_pickle_cache(ledger))
        cached = {k: v for k, v in os.environ.items() if not k.startswith("BEANCOUNT_")}
        warm = warm_pickle_cache(beancount_python(bean_query), ledger)
        if warm is None:
            notes.append("Beancount's pickle cache could not be written, so no cached row")
        else:
            figures = measure([bean_query, str(ledger), BALANCES], runs, env=cached)
            after = pickle_cache(ledger).stat() if pickle_cache(ledger).exists() else None
            if after and (after.st_mtime_ns, after.st_size) == (warm.st_mtime_ns, warm.st_size):
                results["bean-query balances, cached"] = figures  # the cache was read, never rewritten or dropped
            else:
                notes.append("Beancount's pickle cache was not hit, so no cached row")
        no_pickle_cache(ledger)
    shutil.rmtree(work, ignore_errors=True)
    ceiling = json.loads(subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ceiling.py"), "--db", str(db), "--jsonl", str(jsonl)],
        check=True, capture_output=True, text=True,
    ).stdout)
    return {"size": size, "events": events, "results": results, "notes": notes, "ceiling": ceiling}


#: Issue 6's throughput targets and the ceilings it states them beside (events/s, its machine).
TARGETS = {"pulje first catch-up": 40_000, "pulje import-events": 40_000, "pulje verify": 50_000}
ISSUE_CEILING = {"append": 44_000, "decode": 144_000, "fold": 300_000}
#: The ceiling each target is read against: writing the log and the views against appending, verify against decoding.
AGAINST = {"pulje first catch-up": "append", "pulje import-events": "append", "pulje verify": "decode"}


def compiled() -> None:
    """Write pulje's own bytecode first, as installing a package does: an editable install leaves it to the first
    run, and where PYTHONDONTWRITEBYTECODE is set (this sandbox sets it) every run would compile the CLI again."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(ROOT / p) for p in ("cli", "ledger", "domain", "projections"))],
                   check=True)


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
        peers = [name for name in PEERS if name in r]
        lines += ["", f"**{entry['events']:,} events** (`bench/generate.py --events {entry['size']}`)", "",
                  "| command | wall | peak memory | events/s |" + "".join(f" pulje / {p} |" for p in peers),
                  "|---|---:|---:|---:|" + "---:|" * len(peers)]
        for name, (wall, mem) in r.items():
            rate = f"{entry['events'] / wall:,.0f}" if name in ("pulje verify", "pulje first catch-up", "pulje import-events") else ""
            ratios = "".join(f" {wall / r[p][0]:.3f} |" if name.startswith("pulje") else " |" for p in peers)
            lines.append(f"| {name} | {wall:.3f} s | {mem:.0f} MiB | {rate} |{ratios}")
        if any(name.startswith("bean") for name in r):
            lines += ["", (
                "Beancount: bench/beancount.py's conversion of the same journal; `bean-query FILE "
                f"\"{BALANCES}\"` and `bean-check FILE` without Beancount's pickle cache (deleted and "
                "`BEANCOUNT_DISABLE_LOAD_CACHE=1` before each run); \"cached\": the cache written once beforehand "
                "and hit by every run."
            )]
        if entry.get("notes"):
            lines += [""] + [f"- {note}." for note in entry["notes"]]
        ceiling = entry.get("ceiling")
        if ceiling:
            lines += ["", (
                f"The library's ceiling on the same data in the same run (bench/ceiling.py): eventsourcing appends "
                f"{ceiling['append']:,.0f} events/s and decodes {ceiling['decode']:,.0f}; a plain fold over the JSON "
                f"lines runs {ceiling['fold']:,.0f} (the figures issue 6 states beside its targets: "
                f"{ISSUE_CEILING['append']:,}, {ISSUE_CEILING['decode']:,} and {ISSUE_CEILING['fold']:,})."
            ), "", "| command | events/s | target | ceiling | events/s / ceiling | target / ceiling (issue) |",
                "|---|---:|---:|---|---:|---:|"]
            for name, target in TARGETS.items():
                if name not in r:
                    continue
                basis = AGAINST[name]
                rate = entry["events"] / r[name][0]
                lines.append(
                    f"| {name} | {rate:,.0f} | {target:,} | {basis} {ceiling[basis]:,.0f} | "
                    f"{rate / ceiling[basis]:.2f} | {target / ISSUE_CEILING[basis]:.2f} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000],
                        help="ledger sizes in events (none: only the start-up rows)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reads-only", type=int, nargs="*", default=[], metavar="SIZE",
                        help="for these sizes time only the warm reads and hledger bal (1M: the rest takes long)")
    parser.add_argument("--no-beancount", type=int, nargs="*", default=[], metavar="SIZE",
                        help="for these sizes time every pulje command and hledger bal, but not Beancount")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table to this file")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures to this file")
    args = parser.parse_args()
    compiled()
    start = startup(args.runs)
    sizes = [
        bench_size(size, args.runs, reads_only=size in args.reads_only, beancount=size not in args.no_beancount)
        for size in args.sizes
    ]
    text = table(start, sizes)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"startup": start, "sizes": sizes}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
