"""Mixing several datasets at a ratio, shuffling with a seed, and splitting off a test set.

Weights are shares of the output (``3,1`` = three reasoning rows per non-reasoning row, as the R1
report mixes 600k reasoning with 200k non-reasoning samples). Rows are drawn without replacement,
so by default the mix is as large as the scarcest source allows at that ratio; ``total`` asks for a
smaller mix, and a larger one is an error that names the source that runs out.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from r1f.errors import ConfigError


def mix_counts(sizes: Sequence[int], weights: Sequence[float], total: int | None = None) -> list[int]:
    """How many rows to take from each source.

    >>> mix_counts([100, 10], [3, 1])
    [30, 10]
    >>> mix_counts([100, 100], [1, 1], total=50)
    [25, 25]
    """
    if len(sizes) != len(weights):
        raise ConfigError(f"--weights has {len(weights)} values for {len(sizes)} datasets; give one weight per dataset")
    if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
        raise ConfigError("--weights must be non-negative with at least one above 0")
    shares = [w / sum(weights) for w in weights]
    largest = min(int(size / share + 1e-9) for size, share in zip(sizes, shares) if share > 0)
    target = largest if total is None else total
    if target > largest:
        scarce = min((i for i, s in enumerate(shares) if s > 0), key=lambda i: sizes[i] / shares[i])
        raise ConfigError(
            f"--total {total} needs {round(total * shares[scarce])} rows from dataset {scarce + 1}, which has "
            f"{sizes[scarce]} after hygiene; lower --total (at most {largest}) or change --weights"
        )
    counts = [int(target * share) for share in shares]
    # hand the rounding remainder to the sources with the largest fractional parts, within their sizes
    order = sorted(range(len(shares)), key=lambda i: -(target * shares[i] - counts[i]))
    for i in order[: target - sum(counts)]:
        if counts[i] < sizes[i] and shares[i] > 0:
            counts[i] += 1
    return counts


def mix(
    sources: Sequence[Sequence[dict[str, Any]]],
    weights: Sequence[float],
    *,
    seed: int = 0,
    total: int | None = None,
) -> list[dict[str, Any]]:
    """Sample each source at its share (seeded, without replacement) and shuffle the result."""
    rng = random.Random(seed)
    counts = mix_counts([len(s) for s in sources], weights, total)
    mixed: list[dict[str, Any]] = []
    for rows, count in zip(sources, counts):
        mixed.extend(rng.sample(list(rows), count))
    rng.shuffle(mixed)
    return mixed


def train_test_split(
    rows: Sequence[dict[str, Any]], test_size: float, *, seed: int = 0, group: str | None = "problem"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split rows; with ``group`` set, all rows of one problem land on the same side (no leak into test).

    ``test_size`` below 1 is a fraction of the rows, 1 or more a row count.
    """
    if test_size <= 0:
        return list(rows), []
    keys = [str(row.get(group)) if group and row.get(group) is not None else f"#{i}" for i, row in enumerate(rows)]
    distinct = sorted(set(keys))
    random.Random(seed).shuffle(distinct)
    wanted = round(len(rows) * test_size) if test_size < 1 else int(test_size)
    if wanted >= len(rows):
        raise ConfigError(f"--test-size {test_size} leaves no training rows out of {len(rows)}")
    size_of = Counter(keys)
    test_keys: set[str] = set()
    taken = 0
    for key in distinct:
        if taken >= wanted:
            break
        test_keys.add(key)
        taken += size_of[key]
    train = [row for row, key in zip(rows, keys) if key not in test_keys]
    test = [row for row, key in zip(rows, keys) if key in test_keys]
    return train, test
