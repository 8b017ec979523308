"""App: one module per use case (classify, recheck, explain, simulate, diff, compile-sql, review);
never prints."""
