r"""A second, independent answer checker for the verifier audit (``r1f audit``).

An audit is only worth something if the second opinion fails in other ways than the first. This checker
shares no code path with :mod:`filters.answers` / :mod:`filters.text` beyond the reward's input: it finds
the answer by scanning from the end of the completion (the last ``<answer>`` block, the last ``\boxed{}``,
the last "answer ... :" or ``####`` line), cleans it with its own small rules, parses it with
``latex2sympy2_extended`` directly (not math-verify's normaliser or its ``verify``), and compares values
numerically with sympy (``N()`` to 30 digits) where they are numbers, by ``simplify(a - b) == 0`` where
they are expressions, and structurally for sets, intervals and tuples. Where it cannot read the gold it
says None, and the audit counts the row as not cross-checked.

It is deliberately simpler than the reward: disagreements between the two are what a person looks at.
"""

from __future__ import annotations

import re
from typing import Any

TAG_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
LINE_RE = re.compile(r"(?:answer[^:\n]{0,24}?(?::|\bis\b)|####)\s*([^\n]+)", re.IGNORECASE)
NUMBER_TAIL_RE = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def _last_box(text: str) -> str | None:
    starts = list(BOX_RE.finditer(text))
    if not starts:
        return None
    depth, begin = 1, starts[-1].end()
    for i in range(begin, min(len(text), begin + 5000)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[begin:i]
    return None


def extract(completion: str) -> str | None:
    """The answer as this checker reads it: last tag, last box, last answer line; None when there is none."""
    tags = TAG_RE.findall(completion)
    if tags:
        return _last_box(tags[-1]) or tags[-1]
    boxed = _last_box(completion)
    if boxed is not None:
        return boxed
    lines = LINE_RE.findall(completion)
    if lines:
        return lines[-1]
    return None


def gold_of(gold: str) -> str:
    boxed = _last_box(gold)
    if boxed is not None:
        return boxed
    return gold.rsplit("####", 1)[1] if "####" in gold else gold


def clean(text: str) -> str:
    """Its own normalisation: delimiters, sizing commands, thousands separators, units, percent and degree marks."""
    text = text.strip().strip("$").strip()
    text = re.sub(r"\\(?:left|right|displaystyle|!|,|;)", "", text)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("{,}", "")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(r"\\%|%|\^\s*\{?\\circ\}?|°", "", text)
    text = re.sub(r"(?<=\d)\s*\\(?:text|mbox|mathrm)\{\s*[A-Za-z .]*\}(?:\^\{?\d\}?)?\s*$", "", text)
    text = re.sub(r"^\\\$|^\$", "", text.strip())
    text = re.sub(r"(?<=\d)\s+[A-Za-z][A-Za-z /]*\.?$", "", text)  # units in words: "22 dollars", "780 km"
    text = re.sub(r"[.\s]+$", "", text)
    if "=" in text and text.count("=") == 1 and re.match(r"^\s*[A-Za-z]\s*=", text):
        text = text.split("=", 1)[1]
    return text.strip()


def to_sympy(text: str) -> Any:
    from latex2sympy2_extended import latex2sympy

    if len(text) > 300 or text.count("^") > 3 or text.count("{") > 40:
        return None
    try:
        return latex2sympy(text)
    except Exception:
        return None


def _text_key(text: str) -> str:
    return re.sub(r"[^a-z0-9.\-/]", "", re.sub(r"\\text\{([^{}]*)\}", r"\1", text).lower())


def equal(a: Any, b: Any) -> bool:
    import sympy

    if a == b:
        return True
    try:
        if isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr):
            if a.is_number and b.is_number:
                x, y = complex(sympy.N(a, 30)), complex(sympy.N(b, 30))
                return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))
            return sympy.simplify(a - b) == 0
        if isinstance(a, (sympy.Tuple, tuple)) and isinstance(b, (sympy.Tuple, tuple)):
            return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
        if isinstance(a, sympy.Set) and isinstance(b, sympy.Set):
            return bool(a == b or (a.symmetric_difference(b) == sympy.EmptySet))
    except Exception:
        return False
    return False


def check(gold: str, completion: str) -> float | None:
    """1.0 / 0.0, or None when this checker cannot read the gold."""
    gold_clean = clean(gold_of(gold))
    if not gold_clean:
        return None
    answer = extract(completion)
    if answer is None or not answer.strip():
        return 0.0
    answer_clean = clean(answer)
    if _text_key(gold_clean) == _text_key(answer_clean) and _text_key(gold_clean):
        return 1.0
    gold_value = to_sympy(gold_clean)
    if gold_value is None:
        return None
    value = to_sympy(answer_clean)
    if value is None:
        numbers = NUMBER_TAIL_RE.findall(answer_clean)
        value = to_sympy(numbers[-1]) if numbers else None
    if value is None:
        return 0.0
    return 1.0 if equal(gold_value, value) else 0.0
