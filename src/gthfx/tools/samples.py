"""Realistic synthetic extracts (`gthfx samples`).

Writes the three extracts of SPEC §3 (`annual`, `tax`, `social`) for one or more yearly runs of a
synthetic Wuhan population of individual businesses (个体工商户): the 13 districts weighted by size,
real GB/T 4754-2017 industry codes (retail and catering heavy), valid GB 32100-2015 credit codes
that start with ``92``, Chinese headers taken from the accepted headers of the shipped sources
mapping (a different alias in different years), the messiness of SPEC §3 and a sprinkle of every
data problem of SPEC §4 and §6, so that the pipeline has something to reject, flag and collapse.

Everything is vectorised (numpy + polars) and generated in chunks of ``CHUNK_ROWS`` businesses that
are appended to the same files: 10 million businesses as CSV take about 40 s and 0.7 GB of memory
per output year on a 2-core machine. Only the XLSX writer of the ``mixed`` format goes cell by
cell (xlsxwriter, constant-memory mode, a new file every ``XLSX_MAX_ROWS`` rows); ``mixed`` is
meant for demo sizes. Output is deterministic for a given seed: every random draw comes from a
numpy generator seeded with ``(seed, purpose, chunk, year)``, and the XLSX creation time is the
run date.

Population model, in short. Each business has a persistent latent *scale* ``z`` (industry
dependent) that drifts from year to year; revenue, staff, tax and insured staff all grow with it,
so the few businesses that pay tax, insure staff or employ three or more people are mostly the same
ones, and the reference ruleset of SPEC §5 finds about 90 % survival, 8–9 % growth and a few per
mille development among typed businesses, with a quarter of all businesses excluded (deregistered,
closed, not reported, abnormal, dishonest, or a data problem). With ``years > 1`` the earlier runs
are the same population going back in time: businesses founded after an earlier run date are
absent from it, about 3 % of the businesses of an earlier run have disappeared later, statuses
change (deregistration, closure, abnormal listing) and the scale drift moves businesses between
tiers, so a change log between two years is never empty.

Personal data (operator names, ID numbers, mobile numbers) is synthetic. ID numbers carry a valid
GB 11643 check character but denote nobody.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import polars as pl

from gthfx.report.xlsx import write_xlsx
from gthfx.tools.category_samples import HEADERS as CATEGORY_HEADERS
from gthfx.tools.category_samples import CategoryRows, category_rows

__all__ = ["CHUNK_ROWS", "EXTRA_HEADERS", "SamplesResult", "generate_samples"]

Format = Literal["mixed", "csv", "parquet"]

#: businesses generated (and appended to the output files) at a time
CHUNK_ROWS = 250_000
#: rows per XLSX worksheet file (Excel allows 1 048 576 rows including the header)
XLSX_MAX_ROWS = 1_000_000

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
_ORG_SPACE = 31**7  # the 7 free characters of an organisation code 'MA' + 7

# ---------------------------------------------------------------------------------------------
# reference data
# ---------------------------------------------------------------------------------------------

#: Wuhan's 13 districts: code, name, weight (rough share of individual businesses)
DISTRICTS: tuple[tuple[str, str, float], ...] = (
    ("420102", "江岸区", 9.0),
    ("420103", "江汉区", 8.0),
    ("420104", "硚口区", 7.0),
    ("420105", "汉阳区", 7.5),
    ("420106", "武昌区", 10.5),
    ("420107", "青山区", 4.0),
    ("420111", "洪山区", 14.0),
    ("420112", "东西湖区", 7.0),
    ("420113", "汉南区", 1.5),
    ("420114", "蔡甸区", 5.0),
    ("420115", "江夏区", 9.0),
    ("420116", "黄陂区", 8.5),
    ("420117", "新洲区", 6.5),
)
#: districts south of the Yangtze (武昌 side) go to the second annual file in the mixed format
_SOUTH = frozenset({"420106", "420107", "420111", "420115"})

#: GB/T 4754-2017 classes (section letter + 4 digits), weight, scale shift, name suffixes
INDUSTRIES: tuple[tuple[str, str, float, float, tuple[str, ...]], ...] = (
    ("F5211", "百货零售", 3.0, 0.1, ("百货店", "百货商行")),
    ("F5212", "超级市场零售", 4.0, 0.4, ("超市", "生活超市")),
    ("F5213", "便利店零售", 6.0, 0.0, ("便利店", "便民店")),
    ("F5219", "其他综合零售", 4.0, -0.1, ("商行", "杂货店")),
    ("F5221", "粮油零售", 3.0, 0.1, ("粮油店", "粮油经营部")),
    ("F5222", "糕点、面包零售", 2.0, 0.0, ("面包店", "糕点店")),
    ("F5223", "果品、蔬菜零售", 6.0, -0.1, ("水果店", "蔬菜店", "果蔬店")),
    ("F5224", "肉、禽、蛋、奶及水产品零售", 5.0, 0.0, ("生鲜店", "鲜肉店", "水产店")),
    ("F5226", "酒、饮料及茶叶零售", 3.0, 0.1, ("茶叶店", "酒行", "饮品店")),
    ("F5227", "烟草制品零售", 3.0, 0.1, ("烟酒店", "烟酒商行")),
    ("F5232", "服装零售", 6.0, -0.1, ("服装店", "服饰店")),
    ("F5233", "鞋帽零售", 2.0, -0.1, ("鞋店", "鞋帽店")),
    ("F5234", "化妆品及卫生用品零售", 2.0, 0.0, ("化妆品店",)),
    ("F5235", "厨具卫具及日用杂品零售", 2.0, -0.2, ("日杂店", "日用品店")),
    ("F5241", "文具用品零售", 1.0, -0.2, ("文具店",)),
    ("F5251", "西药零售", 1.0, 0.5, ("大药房", "药店")),
    ("F5263", "汽车零配件零售", 1.5, 0.4, ("汽配店", "汽车配件经营部")),
    ("F5274", "通信设备零售", 1.5, 0.1, ("手机店", "通讯店")),
    ("F5281", "五金零售", 2.0, 0.1, ("五金店", "五金经营部")),
    ("F5292", "互联网零售", 3.0, -0.2, ("网店", "电子商务商行")),
    ("F5299", "其他未列明零售业", 2.0, -0.3, ("商行", "经营部")),
    ("H6210", "正餐服务", 6.0, 0.4, ("餐馆", "酒家", "饭店")),
    ("H6220", "快餐服务", 5.0, 0.1, ("快餐店", "餐饮店")),
    ("H6231", "茶馆服务", 1.0, 0.0, ("茶馆", "茶社")),
    ("H6239", "其他饮料及冷饮服务", 1.5, -0.1, ("奶茶店", "冷饮店")),
    ("H6291", "小吃服务", 6.0, -0.2, ("热干面馆", "小吃店", "早点铺")),
    ("H6129", "其他一般旅馆", 1.0, 0.3, ("旅社", "宾馆", "招待所")),
    ("O8030", "洗染服务", 1.0, -0.2, ("干洗店",)),
    ("O8040", "理发及美容服务", 4.0, -0.1, ("理发店", "美发店", "美容店")),
    ("O8052", "足浴服务", 1.0, 0.2, ("足浴店", "足道馆")),
    ("O8060", "摄影扩印服务", 0.5, -0.2, ("照相馆", "摄影工作室")),
    ("O8111", "汽车修理与维护", 2.0, 0.5, ("汽车修理部", "汽车维修店")),
    ("O8122", "通讯设备修理", 0.5, -0.3, ("手机维修店",)),
    ("O8132", "日用电器修理", 0.5, -0.3, ("家电维修部",)),
    ("O8192", "鞋和皮革修理", 0.3, -0.5, ("修鞋店", "皮具护理店")),
    ("G5431", "普通货物道路运输", 1.5, 0.2, ("货运部", "运输队")),
    ("C1411", "糕点、面包制造", 0.5, 0.2, ("面包坊", "糕点坊")),
    ("K7030", "房地产中介服务", 0.5, 0.0, ("房屋中介", "房产信息部")),
    ("R8930", "健身休闲活动", 0.3, 0.1, ("健身馆",)),
    ("R9013", "网吧活动", 0.3, 0.2, ("网吧",)),
    ("P8393", "文化艺术培训", 0.5, 0.0, ("艺术培训工作室",)),
)

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌辉鹏飞俊峰波宇浩凯"
    "健琴云莉梅燕翠丹婷雪琳晶慧佳欣怡子涵雨轩博文昊然梓萱诗家豪德成海林荣庆春生福贵金银"
)
_BRANDS = (  # noqa: SIM905
    "鑫源 兴隆 福满 家乐 惠民 金源 顺发 红星 江城 楚味 好运 旺福 佳佳 明珠 德顺 "
    "万家 百味 欣欣 和记 老街 民生 康乐 天天 平安 新世纪 大众 乐购 永兴 恒通 华盛"
).split()
_MOBILE_PREFIXES = (  # noqa: SIM905
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 173 "
    "175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 198 199"
).split()
#: division codes for ID numbers with the year each came into use (an ID carries the code in use
#: when it was issued)
_ID_AREAS = (  # noqa: SIM905
    "420102/1983 420103/1983 420104/1983 420105/1983 420106/1983 420107/1983 420111/1983 "
    "420112/1983 420113/1984 420114/1992 420115/1995 420116/1998 420117/1998 420202/1983 "
    "420281/1994 420302/1984 420503/1986 420582/1992 420602/1984 420683/1989 420702/1987 "
    "420804/2001 420881/1996 420902/1993 420921/1993 420982/1993 420984/1997 421002/1994 "
    "421081/1994 421102/1995 421124/1995 421125/1995 421181/1995 421202/1998 421221/1998 "
    "421281/1998 422801/1981 422802/1986 429004/1994 429005/1994 429006/1994 430102/1983 "
    "430602/1984 411302/1994 411521/1998 360102/1983 361002/2000 340102/1983 500101/1998 "
    "510104/1990 320102/1983"
).split()
_REMARKS = ("已迁址", "电话空号", "经营场所变更", "联系不上经营者", "已申请简易注销", "待核实")
_ACTIVE_STATUSES = ("存续", "在营", "开业")

#: headers written for each canonical field; a field listing several aliases rotates through them
#: (``year index + offset``), so the years of a multi-year sample use different accepted headers.
#: ``None`` as field marks an extra column the pipeline does not know and must ignore.
_ANNUAL_COLUMNS: tuple[tuple[str | None, tuple[str, ...], int], ...] = (
    ("uscc", ("统一社会信用代码", "社会信用代码", "信用代码"), 0),
    ("name", ("个体工商户名称", "字号名称", "名称"), 0),
    ("operator_name", ("经营者姓名", "经营者"), 1),
    ("operator_id", ("经营者身份证号码", "身份证号码"), 1),
    ("phone", ("联系电话",), 0),
    ("region_code", ("行政区划代码", "所属区划"), 0),
    ("industry_code", ("行业代码", "国民经济行业代码"), 1),
    ("established_on", ("成立日期", "注册日期"), 0),
    ("register_status", ("登记状态",), 0),
    (None, ("登记机关",), 0),
    ("report_year", ("年报年度",), 0),
    ("reported_on", ("年报报送日期", "报送日期"), 1),
    ("report_status", ("年报经营状态",), 0),
    ("employees", ("从业人数",), 0),
    ("revenue", ("营业额", "营业额或营业收入"), 0),
    ("tax_total", ("纳税总额",), 0),
    ("online_store", ("是否有网站或网店",), 0),
    ("abnormal", ("经营异常标记", "是否经营异常"), 1),
    ("serious_dishonest", ("严重违法失信", "是否列入严重违法失信名单"), 0),
    ("party_members", ("党员人数",), 0),
    (None, ("备注",), 0),
)
_TAX_COLUMNS: tuple[tuple[str | None, tuple[str, ...], int], ...] = (
    ("uscc", ("纳税人识别号", "统一社会信用代码"), 0),
    (None, ("纳税人名称",), 0),
    ("tax_year", ("所属年度",), 0),
    ("levy_method", ("征收方式",), 0),
    ("taxpayer_type", ("纳税人类型",), 0),
    ("credit_rating", ("纳税信用等级",), 0),
    ("sales", ("销售额", "申报销售额"), 1),
    ("tax_paid", ("实缴税额", "实际缴纳税额"), 0),
    ("abnormal_taxpayer", ("非正常户",), 0),
    (None, ("税务登记日期",), 0),
)
_SOCIAL_COLUMNS: tuple[tuple[str | None, tuple[str, ...], int], ...] = (
    ("uscc", ("单位统一社会信用代码", "统一社会信用代码"), 0),
    (None, ("单位名称",), 0),
    ("insured_count", ("参保人数", "在职参保人数"), 1),
    ("operator_insured", ("经营者参保",), 0),
)
_COLUMNS = {"annual": _ANNUAL_COLUMNS, "tax": _TAX_COLUMNS, "social": _SOCIAL_COLUMNS}

#: the extra (unknown) columns written into each extract; the pipeline must ignore them
EXTRA_HEADERS: dict[str, tuple[str, ...]] = {
    extract: tuple(h for field, hs, _ in cols if field is None for h in hs)
    for extract, cols in _COLUMNS.items()
}

# internal column names of the rendered frames (header text decided at write time)
_X_REGISTRY, _X_REMARK, _X_TAXNAME, _X_TAXREG, _X_UNITNAME = (
    "x_registry",
    "x_remark",
    "x_taxname",
    "x_taxreg",
    "x_unitname",
)
_EXTRA_FIELD = {
    "登记机关": _X_REGISTRY,
    "备注": _X_REMARK,
    "纳税人名称": _X_TAXNAME,
    "税务登记日期": _X_TAXREG,
    "单位名称": _X_UNITNAME,
}

#: rates of deliberate data problems, per extract row (each at least once when rows >= 200)
PROBLEM_RATES: dict[str, dict[str, float]] = {
    "annual": {
        "code_length": 0.0015,
        "code_char": 0.001,
        "code_not_92": 0.002,
        "bad_int": 0.001,
        "bad_date": 0.0015,
        "bad_bool": 0.001,
        "bad_decimal": 0.0005,
        "missing_established": 0.001,
        "missing_status": 0.001,
        "exact_duplicate": 0.003,
        "conflicting_duplicate": 0.002,
    },
    "tax": {
        "code_length": 0.0015,
        "code_char": 0.001,
        "code_not_92": 0.002,  # extra rows: enterprise taxpayers (91…) in the extract
        "orphan": 0.004,  # extra rows: valid 92 codes that are not in annual
        "bad_int": 0.0005,
        "bad_decimal": 0.001,
        "bad_bool": 0.001,
        "exact_duplicate": 0.003,
        "conflicting_duplicate": 0.002,
    },
    "social": {
        "code_length": 0.002,
        "code_char": 0.001,
        "code_not_92": 0.003,
        "orphan": 0.005,
        "bad_int": 0.002,
        "bad_bool": 0.002,
        "exact_duplicate": 0.003,
        "conflicting_duplicate": 0.003,
    },
}
#: share of businesses whose officially issued 92 code fails the check (kept, flagged)
CHECK_MISMATCH_RATE = 0.003
#: share of an earlier run's population that is gone by the next run (per earlier year)
VANISH_RATE = 0.03

_BOOL_STYLES = (("是", "否"), ("Y", "N"), ("1", "0"), ("true", "false"))
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%-m/%-d", "%Y年%-m月%-d日", "%Y%m%d")
_ASCII36 = [*"0123456789", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
_FULLWIDTH36 = [chr(ord(c) + 0xFEE0) for c in _ASCII36]
_DIGITS = list("0123456789")
_FULLWIDTH_DIGITS = [chr(ord(c) + 0xFEE0) for c in _DIGITS]


@dataclass(frozen=True)
class SamplesResult:
    """What `generate_samples` wrote."""

    files: dict[str, list[Path]]  # key f"{report_year}/{extract}" -> files written, sorted
    rows: dict[str, int]  # same keys -> data rows written (incl. deliberate duplicates/bad rows)


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------


def _minus_years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year - n)
    except ValueError:  # 29 February
        return d.replace(year=d.year - n, day=28)


def _d64(d: date) -> np.datetime64:
    return np.datetime64(d.isoformat(), "D")


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def _pick(rng: np.random.Generator, n: int, weights: Sequence[float]) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _take(values: Sequence[str], idx: np.ndarray) -> pl.Series:
    return pl.Series(values=list(values), dtype=pl.String).gather(idx)


def _bytes_to_str(mat: np.ndarray) -> pl.Series:
    """(n, w) uint8 ASCII matrix -> String series."""
    n, w = mat.shape
    raw = np.ascontiguousarray(mat).view(f"S{w}").reshape(n)
    return pl.Series(raw).cast(pl.String)


def _uscc(
    prefix: str,
    region: np.ndarray,
    org7: np.ndarray,
    wrong: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> pl.Series:
    """Credit codes ``prefix + region (6 digits) + 'MA' + 7 chars + check`` (GB 32100-2015).

    ``region`` is an int array of 6-digit division codes, ``org7`` ints in [0, 31**7). Rows flagged
    in ``wrong`` get a check character that is off by a random non-zero amount.
    """
    n = len(org7)
    lut = np.frombuffer(USCC_CHARSET.encode(), dtype=np.uint8)
    mat = np.empty((n, 18), dtype=np.uint8)
    total = np.zeros(n, dtype=np.int64)

    def put(i: int, v: np.ndarray | int) -> None:
        nonlocal total
        mat[:, i] = lut[v]
        total += np.asarray(v, dtype=np.int64) * int(_USCC_WEIGHTS[i])

    put(0, USCC_CHARSET.index(prefix[0]))
    put(1, USCC_CHARSET.index(prefix[1]))
    r = region.astype(np.int64)
    for i in range(6):
        put(7 - i, r % 10)
        r = r // 10
    put(8, USCC_CHARSET.index("M"))
    put(9, USCC_CHARSET.index("A"))
    o = org7.astype(np.int64)
    for i in range(7):
        put(16 - i, o % 31)
        o = o // 31
    check = (31 - total % 31) % 31
    if wrong is not None and rng is not None and wrong.any():
        check = np.where(wrong, (check + rng.integers(1, 31, size=n)) % 31, check)
    mat[:, 17] = lut[check]
    return _bytes_to_str(mat)


def _org7(gidx: np.ndarray, seed: int) -> np.ndarray:
    """A seed-dependent bijection of business numbers onto the 31**7 organisation codes."""
    a = 1_000_003 + 62 * (seed % 9_973_117)  # ≡ 5 (mod 31): never a multiple of 31
    b = (seed * 2_654_435_761) % _ORG_SPACE
    p = (gidx.astype(np.int64) * a + b) % _ORG_SPACE
    # two unbalanced Feistel rounds (31**3 x 31**4) so neighbouring numbers look unrelated
    lo_mod, hi_mod = 31**4, 31**3
    hi, lo = p // lo_mod, p % lo_mod
    for key in (seed % 65_521, (seed // 7) % 65_519):
        lo = (lo + ((hi * 2_654_435_761 + key) ^ (hi >> 3))) % lo_mod
        hi = (hi + ((lo * 40_503 + key) ^ (lo >> 5))) % hi_mod
    return hi * lo_mod + lo


def _id_numbers(rng: np.random.Generator, n: int, run_day: date) -> pl.Series:
    """18-digit resident ID numbers (GB 11643) with a valid check character; synthetic."""
    codes = np.array([int(a.split("/")[0]) for a in _ID_AREAS], dtype=np.int64)
    since = np.array([int(a.split("/")[1]) for a in _ID_AREAS], dtype=np.int64)
    pick = np.where(rng.random(n) < 0.7, rng.integers(0, 13, n), rng.integers(0, len(codes), n))
    age_days = (rng.uniform(20.0, 68.0, n) * 365.25).astype(np.int64)
    born = _d64(run_day) - age_days.astype("timedelta64[D]")
    year = born.astype("datetime64[Y]")
    # the code in use when the ID was issued (at 16 at the latest)
    too_early = year.astype(np.int64) + 1970 + 16 < since[pick]
    area = np.where(too_early, codes[rng.integers(0, 8, n)], codes[pick])
    month = born.astype("datetime64[M]")
    parts = (
        (area, 6),
        (year.astype(np.int64) + 1970, 4),
        ((month - year).astype(np.int64) + 1, 2),
        ((born - month).astype(np.int64) + 1, 2),
        (rng.integers(0, 1000, n), 3),
    )
    mat = np.empty((n, 18), dtype=np.uint8)
    col = 0
    for value, width in parts:
        v = value.astype(np.int32)
        for i in range(width - 1, -1, -1):
            mat[:, col + i] = v % 10
            v //= 10
        col += width
    rem = np.zeros(n, dtype=np.int32)
    for i in range(17):
        rem += mat[:, i].astype(np.int32) * pow(2, 17 - i, 11)
    mat[:, :17] += ord("0")
    mat[:, 17] = np.frombuffer(b"10X98765432", dtype=np.uint8)[rem % 11]
    return _bytes_to_str(mat)


def _fmt_decimal(x: pl.Series, digits: int = 2) -> pl.Series:
    return x.round(digits).cast(pl.String)


def _thousands(plain: pl.Series) -> pl.Series:
    """'1234567.5' -> '1,234,567.5'."""
    parts = plain.str.split_exact(".", 1)
    ip = parts.struct.field("field_0")
    fp = parts.struct.field("field_1")
    grouped = ip.str.reverse().str.replace_all(r"(\d{3})", "${1},").str.reverse()
    grouped = grouped.str.strip_chars_start(",")
    return (
        pl.DataFrame({"i": grouped, "f": fp})
        .select(
            pl.when(pl.col("f").is_null())
            .then(pl.col("i"))
            .otherwise(pl.concat_str([pl.col("i"), pl.lit("."), pl.col("f")]))
        )
        .to_series()
    )


def _patch(s: pl.Series, idx: np.ndarray, fn: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """Replace ``s[idx]`` by ``fn(s[idx])``."""
    if len(idx) == 0:
        return s
    new = fn(s.gather(idx)).cast(s.dtype)
    out = s.clone()
    out.scatter(idx, new)
    return out


def _set(s: pl.Series, idx: np.ndarray, value: str | pl.Series | None) -> pl.Series:
    if len(idx) == 0:
        return s
    out = s.clone()
    if isinstance(value, pl.Series):
        out.scatter(idx, value.cast(s.dtype))
    else:
        out.scatter(idx, pl.repeat(value, len(idx), dtype=s.dtype, eager=True))
    return out


def _nulls(n: int, dtype: Any = pl.String) -> pl.Series:
    return pl.repeat(None, n, dtype=dtype, eager=True)


def _where(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask)


def _assign_problems(
    rng: np.random.Generator, n: int, rates: dict[str, float], force: bool, exclude: np.ndarray
) -> dict[str, np.ndarray]:
    """Disjoint random row positions for each problem; at least one each when ``force``."""
    ok = np.ones(n, dtype=bool)
    ok[exclude] = False
    perm = rng.permutation(np.flatnonzero(ok))
    out: dict[str, np.ndarray] = {}
    pos = 0
    for name, rate in rates.items():
        k = int(rng.binomial(n, rate)) if n else 0
        if force:
            k = max(k, 1)
        k = min(k, len(perm) - pos)
        out[name] = np.sort(perm[pos : pos + k])
        pos += k
    return out


def _bool_strings(
    values: pl.Series, rng: np.random.Generator, style: int, other_rate: float = 0.03
) -> pl.Series:
    """Booleans written in one house style, with ``other_rate`` of rows in the other styles."""
    n = len(values)
    styles = np.where(rng.random(n) < other_rate, rng.integers(0, 4, n), style)
    out = _nulls(n)
    vals = values.fill_null(False).to_numpy()
    isnull = values.is_null().to_numpy()
    for s_i, (yes, no) in enumerate(_BOOL_STYLES):
        sel = (styles == s_i) & ~isnull
        t = _where(sel & vals)
        f = _where(sel & ~vals)
        out = _set(out, t, yes)
        out = _set(out, f, no)
    return out


def _date_strings(values: pl.Series, fmt_idx: np.ndarray) -> pl.Series:
    out = _nulls(len(values))
    for f_i, fmt in enumerate(_DATE_FORMATS):
        idx = _where(fmt_idx == f_i)
        if len(idx):
            out = _set(out, idx, values.gather(idx).dt.strftime(fmt))
    return out


def _date_format_index(
    rng: np.random.Generator, n: int, dominant: np.ndarray | int, other_rate: float = 0.06
) -> np.ndarray:
    base = np.broadcast_to(np.asarray(dominant, dtype=np.int64), (n,))
    return np.where(rng.random(n) < other_rate, rng.integers(0, 4, n), base)


def _code_noise(s: pl.Series, rng: np.random.Generator, skip: np.ndarray) -> pl.Series:
    """Full-width characters (1.5 %), spaces (1 %), lower case (1 %) on a code column."""
    n = len(s)
    u = rng.random(n)
    u[skip] = 1.0
    s = _patch(s, _where(u < 0.015), lambda x: x.str.replace_many(_ASCII36, _FULLWIDTH36))
    s = _patch(s, _where((u >= 0.015) & (u < 0.020)), lambda x: " " + x + " ")
    s = _patch(s, _where((u >= 0.020) & (u < 0.025)), lambda x: x + "\u3000")
    s = _patch(s, _where((u >= 0.025) & (u < 0.035)), lambda x: x.str.to_lowercase())
    return s


def _code_problems(
    s: pl.Series, rng: np.random.Generator, length_idx: np.ndarray, char_idx: np.ndarray
) -> pl.Series:
    """Malformed codes: wrong length (17 or 19 characters) and forbidden letters I O S V Z."""

    def wrong_length(x: pl.Series) -> pl.Series:
        k = len(x)
        pad = _take(list(USCC_CHARSET), rng.integers(0, 31, k))
        short = x.str.slice(0, 17)
        long_ = x + pad
        pick = pl.Series(rng.random(k) < 0.5)
        return pl.select(pl.when(pick).then(short).otherwise(long_)).to_series()

    def bad_char(x: pl.Series) -> pl.Series:
        k = len(x)
        letter = _take(list("IOSVZ"), rng.integers(0, 5, k))
        return pl.select(pl.concat_str([x.str.slice(0, 12), letter, x.str.slice(13)])).to_series()

    s = _patch(s, length_idx, wrong_length)
    return _patch(s, char_idx, bad_char)


def _interleave(
    df: pl.DataFrame, extra: pl.DataFrame, after: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    """Insert ``extra`` rows: half right after the row in ``after``, half anywhere."""
    n = df.height
    if extra.height == 0:
        return df
    anywhere = rng.random(extra.height) < 0.5
    pos = np.where(anywhere, rng.integers(0, max(n, 1), extra.height), after)
    key = np.concatenate([np.arange(n, dtype=np.int64) * 2, pos.astype(np.int64) * 2 + 1])
    both = pl.concat([df, extra], how="vertical")
    return both.with_columns(pl.Series("__k", key)).sort("__k", maintain_order=True).drop("__k")


# ---------------------------------------------------------------------------------------------
# the population
# ---------------------------------------------------------------------------------------------


def _population(
    seed: int, chunk: int, start: int, n: int, n_latest: int, run_dates: list[date]
) -> dict[str, Any]:
    """Persistent attributes of businesses ``start .. start+n`` of the master population.

    Businesses ``0 .. n_latest-1`` are present in the latest run (subject to their founding date);
    later numbers are present only in an earlier run (``vanish`` = the latest run index, counted
    backwards, in which they still appear).
    """
    rng = _rng(seed, 1, chunk)
    years = len(run_dates)
    gidx = np.arange(start, start + n, dtype=np.int64)
    vanish = np.zeros(n, dtype=np.int64)
    tail = gidx >= n_latest
    if years > 1 and tail.any():
        vanish[tail] = rng.integers(1, years, int(tail.sum()))
    district = _pick(rng, n, [w for *_, w in DISTRICTS])
    industry = _pick(rng, n, [ind[2] for ind in INDUSTRIES])

    # founding dates, relative to the latest run a business is present in
    ref = np.array([_d64(d) for d in run_dates])[vanish]
    span = (ref - np.datetime64("1995-01-01")).astype(np.int64)
    age = np.where(rng.random(n) < 0.85, rng.gamma(1.5, 5.0, n), rng.random(n) * span / 365.25)
    age_days = np.clip((age * 365.25).astype(np.int64) + 1, 1, span)
    est = ref - age_days.astype("timedelta64[D]")
    latest = _where(vanish == 0)
    # a sizeable sample shows every edge case at least twice (in its first chunk); those rows are
    # kept clear of deliberate data problems
    guard = chunk == 0 and n_latest >= 200
    protected: list[np.ndarray] = []

    def some(rate: float) -> np.ndarray:
        hit = latest[rng.random(len(latest)) < rate]
        if guard:
            forced = latest[rng.choice(len(latest), 2, replace=False)]
            protected.append(forced)
            hit = np.union1d(hit, forced)
        return hit

    # boundary dates: exactly 1 and 3 years before each run date, and the day after; 1 January
    # of the run year; 29 February founding dates
    for d in run_dates:
        for target in (
            _minus_years(d, 1),
            _minus_years(d, 1) + timedelta(days=1),
            _minus_years(d, 3),
            _minus_years(d, 3) + timedelta(days=1),
            date(d.year, 1, 1),
        ):
            hit = some(0.0015)
            if target < run_dates[0]:
                est[hit] = _d64(target)
    leaps = [y for y in range(1996, run_dates[0].year + 1, 4) if date(y, 2, 29) < run_dates[0]]
    hit = some(0.001)
    est[hit] = np.array([_d64(date(y, 2, 29)) for y in leaps])[
        rng.integers(0, len(leaps), len(hit))
    ]

    # latent scale: industry shift + persistent noise; drifts back in time by `steps`
    shift = np.array([ind[3] for ind in INDUSTRIES])[industry]
    young = (ref - est).astype(np.int64) < 730
    z = rng.normal(0.0, 1.0, n) + shift - 0.25 * young
    steps = np.zeros((years, n))
    if years > 1:
        steps[1:] = rng.normal(0.08, 0.35, (years - 1, n))
    z_by_year = z[None, :] - np.cumsum(steps, axis=0)

    # status events (注销 吊销 撤销 迁出 歇业) and how many runs back they happened
    ev = _pick(rng, n, [90.6, 5.5, 1.5, 0.1, 0.3, 2.0])  # none, 注销, 吊销, 撤销, 迁出, 歇业
    ev_back = np.minimum(rng.geometric(0.3, n) - 1, (ref - est).astype(np.int64) // 365)
    active_label = _pick(rng, n, [55, 25, 20])

    pop: dict[str, Any] = {
        "gidx": gidx,
        "vanish": vanish,
        "district": district,
        "industry": industry,
        "est": est,
        "z_by_year": z_by_year,
        "ev": ev,
        "ev_back": ev_back,
        "active_label": active_label,
        "e_rev": rng.normal(0.0, 1.0, n),
        "e_emp": rng.normal(0.0, 1.0, n),
        "e_tax": rng.normal(0.0, 1.0, n),
        "e_soc": rng.normal(0.0, 1.0, n),
        "e_gt": rng.normal(0.0, 1.0, n),
        "diligence": rng.random(n),
        "w_abn": rng.random(n),
        "w_abn2": rng.random(n),
        "w_dis": rng.random(n),
        "w_rs": rng.random(n),
        "t_tax": rng.random(n),
        "sales_zero": rng.random(n),
        "levy": _pick(rng, n, [80, 10, 10]),
        "rating": _pick(rng, n, [45, 35, 6, 9, 3, 2]),
        "online": rng.random(n),
        "party": _pick(rng, n, [96.5, 3.0, 0.5]),
        "op_insured": rng.random(n),
    }

    # guaranteed strong businesses (development tier) in the first chunk of a sizeable sample
    stars = np.empty(0, dtype=np.int64)
    late = np.zeros(n, dtype=bool)  # filed after the run date, in every run
    if guard:
        free = latest[~np.isin(latest, np.concatenate(protected))]
        stars, filer = np.split(free[rng.choice(len(free), 4, replace=False)], 2)
        est[stars] = ref[stars] - (rng.integers(5 * 365, 15 * 365, len(stars))).astype(
            "timedelta64[D]"
        )
        z_by_year[:, stars] = 3.3
        for key in ("e_rev", "e_tax", "e_soc", "e_gt", "e_emp"):
            pop[key][stars] = 1.2
        pop["ev"][stars] = 0
        pop["diligence"][stars] = 0.99
        for key in ("w_abn", "w_abn2", "w_dis", "w_rs", "sales_zero"):
            pop[key][stars] = 0.999
        pop["t_tax"][stars] = 0.0
        late[filer] = True
        est[filer] = np.minimum(est[filer], ref[filer] - np.timedelta64(800, "D"))
        pop["diligence"][filer] = 0.99
        pop["ev"][filer] = 0
        protected.extend([stars, filer])
    pop["stars"] = stars
    pop["late"] = late
    pop["protected"] = np.unique(np.concatenate([np.empty(0, dtype=np.int64), *protected]))

    # codes: a few officially issued codes fail the check (consistently in every extract)
    mismatch = rng.random(n) < CHECK_MISMATCH_RATE
    if guard:
        pool = latest[~np.isin(latest, pop["protected"])]
        mismatch[pool[rng.choice(len(pool), 2, replace=False)]] = True
    mismatch[stars] = False
    region_int = np.array([int(c) for c, *_ in DISTRICTS], dtype=np.int64)[district]
    org7 = _org7(gidx, seed)
    pop["region_int"] = region_int
    pop["org7"] = org7
    pop["mismatch"] = mismatch
    pop["uscc"] = _uscc("92", region_int, org7, mismatch, rng)

    # operators and names
    sur = _take(list(_SURNAMES), rng.integers(0, len(_SURNAMES), n))
    g1 = _take(list(_GIVEN), rng.integers(0, len(_GIVEN), n))
    g2 = _take(list(_GIVEN), rng.integers(0, len(_GIVEN), n))
    g2 = _set(g2, _where(rng.random(n) < 0.3), None)
    operator = pl.select(pl.concat_str([sur, g1, g2], ignore_nulls=True)).to_series()
    pop["operator_name"] = operator
    pop["operator_id"] = _id_numbers(rng, n, run_dates[0])
    mobile = _take(_MOBILE_PREFIXES, rng.integers(0, len(_MOBILE_PREFIXES), n))
    pop["phone"] = mobile + pl.Series(rng.integers(0, 10**8, n)).cast(pl.String).str.zfill(8)

    dist_name = _take([d[1] for d in DISTRICTS], district)
    offsets = np.cumsum([0] + [len(ind[4]) for ind in INDUSTRIES])
    counts = np.array([len(ind[4]) for ind in INDUSTRIES])[industry]
    suffix_idx = offsets[industry] + (rng.random(n) * counts).astype(np.int64)
    suffix = _take([s for ind in INDUSTRIES for s in ind[4]], suffix_idx)
    brand = _take(_BRANDS, rng.integers(0, len(_BRANDS), n))
    # 武汉市洪山区鑫源便利店 / 洪山区鑫源便利店 / 武汉市洪山区张伟水果店
    form = rng.random(n)
    city = _take(("武汉市", ""), ((form >= 0.4) & (form < 0.75)).astype(np.int64))
    middle = _patch(brand, _where(form >= 0.75), lambda _: operator.filter(pl.Series(form >= 0.75)))
    name = pl.select(pl.concat_str([city, dist_name, middle, suffix])).to_series()
    pop["name"] = name
    pop["name_missing"] = rng.random(n)
    return pop


# ---------------------------------------------------------------------------------------------
# one run's clean state
# ---------------------------------------------------------------------------------------------


def _year_state(
    pop: dict[str, Any], k: int, run_dates: list[date], seed: int, chunk: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Clean, typed annual / tax / social rows of run ``k`` (0 = latest) for one chunk."""
    rng = _rng(seed, 2, chunk, k)
    d = run_dates[k]
    y = d.year - 1
    d64 = _d64(d)
    jan1 = _d64(date(d.year, 1, 1))
    sel = _where((pop["vanish"] <= k) & (pop["est"] < d64))
    n = len(sel)

    def g(key: str) -> np.ndarray:
        arr: np.ndarray = pop[key][sel]
        return arr

    est = g("est")
    z = pop["z_by_year"][k][sel]
    new = est >= jan1  # founded in the run year: exempt from reporting
    ev = g("ev")
    happened = (ev > 0) & (g("ev_back") >= k)
    gone = happened & (ev >= 1) & (ev <= 4)  # 注销 吊销 撤销 迁出
    closed = happened & (ev == 5)  # 歇业
    status = _take(_ACTIVE_STATUSES, g("active_label"))
    for code, label in ((1, "注销"), (2, "吊销"), (3, "撤销"), (4, "迁出"), (5, "歇业")):
        status = _set(status, _where(happened & (ev == code)), label)

    # annual report for year y, filed in January-June of the run year
    dil = 0.92 * g("diligence") + 0.08 * rng.random(n)
    reported = (dil > 0.17) & ~new
    reported &= ~gone | (rng.random(n) < 0.1)
    reported &= ~closed | (rng.random(n) < 0.5)
    gap = rng.geometric(0.5, n)
    last = y - gap
    est_year = est.astype("datetime64[Y]").astype(np.int64) + 1970
    never = ~reported & ((last < est_year) | (rng.random(n) < 0.3) | new)
    has_report = ~never
    report_year = np.where(reported, y, last)
    filing_year = report_year + 1
    day = (rng.beta(2.2, 1.2, n) * 181).astype(np.int64)
    filed = np.array(
        [_d64(date(fy, 1, 1)) for fy in range(1990, d.year + 2)], dtype="datetime64[D]"
    )[np.clip(filing_year - 1990, 0, d.year + 1 - 1990)] + day.astype("timedelta64[D]")
    star = np.isin(sel, pop["stars"])
    protected = np.isin(sel, pop["protected"])
    late = reported & ((rng.random(n) < 0.003) | g("late")) & ~star
    filed = np.where(late, d64 + rng.integers(1, 40, n).astype("timedelta64[D]"), filed)
    report_status = np.where(
        ((closed & (rng.random(n) < 0.6)) | (g("w_rs") < 0.025)) & ~star, "歇业", "开业"
    )

    emp_score = 0.7 * z + 0.7 * g("e_emp")
    employees = np.where(
        emp_score < 0.5,
        1,
        np.where(emp_score < 1.8, 2, 3 + np.floor((emp_score - 1.8) * 4.0)),
    ).astype(np.int64)
    employees = np.minimum(employees, 80)
    revenue = np.exp(2.0 + 0.95 * (0.8 * z + 0.6 * g("e_rev")))  # 万元
    revenue = np.round(revenue * np.exp(rng.normal(0.0, 0.05, n)), 2)

    # tax extract: registered taxpayers for year y
    p_tax = 1.0 / (1.0 + np.exp(-(0.1 + 0.9 * z)))
    has_tax = (g("t_tax") < p_tax) & ~new & ~(gone & (g("ev_back") > k))
    general = (z + 0.5 * g("e_gt")) > 2.55
    sales = revenue * 10_000 * np.exp(rng.normal(0.0, 0.25, n))
    sales = np.where((g("sales_zero") < 0.3) & (z < 1.0) & ~general, 0.0, np.round(sales, 2))
    pays = ((z + 0.6 * g("e_tax")) > 2.2) | general
    tax_paid = np.where(
        sales > 0, sales * rng.uniform(0.01, 0.035, n), np.exp(rng.normal(6.0, 1.0, n))
    )
    tax_paid = np.where(pays, np.round(tax_paid, 2), 0.0)
    levy = np.where(general, 1, g("levy"))
    # annual 纳税总额 (万元): mirrors tax paid; a few non-registered businesses declare some tax
    tax_total = np.where(has_tax, np.round(tax_paid / 10_000 * rng.uniform(0.8, 1.1, n), 2), 0.0)
    tax_total = np.where(
        ~has_tax & (rng.random(n) < 0.012), np.round(rng.uniform(0.01, 0.5, n), 2), tax_total
    )

    # social extract: employers with insured staff
    soc_score = z + 0.8 * g("e_soc")
    has_soc = (soc_score > 2.1) & ~(gone & (g("ev_back") > k))
    insured = 1 + np.floor(np.maximum(0.0, soc_score - 2.1) * 2.2).astype(np.int64)
    insured = np.where(rng.random(n) < 0.04, 0, np.minimum(insured, 60))

    # flags
    abnormal = (~reported & ~new & (g("w_abn") < 0.3)) | (g("w_abn2") < 0.012)
    dishonest = g("w_dis") < 0.003

    def opt(values: np.ndarray, mask: np.ndarray, dtype: Any) -> pl.Series:
        s = pl.Series(values).cast(dtype)
        return _set(s, _where(~mask), None) if (~mask).any() else s

    region = _take([c for c, *_ in DISTRICTS], g("district"))
    registry = _take([f"武汉市{nm}市场监督管理局" for _, nm, _ in DISTRICTS], g("district"))
    remark = _take(_REMARKS, rng.integers(0, len(_REMARKS), n))
    remark = _set(remark, _where(rng.random(n) >= 0.03), None)
    name = pop["name"].gather(sel)
    name = _set(name, _where(g("name_missing") < 0.35), None)
    online = g("online") < 0.13
    party = g("party")

    annual = pl.DataFrame(
        {
            "uscc": pop["uscc"].gather(sel),
            "name": name,
            "operator_name": pop["operator_name"].gather(sel),
            "operator_id": _set(pop["operator_id"].gather(sel), _where(rng.random(n) < 0.2), None),
            "phone": _set(pop["phone"].gather(sel), _where(rng.random(n) < 0.15), None),
            "region_code": region,
            "industry_code": _take([ind[0] for ind in INDUSTRIES], g("industry")),
            "established_on": pl.Series(est),
            "register_status": status,
            _X_REGISTRY: registry,
            "report_year": opt(report_year, has_report, pl.Int64),
            "reported_on": opt(filed, has_report, pl.Date),
            "report_status": opt(report_status, has_report, pl.String),
            "employees": opt(employees, has_report, pl.Int64),
            "revenue": opt(revenue, has_report, pl.Float64),
            "tax_total": opt(tax_total, has_report, pl.Float64),
            "online_store": opt(online, has_report & (rng.random(n) < 0.9), pl.Boolean),
            "abnormal": opt(abnormal, rng.random(n) < 0.95, pl.Boolean),
            "serious_dishonest": opt(dishonest, rng.random(n) < 0.95, pl.Boolean),
            "party_members": opt(party, has_report & (rng.random(n) < 0.4), pl.Int64),
            _X_REMARK: remark,
            # internals for rendering
            "_district": pl.Series(g("district")),
            "_org7": pl.Series(g("org7")),
            "_region_int": pl.Series(g("region_int")),
            "_protected": pl.Series(protected),
        }
    )

    ts = _where(has_tax)
    reg_on = est[ts] + rng.integers(0, 60, len(ts)).astype("timedelta64[D]")
    taxpayer_type = np.where(general[ts], "一般纳税人", "小规模纳税人")
    tax = pl.DataFrame(
        {
            "uscc": pop["uscc"].gather(sel[ts]),
            _X_TAXNAME: pl.select(
                pl.coalesce(name.gather(ts), pop["operator_name"].gather(sel[ts]))
            ).to_series(),
            "tax_year": opt(np.full(len(ts), y), rng.random(len(ts)) < 0.99, pl.Int64),
            "levy_method": _take(("定期定额征收", "查账征收", "核定征收"), levy[ts]),
            "taxpayer_type": pl.Series(taxpayer_type),
            "credit_rating": _set(
                _take(("M", "B", "A", "C", "D", "M"), g("rating")[ts]),
                _where(g("rating")[ts] == 5),
                None,
            ),
            "sales": pl.Series(sales[ts]),
            "tax_paid": pl.Series(tax_paid[ts]),
            "abnormal_taxpayer": pl.Series(
                (rng.random(len(ts)) < 0.008) | (abnormal[ts] & (rng.random(len(ts)) < 0.15))
            ),
            _X_TAXREG: pl.Series(reg_on),
            "_org7": pl.Series(g("org7")[ts]),
            "_region_int": pl.Series(g("region_int")[ts]),
            "_protected": pl.Series(protected[ts]),
        }
    )

    ss = _where(has_soc)
    social = pl.DataFrame(
        {
            "uscc": pop["uscc"].gather(sel[ss]),
            _X_UNITNAME: name.gather(ss),
            "insured_count": pl.Series(insured[ss]),
            "operator_insured": opt(
                g("op_insured")[ss] < 0.4, rng.random(len(ss)) < 0.92, pl.Boolean
            ),
            "_org7": pl.Series(g("org7")[ss]),
            "_region_int": pl.Series(g("region_int")[ss]),
            "_protected": pl.Series(protected[ss]),
        }
    )
    return annual, tax, social


# ---------------------------------------------------------------------------------------------
# rendering: clean values -> the strings of a real export (messiness + deliberate problems)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    """House style of one extract file set (fixed for a year and extract, across chunks)."""

    date_dominant: tuple[int, int]  # dominant date format for north / south districts
    bools: tuple[int, ...]  # bool style per bool column


def _styles(seed: int, k: int) -> dict[str, _Style]:
    rng = _rng(seed, 3, k)
    north = 0 if k % 2 == 0 else 2
    south = int(rng.choice([1, 3]))
    return {
        "annual": _Style((north, south), tuple(int(x) for x in rng.integers(0, 4, 3))),
        "tax": _Style((0, 0), (int(rng.integers(0, 4)),)),
        "social": _Style((0, 0), (int(rng.integers(0, 4)),)),
    }


def _int_strings(values: pl.Series, rng: np.random.Generator) -> pl.Series:
    s = values.cast(pl.String)
    n = len(s)
    u = rng.random(n)
    s = _patch(s, _where(u < 0.004), lambda x: x.str.replace_many(_DIGITS, _FULLWIDTH_DIGITS))
    return _patch(s, _where((u >= 0.004) & (u < 0.01)), lambda x: " " + x)


def _amount_strings(values: pl.Series, rng: np.random.Generator, sep_rate: float) -> pl.Series:
    s = _fmt_decimal(values)
    n = len(s)
    big = (values.fill_null(0.0).abs() >= 1000).to_numpy()
    u = rng.random(n)
    s = _patch(s, _where(big & (u < sep_rate)), _thousands)
    s = _patch(s, _where(~big & (u < 0.005)), lambda x: x + " ")
    return s


def _coded(
    st: pl.DataFrame,
    rng: np.random.Generator,
    rates: dict[str, float],
    force: bool,
    protected: np.ndarray,
) -> tuple[dict[str, np.ndarray], pl.Series]:
    """The rows' deliberate problems, and their codes with noise and code problems applied."""
    prob = _assign_problems(rng, st.height, rates, force, protected)
    code = _code_noise(st["uscc"], rng, np.concatenate([prob["code_length"], prob["code_char"]]))
    return prob, _code_problems(code, rng, prob["code_length"], prob["code_char"])


def _render_annual(
    st: pl.DataFrame, rng: np.random.Generator, style: _Style, force: bool
) -> pl.DataFrame:
    n = st.height
    keep = _where(st["_protected"].to_numpy())
    prob, code = _coded(st, rng, PROBLEM_RATES["annual"], force, keep)
    south = np.isin(
        st["_district"].to_numpy(), [i for i, d in enumerate(DISTRICTS) if d[0] in _SOUTH]
    )
    bad92 = prob["code_not_92"]
    if len(bad92):
        prefix = np.where(rng.random(len(bad92)) < 0.8, 0, 1)  # 91 enterprise, 93 cooperative
        prefix[0] = 0
        alt91 = _uscc("91", st["_region_int"].to_numpy()[bad92], st["_org7"].to_numpy()[bad92])
        alt93 = _uscc("93", st["_region_int"].to_numpy()[bad92], st["_org7"].to_numpy()[bad92])
        code = _set(
            code,
            bad92,
            pl.select(
                pl.when(pl.lit(pl.Series(prefix == 0))).then(alt91).otherwise(alt93)
            ).to_series(),
        )

    dom = np.where(south, style.date_dominant[1], style.date_dominant[0])
    est = _date_strings(st["established_on"], _date_format_index(rng, n, dom))
    rep_on = _date_strings(st["reported_on"], _date_format_index(rng, n, dom))
    bad_date = prob["bad_date"]
    if len(bad_date):
        which = rng.random(len(bad_date)) < 0.5
        bad_vals = _take(
            ("{y}-13-45", "{y}/2/30", "{y}年13月1日", "{y}0231"), rng.integers(0, 4, len(bad_date))
        )
        yrs = st["established_on"].gather(bad_date).dt.year().cast(pl.String)
        bad_vals = pl.select(
            pl.concat_str(
                [bad_vals.str.split("{y}").list.first(), yrs, bad_vals.str.split("{y}").list.last()]
            )
        ).to_series()
        est = _set(est, bad_date[which], bad_vals.filter(pl.Series(which)))
        rep_on = _set(rep_on, bad_date[~which], bad_vals.filter(pl.Series(~which)))
    est = _set(est, prob["missing_established"], None)

    status = st["register_status"]
    status = _patch(status, _where(rng.random(n) < 0.005), lambda x: x + " ")
    status = _set(status, prob["missing_status"], None)

    employees = _int_strings(st["employees"], rng)
    if len(prob["bad_int"]):
        employees = _set(
            employees,
            prob["bad_int"],
            _take(
                ("三人", "abc", "两个", "1-2人", "若干"), rng.integers(0, 5, len(prob["bad_int"]))
            ),
        )
    revenue = _amount_strings(st["revenue"], rng, 0.5)
    u = rng.random(n)
    revenue = _patch(
        revenue, _where(u < 0.002), lambda x: x.str.replace_many(_DIGITS, _FULLWIDTH_DIGITS)
    )
    if len(prob["bad_decimal"]):
        revenue = _set(
            revenue,
            prob["bad_decimal"],
            _take(("约5万", "abc", "五万", "12..5"), rng.integers(0, 4, len(prob["bad_decimal"]))),
        )
    tax_total = _amount_strings(st["tax_total"], rng, 0.5)

    online = _bool_strings(st["online_store"], rng, style.bools[0])
    abnormal = _bool_strings(st["abnormal"], rng, style.bools[1])
    dishonest = _bool_strings(st["serious_dishonest"], rng, style.bools[2])
    bad_bool = prob["bad_bool"]
    if len(bad_bool):
        words = _take(("也许", "不详", "待定", "?"), rng.integers(0, 4, len(bad_bool)))
        which = rng.random(len(bad_bool)) < 0.5
        online = _set(online, bad_bool[which], words.filter(pl.Series(which)))
        abnormal = _set(abnormal, bad_bool[~which], words.filter(pl.Series(~which)))

    region = st["region_code"]
    u = rng.random(n)
    region = _patch(
        region, _where(u < 0.003), lambda x: x.str.replace_many(_DIGITS, _FULLWIDTH_DIGITS)
    )
    region = _patch(region, _where((u >= 0.003) & (u < 0.008)), lambda x: x + " ")
    region = _set(region, _where((u >= 0.008) & (u < 0.012)), None)
    industry = _set(st["industry_code"], _where(rng.random(n) < 0.01), None)
    operator = _patch(st["operator_name"], _where(rng.random(n) < 0.005), lambda x: x + " ")

    out = pl.DataFrame(
        {
            "uscc": code,
            "name": st["name"],
            "operator_name": operator,
            "operator_id": st["operator_id"],
            "phone": st["phone"],
            "region_code": region,
            "industry_code": industry,
            "established_on": est,
            "register_status": status,
            _X_REGISTRY: st[_X_REGISTRY],
            "report_year": _int_strings(st["report_year"], rng),
            "reported_on": rep_on,
            "report_status": st["report_status"],
            "employees": employees,
            "revenue": revenue,
            "tax_total": tax_total,
            "online_store": online,
            "abnormal": abnormal,
            "serious_dishonest": dishonest,
            "party_members": st["party_members"].cast(pl.String),
            _X_REMARK: st[_X_REMARK],
            "__south": pl.Series(south),
        }
    )

    # duplicates: verbatim copies, and copies of the same code with a different value
    exact = out[prob["exact_duplicate"]]
    conf_idx = prob["conflicting_duplicate"]
    conf = out[conf_idx]
    if len(conf_idx):
        variant = rng.integers(0, 3, len(conf_idx))
        emp2 = (st["employees"].gather(conf_idx).fill_null(1) + 1).cast(pl.String)
        rev2 = _fmt_decimal(st["revenue"].gather(conf_idx).fill_null(3.0) * 1.37 + 0.5)
        stat2 = pl.Series(
            np.where(st["register_status"].gather(conf_idx).to_numpy() == "歇业", "存续", "歇业")
        )
        v = pl.Series(variant)
        conf = conf.with_columns(
            employees=pl.when(v == 0).then(emp2).otherwise(pl.col("employees")),
            revenue=pl.when(v == 1).then(rev2).otherwise(pl.col("revenue")),
            register_status=pl.when(v == 2).then(stat2).otherwise(pl.col("register_status")),
        )
    extra = pl.concat([exact, conf], how="vertical")
    after = np.concatenate([prob["exact_duplicate"], conf_idx])
    return _interleave(out, extra, after, rng)


def _finish(
    out: pl.DataFrame,
    prob: dict[str, np.ndarray],
    conflicts: pl.DataFrame,
    rates: dict[str, float],
    rng: np.random.Generator,
    force: bool,
    orphan_base: int,
    seed: int,
    name_col: str,
) -> pl.DataFrame:
    """Add verbatim duplicates, conflicting duplicates, enterprise rows and orphans to ``out``.

    Enterprise rows carry well-formed ``91`` codes (an enterprise taxpayer / employer in the
    extract); orphans carry valid ``92`` codes of no business in `annual`. Business numbers from
    ``orphan_base`` on are reserved for them, so they never collide with a real business.
    """
    n = out.height
    k92 = int(rng.binomial(n, rates["code_not_92"])) if n else 0
    korph = int(rng.binomial(n, rates["orphan"])) if n else 0
    if force and n:
        k92, korph = max(k92, 1), max(korph, 1)
    regions = np.array([int(c) for c, *_ in DISTRICTS], dtype=np.int64)
    brand = _take(_BRANDS, rng.integers(0, len(_BRANDS), k92))
    ent = out[rng.integers(0, max(n, 1), k92)].with_columns(
        uscc=_uscc(
            "91",
            regions[rng.integers(0, len(regions), k92)],
            _org7(np.arange(k92, dtype=np.int64) + orphan_base, seed),
        ),
        **{name_col: "武汉" + brand + "商贸有限公司"},
    )
    orphan = out[rng.integers(0, max(n, 1), korph)].with_columns(
        uscc=_uscc(
            "92",
            regions[rng.integers(0, len(regions), korph)],
            _org7(np.arange(korph, dtype=np.int64) + orphan_base, seed),
        ),
        **{name_col: pl.lit(None, dtype=pl.String)},
    )
    extra = pl.concat([out[prob["exact_duplicate"]], conflicts, ent, orphan], how="vertical")
    after = np.concatenate(
        [
            prob["exact_duplicate"],
            prob["conflicting_duplicate"],
            rng.integers(0, max(n, 1), k92 + korph),
        ]
    )
    return _interleave(out, extra, after, rng)


def _render_tax(
    st: pl.DataFrame,
    rng: np.random.Generator,
    style: _Style,
    force: bool,
    orphan_base: int,
    seed: int,
) -> pl.DataFrame:
    n = st.height
    rates = PROBLEM_RATES["tax"]
    inrow = {k: v for k, v in rates.items() if k not in ("code_not_92", "orphan")}
    prob, code = _coded(st, rng, inrow, force, _where(st["_protected"].to_numpy()))

    sales = _amount_strings(st["sales"], rng, 0.3)
    paid = _amount_strings(st["tax_paid"], rng, 0.3)
    sales = _set(sales, _where(rng.random(n) < 0.01), None)
    bad_dec = prob["bad_decimal"]
    if len(bad_dec):
        words = _take(("abc", "十万", "--", "1.2.3"), rng.integers(0, 4, len(bad_dec)))
        which = rng.random(len(bad_dec)) < 0.5
        sales = _set(sales, bad_dec[which], words.filter(pl.Series(which)))
        paid = _set(paid, bad_dec[~which], words.filter(pl.Series(~which)))
    tax_year = _int_strings(st["tax_year"], rng)
    tax_year = _patch(  # 二〇二三年
        tax_year,
        prob["bad_int"],
        lambda x: x.str.replace_many(_DIGITS, list("〇一二三四五六七八九")) + "年",
    )
    abn = _bool_strings(st["abnormal_taxpayer"], rng, style.bools[0])
    abn = _set(
        abn, prob["bad_bool"], _take(("也许", "不详"), rng.integers(0, 2, len(prob["bad_bool"])))
    )
    reg = _date_strings(st[_X_TAXREG], _date_format_index(rng, n, 0, 0.1))

    # cells written as real numbers / dates in XLSX: the values without messiness
    plain = r"^-?\d+(\.\d+)?$"
    native = {
        "__xl_sales": pl.when(sales.str.contains(plain)).then(sales.cast(pl.Float64, strict=False)),
        "__xl_tax_paid": pl.when(paid.str.contains(plain)).then(
            paid.cast(pl.Float64, strict=False)
        ),
        "__xl_tax_year": pl.when(tax_year.str.contains(r"^\d{4}$")).then(
            tax_year.cast(pl.Int64, strict=False)
        ),
        f"__xl_{_X_TAXREG}": pl.when(
            pl.Series(rng.random(n) < 0.9) & reg.str.contains(r"^\d{4}-\d{2}-\d{2}$")
        ).then(st[_X_TAXREG]),
    }
    out = pl.DataFrame(
        {
            "uscc": code,
            _X_TAXNAME: st[_X_TAXNAME],
            "tax_year": tax_year,
            "levy_method": st["levy_method"],
            "taxpayer_type": st["taxpayer_type"],
            "credit_rating": st["credit_rating"],
            "sales": sales,
            "tax_paid": paid,
            "abnormal_taxpayer": abn,
            _X_TAXREG: reg,
        }
    ).with_columns(**native)
    conf_idx = prob["conflicting_duplicate"]
    new_sales = _fmt_decimal(st["sales"].gather(conf_idx) * 1.2 + 100.0)
    conf = out[conf_idx].with_columns(sales=new_sales, __xl_sales=new_sales.cast(pl.Float64))
    return _finish(out, prob, conf, rates, rng, force, orphan_base, seed, _X_TAXNAME)


def _render_social(
    st: pl.DataFrame,
    rng: np.random.Generator,
    style: _Style,
    force: bool,
    orphan_base: int,
    seed: int,
) -> pl.DataFrame:
    rates = PROBLEM_RATES["social"]
    inrow = {k: v for k, v in rates.items() if k not in ("code_not_92", "orphan")}
    prob, code = _coded(st, rng, inrow, force, _where(st["_protected"].to_numpy()))
    insured = _int_strings(st["insured_count"], rng)
    bad_int = prob["bad_int"]
    insured = _set(
        insured, bad_int, _take(("两人", "abc", "若干"), rng.integers(0, 3, len(bad_int)))
    )
    op = _bool_strings(st["operator_insured"], rng, style.bools[0])
    op = _set(op, prob["bad_bool"], "也许")
    out = pl.DataFrame(
        {
            "uscc": code,
            _X_UNITNAME: st[_X_UNITNAME],
            "insured_count": insured,
            "operator_insured": op,
        }
    )
    conf_idx = prob["conflicting_duplicate"]
    conf = out[conf_idx].with_columns(
        insured_count=(st["insured_count"].gather(conf_idx) + 1).cast(pl.String)
    )
    return _finish(out, prob, conf, rates, rng, force, orphan_base, seed, _X_UNITNAME)


# ---------------------------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------------------------


def _headers(extract: str, k: int) -> tuple[list[str], list[str]]:
    """(internal column names, header texts) of an extract in run ``k``."""
    cols, heads = [], []
    for field, aliases, offset in _COLUMNS[extract]:
        header = aliases[(k + offset) % len(aliases)]
        cols.append(field if field is not None else _EXTRA_FIELD[header])
        heads.append(header)
    return cols, heads


class _CsvWriter:
    def __init__(
        self, path: Path, headers: list[str], encoding: str, bom: bool, crlf: bool
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.eol = "\r\n" if crlf else "\n"
        self.fh: BinaryIO = path.open("wb")
        if bom:
            self.fh.write(b"\xef\xbb\xbf")
        self.fh.write((",".join(headers) + self.eol).encode(encoding))
        self.rows = 0

    def write(self, df: pl.DataFrame) -> None:
        if df.height == 0:
            return
        if self.encoding == "utf-8":
            df.write_csv(self.fh, include_header=False, line_terminator=self.eol)
        else:
            text = df.write_csv(None, include_header=False, line_terminator=self.eol)
            self.fh.write(text.encode(self.encoding))
        self.rows += df.height

    def close(self) -> list[Path]:
        self.fh.close()
        return [self.path]


class _ParquetWriter:
    def __init__(self, path: Path, headers: list[str]) -> None:
        self.path = path
        self.headers = headers
        self.parts: list[Path] = []
        self.tmp = Path(tempfile.mkdtemp(prefix=".gthfx-samples-", dir=path.parent))
        self.rows = 0

    def write(self, df: pl.DataFrame) -> None:
        part = self.tmp / f"part-{len(self.parts):05d}.parquet"
        df.write_parquet(part)
        self.parts.append(part)
        self.rows += df.height

    def close(self) -> list[Path]:
        schema = dict.fromkeys(self.headers, pl.String)
        if not self.parts:
            pl.DataFrame(schema=schema).write_parquet(self.path)
        elif len(self.parts) == 1:
            self.parts[0].replace(self.path)
        else:
            pl.scan_parquet(self.parts).sink_parquet(self.path)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return [self.path]


class _XlsxWriter:
    """Tax extract as XLSX: numbers and dates as real cells where the value is clean."""

    def __init__(self, path: Path, headers: list[str], created: datetime) -> None:
        self.base = path
        self.headers = headers
        self.created = created
        self.paths: list[Path] = []
        self.rows = 0
        self._open()

    def _open(self) -> None:
        import xlsxwriter

        n = len(self.paths)
        path = self.base if n == 0 else self.base.with_name(f"{self.base.stem}_{n + 1}.xlsx")
        self.paths.append(path)
        self.wb = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "default_date_format": "yyyy-mm-dd",
            },
        )
        self.wb.set_properties({"created": self.created, "author": "gthfx samples"})
        self.ws = self.wb.add_worksheet("税务登记信息")
        bold = self.wb.add_format({"bold": True})
        self.ws.write_row(0, 0, self.headers, bold)
        self.ws.set_column(0, 0, 22)
        self.ws.set_column(1, len(self.headers) - 1, 14)
        self.row = 1

    def write(self, df: pl.DataFrame) -> None:
        cols: list[list[Any]] = []
        for name in df.columns:
            if name.startswith("__xl_"):
                continue
            strings = df[name].to_list()
            native_name = f"__xl_{name}"
            if native_name in df.columns:
                native = df[native_name].to_list()
                cols.append(
                    [v if v is not None else s for v, s in zip(native, strings, strict=True)]
                )
            else:
                cols.append(strings)
        for row in zip(*cols, strict=True):
            if self.row > XLSX_MAX_ROWS:
                self.wb.close()
                self._open()
            self.ws.write_row(self.row, 0, row)
            self.row += 1
        self.rows += df.height

    def close(self) -> list[Path]:
        self.wb.close()
        return self.paths


_Writer = _CsvWriter | _ParquetWriter | _XlsxWriter

_OWN_FILES = re.compile(r"^(annual|tax|social)(_.*)?\.(csv|xlsx|parquet)$")


def _prepare_dir(path: Path) -> None:
    """Create ``path``; remove files an earlier `generate_samples` run left there."""
    path.mkdir(parents=True, exist_ok=True)
    for f in path.iterdir():
        if f.is_file() and _OWN_FILES.match(f.name):
            f.unlink()
        elif f.is_dir() and f.name.startswith(".gthfx-samples-"):
            shutil.rmtree(f, ignore_errors=True)


class _ExtractSink:
    """Routes rendered chunks of one extract of one run to its file writer(s)."""

    def __init__(self, folder: Path, extract: str, k: int, fmt: Format, created: datetime) -> None:
        self.extract = extract
        self.cols, self.headers = _headers(extract, k)
        self.writers: dict[str, _Writer] = {}
        _prepare_dir(folder)
        if fmt == "parquet":
            self.writers["all"] = _ParquetWriter(folder / f"{extract}.parquet", self.headers)
        elif fmt == "csv":
            self.writers["all"] = _CsvWriter(
                folder / f"{extract}.csv", self.headers, "utf-8", bom=False, crlf=False
            )
        elif extract == "annual":
            self.writers["north"] = _CsvWriter(
                folder / "annual_江岸区等.csv", self.headers, "utf-8", bom=True, crlf=False
            )
            self.writers["south"] = _CsvWriter(
                folder / "annual_武昌区等.csv", self.headers, "gb18030", bom=False, crlf=True
            )
        elif extract == "tax":
            self.writers["all"] = _XlsxWriter(folder / "tax.xlsx", self.headers, created)
        else:
            self.writers["all"] = _CsvWriter(
                folder / f"{extract}.csv", self.headers, "utf-8", bom=False, crlf=False
            )

    def write(self, df: pl.DataFrame) -> None:
        keep = [c for c in df.columns if c.startswith("__xl_")]
        if "north" in self.writers:
            south = df["__south"]
            for key, part in (("north", df.filter(~south)), ("south", df.filter(south))):
                self._emit(self.writers[key], part, keep)
        else:
            self._emit(self.writers["all"], df, keep)

    def _emit(self, writer: _Writer, df: pl.DataFrame, keep: list[str]) -> None:
        names = dict(zip(self.cols, self.headers, strict=True))
        if isinstance(writer, _XlsxWriter):
            names.update({f"__xl_{c}": f"__xl_{h}" for c, h in names.items()})
            writer.write(
                df.select(self.cols + keep).rename({c: names[c] for c in self.cols + keep})
            )
            return
        writer.write(df.select(self.cols).rename(names))

    def close(self) -> tuple[list[Path], int]:
        files: list[Path] = []
        rows = 0
        for w in self.writers.values():
            files.extend(w.close())
            rows += w.rows
        return sorted(files), rows


# ---------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------


def generate_samples(
    rows: int,
    out: Path,
    *,
    run_date: date = date(2024, 7, 1),
    years: int = 1,
    seed: int = 20240701,
    fmt: Literal["mixed", "csv", "parquet"] = "mixed",
    categories: bool = False,
) -> SamplesResult:
    """Write synthetic `annual`, `tax` and `social` extracts under ``out/<report_year>/``.

    With ``categories``, also the 名特优新 extracts of each year under
    ``out/<report_year>/categories/`` (`applications`, `evidence`, `records`, `objections`; see
    `category_samples`), for a screening on 15 October of the run's year.

    ``rows`` is the number of businesses in the latest annual extract (the files also hold the
    deliberate duplicates, enterprise rows and orphans). ``years`` > 1 adds the runs of the
    preceding years (run date one year earlier each) for the same, evolving population.
    ``fmt``: ``mixed`` (annual in two CSV files by district — UTF-8 with BOM and GB18030 —, tax as
    XLSX, social as UTF-8 CSV), ``csv`` (one UTF-8 CSV per extract) or ``parquet`` (one Parquet
    file per extract, every column a string).
    """
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if years < 1:
        raise ValueError("years must be at least 1")
    if fmt not in ("mixed", "csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}: use mixed, csv or parquet")
    out = Path(out)
    run_dates = [_minus_years(run_date, k) for k in range(years)]
    if run_dates[-1] < date(2001, 1, 1):
        raise ValueError(
            "the earliest run date must be in 2001 or later (founding dates start 1995)"
        )
    n_latest = rows
    n_total = rows + round(rows * VANISH_RATE * (years - 1))
    created = datetime(run_date.year, run_date.month, run_date.day)

    sinks: dict[tuple[int, str], _ExtractSink] = {}
    for k, d in enumerate(run_dates):
        for extract in ("annual", "tax", "social"):
            folder = out / str(d.year - 1) / extract
            sinks[(k, extract)] = _ExtractSink(folder, extract, k, fmt, created)
    styles = [_styles(seed, k) for k in range(years)]
    category_parts = [CategoryRows() for _ in range(years)]

    try:
        for chunk, start in enumerate(range(0, n_total, CHUNK_ROWS)):
            n = min(CHUNK_ROWS, n_total - start)
            pop = _population(seed, chunk, start, n, n_latest, run_dates)
            force = chunk == 0 and n_latest >= 200
            for k in range(years):
                annual, tax, social = _year_state(pop, k, run_dates, seed, chunk)
                # orphan codes: numbers beyond every business, distinct per run/extract/chunk
                orphan_base = n_total * (1 + 2 * k) + start
                r = _rng(seed, 4, chunk, k)
                sinks[(k, "annual")].write(_render_annual(annual, r, styles[k]["annual"], force))
                sinks[(k, "tax")].write(
                    _render_tax(tax, r, styles[k]["tax"], force, orphan_base, seed)
                )
                df = _render_social(
                    social, r, styles[k]["social"], force, orphan_base + n_total, seed
                )
                sinks[(k, "social")].write(df)
                if categories:
                    rows_k = category_rows(
                        annual,
                        tax,
                        social,
                        run_dates[k],
                        screening_date(run_dates[k]),
                        _rng(seed, 9, chunk, k),
                        force,
                    )
                    for name in CATEGORY_HEADERS:
                        getattr(category_parts[k], name).extend(getattr(rows_k, name))
    finally:
        files: dict[str, list[Path]] = {}
        counts: dict[str, int] = {}
        for (k, extract), sink in sinks.items():
            key = f"{run_dates[k].year - 1}/{extract}"
            files[key], counts[key] = sink.close()
    if categories:
        for k, d in enumerate(run_dates):
            written = _write_categories(
                out / str(d.year - 1) / "categories", category_parts[k], fmt
            )
            for name, (path, n) in written.items():
                files[f"{d.year - 1}/{name}"] = [path]
                counts[f"{d.year - 1}/{name}"] = n
    return SamplesResult(files=dict(sorted(files.items())), rows=dict(sorted(counts.items())))


def screening_date(run_date: date) -> date:
    """The screening date the category samples of a run are made for: 15 October of its year."""
    return date(run_date.year, 10, 15)


_OWN_CATEGORY_FILES = re.compile(
    r"^(applications|evidence|records|objections)\.(csv|xlsx|parquet)$"
)


def _write_categories(
    folder: Path, parts: CategoryRows, fmt: Format
) -> dict[str, tuple[Path, int]]:
    """The four category extracts of one year: in the mixed layout applications as CSV (UTF-8
    with BOM), evidence as XLSX, records as CSV in GB18030 (CRLF) and objections as CSV; else
    all CSV (UTF-8) or Parquet. Chinese headers of the shipped sources mapping."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.iterdir():
        if f.is_file() and _OWN_CATEGORY_FILES.match(f.name):
            f.unlink()
    out: dict[str, tuple[Path, int]] = {}
    for name, frame in parts.frames().items():
        table = frame.rename(CATEGORY_HEADERS[name])
        if fmt == "parquet":
            path = folder / f"{name}.parquet"
            table.write_parquet(path)
        elif fmt == "mixed" and name == "evidence":
            path = folder / f"{name}.xlsx"
            write_xlsx(path, [("佐证", table)], title="佐证")
        elif fmt == "mixed" and name == "records":
            path = folder / f"{name}.csv"
            text = table.write_csv(None, line_terminator="\r\n")
            path.write_bytes(text.encode("gb18030"))
        else:
            path = folder / f"{name}.csv"
            table.write_csv(path, include_bom=fmt == "mixed" and name == "applications")
        out[name] = (path, table.height)
    return out
