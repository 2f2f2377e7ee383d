from fractions import Fraction

import pytest
from math_verify import parse, verify

from curation.decontaminate import Decontaminator, load_eval_set
from generators import problems_v1
from generators.problems import (
    DIFFICULTIES,
    FAMILIES,
    HELDOUT,
    LANGUAGES,
    format_answer,
    heldout_problems,
    make_problems,
    phrasings,
)
from generators.sources import load_problems
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
    import re

    for row in make_problems(12, seed=5, languages=["en"], families=["arithmetic"], difficulties=[1]):
        a, b, c = map(int, re.search(r"(\d+) \+ (\d+) \* (\d+)", row["problem"]).groups())
        assert row["solution"] == str(a + b * c), row


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
    assert "km/h" in texts["en"] and "km/h" in texts["es"] and "公里" in texts["zh"]
    assert "Stunden" in texts["de"] and "heures" in texts["fr"] and "hours" in texts["en"]


@pytest.mark.parametrize(
    "kwargs", [{"languages": ["xx"]}, {"families": ["poetry"]}, {"difficulties": [9]}, {"languages": []}]
)
def test_bad_choices_name_the_valid_ones(kwargs):
    with pytest.raises(ConfigError, match="choose from"):
        make_problems(3, **kwargs)


def test_every_family_and_language_has_six_phrasings_and_reserved_heldout_ones():
    for family in FAMILIES:
        for lang in LANGUAGES:
            train = {p for d in DIFFICULTIES for p in phrasings(family, d, lang)}
            held = {p for d in DIFFICULTIES for p in phrasings(family, d, lang, HELDOUT)}
            assert len(train) >= 6, (family, lang, len(train))
            assert held and not train & held, (family, lang)


def test_difficulty_spreads_and_multistep_problems_take_several_operations():
    rows = make_problems(60, seed=2, families=["multistep"], languages=["en"])
    assert {r["difficulty"] for r in rows} == {1, 2, 3}
    # level d takes d + 1 operations: one sentence per operation between the opening and the question
    for row in rows:
        sentences = [s for s in row["problem"].replace("?", ".").split(". ") if s.strip()]
        assert len(sentences) >= row["difficulty"] + 3, row["problem"]
    assert all(Fraction(r["solution"]).denominator == 1 for r in rows)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_twenty_thousand_training_problems_never_hit_the_heldout_split(lang):
    """The reserved phrasings make the held-out split really held out: the default rules flag nothing."""
    rows = make_problems(20_000, seed=7, languages=[lang])
    hits = Decontaminator([load_eval_set("heldout")]).check([r["problem"] for r in rows])
    assert sum(h is not None for h in hits) == 0


def test_a_hundred_thousand_problems_do_not_repeat():
    rows = make_problems(100_000, seed=1)
    assert len({normalize(r["problem"]) for r in rows}) == 100_000


def test_a_set_larger_than_the_value_space_says_how_many_it_can_make():
    with pytest.raises(ConfigError, match=r"can make \d+ distinct problems"):
        make_problems(50_000, languages=["en"], families=["fraction"], difficulties=[1])


def test_builtin_v1_stays_loadable_for_old_datasets():
    old = load_problems("builtin/v1", n=20, seed=3)
    assert old == problems_v1.make_problems(20, seed=3)
    assert {r["source"] for r in old} == {"builtin/v1"}
    assert load_problems("heldout/v1") == problems_v1.heldout_problems()
    new = load_problems("builtin", n=20, seed=3)
    assert {r["source"] for r in new} == {"builtin/v2"} and new != old
    with pytest.raises(ConfigError, match="unknown version"):
        load_problems("builtin/v9")
