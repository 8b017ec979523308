"""Rules: the ruleset as strict data, its expression grammar, compilation to Polars and SQL, lint
and rule cases."""
