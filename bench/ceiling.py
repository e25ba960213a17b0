"""The library's ceiling on this machine, on the same data: what issue 6's throughput targets are set against.

    python bench/ceiling.py --db bench/.data/100000.db --jsonl bench/.data/100000.jsonl

Issue 6 states its targets next to three figures measured on its machine
(eventsourcing 9.5 on SQLite appends ~44k events/s in large batches and
decodes ~144k events/s from the log; a plain Python fold over JSON lines runs
~300k events/s). Machines differ (the same VM kind has measured 2.5x apart on
different days), so `bench/run.py` measures the three again in the same run,
on the ledger it times pulje on, and prints pulje's rates beside them:

- append: eventsourcing's own `SQLiteApplicationRecorder.insert_events`
  writing the ledger's stored events into a new file, 1,000 per call;
- decode: the same recorder reading them back (`select_notifications`, 1,000
  a page) and its `JSONTranscoder` decoding every state;
- fold: the jsonl export read line by line, each line and its state parsed
  with `json.loads`, every amount summed per aggregate.

Prints one JSON object: events/s of each, and the event count.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from uuid import UUID

BATCH = 1000


def append_and_decode(db: Path) -> tuple[int, float, float]:
    """(events, append events/s, decode events/s) with eventsourcing's own SQLite recorder."""
    from eventsourcing.persistence import JSONTranscoder, StoredEvent
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    source = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    events = [
        StoredEvent(UUID(str(oid)), version, topic, bytes(state))
        for oid, version, topic, state in source.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
        )
    ]
    source.close()
    with tempfile.TemporaryDirectory(prefix="pulje-ceiling-") as work:
        datastore = SQLiteDatastore(str(Path(work) / "ceiling.db"))
        recorder = SQLiteApplicationRecorder(datastore)
        recorder.create_table()
        started = time.perf_counter()
        for i in range(0, len(events), BATCH):
            recorder.insert_events(events[i : i + BATCH])
        appended = time.perf_counter() - started
        transcoder = JSONTranscoder()
        started, start, decoded = time.perf_counter(), 1, 0
        while True:
            page = recorder.select_notifications(start, BATCH)
            if not page:
                break
            for notification in page:
                transcoder.decode(notification.state)
            decoded += len(page)
            start = page[-1].id + 1
        read = time.perf_counter() - started
        datastore.close()
    assert decoded == len(events)
    return len(events), len(events) / appended, len(events) / read


def fold_lines(jsonl: Path) -> float:
    """Events/s of a plain fold over the jsonl export: every line and state parsed, amounts summed per aggregate."""
    totals: dict[str, int] = {}
    started, count = time.perf_counter(), 0
    with open(jsonl, encoding="utf-8") as lines:
        next(lines)  # the header
        for line in lines:
            record = json.loads(line)
            state = json.loads(record["state"])
            amount = state.get("amount")
            if isinstance(amount, int):
                totals[record["originator_id"]] = totals.get(record["originator_id"], 0) + amount
            count += 1
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path, help="a pulje ledger (SQLite file)")
    parser.add_argument("--jsonl", required=True, type=Path, help="its `pulje export --format jsonl`")
    args = parser.parse_args()
    events, append, decode = append_and_decode(args.db)
    print(json.dumps({"events": events, "append": append, "decode": decode, "fold": fold_lines(args.jsonl)}))


if __name__ == "__main__":
    sys.exit(main())
