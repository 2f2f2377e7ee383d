"""Worked examples for few-shot long-CoT prompting, written for the built-in families, five languages.

Each example is a problem, a step-by-step reasoning that checks itself, and a one-line summary.
They are deliberately not drawn from the generator's seeds, and :func:`pick_examples` never
returns the target problem itself. A user pool (jsonl with ``problem``, ``reasoning``,
``summary``, ``lang``) can replace them with ``--examples``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from r1f.errors import DataError
from r1f.ngrams import normalize

EXAMPLES: list[dict[str, str]] = [
    # English
    {
        "lang": "en",
        "family": "arithmetic",
        "problem": "What is 5 + 2 * 6?",
        "answer": "17",
        "reasoning": "Multiplication comes before addition.\nStep 1: 2 * 6 = 12.\nStep 2: 5 + 12 = 17.\n"
        "Check: 17 - 5 = 12 and 12 / 6 = 2, so the steps agree.",
        "summary": "The answer is 17.",
    },
    {
        "lang": "en",
        "family": "distance",
        "problem": "A bus travels at 60 km/h for 3 hours. How many kilometres does it travel?",
        "answer": "180",
        "reasoning": "Distance is speed times time.\nStep 1: 60 * 3 = 180.\nCheck: 180 / 3 = 60 km/h, the given speed.",
        "summary": "The answer is 180.",
    },
    {
        "lang": "en",
        "family": "money",
        "problem": "Tom buys 4 pens at 3 dollars each and pays with a 20-dollar note. How much change does he get?",
        "answer": "8",
        "reasoning": "Step 1: the pens cost 4 * 3 = 12 dollars.\nStep 2: the change is 20 - 12 = 8 dollars.\n"
        "Check: 12 + 8 = 20.",
        "summary": "The answer is 8.",
    },
    # Spanish
    {
        "lang": "es",
        "family": "arithmetic",
        "problem": "¿Cuánto es 3 + 4 * 5?",
        "answer": "23",
        "reasoning": "La multiplicación va antes que la suma.\nPaso 1: 4 * 5 = 20.\nPaso 2: 3 + 20 = 23.\n"
        "Comprobación: 23 - 3 = 20 y 20 / 5 = 4, así que los pasos coinciden.",
        "summary": "La respuesta es 23.",
    },
    {
        "lang": "es",
        "family": "distance",
        "problem": "Un coche viaja a 80 km/h durante 2 horas. ¿Cuántos kilómetros recorre?",
        "answer": "160",
        "reasoning": "La distancia es la velocidad por el tiempo.\nPaso 1: 80 * 2 = 160.\n"
        "Comprobación: 160 / 2 = 80 km/h, la velocidad dada.",
        "summary": "La respuesta es 160.",
    },
    {
        "lang": "es",
        "family": "money",
        "problem": "Ana compra 5 lápices a 2 euros cada uno y paga con un billete de 20 euros. ¿Cuánto cambio recibe?",
        "answer": "10",
        "reasoning": "Paso 1: los lápices cuestan 5 * 2 = 10 euros.\nPaso 2: el cambio es 20 - 10 = 10 euros.\n"
        "Comprobación: 10 + 10 = 20.",
        "summary": "La respuesta es 10.",
    },
    # French
    {
        "lang": "fr",
        "family": "arithmetic",
        "problem": "Combien font 6 + 3 * 7 ?",
        "answer": "27",
        "reasoning": "La multiplication passe avant l'addition.\nÉtape 1 : 3 * 7 = 21.\nÉtape 2 : 6 + 21 = 27.\n"
        "Vérification : 27 - 6 = 21 et 21 / 7 = 3, les étapes concordent.",
        "summary": "La réponse est 27.",
    },
    {
        "lang": "fr",
        "family": "distance",
        "problem": "Un train roule à 90 km/h pendant 4 heures. Combien de kilomètres parcourt-il ?",
        "answer": "360",
        "reasoning": "La distance est la vitesse multipliée par le temps.\nÉtape 1 : 90 * 4 = 360.\n"
        "Vérification : 360 / 4 = 90 km/h, la vitesse donnée.",
        "summary": "La réponse est 360.",
    },
    {
        "lang": "fr",
        "family": "money",
        "problem": "Paul achète 3 livres à 6 euros chacun et paie avec un billet de 50 euros. Combien lui rend-on ?",
        "answer": "32",
        "reasoning": "Étape 1 : les livres coûtent 3 * 6 = 18 euros.\nÉtape 2 : on lui rend 50 - 18 = 32 euros.\n"
        "Vérification : 18 + 32 = 50.",
        "summary": "La réponse est 32.",
    },
    # German
    {
        "lang": "de",
        "family": "arithmetic",
        "problem": "Was ist 4 + 6 * 3?",
        "answer": "22",
        "reasoning": "Punktrechnung geht vor Strichrechnung.\nSchritt 1: 6 * 3 = 18.\nSchritt 2: 4 + 18 = 22.\n"
        "Probe: 22 - 4 = 18 und 18 / 3 = 6, die Schritte stimmen.",
        "summary": "Die Antwort ist 22.",
    },
    {
        "lang": "de",
        "family": "distance",
        "problem": "Ein Radfahrer fährt 3 Stunden lang mit 15 km/h. Wie viele Kilometer legt er zurück?",
        "answer": "45",
        "reasoning": "Die Strecke ist Geschwindigkeit mal Zeit.\nSchritt 1: 15 * 3 = 45.\n"
        "Probe: 45 / 3 = 15 km/h, die gegebene Geschwindigkeit.",
        "summary": "Die Antwort ist 45.",
    },
    {
        "lang": "de",
        "family": "money",
        "problem": "Lena kauft 6 Hefte zu je 2 Euro und bezahlt mit einem "
        "20-Euro-Schein. Wie viel Wechselgeld bekommt sie?",
        "answer": "8",
        "reasoning": "Schritt 1: Die Hefte kosten 6 * 2 = 12 Euro.\nSchritt 2: Das Wechselgeld ist 20 - 12 = 8 Euro.\n"
        "Probe: 12 + 8 = 20.",
        "summary": "Die Antwort ist 8.",
    },
    # Chinese
    {
        "lang": "zh",
        "family": "arithmetic",
        "problem": "2 + 5 * 4 等于多少？",
        "answer": "22",
        "reasoning": "先算乘法，再算加法。\n第一步：5 * 4 = 20。\n第二步：2 + 20 = 22。\n"
        "检验：22 - 2 = 20，20 / 4 = 5，步骤一致。",
        "summary": "答案是 22。",
    },
    {
        "lang": "zh",
        "family": "distance",
        "problem": "一辆汽车以每小时70公里的速度行驶了2小时。它行驶了多少公里？",
        "answer": "140",
        "reasoning": "路程等于速度乘以时间。\n第一步：70 * 2 = 140。\n检验：140 / 2 = 70，与给出的速度相同。",
        "summary": "答案是 140。",
    },
    {
        "lang": "zh",
        "family": "money",
        "problem": "小明买了3本书，每本8元，付了50元。应该找回多少元？",
        "answer": "26",
        "reasoning": "第一步：书一共 3 * 8 = 24 元。\n第二步：找回 50 - 24 = 26 元。\n检验：24 + 26 = 50。",
        "summary": "答案是 26。",
    },
]

#: how "the answer is N" reads in each language, for summaries built from an answer
ANSWER_SENTENCE = {
    "en": "The answer is {}.",
    "es": "La respuesta es {}.",
    "fr": "La réponse est {}.",
    "de": "Die Antwort ist {}.",
    "zh": "答案是 {}。",
}


def answer_sentence(answer: str, lang: str | None) -> str:
    return ANSWER_SENTENCE.get(lang or "en", ANSWER_SENTENCE["en"]).format(answer.strip())


def pick_examples(problem: dict[str, Any], k: int, pool: Sequence[dict[str, str]] = EXAMPLES) -> list[dict[str, str]]:
    """``k`` examples for ``problem``: same language first (same family first within it), never itself.

    The choice is deterministic: it depends only on the problem and the pool.
    """
    if k < 0:
        raise DataError(f"--k must be >= 0, got {k}")
    target = normalize(problem["problem"])
    candidates = [e for e in pool if normalize(e["problem"]) != target]
    lang, family = problem.get("lang"), problem.get("family")
    ranked = sorted(
        candidates,
        key=lambda e: (e.get("lang") != lang, e.get("family") != family, pool.index(e) if e in pool else 0),
    )
    return ranked[:k]
