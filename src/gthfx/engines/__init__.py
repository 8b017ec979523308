"""The registry of engines: the only list of them. `classify` picks one by name and never names
one itself; a new engine is one module and one line here.

Modules are imported when an engine is asked for, so that a run on one engine never imports
the other's libraries."""

from __future__ import annotations

from importlib import import_module

from gthfx.engines.base import Engine
from gthfx.errors import ConfigError

# name → "module:class" of an `engines.base.Engine`
_REGISTRY: dict[str, str] = {
    "polars": "gthfx.engines.memory:MemoryEngine",
    "duckdb": "gthfx.engines.outofcore:OutOfCoreEngine",
}
DEFAULT = "polars"


def names() -> tuple[str, ...]:
    """Every engine's name, the default first."""
    return (DEFAULT, *sorted(n for n in _REGISTRY if n != DEFAULT))


def get(name: str) -> Engine:
    """The engine registered as `name`."""
    try:
        module, _, attr = _REGISTRY[name].partition(":")
    except KeyError:
        raise ConfigError(f"unknown engine {name!r}", hint=f"one of {', '.join(names())}") from None
    engine: Engine = getattr(import_module(module), attr)()
    return engine


def capable(capability: str) -> list[Engine]:
    """Every engine that declares `capability` (e.g. `memory_capped`), in `names()` order."""
    return [e for e in (get(n) for n in names()) if getattr(e, capability)]
