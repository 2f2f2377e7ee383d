"""``r1f curate``: decontaminate, dedup, mix and split factory datasets into one dataset people can trust.

Order matters and is fixed: decontamination first (a contaminated row must not survive as the "best"
of a duplicate cluster), then dedup over the union of all inputs (the same problem in two sources is
one problem), then mixing at the requested ratio, then the seeded train/test split grouped by
problem. Every removed row goes to the ``rejected`` split with its reason (``contaminated``,
``duplicate_problem``, ``near_duplicate_completion``, ...) and, for duplicates, the id it duplicates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from curation.decontaminate import HELDOUT, Decontaminator, load_eval_set
from curation.dedup import NEAR_THRESHOLD, NUM_PERM, SHINGLE, TARGETS, dedup, target_text
from curation.mix import mix, train_test_split
from r1f.errors import ConfigError, DataError
from r1f.ngrams import NGRAM


@dataclass
class CurateConfig:
    """Everything ``r1f curate`` can be told; the defaults are what a cautious user wants."""

    inputs: list[str]
    out: str
    weights: list[float] | None = None
    total: int | None = None
    dedup_on: list[str] = field(default_factory=lambda: list(TARGETS))
    near: bool = True
    near_threshold: float = NEAR_THRESHOLD
    eval_sets: list[str] = field(default_factory=lambda: [HELDOUT])
    eval_column: str | None = None
    ngram: int = NGRAM
    contaminated: str = "drop"
    test_size: float = 0.0
    seed: int = 0
    split: str = "train"

    def validate(self) -> None:
        if not self.inputs:
            raise ConfigError("give at least one dataset to curate")
        if self.contaminated not in ("drop", "flag"):
            raise ConfigError(f"--contaminated {self.contaminated!r}: use drop or flag")
        if not 0 < self.near_threshold <= 1:
            raise ConfigError(f"--near-threshold {self.near_threshold}: use a Jaccard similarity in (0, 1]")
        if self.ngram < 1:
            raise ConfigError(f"--ngram {self.ngram}: use 1 or more words")
        for target in self.dedup_on:
            if target not in TARGETS:
                raise ConfigError(f"--dedup-on {target!r}: use problem, completion, or both (comma-separated)")
        if self.weights is not None and len(self.weights) != len(self.inputs):
            raise ConfigError(
                f"--weights has {len(self.weights)} values for {len(self.inputs)} datasets; give one per dataset"
            )


def run_curate(config: CurateConfig, on_progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Run the pipeline and write the dataset; returns the manifest's counts."""
    from r1f.io import read_rows, versions, write_dataset
    from r1f.plots import dataset_plots

    config.validate()
    sources: list[list[dict[str, Any]]] = []
    for index, path in enumerate(config.inputs):
        rows = read_rows(path, split=config.split)
        for row in rows:
            row.setdefault("mix_source", path)
        sources.append(rows)
        if on_progress:
            on_progress("read", index + 1, len(config.inputs))
    for path, rows in zip(config.inputs, sources):
        for target in config.dedup_on:
            if not any(target_text(row, target).strip() for row in rows):
                where = "a 'problem', 'prompt' or 'messages'" if target == "problem" else "a 'completion' or 'messages'"
                raise DataError(
                    f"{path}: no row has {target} text ({where} column) to dedup on; "
                    f"pass --dedup-on {'completion' if target == 'problem' else 'problem'} or --dedup-on none"
                )
    everything = [row for rows in sources for row in rows]
    rejected: list[dict[str, Any]] = []
    counts: dict[str, Any] = {"input_rows": {path: len(rows) for path, rows in zip(config.inputs, sources)}}

    contamination: Counter[str] = Counter()
    if config.eval_sets:
        decontaminator = Decontaminator([load_eval_set(s, config.eval_column) for s in config.eval_sets], config.ngram)
        hits = decontaminator.check([target_text(row, "problem") for row in everything])
        clean = []
        for row, hit in zip(everything, hits):
            marks = {
                "contaminated_by": hit["sets"] if hit else None,
                "contaminated_items": hit["items"] if hit else None,
            }
            if hit is not None:
                contamination.update(hit["sets"])
            if config.contaminated == "flag":
                clean.append({**row, **marks})
            elif hit is not None:
                rejected.append({**row, "reject_reason": "contaminated", **marks})
            else:
                clean.append(row)
        everything = clean
        if on_progress:
            on_progress("decontaminate", 1, 1)
    counts["contaminated_by_eval_set"] = dict(contamination)

    if config.dedup_on:
        result = dedup(
            everything,
            targets=config.dedup_on,
            near=config.near,
            threshold=config.near_threshold,
            on_progress=(lambda done, total: on_progress("near-dedup", done, total)) if on_progress else None,
        )
        everything = result.kept
        rejected.extend(result.dropped)

    survivors = [[row for row in everything if row["mix_source"] == path] for path in config.inputs]
    counts["after_hygiene"] = {path: len(rows) for path, rows in zip(config.inputs, survivors)}
    weights = config.weights or [float(len(rows)) for rows in survivors]
    if not any(survivors):
        raise ConfigError(f"nothing is left of {', '.join(config.inputs)} after decontamination and dedup")
    mixed = mix(survivors, weights, seed=config.seed, total=config.total)
    counts["mixed_from"] = dict(Counter(row["mix_source"] for row in mixed))
    train, test = train_test_split(mixed, config.test_size, seed=config.seed)
    counts.update(
        kept=len(mixed),
        train=len(train),
        test=len(test),
        dropped=len(rejected),
        dropped_by_reason=dict(Counter(row["reject_reason"] for row in rejected)),
    )
    splits: dict[str, Sequence[dict[str, Any]]] = {"train": train}
    if test:
        splits["test"] = test
    if rejected:
        splits["rejected"] = rejected
    manifest = {
        "kind": "curated",
        "command": ["r1f", "curate", *config.inputs],
        "parameters": {
            "inputs": config.inputs,
            "weights": config.weights,
            "total": config.total,
            "dedup_on": config.dedup_on,
            "near_dedup": (
                f"datasketch MinHash LSH, word {SHINGLE}-gram shingles, {NUM_PERM} permutations"
                if config.near
                else None
            ),
            "near_threshold": config.near_threshold if config.near else None,
            "decontaminate_against": config.eval_sets,
            "ngram": config.ngram,
            "contaminated": config.contaminated,
            "test_size": config.test_size,
            "seed": config.seed,
        },
        "counts": counts,
        "versions": versions(("datasets", "datasketch", "polars")),
    }
    reward_columns = sorted({k for row in train for k in row if k.startswith("reward_")})
    write_dataset(config.out, splits, manifest, extra_files=dataset_plots(train, reward_columns))
    return counts
