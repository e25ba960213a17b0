"""The writer that `test_crash.py` kills with SIGKILL: it decides things until it is killed.

    python tests/reliability/crash_writer.py DB READY SEED RUN REDO

It opens the ledger at DB (an SQLite file or a postgresql:// URL), prints
the SQLite settings of its own connections, touches the file READY and then
loops for ever through the secretariat's decisions, chosen by a random
generator seeded with SEED: grants awarded from both pools, payments, money
returned, withdrawals, reallocations into and out of line 14 and 15 (the
plan and one or two pools in one write) and between other lines, and
reversals of reallocations, of a pool's funding change and of payments and
returns. About 40 % of the commands carry an idempotency key (the key is an
aggregate of its own, saved in the same write).

Every step is one JSON line on stdout, flushed at once:
`{"attempt": SPEC}` before a command, then `{"ok": ...}` once it committed
(and the views caught up), or `{"refused": ...}` for a rule's refusal. The
last `ok` line is what the writer REPORTED as committed; the test holds the
ledger to it. When REDO names a file (not "-"), it holds the keyed command
that was in flight when the previous writer was killed; this writer
repeats it first and prints `{"redo": ..., "repeated": bool}`.

Anything but a rule's refusal ends the process with a traceback (exit 1),
which the test reports: only SIGKILL may end it.

    python tests/reliability/crash_writer.py --serve

starts a fork server instead: it imports what a writer needs once, then for
each request line on stdin (JSON: `args`, `out`, `err`, `status`) forks a
writer with its stdout and stderr in the files named, prints the writer's
pid, waits for it to end and writes how it ended (`signal` or `exit`) to the
`status` file. A forked writer is a process of its own, as real to SIGKILL
as any; it only skips the interpreter's start-up (a third of a second), so
the kills can land in writes rather than in imports.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
from pathlib import Path
from typing import Any

DATE = dt.date(2022, 6, 1)
YEAR = 2022
#: Reallocations: into and out of the pools' lines (14: Bylivs- og tryghedspulje, 15: Videnspulje),
#: between the two pools (the plan and both pools in one write), and between lines without a pool.
MOVES = [("13", "14"), ("14", "13"), ("14", "15"), ("15", "14"), ("13", "15"), ("12", "13"), ("13", "12")]


def say(**fields: Any) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def sqlite_settings(ledger: Any) -> dict[str, Any] | None:
    """journal_mode and synchronous on the ledger's own read and write connections (SQLite only)."""
    if ledger.store.kind != "sqlite":
        return None
    found = {}
    for name, commit in (("read", False), ("write", True)):
        with ledger.recorder.datastore.transaction(commit=commit) as c:
            c.execute("PRAGMA journal_mode")
            journal = c.fetchone()[0]
            c.execute("PRAGMA synchronous")
            found[name] = [journal, c.fetchone()[0]]
    return found


def execute(pulje: Any, spec: dict[str, Any]) -> Any:
    from domain.money import Money

    op, key = spec["op"], spec.get("key")
    if op == "award":
        return pulje.award(
            pool=spec["pool"], year=YEAR, recipient=spec["recipient"], purpose="Tryghedsvandring", area=None,
            amount=Money(spec["amount"]), requested=None, date=DATE, decided_by="arbejdsgruppen",
            decision_ref=spec["ref"], key=key,
        )
    if op == "disburse":
        return pulje.disburse(
            grant=spec["grant"], amount=Money(spec["amount"]), date=DATE, payment_ref=spec["ref"], key=key
        )
    if op == "return":
        return pulje.take_back(
            grant=spec["grant"], amount=Money(spec["amount"]), date=DATE, reason="Ubrugte midler", key=key
        )
    if op == "withdraw":
        return pulje.withdraw(grant=spec["grant"], date=DATE, reason="Aktiviteten blev aflyst", key=key)
    if op == "reallocate":
        return pulje.reallocate(
            year=YEAR, from_line=spec["from"], to_line=spec["to"], amount=Money(spec["amount"]), date=DATE,
            decided_by="Økonomiforvaltningen", decision_ref=spec["ref"], reason="Behov", key=key,
        )
    if op == "reverse":
        return pulje.reverse(str(spec["sequence"]), reason="Fejlregistrering", key=key)
    raise ValueError(f"unknown op {op}")


def choose(rng: random.Random, pulje: Any, run: str, i: int, targets: list[int]) -> dict[str, Any] | None:
    """The next command, or None when the chosen kind has nothing to act on."""
    key = f"r{run}-{i}" if rng.random() < 0.4 else None
    ref = f"run {run} #{i}"
    roll = rng.random()
    if roll < 0.30:
        return {
            "op": "award", "pool": "BTP" if rng.random() < 0.8 else "VP", "recipient": f"Forening {run}-{i}",
            "amount": rng.randint(100, 5_000), "ref": ref, "key": key,
        }
    if roll < 0.62:
        _, grants, _ = pulje.pool_show("BTP" if rng.random() < 0.8 else "VP", year=YEAR)
        live = [g for g in grants if not g.reversed]
        payable = [(g, g.awarded_ore - g.disbursed_ore - g.withdrawn_ore) for g in live if not g.withdrawn_ore]
        payable = [(g, left) for g, left in payable if left > 0]
        paid = [(g, g.disbursed_ore - g.returned_ore) for g in live]
        paid = [(g, left) for g, left in paid if left > 0]
        kind = rng.random()
        if kind < 0.5 and payable:
            g, left = rng.choice(payable)
            return {"op": "disburse", "grant": g.number, "amount": rng.randint(1, left), "ref": ref, "key": key}
        if kind < 0.8 and paid:
            g, left = rng.choice(paid)
            return {"op": "return", "grant": g.number, "amount": rng.randint(1, left), "ref": ref, "key": key}
        if payable:
            g, _ = rng.choice(payable)
            return {"op": "withdraw", "grant": g.number, "ref": ref, "key": key}
        return None
    if roll < 0.87:
        source, target = rng.choice(MOVES)
        amount = rng.randint(100, 100_000)
        return {"op": "reallocate", "from": source, "to": target, "amount": amount, "ref": ref, "key": key}
    if not targets:
        return None
    return {"op": "reverse", "sequence": rng.choice(targets[-30:]), "ref": ref, "key": key}


def reversible(pulje: Any) -> list[int]:
    """Sequences of earlier reallocations, pool funding changes, payments and returns not yet reversed."""
    with pulje.reader() as views:
        rows = views.audit_of_kinds(("reallocated", "funding_changed", "grant_disbursed", "grant_returned"))
        reversed_by = views.reversed_by()
    return [r.sequence for r in rows if r.event_id not in reversed_by][-40:]


def main(argv: list[str]) -> None:
    from domain.errors import DomainError
    from ledger.service import Pulje

    db, ready, seed, run, redo = argv[0], Path(argv[1]), int(argv[2]), argv[3], argv[4]
    rng = random.Random(seed)
    pulje = Pulje(db, f"writer-{run}")
    ledger = pulje.ledger
    say(opened=run, sqlite=sqlite_settings(ledger))
    ready.touch()
    if redo != "-":
        spec = json.loads(Path(redo).read_text())
        say(attempt=spec)
        try:
            r = execute(pulje, spec)
        except DomainError as error:
            say(redo=spec, refused=str(error))
        else:
            say(redo=spec, ok=spec["op"], event_id=r.event_id, sequence=r.sequence, head=r.head, repeated=r.repeated)
    targets = reversible(pulje)
    i = 0
    while True:
        i += 1
        spec = choose(rng, pulje, run, i, targets)
        if spec is None:
            continue
        say(attempt=spec)
        try:
            r = execute(pulje, spec)
        except DomainError as error:
            say(refused=str(error), op=spec["op"])
            continue
        say(
            ok=spec["op"], event_id=r.event_id, sequence=r.sequence, head=r.head, repeated=r.repeated,
            key=spec.get("key"),
        )
        if spec["op"] in ("reallocate", "disburse", "return") and not r.repeated:
            targets.append(r.sequence)
            if spec["op"] == "reallocate" and "14" in (spec["from"], spec["to"]) and rng.random() < 0.3:
                targets.append(r.sequence + 1)  # the pool's funding change, saved right after the plan's event
        elif spec["op"] == "reverse" and spec["sequence"] in targets:
            targets.remove(spec["sequence"])


def serve() -> None:
    import importlib
    import os
    import traceback

    for module in ("ledger.service", "ledger.app", "ledger.postgres", "projections.fold", "domain.money"):
        importlib.import_module(module)  # once here, inherited by every forked writer

    print(json.dumps({"serving": os.getpid()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                for fd, path in ((1, request["out"]), (2, request["err"])):
                    os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
                random.seed()
                main(request["args"])
            except BaseException:  # noqa: BLE001 - reported through the status file, like an interpreter's exit 1
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        ended = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"exit": os.WEXITSTATUS(status)}
        Path(request["status"] + ".part").write_text(json.dumps(ended))
        os.replace(request["status"] + ".part", request["status"])


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        main(sys.argv[1:])
