"""Cold-start data (R1 stage 0): few-shot long CoT, direct prompting, and refinement of R1-Zero outputs.

Every method ends the same way: each candidate is parsed into reasoning and summary, re-rendered in
the chosen output form, and verified (accuracy against the gold, well-formedness of the raw output,
language consistency). Rows that pass go to ``train`` as TRL SFT ``messages``; the rest go to
``rejected`` with the reason, so people can see what was dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from filters.text import ANSWER_RE, SPECIAL_TOKEN_RE, THINK_RE, answer_region, completion_text
from generators.config import EngineConfig, GrowthConfig, OutputConfig, ProblemsConfig, SamplingConfig, output_option
from generators.examples import EXAMPLES, answer_sentence, pick_examples
from generators.prompts import SFT_SYSTEM, render
from r1f.config import MAX_SAMPLES, option
from r1f.errors import ConfigError, DataError
from r1f.schema import Messages

TRAILING_STOP_RE = re.compile(r"[\s.。!！]+$")
FORMATS = ("r1", "think")
METHODS = ("few-shot", "direct", "refine", "worked", "solutions")
LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "fr": "French", "de": "German", "zh": "Chinese"}


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def parse_output(text: str, fmt: str) -> tuple[str, str, str] | None:
    """(reasoning, summary, answer) from a model's output in form ``fmt``, or None if it is not in that form."""
    if fmt == "r1":
        parts = SPECIAL_TOKEN_RE.split(text)
        if len(parts) < 3 or not parts[-2].strip() or not parts[-1].strip():
            return None
        summary = parts[-1].strip().split("\n")[0].strip()
        return parts[-2].strip(), summary, TRAILING_STOP_RE.sub("", answer_region(summary).strip()) or summary
    think, answer = THINK_RE.search(text), ANSWER_RE.findall(text)
    if not think or not think.group(1).strip() or not answer or not answer[-1].strip():
        return None
    return think.group(1).strip(), answer[-1].strip(), answer[-1].strip()


def parse_natural(text: str) -> tuple[str, str, str] | None:
    """(reasoning, summary, answer) from free prose: the last "the answer is …" / ``\\boxed{}`` sentence is
    the summary, everything before it (verification included) the reasoning. None when there is no
    final answer statement or no reasoning before it.

    >>> parse_natural("First 3 * 4 = 12. Then 12 + 2 = 14. Check: 14 - 2 = 12. So the answer is 14.")
    ('First 3 * 4 = 12. Then 12 + 2 = 14. Check: 14 - 2 = 12.', 'So the answer is 14.', '14')
    """
    from filters.text import ANSWER_IS_RE, BOXED_RE

    matches = list(ANSWER_IS_RE.finditer(text)) or list(BOXED_RE.finditer(text))
    if not matches:
        return None
    at = matches[-1].start()
    start = max(text.rfind(mark, 0, at) for mark in (". ", ".\n", "\n", "。", "! ", "? "))
    start = 0 if start < 0 else start + 1
    reasoning, rest = text[:start].strip(), text[start:].strip()
    summary = rest.split("\n")[0].strip()
    if len(reasoning.split()) < 3 and len(reasoning) < 6:
        return None
    answer = answer_region(summary).strip()
    return reasoning, summary, TRAILING_STOP_RE.sub("", answer) or summary


def _instructions(fmt: str, lang: str | None) -> str:
    language = LANGUAGE_NAMES.get(lang or "", "the language of the problem")
    return f"{SFT_SYSTEM[fmt]} Write everything in {language}."


@dataclass(frozen=True)
class FewShotPrompt:
    """k worked examples as earlier chat turns, then the target problem (examples never include it)."""

    k: int = 2
    fmt: str = "r1"
    pool: tuple[dict[str, str], ...] = tuple(EXAMPLES)
    name: str = "few-shot"

    def __call__(self, problem: dict[str, Any]) -> Messages:
        messages: Messages = [{"role": "system", "content": _instructions(self.fmt, problem.get("lang"))}]
        for example in pick_examples(problem, self.k, self.pool):
            messages.append({"role": "user", "content": example["problem"]})
            answer = example.get("answer") or answer_region(example["summary"])
            messages.append(
                {"role": "assistant", "content": render(example["reasoning"], example["summary"], answer, self.fmt)}
            )
        messages.append({"role": "user", "content": problem["problem"]})
        return messages


DIRECT_INSTRUCTION = (
    "Solve this problem. Show your reasoning step by step. Then reflect on your steps and verify the result "
    "(for example by working backwards or substituting it), and keep that verification in your reasoning."
)


@dataclass(frozen=True)
class DirectPrompt:
    """Direct prompting: ask for step-by-step reasoning, reflection and verification, in the chosen form."""

    fmt: str = "r1"
    name: str = "direct"

    def __call__(self, problem: dict[str, Any]) -> Messages:
        return [
            {"role": "system", "content": _instructions(self.fmt, problem.get("lang"))},
            {"role": "user", "content": f"{DIRECT_INSTRUCTION}\n\n{problem['problem']}"},
        ]


# -- refinement of R1-Zero outputs ---------------------------------------------------------------------

FILLER_RE = re.compile(
    r"(?<!\w)(?:u+m+|u+h+|h+m+|e+r+m*|ä+h*m*|e+u+h+|e+h+|okay so|ok so|so yeah|like,|you know,|i guess|wait,?"
    r"|bueno,|este,|pues,|ben,|alors,|also,|naja,|嗯|呃|那个)(?!\w)",
    re.IGNORECASE,
)
ELLIPSIS_RE = re.compile(r"\.{3,}|…")
SENTENCE_END_RE = re.compile(r"(?<=[.!?。！？])\s+|\n+")
STEP_WORD = {"en": "Step", "es": "Paso", "fr": "Étape", "de": "Schritt", "zh": "第{}步"}


def rule_refine(completion: str, lang: str | None = None, gold: Any = None) -> tuple[str, str] | str:
    """Clean a messy ``<think>…</think><answer>…</answer>`` output: (reasoning, answer) or a reject reason.

    Strips filler ("umm", "...", "hmm"), repairs missing closing tags, normalises whitespace, and
    numbers the remaining sentences as steps. The answer is kept exactly as the model gave it; an output
    that never opened ``<answer>`` but states its answer ("so the answer is 14") is read from that statement;
    one that states nothing but ends on the gold value (R1-Zero often stops at "... = 14") keeps that number,
    the model's own, as its answer.

    >>> rule_refine("<think>  ummm... multiply 3 and 4... get 12... then add 2...</think>\\n<answer> 14 </answer>")
    ('Step 1: Multiply 3 and 4.\\nStep 2: Get 12.\\nStep 3: Then add 2.', '14')
    >>> rule_refine("<think>3 times 4 is 12, plus 2. So the answer is 14.</think>")
    ('Step 1: 3 times 4 is 12, plus 2.', '14')
    >>> rule_refine("3 times 4 is 12, and 12 + 2 = 14", gold="14")
    ('Step 1: 3 times 4 is 12, and 12 + 2 = 14.', '14')
    """
    text = completion_text(completion)
    answers = ANSWER_RE.findall(text)
    answer = answers[-1].strip() if answers else ""
    think = THINK_RE.search(text)
    raw = think.group(1) if think else ANSWER_RE.sub(" ", text)
    if not answer:
        stated = parse_natural(re.sub(r"</?(?:think|answer)>", " ", raw))
        if stated is not None:
            raw, _, answer = stated
        else:
            answer = _final_number_if_gold(raw, gold)
            if answer is None:
                return "no_answer"
    raw = re.sub(r"</?(?:think|answer)>", " ", raw)
    cleaned = FILLER_RE.sub(" ", ELLIPSIS_RE.sub(".\n", raw))
    sentences = []
    for piece in SENTENCE_END_RE.split(cleaned):
        piece = re.sub(r"\s+", " ", piece).strip(" ,;:-")
        if len(re.sub(r"\W", "", piece)) < 2:
            continue
        piece = piece[0].upper() + piece[1:]
        if piece[-1] not in ".!?。！？":
            piece += "。" if lang == "zh" else "."
        sentences.append(piece)
    if not sentences:
        return "no_reasoning"
    word = STEP_WORD.get(lang or "en", "Step")
    steps = [(word.format(i) + "：" if "{}" in word else f"{word} {i}: ") + s for i, s in enumerate(sentences, start=1)]
    return "\n".join(steps), answer


FINAL_NUMBER_RE = re.compile(r"(-?\d+(?:\.\d+)?(?:/\d+)?)\W*$")


def _final_number_if_gold(text: str, gold: Any) -> str | None:
    """The number a text ends on, when it equals the gold value; else None."""
    from fractions import Fraction

    found = FINAL_NUMBER_RE.search(text.strip())
    if gold is None or not found:
        return None
    try:
        return found.group(1) if Fraction(found.group(1)) == Fraction(str(gold).strip()) else None
    except (ValueError, ZeroDivisionError):
        return None


REWRITE_INSTRUCTION = (
    "Rewrite the reasoning below so that it is clear and well organised, as numbered steps, in {language}. "
    "Keep every calculation. The final answer is {answer} and must not change. Reply with the rewritten "
    "reasoning only, ending with: {sentence}"
)


@dataclass(frozen=True)
class RewritePrompt:
    """LLM refinement: ask a model to rewrite a cleaned reasoning without changing the answer."""

    name: str = "refine-llm"

    def __call__(self, row: dict[str, Any]) -> Messages:
        language = LANGUAGE_NAMES.get(row.get("lang") or "", "the language of the problem")
        instruction = REWRITE_INSTRUCTION.format(
            language=language,
            answer=row["draft_answer"],
            sentence=answer_sentence(row["draft_answer"], row.get("lang")),
        )
        return [
            {"role": "system", "content": instruction},
            {"role": "user", "content": f"Problem: {row['problem']}\n\nReasoning:\n{row['draft_reasoning']}"},
        ]


def require_columns(rows: Sequence[dict[str, Any]], columns: Sequence[str], source: str, hint: str) -> None:
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} (columns: {', '.join(rows[0])}); {hint}")


# -- the config and the three ways to candidates -------------------------------------------------------


@dataclass
class ColdStartConfig(SamplingConfig, EngineConfig, ProblemsConfig, GrowthConfig, OutputConfig):
    """``r1f cold-start``: verified long-CoT SFT rows from few-shot prompting, direct prompting or refinement."""

    out: str = output_option("datasets_out/cold_start")
    method: str = option(
        "few-shot",
        help="few-shot (k worked examples), direct (reason, reflect, verify), refine (clean R1-Zero outputs given "
        "by --problems), worked (the built-in generator writes out its own steps; no model, --problems builtin) or "
        "solutions (a dataset's own worked solutions, cleaned and verified; no model: --problems gsm8k, math, ...).",
    )
    format: str = option(
        "r1",
        help="Assistant form: r1 (|special_token| reasoning |special_token| summary) or think "
        "(<think>..</think><answer>..</answer>).",
    )
    k: int = option(2, help="few-shot: worked examples per prompt (same language first; never the target).")
    examples: str | None = option(
        None, help="few-shot: a jsonl pool of examples (problem, reasoning, summary, lang) instead of the built-in one."
    )
    refiner: str = option(
        "rules",
        help="refine: rules (strip filler, fix tags, number steps) or llm (a model rewrites; rejected if the answer "
        "changes).",
    )
    lang_threshold: float = option(0.95, help="Minimum language consistency of kept rows.")
    n: int = option(
        1, low=1, high=MAX_SAMPLES, help="Candidates per problem (with --temperature > 0); each is verified."
    )

    def validate(self) -> None:
        super().validate()
        check_format(self.format)
        if self.method not in METHODS:
            raise ConfigError(f"--method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.method == "worked" and self.problems != "builtin":
            raise ConfigError(
                f"--method worked writes the built-in generator's own steps; --problems {self.problems} carries no "
                "derivation: use --problems builtin (or another method for files and datasets)"
            )
        if self.method == "solutions" and self.problems.split("/")[0] in ("builtin", "heldout"):
            raise ConfigError(
                "--method solutions turns a dataset's own worked solutions into rows: give --problems gsm8k, math, "
                "numina, openr1-math (or a GSM8K/MATH-like file); built-in problems use --method worked"
            )
        if self.refiner not in ("rules", "llm"):
            raise ConfigError(f"--refiner must be rules or llm, got {self.refiner!r}")
        if self.k < 0:
            raise ConfigError(f"--k must be >= 0, got {self.k}")
        if not 0 <= self.lang_threshold <= 1:
            raise ConfigError(f"--lang-threshold must be in [0, 1], got {self.lang_threshold}")

    @property
    def needs_engine(self) -> bool:
        """Whether the method generates text (the step then loads a model; worked and rule-refined rows need none)."""
        return self.method in ("few-shot", "direct") or (self.method == "refine" and self.refiner == "llm")

    def prompt(self) -> FewShotPrompt | DirectPrompt | RewritePrompt:
        if self.method == "few-shot":
            from r1f.io import read_rows

            pool = tuple(read_rows(self.examples)) if self.examples else tuple(EXAMPLES)
            return FewShotPrompt(k=self.k, fmt=self.format, pool=pool)
        if self.method == "direct":
            return DirectPrompt(fmt=self.format)
        return RewritePrompt()


def from_generations(rows: Sequence[dict[str, Any]], method: str, fmt: str) -> tuple[list[dict], list[dict]]:
    """Few-shot / direct outputs -> (candidates re-rendered in ``fmt``, rejected as ``bad_format``)."""
    from filters.rewards.format import Format

    check = Format("r1" if fmt == "r1" else "loose")
    candidates, rejected = [], []
    for row in rows:
        raw = row["completion"]
        parsed = parse_output(raw, fmt)
        if parsed is None and method == "direct":  # direct prompting is parsed from its prose
            parsed = parse_natural(raw)
        base = {**row, "method": method, "raw_completion": raw, "reward_format": check([raw])[0]}
        if parsed is None:
            rejected.append({**base, "reasoning": None, "summary": None, "reject_reason": "bad_format"})
            continue
        reasoning, summary_text, answer = parsed
        if fmt == "think":  # the think form's summary is its <answer> block
            summary_text = answer
        candidates.append(
            {
                **base,
                "reasoning": reasoning,
                "summary": summary_text,
                "completion": render(reasoning, summary_text, answer, fmt),
            }
        )
    return candidates, rejected


def drafts_from(rows: Sequence[dict[str, Any]], refiner: str, source: str) -> tuple[list[dict], list[dict]]:
    """Refinement's first pass, the rules: R1-Zero outputs -> (drafts with reasoning and answer, rejected)."""
    if not rows:
        return [], []
    require_columns(
        rows,
        ["problem", "completion"],
        source,
        "refine needs raw model outputs: a dataset with problem and completion columns",
    )
    drafts, rejected = [], []
    for row in rows:
        refined = rule_refine(row["completion"], row.get("lang"), row.get("solution"))
        base = {**row, "method": f"refine/{refiner}", "raw_completion": row["completion"]}
        if isinstance(refined, str):
            rejected.append({**base, "reasoning": None, "summary": None, "reject_reason": refined})
        else:
            drafts.append({**base, "draft_reasoning": refined[0], "draft_answer": refined[1]})
    return drafts, rejected


def apply_rewrites(drafts: list[dict], rewrites: Sequence[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """LLM refinement: keep a draft's rewrite only when it states the same answer it was given."""
    from filters.rewards.accuracy import correctness
    from r1f.schema import stable_id

    by_problem = {r["problem_id"]: r for r in rewrites}
    rewritten, rejected = [], []
    for draft in drafts:
        key = draft.get("id") or stable_id(draft.get("problem"), draft.get("solution"))
        text = (by_problem.get(key) or {}).get("completion", "").strip()
        if not text:
            rejected.append({**draft, "reasoning": None, "summary": None, "reject_reason": "empty_rewrite"})
        else:
            rewritten.append({**draft, "rewrite": text})
    same = correctness([d["rewrite"] for d in rewritten], [d["draft_answer"] for d in rewritten])
    kept = []
    for draft, ok in zip(rewritten, same):
        if ok != 1.0:
            rejected.append(
                {**draft, "reasoning": draft["rewrite"], "summary": None, "reject_reason": "answer_changed"}
            )
        else:
            kept.append({**draft, "draft_reasoning": draft["rewrite"]})
    return kept, rejected


def from_drafts(drafts: Sequence[dict[str, Any]], fmt: str) -> list[dict]:
    """Drafts -> candidates in ``fmt``, with the answer sentence of the row's language as the summary."""
    out = []
    for draft in drafts:
        sentence = answer_sentence(draft["draft_answer"], draft.get("lang"))
        out.append(
            {
                **draft,
                "reasoning": draft["draft_reasoning"],
                "summary": sentence,
                "completion": render(draft["draft_reasoning"], sentence, draft["draft_answer"], fmt),
                "reward_format": 1.0,
            }
        )
    if out and "solution" not in out[0]:
        for candidate in out:  # no gold: the answer must at least be the one the input gave
            candidate["solution"] = candidate.get("draft_answer")
    return out


def strip_work_columns(rows: Sequence[dict[str, Any]]) -> None:
    for row in rows:
        for column in ("draft_reasoning", "draft_answer", "rewrite"):
            row.pop(column, None)
