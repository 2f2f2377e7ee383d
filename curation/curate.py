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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation.decontaminate import HELDOUT, OVERLAP, Decontaminator, load_eval_set
from curation.dedup import NEAR_THRESHOLD, NUM_PERM, SHINGLE, TARGETS, dedup, target_text
from curation.mix import mix, train_test_split
from curation.paraphrase import SIMILARITY
from r1f.config import Config, option
from r1f.errors import ConfigError, DataError
from r1f.ngrams import NGRAM


@dataclass
class CurateConfig(Config):
    """``r1f curate``: decontaminate, dedup, mix at a ratio and split."""

    inputs: list[str] = option(
        default_factory=list,
        argument=True,
        help="Datasets to curate and mix: directories, jsonl/parquet/csv files, Hub names.",
    )
    out: str = option("", help="Dataset directory to write (atomically, replacing an older one).", fingerprint=False)
    weights: list[float] | None = option(
        None,
        help="Shares of the output per input, e.g. 3,1 (three rows of the first per row of the second). Default: "
        "every surviving row.",
    )
    total: int | None = option(None, help="Rows in the mix (at most what the scarcest input allows).")
    dedup_on: list[str] = option(
        default_factory=lambda: list(TARGETS),
        help="Dedup targets, in order: problem, completion, both, or none. On problems, several completions of one "
        "problem are one cluster (the best-scored stays); use completion to keep them all.",
    )
    near: bool = option(True, help="Also drop near duplicates (MinHash LSH over word 3-grams), not only exact ones.")
    near_threshold: float = option(NEAR_THRESHOLD, help="Jaccard similarity at which two texts are one.")
    eval_sets: list[str] = option(
        default_factory=list,
        flag="--eval-set",
        multiple=True,
        help="Evaluation sets to decontaminate against besides the built-in held-out split (repeatable or "
        "comma-separated): a benchmark name (math500, gsm8k, aime24, ...: its test split), a path or a Hub name.",
    )
    heldout: bool = option(
        True, help="Decontaminate against the built-in held-out split too (--no-heldout leaves it out)."
    )
    decontaminate: bool = option(True, help="Decontaminate against the evaluation sets (--no-decontaminate skips).")
    eval_column: str | None = option(
        None, help="Text column of the evaluation sets (default: problem/question/prompt/text)."
    )
    ngram: int = option(NGRAM, help="Word n-gram size of the contamination rule (open-r1 uses 8).")
    overlap: float = option(
        OVERLAP,
        low=0.0,
        high=1.0,
        help="Share of the shorter text's n-grams a row must share with one evaluation item to be a copy; 0 flags "
        "any shared n-gram (open-r1's rule, which also flags shared stock phrasing).",
    )
    digits_masked: bool = option(
        True,
        help="Also match with numbers masked, so a copy with other numbers is caught (reported as "
        "'SET (digits-masked)'); --no-digits-masked keeps only the n-gram rule.",
    )
    judge: str | None = option(
        None,
        help="Model that judges paraphrases: the most similar evaluation item of each row (MinHash over words) is "
        "shown to it with the row, and a 'yes' flags the row as 'SET (paraphrase)'. Off by default.",
    )
    judge_engine: str = option("transformers", help="Engine of --judge: transformers, openai or vllm.")
    judge_options: dict[str, Any] = option(
        default_factory=dict, cli=False, help="The judge engine's own options (recipes only)."
    )
    judge_similarity: float = option(
        SIMILARITY, help="MinHash Jaccard (word sets) at which an evaluation item goes to the judge."
    )
    contaminated: str = option("drop", help="drop (to split 'rejected') or flag (keep, with contaminated_by).")
    test_size: float = option(
        0.0, help="Test split: a fraction (<1) or a row count; rows of one problem stay together."
    )
    seed: int = option(0, help="Seed of the mix and shuffle and split.")
    split: str = option("train", help="Split to read from each input.")

    def validate(self) -> None:
        if "none" in self.dedup_on:
            self.dedup_on = []
        if "both" in self.dedup_on:
            self.dedup_on = list(TARGETS)
        if self.contaminated not in ("drop", "flag"):
            raise ConfigError(f"--contaminated {self.contaminated!r}: use drop or flag")
        if not 0 < self.near_threshold <= 1:
            raise ConfigError(f"--near-threshold {self.near_threshold}: use a Jaccard similarity in (0, 1]")
        if self.test_size < 0 or (self.test_size >= 1 and self.test_size != int(self.test_size)):
            raise ConfigError(
                f"--test-size {self.test_size:g}: use a fraction below 1 (0.1 = 10 %) or a whole number of rows"
            )
        if self.ngram < 1:
            raise ConfigError(f"--ngram {self.ngram}: use 1 or more words")
        for target in self.dedup_on:
            if target not in TARGETS:
                raise ConfigError(f"--dedup-on {target!r}: use problem, completion, or both (comma-separated)")
        if self.weights is not None:
            if len(self.weights) != len(self.inputs):
                raise ConfigError(
                    f"--weights has {len(self.weights)} values for {len(self.inputs)} datasets; give one per dataset"
                )
            if any(w < 0 for w in self.weights) or not any(w > 0 for w in self.weights):
                raise ConfigError(f"--weights {self.weights}: shares must be >= 0 and at least one > 0")
        if self.test_size < 0:
            raise ConfigError(f"--test-size must be >= 0, got {self.test_size}")
        if not 0 < self.judge_similarity <= 1:
            raise ConfigError(f"--judge-similarity {self.judge_similarity}: use a Jaccard similarity in (0, 1]")
        if self.judge:
            from generators.engines import check_engine

            check_engine(self.judge_engine, self.judge_options)

    @property
    def against(self) -> list[str]:
        """The evaluation sets, the held-out split first, each once (a recipe may still list ``heldout``)."""
        if not self.decontaminate:
            return []
        named = [part.strip() for spec in self.eval_sets for part in _split_names(spec) if part.strip()]
        wanted = ([HELDOUT] if self.heldout else []) + named
        return list(dict.fromkeys(wanted))


#: the working column that says which input a row came from in this run (never written)
INPUT = "_curate_input"


def _split_names(spec: str) -> list[str]:
    """``math500,gsm8k`` names two sets; a path with a comma in it stays one."""
    return [spec] if Path(spec).exists() else spec.split(",")


def run_curate(config: CurateConfig, on_progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Run the pipeline and write the dataset; returns the manifest's counts."""
    from r1f.io import read_rows, write_dataset
    from r1f.manifest import build_manifest
    from r1f.plots import dataset_plots

    if not config.inputs:
        raise ConfigError("give at least one dataset to curate")
    sources: list[list[dict[str, Any]]] = []
    for index, path in enumerate(config.inputs):
        # an input that kept nothing (a generator on a weak model) is a count of 0, not a failure; all empty is one
        rows = read_rows(path, split=config.split, allow_empty=True)
        for row in rows:
            row.setdefault("mix_source", path)  # a re-curated row keeps where it first came from
            row[INPUT] = index  # which input it is in this run (mixing and its counts)
        sources.append(rows)
        if on_progress:
            on_progress("read", index + 1, len(config.inputs))
    if not any(sources):
        raise DataError(f"{', '.join(config.inputs)}: every input is empty; there is nothing to curate")
    for path, rows in zip(config.inputs, sources):
        for target in config.dedup_on if rows else ():
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
    if config.against:
        eval_sets = [load_eval_set(s, config.eval_column) for s in config.against]
        decontaminator = Decontaminator(eval_sets, config.ngram, masked=config.digits_masked, overlap=config.overlap)
        texts = [target_text(row, "problem") for row in everything]
        hits = decontaminator.check(texts)
        judged: dict[int, dict[str, str]] = {}
        if config.judge:
            counts["paraphrase_judge"] = _judge(config, texts, hits, eval_sets, judged, on_progress)
        clean = []
        for index, (row, hit) in enumerate(zip(everything, hits)):
            marks = {
                "contaminated_by": hit["sets"] if hit else None,
                "contaminated_items": hit["items"] if hit else None,
            }
            if config.judge:
                marks["paraphrase_judged"] = judged.get(index)
            if hit is not None:
                contamination.update(hit["sets"])
            if config.contaminated == "flag":
                clean.append({**row, **marks})
            elif hit is not None:
                rejected.append({**row, "reject_reason": "contaminated", **marks})
            else:
                clean.append({**row, "paraphrase_judged": marks["paraphrase_judged"]} if config.judge else row)
        everything = clean
        if on_progress:
            on_progress("decontaminate", 1, 1)
    counts["contaminated_by_eval_set"] = dict(contamination)
    if config.against:  # every set named, zero included: "0 contaminated" is a result too
        per_set = Counter({s.name: 0 for s in eval_sets})
        for row in everything + rejected:
            for name in row.get("contaminated_by") or []:
                per_set[name.split(" (")[0]] += 1
        counts["contaminated_per_eval_set"] = {s.name: per_set[s.name] for s in eval_sets}

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

    survivors = [[row for row in everything if row[INPUT] == index] for index in range(len(config.inputs))]
    counts["after_hygiene"] = {path: len(rows) for path, rows in zip(config.inputs, survivors)}
    weights = config.weights or [float(len(rows)) for rows in survivors]
    if not any(survivors):
        reasons = Counter(row["reject_reason"] for row in rejected)
        said = ", ".join(f"{reason} {n}" for reason, n in reasons.most_common()) or "none"
        per_set = ", ".join(f"{k} {v}" for k, v in counts.get("contaminated_per_eval_set", {}).items())
        raise DataError(
            f"nothing is left of {', '.join(config.inputs)} ({sum(counts['input_rows'].values())} rows) after "
            f"decontamination and dedup: removed {said}"
            + (f" (contaminated per evaluation set: {per_set})" if per_set else "")
            + "; check --eval-set, --overlap and --dedup-on, or --contaminated flag to keep and mark them"
        )
    mixed = mix(survivors, weights, seed=config.seed, total=config.total)
    counts["mixed_from"] = dict(Counter(config.inputs[row[INPUT]] for row in mixed))
    for row in [*mixed, *rejected]:
        row.pop(INPUT, None)
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
    from generators.datasets import merge_sources, provenance

    manifest = build_manifest(
        "curated",
        sources=merge_sources(*(provenance(path) for path in config.inputs)),
        inputs={"datasets": config.inputs},
        counts=counts,
        packages=("datasets", "datasketch", "polars"),
        parameters={
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
            "decontaminate_against": config.against,
            "eval_sets": config.against,
            "ngram": config.ngram,
            "overlap": config.overlap,
            "digits_masked": config.digits_masked,
            "judge": {"model": config.judge, "engine": config.judge_engine, "similarity": config.judge_similarity}
            if config.judge
            else None,
            "contaminated": config.contaminated,
            "test_size": config.test_size,
            "seed": config.seed,
        },
        sft_template=_common_template(config.inputs),
    )
    reward_columns = sorted({k for row in train for k in row if k.startswith("reward_")})
    write_dataset(config.out, splits, manifest, extra_files=dataset_plots(train, reward_columns))
    return counts


def _judge(
    config: CurateConfig,
    texts: list[str],
    hits: list[dict[str, Any] | None],
    eval_sets: Sequence[Any],
    judged: dict[int, dict[str, str]],
    on_progress: Callable[[str, int, int], None] | None,
) -> dict[str, int]:
    """Ask the judge about each row the n-gram rules let through whose closest evaluation item looks alike;
    a yes adds a paraphrase hit to ``hits`` in place, and every answer goes to ``judged`` (row -> the item
    and what the judge said), so a reviewer can check the judge. Returns how the judge answered."""
    from curation.paraphrase import RULE, candidates, judge_pairs, verdict
    from generators.engines import make_engine

    open_rows = [i for i, hit in enumerate(hits) if hit is None]
    found = candidates([texts[i] for i in open_rows], [s.texts for s in eval_sets], config.judge_similarity)
    tally = Counter(candidates=len(found), same=0, different=0, unclear=0)
    if not found:
        return dict(tally)
    assert config.judge is not None
    engine = make_engine(config.judge_engine, config.judge, config.judge_options)
    try:
        pairs = [(texts[open_rows[c.row]], eval_sets[c.eval_set].texts[c.item]) for c in found]
        answers = judge_pairs(engine, pairs)
    finally:
        engine.close()
    for candidate, answer in zip(found, answers):
        said = verdict(answer)
        word = "unclear" if said is None else "same" if said else "different"
        tally[word] += 1
        eval_set = eval_sets[candidate.eval_set]
        judged[open_rows[candidate.row]] = {
            "eval_set": eval_set.name,
            "item": eval_set.ids[candidate.item],
            "verdict": word,
            "answer": answer.strip()[:80],
        }
        if said:
            hits[open_rows[candidate.row]] = {
                "sets": [f"{eval_set.name} ({RULE})"],
                "items": [eval_set.ids[candidate.item]],
                "rules": [RULE],
            }
    if on_progress:
        on_progress("paraphrase-judge", 1, 1)
    return dict(tally)


def _common_template(inputs: Sequence[str]) -> str | None:
    """The SFT template the inputs share (their manifests say), so a curated mix keeps it; None if they differ."""
    from r1f.io import read_manifest

    found = {(read_manifest(p) or {}).get("sft_template") if Path(p).is_dir() else None for p in inputs}
    return found.pop() if len(found) == 1 else None
