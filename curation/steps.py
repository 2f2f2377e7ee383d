"""The curation steps: ``curate`` (decontaminate, dedup, mix, split) and Argilla review push/pull.

Review credentials are never part of a config (configs land in manifests, recipes and fingerprints):
the steps read them from ``ARGILLA_API_URL``/``ARGILLA_API_KEY`` or the local server's credentials file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, TypeVar

from curation.curate import CurateConfig
from curation.pairs import PairsConfig
from r1f.config import Config, option
from r1f.step import DATASET, Slot, Step, StepContext, StepResult, StepStats


class CurateStep(Step[CurateConfig]):
    """Decontaminate, dedup, mix at a ratio and split: the hygiene step before training or publishing."""

    name = "curate"
    config_class = CurateConfig
    makes_sft_template = "inputs"
    inputs = {"inputs": Slot("inputs", DATASET, many=True, help="datasets to curate and mix")}
    summary = "decontaminate, dedup, mix, split"
    grow_hint = (
        "Its inputs kept too few rows, or decontamination and dedup removed them (see the reasons): grow the inputs "
        "(target_rows), or set contaminated: flag / dedup_on: completion."
    )

    def finish(self, ctx: StepContext) -> StepResult:
        from curation.curate import run_curate

        config = self.config
        counts = run_curate(config, on_progress=lambda stage, done, total: ctx.report(done, total, stage))
        stats = StepStats(total=sum(counts["input_rows"].values()), kept=counts["kept"])
        stats.dropped.update(counts["dropped_by_reason"])
        rows = [(f"input {path}", n) for path, n in counts["input_rows"].items()]
        rows += [(f"contaminated: {name}", n) for name, n in counts.get("contaminated_per_eval_set", {}).items()]
        rows += [(f"  by rule: {name}", n) for name, n in counts["contaminated_by_eval_set"].items() if " (" in name]
        rows += [(f"paraphrase judge: {k}", n) for k, n in counts.get("paraphrase_judge", {}).items()]
        rows += [(f"dropped: {reason}", n) for reason, n in counts["dropped_by_reason"].items()]
        rows += [(f"mixed from {path}", n) for path, n in counts["mixed_from"].items()]
        rows += [("train", counts["train"]), ("test", counts["test"])]
        return StepResult(self.output, stats, rows, title=f"Curated -> {self.output}", data={"counts": counts})


@dataclass
class ReviewConfig(Config):
    workspace: str | None = option(None, help="Argilla workspace. Default: the owner's.", fingerprint=False)
    home: str | None = option(
        None,
        help="Local Argilla home (venv, database, credentials). Default: $R1F_ARGILLA_HOME or the cache.",
        fingerprint=False,
    )

    def credentials(self, api_url: str | None = None, api_key: str | None = None) -> Any:
        from pathlib import Path

        from curation.review.credentials import resolve_credentials

        return resolve_credentials(api_url, api_key, Path(self.home) if self.home else None)


@dataclass
class ReviewPushConfig(ReviewConfig):
    """``r1f review push``: rows as Argilla records to review."""

    dataset: str = option("", argument=True, help="Factory dataset to review (directory, file or Hub name).")
    dataset_name: str = option("", help="Name of the Argilla dataset (created or updated).")
    split: str = option("train", help="Split to push.")


@dataclass
class ReviewPullConfig(ReviewConfig):
    """``r1f review pull``: the reviewed dataset, corrections applied and re-verified."""

    dataset_name: str = option("", argument=True, help="The Argilla dataset to read.")
    out: str = option("", help="Dataset directory to write (atomically, replacing an older one).", fingerprint=False)


R = TypeVar("R", bound=ReviewConfig)


class ReviewStep(Step[R]):
    """A step that talks to Argilla; credentials come from outside the config (never recorded)."""

    def __init__(self, config: Config, credentials: Any = None) -> None:
        super().__init__(config)
        self._credentials = credentials

    @property
    def credentials(self) -> Any:
        if self._credentials is None:
            self._credentials = self.config.credentials()
        return self._credentials


class ReviewPushStep(ReviewStep[ReviewPushConfig]):
    """Push a dataset to Argilla for human review."""

    name = "review-push"
    config_class = ReviewPushConfig
    inputs = {"dataset": Slot("dataset", DATASET, help="rows to review")}
    output_kind = "review"
    output_field = "dataset_name"
    summary = "push rows to Argilla for review"

    def finish(self, ctx: StepContext) -> StepResult:
        from curation.review.client import push
        from r1f.io import read_rows

        config = self.config
        rows = read_rows(config.dataset, split=config.split)
        result = push(rows, config.dataset_name, self.credentials, workspace=config.workspace, source=config.dataset)
        table = [("new records", result.created), ("updated records", result.updated), ("review at", result.url)]
        title = f"Pushed {config.dataset} -> Argilla dataset {result.dataset!r} (workspace {result.workspace})"
        return StepResult(
            None, StepStats(total=len(rows), kept=len(rows)), table, title=title, data={"url": result.url}
        )

    @property
    def output(self) -> Any:
        """No directory is written; the lock and the shard markers live under the review home, per dataset."""
        from curation.review.credentials import default_home

        return default_home() / "pushes" / self.config.dataset_name


class ReviewPullStep(ReviewStep[ReviewPullConfig]):
    """The reviewed dataset from Argilla: accepted rows (corrections applied, re-verified), rejected, unreviewed."""

    name = "review-pull"
    config_class = ReviewPullConfig
    makes_sft_template = "inputs"
    summary = "pull reviewed rows from Argilla"

    def finish(self, ctx: StepContext) -> StepResult:
        from curation.review.client import pull_dataset

        config = self.config
        counts = pull_dataset(config.dataset_name, config.out, self.credentials, workspace=config.workspace)
        stats = StepStats(total=sum(counts.get(k, 0) for k in ("accepted", "rejected", "discarded", "unreviewed")))
        stats.kept = counts.get("accepted", 0)
        stats.dropped.update(Counter(counts.get("dropped_by_reason") or {}))
        keys = ("accepted", "corrected", "accepted_but_disagrees_with_gold", "rejected", "discarded", "unreviewed")
        table = [(key, counts.get(key, 0)) for key in (*keys, "reviewers_disagree")]
        return StepResult(self.output, stats, table, title=f"Reviewed {config.dataset_name!r} -> {config.out}")


class PairsStep(Step[PairsConfig]):
    """TRL preference pairs (prompt, chosen, rejected) from rejection-sampled data."""

    name = "pairs"
    config_class = PairsConfig
    inputs = {
        "source": Slot("source", DATASET, help="a dataset made by r1f sample", columns=("completion", "problem_id"))
    }
    summary = "preference pairs for DPO"
    grow_hint = (
        "No problem had both a good and a rejected sample: sample more (k, n_problems) or use --rejected longest."
    )

    def finish(self, ctx: StepContext) -> StepResult:
        from curation.pairs import make_pairs, read_samples
        from r1f.io import write_dataset
        from r1f.manifest import build_manifest

        config = self.config
        samples = read_samples(config.source)
        pairs, skipped = make_pairs(samples, config)
        problems = len({r.get("problem_id") for r in samples})
        if not pairs:  # an empty dataset would replace whatever OUT held and tell the trainer nothing
            from r1f.errors import DataError

            reasons = ", ".join(f"{n} {r}" for r, n in skipped.most_common()) or "no problems"
            raise DataError(
                f"{config.source}: no preference pair could be made from {len(samples)} samples of {problems} "
                f"problems ({reasons}); pairs need problems with both a correct and an incorrect (or longer) sample, "
                "as `r1f sample` writes them; nothing was written"
            )
        counts = {"samples": len(samples), "problems": problems, "pairs": len(pairs), "skipped": dict(skipped)}
        from generators.datasets import provenance

        manifest = build_manifest(
            "pairs",
            inputs={"samples": config.source},
            parameters=config.fingerprint_dict(),
            counts=counts,
            sources=provenance(config.source),
        )
        write_dataset(config.out, {"train": pairs}, manifest)
        stats = StepStats(total=problems, kept=len(pairs))
        stats.dropped.update(skipped)
        rows = [("samples", len(samples)), ("problems", problems), ("pairs", len(pairs))]
        rows += [(f"problems skipped: {reason}", n) for reason, n in skipped.items()]
        return StepResult(self.output, stats, rows, title=f"{len(pairs)} preference pairs -> {self.output}")
