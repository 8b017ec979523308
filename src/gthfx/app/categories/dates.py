"""The calendar of 名特优新: validity periods and the exclusion window, one convention everywhere.

- `years_before(d, n)`: the same day n years earlier — 28 February for 29 February (the window
  [S − n years, S] then holds every day of the last n years);
- `anniversary(d, n)`: the day n years after d on which n complete years have passed — 1 March
  for 29 February in a common year, as `complete_years` of the rule grammar counts;
- a period certified on F runs `valid_from` = F … `valid_to` = anniversary(F, 3) − 1 day, and its
  last year starts on `evaluation_from` = anniversary(F, 2); a renewal starts the day after
  `valid_to`.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def anniversary(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year: the years are complete on 1 March
        return date(day.year + years, 3, 1)


def period(valid_from: date, years: int) -> tuple[date, date, date]:
    """(valid_from, valid_to, evaluation_from) of a period of `years` years."""
    return (
        valid_from,
        anniversary(valid_from, years) - timedelta(days=1),
        anniversary(valid_from, years - 1),
    )


def anniversary_expr(day: pl.Expr, years: int) -> pl.Expr:
    """`anniversary` over a date column."""
    shifted = day.dt.offset_by(f"{years}y")  # 29 February → 28 February in a common year
    leap_day = (day.dt.month() == 2) & (day.dt.day() == 29) & (shifted.dt.day() == 28)
    return pl.when(leap_day).then(shifted + pl.duration(days=1)).otherwise(shifted)


def period_exprs(valid_from: pl.Expr, years: int) -> list[pl.Expr]:
    """`valid_from`, `valid_to`, `evaluation_from` columns of periods starting on `valid_from`."""
    return [
        valid_from.alias("valid_from"),
        (anniversary_expr(valid_from, years) - pl.duration(days=1)).alias("valid_to"),
        anniversary_expr(valid_from, years - 1).alias("evaluation_from"),
    ]
