from fractions import Fraction

import pytest
from math_verify import parse, verify

from generators.problems import (
    FAMILIES,
    LANGUAGES,
    format_answer,
    heldout_problems,
    make_problems,
)
from r1f.errors import ConfigError
from r1f.ngrams import normalize


def test_same_arguments_same_problems_and_prefix_property():
    a = make_problems(40, seed=3)
    b = make_problems(40, seed=3)
    assert a == b
    assert make_problems(10, seed=3) == a[:10]
    assert make_problems(10, seed=4) != a[:10]


def test_balanced_over_languages_and_families():
    rows = make_problems(6 * len(LANGUAGES) * 3, seed=0)
    assert {r["lang"] for r in rows} == set(LANGUAGES)
    assert {r["family"] for r in rows} == set(FAMILIES)
    assert {r["difficulty"] for r in rows} == {1, 2, 3}
    assert len({r["id"] for r in rows}) == len(rows)


def test_heldout_is_fixed_and_never_generated():
    held = heldout_problems()
    assert len(held) == 200 and held == heldout_problems()
    keys = {normalize(r["problem"]) for r in held}
    train = make_problems(3000, seed=0)
    assert not keys & {normalize(r["problem"]) for r in train}


def test_gold_answers_parse_with_math_verify_and_match_exact_value():
    rows = make_problems(300, seed=11) + heldout_problems()
    for row in rows:
        gold = parse(row["solution"], parsing_timeout=None)
        assert gold, row
        # the gold agrees with itself written as an exact fraction
        value = Fraction(row["solution"])
        assert verify(gold, parse(f"{value.numerator}/{value.denominator}", parsing_timeout=None), timeout_seconds=None)


def test_arithmetic_follows_order_of_operations():
    row = make_problems(1, seed=5, languages=["en"], families=["arithmetic"], difficulties=[1])[0]
    expr = row["problem"].removeprefix("What is ").removesuffix("?")
    a, rest = expr.split(" + ")
    b, c = rest.split(" * ")
    assert row["solution"] == str(int(a) + int(b) * int(c))


def test_answers_are_written_plainly():
    assert format_answer(Fraction(14)) == "14"
    assert format_answer(Fraction(5, 2)) == "2.5"
    assert format_answer(Fraction(1, 3)) == "1/3"
    assert format_answer(Fraction(-7, 4)) == "-1.75"
    fraction_rows = make_problems(30, seed=1, families=["fraction"])
    assert any("/" in r["solution"] for r in fraction_rows)


def test_every_language_has_its_own_text():
    rows = make_problems(5, seed=0, families=["distance"], difficulties=[1])
    texts = {r["lang"]: r["problem"] for r in rows}
    assert "train" in texts["en"] and "tren" in texts["es"] and "火车" in texts["zh"]
    assert "Zug" in texts["de"] and "train" in texts["fr"]


@pytest.mark.parametrize(
    "kwargs", [{"languages": ["xx"]}, {"families": ["poetry"]}, {"difficulties": [9]}, {"languages": []}]
)
def test_bad_choices_name_the_valid_ones(kwargs):
    with pytest.raises(ConfigError, match="choose from"):
        make_problems(3, **kwargs)
