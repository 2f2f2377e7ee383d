"""Cold starts from real worked solutions: a dataset's own solutions turned into the R1 cold-start form.

Measured on public benchmarks (issue: data that transfers), the built-in worked rows teach a rigid template and
weak arithmetic; people's solutions teach natural-language reasoning that says what each number means. GSM8K's
solutions are reasoning lines with ``<<a*b=c>>`` calculator notes and a final ``#### N``; MATH's and
NuminaMath's are prose with LaTeX ending in ``\\boxed{}``. Both become reasoning (notes removed, boxes
unwrapped, Asymptote figures dropped, LaTeX otherwise kept as written), a one-line summary, and the answer.

A solution is kept only when its own final answer is the gold by the factory's verifier (MATH-500's ``answer``
column and the solution's box can disagree); every row then goes through the same decision as generated rows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

CALCULATOR_RE = re.compile(r"<<[^<>]*>>")
FINAL_GSM8K_RE = re.compile(r"\n?\s*####\s*(.+?)\s*$", re.S)
ASY_RE = re.compile(r"\[asy\].*?\[/asy\]", re.S)
MIN_REASONING_CHARS = 20


def unbox(text: str) -> str:
    r"""``\boxed{X}`` and ``\fbox{X}`` as ``X`` (nested braces kept), everything else as written.

    >>> unbox(r"so $x = \boxed{\frac{1}{2}}$.")
    'so $x = \\frac{1}{2}$.'
    """
    from filters.text import _box_content

    out, i = [], 0
    while True:
        found = re.search(r"\\(?:boxed|fbox)\s*\{", text[i:])
        if not found:
            out.append(text[i:])
            return "".join(out)
        start = i + found.start()
        inner = _box_content(text, i + found.end())
        if inner is None:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:start] + inner)
        i = i + found.end() + len(inner) + 1


def clean_solution(text: str) -> tuple[str, str | None]:
    """(reasoning, the solution's own final answer or None) of a GSM8K- or MATH-style worked solution.

    >>> clean_solution("Each day 14 - 9 = <<14-9=5>>5 are left.\\n#### 5")
    ('Each day 14 - 9 = 5 are left.', '5')
    """
    from filters.text import last_boxed

    final = FINAL_GSM8K_RE.search(text)
    if final:
        answer: str | None = final.group(1).replace(",", "").strip()
        body = text[: final.start()]
    else:
        answer = last_boxed(text)
        body = text
    body = CALCULATOR_RE.sub("", body)
    body = ASY_RE.sub("", body)
    body = unbox(body)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in body.splitlines()]
    reasoning = "\n".join(line for line in lines if line)
    return reasoning, (answer.strip() if answer else None)


def solution_candidates(rows: Sequence[dict[str, Any]], fmt: str) -> tuple[list[dict], list[dict]]:
    """Cold-start candidates in ``fmt`` from rows with a ``worked`` solution; (candidates, rejected with a reason)."""
    from filters.rewards.accuracy import correctness
    from generators.examples import answer_sentence
    from generators.prompts import render

    candidates, rejected = [], []
    cleaned = [clean_solution(str(r.get("worked") or "")) for r in rows]
    own = [answer or "" for _, answer in cleaned]
    agrees = correctness([f"The answer is \\boxed{{{a}}}." for a in own], [r.get("solution") for r in rows])
    for row, (reasoning, answer), ok in zip(rows, cleaned, agrees):
        base = {**row, "method": "solutions", "raw_completion": row.get("worked")}
        reason = None
        if not row.get("worked"):
            reason = "no_worked_solution"
        elif answer is None:
            reason = "solution_has_no_final_answer"
        elif ok != 1.0:
            reason = "solution_disagrees_with_gold"
        elif len(reasoning) < MIN_REASONING_CHARS:
            reason = "solution_too_short"
        if reason:
            rejected.append({**base, "reasoning": None, "summary": None, "reject_reason": reason})
            continue
        assert answer is not None
        summary = answer if fmt == "think" else answer_sentence(answer, row.get("lang"))
        candidates.append(
            {
                **base,
                "reasoning": reasoning,
                "summary": summary,
                "completion": render(reasoning, summary, answer, fmt),
                "reward_format": 1.0,
            }
        )
    return candidates, rejected
