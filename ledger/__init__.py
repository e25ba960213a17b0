"""The application: commands on the eventsourcing Application, storage, the
integrity chain, the read models' upkeep, and plan files."""
