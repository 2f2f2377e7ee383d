"""Which prompts share a leading run of tokens, so their prompt pass can compute it once.

Every prompt of a template starts with the same system turn, and a few-shot template with the same
worked examples per language: under ``r1-zero-fewshot`` ~330 of a prompt's ~370 tokens are shared
with the other prompts in its language, and the prompt pass was ~65 % of a 96-token evaluation.
The engine computes a shared prefix once (batch of one) and runs only each prompt's remainder.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

#: a prefix shorter than this is not worth its own pass: the prompts are prefilled whole
MIN_SHARED_PREFIX = 16


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` have in common."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def prefix_families(prompts: dict[Hashable, Sequence[int]]) -> list[tuple[int, list[Hashable]]]:
    """Split distinct prompts into families that each share a prefix: ``[(prefix length, keys)]``.

    Sorted, prompts with a long common prefix are neighbours, and a family's prefix is the least
    common prefix of its neighbouring pairs. A family splits into sub-families with longer prefixes
    (the examples of one language below one system turn) only where that saves more prompt tokens than
    the sub-family's own prefix pass costs, so a few shared words at the start of two problems do not
    buy a pass of their own. A prefix always leaves every prompt at least one token of its own (the
    one whose logits start the answer); one under ``MIN_SHARED_PREFIX`` is reported as 0.
    """
    order = sorted(prompts, key=lambda k: list(prompts[k]))
    shared = [common_prefix(prompts[a], prompts[b]) for a, b in zip(order, order[1:])]
    families: list[tuple[int, list[Hashable]]] = []

    def split(lo: int, hi: int, inherited: int) -> None:
        if hi - lo == 1:
            families.append((inherited, order[lo:hi]))
            return
        least = min(shared[lo : hi - 1])
        prefix = max(least, inherited)
        rest: list[Hashable] = []
        start = lo
        for i in range(lo, hi):
            if i < hi - 1 and shared[i] != least:
                continue
            size = i + 1 - start
            if size > 1:
                deeper = min(shared[start:i])
                if deeper > prefix and size * (deeper - prefix) > deeper:
                    split(start, i + 1, prefix)
                    start = i + 1
                    continue
            rest += order[start : i + 1]
            start = i + 1
        if rest:
            families.append((prefix, rest))

    if order:
        split(0, len(order), 0)
    result = []
    for prefix, keys in families:
        prefix = min(prefix, min(len(prompts[k]) for k in keys) - 1)
        result.append((prefix if prefix >= MIN_SHARED_PREFIX else 0, keys))
    return result
