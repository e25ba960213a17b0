"""An `import-events` killed half way through leaves the empty SQLite ledger it started from.

The import fills an empty ledger in one transaction with a rollback
journal instead of the write-ahead log (`Store.fill`): its pages go straight
into the file, and the journal keeps what the file held before. So a real
`pulje import-events` process is killed with SIGKILL once the file has
grown past its empty size (pages of the import are in the file, not only in
memory) and while the journal is there (the transaction is open). The next
session must find the journal, roll the file back and see an empty ledger in
the write-ahead log that verifies, and the same file must then import whole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from ledger.service import Pulje
from tests.e2e.test_cli_subprocess import PULJE, clean_env
from tests.integration.test_exports import journal_mode
from tests.reliability.ledger_checks import event_count

EVENTS = 20_000


def test_an_import_killed_with_its_pages_in_the_file_leaves_the_empty_ledger_it_started_from(tmp_path: Path) -> None:
    from bench.generate import generate

    source, export, target = tmp_path / "source.db", tmp_path / "source.jsonl", tmp_path / "target.db"
    generate(str(source), EVENTS, progress=False)
    with Pulje(str(source), "revisor") as pulje, export.open("w", encoding="utf-8") as out:
        events = pulje.export("jsonl", out)
        head = pulje.ledger.store.head()[1]
    with Pulje(str(target), "revisor") as pulje:
        assert pulje.ledger.store.head()[0] == 0
    empty = target.stat().st_size

    importing = subprocess.Popen(
        [*PULJE, "--db", str(target), "--actor", "revisor", "import-events", "--processes", "1", str(export)],
        env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    journal = Path(f"{target}-journal")
    deadline = time.monotonic() + 120
    while not (journal.exists() and target.stat().st_size > empty + 2**20):
        assert importing.poll() is None, f"the import ended before it could be killed: {importing.stderr.read()!r}"
        assert time.monotonic() < deadline, "the import never wrote past its first megabyte"
        time.sleep(0.001)
    os.kill(importing.pid, signal.SIGKILL)
    importing.wait()

    assert journal.exists(), "killed with the transaction open, the rollback journal must still be there"
    with Pulje(str(target), "revisor") as pulje:
        assert pulje.ledger.store.head() == (0, "0" * 64)
        assert pulje.verify().ok
    assert journal_mode(str(target)) == "wal"
    assert event_count(str(target)) == 0
    assert not journal.exists()

    again = subprocess.run(
        [*PULJE, "--db", str(target), "--actor", "revisor", "import-events", str(export)],
        env=clean_env(), capture_output=True, text=True, timeout=300, check=False,
    )
    assert again.returncode == 0, again.stderr
    assert f"Imported {events} events; head {head}" in again.stdout
    with Pulje(str(target), "revisor") as pulje:
        assert pulje.verify(expected_head=head).ok
