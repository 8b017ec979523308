"""The ruleset in force on a run date, compiled for the sources mapping it reads."""

from __future__ import annotations

from gthfx.rules.engine import CompiledRuleset, compile_ruleset
from gthfx.rules.model import ruleset_in_force
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import SourcesMapping, load_sources


def compile_for(options: RunOptions) -> tuple[SourcesMapping, CompiledRuleset]:
    """The sources mapping and the ruleset in force on the run date, compiled: checked before
    any data is read."""
    sources = load_sources(options.sources)
    ruleset = ruleset_in_force(options.rules, options.run_date)
    compiled = compile_ruleset(ruleset, sources.field_types(), options.run_date)
    reads = set(compiled.reads)
    typing = sources.for_typing(reads, run_date=options.run_date, strict=options.strict)
    return typing, compiled
