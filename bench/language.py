"""The language-consistency reward: its bounds on hostile inputs, and langdetect vs lingua on mixed-language text.

1. Time per item (p50, p99, max) of ``language_consistency`` on the reward bench's realistic completions
   and on hostile ones: 1 MB of one sentence, 200 KB of three-word sentences, a Chinese loop, 100 KB with
   no spaces. Goals: p99 <= 50 ms per item on the realistic inputs, every input <= 1 s.
2. The two detectors on a mixed-language set built from the five languages of the built-in problems, where
   the truth is known by construction (the share of words written in the target language): mean absolute
   error against the truth, agreement of the keep decision (>= 0.95) with the truth's, and items/s.

    .venv/bin/python bench/language.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

SENTENCES = {
    "en": [
        "First we read the problem and note the numbers.",
        "Then we multiply the price by the number of notebooks.",
        "We check the result by adding the parts again.",
        "The speed times the time gives the distance.",
        "Half of the amount is what remains after the discount.",
        "So the total is the sum of both trips.",
    ],
    "es": [
        "Primero leemos el problema y anotamos los números.",
        "Luego multiplicamos el precio por el número de cuadernos.",
        "Comprobamos el resultado sumando las partes otra vez.",
        "La velocidad por el tiempo da la distancia recorrida.",
        "La mitad de la cantidad es lo que queda después del descuento.",
        "Así que el total es la suma de los dos viajes.",
    ],
    "fr": [
        "D'abord nous lisons le problème et notons les nombres.",
        "Ensuite nous multiplions le prix par le nombre de cahiers.",
        "Nous vérifions le résultat en additionnant encore les parties.",
        "La vitesse multipliée par le temps donne la distance parcourue.",
        "La moitié du montant est ce qui reste après la réduction.",
        "Donc le total est la somme des deux trajets.",
    ],
    "de": [
        "Zuerst lesen wir die Aufgabe und notieren die Zahlen.",
        "Dann multiplizieren wir den Preis mit der Anzahl der Hefte.",
        "Wir prüfen das Ergebnis, indem wir die Teile noch einmal addieren.",
        "Die Geschwindigkeit mal die Zeit ergibt die zurückgelegte Strecke.",
        "Die Hälfte des Betrags bleibt nach dem Rabatt übrig.",
        "Also ist die Summe beider Fahrten das Ergebnis.",
    ],
    "zh": [
        "首先我们读题并记下这些数字。",
        "然后我们用单价乘以笔记本的数量。",
        "我们把各部分再加一遍来检查结果。",
        "速度乘以时间就是走过的路程。",
        "打折之后剩下的是原来金额的一半。",
        "所以总数就是两次行程的和。",
    ],
}


#: short sentences: the hard case (a few words give a detector little to go on, and they merge across languages)
SHORT = {
    "en": ["Add the two.", "Check it again.", "That gives twelve.", "Now divide by four.", "So it is right."],
    "es": [
        "Sumamos los dos.",
        "Lo comprobamos otra vez.",
        "Eso da doce.",
        "Ahora dividimos entre cuatro.",
        "Así que es correcto.",
    ],
    "fr": [
        "On ajoute les deux.",
        "On vérifie encore.",
        "Cela donne douze.",
        "Maintenant on divise par quatre.",
        "Donc c'est juste.",
    ],
    "de": [
        "Wir addieren beide.",
        "Wir prüfen es nochmal.",
        "Das ergibt zwölf.",
        "Jetzt teilen wir durch vier.",
        "Also stimmt es.",
    ],
    "zh": ["把两个相加。", "再检查一遍。", "得到十二。", "现在除以四。", "所以是对的。"],
}


def _words(text: str) -> int:
    from filters.rewards.language import _word_count

    return _word_count(text)


def mixed_set(n: int, seed: int = 0) -> list[tuple[str, str, float]]:
    """(reasoning, target language, true share of words in the target language)."""
    rng = random.Random(seed)
    langs = list(SENTENCES)
    items = []
    for i in range(n):
        target = langs[i % len(langs)]
        other = rng.choice([lang for lang in langs if lang != target])
        pool = SHORT if i % 2 else SENTENCES  # half the items in short sentences
        k = rng.choice([1, 2, 3, 4, 6])
        foreign = rng.choice([0, 0, 1, k // 2, k]) if k > 1 else rng.choice([0, 1])
        picks = [(target, rng.choice(pool[target])) for _ in range(k - foreign)]
        picks += [(other, rng.choice(pool[other])) for _ in range(foreign)]
        rng.shuffle(picks)
        text = " ".join(s for _, s in picks)
        total = sum(_words(s) for _, s in picks)
        truth = sum(_words(s) for lang, s in picks if lang == target) / total
        items.append((text, target, truth))
    return items


def timings(fn, items) -> tuple[list[float], list]:
    times, out = [], []
    for completion, lang in items:
        started = time.perf_counter()
        out.append(fn([completion], lang=[lang])[0])
        times.append(time.perf_counter() - started)
    return times, out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="realistic completions timed")
    parser.add_argument("--mixed", type=int, default=1000, help="mixed-language items per detector")
    args = parser.parse_args()

    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from rewards import make_cases  # the reward bench's realistic completions

    from filters.rewards.language import LanguageConsistency

    reward = LanguageConsistency()
    reward(["<think>warm up the detector</think>"], lang=["en"])
    cases = make_cases(args.n)
    langs = ["en", "es", "fr", "de", "zh"]
    realistic = [(c, langs[i % 5]) for i, (c, _, _) in enumerate(cases)]
    times, _ = timings(reward, realistic)
    print(f"## language_consistency time per item ({args.n} realistic completions, default detector lingua)\n")
    print("| inputs | items | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    print(
        f"| realistic (the reward bench's) | {len(times)} | {1000 * statistics.median(times):.2f} | "
        f"{1000 * pct(times, 0.99):.2f} | {1000 * max(times):.1f} |"
    )
    hostile = {
        "1 MB, one English sentence repeated": "<think>" + "We add the two numbers and check. " * 30_000,
        "200 KB of three-word sentences": "<think>" + "We add two. " * 18_000,
        "a Chinese loop (这个这个…, 100 K chars)": "<think>" + "这个" * 50_000,
        "100 KB without spaces": "<think>" + "abcdefghij" * 10_000,
    }
    for name, text in hostile.items():
        t, v = timings(reward, [(text, "en" if "Chinese" not in name else "zh")])
        print(f"| {name} ({len(text) // 1000} K chars) | 1 | – | – | {1000 * t[0]:.1f} (score {v[0]}) |")

    print(f"\n## Detectors on mixed-language reasoning ({args.mixed} items, five languages, truth by construction)\n")
    print("| detector | items/s | mean abs error | keep decision (>= 0.95) agrees | not judged | short items: error |")
    print("|---|---|---|---|---|---|")
    items = mixed_set(args.mixed)
    for name in ("lingua", "langdetect"):
        try:
            fn = LanguageConsistency(detector=name)
            fn(["<think>warm up the detector</think>"], lang=["en"])
        except Exception as err:  # lingua is optional
            print(f"| {name} | – | – | – | not installed ({str(err)[:60]}) |")
            continue
        started = time.perf_counter()
        scores = [fn([f"<think>{text}</think>"], lang=[lang])[0] for text, lang, _ in items]
        seconds = time.perf_counter() - started
        judged = [(s, t, i) for i, (s, (_, _, t)) in enumerate(zip(scores, items)) if s is not None]
        error = statistics.mean(abs(s - t) for s, t, _ in judged)
        agree = statistics.mean((s >= 0.95) == (t >= 0.95) for s, t, _ in judged)
        short = statistics.mean(abs(s - t) for s, t, i in judged if i % 2)
        print(
            f"| {name} | {len(items) / seconds:.0f} | {error:.3f} | {100 * agree:.1f} % | "
            f"{len(items) - len(judged)} | {short:.3f} |"
        )


if __name__ == "__main__":
    main()
