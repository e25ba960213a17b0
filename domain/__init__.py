"""The pure model of pulje: money, ids, events, aggregates and their rules.

Imports only the standard library, pydantic and `eventsourcing.domain`.
"""
