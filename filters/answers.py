r"""What a final answer *is*: one value, read whole, or nothing.

math-verify's default extraction of bare text keeps one number-like fragment (``4a-2`` is read as 4,
``7\pi`` as 7) or nothing (``\sqrt{51}``, ``(3,4]``), so golds written as bare LaTeX (MATH, NuminaMath,
AIME) were judged by a fragment: wrong answers credited, right ones lost. Here a gold or an answer is
parsed as a whole string or not at all: plain numbers exactly (thousands separators, ``\$``, ``%``,
degrees and units stripped), choice letters, clock times and words by their own rules, everything else
through math-verify's LaTeX normaliser and ``latex2sympy`` on the *entire* string, which either covers all
of it or fails. A string that fails is never replaced by a piece of itself.

Pathological strings (exponent towers, deep nesting, enormous numbers) are compared as normalised text
instead of being handed to sympy, so no comparison can run away. Everything sympy-related is imported
lazily: this module runs in the verifier's worker processes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

#: kinds of value a gold or an answer can be
NUMBER, CHOICE, TIME, TEXT, EXPR, OPAQUE, BASED = "number", "choice", "time", "text", "expr", "opaque", "based"

#: longer strings are not handed to sympy (compared as normalised text)
MAX_PARSE_CHARS = 400
#: numbers with more digits are compared digit for digit (Fraction of 100 000 digits is slow, and capped by Python)
MAX_DIGITS = 300
MAX_BRACE_DEPTH = 24

DELIMITERS = [("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")]
TRAILING_RE = re.compile(r"(?:[\s.。,;:]|\\[,;!\s]|\\quad)+$")
THOUSANDS_RE = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
NUMBER_RE = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:\s*/\s*\d+)?$")
#: a sign, then digits (with thousands separators), a decimal part or a fraction: the candidates of a fallback
NUMBER_TOKEN_RE = re.compile(
    r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|(?<![\w.])-?\d+(?:\.\d+)?(?:/\d+)?(?![\d])"
)
#: a number followed by a unit: ``\text{ cm}`` (with an optional power), or one or two words of two letters or more
#: after a space (``14 apples``); a single letter (``2k``) is a variable, not a unit
UNIT_WORDS_RE = re.compile(
    r"^(.*?\d)\s*(?:\\(?:text|mbox|mathrm)\{\s*[A-Za-z][A-Za-z .]*\}(?:\^\{?[23]\}?)?"
    r"|\s[A-Za-z][A-Za-z.]+(?:\s+[A-Za-z][A-Za-z.]+)?)$"
)
#: a numeral in another base: ``52_8``, ``4210_{5}``, ``10101_{2}``
BASED_RE = re.compile(r"^([0-9A-Za-z]+)_\{?(\d{1,2})\}?$")
CHOICE_RE = re.compile(r"^(?:\\(?:text|textbf|mathrm|mathbf)\{\s*)?\(?\s*([A-J])\s*\)?(?:\s*\})?$")
TIME_RE = re.compile(r"^(\d{1,2})\s*:\s*(\d{2})\s*(?:\\text\{\s*)?([ap])?\.?\s*(?:m\.?)?\s*\}?$", re.IGNORECASE)
TEXT_RE = re.compile(r"^\\(?:text|textbf|mathrm|mbox)\{\s*([A-Za-z][A-Za-z '\-]*)\s*\}$")
#: two words of two letters or more in a row, outside LaTeX commands: prose
PROSE_RE = re.compile(r"[A-Za-z]{2,}[\s,]+[A-Za-z]{2,}")
LATEX_GROUP_RE = re.compile(r"\\[A-Za-z]+(?:\{[^{}]*\})?")
WORD_RE = re.compile(r"^[A-Za-z][A-Za-z'\-]{2,}$")
HEDGE_RE = re.compile(r"\s(?:or|oder|ou|o|или|或)\s|\s或|或\s|\\text\{\s*or\s*\}|\\(?:lor|vee)\b")


@dataclass(frozen=True)
class Value:
    """A parsed answer: its kind and its value (a Fraction, a letter, minutes, a word, a sympy object, text)."""

    kind: str
    value: Any
    text: str


def strip_wrappers(text: str) -> str:
    r"""The answer without math delimiters, ``\displaystyle`` and trailing punctuation.

    >>> strip_wrappers("$\\frac{1}{2}$."), strip_wrappers(" \\( x = 5 \\) ")
    ('\\frac{1}{2}', 'x = 5')
    """
    text = text.strip()
    changed = True
    while changed and text:
        changed = False
        stripped = TRAILING_RE.sub("", text)
        if stripped != text:
            text, changed = stripped, True
        for left, right in DELIMITERS:
            if text.startswith(left) and text.endswith(right) and len(text) >= len(left) + len(right):
                inner = text[len(left) : len(text) - len(right)].strip()
                if left != "$" or "$" not in inner:
                    text, changed = inner, True
                    break
    return text.replace("\\displaystyle", "").strip()


def _brace_depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "}":
            depth -= 1
    return deepest


def _is_tower(text: str) -> bool:
    """An exponent inside an exponent inside an exponent (``10^{10^{10^{10}}}``): sympy would try to evaluate it."""
    depth, carets = 0, []
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "^":
            carets.append(depth)
    return len(carets) >= 3 and len(set(carets)) >= 3


def plain_number(text: str) -> Fraction | str | None:
    r"""The exact value of a plain number as people write answers, else None.

    Thousands separators (``1,000``, ``10{,}000``, ``10\,000``), a leading ``\$``/``$``, a trailing ``%``,
    degree sign or unit word are dropped: the value is the number as written (``68%`` is 68). Numbers
    with more than ``MAX_DIGITS`` digits come back as their canonical digit string.

    >>> plain_number("1{,}000"), plain_number("\\$5"), plain_number("68\\%"), plain_number("-2.50")
    (Fraction(1000, 1), Fraction(5, 1), Fraction(68, 1), Fraction(-5, 2))
    >>> plain_number("14 apples"), plain_number("7/12"), plain_number("12 or 14"), plain_number("4a-2")
    (Fraction(14, 1), Fraction(7, 12), None, None)
    """
    text = strip_wrappers(text)
    text = re.sub(r"(?<=\d)\{,\}(?=\d)", "", text)
    text = re.sub(r"(?<=\d)\\[,!;](?=\d{3})", "", text)
    text = re.sub(r"^\\?\$\s*", "", text)
    text = re.sub(r"^\\text\{\s*\}", "", text)
    text = re.sub(r"(?:\\%|%|\^\s*\{?\\circ\}?|°|\\circ|\\degree)$", "", text.strip()).strip()
    text = re.sub(r"(?:\\,|\\!|\\ |~)", " ", text).strip()
    unit = UNIT_WORDS_RE.match(text)
    if unit and not re.search(r"\b(?:or|and|und|et|y|oder|ou|o)\b", text[len(unit.group(1)) :]):
        text = unit.group(1).strip()
        text = re.sub(r"(?:\\%|%|\^\s*\{?\\circ\}?|°)$", "", text).strip()
    if THOUSANDS_RE.match(text):
        text = text.replace(",", "")
    if not NUMBER_RE.match(text):
        return None
    compact = text.replace(" ", "").lstrip("+")
    digits = sum(c.isdigit() for c in compact)
    if digits > MAX_DIGITS:
        if not re.fullmatch(r"-?\d+", compact):
            return None
        sign = "-" if compact.startswith("-") else ""
        return sign + (compact.lstrip("-").lstrip("0") or "0")
    try:
        return Fraction(compact)
    except (ValueError, ZeroDivisionError):
        return None


def _minutes(match: re.Match) -> tuple[int, bool]:
    hours, minutes, half = int(match.group(1)), int(match.group(2)), (match.group(3) or "").lower()
    if half == "p" and hours < 12:
        hours += 12
    if half == "a" and hours == 12:
        hours = 0
    return hours * 60 + minutes, bool(half)


def _word(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def parse_value(text: str) -> Value | None:
    """Read ``text`` whole as one value; None when it is not one (never a fragment of it).

    Runs sympy (through math-verify's normaliser and latex2sympy) for everything that is not a plain
    number, a choice letter, a clock time or a word.
    """
    text = strip_wrappers(text)
    if not text:
        return None
    number = plain_number(text)
    if number is not None:
        return Value(NUMBER, number, text)
    based = BASED_RE.match(text.replace(" ", ""))
    if based and 2 <= int(based.group(2)) <= 36:
        try:
            return Value(BASED, (int(based.group(1), int(based.group(2))), int(based.group(2))), text)
        except ValueError:
            return None
    choice = CHOICE_RE.match(text)
    if choice:
        return Value(CHOICE, choice.group(1).upper(), text)
    clock = TIME_RE.match(text)
    if clock and (clock.group(3) or ":" in text):
        return Value(TIME, _minutes(clock), text)
    word = TEXT_RE.match(text)
    if word:
        return Value(TEXT, _word(word.group(1)), text)
    if len(text) > MAX_PARSE_CHARS or _brace_depth(text) > MAX_BRACE_DEPTH or _is_tower(text):
        return Value(OPAQUE, _opaque(text), text)
    if re.search(rf"\d{{{MAX_DIGITS + 1},}}", text):
        return Value(OPAQUE, _opaque(text), text)
    if HEDGE_RE.search(f" {text} "):
        return None
    if WORD_RE.match(text):  # one word (``Evelyn``, ``east``): latex2sympy would read a product of letters
        return Value(TEXT, _word(text), text)
    if PROSE_RE.search(LATEX_GROUP_RE.sub(" ", text)):  # a sentence is not a value
        return None
    expr = _latex(text)
    if expr is not None:
        return Value(EXPR, expr, text)
    return None


def _opaque(text: str) -> str:
    return re.sub(r"\s+|\\left|\\right|\\!|\\,", "", text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac"))


def _latex(text: str) -> Any:
    """The whole string as a sympy object through math-verify's LaTeX normaliser, or None."""
    from math_verify.parser import NormalizationConfig, normalize_latex, parse_latex_cached

    config = NormalizationConfig(
        basic_latex=True, units=True, malformed_operators=True, nits=True, boxed="all", equations=False
    )
    # a mixed number is a sum (12\frac{3}{5} = 63/5), which latex2sympy already reads; thousands braces go
    text = re.sub(r"(?<=\d)\{,\}(?=\d)", "", text)
    normalized = normalize_latex(text, config=config)
    if not normalized.strip():
        return None
    try:
        expr = parse_latex_cached(normalized)
    except Exception:
        return None
    if expr is None or isinstance(expr, str):
        return None
    return expr


def candidates_of(text: str, explicit: bool) -> list[Value]:
    """The values an answer region states: the whole region when it parses, else (inside an explicit region:
    ``<answer>``, a box, an anchored line) each number in it. Several distinct ones are a hedge."""
    whole = parse_value(text)
    if whole is not None:
        return [whole]
    if HEDGE_RE.search(f" {strip_wrappers(text)} "):
        parts = re.split(HEDGE_RE, f" {strip_wrappers(text)} ")
        found = [v for v in (parse_value(p) for p in parts if p.strip()) if v is not None]
        return found if len(found) > 1 else [*found, Value(OPAQUE, text, text)]
    if not explicit:
        return []
    found = []
    for token in NUMBER_TOKEN_RE.findall(text):
        value = plain_number(token)
        if value is not None:
            found.append(Value(NUMBER, value, token))
    return found


def same(gold: Value, answer: Value) -> bool:
    """Is ``answer`` the gold's value? Exact for numbers, letters, times and words; math-verify for the rest,
    with a numeric check at sample points for expressions math-verify's symbolic check does not settle."""
    if gold.kind == OPAQUE or answer.kind == OPAQUE:
        return _opaque(gold.text) == _opaque(answer.text)
    if gold.kind == NUMBER and answer.kind == NUMBER:
        return gold.value == answer.value
    if gold.kind == BASED or answer.kind == BASED:
        # a numeral in base b is (value, b): the answer must name the base too (``52`` is not ``52_8``), except base 10
        if gold.kind == BASED and answer.kind == BASED:
            return gold.value == answer.value
        based, other = (gold, answer) if gold.kind == BASED else (answer, gold)
        return other.kind == NUMBER and based.value[1] == 10 and other.value == based.value[0]
    if gold.kind == CHOICE:
        letter = answer.value if answer.kind == CHOICE else _symbol_name(answer)
        return letter is not None and letter.upper() == gold.value
    if gold.kind == TIME:
        if answer.kind != TIME:
            return False
        (a, a_half), (b, b_half) = gold.value, answer.value
        return a == b if (a_half and b_half) else a % 720 == b % 720
    if gold.kind == TEXT:
        word = answer.value if answer.kind == TEXT else _word(answer.text)
        return word == gold.value
    if answer.kind in (CHOICE, TIME, TEXT):
        return False
    return _sympy_same(_as_sympy(gold), _as_sympy(answer))


def _symbol_name(value: Value) -> str | None:
    expr = value.value
    if value.kind == EXPR and getattr(expr, "is_Symbol", False):
        return str(expr)
    return None


def _as_sympy(value: Value) -> Any:
    import sympy

    if value.kind == NUMBER:
        return (
            sympy.Integer(value.value)
            if isinstance(value.value, str)
            else sympy.Rational(value.value.numerator, value.value.denominator)
        )
    return value.value


def _sympy_same(gold: Any, answer: Any) -> bool:
    from math_verify import verify

    if verify(gold, answer, timeout_seconds=None):
        return True
    return _numerically_same(gold, answer)


def _numerically_same(gold: Any, answer: Any) -> bool:
    """Equal at several positive sample points: ``\\sqrt{1/n}`` = ``\\frac{1}{\\sqrt{n}}`` for the n a problem means."""
    import sympy

    if not all(isinstance(e, sympy.Expr) for e in (gold, answer)):
        return False
    symbols = gold.free_symbols | answer.free_symbols
    if not symbols or gold.free_symbols != answer.free_symbols or len(symbols) > 4:
        return False
    points = [
        (Fraction(7, 3), Fraction(5, 2), Fraction(11, 7), Fraction(13, 5)),
        (3, 7, 2, 5),
        (Fraction(1, 3), 9, 4, 6),
    ]
    ordered = sorted(symbols, key=str)
    for point in points:
        subs = {s: sympy.Rational(p) for s, p in zip(ordered, point)}
        try:
            a = complex(sympy.N(gold.subs(subs), 30))
            b = complex(sympy.N(answer.subs(subs), 30))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return False
        if abs(a - b) > 1e-9 * max(1.0, abs(a), abs(b)):
            return False
    return True
