"""The credit code (SPEC §4): normalising and validating whole columns, checked against stdnum."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from gthfx.ingest import uscc

WORKED_EXAMPLE = "92420102MA4K1B2C9D"  # SPEC §4


def normalised(values: Sequence[str | None]) -> list[str | None]:
    frame = pl.DataFrame({"raw": list(values)}, schema={"raw": pl.String})
    return frame.select(uscc.normalise(pl.col("raw")).alias("out"))["out"].to_list()


def statuses(values: Sequence[str | None]) -> list[str]:
    """Status of raw values, normalised first as the pipeline does."""
    frame = pl.DataFrame({"raw": list(values)}, schema={"raw": pl.String})
    return frame.select(uscc.status(uscc.normalise(pl.col("raw"))).alias("out"))["out"].to_list()


def check_characters(bodies: list[str]) -> list[str]:
    frame = pl.DataFrame({"code": bodies}, schema={"code": pl.String})
    return frame.select(uscc.check_character(pl.col("code")).alias("out"))["out"].to_list()


def test_weights_are_the_powers_of_three_of_the_standard() -> None:
    assert uscc.WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert len(uscc.CHARSET) == 31
    assert not set("IOSVZ") & set(uscc.CHARSET)


def test_worked_example_is_valid() -> None:
    assert statuses([WORKED_EXAMPLE]) == [uscc.OK]
    assert check_characters([WORKED_EXAMPLE[:17]]) == ["D"]
    assert stdnum_uscc.is_valid(WORKED_EXAMPLE)


@pytest.mark.parametrize(
    "raw",
    [
        "９２４２０１０２ＭＡ４Ｋ１Ｂ２Ｃ９Ｄ",  # full-width digits and letters
        " 92420102MA4K1B2C9D ",
        "9242 0102 MA4K 1B2C 9D",
        "\t92420102MA4K1B2C9D\n",
        "92420102MA4K1B2C9D\u3000",  # ideographic space
        "92420102ma4k1b2c9d",
        "９２４２０１０２ｍａ４ｋ１ｂ２ｃ９ｄ",  # full-width lower case
    ],
)
def test_messy_forms_normalise_to_the_code(raw: str) -> None:
    assert normalised([raw]) == [WORKED_EXAMPLE]
    assert statuses([raw]) == [uscc.OK]


@pytest.mark.parametrize("raw", ["", "   ", "\u3000", None])
def test_empty_or_missing_code_is_missing(raw: str | None) -> None:
    assert normalised([raw]) == [None]
    assert statuses([raw]) == [uscc.MISSING]


@pytest.mark.parametrize(
    "raw",
    [
        WORKED_EXAMPLE[:17],  # 17 characters
        WORKED_EXAMPLE + "0",  # 19 characters
        "9242010",
        "92420102MI4K1B2C9D",  # I
        "92420102MO4K1B2C9D",  # O
        "92420102MS4K1B2C9D",  # S
        "92420102MV4K1B2C9D",  # V
        "92420102MZ4K1B2C9D",  # Z
        "92420102MA4K1B2C9-",
        "92420102MA4K1B2C9Ä",
        "92420102MA4K1B2C9中",
    ],
)
def test_wrong_length_or_forbidden_characters_are_malformed(raw: str) -> None:
    assert statuses([raw]) == [uscc.MALFORMED]


def test_well_formed_code_not_starting_with_92_is_not_individual() -> None:
    body = "91420102MA4K1B2C9"  # an enterprise code, with its own correct check character
    code = body + stdnum_uscc.calc_check_digit(body)
    assert stdnum_uscc.is_valid(code)
    assert statuses([code]) == [uscc.NOT_INDIVIDUAL]


def test_wrong_check_character_is_a_mismatch_not_a_reject() -> None:
    assert statuses(["92420102MA4K1B2C9E"]) == [uscc.CHECK_MISMATCH]
    assert statuses(["92420102ma4k1b2c9e"]) == [uscc.CHECK_MISMATCH]


def test_status_is_vectorised_over_a_mixed_column() -> None:
    raw = [WORKED_EXAMPLE, None, "92420102MA4K1B2C9E", "X", "91420102MA4K1B2C9D"]
    assert statuses(raw) == [
        uscc.OK,
        uscc.MISSING,
        uscc.CHECK_MISMATCH,
        uscc.MALFORMED,
        uscc.NOT_INDIVIDUAL,
    ]


# ---- property: agree with python-stdnum ---------------------------------------------------------

ANY_BODY = st.text(alphabet=uscc.CHARSET, min_size=17, max_size=17)
# stdnum also insists on digits in positions 1–8; gthfx is more lenient (SPEC §4: the charset)
STDNUM_BODY = st.builds(
    lambda head, tail: head + tail,
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.text(alphabet=uscc.CHARSET, min_size=9, max_size=9),
)
INDIVIDUAL_BODY = st.builds(
    lambda head, tail: "92" + head + tail,
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet=uscc.CHARSET, min_size=9, max_size=9),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(ANY_BODY, min_size=1, max_size=40))
def test_check_character_agrees_with_stdnum(bodies: list[str]) -> None:
    assert check_characters(bodies) == [stdnum_uscc.calc_check_digit(b) for b in bodies]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(STDNUM_BODY, INDIVIDUAL_BODY), st.integers(1, 30)),
        min_size=1,
        max_size=40,
    )
)
def test_valid_and_perturbed_codes_agree_with_stdnum(items: list[tuple[str, int]]) -> None:
    """A correct check character validates; any other one is a mismatch (or not_individual)."""
    valid = [body + stdnum_uscc.calc_check_digit(body) for body, _ in items]
    perturbed = []
    for (body, shift), code in zip(items, valid, strict=True):
        wrong = uscc.CHARSET[(uscc.CHARSET.index(code[-1]) + shift) % 31]
        perturbed.append(body + wrong)
    got_valid = statuses(valid)
    got_perturbed = statuses(perturbed)
    for code, status in zip(valid, got_valid, strict=True):
        assert stdnum_uscc.is_valid(code)
        assert status == (uscc.OK if code.startswith("92") else uscc.NOT_INDIVIDUAL), code
    for code, status in zip(perturbed, got_perturbed, strict=True):
        assert not stdnum_uscc.is_valid(code)
        assert status == (uscc.CHECK_MISMATCH if code.startswith("92") else uscc.NOT_INDIVIDUAL)
