"""Hugging Face dataset cards for every dataset the factory writes.

The card is rendered from the rows and the manifest the writer already has, so it cannot drift from
the data: YAML metadata the Hub reads (license, tags, task categories, size category, languages,
configs/splits), then how the data was made (kind, generator, model, engine, sampling, filters and
thresholds), counts kept and dropped per reason, length and pass-rate statistics, languages, a
sample row, the plots saved beside it, and a ``load_dataset`` snippet.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

LICENSE = "apache-2.0"  # the embedded model (SmolLM2) and the built-in problems are Apache-2.0


def card_license(manifest: Mapping[str, Any]) -> str:
    """The license a card declares: the one the user chose (``--license``), else the one every source dataset
    shares, else ``other`` (the card lists each source's), else the built-in data's."""
    if manifest.get("license"):
        return str(manifest["license"])
    licenses = {str(s.get("license", "")) for s in manifest.get("sources") or []}
    if not licenses:
        return LICENSE
    only = licenses.pop() if len(licenses) == 1 else ""
    return only if re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", only) else "other"


def size_category(n: int) -> str:
    """The Hub's size bucket for ``n`` rows.

    >>> size_category(12), size_category(5_000), size_category(2_000_000)
    ('n<1K', '1K<n<10K', '1M<n<10M')
    """
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M"


def _short(value: Any, width: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def _length_stats(rows: Sequence[Mapping[str, Any]]) -> str | None:
    lengths = sorted(r["completion_tokens"] for r in rows if isinstance(r.get("completion_tokens"), int))
    if not lengths:
        return None
    mid = lengths[len(lengths) // 2]
    return (
        f"completion tokens: min {lengths[0]}, median {mid}, mean {sum(lengths) / len(lengths):.1f}, max {lengths[-1]}"
    )


def dropped_by_reason(splits: Mapping[str, Sequence[Mapping[str, Any]]], manifest: Mapping[str, Any]) -> dict:
    """Rows dropped per reason: from the manifest, else counted from ``reject_reason`` columns."""
    recorded = manifest.get("counts", {}).get("dropped_by_reason")
    if recorded:
        return dict(recorded)
    return dict(Counter(r["reject_reason"] for rows in splits.values() for r in rows if r.get("reject_reason")))


def statistics(splits: Mapping[str, Sequence[Mapping[str, Any]]], manifest: Mapping[str, Any]) -> list[str]:
    """One line per statistic (lengths, pass rate, rewards, languages) of the ``train`` split."""
    everything = [row for rows in splits.values() for row in rows]
    main = list(splits.get("train") or everything)
    counts = manifest.get("counts", {})
    stats = [f"train {s}" for s in (_length_stats(main),) if s]
    if counts.get("pass_rate") is not None:
        stats.append(f"mean pass rate: {counts['pass_rate']}")
    for reward, values in (counts.get("rewards") or manifest.get("rewards") or {}).items():
        stats.append(f"reward `{reward}`: mean {values.get('mean')}, not judged {values.get('not_judged')}")
    for eval_set, n in (counts.get("contaminated_by_eval_set") or {}).items():
        stats.append(f"rows matching evaluation set `{eval_set}` (word n-gram overlap): {n}")
    for source, n in (counts.get("mixed_from") or {}).items():
        stats.append(f"mixed in from `{source}`: {n} rows")
    shares = Counter(str(r.get("lang")) for r in main if r.get("lang"))
    if shares:
        stats.append("languages (train): " + ", ".join(f"{lang} {n}" for lang, n in shares.most_common()))
    return stats


def dataset_card(
    name: str, splits: Mapping[str, Sequence[Mapping[str, Any]]], manifest: Mapping[str, Any], plots: Sequence[str] = ()
) -> str:
    """The README.md of a dataset directory: metadata block, then how it was made and what is in it."""
    everything = [row for rows in splits.values() for row in rows]
    languages = sorted({str(r["lang"]) for r in everything if r.get("lang")})
    kind = str(manifest.get("kind", "dataset"))
    meta: dict[str, Any] = {
        "license": card_license(manifest),
        "tags": ["synthetic", "r1-factory", kind.replace("_", "-")],
        "task_categories": ["text-generation"],
        "size_categories": [size_category(len(everything))],
    }
    if languages:
        meta["language"] = languages
    meta["configs"] = [
        {
            "config_name": "default",
            "data_files": [{"split": split, "path": f"data/{split}-*.parquet"} for split in splits],
        }
    ]
    parameters = manifest.get("parameters", {})
    model = manifest.get("model", {})
    lines = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip(), "---", "", f"# {name}", ""]
    lines += [
        f"A `{kind}` dataset made by r1-factory (`{' '.join(map(str, manifest.get('command', [])))[:300]}`).",
        "",
        "## How it was made",
        "",
    ]
    if model:
        lines.append(
            f"- model / engine: `{model.get('model')}` via `{model.get('engine')}`"
            + (f" ({model.get('dtype')})" if model.get("dtype") else "")
        )
    if manifest.get("teacher"):
        lines.append(f"- teacher: `{json.dumps(manifest['teacher'], default=str)}`")
    for key, value in parameters.items():
        lines.append(f"- {key}: `{json.dumps(value, default=str)}`")
    if manifest.get("versions"):
        lines.append(f"- versions: `{json.dumps(manifest['versions'])}`")
    lines += ["", "## Contents", "", "| split | rows |", "|---|---|"]
    lines += [f"| {split} | {len(rows)} |" for split, rows in splits.items()]
    reasons = dropped_by_reason(splits, manifest)
    if reasons:
        lines += ["", "Dropped rows by reason:", "", "| reason | rows |", "|---|---|"]
        lines += [f"| {reason} | {n} |" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])]
    stats = statistics(splits, manifest)
    if stats:
        lines += ["", "## Statistics", ""] + [f"- {s}" for s in stats]
    sources = manifest.get("sources") or []
    if sources:
        lines += [
            "",
            "## Source datasets",
            "",
            "| dataset | Hub id | split | license | cite |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {s.get('name')} | `{s.get('hub_id')}` | {s.get('split')} | {s.get('license')} | {s.get('citation')} |"
            for s in sources
        ]
        lines += ["", "Rows derived from these datasets are subject to their licenses as well as this card's."]
    published = manifest.get("published") or {}
    if published.get("left_out"):
        lines += ["", f"Not published here: the {', '.join(published['left_out'])} split(s) of the local dataset."]
    for title, body in (manifest.get("card_sections") or {}).items():
        lines += ["", f"## {title}", "", str(body)]
    lines += [""] + [f"![{plot}]({plot})" for plot in plots]
    first = next((rows[0] for rows in splits.values() if rows), None)
    if first:
        lines += [
            "",
            "## A sample row",
            "",
            "```json",
            json.dumps({k: _short(v) for k, v in first.items()}, indent=2, ensure_ascii=False),
            "```",
        ]
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("{name}")  # a local folder (its README names the splits), or "USER/{name}" once pushed',
        "# datasets.load_from_disk reads save_to_disk folders only; this is the Hub's parquet layout",
        "```",
        "",
    ]
    return "\n".join(lines)
