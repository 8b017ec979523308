"""Tools: helpers that are not part of a run (the synthetic sample generator)."""
