"""A privacy scan (issue 13): operator names, ID numbers and phones planted in every personal
column of every input kind (CSV, XLSX, Parquet), in columns no field maps, in a headerless file
and a ragged one, and in a business's feedback written every way people write them — then every
command is run, and none of them may appear in any file written (inside workbooks and Parquet
files too), any file name, or any line on the console. Feedback is kept, masked."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from test_messy_inputs import HEADER, RULES, code, csv_text, row, write

from support import run_cli

NAMES = ["欧阳静雯", "司马相如", "诸葛明月"]
IDS = ["420102199001011239", "42010219850505123X", "420103197712127777"]
PHONES = ["13987654321", "13812345678", "15900001111"]
SECRETS = [*NAMES, *IDS, *PHONES, IDS[1].lower()]
PERSONAL = ",经营者身份证号码,联系电话,经办人,备注"


def personal(index: int) -> dict[str, str]:
    i = index % 3
    return {
        "经营者姓名": NAMES[i],
        "经营者身份证号码": IDS[i],
        "联系电话": PHONES[i],
        "经办人": NAMES[(i + 1) % 3],  # a column no field maps
        "备注": f"联系{PHONES[(i + 1) % 3]}",
    }


def text_of(path: Path) -> str:
    """Everything a file holds as text: Parquet columns, every part of a workbook, or bytes."""
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        return "\n".join(str(r) for r in frame.iter_rows())
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as book:
            return "".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def assert_clean(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} in {where}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inputs with secrets everywhere, and every command run over them."""
    root = tmp_path_factory.mktemp("privacy")
    inputs = root / "in"
    header = HEADER + PERSONAL
    rows = [row(i, 从业人数=str(i), **personal(i)) for i in range(1, 4)]
    write(inputs, "annual_a.csv", csv_text(rows, header), "utf-8-sig")
    book = openpyxl.Workbook()
    sheet = book.active
    names = header.split(",")
    sheet.append(names)
    for i in range(4, 7):
        sheet.append([row(i, **personal(i)).get(n, "") for n in names])
    book.save(inputs / "annual_b.xlsx")
    frame = pl.DataFrame([row(i, **personal(i)) for i in range(7, 9)])
    frame.write_parquet(inputs / "annual_c.parquet")
    tax = "纳税人识别号,所属年度,纳税人类型,销售额,实缴税额,办税人,办税人电话\n"
    tax += "".join(
        f"{code(i)},2023,小规模纳税人,{i}000,10,{NAMES[0]},{PHONES[0]}\n" for i in (1, 4)
    )
    write(inputs, "tax.csv", tax, "gb18030")
    social = f"单位统一社会信用代码,参保人数,经办人身份证\n{code(2)},2,{IDS[0]}\n"
    write(inputs, "social.csv", social)
    feedback = "统一社会信用代码,反馈内容,诉求分型\n" + "".join(
        f'{code(i)},"{text}",成长型\n'
        for i, text in [
            (1, f"经营者{NAMES[1]}电话139-8765-4321请回电"),  # its own operator's name
            (2, "手机 +86 138 1234 5678,身份证 420102 19900101 1239"),
            (3, "电话１５９００００１１１１"),
            (4, f"身份证{IDS[1].lower()}"),
        ]
    )
    write(inputs, "反馈.csv", feedback)
    corrections = "统一社会信用代码,字段,更正值,复核人,复核日期,说明\n"
    corrections += f"{code(1)},从业人数,5,王科员,2024-09-01,核实\n"
    write(inputs, "更正.csv", corrections)
    base = [
        "--annual", str(inputs / "annual_a.csv"), "--annual", str(inputs / "annual_b.xlsx"),
        "--annual", str(inputs / "annual_c.parquet"), "--tax", str(inputs / "tax.csv"),
        "--social", str(inputs / "social.csv"), "--rules", str(RULES),
    ]  # fmt: skip
    out = ["--out", "runs"]
    commands = [
        ["classify", "--date", "2023-07-01", *base, *out],
        ["classify", "--date", "2024-07-01", *base, *out],
        ["classify", "--date", "2024-07-01", *base, "--out", "duck", "--engine", "duckdb"],
        ["explain", code(1), "--run", "runs/2024-07-01"],
        ["explain", code(5), "--run", "runs/2024-07-01", "--json"],
        ["explain", code(2), "--date", "2024-07-01", *base],
        ["diff", "runs/2023-07-01", "runs/2024-07-01"],
        ["diff", "runs/2023-07-01", "runs/2024-07-01", "--format", "csv", "--out", "d.csv"],
        ["diff", "runs/2023-07-01", "runs/2024-07-01", "--format", "json", "--out", "d.json"],
        ["diff", "runs/2023-07-01", "runs/2024-07-01", "--format", "xlsx", "--out", "d.xlsx"],
        ["simulate", "--date", "2024-07-01", "--set", "growth_min_employees=2", *base[:-2],
         "--baseline", str(RULES), "--out", "sim.xlsx"],
        ["recheck", "--date", "2024-09-30", "--base", "2024-07-01", "--out", "runs",
         "--corrections", str(inputs / "更正.csv"), "--feedback", str(inputs / "反馈.csv"),
         "--rules", str(RULES)],
        ["rules", "check", "--rules", str(RULES)],
        ["rules", "test", "--rules", str(RULES)],
        ["compile-sql", "--dialect", "duckdb", "--date", "2024-07-01", "--rules", str(RULES),
         "--out", "typing.sql"],
    ]  # fmt: skip
    console = []
    for args in commands:
        proc = run_cli(args, root)
        assert proc.returncode == 0, (args, proc.stderr)
        console.append((args, proc.stdout + proc.stderr))
    review = sorted((root / "runs" / "2024-07-01").glob("复核_*.xlsx"))
    proc = run_cli(["review", "import", *map(str, review), "--out", "review"], root)
    assert proc.returncode in (0, 2), proc.stderr
    console.append((["review", "import"], proc.stdout + proc.stderr))
    # refused inputs: a headerless file and a ragged one, their messages clean too
    headerless = write(inputs / "bad", "headerless.csv", csv_text(rows, header).split("\n", 1)[1])
    ragged = write(inputs / "bad", "ragged.csv", csv_text(rows, header) + f"{NAMES[0]},{IDS[0]}\n")
    for bad in (headerless, ragged):
        refused = run_cli(["classify", "--date", "2024-07-01", "--annual", str(bad), *base[6:],
                           "--out", "refused"], root)  # fmt: skip
        assert refused.returncode == 2, refused.stderr
        console.append((["classify", str(bad)], refused.stdout + refused.stderr))
    (root / "console.txt").write_text(
        "\n".join(f"$ {' '.join(a)}\n{text}" for a, text in console), encoding="utf-8"
    )
    return root


def test_no_secret_in_any_file_written_or_its_name(world: Path) -> None:
    written = [
        p for p in world.rglob("*") if p.is_file() and "in" not in p.relative_to(world).parts[:1]
    ]
    assert any(p.suffix == ".xlsx" for p in written) and any(p.suffix == ".csv" for p in written)
    for path in written:
        assert_clean(f"the name {path}", str(path.relative_to(world)))
        assert_clean(str(path), text_of(path))


def test_no_secret_on_the_console(world: Path) -> None:
    assert_clean("the console", (world / "console.txt").read_text(encoding="utf-8"))


def test_feedback_is_kept_masked(world: Path) -> None:
    reply = pl.read_parquet(world / "runs" / "2024-09-30" / "feedback.parquet")
    content = "\n".join(reply.get_column("content").to_list())
    assert "139****4321" in content and "138****5678" in content and "159****1111" in content
    assert "请回电" in content and "司***" in content  # the rest of what it said stays
