"""`gthfx sample`: a 双随机 draw as one library call: `sample(options) -> SampleResult`.

Reads the run (through `runs.reader`), the plan, and the inspections, risk classes and
inspectors when given (`app.sample.extracts`); takes the seed given, the one committed in a seed
file, or a new one from a secure source; draws (`app.sample.draw`) and writes one folder,
atomically (`app.folders`). Its data files (`write_draw_files`) depend on the inputs and the seed
only — `gthfx sample verify` writes them again and compares byte for byte:

- `sample.parquet` / `reserve.parquet` — `uscc, region_code, tier, risk_class, stratum, rank,
  rank_hash, inspectors`, by stratum and rank; `sample.csv` / `reserve.csv` the same for any
  tool (UTF-8, inspectors separated by `;`);
- `strata.parquet` / `strata.csv` — per stratum: population, excluded, eligible, ratio, drawn,
  reserve, short of inspectors, and a note (a stratum without a ratio draws nobody);
  `分层统计.csv` the same in Chinese for clerks (UTF-8 with BOM);
- `eligible.csv` — `stratum, uscc` of every eligible business; `inspectors.csv` —
  `inspector_id, region_code, recuse` (no names): with `sample.csv` and the manifest, what the
  standard-library script of the README needs to redraw;
- `抽查名单_<区名>_<区划代码>.csv` (+ `.xlsx`) — per district, the drawn businesses and their
  inspectors, for publication: no risk class, no tier, no personal data;
- `rejects.parquet` / `拒收.csv` — rows of the extracts that could not be used;
- `manifest.json` — the plan (as read, and its file's SHA-256), the seed and where it came from
  (with salt and commitment for a committed seed), the draw date, the run, every input file with
  its SHA-256 and accounting, the settings, the counts and every file's SHA-256.

Never prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.app.folders import (
    command_line,
    file_record,
    manifest_base,
    run_record,
    staged,
    write_manifest,
)
from gthfx.app.sample.draw import Draw, DrawInputs, draw
from gthfx.app.sample.extracts import (
    Extract,
    read_inspections,
    read_inspectors,
    read_risk,
)
from gthfx.app.sample.plan import PlanFile, load_plan
from gthfx.app.sample.seed import Seed, check_seed, new_seed, read_commitment
from gthfx.errors import ConfigError
from gthfx.ingest.load import sha256_of
from gthfx.report.labels import REJECT_REASONS
from gthfx.report.regions import region_name
from gthfx.report.render import ClerkTables, as_text_table
from gthfx.report.support import district_file
from gthfx.runs.layout import workspace
from gthfx.runs.reader import Run, open_run
from gthfx.settings.sources import SourcesMapping, load_sources
from gthfx.vocab import REJECT_SCHEMA, TIER_LABELS

STRATA_HEADERS = {
    "stratum": "分层",
    "region_code": "行政区划代码",
    "district": "区划名称",
    "tier_label": "分型",
    "risk_class": "信用风险分类",
    "population": "总户数",
    "excluded": "近期已检查(排除)",
    "eligible": "可抽户数",
    "ratio": "抽查比例",
    "drawn": "抽取户数",
    "reserve": "备选户数",
    "short_of_inspectors": "检查人员不足户数",
    "note": "说明",
}
REJECT_HEADERS = {
    "extract": "数据来源",
    "file": "文件",
    "row": "行号",
    "uscc": "统一社会信用代码",
    "field": "字段",
    "raw_value": "原始值",
    "reason": "拒收原因",
}
SAMPLING_REJECTS = {
    "orphan": "本次分型结果中无此户",
    "conflicting_duplicate": "同一对象多条记录且内容不一致",
    "missing:inspected_on": "缺少检查日期",
    "unparseable:inspections.inspected_on": "检查日期无法解析",
    "missing:risk_class": "缺少信用风险分类",
    "unknown_value:risk.risk_class": "信用风险分类不是A、B、C、D",
    "missing:inspector_id": "缺少执法人员编号",
    "missing:region_code": "缺少所属区划",
    "unknown_value:inspectors.region_code": "所属区划不是6位区划代码或已知区名",
}


@dataclass(frozen=True)
class SampleOptions:
    run: Path
    plan: Path
    on: date  # the draw date
    out: Path
    seed: str | None = None
    seed_file: Path | None = None
    inspections: tuple[Path, ...] = ()
    risk: tuple[Path, ...] = ()
    inspectors: tuple[Path, ...] = ()
    sources: Path | None = None
    encoding: str | None = None
    force: bool = False
    excel: bool = True
    command: tuple[str, ...] = field(default_factory=command_line)


@dataclass(frozen=True)
class SampleResult:
    out: Path
    seed: Seed
    plan_id: str
    counts: dict[str, int]
    strata: pl.DataFrame
    accounting: dict[str, dict[str, int]]


@dataclass(frozen=True)
class Inputs:
    """Everything a draw reads, loaded and checked."""

    run: Run
    plan: PlanFile
    extracts: dict[str, Extract]
    draw_inputs: DrawInputs


def load_inputs(
    run: Run,
    plan: PlanFile,
    files: Mapping[str, Sequence[Path]],
    sources: SourcesMapping,
    encoding: str | None,
) -> Inputs:
    """The run's businesses and the extracts given (`inspections`, `risk`, `inspectors`)."""
    population = run.outcomes().select("uscc", "tier", "region_code").collect()
    known = population.get_column("uscc")
    specs = sources.sampling_extracts
    extracts: dict[str, Extract] = {}
    if files.get("inspections"):
        extracts["inspections"] = read_inspections(
            files["inspections"], specs["inspections"], known, encoding
        )
    if files.get("risk"):
        extracts["risk"] = read_risk(files["risk"], specs["risk"], known, encoding)
    if files.get("inspectors"):
        extracts["inspectors"] = read_inspectors(files["inspectors"], specs["inspectors"], encoding)
    rows = {name: e.rows for name, e in extracts.items()}
    return Inputs(
        run=run,
        plan=plan,
        extracts=extracts,
        draw_inputs=DrawInputs(
            population=population,
            risk=rows.get("risk"),
            inspections=rows.get("inspections"),
            inspectors=rows.get("inspectors"),
        ),
    )


def _csv_lists(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists joined with `;` for plain CSV."""
    return frame.with_columns(
        pl.col(c).list.join(";") for c, t in frame.schema.items() if isinstance(t, pl.List)
    )


def _publication(piece: pl.DataFrame, plan_id: str, on: date) -> pl.DataFrame:
    return piece.select(
        pl.int_range(1, pl.len() + 1).alias("序号"),
        pl.col("uscc").alias("统一社会信用代码"),
        region_name(pl.col("region_code")).alias("区划名称"),
        pl.col("region_code").alias("行政区划代码"),
        pl.col("inspectors").list.join("、").alias("检查人员编号"),
        pl.lit(plan_id).alias("抽查计划"),
        pl.lit(on.isoformat()).alias("抽取日期"),
    )


def write_draw_files(
    folder: Path,
    result: Draw,
    inputs: Inputs,
    on: date,
    excel: bool,
) -> None:
    """Every data file of a draw folder (not the manifest), from the draw and its inputs."""
    plan_id = inputs.plan.plan.id
    result.sample.write_parquet(folder / "sample.parquet")
    result.reserve.write_parquet(folder / "reserve.parquet")
    result.strata.write_parquet(folder / "strata.parquet")
    _csv_lists(result.sample).write_csv(folder / "sample.csv")
    _csv_lists(result.reserve).write_csv(folder / "reserve.csv")
    result.strata.write_csv(folder / "strata.csv")
    result.eligible.write_csv(folder / "eligible.csv")
    pool = inputs.draw_inputs.inspectors
    if pool is None:
        pool = pl.DataFrame(
            schema={
                "inspector_id": pl.String,
                "region_code": pl.String,
                "recuse": pl.List(pl.String),
            }
        )
    _csv_lists(pool.select("inspector_id", "region_code", "recuse").sort("inspector_id")).write_csv(
        folder / "inspectors.csv"
    )
    as_text_table(
        result.strata.with_columns(
            region_name(pl.col("region_code")).alias("district"),
            pl.col("tier").replace_strict(TIER_LABELS, return_dtype=pl.String).alias("tier_label"),
            pl.when(pl.col("ratio").is_null())
            .then(pl.lit("抽查计划未设比例,本层不抽取"))
            .otherwise(pl.col("note"))
            .alias("note"),
        ),
        STRATA_HEADERS,
    ).write_csv(folder / "分层统计.csv", include_bom=True)
    rejects = (
        pl.concat([e.rejects for e in inputs.extracts.values()], how="vertical")
        if inputs.extracts
        else pl.DataFrame(schema=REJECT_SCHEMA)
    ).sort("extract", "file", "row")
    rejects.write_parquet(folder / "rejects.parquet")
    as_text_table(
        rejects.with_columns(pl.col("reason").replace({**REJECT_REASONS, **SAMPLING_REJECTS})),
        REJECT_HEADERS,
    ).write_csv(folder / "拒收.csv", include_bom=True)
    parts = result.sample.partition_by("region_code", as_dict=True, maintain_order=True)
    for (code,), part in sorted(parts.items(), key=lambda i: (i[0][0] is None, i[0][0] or "")):
        name = district_file("抽查名单", code)
        book = ClerkTables(folder, f"{name}.xlsx" if excel else None)
        book.add(name, part, lambda piece: _publication(piece, plan_id, on))
        book.close()


def counts_of(result: Draw) -> dict[str, int]:
    strata = result.strata
    total = strata.select(
        pl.col("population", "excluded", "eligible", "drawn", "reserve", "short_of_inspectors")
        .sum()
        .cast(pl.Int64)
    ).row(0, named=True)
    return {
        **total,
        "strata": strata.height,
        "strata_without_ratio": strata.filter(pl.col("ratio").is_null()).height,
    }


def _resolve_seed(options: SampleOptions) -> Seed:
    if options.seed is not None and options.seed_file is not None:
        raise ConfigError("give --seed or --seed-file, not both")
    if options.seed_file is not None:
        return read_commitment(options.seed_file)
    if options.seed is not None:
        return Seed(check_seed(options.seed, "--seed"), "given")
    return new_seed()


def input_records(inputs: Inputs) -> list[dict[str, Any]]:
    out = []
    for extract in inputs.extracts.values():
        per_file = extract.rows.group_by("_file").len().rows() if extract.rows.height else []
        used = dict(per_file)
        rejected = dict(extract.rejects.group_by("file").len().rows())
        for index, info in enumerate(extract.files):
            n_used, n_rej = used.get(index, 0), rejected.get(info.path, 0)
            out.append(
                {
                    **file_record(info.extract, Path(info.path), info.sha256).model_dump(),
                    "format": info.format,
                    "encoding": info.encoding,
                    "rows": info.rows,
                    "columns": info.columns,
                    "ignored_columns": list(info.ignored_columns),
                    "accounting": {
                        "read": info.rows,
                        "used": n_used,
                        "rejected": n_rej,
                        "collapsed": info.rows - n_used - n_rej,
                    },
                }
            )
    return out


def sample(options: SampleOptions) -> SampleResult:
    """Draw the sample and write the draw folder."""
    seed = _resolve_seed(options)
    run = open_run(options.run)
    plan = load_plan(options.plan)
    sources = load_sources(options.sources)
    files = {
        "inspections": options.inspections,
        "risk": options.risk,
        "inspectors": options.inspectors,
    }
    inputs = load_inputs(run, plan, files, sources, options.encoding)
    with staged(options.out, force=options.force, label=options.on) as staging:
        with workspace(options.out.parent, options.on) as work:
            result = draw(inputs.draw_inputs, plan.plan, seed.value, options.on, work)
        write_draw_files(staging, result, inputs, options.on, options.excel)
        counts = counts_of(result)
        accounting = {n: e.accounting.as_dict() for n, e in inputs.extracts.items()}
        write_manifest(
            staging,
            {
                **manifest_base("sample"),
                "command": list(options.command),
                "draw_date": options.on.isoformat(),
                "plan": {
                    **plan.plan.as_record(),
                    "file": file_record("plan", plan.path, plan.sha256).model_dump(),
                },
                "seed": seed.value,
                "seed_source": seed.source,
                "commitment": None
                if seed.commitment is None
                else {"salt": seed.salt, "sha256": seed.commitment},
                "cutoff": None if result.cutoff is None else result.cutoff.isoformat(),
                "run": run_record(run).model_dump(mode="json"),
                "inputs": input_records(inputs),
                "accounting": accounting,
                "settings": {
                    "sources": None if options.sources is None else str(options.sources.resolve()),
                    "sources_sha256": None
                    if options.sources is None
                    else sha256_of(options.sources),
                    "encoding": options.encoding,
                    "excel": options.excel,
                },
                "counts": counts,
            },
        )
    return SampleResult(
        out=options.out,
        seed=seed,
        plan_id=plan.plan.id,
        counts=counts,
        strata=result.strata,
        accounting=accounting,
    )
