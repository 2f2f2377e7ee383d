"""Worked solutions for the built-in problems: the generator's own arithmetic, written out step by step.

The R1 report's cold start is thousands of readable long-CoT rows that people wrote or cleaned; a 135M model
samples too few correct ones (the factory keeps ~7 % of its samples) to make that many. The built-in generator
knows how it computed every answer, so it can write the steps itself: one equation per operation, in the order
a person would do them, opened by a line in the problem's language. Every row is still verified like any
other (the final step must equal the gold answer, and the accuracy reward is applied to the rendered row), so
a bug here drops rows instead of teaching wrong arithmetic.

Only built-in (``builtin/v2``) problems have worked solutions: a file or hub dataset carries no derivation.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from generators.problems import format_answer as _f
from generators.problems import make_problems
from r1f.errors import DataError

#: the first line of the reasoning, in the problem's language
OPENERS = {
    "en": "Let me work it out step by step.",
    "es": "Lo resuelvo paso a paso.",
    "fr": "Je le résous étape par étape.",
    "de": "Ich rechne es Schritt für Schritt aus.",
    "zh": "我一步一步地算。",
}


#: an operation's symbol -> what it computes (expressions and the multi-step stories share it)
OPERATIONS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def _expression_steps(expr: str) -> tuple[list[str], Fraction]:
    """Each binary operation of an arithmetic expression, innermost first: ``b * c = 12``, ``a + 12 = 19``."""
    steps: list[str] = []

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Constant):
            return Fraction(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in SYMBOLS:
            left, right = walk(node.left), walk(node.right)
            symbol = SYMBOLS[type(node.op)]
            value = OPERATIONS[symbol](left, right)
            steps.append(f"{_f(left)} {symbol} {_f(right)} = {_f(value)}")
            return value
        raise DataError(f"worked solution: cannot read expression {expr!r}")

    value = walk(ast.parse(expr, mode="eval").body)
    return steps, value


FRACTION = re.compile(r"(\d+)/(\d+)")


def _fraction_steps(expr: str) -> tuple[list[str], Fraction]:
    terms = [(int(a), int(b)) for a, b in FRACTION.findall(expr)]
    parts = [Fraction(a, b) for a, b in terms]
    if "*" in expr:  # a/b * c/e - g/f
        (a, b), (c, e), (g, f) = terms
        product = parts[0] * parts[1]
        value = product - parts[2]
        return [
            _chain(f"{a}/{b} * {c}/{e}", f"{a * c}/{b * e}", _f(product)),
            f"{_f(product)} - {g}/{f} = {_f(value)}",
        ], value
    (a, b), (c, e) = terms
    value = parts[0] + parts[1]
    if b == e:
        return [_chain(f"{a}/{b} + {c}/{b}", f"{a + c}/{b}", _f(value))], value
    common = f"{a * e}/{b * e} + {c * b}/{b * e}"
    return [_chain(f"{a}/{b} + {c}/{e}", common, f"{a * e + c * b}/{b * e}", _f(value))], value


def _chain(*forms: str) -> str:
    """``a = b = c`` without writing the same form twice in a row (``11/12 = 11/12``)."""
    kept = [f for i, f in enumerate(forms) if i == 0 or f != forms[i - 1]]
    return " = ".join(kept)


EQUATION = re.compile(r"^(\d+)?x(?: ([+-]) (\d+))? = (?:(\d+)x (?:([+-]) (\d+))|(-?\d+))$")


def _equation_steps(expr: str) -> tuple[list[str], Fraction]:
    match = EQUATION.match(expr.strip())
    if not match:
        raise DataError(f"worked solution: cannot read equation {expr!r}")
    a_s, sign, b_s, c_s, sign2, rest_s, rhs_s = match.groups()
    a = int(a_s) if a_s else 1
    b = (int(b_s) if b_s else 0) * (-1 if sign == "-" else 1)
    steps: list[str] = []
    if rhs_s is not None:  # ax + b = r
        right = Fraction(int(rhs_s) - b)
        if b:
            steps.append(f"{a_s or ''}x = {rhs_s} {'-' if b > 0 else '+'} {abs(b)} = {_f(right)}")
    else:  # ax + b = cx + rest
        c, rest = int(c_s), int(rest_s) * (-1 if sign2 == "-" else 1)
        a, right = a - c, Fraction(rest - b)
        steps.append(f"{a_s}x - {c}x = {rest} {'-' if b >= 0 else '+'} {abs(b)}")
        steps.append(f"{a}x = {_f(right)}")
    value = right / a
    if a != 1:
        steps.append(f"x = {_f(right)} / {a} = {_f(value)}")
    elif not steps or not steps[-1].endswith(f"= {_f(value)}"):
        steps.append(f"x = {_f(value)}")
    return steps, value


def _family_steps(family: str, difficulty: int, v: Any) -> tuple[list[str], Fraction]:
    """The operations behind one problem, as equations, and the value they end on."""
    if family == "arithmetic":
        return _expression_steps(v["expr"])
    if family == "fraction":
        return _fraction_steps(v["expr"])
    if family == "equation":
        return _equation_steps(v["expr"])
    if family == "multistep":
        total, steps = Fraction(v[0][1]), []
        for kind, x, y in v[1:]:
            if kind == "boxes":
                steps.append(f"{x} * {y} = {x * y}")
                new, line = total + x * y, f"{_f(total)} + {x * y}"
            else:
                symbol = {"add": "+", "sub": "-", "share": "/"}[kind]
                new, line = OPERATIONS[symbol](total, x), f"{_f(total)} {symbol} {x}"
            steps.append(f"{line} = {_f(new)}")
            total = new
        return steps, total
    chains: dict[tuple[str, int], str] = {
        ("distance", 1): "{s1} * {t1}",
        ("distance", 2): "{s1} * {t1} + {s2} * {t2}",
        ("distance", 3): "({d1} + {d2}) / ({t1} + {t2})",
        ("money", 1): "{n} * {p}",
        ("money", 2): "{b} - {n} * {p}",
        ("money", 3): "{b} - ({p} - {p} * {d} / 100)",
        ("percent", 1): "{n} * {p} / 100",
        ("percent", 2): "{n} + {n} * {p} / 100",
        ("percent", 3): "({n} + {n} * {p} / 100) * (100 - {q}) / 100",
        ("rate", 1): "{r} * {h}",
        ("rate", 2): "({r} + {r2}) * {h}",
        ("rate", 3): "{a} * {b} / ({a} + {b})",
    }
    key = (family, difficulty)
    if key not in chains:
        raise DataError(f"worked solution: no steps for family {family!r} at difficulty {difficulty}")
    return _expression_steps(chains[key].format(**v))


def worked(row: dict[str, Any], values: Any) -> str:
    """The reasoning for one built-in problem; refuses when its steps do not reach the gold answer."""
    steps, value = _family_steps(row["family"], row["difficulty"], values)
    if value != Fraction(row["solution"]):
        raise DataError(f"worked solution for {row['id']}: the steps end on {_f(value)}, the gold is {row['solution']}")
    return "\n".join([OPENERS.get(row.get("lang") or "en", OPENERS["en"]), *steps])


def worked_problems(n: int, **choice: Any) -> list[dict[str, Any]]:
    """``n`` training problems, the rows ``make_problems(n, **choice)`` makes, each with its ``reasoning``."""
    values: dict[str, Any] = {}
    rows = make_problems(n, values=values, **choice)
    for row in rows:
        row["reasoning"] = worked(row, values[row["id"]])
    return rows


def worked_candidates(rows: Sequence[dict[str, Any]], config: Any) -> tuple[list[dict], list[dict]]:
    """Cold-start candidates for built-in problem rows: (rows in ``config.format``, rows the generator cannot work).

    ``config`` is the cold-start step's config; the built-in generator is re-run with it, which makes the same
    rows (a pure function of its arguments), and the derivations are matched to ``rows`` by id.
    """
    from generators.examples import answer_sentence
    from generators.prompts import render

    derived = {
        r["id"]: r
        for r in worked_problems(
            len(rows),
            seed=config.problem_seed,
            languages=config.languages,
            families=config.families,
            difficulties=config.difficulties,
        )
    }
    fmt = config.format
    candidates, rejected = [], []
    for row in rows:
        base = {**row, "method": "worked", "raw_completion": None}
        found = derived.get(row["id"])
        if found is None:
            rejected.append({**base, "reasoning": None, "summary": None, "reject_reason": "no_worked_solution"})
            continue
        answer = str(row["solution"])
        summary = answer if fmt == "think" else answer_sentence(answer, row.get("lang"))
        candidates.append(
            {
                **base,
                "reasoning": found["reasoning"],
                "summary": summary,
                "completion": render(found["reasoning"], summary, answer, fmt),
                "reward_format": 1.0,
            }
        )
    return candidates, rejected
