"""Exports of the whole event log, and `import-events` of a `jsonl` export.

`jsonl` is lossless: a header line, then one line per stored event in chain
order with its position, hash, aggregate id, version, topic and the stored
state exactly as stored (a JSON text). Importing it into an empty ledger
writes the same bytes in the same order, so the chain and the head come out
identical, and with them every view and report.

An import checks every line's shape, the positions, every hash, that every
event reads and replays, every rule, and the header's count and head, in the
one transaction that writes them: a file that fails is refused with the line
that is wrong, and the transaction is rolled back, so nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson
from eventsourcing.persistence import StoredEvent

from domain.ids import canonical_id, uuid_of
from ledger.chain import is_hash
from ledger.mapper import is_topic
from ledger.verify import VerifyReport, Walker
from ledger.walk import frozen_pages

FORMAT = "pulje-events"
VERSION = 1
PAGE = 2000
_FIELDS = {"position": int, "hash": str, "originator_id": str, "originator_version": int, "topic": str, "state": str}


class ImportFileError(Exception):
    """An export file that is not well formed (usage error): names the line."""


class ImportRefusedError(Exception):
    """An import into a ledger that is not empty."""


class ImportVerificationError(Exception):
    """An export file whose chain or events do not verify; `report` has every problem."""

    def __init__(self, message: str, report: VerifyReport) -> None:
        super().__init__(message)
        self.report = report


def stored_rows(ledger: Any, upto: int, page: int = PAGE) -> Iterator[tuple[int, str, str, int, str, bytes]]:
    """(position, hash, originator id, version, topic, state) in chain order, up to a position."""
    position = 0
    while position < upto:
        with ledger.store.read() as c:
            c.execute(
                "SELECT c.position, c.hash, e.originator_id, e.originator_version, e.topic, e.state "
                "FROM event_chain c JOIN {events} e ON e.{nid} = c.notification_id "
                "WHERE c.position > ? AND c.position <= ? ORDER BY c.position LIMIT ?",
                (position, upto, page),
            )
            rows = c.fetchall()
        if not rows:
            return
        for pos, chain_hash, oid, version, topic, state in rows:
            yield pos, chain_hash, canonical_id(str(oid)), version, topic, bytes(state)
        position = rows[-1][0]


def export_jsonl(ledger: Any, out: IO[str], progress: Callable[[int], None] | None = None) -> int:
    """Write the whole log as JSON lines; returns how many events."""
    events, head = ledger.store.head()
    if progress is not None and hasattr(progress, "start"):
        progress.start(events)
    out.write(json.dumps({"format": FORMAT, "version": VERSION, "events": events, "head": head}) + "\n")
    count = 0
    for position, chain_hash, oid, version, topic, state in stored_rows(ledger, events):
        record = {
            "position": position, "hash": chain_hash, "originator_id": oid, "originator_version": version,
            "topic": topic, "state": state.decode("utf-8"),
        }
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(1000)
    return count


@dataclass
class Header:
    events: int
    head: str


def read_header(line: str) -> Header:
    try:
        header = json.loads(line)
    except ValueError:
        raise ImportFileError(f"line 1 is not a pulje export header (a JSON object with format {FORMAT!r})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ImportFileError(f"line 1 is not a pulje export header (format {FORMAT!r}); was the file made by `pulje export --format jsonl`?")
    if header.get("version") != VERSION:
        raise ImportFileError(f"line 1: export version {header.get('version')!r} is not supported (this pulje reads {VERSION})")
    events, head = header.get("events"), header.get("head")
    if not isinstance(events, int) or isinstance(events, bool) or events < 0 or not isinstance(head, str) or not is_hash(head):
        raise ImportFileError("line 1: the header's event count or head is malformed")
    return Header(events, head.lower())


MAX_NUMBER = 2**62


def text_lines(lines: Iterable[bytes], start: int = 1) -> Iterator[tuple[int, str]]:
    """(line number, text) from a binary file (its lines from number `start`), refusing what is not UTF-8 by its line."""
    for number, raw in enumerate(lines, start=start):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if b"\x00" in raw:
            raise ImportFileError(f"line {number} holds NUL bytes; an export is UTF-8 text")
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ImportFileError(f"line {number} is not UTF-8 text (byte {error.start + 1})") from None


_FIELD_NAMES = _FIELDS.keys()


def well_formed(record: Any) -> bool:
    """Whether a record orjson read from an event line passes every check of `read_records`, in one expression.

    orjson gives exact types (a dict, int, str, never a subclass or a bool
    for an int), so the checks are of types; `read_records` names what is
    wrong with a record that fails them.
    """
    return (
        type(record) is dict
        and record.keys() == _FIELD_NAMES
        and type(position := record["position"]) is int
        and type(version := record["originator_version"]) is int
        and 1 <= position <= MAX_NUMBER
        and 1 <= version <= MAX_NUMBER
        and type(record["originator_id"]) is str
        and type(record["state"]) is str
        and type(chain_hash := record["hash"]) is str
        and is_hash(chain_hash)
        and is_topic(record["topic"])
    )


def event_records(lines: Iterable[bytes], start: int = 2) -> Iterator[tuple[int, dict[str, Any]]]:
    """`read_records(text_lines(lines, start))` for a file's event lines, reading most lines in one step.

    orjson reads the line's bytes (it refuses what is not UTF-8, and NUL or
    other control bytes, as the careful reading does) and `well_formed`
    checks the record; a line that fails either is read the careful way,
    which names its problem (or reads what only the standard library reads).
    """
    loads = orjson.loads
    for number, raw in enumerate(lines, start=start):
        try:
            record = loads(raw)
        except ValueError:
            record = None
        if well_formed(record):
            yield number, record
        else:
            yield from read_records(text_lines([raw], start=number))


def read_records(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each event line, checking its shape."""
    for number, line in lines:
        if not line.strip():
            raise ImportFileError(f"line {number} is empty")
        try:
            record = orjson.loads(line)
        except ValueError:
            try:  # what orjson refuses (NaN, integers beyond 64 bits, lone surrogates) the standard library may read
                record = json.loads(line)
            except ValueError:
                raise ImportFileError(f"line {number} is not JSON (garbage or a cut line)") from None
        if not isinstance(record, dict) or set(record) != set(_FIELDS):
            raise ImportFileError(f"line {number} does not have the fields {', '.join(_FIELDS)}")
        for name, kind in _FIELDS.items():
            value = record[name]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ImportFileError(f"line {number}: {name} must be {'a number' if kind is int else 'text'}")
        if not is_hash(record["hash"]):
            raise ImportFileError(f"line {number}: hash is not 64 hexadecimal digits")
        for name in ("position", "originator_version"):
            if not 1 <= record[name] <= MAX_NUMBER:
                raise ImportFileError(f"line {number}: {name} {record[name]} is out of range")
        if not is_topic(record["topic"]):
            raise ImportFileError(f"line {number}: topic {record['topic'][:80]!r} is not a pulje event")
        yield number, record


def import_events(
    ledger: Any, path: str, progress: Callable[[int], None] | None = None, processes: int | None = None
) -> Header:
    """Check and write every event in one transaction; returns the file's header.

    Each line is checked (shape, position, hash, that the event reads and
    replays) and written; the rules over the whole history, the count and
    the head are checked at the end. Any problem raises before the
    transaction commits, so a refused file leaves the target as it was.

    In one process each event is decoded once: the same event object checks
    the replay and updates the read models. With two (`ledger.forked`; by
    default from `PARALLEL_FROM` events on a machine with a second core) a
    forked child checks the whole file (`check_file`) while this process
    writes it, the read models folding each event's stored JSON; the
    transaction commits only once the child has found the file sound, and
    whatever goes wrong, the file is refused with the problem one process
    would have named first (the child's), if it has one.
    """
    from ledger.forked import Forked, second_process

    if ledger.store.head()[0] or ledger.recorder.max_notification_id():
        raise ImportRefusedError("the target ledger is not empty; import into a new --db")
    with open(path, "rb") as raw:
        events = read_header(next(text_lines(raw), (1, ""))[1]).events
    if not second_process(events, processes):
        return _write(ledger, path, progress, Walker(ledger.mapper, VerifyReport()))
    mapper = ledger.mapper
    with Forked(lambda: check_file(mapper, path)) as checker:

        def sound() -> None:
            _refuse_unless_sound(checker.result() or check_file(mapper, path))

        try:
            return _write(ledger, path, progress, None, before_commit=sound)
        except Exception:
            sound()  # the file's own problem, named as one process would name it
            raise


def check_file(mapper: Any, path: str) -> tuple[str, str, VerifyReport | None]:
    """Everything `import_events` checks, without writing: ("sound", "", None), or the refusal's kind and message."""
    try:
        with open(path, "rb") as raw, frozen_pages() as settle:
            for count, _ in enumerate(_Reader(raw, Walker(mapper, VerifyReport())).check(), start=1):
                if count % PAGE == 0:
                    settle()
    except ImportFileError as error:
        return "file", str(error), None
    except ImportVerificationError as error:
        return "verification", str(error), error.report
    return "sound", "", None


def _refuse_unless_sound(verdict: tuple[str, str, VerifyReport | None]) -> None:
    kind, message, report = verdict
    if kind == "file":
        raise ImportFileError(message)
    if kind == "verification":
        raise ImportVerificationError(message, report or VerifyReport())


def _stored(record: dict[str, Any], state: bytes | None = None) -> StoredEvent:
    """The stored event an export line's record holds (its state as UTF-8 bytes, unless given)."""
    return StoredEvent(
        originator_id=uuid_of(record["originator_id"]), originator_version=record["originator_version"],
        topic=record["topic"], state=record["state"].encode("utf-8") if state is None else state,
    )


class _Reader:
    """The events of an export file in order: (stored event, its hash, the event decoded or None).

    The header is read on opening. With a walker, each event is checked as
    it is read, and the count, the head and the rules at the end. Without,
    for a writer whose transaction commits only on the verdict of a second
    process checking the whole file (`import_events`), each line is read
    only as far as writing it needs; a line that does not read so is read
    as the checker reads it, which names its problem.
    """

    def __init__(self, raw: IO[bytes], walker: Walker | None) -> None:
        self.raw = raw
        self.header = read_header(next(text_lines(raw), (1, ""))[1])  # the event lines are read from `raw` itself
        self.walker = walker
        if walker is not None:
            walker.report.expected_head = self.header.head

    def _unchecked(self) -> Iterator[tuple[StoredEvent, str, Any]]:
        for number, raw in enumerate(self.raw, start=2):  # the file's lines after the header, as bytes
            try:
                record = orjson.loads(raw)
                stored, chain_hash = _stored(record), record["hash"]
            except Exception:  # noqa: BLE001 - the checker's reading of the line names what is wrong with it
                ((_, record),) = read_records(text_lines([raw], start=number))
                stored, chain_hash = _stored(record), record["hash"]
            yield stored, chain_hash, None

    def __iter__(self) -> Iterator[tuple[StoredEvent, str, Any]]:
        if self.walker is None:
            yield from self._unchecked()
        else:
            yield from self._checked(build=True)

    def check(self) -> Iterator[None]:
        """Check the file as iterating does, yielding once per event and building no stored events."""
        return self._checked(build=False)

    def _checked(self, build: bool) -> Iterator[Any]:
        walker = self.walker
        assert walker is not None
        for number, record in event_records(self.raw):
            state = record["state"].encode("utf-8")
            problems = walker.report.problems
            before = len(problems)
            problem = walker.position(record["position"], record["hash"])
            event = walker.event(
                problem, record["position"], record["hash"], record["originator_id"],
                record["originator_version"], record["topic"], state,
            )
            if len(problems) > before:
                raise ImportVerificationError(f"line {number}: {problems[before].message}", walker.report)
            yield (_stored(record, state), record["hash"], event) if build else None
        self._finish(walker)

    def _finish(self, walker: Walker) -> None:
        report, header = walker.report, self.header
        if report.events != header.events:
            raise ImportFileError(
                f"the file holds {report.events} events but its header says {header.events} (cut short or added to)"
            )
        if report.events and report.head[1].lower() != header.head:
            raise ImportVerificationError("the last event's hash is not the head the header names", report)
        walker.finish()
        if report.problems:
            raise ImportVerificationError(f"the events break a rule: {report.problems[0].message}", report)


def _write(
    ledger: Any, path: str, progress: Callable[[int], None] | None, walker: Walker | None,
    before_commit: Callable[[], None] | None = None,
) -> Header:
    """Write the file's events and fill the read models in one transaction.

    With a walker, every event is checked as it is read and the read models
    fold the checked event; without, the read models fold each event's
    stored JSON, the recorder takes the file's hashes unchecked, and
    `before_commit` must refuse a file that is not sound.
    """
    from ledger.views import begin_bulk_fill, end_bulk_fill, follow
    from projections.fold import plain

    decoded: dict[int, Any] = {}

    def plain_of(stored: StoredEvent) -> tuple[type, dict[str, Any]]:
        event = decoded[id(stored)]
        return type(event), plain(event)

    recorder = ledger.recorder
    rows_read: dict[tuple[Any, ...], Any] = {}  # view rows, kept across the pages of the one transaction
    reading = plain_of if walker is not None else ledger.mapper.to_plain
    hook = recorder.on_recorded
    recorder.on_recorded = lambda native, rows: follow(ledger.store, ledger.tracking, reading, native, rows, rows_read)
    try:
        with ledger.store.fill() as c, open(path, "rb") as raw, frozen_pages() as settle:
            begin_bulk_fill(c)  # the views fill with the log, in this transaction; rebuilt before it commits
            reader = _Reader(raw, walker)
            if progress is not None and hasattr(progress, "start"):
                progress.start(reader.header.events)
            page: list[StoredEvent] = []
            hashes: list[str] = []  # checked against the chain as it stands (here or by the checker): not linked again
            for stored, chain_hash, event in reader:
                if walker is not None:
                    decoded[id(stored)] = event
                page.append(stored)
                hashes.append(chain_hash)
                if len(page) >= PAGE:
                    recorder.record_in(c.native, page, hashes)
                    page, hashes = [], []
                    decoded.clear()
                    if progress is not None:
                        progress(PAGE)
                    settle()
            if page:
                recorder.record_in(c.native, page, hashes)
            end_bulk_fill(c)  # while a checking second process may still be at work
            if before_commit is not None:
                before_commit()
    finally:
        recorder.on_recorded = hook
    return reader.header
