"""Files and output: a new ledger is private; `--output` never overwrites by accident and never leaves half a file.

- Every way a new SQLite ledger comes into being (`plan import`,
  `import-events`, `demo`, a session of the library) makes the file with
  mode 0600, and its `-wal` and `-shm` files too, even under umask 000.
- `--output` of every export format and every report format refuses an
  existing file without `--force` (exit 2, one sentence naming `--force`),
  leaving it byte for byte as it was, also when the path is a symbolic link
  to it; with `--force` the file is replaced whole and keeps its mode.
- A command that fails after it started writing leaves neither a
  half-written file nor its temporary `.pulje-*` file, and an existing file
  it was to replace stays as it was: a disk that fills up in the middle of an
  export or a report (simulated: the temporary file's writes fail with
  ENOSPC after the first kilobytes), a folder the user may not write to
  (real permissions; as root, in a process without CAP_DAC_OVERRIDE), a
  report of a year that has no plan.

Found bug (strict xfail): a folder the user may not write to is reported as
"this database user may read the ledger but not change it", a message about
PostgreSQL roles, because every error whose text says "permission denied" is
taken for one.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import main

ROOT = Path(__file__).resolve().parents[2]
PLAN_2022 = ROOT / "plans" / "tingbjerg-husum-2022.toml"
ENV = {"PULJE_DEBUG": None, "PULJE_DB": None, "PULJE_ACTOR": None}
AG = "arbejdsgruppen"
EXPORTS = ("jsonl", "csv", "journal")
REPORTS = ("md", "html", "json", "xlsx", "pdf")
MAGIC = {"md": b"# ", "html": b"<!DOCTYPE html>", "json": b"{", "xlsx": b"PK\x03\x04", "pdf": b"%PDF-"}
EARLIER = b"last year's file, which must survive\n"


def explain(result: Result) -> str:
    return (
        f"exit {result.exit_code}\n--- stdout\n{result.stdout[:3000]}\n--- stderr\n{result.stderr[:3000]}\n"
        f"--- exception {result.exception!r}"
    )


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=ENV)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@contextmanager
def umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


# ---------------------------------------------------------------------- a new ledger is private


def ledger_files(db: Path) -> dict[str, int]:
    """The ledger's files that exist, with their modes."""
    return {p.name: mode(p) for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")) if p.exists()}


@pytest.fixture(scope="module")
def export_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("source")
    result = invoke("--db", str(folder / "source.db"), "plan", "import", str(PLAN_2022))
    assert result.exit_code == 0, explain(result)
    result = invoke(
        "--db", str(folder / "source.db"), "export", "--format", "jsonl", "--output", str(folder / "x.jsonl")
    )
    assert result.exit_code == 0, explain(result)
    return folder / "x.jsonl"


@pytest.mark.parametrize("mask", [0o000, 0o022], ids=["umask 000", "umask 022"])
def test_a_library_session_makes_the_ledger_and_its_wal_and_shm_files_mode_0600(tmp_path: Path, mask: int) -> None:
    from ledger.service import Pulje

    db = tmp_path / "ledger.db"
    with umask(mask), Pulje(str(db), "sekretariatet") as pulje:
        pulje.import_plan(PLAN_2022)
        files = ledger_files(db)  # while the session holds the file open, WAL and shared memory exist

    assert set(files) == {"ledger.db", "ledger.db-wal", "ledger.db-shm"}, files
    assert files == dict.fromkeys(files, 0o600)


@pytest.mark.parametrize("mask", [0o000, 0o022], ids=["umask 000", "umask 022"])
@pytest.mark.parametrize("how", ["plan import", "import-events", "demo --db"])
def test_every_command_that_starts_a_ledger_makes_it_mode_0600(
    tmp_path: Path, export_file: Path, mask: int, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "new" / "ledger.db"
    db.parent.mkdir()
    args = {
        "plan import": ["--db", str(db), "plan", "import", str(PLAN_2022)],
        "import-events": ["--db", str(db), "import-events", str(export_file)],
        "demo --db": ["--db", str(db), "demo", "--out", str(tmp_path / "demo")],
    }[how]

    with umask(mask):
        result = invoke(*args)

    assert result.exit_code == 0, explain(result)
    files = ledger_files(db)
    assert "ledger.db" in files and files == dict.fromkeys(files, 0o600), files
    if how == "demo --db" and mask == 0o000:
        with capsys.disabled():
            print(
                f"\n[figure] files: a new ledger by plan import, import-events, demo and a library session, under "
                f"umask 000 and 022: mode 0600 every time ({', '.join(f'{k} {v:o}' for k, v in files.items())})"
            )


# ---------------------------------------------------------------------- --output and --force


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small year: the plan, two grants, a payment."""
    db = tmp_path_factory.mktemp("ledger") / "ledger.db"
    assert invoke("--db", str(db), "plan", "import", str(PLAN_2022)).exit_code == 0
    for recipient, amount in (("Beboerforeningen i Tingbjerg", "5.000"), ("Husum Boldklub", "3.000")):
        result = invoke(
            "--db",
            str(db),
            "grant",
            "award",
            "--pool",
            "BTP",
            "--year",
            "2022",
            "--recipient",
            recipient,
            "--purpose",
            "Tryghedsvandring",
            "--amount",
            amount,
            "--date",
            "2022-03-01",
            "--decided-by",
            AG,
            "--decision-ref",
            "AG-møde",
        )
        assert result.exit_code == 0, explain(result)
    assert (
        invoke(
            "--db", str(db), "grant", "disburse", "BTP-2022-001", "--amount", "4.000", "--date", "2022-03-10"
        ).exit_code
        == 0
    )
    return db


def output_args(db: Path, what: str, target: Path, *more: str) -> list[str]:
    kind, fmt = what.split()
    if kind == "export":
        return ["--db", str(db), "export", "--format", fmt, "--output", str(target), *more]
    return ["--db", str(db), "report", "ultimo", "--year", "2022", "--format", fmt, "--output", str(target), *more]


OUTPUTS = [f"export {fmt}" for fmt in EXPORTS] + [f"report {fmt}" for fmt in REPORTS]


def one_sentence(result: Result, code: int) -> str:
    assert result.exit_code == code, explain(result)
    assert "Traceback" not in result.output and "Internal error" not in result.stderr, explain(result)
    assert result.stdout == "", explain(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, explain(result)
    return lines[0]


@pytest.mark.parametrize("through_a_link", [False, True], ids=["the file", "a symbolic link to it"])
@pytest.mark.parametrize("what", OUTPUTS)
def test_output_never_replaces_an_existing_file_without_force(
    ledger: Path, tmp_path: Path, what: str, through_a_link: bool
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    existing = folder / "earlier.out"
    existing.write_bytes(EARLIER)
    target = existing
    if through_a_link:
        target = folder / "link.out"
        target.symlink_to(existing.name)
    before = names(folder)

    message = one_sentence(invoke(*output_args(ledger, what, target)), 2)

    assert "--force" in message and "exists" in message, message
    assert existing.read_bytes() == EARLIER
    assert names(folder) == before
    assert target.is_symlink() == through_a_link


@pytest.mark.parametrize("what", OUTPUTS)
def test_output_with_force_replaces_the_file_whole_and_keeps_its_mode(ledger: Path, tmp_path: Path, what: str) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "earlier.out"
    target.write_bytes(EARLIER)
    target.chmod(0o640)

    result = invoke(*output_args(ledger, what, target, "--force"))

    assert result.exit_code == 0, explain(result)
    kind, fmt = what.split()
    content = target.read_bytes()
    if kind == "export":
        assert content == invoke("--db", str(ledger), "export", "--format", fmt).stdout_bytes
    else:
        assert content.startswith(MAGIC[fmt])
    assert mode(target) == 0o640
    assert names(folder) == ["earlier.out"]


# ---------------------------------------------------------------------- failing midway


class FillingDisk:
    """A file whose writes fail with ENOSPC once `room` bytes are written (some of the failing write lands)."""

    def __init__(self, file: Any, room: int) -> None:
        self.file, self.room = file, room

    def write(self, data: Any) -> int:
        if len(data) > self.room:
            self.file.write(data[: self.room])
            self.file.flush()
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.file.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)

    def __enter__(self) -> FillingDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()


@pytest.fixture
def filling_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ledger.files` (where every --output file is written) sees a disk that fills after 2 kB."""
    import ledger.files

    real = os

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> FillingDisk:
        return FillingDisk(real.fdopen(fd, *args, **kwargs), 2048)

    proxy = types.SimpleNamespace(**{name: getattr(real, name) for name in dir(real) if not name.startswith("__")})
    proxy.fdopen = fdopen
    proxy.path = real.path
    monkeypatch.setattr(ledger.files, "os", proxy)


@pytest.mark.parametrize("existing", [False, True], ids=["a new file", "a file to replace with --force"])
@pytest.mark.parametrize("what", OUTPUTS)
def test_a_disk_that_fills_midway_leaves_no_half_written_or_temporary_file(
    ledger: Path, tmp_path: Path, what: str, existing: bool, filling_disk: None
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "result.out"
    if existing:
        target.write_bytes(EARLIER)
    before = names(folder)

    message = one_sentence(invoke(*output_args(ledger, what, target, *(["--force"] if existing else []))), 4)

    assert message.startswith("Storage error:") and "No space left on device" in message, message
    assert names(folder) == before, "a half-written or temporary file was left"
    if existing:
        assert target.read_bytes() == EARLIER


def run_without_write_permission(args: list[str]) -> tuple[int, str, str]:
    """The command in a process that file permissions bind (as root: without CAP_DAC_OVERRIDE)."""
    if os.geteuid() != 0:
        result = invoke(*args)
        return result.exit_code, result.stdout, result.stderr
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and setpriv (util-linux) is not there to drop CAP_DAC_OVERRIDE")
    drop = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
    if subprocess.run([*drop, "true"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("running as root in a container that may not drop CAP_DAC_OVERRIDE (setpriv failed)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULJE_")}
    done = subprocess.run(
        [*drop, sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "read-only"
    folder.mkdir()
    (folder / "earlier.out").write_bytes(EARLIER)
    folder.chmod(0o500)
    try:
        yield folder
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("what", ["export jsonl", "report md", "report xlsx"])
def test_a_folder_the_user_may_not_write_to_gets_no_file_and_keeps_what_it_had(
    ledger: Path, read_only_folder: Path, what: str
) -> None:
    code, out, err = run_without_write_permission(output_args(ledger, what, read_only_folder / "new.out"))
    forced, _, _ = run_without_write_permission(output_args(ledger, what, read_only_folder / "earlier.out", "--force"))

    assert code in (2, 4) and forced in (2, 4), err
    assert "Traceback" not in err and "Internal error" not in err, err
    assert out == ""
    assert names(read_only_folder) == ["earlier.out"]
    assert (read_only_folder / "earlier.out").read_bytes() == EARLIER


def test_a_folder_the_user_may_not_write_to_is_named_in_the_message(ledger: Path, read_only_folder: Path) -> None:
    _, _, err = run_without_write_permission(output_args(ledger, "export csv", read_only_folder / "new.csv"))

    assert str(read_only_folder) in err, err
    assert "database" not in err, err


@pytest.mark.parametrize("existing", [False, True], ids=["a new file", "a file to replace with --force"])
@pytest.mark.parametrize("fmt", REPORTS)
def test_a_report_of_a_year_without_a_plan_is_refused_and_leaves_no_file(
    ledger: Path, tmp_path: Path, fmt: str, existing: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / f"ultimo-2023.{fmt}"
    if existing:
        target.write_bytes(EARLIER)
    before = names(folder)

    message = one_sentence(
        invoke(
            "--db",
            str(ledger),
            "report",
            "ultimo",
            "--year",
            "2023",
            "--format",
            fmt,
            "--output",
            str(target),
            *(["--force"] if existing else []),
        ),
        3,
    )

    assert "2023" in message
    assert names(folder) == before
    if existing:
        assert target.read_bytes() == EARLIER
    if fmt == "pdf" and existing:
        with capsys.disabled():
            print(
                f"\n[figure] files: {len(OUTPUTS)} output formats; without --force 0 of {2 * len(OUTPUTS)} existing "
                f"files (or links to them) replaced; {2 * len(OUTPUTS)} disk-full failures, 3 unwritable folders and "
                f"{2 * len(REPORTS)} reports of a year without a plan left 0 half-written or temporary files"
            )
