"""Built-in math word problems with exact gold answers, in five languages, offline (``builtin/v2``).

Eight families (arithmetic, fractions, equations, distance, money, percentages, work rates, and multi-step
stories of 2 to 4 operations), three difficulty levels (level 1 keeps numbers small, so a tiny model solves
some and rejection sampling has something to keep; level 3 takes more steps and wider values), at least six
phrasings per family and language, written for each language (``problems_v2.yaml``). The held-out split uses
*reserved* phrasings the training generator never emits, so it measures generalisation to new wording rather
than to new numbers in the same sentence, and decontamination against it flags nothing by construction.

Every problem is drawn from its own seeded RNG (``seed:index:attempt``), so a problem set is a pure function
of its arguments and any prefix of a larger set equals the smaller set. Value spaces are wide enough for
100 000 distinct problems; when a requested set cannot be made without repeats, the generator says how many
it can make. Gold answers are computed with :class:`fractions.Fraction` and written as integers, terminating
decimals or ``a/b``. Version 1 lives on in :mod:`generators.problems_v1` for datasets made with it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

from r1f.errors import ConfigError
from r1f.ngrams import normalize
from r1f.schema import stable_id

SOURCE = "builtin/v2"
LANGUAGES = ("en", "es", "fr", "de", "zh")
FAMILIES = ("arithmetic", "distance", "money", "percent", "fraction", "equation", "rate", "multistep")
DIFFICULTIES = (1, 2, 3)
HELDOUT_SEED = "heldout-v2"
HELDOUT_SIZE = 200
#: attempts at a new problem before a (family, difficulty, language) is considered exhausted
ATTEMPTS = 60
TRAIN, HELDOUT = "train", "heldout"


@cache
def templates() -> dict[str, Any]:
    import yaml

    return yaml.safe_load((Path(__file__).parent / "problems_v2.yaml").read_text(encoding="utf-8"))


def phrasings(family: str, difficulty: int, lang: str, split: str = TRAIN) -> list[str]:
    """The phrasings of one family, level and language (``train`` or the reserved ``heldout`` ones)."""
    block = templates()["families"][family]
    level = block.get(difficulty) or block.get("any")
    if level is None:  # multistep: phrasings are made from sentence banks
        return [" ".join(parts) for parts in _story_shapes(lang, split)]
    return list(level[split][lang])


def format_answer(value: Fraction) -> str:
    """Write an exact value the way a person would: ``14``, ``2.5``, ``-3``, ``7/12``.

    >>> format_answer(Fraction(5, 2)), format_answer(Fraction(7, 12)), format_answer(Fraction(-3))
    ('2.5', '7/12', '-3')
    """
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den == 1:
        text = f"{float(value):.6f}".rstrip("0").rstrip(".")
        if Fraction(text) == value:
            return text
    return f"{value.numerator}/{value.denominator}"


def signed(n: int) -> str:
    return f"- {-n}" if n < 0 else f"+ {n}"


Values = dict[str, Any]


def _arithmetic(rng: random.Random, d: int) -> tuple[Values, Fraction]:
    if d == 1:
        a, b, c = rng.randint(1, 20), rng.randint(2, 9), rng.randint(2, 9)
        return {"expr": f"{a} + {b} * {c}"}, Fraction(a + b * c)
    if d == 2:
        a, b, c, e = rng.randint(2, 50), rng.randint(2, 50), rng.randint(2, 12), rng.randint(1, 60)
        return {"expr": f"({a} + {b}) * {c} - {e}"}, Fraction((a + b) * c - e)
    a, b = rng.randint(2, 15), rng.randint(10, 60)
    c, f, q = rng.randint(1, b - 1), rng.randint(2, 9), rng.randint(2, 15)
    return {"expr": f"{a} * ({b} - {c}) + {q * f} / {f}"}, Fraction(a * (b - c) + q)


def _fraction(rng: random.Random, d: int) -> tuple[Values, Fraction]:
    if d == 1:
        b = rng.randint(3, 20)
        a, c = rng.randint(1, b - 1), rng.randint(1, b - 1)
        return {"expr": f"{a}/{b} + {c}/{b}"}, Fraction(a, b) + Fraction(c, b)
    if d == 2:
        b, e = rng.sample(range(2, 16), 2)
        a, c = rng.randint(1, b - 1), rng.randint(1, e - 1)
        return {"expr": f"{a}/{b} + {c}/{e}"}, Fraction(a, b) + Fraction(c, e)
    b, e, f = rng.randint(2, 12), rng.randint(2, 12), rng.randint(2, 12)
    a, c, g = rng.randint(1, 12), rng.randint(1, 12), rng.randint(1, f - 1)
    return {"expr": f"{a}/{b} * {c}/{e} - {g}/{f}"}, Fraction(a, b) * Fraction(c, e) - Fraction(g, f)


def _equation(rng: random.Random, d: int) -> tuple[Values, Fraction]:
    x = rng.randint(-12, 20) if d == 3 else rng.randint(1, 40)
    if d == 1:
        a = rng.randint(1, 99)
        return {"expr": f"x + {a} = {x + a}"}, Fraction(x)
    if d == 2:
        a, b = rng.randint(2, 15), rng.randint(-50, 50)
        return {"expr": f"{a}x {signed(b)} = {a * x + b}"}, Fraction(x)
    a, c = rng.sample(range(2, 16), 2)
    b = rng.randint(-40, 40)
    rest = a * x + b - c * x
    return {"expr": f"{a}x {signed(b)} = {c}x {signed(rest)}"}, Fraction(x)


def _distance(rng: random.Random, d: int) -> tuple[Values, Fraction]:
    if d == 1:
        s, t = rng.randrange(10, 200, 5), rng.randint(2, 9)
        return {"s1": s, "t1": t}, Fraction(s * t)
    if d == 2:
        s1, t1, s2, t2 = rng.randint(8, 40), rng.randint(1, 6), rng.randint(5, 35), rng.randint(1, 5)
        return {"s1": s1, "t1": t1, "s2": s2, "t2": t2}, Fraction(s1 * t1 + s2 * t2)
    t1, t2 = rng.randint(1, 6), rng.randint(1, 6)
    d1, d2 = rng.randint(30, 120) * t1, rng.randint(30, 120) * t2
    return {"d1": d1, "t1": t1, "d2": d2, "t2": t2}, Fraction(d1 + d2, t1 + t2)


NOTES = (10, 20, 50, 100, 200, 500, 1000)


def _money(rng: random.Random, d: int) -> tuple[Values, Fraction]:
    n, p = rng.randint(2, 30), rng.randint(2, 60)
    if d == 1:
        n, p = rng.randint(2, 12), rng.randint(2, 20)
        return {"n": n, "p": p}, Fraction(n * p)
    if d == 2:
        n, p = rng.randint(2, 20), rng.randint(2, 45)  # at most 900: a note of 1000 still pays for it
        bill = next(b for b in NOTES if b > n * p)
        return {"n": n, "p": p, "b": bill}, Fraction(bill - n * p)
    price, off = rng.randrange(20, 501, 5), rng.choice((5, 10, 15, 20, 25, 30, 40, 50))
    paid = Fraction(price * (100 - off), 100)
    bill = next(b for b in NOTES if b >= paid)
    return {"p": price, "d": off, "b": bill}, bill - paid


def _percent(rng: random.Random, d: int) -> tuple[Values, Fraction]:
    if d == 1:
        p, n = rng.choice((5, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 80)), rng.randint(1, 100) * 20
        return {"p": p, "n": n}, Fraction(p * n, 100)
    if d == 2:
        p, n = rng.randrange(5, 55, 5), rng.randint(1, 200) * 10
        return {"p": p, "n": n}, Fraction(n * (100 + p), 100)
    p, q, n = rng.choice((5, 10, 20, 25, 50)), rng.choice((5, 10, 20, 40, 50)), rng.randint(1, 200) * 100
    return {"p": p, "q": q, "n": n}, Fraction(n * (100 + p) * (100 - q), 10000)


def _rate(rng: random.Random, d: int) -> tuple[Values, Fraction]:
    if d == 1:
        r, h = rng.randint(2, 30), rng.randint(2, 9)
        return {"r": r, "h": h}, Fraction(r * h)
    if d == 2:
        r, r2, h = rng.randint(3, 60), rng.randint(3, 60), rng.randint(2, 10)
        return {"r": r, "r2": r2, "h": h}, Fraction((r + r2) * h)
    a, b = rng.sample(range(2, 25), 2)
    return {"a": a, "b": b}, Fraction(a * b, a + b)


MAKERS: dict[str, Callable[[random.Random, int], tuple[Values, Fraction]]] = {
    "arithmetic": _arithmetic,
    "fraction": _fraction,
    "equation": _equation,
    "distance": _distance,
    "money": _money,
    "percent": _percent,
    "rate": _rate,
}


def _story_shapes(lang: str, split: str) -> list[list[str]]:
    """Every sentence template of the multi-step bank (for counting phrasings and checking overlaps)."""
    bank = templates()["families"]["multistep"]["steps"][split]
    return [[sentence] for part in bank.values() for sentence in part[lang]]


def _story(rng: random.Random, d: int, lang: str, split: str) -> tuple[str, Fraction, list[tuple[str, int, int]]]:
    """A multi-step story: an opening, ``d + 1`` operations (2 to 4), a question; answer computed as it goes.

    Also returns the operations as ``(kind, x, y)`` after a leading ``("open", total, 0)``, for worked solutions.
    """
    bank = templates()["families"]["multistep"]["steps"][split]
    total = rng.randint(5, 60)
    sentences = [rng.choice(bank["open"][lang]).replace("{a}", str(total))]
    ops_done: list[tuple[str, int, int]] = [("open", total, 0)]
    ops = d + 1
    shared = False
    for step in range(ops):
        last = step == ops - 1
        divisors = [k for k in range(2, 10) if total % k == 0]
        kind = rng.choice(("add", "sub", "boxes"))
        if last and d == 3 and divisors:
            kind = "share"
        if kind == "sub" and total < 3:
            kind = "add"
        if kind == "add":
            x = rng.randint(2, 30)
            total += x
            ops_done.append(("add", x, 0))
            sentence = rng.choice(bank["add"][lang]).replace("{x}", str(x))
        elif kind == "sub":
            x = rng.randint(1, total - 1)
            total -= x
            ops_done.append(("sub", x, 0))
            sentence = rng.choice(bank["sub"][lang]).replace("{x}", str(x))
        elif kind == "boxes":
            x, y = rng.randint(2, 6), rng.randint(2, 12)
            total += x * y
            ops_done.append(("boxes", x, y))
            sentence = rng.choice(bank["boxes"][lang]).replace("{x}", str(x)).replace("{y}", str(y))
        else:
            x = rng.choice(divisors)
            total //= x
            ops_done.append(("share", x, 0))
            shared = True
            sentence = rng.choice(bank["share"][lang]).replace("{x}", str(x))
        sentences.append(sentence)
    sentences.append(rng.choice(bank["ask_share" if shared else "ask_total"][lang]))
    return (" " if lang != "zh" else "").join(sentences), Fraction(total), ops_done


def _draw(
    seed: str, index: int, lang: str, family: str, difficulty: int, attempt: int, split: str
) -> tuple[dict[str, Any], Any]:
    """One problem row, and the values it was made from (what a worked solution retraces)."""
    rng = random.Random(f"{seed}:{index}:{attempt}")
    vocab = templates()["vocab"]
    fill = {
        key: rng.choice(words[lang]) if isinstance(words[lang], list) else words[lang] for key, words in vocab.items()
    }
    if family == "multistep":
        text, answer, values = _story(rng, difficulty, lang, split)
        phrasing = "story"
    else:
        values, answer = MAKERS[family](rng, difficulty)
        options = phrasings(family, difficulty, lang, split)
        choice = rng.randrange(len(options))
        text, phrasing = options[choice], f"{split}/{choice}"
        fill.update(values)
    text = text.format(**fill)
    fraction_form = family == "fraction" and answer.denominator != 1
    solution = f"{answer.numerator}/{answer.denominator}" if fraction_form else format_answer(answer)
    row = {
        "id": stable_id(SOURCE, text, solution),
        "problem": text,
        "solution": solution,
        "family": family,
        "difficulty": difficulty,
        "lang": lang,
        "source": SOURCE,
        "phrasing": phrasing,
    }
    return row, values


def check_choice(kind: str, given: Sequence[Any], allowed: Sequence[Any]) -> None:
    bad = [g for g in given if g not in allowed]
    if bad or not given:
        raise ConfigError(
            f"unknown {kind} {', '.join(map(str, bad)) or '(none given)'}; choose from {', '.join(map(str, allowed))}"
        )


def _generate(
    n: int,
    seed: str,
    languages: Sequence[str],
    families: Sequence[str],
    difficulties: Sequence[int],
    split: str,
    values: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``n`` distinct problems; ``values`` (when given) receives each row's drawn values by row id."""
    check_choice("language", languages, LANGUAGES)
    check_choice("family", families, FAMILIES)
    check_choice("difficulty", difficulties, DIFFICULTIES)
    if n < 1:
        raise ConfigError(f"number of problems must be at least 1, got {n}")
    combos = [(lang, f, d) for d in difficulties for f in families for lang in languages]
    exhausted: set[tuple[str, str, int]] = set()
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    index = 0
    while len(rows) < n:
        live = [c for c in combos if c not in exhausted]
        if not live:
            raise ConfigError(
                f"the built-in generator can make {len(rows)} distinct problems with these languages, families and "
                f"difficulties, not {n}; ask for at most {len(rows)} or widen the choice"
            )
        lang, family, difficulty = live[index % len(live)]
        for attempt in range(ATTEMPTS):
            row, drawn = _draw(seed, index, lang, family, difficulty, attempt, split)
            key = normalize(row["problem"])
            if key not in seen:
                seen.add(key)
                rows.append(row)
                if values is not None:
                    values[row["id"]] = drawn
                break
        else:
            exhausted.add((lang, family, difficulty))
        index += 1
    return rows


def heldout_problems() -> list[dict[str, Any]]:
    """The fixed held-out split: 200 problems in reserved phrasings, the same on every machine (v2)."""
    rows = _generate(HELDOUT_SIZE, HELDOUT_SEED, LANGUAGES, FAMILIES, DIFFICULTIES, HELDOUT)
    for row in rows:
        row["split"] = "heldout"
    return rows


def make_problems(
    n: int,
    *,
    seed: int = 0,
    languages: Sequence[str] = LANGUAGES,
    families: Sequence[str] = FAMILIES,
    difficulties: Sequence[int] = DIFFICULTIES,
    values: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Make ``n`` training problems, balanced over languages, families and difficulties, without repeats.

    Training phrasings never appear in the held-out split (it has its own). The same arguments always give
    the same rows. ``values`` (when given) receives the values each row was drawn from, by row id, which is
    what ``generators.worked`` writes worked solutions from.

    >>> rows = make_problems(2, languages=["en"], families=["arithmetic"], difficulties=[1])
    >>> rows[0]["lang"], rows[0]["family"], rows[0]["source"]
    ('en', 'arithmetic', 'builtin/v2')
    """
    rows = _generate(n, str(seed), list(languages), list(families), list(difficulties), TRAIN, values=values)
    for row in rows:
        row["split"] = "train"
    return rows
