"""Validation and the join in SQL: the three extracts, named as tables, → one row per business.

The SQL form of `validate.validate_extract` and `join.join_extracts`, built as sqlglot syntax
trees so that one definition serves DuckDB (the out-of-core engine,
`gthfx.engines.outofcore`), Spark and PostgreSQL (`gthfx compile-sql`). For each extract `e` it
defines, in order:

- `e_in`: the typed rows. Two forms:
  * **loaded** (the DuckDB engine): the table `e` holds gthfx's own typed batches
    (`validate.type_rows`: `_file`, `_row`, `uscc`, the fields, `_raw_code`, `_bad_mask`,
    `_bad_raw`, `_code_status`), so parsing problems and code statuses are gthfx's own;
  * **platform** (`compile-sql`): the table `e` holds `uscc` and the canonical fields already
    typed by the data platform (dates as DATE, money as decimal yuan, counts as integers,
    booleans). The code is trimmed and upper-cased and its status (missing, malformed, not an
    individual business, check character) computed in SQL as `uscc.status` does; nothing is
    unparseable (the platform typed it), so only missing required fields are data problems.
- `e_checked`: why a row is rejected (`_why`, null when it is not): an unusable code, another
  tax year, an orphan (tax, social: a code annual does not hold).
- `e_shared`, `e_variants`, `e_nvar`: codes held by more than one candidate row, their distinct
  value tuples and how many there are — one tuple: exact duplicates, collapsed to the first row;
  several: conflicting duplicates, every row rejected and the business excluded.
- `e_kept` (one row per code, with `_problem_mask`), `e_rejected`, `e_conflicts`.

and then `joined`: annual's kept rows and conflicting codes, left-joined with tax and social —
the columns `rules.to_sql.ruleset_sql` reads (fields, `_pm_*`, `_conflict_*`, `_has_annual`, and
`flags`). `outcomes_sql` puts it all into one query over the tables `annual`, `tax` and
`social`; `tests/test_duck.py` and `tests/test_spark.py` check it against the Polars engine.

To compare the platform form with the Polars engine, give both the same typed rows: build the
tables with `platform_tables` and type the same rows with `pipeline.type_extracts` fed by
`platform_readers` (the Polars engine then sees typed rows with nothing unparseable, as the
platform's SQL does).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
from sqlglot import exp

from gthfx.ingest import uscc
from gthfx.ingest.load import FileInfo, RawExtract
from gthfx.ingest.validate import MISSING_SHIFT, YEAR_FIELDS, flag_reasons
from gthfx.settings.sources import EXTRACTS, SourcesMapping
from gthfx.vocab import CONFLICT, ORPHAN, OTHER_YEAR

Cte = tuple[str, exp.Query]


def _c(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _s(text: str) -> exp.Literal:
    return exp.Literal.string(text)


def _n(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def _null() -> exp.Null:
    return exp.null()


def _is_null(e: exp.Expr) -> exp.Expr:
    return exp.Is(this=e, expression=exp.null())


def _not_null(e: exp.Expr) -> exp.Expr:
    return exp.Not(this=_is_null(e))


def _as(e: exp.Expr, name: str) -> exp.Expr:
    return exp.alias_(e, name, quoted=True)


def _case(*branches: tuple[exp.Expr, exp.Expr], default: exp.Expr | None = None) -> exp.Case:
    return exp.Case(ifs=[exp.If(this=c, true=v) for c, v in branches], default=default)


def _and(*parts: exp.Expr) -> exp.Expr:
    out = parts[0]
    for p in parts[1:]:
        out = exp.And(this=exp.Paren(this=out), expression=exp.Paren(this=p))
    return out


def _in_list(e: exp.Expr, values: list[str]) -> exp.Expr:
    return exp.In(this=e, expressions=[_s(v) for v in values])


def _in_query(e: exp.Expr, query: exp.Select) -> exp.Expr:
    return exp.In(this=e, query=exp.Subquery(this=query.copy()))


def _bigint(e: exp.Expr) -> exp.Expr:
    return exp.cast(e, exp.DataType.Type.BIGINT)


# --- the credit code in SQL (platform form) --------------------------------------------------


def code_status_sql(code: exp.Expr) -> exp.Expr:
    """`uscc.status` in SQL for a normalised code column: the same five statuses."""
    charset = _s(uscc.CHARSET)

    def value(i: int) -> exp.Expr:
        char = exp.Substring(this=code.copy(), start=_n(i + 1), length=_n(1))
        position = exp.StrPosition(this=charset.copy(), substr=char)
        return exp.Paren(this=exp.Sub(this=position, expression=_n(1)))

    total: exp.Expr = _n(0)
    for i, weight in enumerate(uscc.WEIGHTS):
        total = exp.Add(this=total, expression=exp.Mul(this=value(i), expression=_n(weight)))
    check = exp.Mod(
        this=exp.Paren(
            this=exp.Sub(
                this=_n(31), expression=exp.Mod(this=exp.Paren(this=total), expression=_n(31))
            )
        ),
        expression=_n(31),
    )
    expected = exp.Substring(
        this=charset.copy(), start=exp.Paren(this=exp.Add(this=check, expression=_n(1)))
    )
    expected.set("length", _n(1))
    well_formed = exp.RegexpLike(this=code.copy(), expression=_s(f"^[{uscc.CHARSET}]{{18}}$"))
    return _case(
        (_is_null(code.copy()), _s(uscc.MISSING)),
        (exp.Not(this=well_formed), _s(uscc.MALFORMED)),
        (
            exp.NEQ(
                this=exp.Substring(this=code.copy(), start=_n(1), length=_n(2)),
                expression=_s(uscc.INDIVIDUAL_PREFIX),
            ),
            _s(uscc.NOT_INDIVIDUAL),
        ),
        (
            exp.NEQ(
                this=exp.Substring(this=code.copy(), start=_n(18), length=_n(1)),
                expression=expected,
            ),
            _s(uscc.CHECK_MISMATCH),
        ),
        default=_s(uscc.OK),
    )


# trimmed from both ends of a platform's codes: one explicit set, because each SQL engine's own
# TRIM strips a different one (Spark keeps U+3000 and U+00A0, DuckDB keeps tabs)
CODE_BLANKS = " \t\n\r\f\v\u00a0\u3000"


def _platform_code() -> exp.Expr:
    """Blanks trimmed, upper case; empty → null (full-width letters and digits are the platform's
    to clean)."""
    trimmed = exp.Trim(
        this=exp.cast(_c("uscc"), exp.DataType.Type.VARCHAR), expression=_s(CODE_BLANKS)
    )
    return exp.Nullif(this=exp.Upper(this=trimmed), expression=_s(""))


# --- the steps --------------------------------------------------------------------------------


def _input(extract: str, fields: list[str], *, loaded: bool) -> exp.Select:
    if loaded:
        return exp.select(
            _c("_file"),
            _c("_row"),
            _c("uscc"),
            *(_c(f) for f in fields),
            _c("_raw_code"),
            _bigint(_c("_bad_mask")).as_("_bad_mask", quoted=True),
            _c("_bad_raw"),
            exp.cast(_c("_code_status"), exp.DataType.Type.VARCHAR).as_(
                "_code_status", quoted=True
            ),
        ).from_(exp.to_identifier(extract, quoted=True))
    inner = exp.select(
        _as(_platform_code(), "uscc"),
        *(_c(f) for f in fields),
        _as(exp.cast(_c("uscc"), exp.DataType.Type.VARCHAR), "_raw_code"),
    ).from_(exp.to_identifier(extract, quoted=True))
    order = exp.Order(expressions=[exp.Ordered(this=_c("uscc"))])
    return exp.select(
        _as(_n(0), "_file"),
        _as(exp.Window(this=exp.RowNumber(), order=order), "_row"),
        _c("uscc"),
        *(_c(f) for f in fields),
        _c("_raw_code"),
        _as(_bigint(_n(0)), "_bad_mask"),
        _as(_bigint(_n(0)), "_bad_raw"),
        _as(code_status_sql(_c("uscc")), "_code_status"),
    ).from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("_t"))))


def _report_years(extract: str, report_year: int) -> exp.Select:
    """Per code held by several usable annual rows: the report year to keep (the latest not
    after the run's, else the earliest) and how many report years the rows have (a missing
    year counts as one) — `validate._other_report_years` in SQL."""
    year = _c("report_year")
    latest = exp.Max(
        this=_case((exp.LTE(this=year.copy(), expression=_n(report_year)), year.copy()))
    )
    return (
        exp.select(
            _c("uscc"),
            _as(exp.Coalesce(this=latest, expressions=[exp.Min(this=year.copy())]), "_target"),
            _as(
                exp.Count(
                    this=exp.Distinct(
                        expressions=[exp.Coalesce(this=year.copy(), expressions=[_n(-1)])]
                    )
                ),
                "_years",
            ),
        )
        .from_(f"{extract}_in")
        .where(_in_list(_c("_code_status"), [uscc.OK, uscc.CHECK_MISMATCH]))
        .group_by(_c("uscc"))
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=_n(1)))
    )


def _checked(extract: str, fields: list[str], report_year: int) -> exp.Select:
    status = _c("_code_status", "r")
    branches: list[tuple[exp.Expr, exp.Expr]] = [
        (exp.Not(this=_in_list(status, [uscc.OK, uscc.CHECK_MISMATCH])), status.copy())
    ]
    if "tax_year" in fields:
        year = _c("tax_year", "r")
        branches.append(
            (
                _and(_not_null(year), exp.NEQ(this=year.copy(), expression=_n(report_year))),
                _s(OTHER_YEAR),
            )
        )
    query = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("r")))
    if extract != "annual":
        branches.append((_is_null(_c("uscc", "k")), _s(ORPHAN)))
        query = query.from_(exp.alias_(f"{extract}_in", "r")).join(
            exp.alias_("annual_codes", "k"),
            on=exp.EQ(this=_c("uscc", "r"), expression=_c("uscc", "k")),
            join_type="left",
        )
    else:
        query = query.from_(exp.alias_(f"{extract}_in", "r"))
        if "report_year" in fields:
            year = _c("report_year", "r")
            differs = exp.Or(
                this=_is_null(year),
                expression=exp.NEQ(this=year.copy(), expression=_c("_target", "y")),
            )
            branches.append(
                (
                    _and(exp.GT(this=_c("_years", "y"), expression=_n(1)), exp.Paren(this=differs)),
                    _s(OTHER_YEAR),
                )
            )
            query = query.join(
                exp.alias_(f"{extract}_years", "y"),
                on=exp.EQ(this=_c("uscc", "r"), expression=_c("uscc", "y")),
                join_type="left",
            )
    return query.select(_as(_case(*branches), "_why"))


def _values(fields: list[str]) -> list[str]:
    """The columns two rows must agree on to be exact duplicates (as `validate_extract`)."""
    return ["uscc", *fields, "_bad_mask", "_bad_raw", "_code_status"]


def _problem_mask(extract: str, sources: SourcesMapping) -> exp.Expr:
    spec = sources.extracts[extract]
    mask: exp.Expr = _c("_bad_mask")
    for i, name in enumerate(spec.typed_fields()):
        if not spec.fields[name].required:
            continue
        unparsed = exp.Paren(this=exp.BitwiseAnd(this=_c("_bad_mask"), expression=_n(1 << i)))
        bit = _case(
            (
                _and(_is_null(_c(name)), exp.EQ(this=unparsed, expression=_n(0))),
                _bigint(_n(1 << (MISSING_SHIFT + i))),
            ),
            default=_bigint(_n(0)),
        )
        mask = exp.BitwiseOr(this=mask, expression=bit)
    return mask


def _position() -> exp.Expr:
    """(file, row) as one sortable number."""
    return exp.Add(
        this=exp.Mul(this=_bigint(_c("_file")), expression=_n(1 << 32)),
        expression=_bigint(_c("_row")),
    )


def extract_ctes(
    extract: str, sources: SourcesMapping, report_year: int, *, loaded: bool
) -> list[Cte]:
    """The validation steps of one extract (see the module docstring), as named queries."""
    fields = sources.extracts[extract].typed_fields()
    checked = f"{extract}_checked"
    candidate = _is_null(_c("_why"))
    shared = (
        exp.select(_c("uscc"))
        .from_(checked)
        .where(candidate)
        .group_by(_c("uscc"))
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=_n(1)))
    )
    in_shared = _in_query(_c("uscc"), exp.select(_c("uscc")).from_(f"{extract}_shared"))
    values = _values(fields)
    variants = (
        exp.select(*(_c(v) for v in values), _as(exp.Min(this=_position()), "_pos"))
        .from_(checked)
        .where(_and(candidate.copy(), in_shared.copy()))
        .group_by(*(_c(v) for v in values))
    )
    nvar = (
        exp.select(_c("uscc"), _as(exp.Count(this=exp.Star()), "_n"))
        .from_(f"{extract}_variants")
        .group_by(_c("uscc"))
    )
    single_codes = (
        exp.select(_c("uscc"))
        .from_(f"{extract}_nvar")
        .where(exp.EQ(this=_c("_n"), expression=_n(1)))
    )
    conflict_codes = (
        exp.select(_c("uscc"))
        .from_(f"{extract}_nvar")
        .where(exp.GT(this=_c("_n"), expression=_n(1)))
    )
    kept_columns = ["_file", "_row", *values]
    alone = (
        exp.select(*(_c(c) for c in kept_columns))
        .from_(checked)
        .where(_and(candidate.copy(), exp.Not(this=in_shared.copy())))
    )
    collapsed = (
        exp.select(
            _as(exp.IntDiv(this=_c("_pos"), expression=_n(1 << 32)), "_file"),
            _as(exp.Mod(this=_c("_pos"), expression=_n(1 << 32)), "_row"),
            *(_c(v) for v in values),
        )
        .from_(f"{extract}_variants")
        .where(_in_query(_c("uscc"), single_codes))
    )
    kept_rows = exp.union(alone, collapsed, distinct=False)
    kept = exp.select(
        *(_c(c) for c in kept_columns if c not in ("_bad_mask", "_bad_raw")),
        _as(_problem_mask(extract, sources), "_problem_mask"),
    ).from_(exp.Subquery(this=kept_rows, alias=exp.TableAlias(this=exp.to_identifier("_k"))))
    in_conflict = _and(candidate.copy(), _in_query(_c("uscc"), conflict_codes))
    reason = _case((in_conflict, _s(CONFLICT)), default=_c("_why"))
    other_year = exp.EQ(this=_c("_reason"), expression=_s(OTHER_YEAR))
    raw_code = exp.Coalesce(this=_c("_raw_code"), expressions=[_c("uscc")])
    year_field = YEAR_FIELDS.get(extract)
    has_year = year_field is not None and year_field in fields
    raw = (
        _case((other_year, exp.cast(_c(year_field), exp.DataType.Type.VARCHAR)), default=raw_code)
        if has_year and year_field is not None
        else raw_code
    )
    keep_for_region = [c for c in ("region_code", "industry_code") if c in fields]
    rejected = exp.select(
        _c("_file"),
        _c("_row"),
        _c("uscc"),
        _as(_case((other_year.copy(), _s(year_field or "tax_year")), default=_s("uscc")), "field"),
        _as(raw, "raw_value"),
        _as(_c("_reason"), "reason"),
        _as(_c("_code_status"), "_code_status"),
        *(_c(c) for c in keep_for_region),
    ).from_(
        exp.Subquery(
            this=exp.select(exp.Star(), _as(reason, "_reason"))
            .from_(checked)
            .where(exp.Or(this=_not_null(_c("_why")), expression=in_conflict.copy())),
            alias=exp.TableAlias(this=exp.to_identifier("_r")),
        )
    )
    first = exp.Window(
        this=exp.RowNumber(),
        partition_by=[_c("uscc")],
        order=exp.Order(expressions=[exp.Ordered(this=_c("_file")), exp.Ordered(this=_c("_row"))]),
    )
    conflicts = (
        exp.select(_c("uscc"), _c("_code_status"), *(_c(c) for c in keep_for_region))
        .from_(
            exp.Subquery(
                this=exp.select(exp.Star(), _as(first, "_first"))
                .from_(f"{extract}_rejected")
                .where(exp.EQ(this=_c("reason"), expression=_s(CONFLICT))),
                alias=exp.TableAlias(this=exp.to_identifier("_c")),
            )
        )
        .where(exp.EQ(this=_c("_first"), expression=_n(1)))
    )
    ctes: list[Cte] = [(f"{extract}_in", _input(extract, fields, loaded=loaded))]
    if extract == "annual" and "report_year" in fields:
        ctes.append((f"{extract}_years", _report_years(extract, report_year)))
    ctes.append((checked, _checked(extract, fields, report_year)))
    if extract == "annual":
        codes = exp.select(_c("uscc")).from_(checked).where(candidate.copy()).distinct()
        ctes.append(("annual_codes", codes))
    ctes += [
        (f"{extract}_shared", shared),
        (f"{extract}_variants", variants),
        (f"{extract}_nvar", nvar),
        (f"{extract}_kept", kept),
        (f"{extract}_rejected", rejected),
        (f"{extract}_conflicts", conflicts),
    ]
    return ctes


def joined_query(sources: SourcesMapping, *, loaded: bool = False) -> exp.Select:
    """`join.join_extracts` in SQL, over the `*_kept` and `*_conflicts` steps. `flags` holds the
    fields no rule reads that did not parse only for `loaded` tables (DuckDB): a platform's
    typed tables have none."""
    annual = sources.extracts["annual"].typed_fields()
    kept = exp.select(
        _c("uscc"),
        *(_c(f) for f in annual),
        _as(_c("_problem_mask"), "_pm_annual"),
        _as(exp.true(), "_has_annual"),
        _as(exp.false(), "_conflict_annual"),
        _c("_code_status"),
    ).from_("annual_kept")
    conflicted = exp.select(
        _c("uscc"),
        *(_c(f) if f in ("region_code", "industry_code") else _as(_null(), f) for f in annual),
        _as(_bigint(_n(0)), "_pm_annual"),
        _as(exp.false(), "_has_annual"),
        _as(exp.true(), "_conflict_annual"),
        _c("_code_status"),
    ).from_("annual_conflicts")
    base = exp.Subquery(
        this=exp.union(kept, conflicted, distinct=False),
        alias=exp.TableAlias(this=exp.to_identifier("a")),
    )
    columns: list[exp.Expr] = [_c("uscc", "a"), *(_c(f, "a") for f in annual)]
    columns += [_c(n, "a") for n in ("_pm_annual", "_has_annual", "_conflict_annual")]
    query = exp.select().from_(base)
    for extract in EXTRACTS[1:]:
        alias, conflict_alias = extract[0], f"{extract[0]}c"
        columns += [_c(f, alias) for f in sources.extracts[extract].typed_fields()]
        columns.append(
            _as(
                exp.Coalesce(this=_c("_problem_mask", alias), expressions=[_bigint(_n(0))]),
                f"_pm_{extract}",
            )
        )
        columns.append(_as(_not_null(_c("uscc", conflict_alias)), f"_conflict_{extract}"))
        query = query.join(
            exp.alias_(f"{extract}_kept", alias),
            on=exp.EQ(this=_c("uscc", "a"), expression=_c("uscc", alias)),
            join_type="left",
        ).join(
            exp.alias_(f"{extract}_conflicts", conflict_alias),
            on=exp.EQ(this=_c("uscc", "a"), expression=_c("uscc", conflict_alias)),
            join_type="left",
        )
    mismatch = exp.EQ(this=_c("_code_status", "a"), expression=_s(uscc.CHECK_MISMATCH))
    flags: exp.Expr = _case(
        (mismatch, exp.Array(expressions=[_s(uscc.CHECK_MISMATCH)])),
        default=exp.cast(exp.Array(expressions=[]), exp.DataType.build("ARRAY<VARCHAR>")),
    )
    bits = [(e, bit, flag) for e in EXTRACTS for bit, flag in flag_reasons(e, sources.extracts[e])]
    if loaded and bits:
        masks = {"annual": _c("_pm_annual", "a")}
        masks |= {e: _c("_problem_mask", e[0]) for e in EXTRACTS[1:]}
        words = [_case((mismatch.copy(), _s(uscc.CHECK_MISMATCH)))]
        words += [
            _case(
                (
                    exp.NEQ(
                        this=exp.Paren(
                            this=exp.BitwiseAnd(
                                this=exp.Coalesce(this=masks[e].copy(), expressions=[_n(0)]),
                                expression=_n(bit),
                            )
                        ),
                        expression=_n(0),
                    ),
                    _s(flag),
                )
            )
            for e, bit, flag in bits
        ]
        flags = exp.maybe_parse("list_filter(_w, _x -> _x IS NOT NULL)", dialect="duckdb")
        flags.set("this", exp.Array(expressions=words))
    columns.append(_as(flags, "flags"))
    return query.select(*columns)


def prepare_ctes(sources: SourcesMapping, report_year: int, *, loaded: bool) -> list[Cte]:
    """Every validation step of every extract, then `joined`."""
    ctes: list[Cte] = []
    for extract in EXTRACTS:
        ctes += extract_ctes(extract, sources, report_year, loaded=loaded)
    ctes.append(("joined", joined_query(sources, loaded=loaded)))
    return ctes


def with_ctes(query: exp.Select, ctes: list[Cte]) -> exp.Select:
    for name, cte in ctes:
        query = query.with_(name, as_=cte)
    return query


# --- building the platform's tables from extract files (tests, examples) -----------------------


def platform_tables(raw: dict[str, RawExtract], sources: SourcesMapping) -> dict[str, pl.DataFrame]:
    """The tables a data platform would hold, from gthfx's typed rows (`RawExtract` with
    `typed`): `uscc` as sent and the typed fields; rows whose code or values did not parse keep
    them missing (the platform typed them)."""
    out = {}
    for extract, extract_raw in raw.items():
        fields = sources.extracts[extract].typed_fields()
        frame = extract_raw.frame
        out[extract] = frame.select(
            pl.coalesce("_raw_code", "uscc").alias("uscc"), *(pl.col(f) for f in fields)
        )
    return out


def platform_readers(
    tables: dict[str, pl.DataFrame], sources: SourcesMapping
) -> dict[str, Callable[[], RawExtract]]:
    """Readers for `pipeline.type_extracts` that give the Polars engine the platform's tables
    as typed rows — the rows the platform SQL reads, in the same order (by code) — so that both
    engines can be compared."""

    def reader(extract: str) -> Callable[[], RawExtract]:
        def read() -> RawExtract:
            fields = sources.extracts[extract].typed_fields()
            code = pl.col("uscc").cast(pl.String).str.strip_chars(CODE_BLANKS).str.to_uppercase()
            table = (
                tables[extract]
                .with_columns(
                    pl.when(code.str.len_chars() > 0).then(code).alias("_code"),
                    pl.col("uscc").cast(pl.String).alias("_raw_code"),
                )
                .sort("_code", maintain_order=True, nulls_last=True)
            )
            typed = table.select(
                pl.lit(0, pl.UInt16).alias("_file"),
                (pl.int_range(pl.len(), dtype=pl.UInt32) + 1).alias("_row"),
                pl.col("_code").alias("uscc"),
                *(pl.col(f) for f in fields),
                "_raw_code",
                pl.lit(0, pl.UInt64).alias("_bad_mask"),
                pl.lit(0, pl.UInt64).alias("_bad_raw"),
                uscc.status(pl.col("_code")).alias("_code_status"),
            )
            info = FileInfo(
                extract=extract,
                path=f"table {extract}",
                sha256="",
                format="table",
                encoding=None,
                rows=typed.height,
                columns={f: f for f in fields},
                ignored_columns=(),
            )
            return RawExtract(name=extract, frame=typed, files=[info], typed=True)

        return read

    return {e: reader(e) for e in EXTRACTS}


def sql_name(name: str) -> str:
    """A quoted SQL identifier (for the SQL text DuckDB runs directly)."""
    return '"' + name.replace('"', '""') + '"'


def sql_path(path: Path) -> str:
    """A file path as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"
