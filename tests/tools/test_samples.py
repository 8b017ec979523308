"""Tests of the synthetic-extract generator (`gthfx samples`).

The pipeline is not used here: `_load` and `_outcomes` below are a small, independent, vectorised
re-implementation of SPEC §3–§6 (read, normalise, parse, reject, collapse, the reference ruleset),
enough to check that the generated files are readable, messy in the documented ways, carry every
deliberate data problem and give outcome shares near the published ones.
"""

from __future__ import annotations

import hashlib
import io
from datetime import date, datetime
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from stdnum.cn import uscc as stdnum_uscc

from gthfx.tools.samples import EXTRA_HEADERS, SamplesResult, generate_samples
from support import ROOT

SOURCES = ROOT / "src" / "gthfx" / "defaults" / "sources.yaml"
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [pow(3, i, 31) for i in range(17)]
RUN = date(2024, 7, 1)


@cache
def _mapping() -> dict[str, dict[str, dict[str, object]]]:
    data = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))
    return {e: spec["fields"] for e, spec in data["extracts"].items()}


def _header_to_field(extract: str) -> dict[str, str]:
    return {h: f for f, spec in _mapping()[extract].items() for h in spec["headers"]}  # type: ignore[attr-defined]


def _field_type(extract: str, field: str) -> str:
    return str(_mapping()[extract][field]["type"])


# ---------------------------------------------------------------------------------------------
# a tiny independent reader + ruleset (SPEC §3–§6)
# ---------------------------------------------------------------------------------------------


def _read_file(path: Path) -> pl.DataFrame:
    if path.suffix == ".xlsx":
        return pl.read_excel(path, engine="calamine", infer_schema_length=0)
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        text = raw[3:].decode("utf-8")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")
    return pl.read_csv(io.BytesIO(text.encode("utf-8")), infer_schema=False)


def _load(files: list[Path], extract: str) -> pl.DataFrame:
    """Canonical raw string columns + ``_file`` and ``_row``; unknown columns dropped."""
    to_field = _header_to_field(extract)
    frames = []
    for path in files:
        df = _read_file(path)
        keep = {h: to_field[h] for h in df.columns if h in to_field}
        df = df.select(list(keep)).rename(keep)
        frames.append(df.with_columns(_file=pl.lit(path.name), _row=pl.int_range(pl.len()) + 2))
    return pl.concat(frames, how="diagonal")


def _norm(col: str) -> pl.Expr:
    return pl.col(col).str.normalize("NFKC").str.strip_chars()


def _code_expr(col: str = "uscc") -> pl.Expr:
    return _norm(col).str.to_uppercase()


def _check_char(code: pl.Expr) -> pl.Expr:
    total = pl.lit(0, dtype=pl.Int64)
    for i, w in enumerate(WEIGHTS):
        ch = code.str.slice(i, 1)
        total = total + ch.replace_strict(list(CHARSET), list(range(31)), default=0) * w
    value = (31 - total % 31) % 31
    return value.replace_strict(list(range(31)), list(CHARSET))


def _code_columns(df: pl.DataFrame) -> pl.DataFrame:
    code = pl.col("code")
    return (
        df.with_columns(code=_code_expr())
        .with_columns(
            well_formed=code.str.contains(f"^[{CHARSET}]{{18}}$").fill_null(False),
        )
        .with_columns(
            is92=pl.col("well_formed") & code.str.starts_with("92"),
            check_ok=pl.col("well_formed") & (code.str.slice(17, 1) == _check_char(code)),
        )
    )


def _parse(df: pl.DataFrame, extract: str) -> pl.DataFrame:
    """Typed columns ``<field>`` and a per-row ``bad`` flag (a non-empty unparseable value)."""
    bad = pl.lit(False)
    exprs = []
    for field in df.columns:
        if field.startswith("_") or field in ("uscc", "code", "well_formed", "is92", "check_ok"):
            continue
        kind = _field_type(extract, field)
        raw = _norm(field)
        raw = pl.when(raw == "").then(None).otherwise(raw)
        if kind == "int":
            val = raw.cast(pl.Int64, strict=False)
        elif kind == "decimal":
            val = raw.str.replace_all(",", "").cast(pl.Float64, strict=False)
        elif kind == "date":
            val = pl.coalesce(
                raw.str.strptime(pl.Date, f, strict=False)
                for f in ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d", "%Y-%m-%d %H:%M:%S")
            )
        elif kind == "bool":
            up = raw.str.to_uppercase()
            val = (
                pl.when(up.is_in(["是", "Y", "1", "TRUE"]))
                .then(True)
                .when(up.is_in(["否", "N", "0", "FALSE"]))
                .then(False)
            )
        else:
            val = raw
        bad = bad | (raw.is_not_null() & val.is_null())
        exprs.append(val.alias(field))
    return df.with_columns(*exprs, bad=bad)


def _prepare(files: list[Path], extract: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(usable rows keyed by code, rejected rows); exact duplicates collapsed."""
    df = _code_columns(_load(files, extract))
    rejected = df.filter(~pl.col("is92"))
    parsed = _parse(df.filter(pl.col("is92")), extract)
    fields = [c for c in parsed.columns if not c.startswith("_") and c != "uscc"]
    distinct = parsed.select(fields).unique(maintain_order=True)
    conflicts = distinct.group_by("code").len().filter(pl.col("len") > 1).select("code")
    rows = distinct.with_columns(conflict=pl.col("code").is_in(conflicts["code"].implode()))
    return rows, rejected


_OUTCOMES: dict[tuple[int, int, date], pl.DataFrame] = {}


def _outcomes(result: SamplesResult, year: int, run: date) -> pl.DataFrame:
    """One row per business of ``year``: code, tier (survival / growth / development / excluded)."""
    key = (id(result), year, run)
    if key not in _OUTCOMES:
        _OUTCOMES[key] = _compute_outcomes(result, year, run)
    return _OUTCOMES[key]


def _compute_outcomes(result: SamplesResult, year: int, run: date) -> pl.DataFrame:
    annual, _ = _prepare(result.files[f"{year}/annual"], "annual")
    tax, _ = _prepare(result.files[f"{year}/tax"], "tax")
    social, _ = _prepare(result.files[f"{year}/social"], "social")
    codes = annual.select("code").unique()
    tax = tax.filter(pl.col("code").is_in(codes["code"].implode()))
    social = social.filter(pl.col("code").is_in(codes["code"].implode()))
    problem = (
        pl.concat(
            [
                t.group_by("code").agg(p=(pl.col("bad") | pl.col("conflict")).any())
                for t in (annual, tax, social)
            ]
        )
        .group_by("code")
        .agg(pl.col("p").any())
    )
    a = (
        annual.unique("code", keep="first", maintain_order=True)
        .join(problem, on="code", how="left")
        .join(
            tax.unique("code", keep="first").select("code", "sales", "tax_paid", "taxpayer_type"),
            on="code",
            how="left",
        )
        .join(
            social.unique("code", keep="first").select("code", "insured_count"),
            on="code",
            how="left",
        )
    )
    y = run.year - 1
    years = (
        pl.lit(run.year)
        - pl.col("established_on").dt.year()
        - (
            (pl.col("established_on").dt.month() > run.month)
            | (
                (pl.col("established_on").dt.month() == run.month)
                & (pl.col("established_on").dt.day() > run.day)
            )
        ).cast(pl.Int64)
    )
    sales = pl.coalesce(pl.col("sales"), pl.col("revenue") * 10_000)
    taxed = pl.coalesce(pl.col("tax_paid"), pl.col("tax_total") * 10_000)
    insured = pl.col("insured_count")
    status = pl.col("register_status")
    basic = (
        status.is_in(["存续", "在营", "开业", "歇业"]).fill_null(False)
        & (status != "歇业").fill_null(False)
        & (pl.col("report_status").is_null() | (pl.col("report_status") == "开业"))
        & (
            (
                (pl.col("report_year") >= y)
                & (pl.col("reported_on").is_null() | (pl.col("reported_on") <= run))
            )
            | (pl.col("established_on").dt.year() == run.year)
        ).fill_null(False)
        & ~pl.col("abnormal").fill_null(False)
        & ~pl.col("serious_dishonest").fill_null(False)
    )
    data_ok = (
        ~pl.col("p").fill_null(False)
        & pl.col("established_on").is_not_null()
        & status.is_not_null()
    )
    development = (
        (years >= 3)
        & (sales >= 1_000_000)
        & ((taxed >= 30_000) | (insured >= 5) | (pl.col("taxpayer_type") == "一般纳税人"))
    ).fill_null(False)
    growth = ((years >= 1) & ((taxed > 0) | (insured >= 1) | (pl.col("employees") >= 3))).fill_null(
        False
    )
    tier = (
        pl.when(~data_ok | ~basic)
        .then(pl.lit("excluded"))
        .when(development)
        .then(pl.lit("development"))
        .when(growth)
        .then(pl.lit("growth"))
        .otherwise(pl.lit("survival"))
    )
    return a.select("code", "established_on", tier=tier)


def _shares(outcomes: pl.DataFrame) -> dict[str, float]:
    n = outcomes.height
    counts = dict(outcomes.group_by("tier").len().iter_rows())
    typed = n - counts.get("excluded", 0)
    shares = {t: counts.get(t, 0) / typed for t in ("survival", "growth", "development")}
    shares["excluded_of_all"] = counts.get("excluded", 0) / n
    return shares


# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> SamplesResult:
    return generate_samples(2000, tmp_path_factory.mktemp("mixed"), years=2)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> SamplesResult:
    return generate_samples(60_000, tmp_path_factory.mktemp("big"), years=2, fmt="parquet")


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------


def test_deterministic(tmp_path: Path) -> None:
    a = generate_samples(400, tmp_path / "a", years=2, seed=7)
    b = generate_samples(400, tmp_path / "b", years=2, seed=7)
    generate_samples(400, tmp_path / "c", years=2, seed=8)
    assert a.rows == b.rows
    da, db, dc = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert da == db
    assert set(da) == set(dc)
    assert all(da[k] != dc[k] for k in da)


def test_rerun_into_same_folder_is_identical(tmp_path: Path) -> None:
    generate_samples(300, tmp_path, fmt="csv")
    first = _digest(tmp_path)
    generate_samples(300, tmp_path, fmt="mixed")  # other layout, then back
    generate_samples(300, tmp_path, fmt="csv")
    assert _digest(tmp_path) == first


def test_layout_mixed(mixed: SamplesResult) -> None:
    assert sorted(mixed.files) == [
        "2022/annual",
        "2022/social",
        "2022/tax",
        "2023/annual",
        "2023/social",
        "2023/tax",
    ]
    for year in (2022, 2023):
        annual = mixed.files[f"{year}/annual"]
        assert [p.name for p in annual] == ["annual_武昌区等.csv", "annual_江岸区等.csv"]
        assert all(p.parent.name == "annual" and p.parent.parent.name == str(year) for p in annual)
        bom, gb = annual[1].read_bytes(), annual[0].read_bytes()
        assert bom.startswith(b"\xef\xbb\xbf")
        bom[3:].decode("utf-8")
        assert not gb.startswith(b"\xef\xbb\xbf")
        with pytest.raises(UnicodeDecodeError):
            gb.decode("utf-8")
        gb.decode("gb18030")
        social = mixed.files[f"{year}/social"]
        assert [p.name for p in social] == ["social.csv"]
        raw = social[0].read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        raw.decode("utf-8")
        tax = mixed.files[f"{year}/tax"]
        assert [p.name for p in tax] == ["tax.xlsx"]
        df = pl.read_excel(tax[0], engine="calamine")
        assert df.height == mixed.rows[f"{year}/tax"]
    # the row counts add up
    for key, files in mixed.files.items():
        extract = key.split("/")[1]
        assert _load(files, extract).height == mixed.rows[key]


def test_xlsx_has_native_numbers_and_dates(mixed: SamplesResult) -> None:
    import openpyxl

    path = mixed.files["2023/tax"][0]
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.properties.created == datetime(2024, 7, 1)
    rows = list(wb.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    header, body = rows[0], rows[1:]
    kinds: dict[str, set[str]] = {h: set() for h in header}  # type: ignore[misc]
    for row in body:
        for h, v in zip(header, row, strict=True):
            kinds[h].add(type(v).__name__)  # type: ignore[index]
    sales = next(h for h in header if h in ("销售额", "申报销售额"))
    assert {"float", "str"} <= kinds[sales]  # real numbers, and text such as '1,234.5'
    assert "int" in kinds["所属年度"]
    assert {"datetime", "str"} <= kinds["税务登记日期"]
    assert kinds[header[0]] == {"str"}


def test_latest_year_has_rows_businesses(mixed: SamplesResult) -> None:
    annual = _code_columns(_load(mixed.files["2023/annual"], "annual"))
    assert annual["code"].n_unique() == pytest.approx(2000, abs=2)  # + enterprise codes - dups
    assert annual.height == mixed.rows["2023/annual"] > 2000


def test_headers_are_accepted(mixed: SamplesResult, tmp_path: Path) -> None:
    used: dict[str, set[str]] = {"annual": set(), "tax": set(), "social": set()}
    for key, files in mixed.files.items():
        extract = key.split("/")[1]
        accepted = set(_header_to_field(extract))
        for path in files:
            headers = _read_file(path).columns
            extras = [h for h in headers if h not in accepted]
            assert extras and set(extras) <= set(EXTRA_HEADERS[extract]), (path, extras)
            fields = [_header_to_field(extract)[h] for h in headers if h in accepted]
            assert len(fields) == len(set(fields))
            required = [f for f, s in _mapping()[extract].items() if s.get("required")]
            assert set(required) <= set(fields)
            used[extract] |= set(headers)
    # the years use different aliases
    heads = {k: tuple(_read_file(v[0]).columns) for k, v in mixed.files.items()}
    for extract in ("annual", "tax", "social"):
        assert heads[f"2022/{extract}"] != heads[f"2023/{extract}"]
    assert {"统一社会信用代码", "社会信用代码", "营业额", "营业额或营业收入"} <= used["annual"]


def test_codes_and_check_characters(mixed: SamplesResult) -> None:
    frames = {
        key: _code_columns(_load(files, key.split("/")[1])) for key, files in mixed.files.items()
    }
    for key, df in frames.items():
        wf = df.filter(pl.col("well_formed"))
        # our vectorised check agrees with python-stdnum on every well-formed code
        for code, ok in wf.select("code", "check_ok").iter_rows():
            assert stdnum_uscc.is_valid(code) == ok, (key, code)
        assert wf["check_ok"].mean() > 0.95  # type: ignore[operator]
        assert df.filter(~pl.col("well_formed")).height > 0
        assert df.filter(pl.col("well_formed") & ~pl.col("is92")).height > 0
        assert df.filter(pl.col("well_formed") & ~pl.col("is92") & ~pl.col("check_ok")).height == 0
    for year in (2022, 2023):
        annual = frames[f"{year}/annual"]
        mismatch = set(annual.filter(pl.col("is92") & ~pl.col("check_ok"))["code"])
        assert 1 <= len(mismatch) <= 20
        for extract in ("tax", "social"):
            other = frames[f"{year}/{extract}"]
            # a code failing the check is the business's real code: the same in every extract
            assert set(other.filter(pl.col("is92") & ~pl.col("check_ok"))["code"]) <= mismatch
    # unique codes: one business, one code (rows of one code are duplicates of one business)
    annual = frames["2023/annual"].filter(pl.col("is92"))
    per_code = annual.group_by("code").agg(pl.col("_row").len())
    assert per_code["_row"].max() <= 2  # type: ignore[operator]


def test_messiness(mixed: SamplesResult) -> None:
    annual = _load(mixed.files["2023/annual"], "annual")
    tax = _load(mixed.files["2023/tax"], "tax")
    social = _load(mixed.files["2023/social"], "social")
    codes = pl.concat([annual["uscc"], tax["uscc"], social["uscc"]]).drop_nulls()
    assert codes.str.contains("[０-９Ａ-Ｚ]").any()  # full-width
    assert codes.str.contains(r"^\s|\s$").any()  # spaces
    assert codes.str.contains("[a-z]").any()  # lower case
    dates = pl.concat([annual["established_on"], annual["reported_on"]]).drop_nulls()
    assert dates.str.contains(r"^\d{4}-\d{2}-\d{2}$").any()
    assert dates.str.contains(r"^\d{4}/\d{1,2}/\d{1,2}$").any()
    assert dates.str.contains(r"^\d{4}年\d{1,2}月\d{1,2}日$").any()
    assert dates.str.contains(r"^\d{8}$").any()
    bools = pl.concat(
        [annual["online_store"], annual["abnormal"], annual["serious_dishonest"]]
    ).drop_nulls()
    for pair in (("是", "否"), ("Y", "N"), ("1", "0"), ("true", "false")):
        assert bools.is_in(list(pair)).any(), pair
    amounts = pl.concat([tax["sales"], tax["tax_paid"]]).drop_nulls()
    assert amounts.str.contains(r"^\d{1,3}(,\d{3})+(\.\d+)?$").any()
    assert annual["name"].null_count() > 0
    assert annual["region_code"].str.contains("[０-９]").any()


def test_every_problem_is_present(mixed: SamplesResult) -> None:
    for year in (2022, 2023):
        annual = _code_columns(_load(mixed.files[f"{year}/annual"], "annual"))
        norm = annual["code"].drop_nulls()
        assert (norm.str.len_chars() != 18).any()  # wrong length
        assert norm.str.contains("[IOSVZ]").any()  # forbidden letters
        assert norm.str.starts_with("91").any()  # enterprise codes
        assert annual.filter(pl.col("well_formed") & ~pl.col("check_ok")).height > 0
        # unparseable values
        assert annual["employees"].is_in(["三人", "abc", "两个", "1-2人", "若干"]).any()
        parsed = _parse(annual, "annual")
        bad_dates = parsed.filter(
            (pl.col("established_on").is_null() & annual["established_on"].is_not_null())
            | (pl.col("reported_on").is_null() & annual["reported_on"].is_not_null())
        )
        assert bad_dates.height > 0
        assert (
            pl.concat([annual["online_store"], annual["abnormal"]])
            .is_in(["也许", "不详", "待定", "?"])
            .any()
        )
        assert annual["revenue"].is_in(["约5万", "abc", "五万", "12..5"]).any()
        # missing required values
        assert annual.filter(pl.col("established_on").is_null()).height > 0
        assert annual.filter(pl.col("register_status").is_null()).height > 0
        # duplicates: verbatim rows, and one code with different values
        raw = annual.drop("_row", "_file")
        assert raw.is_duplicated().any()
        rows, _ = _prepare(mixed.files[f"{year}/annual"], "annual")
        assert rows["conflict"].any()
        for extract in ("tax", "social"):
            rows, rejected = _prepare(mixed.files[f"{year}/{extract}"], extract)
            assert rejected.filter(~pl.col("well_formed")).height > 0
            assert rejected.filter(pl.col("code").str.starts_with("91")).height > 0
            assert rows["bad"].any()
            assert rows["conflict"].any()
            raw = _load(mixed.files[f"{year}/{extract}"], extract).drop("_row", "_file")
            assert raw.is_duplicated().any()
            # orphans: valid 92 codes that are not in annual
            known = annual.filter(pl.col("is92"))["code"].implode()
            orphans = rows.filter(~pl.col("code").is_in(known))
            assert orphans.height > 0
            assert any(stdnum_uscc.is_valid(c) for c in orphans["code"])


def test_reference_and_personal_data(mixed: SamplesResult) -> None:
    from stdnum.cn import ric

    annual = _load(mixed.files["2023/annual"], "annual")
    regions = annual["region_code"].str.normalize("NFKC").str.strip_chars().drop_nulls()
    assert set(regions) == {
        "420102", "420103", "420104", "420105", "420106", "420107", "420111",
        "420112", "420113", "420114", "420115", "420116", "420117",
    }  # fmt: skip
    industry = annual["industry_code"].drop_nulls()
    assert industry.str.contains(r"^[A-T]\d{4}$").all()
    assert 25 <= industry.n_unique() <= 45
    assert industry.str.starts_with("F").mean() > 0.5  # type: ignore[operator]
    assert {"F5213", "F5223", "F5224", "H6210", "H6291", "O8040", "O8111"} <= set(industry)
    # the section letter matches the division (GB/T 4754-2017)
    sections = {"C": range(13, 44), "F": range(51, 53), "G": range(53, 61), "H": range(61, 63)}
    sections |= {"K": range(70, 71), "O": range(80, 83), "P": range(83, 84), "R": range(86, 91)}
    for code in set(industry):
        assert int(code[1:3]) in sections[code[0]], code
    names = annual["operator_name"].str.strip_chars().drop_nulls()
    assert names.str.contains(r"^[\u4e00-\u9fff]{2,3}$").all()
    ids = annual["operator_id"].drop_nulls()
    assert ids.str.contains(r"^\d{17}[\dX]$").all()
    assert all(ric.calc_check_digit(i) == i[-1] for i in ids)
    assert all(ric.get_birth_date(i) < RUN for i in ids[:200])
    assert annual["phone"].drop_nulls().str.contains(r"^1[3-9]\d{9}$").all()


def test_founding_dates(mixed: SamplesResult) -> None:
    parsed = _parse(_code_columns(_load(mixed.files["2023/annual"], "annual")), "annual")
    est = parsed["established_on"].drop_nulls()
    assert est.max() < RUN  # type: ignore[operator]
    assert est.min() >= date(1995, 1, 1)  # type: ignore[operator]
    in_run_year = (est >= date(2024, 1, 1)).mean()
    assert 0.01 < in_run_year < 0.08  # type: ignore[operator]
    for boundary in (date(2023, 7, 1), date(2021, 7, 1), date(2023, 7, 2), date(2021, 7, 2)):
        assert (est == boundary).any(), boundary
    assert ((est.dt.month() == 2) & (est.dt.day() == 29)).any()
    rep = parsed["reported_on"].drop_nulls()
    assert (rep > RUN).any()


def test_outcome_shares(big: SamplesResult) -> None:
    for year, run in ((2023, RUN), (2022, date(2023, 7, 1))):
        shares = _shares(_outcomes(big, year, run))
        assert 0.88 <= shares["survival"] <= 0.92, shares
        assert 0.07 <= shares["growth"] <= 0.10, shares
        assert 0.0 < shares["development"] < 0.01, shares
        assert 0.20 <= shares["excluded_of_all"] <= 0.35, shares


def test_small_sample_has_every_tier(mixed: SamplesResult) -> None:
    for year, run in ((2023, RUN), (2022, date(2023, 7, 1))):
        tiers = set(_outcomes(mixed, year, run)["tier"])
        assert tiers == {"survival", "growth", "development", "excluded"}


def test_two_years_evolve(big: SamplesResult) -> None:
    now = _outcomes(big, 2023, RUN)
    before = _outcomes(big, 2022, date(2023, 7, 1))
    both = now.join(before, on="code", how="inner", suffix="_before")
    assert both.height > 0.8 * now.height
    gone = before.join(now, on="code", how="anti")
    new = now.join(before, on="code", how="anti")
    assert 0.01 * before.height < gone.height < 0.06 * before.height
    assert new.height > 0.03 * now.height
    # businesses founded after the earlier run date are absent from it
    assert (new["established_on"].drop_nulls() >= date(2023, 7, 1)).mean() > 0.9  # type: ignore[operator]
    assert (before["established_on"].drop_nulls() < date(2023, 7, 1)).all()
    order = {"excluded": -1, "survival": 0, "growth": 1, "development": 2}
    moved = both.filter(pl.col("tier") != pl.col("tier_before"))
    assert moved.height > 0
    rank = pl.col("tier").replace_strict(order)
    rank_before = pl.col("tier_before").replace_strict(order)
    typed = moved.filter((rank >= 0) & (rank_before >= 0))
    assert typed.filter(rank > rank_before).height > 0  # up
    assert typed.filter(rank < rank_before).height > 0  # down


def test_formats(tmp_path: Path) -> None:
    res = generate_samples(500, tmp_path / "p", fmt="parquet")
    for key, files in res.files.items():
        assert [p.suffix for p in files] == [".parquet"]
        df = pl.read_parquet(files[0])
        assert all(dt == pl.String for dt in df.schema.values())
        assert df.height == res.rows[key]
    res = generate_samples(500, tmp_path / "c", fmt="csv")
    for files in res.files.values():
        assert len(files) == 1 and files[0].suffix == ".csv"
        raw = files[0].read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        raw.decode("utf-8")


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_samples(0, tmp_path)
    with pytest.raises(ValueError):
        generate_samples(10, tmp_path, years=0)
    with pytest.raises(ValueError):
        generate_samples(10, tmp_path, fmt="xls")  # type: ignore[arg-type]


def test_200k_csv(tmp_path: Path) -> None:
    res = generate_samples(200_000, tmp_path, fmt="csv")
    annual = res.files["2023/annual"][0]
    df = pl.scan_csv(annual, infer_schema=False).select(pl.len()).collect()
    assert df.item() == res.rows["2023/annual"]
    assert 200_000 < res.rows["2023/annual"] < 202_000
    assert 0.4 * 200_000 < res.rows["2023/tax"] < 0.65 * 200_000
    assert 0.04 * 200_000 < res.rows["2023/social"] < 0.11 * 200_000
    codes = pl.scan_csv(annual, infer_schema=False).select(pl.first()).collect().to_series()
    sample = codes.drop_nulls().gather(np.arange(0, 200_000, 997))
    valid = sum(stdnum_uscc.is_valid(c) for c in sample)
    assert valid > 0.9 * len(sample)


def test_chunked_generation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gthfx.tools.samples as samples

    monkeypatch.setattr(samples, "CHUNK_ROWS", 700)
    monkeypatch.setattr(samples, "XLSX_MAX_ROWS", 300)
    res = generate_samples(2000, tmp_path / "m", years=2)
    tax = res.files["2023/tax"]
    assert [p.name for p in tax] == ["tax.xlsx", "tax_2.xlsx", "tax_3.xlsx", "tax_4.xlsx"]
    assert sum(pl.read_excel(p, engine="calamine").height for p in tax) == res.rows["2023/tax"]
    for key, files in res.files.items():
        df = _code_columns(_load(files, key.split("/")[1]))
        assert df.height == res.rows[key]
        # one code per business across chunks: a code appears at most twice (a duplicate row)
        assert df.filter(pl.col("is92")).group_by("code").len()["len"].max() <= 2  # type: ignore[operator]
    annual = _code_columns(_load(res.files["2023/annual"], "annual"))
    assert annual.filter(pl.col("is92"))["code"].n_unique() == pytest.approx(2000, abs=15)
    res = generate_samples(2000, tmp_path / "p", years=2, fmt="parquet")
    for key, files in res.files.items():
        assert len(files) == 1
        assert pl.read_parquet(files[0]).height == res.rows[key]
    assert not list((tmp_path / "p").rglob(".gthfx-samples-*"))
