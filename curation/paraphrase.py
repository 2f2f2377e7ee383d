"""The optional paraphrase check of decontamination: retrieve look-alike evaluation items, ask a model.

N-gram rules miss a reworded copy ("A car drives 60 km/h for 3 h" vs "Driving for 3 hours at 60 km/h"),
so, as NeMo-Skills does, candidates are retrieved cheaply and a model judges each pair. Retrieval is MinHash
LSH (datasketch, as near-dedup uses) over the set of words, numbers included: a reworded math problem keeps
its numbers and most content words, while its word order (what 8-grams see) changes.
Only the most similar candidate per training row goes to the judge, so the model cost is one short greedy
generation per retrieved row, not per pair.

A small model is a poor judge (the embedded 135M model says "yes" to nearly anything): the answers are
recorded per row (``paraphrase_of``, the judge's word) so their quality can be checked, and the bench
reports agreement on true and false pairs instead of assuming it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from r1f.ngrams import normalize

#: a word, or one CJK character (Chinese is written without spaces)
WORD = re.compile(r"[\u3400-\u9fff]|[^\W\u3400-\u9fff]+", re.UNICODE)
#: MinHash Jaccard estimate (word sets) at which an evaluation item is a candidate for the judge: on built-in
#: v2 pairs (one problem in a training and a held-out phrasing) the median is 0.31, while a different problem
#: of the same family scores 0.21 or less nine times in ten
SIMILARITY = 0.25
NUM_PERM = 64
RULE = "paraphrase"

PROMPT = (
    "Decide whether two math problems are the same problem: the same question about the same quantities, "
    "possibly reworded, reordered or translated. Different numbers or a different question make them different.\n\n"
    "Problem A: {a}\n\nProblem B: {b}\n\nAre A and B the same problem? Answer with one word, yes or no."
)


def _tokens(text: str) -> set[bytes]:
    return {w.encode() for w in WORD.findall(normalize(text))}


def _minhash(text: str) -> Any:
    from datasketch import MinHash

    signature = MinHash(num_perm=NUM_PERM, seed=7)
    signature.update_batch(sorted(_tokens(text)))
    return signature


def verdict(text: str) -> bool | None:
    """The judge's answer: True for yes, False for no, None when it said neither first.

    >>> verdict(" Yes, they are."), verdict("No."), verdict("Maybe")
    (True, False, None)
    """
    for word in re.findall(r"\w+", text.lower())[:3]:
        if word in ("yes", "same"):
            return True
        if word in ("no", "different", "not"):
            return False
    return None


@dataclass
class Candidate:
    """A training row and the evaluation item most like it."""

    row: int
    eval_set: int
    item: int
    similarity: float


def candidates(
    texts: Sequence[str], eval_texts: Sequence[Sequence[str]], threshold: float = SIMILARITY
) -> list[Candidate]:
    """For each training text, the most similar evaluation item at or above ``threshold``, if any."""
    from datasketch import MinHashLSH

    index = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    signatures: dict[str, Any] = {}
    for set_index, items in enumerate(eval_texts):
        for item, text in enumerate(items):
            key = f"{set_index}:{item}"
            signatures[key] = _minhash(text)
            index.insert(key, signatures[key])
    found = []
    for row, text in enumerate(texts):
        signature = _minhash(text)
        scored = [(signature.jaccard(signatures[key]), key) for key in index.query(signature)]
        scored = [(s, key) for s, key in scored if s >= threshold]
        if scored:
            similarity, key = max(scored, key=lambda pair: (pair[0], [-int(p) for p in pair[1].split(":")]))
            set_index, item = (int(p) for p in key.split(":"))
            found.append(Candidate(row, set_index, item, similarity))
    return found


def judge_pairs(engine: Any, pairs: Sequence[tuple[str, str]], max_new_tokens: int = 4) -> list[str]:
    """The judge's raw answer for each (training text, evaluation text) pair, greedy and short."""
    from generators.engines import SamplingParams

    prompts = [[{"role": "user", "content": PROMPT.format(a=a, b=b)}] for a, b in pairs]
    answers: list[str] = []
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=max_new_tokens)
    batch = max(1, getattr(engine, "batch_size", 16))
    for start in range(0, len(prompts), batch):
        answers += [c[0].text for c in engine.generate(prompts[start : start + batch], params)]
    return answers
