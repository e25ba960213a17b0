"""The domain's refusals: one class per rule, each carrying one plain sentence.

A command that breaks a rule raises one of these before any event exists, so
a refused command writes nothing. The command line maps every class to exit
code 3 and prints the sentence.
"""


class DomainError(Exception):
    """A command refused by a rule of the domain."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AmountError(DomainError, ValueError):
    """An amount that is malformed, negative, zero or absurd."""


class DateError(DomainError):
    """A date that is impossible or outside what the rule allows."""


class NotFoundError(DomainError):
    """An unknown plan, line, pool, grant or event."""


class AmbiguousError(DomainError):
    """A reference that matches more than one thing."""


class AuthorityError(DomainError):
    """A decision by a body that has no authority to make it."""


class InsufficientFundsError(DomainError):
    """A pool or a line asked to commit more than it has."""


class GrantLimitError(DomainError):
    """A payment above what is awarded, or a return above what is paid out."""


class PoolClosedError(DomainError):
    """Anything on a pool that is closed for the year."""


class ReversalError(DomainError):
    """A reversal of something that cannot be reversed."""


class PlanError(DomainError):
    """A plan that conflicts with one already adopted, or is inconsistent."""


class KeyConflictError(DomainError):
    """An idempotency key reused for a different command."""
