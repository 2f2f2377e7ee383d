"""Getting text out of completions, and the parts of a reasoning completion.

Completions arrive as plain strings (datasets, the filter step) or as TRL's conversational form
(a list of messages, the last one the assistant's). Every reward reads them through
:func:`completion_text` so both shapes, ``None`` and odd content give a defined string.
"""

from __future__ import annotations

import re
from typing import Any

ANSWER_RE = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL)
THINK_RE = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
SPECIAL_TOKEN_RE = re.compile(r"<?\|\s*special_token\s*\|>?")
BOXED_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
ANSWER_IS_RE = re.compile(
    r"(?:answer is|answer:|respuesta es|respuesta:|réponse est|réponse :|Antwort ist|Antwort:|答案是|答案为|答案：)"
    r"\s*[:：]?\s*([^\n]{1,80})",
    re.IGNORECASE,
)


def completion_text(completion: Any) -> str:
    """The text of one completion: a string, a message dict, or a list of messages (last assistant turn).

    >>> completion_text([{"role": "assistant", "content": "14"}]), completion_text(None)
    ('14', '')
    """
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        content = completion.get("content")
        return content if isinstance(content, str) else ""
    if isinstance(completion, (list, tuple)):
        for message in reversed(completion):
            if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
                return completion_text(message)
        return completion_text(completion[-1]) if completion else ""
    return ""


def prompt_text(prompt: Any) -> str:
    """The last user turn of a chat prompt (or the prompt itself when it is a string)."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)):
        for message in reversed(prompt):
            if isinstance(message, dict) and message.get("role") == "user":
                return message.get("content") or ""
    return ""


def row_problem(row: dict[str, Any]) -> str:
    """The problem a row is about: its ``problem`` column, else the last user turn of ``prompt`` or ``messages``.

    >>> row_problem({"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]})
    '2+2?'
    """
    value = row.get("problem")
    if isinstance(value, str) and value:
        return value
    return prompt_text(row.get("prompt") or row.get("messages"))


def row_completion(row: dict[str, Any]) -> str:
    """A row's completion text: its ``completion`` column, else the last assistant turn of ``messages``."""
    value = row.get("completion")
    return completion_text(value if value is not None else row.get("messages"))


def _box_content(text: str, start: int) -> str | None:
    """What a box opened just before ``start`` holds, up to its balancing brace (None when it never closes)."""
    depth = 1
    for i in range(start, min(len(text), start + 2000)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (braces balanced), or None."""
    starts = [m.end() for m in BOXED_RE.finditer(text)]
    return _box_content(text, starts[-1]) if starts else None


def answer_region(text: str) -> str:
    r"""Where the final answer lives, cut out so that parsing is cheap and exact.

    In order: the last ``<answer>`` block; else the R1 summary (after the last special token); then,
    inside that, the last ``\boxed{}`` or what follows the last "the answer is" (five languages).
    When none is found the whole text is returned (the same object), for anchored parsing.
    ``math_verify.parse`` does not look inside ``<answer>`` tags, so the content must be cut out first.

    >>> answer_region("<think>2+12</think><answer> 14 </answer>")
    ' 14 '
    >>> answer_region("|special_token| 3*4=12, +2 |special_token| Summary: the answer is 14.")
    '14.'
    >>> answer_region("So we get $\\boxed{\\frac{1}{2}}$.")
    '\\frac{1}{2}'
    """
    matches = ANSWER_RE.findall(text)
    if matches and matches[-1].strip():
        return matches[-1]
    region = text
    parts = SPECIAL_TOKEN_RE.split(text)
    if len(parts) >= 3 and parts[-1].strip():
        region = parts[-1]
    boxed = last_boxed(region)
    if boxed and boxed.strip():
        return boxed
    stated = ANSWER_IS_RE.findall(region)
    if stated:
        return stated[-1]
    return region


#: what introduces a final answer in free text: "the answer is", "final answer:", GSM8K's ``####``, an "A:" line
ANCHOR_RE = re.compile(
    r"(?:answer is|answer\s*:|respuesta es|respuesta\s*:|réponse est|réponse\s*:|Antwort ist|Antwort\s*:"
    r"|答案是|答案为|答案：|####|^[ \t]*A\s*:)"
    r"[ \t]*[:：]?[ \t]*(?P<value>[^\n]{0,160})",
    re.IGNORECASE | re.MULTILINE,
)
#: the end of the anchored sentence: a period before a new sentence, or a clause that explains the answer
SENTENCE_END_RE = re.compile(r"\.\s+(?=[A-Z¿¡])|\s(?:because|since|as|which|so that|weil|car|porque)\s|[;；]")
#: a LaTeX command or text group, removed before asking whether a bare completion is only a value
LATEX_WORDS_RE = re.compile(r"\\[A-Za-z]+(?:\{[^{}]*\})?")


def _boxes(text: str) -> list[str]:
    r"""Contents of the last ``\boxed{}`` and of the other boxes in its paragraph (a hedge boxes two values)."""
    starts = list(BOXED_RE.finditer(text))
    if not starts:
        return []
    paragraph = text.rfind("\n\n", 0, starts[-1].start())
    found = [_box_content(text, m.end()) for m in starts if m.start() >= paragraph]
    return [box for box in found if box is not None] or [""]


def _anchored(text: str) -> str | None:
    matches = list(ANCHOR_RE.finditer(text))
    if not matches:
        return None
    value = matches[-1].group("value")
    return SENTENCE_END_RE.split(value, maxsplit=1)[0].strip()


def _only_a_value(text: str) -> bool:
    """A whole completion that is just an answer (``14``, ``\frac{1}{2}``, ``x = 5``, ``Paris``), not prose."""
    text = text.strip()
    if not text or len(text) > 80 or "\n" in text:
        return False
    if " " not in text:
        return True
    return not re.search(r"[A-Za-z]{2,}", LATEX_WORDS_RE.sub(" ", text))


def answer_regions(text: str) -> tuple[list[str], bool]:
    r"""(answer regions, explicit): where a completion states its final answer, for verification.

    In order: the last ``<answer>`` block (its boxes if it has any, else its anchored line, else all of it);
    else, after any ``<think>`` block and R1 special tokens, the last ``\boxed{}`` with the other boxes of
    its paragraph, else what follows the last anchor ("the answer is", "final answer:", ``####``, "A:"),
    else the whole completion if it is only a value. An empty block or box is an empty region (it scores 0:
    it never falls back to the reasoning). Free text without an anchor has no region: a stray number in
    the reasoning is not an answer.

    >>> answer_regions("<think>2+12</think><answer> 14 </answer>")
    ([' 14 '], True)
    >>> answer_regions("<think>14</think><answer></answer>"), answer_regions("Tom ate 2 of 7 apples.")
    (([''], True), ([], False))
    >>> answer_regions("so $\\boxed{12}$ or $\\boxed{14}$"), answer_regions("5 * 4 = 20\n#### 20")
    ((['12', '14'], True), (['20'], True))
    """
    tags = ANSWER_RE.findall(text)
    if tags:
        content = tags[-1]
        if BOXED_RE.search(content):
            return _boxes(content), True
        stated = _anchored(content)
        return ([stated] if stated is not None and stated.strip() else [content]), True
    final = text
    think_end = text.rfind("</think>")
    if think_end >= 0:
        final = text[think_end + len("</think>") :]
    parts = SPECIAL_TOKEN_RE.split(final)
    if len(parts) >= 3 and parts[-1].strip():
        final = parts[-1]
    if BOXED_RE.search(final):
        return _boxes(final), True
    stated = _anchored(final)
    if stated is not None:
        return [stated], True
    if _only_a_value(final):
        return [final], True
    return [], False


def final_answer(text: str) -> str:
    """The whole final-answer statement a person would edit, or ``""``: the last ``<answer>`` block, else the R1
    summary (after the last special token), else the last sentence that states the answer.

    Unlike :func:`answer_region` (the bare value, for verification) this keeps the sentence, so a reviewer who
    corrects "Die Antwort ist 65." rewrites the sentence, not a number glued to a sentence left in place.

    >>> final_answer("|special_token| 13 * 5 = 65 |special_token| Die Antwort ist 65.")
    'Die Antwort ist 65.'
    >>> final_answer("<think>2+2</think><answer> 4 </answer>"), final_answer("no answer here")
    ('4', '')
    """
    matches = ANSWER_RE.findall(text)
    if matches and matches[-1].strip():
        return matches[-1].strip()
    parts = SPECIAL_TOKEN_RE.split(text)
    if len(parts) >= 3 and parts[-1].strip():
        return parts[-1].strip()
    stated = list(ANSWER_IS_RE.finditer(text)) or list(BOXED_RE.finditer(text))
    if not stated:
        return ""
    at = stated[-1].start()
    start = max(text.rfind(mark, 0, at) for mark in (". ", ".\n", "\n", "。", "! ", "? "))
    return text[start + 1 if start >= 0 else 0 :].strip().split("\n")[0].strip()


def reasoning_region(text: str) -> str:
    """The reasoning part: inside ``<think>``, else between the R1 special tokens, else the text minus any answer."""
    match = THINK_RE.search(text)
    if match and match.group(1).strip():
        return match.group(1)
    parts = SPECIAL_TOKEN_RE.split(text)
    if len(parts) >= 3:
        return parts[-2]
    return ANSWER_RE.sub(" ", text)


#: signs that read as a minus in answers: U+2212 MINUS SIGN, the dashes people type for it, the small/fullwidth forms
MINUS_SIGNS = dict.fromkeys(map(ord, "\u2212\u2012\u2013\ufe63\uff0d"), "-")


def normalize_answer(text: str) -> str:
    """Unicode digits and signs as ASCII, so that ``−7`` (U+2212), ``－７`` (fullwidth) and ``٧`` (Arabic-Indic)
    verify like ``-7`` and ``7``. NFKC folds compatibility forms; every other decimal digit maps to its value.

    >>> normalize_answer("\u22127"), normalize_answer("\uff0d\uff17"), normalize_answer("\u0667\u0662")
    ('-7', '-7', '72')
    """
    import unicodedata

    if text.isascii():
        return text
    folded = unicodedata.normalize("NFKC", text).translate(MINUS_SIGNS)
    return "".join(str(unicodedata.digit(c)) if c.isdigit() and not c.isascii() else c for c in folded)
