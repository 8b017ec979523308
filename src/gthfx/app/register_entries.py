"""The 名特优新 register as the support and export commands read it: the entries in force on a date.

They come from `gthfx.app.categories.register.entries_in_force` (the register the categories
commands keep), checked and cut down to `uscc, category, valid_from, valid_to, evaluation_from`,
sorted.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from gthfx.app.categories import register
from gthfx.errors import ConfigError, InputError
from gthfx.vocab import CATEGORIES

ENTRY_SCHEMA: dict[str, pl.DataType] = {
    "uscc": pl.String(),
    "category": pl.String(),
    "valid_from": pl.Date(),
    "valid_to": pl.Date(),
    "evaluation_from": pl.Date(),
}


def entries_in_force(register_dir: Path, on: date) -> pl.DataFrame:
    """The register's entries in force on `on`: one row per business and category, sorted by
    `uscc` then category (known, distinctive, quality, emerging)."""
    if not register_dir.is_dir():
        raise ConfigError(
            f"--register {register_dir}: no such folder",
            hint="name the 名特优新 register folder that gthfx categories keeps",
        )
    frame = register.entries_in_force(register_dir, on)
    missing = [c for c in ENTRY_SCHEMA if c not in frame.columns]
    if missing:  # a bug of the register's API, not the user's
        raise AssertionError(f"entries_in_force lacks {missing}")
    entries = frame.select(pl.col(c).cast(t) for c, t in ENTRY_SCHEMA.items())
    unknown = entries.filter(~pl.col("category").is_in(CATEGORIES))
    if unknown.height:
        raise InputError(
            f"{register_dir}: unknown category {unknown.item(0, 'category')!r} in the register",
            hint=f"categories are {', '.join(CATEGORIES)}",
        )
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return (
        entries.with_columns(pl.col("category").replace_strict(order).alias("_order"))
        .sort("uscc", "_order")
        .drop("_order")
    )
