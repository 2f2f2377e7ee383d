"""Exact and near-duplicate removal that keeps the best-scored row of each cluster.

Exact duplicates share their normalised text (lower case, whitespace collapsed). Near duplicates
are found with MinHash + LSH from ``datasketch``: it is the library open-r1/datatrove users already
know, it is pure Python with numpy underneath (no compiler, installs in seconds on the registries
here), and its LSH index answers "who is probably similar to this row" without comparing all pairs.
Candidates from the index are confirmed with the MinHash Jaccard estimate before two rows are joined,
and clusters are closed transitively (union-find), so a chain of paraphrases ends as one cluster.

Which row survives a cluster is decided by :func:`row_score`: the ``score`` column when there is
one, else the sum of the ``reward_*`` columns, ties broken by the shorter text and then file order,
so the result is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from filters.text import row_completion, row_problem
from r1f.ngrams import normalize

WORD = re.compile(r"\w+", re.UNICODE)
TARGETS = ("problem", "completion")
#: Jaccard similarity (MinHash estimate) at which two texts are one
NEAR_THRESHOLD = 0.85
#: MinHash signature size and word shingle length of near-dedup
NUM_PERM = 128
SHINGLE = 3


def target_text(row: dict[str, Any], target: str) -> str:
    """The text a dedup target compares: the row's problem or its completion."""
    return row_problem(row) if target == "problem" else row_completion(row)


def row_score(row: dict[str, Any]) -> float:
    """How good a row is, for choosing the survivor of a duplicate cluster (higher is better)."""
    score = row.get("score")
    if isinstance(score, (int, float)) and not isinstance(score, bool):
        return float(score)
    return float(sum(v for k, v in row.items() if k.startswith("reward_") and isinstance(v, (int, float))))


def shingles(text: str, size: int) -> set[bytes]:
    """Word ``size``-grams of the normalised text (the whole text when it is shorter)."""
    words = WORD.findall(normalize(text))
    if len(words) <= size:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class DedupResult:
    """The rows kept, the rows dropped (each with ``reject_reason`` and ``duplicate_of``), and counts."""

    kept: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=dict)


def dedup(
    rows: Sequence[dict[str, Any]],
    *,
    targets: Sequence[str] = TARGETS,
    near: bool = True,
    threshold: float = NEAR_THRESHOLD,
    num_perm: int = NUM_PERM,
    shingle: int = SHINGLE,
    score: Callable[[dict[str, Any]], float] = row_score,
    on_progress: Callable[[int, int], None] | None = None,
) -> DedupResult:
    """Drop exact and (optionally) near duplicates of each target text, keeping the best-scored row.

    Targets run in order (problems first, then completions of the rows that survived). A row's
    ``duplicate_of`` names the ``id`` of the row that was kept in its place.
    """
    for target in targets:
        if target not in TARGETS:
            raise ValueError(f"unknown dedup target {target!r}; use {' or '.join(TARGETS)}")
    current = list(rows)
    dropped: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for target in targets:
        texts = [target_text(row, target) for row in current]
        union = _UnionFind(len(current))
        first: dict[str, int] = {}
        for i, text in enumerate(texts):
            key = normalize(text)
            if not key:
                continue  # a row without this text is nobody's duplicate
            if key in first:
                union.union(first[key], i)
            else:
                first[key] = i
        if near:
            _near_clusters(
                texts, first, union, threshold=threshold, num_perm=num_perm, shingle=shingle, on_progress=on_progress
            )
        clusters: dict[int, list[int]] = {}
        for i in range(len(current)):
            clusters.setdefault(union.find(i), []).append(i)
        survivors: list[dict[str, Any]] = []
        for members in clusters.values():
            best = max(members, key=lambda i: (score(current[i]), -len(texts[i]), -i))
            survivors.append(current[best])
            for i in members:
                if i == best:
                    continue
                exact = normalize(texts[i]) == normalize(texts[best])
                reason = f"duplicate_{target}" if exact else f"near_duplicate_{target}"
                counts[reason] = counts.get(reason, 0) + 1
                dropped.append({**current[i], "reject_reason": reason, "duplicate_of": current[best].get("id")})
        order = {id(row): n for n, row in enumerate(current)}
        current = sorted(survivors, key=lambda row: order[id(row)])
    return DedupResult(current, dropped, counts)


def _near_clusters(
    texts: Sequence[str],
    first: dict[str, int],
    union: _UnionFind,
    *,
    threshold: float,
    num_perm: int,
    shingle: int,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """Join rows whose MinHash Jaccard estimate reaches ``threshold`` (one representative per exact key)."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    hashes: dict[int, MinHash] = {}
    representatives = sorted(first.values())
    for done, i in enumerate(representatives, start=1):
        grams = shingles(texts[i], shingle)
        if not grams:
            continue
        signature = MinHash(num_perm=num_perm, seed=1)
        signature.update_batch(list(grams))
        for j in lsh.query(signature):
            if signature.jaccard(hashes[j]) >= threshold:
                union.union(j, i)
        lsh.insert(i, signature)
        hashes[i] = signature
        if on_progress and (done % 500 == 0 or done == len(representatives)):
            on_progress(done, len(representatives))
