"""Runs: the run folder as a versioned contract — its layout and lock, manifest, change log, reader
and writer."""
