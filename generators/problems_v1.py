"""Built-in math word problems, version 1 (``builtin/v1``): kept so that datasets made with it can be
remade exactly; new work uses :mod:`generators.problems` (v2).

Every problem is drawn from its own seeded RNG (``seed:index:attempt``), so a problem set is a pure
function of its arguments and any prefix of a larger set equals the smaller set. Gold answers are
computed with :class:`fractions.Fraction` and written as integers, terminating decimals or ``a/b``,
forms that ``math_verify.parse`` reads. A fixed held-out split (its own seed) is never produced by
:func:`make_problems`, so later stages can evaluate and decontaminate against it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

from generators.problems import check_choice, format_answer, signed
from r1f.errors import ConfigError
from r1f.ngrams import normalize
from r1f.schema import stable_id

SOURCE = "builtin/v1"
LANGUAGES = ("en", "es", "fr", "de", "zh")
DIFFICULTIES = (1, 2, 3)
HELDOUT_SEED = "heldout-v1"
HELDOUT_SIZE = 200

NAMES = {
    "en": ["Alice", "Ben", "Chloe", "David", "Emma"],
    "es": ["Lucía", "Mateo", "Sofía", "Diego", "Carmen"],
    "fr": ["Camille", "Hugo", "Léa", "Louis", "Chloé"],
    "de": ["Anna", "Lukas", "Mia", "Felix", "Hannah"],
    "zh": ["小明", "小红", "李华", "王芳", "张伟"],
}
CURRENCY = {"en": "dollars", "es": "euros", "fr": "euros", "de": "Euro", "zh": "元"}

# Templates: family -> difficulty -> language -> format string. Numbers are filled in by the family's
# maker, which also computes the exact answer.
TEMPLATES: dict[str, dict[int, dict[str, str]]] = {
    "arithmetic": {
        d: {
            "en": "What is {expr}?",
            "es": "¿Cuánto es {expr}?",
            "fr": "Combien font {expr} ?",
            "de": "Was ist {expr}?",
            "zh": "{expr} 等于多少？",
        }
        for d in DIFFICULTIES
    },
    "distance": {
        1: {
            "en": "A train travels at {s1} km/h for {t1} hours. How many kilometres does it travel?",
            "es": "Un tren viaja a {s1} km/h durante {t1} horas. ¿Cuántos kilómetros recorre?",
            "fr": "Un train roule à {s1} km/h pendant {t1} heures. Combien de kilomètres parcourt-il ?",
            "de": "Ein Zug fährt {t1} Stunden lang mit {s1} km/h. Wie viele Kilometer legt er zurück?",
            "zh": "一列火车以每小时{s1}公里的速度行驶了{t1}小时。它一共行驶了多少公里？",
        },
        2: {
            "en": "{name} cycles at {s1} km/h for {t1} hours, then at {s2} km/h for {t2} hours. "
            "How many kilometres does {name} ride in total?",
            "es": "{name} pedalea a {s1} km/h durante {t1} horas y luego a {s2} km/h durante {t2} horas. "
            "¿Cuántos kilómetros recorre en total?",
            "fr": "{name} roule à vélo à {s1} km/h pendant {t1} heures, puis à {s2} km/h pendant {t2} heures. "
            "Combien de kilomètres parcourt {name} au total ?",
            "de": "{name} fährt {t1} Stunden lang mit {s1} km/h Rad und danach {t2} Stunden lang mit {s2} km/h. "
            "Wie viele Kilometer fährt {name} insgesamt?",
            "zh": "{name}骑自行车，先以每小时{s1}公里的速度骑了{t1}小时，又以每小时{s2}公里的速度骑了{t2}小时。"
            "{name}一共骑了多少公里？",
        },
        3: {
            "en": "A car drives {d1} km in {t1} hours and then {d2} km in {t2} hours. "
            "What is its average speed over the whole trip, in km/h?",
            "es": "Un coche recorre {d1} km en {t1} horas y luego {d2} km en {t2} horas. "
            "¿Cuál es su velocidad media en todo el viaje, en km/h?",
            "fr": "Une voiture parcourt {d1} km en {t1} heures, puis {d2} km en {t2} heures. "
            "Quelle est sa vitesse moyenne sur tout le trajet, en km/h ?",
            "de": "Ein Auto fährt {d1} km in {t1} Stunden und danach {d2} km in {t2} Stunden. "
            "Wie hoch ist seine Durchschnittsgeschwindigkeit auf der ganzen Fahrt in km/h?",
            "zh": "一辆汽车先用{t1}小时行驶了{d1}公里，又用{t2}小时行驶了{d2}公里。全程的平均速度是每小时多少公里？",
        },
    },
    "money": {
        1: {
            "en": "{name} buys {n} notebooks at {p} {cur} each. How many {cur} does {name} spend?",
            "es": "{name} compra {n} cuadernos a {p} {cur} cada uno. ¿Cuántos {cur} gasta?",
            "fr": "{name} achète {n} cahiers à {p} {cur} chacun. Combien d'{cur} {name} dépense-t-il ?",
            "de": "{name} kauft {n} Hefte zu je {p} {cur}. Wie viele {cur} gibt {name} aus?",
            "zh": "{name}买了{n}本笔记本，每本{p}{cur}。{name}一共花了多少{cur}？",
        },
        2: {
            "en": "{name} buys {n} notebooks at {p} {cur} each and pays with a {b}-{cur} note. "
            "How much change does {name} get, in {cur}?",
            "es": "{name} compra {n} cuadernos a {p} {cur} cada uno y paga con un billete de {b} {cur}. "
            "¿Cuánto cambio recibe, en {cur}?",
            "fr": "{name} achète {n} cahiers à {p} {cur} chacun et paie avec un billet de {b} {cur}. "
            "Combien d'{cur} lui rend-on ?",
            "de": "{name} kauft {n} Hefte zu je {p} {cur} und bezahlt mit einem {b}-{cur}-Schein. "
            "Wie viel Wechselgeld bekommt {name} in {cur}?",
            "zh": "{name}买了{n}本笔记本，每本{p}{cur}，付了一张{b}{cur}的钞票。应该找回多少{cur}？",
        },
        3: {
            "en": "A jacket costs {p} {cur} and is sold at {d}% off. {name} pays with {b} {cur}. "
            "How much change does {name} get, in {cur}?",
            "es": "Una chaqueta cuesta {p} {cur} y tiene un descuento del {d}%. {name} paga con {b} {cur}. "
            "¿Cuánto cambio recibe, en {cur}?",
            "fr": "Une veste coûte {p} {cur} et est soldée à {d} % de réduction. {name} paie avec {b} {cur}. "
            "Combien d'{cur} lui rend-on ?",
            "de": "Eine Jacke kostet {p} {cur} und ist um {d} % reduziert. {name} bezahlt mit {b} {cur}. "
            "Wie viel Wechselgeld bekommt {name} in {cur}?",
            "zh": "一件夹克原价{p}{cur}，打{d}%的折扣出售。{name}付了{b}{cur}。应该找回多少{cur}？",
        },
    },
    "percent": {
        1: {
            "en": "What is {p}% of {n}?",
            "es": "¿Cuánto es el {p}% de {n}?",
            "fr": "Combien font {p} % de {n} ?",
            "de": "Wie viel sind {p} % von {n}?",
            "zh": "{n}的{p}%是多少？",
        },
        2: {
            "en": "A price of {n} {cur} rises by {p}%. What is the new price, in {cur}?",
            "es": "Un precio de {n} {cur} sube un {p}%. ¿Cuál es el nuevo precio, en {cur}?",
            "fr": "Un prix de {n} {cur} augmente de {p} %. Quel est le nouveau prix, en {cur} ?",
            "de": "Ein Preis von {n} {cur} steigt um {p} %. Wie hoch ist der neue Preis in {cur}?",
            "zh": "一件商品原价{n}{cur}，涨价{p}%。新价格是多少{cur}？",
        },
        3: {
            "en": "A town has {n} people. The population grows by {p}% in one year and then falls by {q}% "
            "the next year. How many people live there after the two years?",
            "es": "Un pueblo tiene {n} habitantes. La población crece un {p}% en un año y luego baja un {q}% "
            "al año siguiente. ¿Cuántos habitantes tiene después de los dos años?",
            "fr": "Une ville compte {n} habitants. La population augmente de {p} % en un an, puis baisse de {q} % "
            "l'année suivante. Combien d'habitants y a-t-il après ces deux années ?",
            "de": "Eine Stadt hat {n} Einwohner. Die Bevölkerung wächst in einem Jahr um {p} % und sinkt im "
            "nächsten Jahr um {q} %. Wie viele Einwohner hat sie nach den zwei Jahren?",
            "zh": "一个小镇有{n}人。第一年人口增长了{p}%，第二年又减少了{q}%。两年后小镇有多少人？",
        },
    },
    "fraction": {
        d: {
            "en": "What is {expr}? Give the answer as a simplified fraction.",
            "es": "¿Cuánto es {expr}? Da la respuesta como una fracción simplificada.",
            "fr": "Combien font {expr} ? Donne la réponse sous forme de fraction simplifiée.",
            "de": "Was ist {expr}? Gib das Ergebnis als gekürzten Bruch an.",
            "zh": "{expr} 等于多少？请用最简分数表示答案。",
        }
        for d in DIFFICULTIES
    },
    "equation": {
        d: {
            "en": "Solve for x: {expr}.",
            "es": "Resuelve para x: {expr}.",
            "fr": "Résous l'équation en x : {expr}.",
            "de": "Löse nach x auf: {expr}.",
            "zh": "解方程，求x：{expr}。",
        }
        for d in DIFFICULTIES
    },
}
FAMILIES = tuple(TEMPLATES)


def _arithmetic(rng: random.Random, d: int) -> tuple[dict[str, Any], Fraction]:
    if d == 1:
        a, b, c = rng.randint(1, 9), rng.randint(2, 9), rng.randint(2, 9)
        return {"expr": f"{a} + {b} * {c}"}, Fraction(a + b * c)
    if d == 2:
        a, b, c, d_ = rng.randint(2, 20), rng.randint(2, 20), rng.randint(2, 9), rng.randint(1, 30)
        return {"expr": f"({a} + {b}) * {c} - {d_}"}, Fraction((a + b) * c - d_)
    e = rng.randint(2, 9)
    q = rng.randint(2, 12)
    a, b = rng.randint(2, 12), rng.randint(10, 40)
    c = rng.randint(1, b - 1)
    return {"expr": f"{a} * ({b} - {c}) + {q * e} / {e}"}, Fraction(a * (b - c) + q)


def _distance(rng: random.Random, d: int) -> tuple[dict[str, Any], Fraction]:
    if d == 1:
        s, t = rng.choice(range(40, 130, 5)), rng.randint(2, 6)
        return {"s1": s, "t1": t}, Fraction(s * t)
    if d == 2:
        s1, t1, s2, t2 = rng.randint(10, 25), rng.randint(1, 4), rng.randint(8, 20), rng.randint(1, 3)
        return {"s1": s1, "t1": t1, "s2": s2, "t2": t2}, Fraction(s1 * t1 + s2 * t2)
    t1, t2 = rng.randint(1, 4), rng.randint(1, 4)
    d1, d2 = rng.randint(6, 24) * 5 * t1, rng.randint(6, 24) * 5 * t2
    return {"d1": d1, "t1": t1, "d2": d2, "t2": t2}, Fraction(d1 + d2, t1 + t2)


def _money(rng: random.Random, d: int) -> tuple[dict[str, Any], Fraction]:
    n, p = rng.randint(2, 9), rng.randint(2, 15)
    if d == 1:
        return {"n": n, "p": p}, Fraction(n * p)
    if d == 2:
        bill = next(b for b in (20, 50, 100, 200) if b > n * p)
        return {"n": n, "p": p, "b": bill}, Fraction(bill - n * p)
    price, off = rng.choice(range(40, 200, 10)), rng.choice((10, 20, 25, 30, 50))
    paid = Fraction(price * (100 - off), 100)
    bill = next(b for b in (50, 100, 200, 500) if b >= paid)
    return {"p": price, "d": off, "b": bill}, bill - paid


def _percent(rng: random.Random, d: int) -> tuple[dict[str, Any], Fraction]:
    if d == 1:
        p, n = rng.choice((10, 20, 25, 50, 75)), rng.randint(2, 40) * 20
        return {"p": p, "n": n}, Fraction(p * n, 100)
    if d == 2:
        p, n = rng.choice((5, 10, 15, 20, 25, 40)), rng.randint(2, 50) * 10
        return {"p": p, "n": n}, Fraction(n * (100 + p), 100)
    p, q, n = rng.choice((10, 20, 25, 50)), rng.choice((10, 20, 40, 50)), rng.randint(2, 90) * 100
    return {"p": p, "q": q, "n": n}, Fraction(n * (100 + p) * (100 - q), 10000)


def _fraction(rng: random.Random, d: int) -> tuple[dict[str, Any], Fraction]:
    if d == 1:
        b = rng.randint(3, 12)
        a, c = rng.randint(1, b - 1), rng.randint(1, b - 1)
        return {"expr": f"{a}/{b} + {c}/{b}"}, Fraction(a, b) + Fraction(c, b)
    if d == 2:
        b, d_ = rng.sample(range(2, 10), 2)
        a, c = rng.randint(1, b - 1), rng.randint(1, d_ - 1)
        return {"expr": f"{a}/{b} + {c}/{d_}"}, Fraction(a, b) + Fraction(c, d_)
    b, d_, f = rng.randint(2, 9), rng.randint(2, 9), rng.randint(2, 9)
    a, c, e = rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, f - 1)
    return {"expr": f"{a}/{b} * {c}/{d_} - {e}/{f}"}, Fraction(a, b) * Fraction(c, d_) - Fraction(e, f)


def _equation(rng: random.Random, d: int) -> tuple[dict[str, Any], Fraction]:
    x = rng.randint(-9, 12) if d == 3 else rng.randint(1, 15)
    if d == 1:
        a = rng.randint(1, 30)
        return {"expr": f"x + {a} = {x + a}"}, Fraction(x)
    if d == 2:
        a, b = rng.randint(2, 9), rng.randint(-20, 20)
        return {"expr": f"{a}x {signed(b)} = {a * x + b}"}, Fraction(x)
    a, c = rng.sample(range(2, 10), 2)
    b = rng.randint(-20, 20)
    dd = a * x + b - c * x
    return {"expr": f"{a}x {signed(b)} = {c}x {signed(dd)}"}, Fraction(x)


MAKERS: dict[str, Callable[[random.Random, int], tuple[dict[str, Any], Fraction]]] = {
    "arithmetic": _arithmetic,
    "distance": _distance,
    "money": _money,
    "percent": _percent,
    "fraction": _fraction,
    "equation": _equation,
}


def _problem(seed: str, index: int, lang: str, family: str, difficulty: int, attempt: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}:{index}:{attempt}")
    values, answer = MAKERS[family](rng, difficulty)
    values.setdefault("name", rng.choice(NAMES[lang]))
    values.setdefault("cur", CURRENCY[lang])
    text = TEMPLATES[family][difficulty][lang].format(**values)
    fraction_form = family == "fraction" and answer.denominator != 1
    solution = f"{answer.numerator}/{answer.denominator}" if fraction_form else format_answer(answer)
    return {
        "id": stable_id(SOURCE, text, solution),
        "problem": text,
        "solution": solution,
        "family": family,
        "difficulty": difficulty,
        "lang": lang,
        "source": SOURCE,
    }


def _generate(
    n: int,
    seed: str,
    languages: Sequence[str],
    families: Sequence[str],
    difficulties: Sequence[int],
    exclude: set[str],
) -> list[dict[str, Any]]:
    check_choice("language", languages, LANGUAGES)
    check_choice("family", families, FAMILIES)
    check_choice("difficulty", difficulties, DIFFICULTIES)
    if n < 1:
        raise ConfigError(f"number of problems must be at least 1, got {n}")
    combos = [(f, d) for d in difficulties for f in families]
    seen = set(exclude)
    rows = []
    for index in range(n):
        lang = languages[index % len(languages)]
        family, difficulty = combos[(index // len(languages)) % len(combos)]
        for attempt in range(100):
            row = _problem(seed, index, lang, family, difficulty, attempt)
            key = normalize(row["problem"])
            if key not in seen:
                break
        seen.add(key)
        rows.append(row)
    return rows


def heldout_problems() -> list[dict[str, Any]]:
    """The fixed held-out split: the same 200 problems on every machine, in every version of v1."""
    rows = _generate(HELDOUT_SIZE, HELDOUT_SEED, LANGUAGES, FAMILIES, DIFFICULTIES, exclude=set())
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
) -> list[dict[str, Any]]:
    """Make ``n`` training problems, balanced over languages, families and difficulties.

    Problems never coincide with the held-out split (compared after lower-casing and collapsing
    whitespace). The same arguments always give the same rows.

    >>> rows = make_problems(2, languages=["en"], families=["arithmetic"], difficulties=[1])
    >>> rows[0]["lang"], rows[0]["family"], rows[0]["problem"].startswith("What is")
    ('en', 'arithmetic', True)
    """
    held = {normalize(r["problem"]) for r in heldout_problems()}
    rows = _generate(n, str(seed), list(languages), list(families), list(difficulties), exclude=held)
    for row in rows:
        row["split"] = "train"
    return rows
