"""Ingest: reading extract files, parsing messy values, the credit code, validation with rejects
and accounting, and the join."""
