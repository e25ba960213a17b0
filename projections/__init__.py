"""Read models derived from events: balances, the audit trail, replays,
reports and exports. Folds and renderers only; the ledger does the I/O."""
