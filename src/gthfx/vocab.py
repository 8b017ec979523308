"""The shared vocabulary of gthfx: tiers, outcomes, and the column contracts of the files a run
writes (outcomes, rejects, changes). Every layer above `settings` may use these words; none of
them lives in the module that happened to need it first. No logic here, only names."""

from __future__ import annotations

from typing import Literal

import polars as pl

TierId = Literal["survival", "growth", "development"]
TIERS: tuple[str, ...] = ("survival", "growth", "development")  # ascending: up / down follow it
EXCLUDED = "excluded"
OUTCOME_ORDER = (*TIERS, EXCLUDED)
TIER_LABELS = {
    "survival": "生存型",
    "growth": "成长型",
    "development": "发展型",
    EXCLUDED: "不参与分型",
}

# 名特优新 categories (SPEC §10), in their ranking order
CATEGORIES: tuple[str, ...] = ("known", "distinctive", "quality", "emerging")
CATEGORY_LABELS = {"known": "知名", "distinctive": "特色", "quality": "优质", "emerging": "新兴"}

# the outcome files of a run folder, one per outcome (tiers, then excluded)
OUTCOME_FILES = {
    "survival": "survival.parquet",
    "growth": "growth.parquet",
    "development": "development.parquet",
    EXCLUDED: "excluded.parquet",
}

# the fixed first columns of every outcome row; the indicators the rules read follow, then
# `decided` (a tier set by hand in a recheck)
BASE_COLUMNS = (
    "uscc",
    "tier",
    "tier_label",
    "rule_id",
    "reasons",
    "flags",
    "region_code",
    "industry_code",
)

# reject reasons beyond the code statuses of `ingest.uscc`
OTHER_YEAR = "other_year"
ORPHAN = "orphan"
CONFLICT = "conflicting_duplicate"

REJECT_SCHEMA = {
    "extract": pl.String,
    "file": pl.String,
    "row": pl.UInt32,
    "uscc": pl.String,
    "field": pl.String,
    "raw_value": pl.String,
    "reason": pl.String,
}

CHANGE_SCHEMA = {
    "uscc": pl.String,
    "region_code": pl.String,
    "tier_before": pl.String,
    "tier_after": pl.String,
    "change": pl.String,
    "rule_before": pl.String,
    "rule_after": pl.String,
    "cause": pl.String,
}
CHANGE_LABELS = {
    "new": "新增",
    "gone": "消失",
    "up": "升型",
    "down": "降型",
    "in": "纳入分型",
    "out": "退出分型",
}
