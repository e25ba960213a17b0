"""A grant's status, from its figures: one rule for the domain and every view."""

GRANT_STATUSES = ("awarded", "partly_disbursed", "disbursed", "withdrawn", "closed", "reversed")


def grant_status(awarded: int, disbursed: int, withdrawn: int, reversed: bool, pool_closed: bool) -> str:
    """`reversed` (the award was undone), `withdrawn`, `closed` (the pool
    closed with part of the grant unpaid), `awarded` (nothing paid yet),
    `partly_disbursed` or `disbursed`."""
    if reversed:
        return "reversed"
    if withdrawn:
        return "withdrawn"
    if pool_closed and awarded - disbursed > 0:
        return "closed"
    if disbursed == 0:
        return "awarded"
    if disbursed < awarded:
        return "partly_disbursed"
    return "disbursed"
