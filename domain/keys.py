"""Idempotency keys: a command given `--key` is recorded once.

The key is an aggregate of its own, saved in the same atomic write as the
command's events. Repeating the command with the same key and the same
content finds the key and returns the earlier result; the same key with other
content is refused. Two processes racing with one key collide on the key's
first version, so exactly one of them records the command.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from domain.base import Aggregate
from domain.errors import KeyConflictError


class CommandKey(Aggregate):
    """A user's key for one command.

    Attributes:
        key: the text the user gave.
        command: e.g. "grant award".
        digest: sha256 of the command's content.
        target_id, target_version: the event the command recorded.
        grant: the grant number, for an award.
    """

    class Event(Aggregate.Event):
        pass

    class Recorded(Event, Aggregate.Created):
        key: str
        command: str
        digest: str
        target_id: UUID
        target_version: int
        grant: str | None = None

    @classmethod
    def record(
        cls, *, id: UUID, key: str, command: str, digest: str, target_id: UUID, target_version: int,
        grant: str | None, timestamp: dt.datetime, actor: str, date: dt.date,
    ) -> CommandKey:
        return cls._create(
            cls.Recorded, id=id, timestamp=timestamp, actor=actor, date=date, key=key, command=command,
            digest=digest, target_id=target_id, target_version=target_version, grant=grant,
        )

    def check_same(self, command: str, digest: str) -> None:
        """Refuse a different command under this key."""
        if command != self.command or digest != self.digest:
            raise KeyConflictError(
                f"the key {self.key!r} was already used for another command ({self.command}); "
                "use a new key for a new command"
            )

    def _on_Recorded(self, event: CommandKey.Recorded) -> None:
        self.key = event.key
        self.command = event.command
        self.digest = event.digest
        self.target_id = event.target_id
        self.target_version = event.target_version
        self.grant = event.grant
