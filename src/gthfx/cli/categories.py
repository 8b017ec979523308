"""`gthfx categories screen | publicize | certify | evaluate | register | numbers | explain`:
arguments → one library call in `gthfx.app.categories` → a rendered result → exit code."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from gthfx.app.categories.certify import CertifyOptions, certify
from gthfx.app.categories.core import RESULT_LABELS
from gthfx.app.categories.evaluate import DECISION_WORDS, EvaluateOptions, evaluate
from gthfx.app.categories.explain import explain_entries, to_json
from gthfx.app.categories.publicize import PublicizeOptions, publicize
from gthfx.app.categories.register import category_numbers, entries_in_force, read_log
from gthfx.app.categories.screen import ScreenOptions, screen
from gthfx.cli import params as options
from gthfx.errors import ConfigError
from gthfx.progress import Reporter
from gthfx.report.regions import region_name
from gthfx.report.xlsx import write_xlsx
from gthfx.settings.config import ProjectSettings, resolve_settings
from gthfx.vocab import CATEGORY_LABELS

categories_app = typer.Typer(
    help="名特优新 categories: screen applications against a run, publicize, certify after "
    "objections, keep the 3-year register and evaluate it yearly.\n\n"
    "Example: gthfx categories screen --run runs/2024-07-01 --date 2024-10-15 "
    "--applications a.csv --evidence e.xlsx --records r.csv\n\n"
    "Example: gthfx categories register --date 2024-12-01",
    no_args_is_help=True,
)

Files = Annotated[list[Path] | None, typer.Option(help="Extract file(s); repeat per file.")]
RegisterOption = Annotated[
    Path | None,
    typer.Option("--register", help="Register folder (default: <categories>/register)."),
]
CriteriaOption = Annotated[
    Path | None,
    typer.Option(
        "--criteria",
        help="Criteria file, or a folder of categories-*.yaml (default: the rules folder).",
    ),
]
By = Annotated[str | None, typer.Option("--by", help="Who decides (office or clerk), recorded.")]
Document = Annotated[
    str | None, typer.Option("--document", help="Document number (文号), recorded.")
]


def _register(settings: ProjectSettings, given: Path | None) -> Path:
    return given if given is not None else settings.categories / "register"


def _need(files: list[Path] | None, option: str) -> tuple[Path, ...]:
    if not files:
        raise ConfigError(f"{option} is required", hint=f"pass {option} FILE (repeat per file)")
    return tuple(files)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@categories_app.command("screen")
def screen_command(
    run: Annotated[
        Path, typer.Option("--run", help="The typed run folder (e.g. runs/2024-09-30).")
    ],
    screening_date: Annotated[str, typer.Option("--date", help="Screening date S, YYYY-MM-DD.")],
    applications: Files = None,
    evidence: Files = None,
    records: Files = None,
    criteria: CriteriaOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Categories folder (default: categories: in gthfx.yaml)."),
    ] = None,
    annual: Annotated[
        list[Path] | None,
        typer.Option("--annual", help="Annual files to read names from (default: the run's)."),
    ] = None,
    sources: options.Sources = None,
    encoding: options.Encoding = None,
    force: options.Force = False,
    excel: options.Excel = None,
    config: options.Config = None,
    quiet: options.Quiet = False,
) -> None:
    """Screen every application (one entry per business and category) against a typed run at
    date S: the tier gate with its exemptions, years, exclusions in the window, the criteria and
    the district quota (SPEC §10). Writes <out>/<S>/screening/: screening.parquet, per-district
    lists (CSV with BOM and XLSX), 筛选汇总.csv, rejects and manifest.json.

    Example: gthfx categories screen --run runs/2024-07-01 --date 2024-10-15 --applications
    samples/2023/categories/applications.csv --evidence samples/2023/categories/evidence.xlsx
    --records samples/2023/categories/records.csv
    """
    cfg = resolve_settings(config, sources=sources, encoding=encoding)
    result = screen(
        ScreenOptions(
            run=run,
            on=options.parse_date(screening_date),
            applications=_need(applications, "--applications"),
            evidence=_need(evidence, "--evidence"),
            records=_need(records, "--records"),
            criteria=criteria or cfg.rules,
            out=out or cfg.categories,
            annual=tuple(annual or ()),
            sources=cfg.sources,
            encoding=cfg.encoding,
            force=force,
            excel=excel if excel is not None else cfg.excel,
            command=("gthfx", *sys.argv[1:]),
        ),
        Reporter(quiet=quiet),
    )
    if quiet:
        return
    console = _console()
    table = Table(title=f"名特优新筛选 {result.on} · {result.criteria_id}")
    table.add_column("区划")
    table.add_column("名称")
    for key in ("eligible", "over_quota", "ineligible"):
        table.add_column(RESULT_LABELS[key], justify="right")
    table.add_column("成长型+发展型", justify="right")
    table.add_column("名额", justify="right")
    for row in result.by_district.iter_rows(named=True):
        table.add_row(
            row["region_code"] or "—",
            row["district"],
            *(str(row[k]) for k in ("eligible", "over_quota", "ineligible")),
            str(row["base"] if row["base"] is not None else 0),
            str(row["quota"] if row["quota"] is not None else "—"),
        )
    console.print(table)
    acc = ", ".join(
        f"{name} read {a.read:,} used {a.used:,} rejected {a.rejected:,} collapsed {a.collapsed:,}"
        for name, a in result.accounting.items()
    )
    console.print(f"rows: {acc}")
    counts = ", ".join(f"{RESULT_LABELS[k]} {v:,}" for k, v in result.counts.items())
    console.print(f"entries: {result.entries:,} ({counts})")
    console.print(f"written: {result.folder}")


@categories_app.command("publicize")
def publicize_command(
    screening: Annotated[Path, typer.Argument(help="The screening folder (<out>/<S>/screening).")],
    start: Annotated[str, typer.Option("--start", help="First day of the publicity, YYYY-MM-DD.")],
    days: Annotated[
        int | None,
        typer.Option("--days", min=1, help="Calendar days (default: publicity_days, 7)."),
    ] = None,
    force: options.Force = False,
    config: options.Config = None,
) -> None:
    """Write the 公示 list of the eligible entries — district, business name, code, category,
    start and end dates, the operator's name, phone and ID number masked (张**, 138****5678,
    420102********1234) — as CSV with BOM, XLSX and a printable HTML page, in <cycle>/publicity/.

    Example: gthfx categories publicize categories/2024-10-15/screening --start 2024-10-21

    Example: gthfx categories publicize categories/2024-10-15/screening --start 2024-10-21 --days 10
    """
    resolve_settings(config)  # checked when given: publicity reads its screening folder only
    result = publicize(
        PublicizeOptions(
            screening,
            options.parse_date(start, "--start"),
            days,
            force,
            command=("gthfx", *sys.argv[1:]),
        )
    )
    console = _console()
    console.print(f"公示 {result.start} – {result.end}: {result.entries:,} entries")
    console.print(f"written: {result.folder}")


@categories_app.command("certify")
def certify_command(
    screening: Annotated[Path, typer.Argument(help="The screening folder (<out>/<S>/screening).")],
    certification_date: Annotated[str, typer.Option("--date", help="Certification date D.")],
    objections: Annotated[
        list[Path] | None,
        typer.Option("--objections", help="Objections extract file(s) (异议); repeat per file."),
    ] = None,
    register: RegisterOption = None,
    by: By = None,
    document: Document = None,
    sources: options.Sources = None,
    encoding: options.Encoding = None,
    force: options.Force = False,
    config: options.Config = None,
) -> None:
    """Apply the checked objections (an upheld one removes its entry) and certify every other
    publicized entry into the register: valid_from = D, valid_to = three years later, the day
    before, evaluation_from = the start of the last year. Writes <cycle>/certification/.

    Example: gthfx categories certify categories/2024-10-15/screening --objections
    samples/2023/categories/objections.csv --date 2024-11-28 --by 市场监管局
    --document 武市监〔2024〕88号
    """
    cfg = resolve_settings(config, sources=sources, encoding=encoding)
    result = certify(
        CertifyOptions(
            screening=screening,
            objections=_need(objections, "--objections"),
            on=options.parse_date(certification_date),
            register=_register(cfg, register),
            by=by,
            document=document,
            sources=cfg.sources,
            encoding=cfg.encoding,
            force=force,
            command=("gthfx", *sys.argv[1:]),
        )
    )
    console = _console()
    counts = ", ".join(f"{k} {v:,}" for k, v in result.counts.items())
    again = " (already in the register: not appended again)" if result.repeated else ""
    console.print(f"certification {result.on}: {counts}")
    console.print(f"register segment {result.segment}{again}, head {result.head_sha256}")
    console.print(f"written: {result.folder}")


@categories_app.command("evaluate")
def evaluate_command(
    evaluation_date: Annotated[str, typer.Option("--date", help="Evaluation date D.")],
    run: Annotated[Path, typer.Option("--run", help="The new typed run folder.")],
    evidence: Files = None,
    records: Files = None,
    register: RegisterOption = None,
    criteria: CriteriaOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Categories folder (default: categories: in gthfx.yaml)."),
    ] = None,
    by: By = None,
    document: Document = None,
    sources: options.Sources = None,
    encoding: options.Encoding = None,
    force: options.Force = False,
    config: options.Config = None,
) -> None:
    """The yearly evaluation of the register: entries whose business is gone, excluded, below
    the gate (unless exempt) or hit by an exclusion are removed; entries in their last year that
    still meet a criterion are renewed for three years, the others expire at valid_to. Writes
    <out>/<D>/evaluation/ and appends the decisions to the register.

    Example: gthfx categories evaluate --date 2025-10-15 --run runs/2025-09-30 --evidence
    e.xlsx --records r.csv
    """
    cfg = resolve_settings(config, sources=sources, encoding=encoding)
    result = evaluate(
        EvaluateOptions(
            on=options.parse_date(evaluation_date),
            run=run,
            evidence=_need(evidence, "--evidence"),
            records=_need(records, "--records"),
            register=_register(cfg, register),
            criteria=criteria or cfg.rules,
            out=out or cfg.categories,
            by=by,
            document=document,
            sources=cfg.sources,
            encoding=cfg.encoding,
            force=force,
            command=("gthfx", *sys.argv[1:]),
        )
    )
    console = _console()
    console.print(
        f"evaluation {result.on}: "
        + ", ".join(f"{DECISION_WORDS[k]} {v:,}" for k, v in result.counts.items())
    )
    if result.segment is not None:
        console.print(f"register segment {result.segment}, head {result.head_sha256}")
    console.print(f"written: {result.folder}")


FORMATS = ("table", "csv", "json", "xlsx")


def _entries_text(entries: pl.DataFrame) -> pl.DataFrame:
    return entries.select(
        pl.col("uscc").alias("统一社会信用代码"),
        pl.col("category").replace_strict(CATEGORY_LABELS).alias("类别"),
        region_name(pl.col("region_code")).alias("区划"),
        pl.col("valid_from").dt.strftime("%Y-%m-%d").alias("有效期起"),
        pl.col("valid_to").dt.strftime("%Y-%m-%d").alias("有效期至"),
        pl.col("evaluation_from").dt.strftime("%Y-%m-%d").alias("评估期起"),
        pl.col("last_event").replace({"certified": "认定", "renewed": "续期"}).alias("依据"),
        pl.col("event_date").dt.strftime("%Y-%m-%d").alias("决定日期"),
        pl.col("document").alias("文号"),
    )


@categories_app.command("register")
def register_command(
    on: Annotated[str, typer.Option("--date", help="The date D the register is shown as of.")],
    register: RegisterOption = None,
    fmt: Annotated[str, typer.Option("--format", help="table (default), csv, json or xlsx.")] = (
        "table"
    ),
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (csv/json: default stdout).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Entries listed as a table.")] = 50,
    config: options.Config = None,
) -> None:
    """The register as of date D, replayed from its hash-chained event log (verified first):
    every entry in force on D with its period. Any past date gives the answer of that day.

    --format json prints an array of the entries, each with uscc, category, valid_from,
    valid_to, evaluation_from and the facts recorded with it.

    Example: gthfx categories register --date 2024-12-01

    Example: gthfx categories register --date 2026-01-01 --format json --out register.json
    """
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    when = options.parse_date(on)
    path = _register(resolve_settings(config), register)
    entries = entries_in_force(path, when)
    if fmt == "json":
        text = json.dumps(
            [_plain_row(r) for r in entries.iter_rows(named=True)],
            ensure_ascii=False,
            indent=2,
        )
        _emit(text + "\n", out)
    elif fmt == "csv":
        table = _entries_text(entries)
        if out is None:
            sys.stdout.write(table.write_csv())
        else:
            table.write_csv(out, include_bom=True)
    elif fmt == "xlsx":
        target = out or Path(f"register-{when.isoformat()}.xlsx")
        write_xlsx(target, [("名特优新名录", _entries_text(entries))], title="名特优新名录")
        _console().print(f"written: {target}")
    else:
        if out is not None:
            raise ConfigError("--out is not used with --format table")
        log = read_log(path)
        console = _console()
        listing = Table(title=f"名特优新名录 as of {when}: {entries.height:,} entries")
        shown = _entries_text(entries.head(limit))
        for column in shown.columns:
            listing.add_column(column, overflow="fold")
        for row in shown.iter_rows():
            listing.add_row(*(str(v) if v is not None else "" for v in row))
        console.print(listing)
        if entries.height > limit:
            console.print(f"… {entries.height - limit:,} more (--limit, or --format csv)")
        console.print(
            f"log: {len(log.segments)} segment(s), {log.events.height:,} events, "
            f"hash chain verified, head {log.head_sha256}"
        )
        for note in log.notes:
            console.print(f"note: {note}", style="yellow")


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


@categories_app.command("numbers")
def numbers_command(
    on: Annotated[str, typer.Option("--date", help="The date D the figures are for.")],
    register: RegisterOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    config: options.Config = None,
) -> None:
    """The figures for the monitoring report on date D: entries in force per category and
    district, and the share of 党员经营户 and of 全国/省级先进个体工商户 among them, each with
    its definition.

    Example: gthfx categories numbers --date 2024-12-31

    Example: gthfx categories numbers --date 2024-12-31 --json
    """
    numbers = category_numbers(
        _register(resolve_settings(config), register), options.parse_date(on)
    )
    if as_json:
        data = {
            "on": numbers.on.isoformat(),
            "overall": numbers.overall,
            "by_category": numbers.by_category.to_dicts(),
            "by_category_district": numbers.by_category_district.to_dicts(),
            "definitions": numbers.definitions,
        }
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    console = _console()

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.1f} %"

    table = Table(title=f"名特优新 {numbers.on}")
    for column in ("类别", "认定户次", "党员经营户", "比例", "先进个体工商户(全国/省级)", "比例"):
        table.add_column(column, justify="right")
    for row in numbers.by_category.iter_rows(named=True):
        table.add_row(
            CATEGORY_LABELS[row["category"]],
            str(row["entries"]),
            str(row["party_member"]),
            pct(row["party_share"]),
            str(row["advanced"]),
            pct(row["advanced_share"]),
        )
    o = numbers.overall
    table.add_row(
        f"合计({o['businesses']}户)",
        str(o["entries"]),
        str(o["party_member"]),
        pct(o["party_share"]),
        str(o["advanced"]),
        pct(o["advanced_share"]),
    )
    console.print(table)
    districts = Table(title="按区 by district")
    for column in ("类别", "区划", "认定户次"):
        districts.add_column(column)
    for row in numbers.by_category_district.iter_rows(named=True):
        districts.add_row(CATEGORY_LABELS[row["category"]], row["district"], str(row["entries"]))
    console.print(districts)
    for key, words in numbers.definitions.items():
        console.print(f"{key}: {words}")


@categories_app.command("explain")
def explain_command(
    code: Annotated[str, typer.Argument(help="The business's unified social credit code.")],
    screening: Annotated[
        Path, typer.Option("--screening", help="The screening folder (<out>/<S>/screening).")
    ],
    category: Annotated[
        str | None,
        typer.Option(
            "--category", help="Only this category: known, distinctive, quality, emerging."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
    config: options.Config = None,
) -> None:
    """Why each entry of one business was eligible, ineligible or over quota: the facts from the
    run, each condition, exclusion and criterion with the values it read, and the quota rank.

    Example: gthfx categories explain 92420102MA4K1B2C9D --screening categories/2024-10-15/screening

    Example: gthfx categories explain 92420102MA4K1B2C9D --screening s --category known --json
    """
    resolve_settings(config)  # checked when given: the screening folder records what it used
    entries = explain_entries(code, screening, category)
    if as_json:
        sys.stdout.write(to_json(entries) + "\n")
        return
    console = _console()
    for entry in entries:
        console.print(
            f"\n{entry.uscc} · {entry.category_label}({entry.category}): "
            f"{RESULT_LABELS[entry.result]}",
            style="bold",
        )
        facts = ", ".join(f"{k}={v}" for k, v in entry.facts.items() if v is not None)
        console.print(f"  facts: {facts}", markup=False)
        for check in entry.checks:
            mark = "✗" if check.against else "✓"
            state = {"condition": "满足" if check.holds else "不满足",
                     "exclusion": "命中" if check.holds else "未命中",
                     "criterion": "满足" if check.holds else "不满足"}[check.kind]  # fmt: skip
            values = ", ".join(f"{k}={v}" for k, v in check.values.items())
            console.print(
                f"  {mark} {check.kind} {check.id} {check.label}: {state} ({values})", markup=False
            )
        if entry.result != "ineligible":
            console.print(
                f"  quota: rank {entry.rank} of quota {entry.quota} "
                f"(district base {entry.base} growth + development businesses)"
            )
        if not entry.consistent:
            console.print(
                f"  warning: recomputed reasons {entry.recomputed_reasons} differ from the "
                f"stored {entry.reasons}",
                style="yellow",
            )
