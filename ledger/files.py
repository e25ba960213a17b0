"""Files pulje writes: whole or not at all, and never over a file by accident.

Content goes to a temporary file in the target's folder and is renamed over
the target when complete, so a crash or a refusal leaves no half-written
report or export behind; an existing file is replaced only when asked.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class OutputExistsError(Exception):
    """An output path that exists (without force), or whose folder does not."""


def check_target(path: str, force: bool) -> str:
    if "\x00" in path or not path.strip():
        raise OutputExistsError(f"{path!r} is not a file name")
    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise OutputExistsError(f"the folder {folder} does not exist")
    if os.path.isdir(target):
        raise OutputExistsError(f"{path} is a folder")
    if os.path.exists(target) and not force:
        raise OutputExistsError(f"{path} exists; add --force to replace it")
    return target


@contextmanager
def atomic_file(path: str, force: bool, *, binary: bool = False) -> Iterator[Any]:
    """A file object whose content replaces `path` only when the block completes."""
    target = check_target(path, force)
    try:
        fd, temporary = tempfile.mkstemp(prefix=".pulje-", dir=os.path.dirname(target))
    except OSError as error:
        raise OutputExistsError(f"cannot write in {os.path.dirname(target)}: {error.strerror}") from None
    try:
        os.chmod(temporary, _mode_for(target))
        mode = {} if binary else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, "wb" if binary else "w", **mode) as out:
            yield out
        try:
            os.replace(temporary, target)
        except OSError as error:
            raise OutputExistsError(f"cannot write {path}: {error.strerror}") from None
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _mode_for(target: str) -> int:
    """The mode a plain `open()` would give: the replaced file's, else 0666 less the umask."""
    if os.path.exists(target):
        return os.stat(target).st_mode & 0o7777
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str, content: bytes, force: bool) -> None:
    with atomic_file(path, force, binary=True) as out:
        out.write(content)
