"""Settings: the project config, the sources mapping and strict YAML — the lowest layer above
errors; no data."""
