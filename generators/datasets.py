"""Named public datasets: one word (``gsm8k``, ``math500``, ...) instead of a Hub id, a column map and an answer
format per file.

A preset knows where the data lives (Hub id, config, split), how a row becomes a factory problem (the columns the
problem is built from, which may be several, as SVAMP's ``Body`` + ``Question``; the gold and how it is written;
the worked solution; the id; labels such as MATH's level and subject), and what a published dataset must say about
it (license, citation). Without the Hub a preset reads a local copy: ``NAME=PATH``, or ``NAME_SPLIT.jsonl`` /
``.parquet`` in the cache directory (``$R1F_DATA_DIR``, default ``~/.cache/r1f/datasets``).

A file with no preset and the default column names is sniffed (GSM8K-like, MATH-like, two-column story problems,
plain problem/answer) and the choice is printed, so a user sees what was read as the gold.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1f.errors import ConfigError, DataError

#: how a gold column holds the answer: the answer itself, after ``####``, or the last ``\\boxed{}``
GOLD_FORMATS = ("plain", "gsm8k", "boxed")


@dataclass(frozen=True)
class Preset:
    """A public dataset the factory reads by name."""

    name: str
    hub_id: str
    split: str  # the split a training source reads
    problem: tuple[str, ...]  # columns joined (with a space) into the problem text
    gold: str
    gold_format: str
    license: str
    citation: str
    config: str | None = None
    eval_split: str | None = None  # the split a benchmark evaluates on (default: ``split``)
    worked: str | None = None  # a worked solution column (cold starts from real solutions)
    id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)  # factory column -> source column (level, subject)
    #: the prompt harnesses use when this is a benchmark (open-r1 / lighteval style)
    prompt: str = "Please reason step by step, and put your final answer within \\boxed{}."

    @property
    def benchmark_split(self) -> str:
        return self.eval_split or self.split

    def provenance(self, split: str) -> dict[str, str]:
        """What a dataset card says about this source."""
        return {
            "name": self.name,
            "hub_id": self.hub_id,
            "config": self.config or "",
            "split": split,
            "license": self.license,
            "citation": self.citation,
        }


_GSM8K_CITE = "Cobbe et al. 2021, Training Verifiers to Solve Math Word Problems, arXiv:2110.14168"
_MATH_CITE = "Hendrycks et al. 2021, Measuring Mathematical Problem Solving With the MATH Dataset, arXiv:2103.03874"
_MAA = "unspecified on the Hub card (problems (c) Mathematical Association of America)"

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "gsm8k",
            "openai/gsm8k",
            "train",
            ("question",),
            "answer",
            "gsm8k",
            "mit",
            _GSM8K_CITE,
            config="main",
            eval_split="test",
            worked="answer",
            id="idx",
        ),
        Preset(
            "math500",
            "HuggingFaceH4/MATH-500",
            "test",
            ("problem",),
            "answer",
            "plain",
            "mit",
            _MATH_CITE + "; subset of Lightman et al. 2023, Let's Verify Step by Step",
            worked="solution",
            id="unique_id",
            labels={"level": "level", "subject": "subject"},
        ),
        Preset(
            "math",
            "DigitalLearningGmbH/MATH-lighteval",
            "train",
            ("problem",),
            "solution",
            "boxed",
            "mit",
            _MATH_CITE,
            config="default",
            eval_split="test",
            worked="solution",
            labels={"level": "level", "subject": "type"},
        ),
        Preset(
            "numina",
            "AI-MO/NuminaMath-CoT",
            "train",
            ("problem",),
            "solution",
            "boxed",
            "apache-2.0",
            "LI et al. 2024, NuminaMath",
            eval_split="test",
            worked="solution",
            labels={"subject": "source"},
        ),
        Preset(
            "openr1-math",
            "open-r1/OpenR1-Math-220k",
            "train",
            ("problem",),
            "answer",
            "plain",
            "apache-2.0",
            "Hugging Face 2025, OpenR1-Math-220k",
            config="default",
            worked="solution",
            id="uuid",
            labels={"subject": "problem_type"},
        ),
        Preset(
            "aime24", "HuggingFaceH4/aime_2024", "train", ("problem",), "answer", "plain", _MAA, "AIME 2024", id="id"
        ),
        Preset("aime25", "yentinglin/aime_2025", "train", ("problem",), "answer", "plain", _MAA, "AIME 2025", id="id"),
        Preset("amc23", "math-ai/amc23", "test", ("question",), "answer", "plain", _MAA, "AMC 2023", id="id"),
        Preset(
            "svamp",
            "ChilleD/SVAMP",
            "train",
            ("Body", "Question"),
            "Answer",
            "plain",
            "mit",
            "Patel et al. 2021, Are NLP Models really able to Solve Simple Math Word Problems?, NAACL",
            eval_split="test",
            id="ID",
        ),
    )
}


def data_dir() -> Path:
    """Where local copies of presets are looked for."""
    return Path(os.environ.get("R1F_DATA_DIR") or Path.home() / ".cache" / "r1f" / "datasets").expanduser()


def split_spec(source: str) -> tuple[str, str | None]:
    """``gsm8k=/data/gsm8k.jsonl`` -> (``gsm8k``, the path); ``gsm8k`` -> (``gsm8k``, None)."""
    name, sep, path = source.partition("=")
    if sep and name.strip().lower() in PRESETS:
        return name.strip().lower(), path.strip()
    return source.strip().lower() if source.strip().lower() in PRESETS else source, None


def preset_of(source: str) -> Preset | None:
    name, _ = split_spec(source)
    return PRESETS.get(name)


def local_copy(preset: Preset, split: str, path: str | None = None) -> Path | None:
    """The local file for a preset split: the one given, else one in the cache directory, else None."""
    if path:
        given = Path(path).expanduser()
        if not given.exists():
            raise DataError(f"{preset.name}={path}: no such file; check the path")
        return given
    root = data_dir()
    for stem in (f"{preset.name}_{split}", f"{preset.name}/{split}", preset.name if split == preset.split else ""):
        for suffix in (".jsonl", ".parquet", ".json", ".csv"):
            if stem and (root / f"{stem}{suffix}").is_file():
                return root / f"{stem}{suffix}"
    return None


def read_preset(preset: Preset, split: str, path: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """The raw rows of a preset split: the local copy, or the Hub when it is reachable."""
    from r1f.io import read_rows

    local = local_copy(preset, split, path)
    if local is not None:
        return read_rows(local, split=split, limit=limit)
    how = (
        f"give {preset.name}=PATH, put {preset.name}_{split}.jsonl in {data_dir()}, or download it: "
        f"huggingface-cli download --repo-type dataset {preset.hub_id}"
    )
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        raise DataError(f"{preset.name}: no local copy and the Hub is off (HF_HUB_OFFLINE=1); {how}")
    try:
        import datasets

        loaded = datasets.load_dataset(preset.hub_id, preset.config, split=split)
    except Exception as err:
        first = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise DataError(f"{preset.name}: no local copy and the Hub failed ({first}); {how}") from None
    rows = [dict(r) for r in loaded]
    return rows[:limit] if limit is not None else rows


# -- sniffing unknown files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schema:
    """How rows of a file become problems."""

    kind: str  # gsm8k-like | math-like | story | plain | given
    problem: tuple[str, ...]
    gold: str | None
    gold_format: str
    worked: str | None = None
    id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        gold = f"gold: {self.gold}" + (f" ({self.gold_format})" if self.gold_format != "plain" else "")
        return f"read as {self.kind} (problem: {' + '.join(self.problem)}; {gold if self.gold else 'no gold'})"


ID_COLUMNS = ("id", "unique_id", "idx", "uuid", "ID", "problem_id")
LABEL_COLUMNS = {"level": ("level",), "subject": ("subject", "type")}


def sniff(rows: Sequence[Mapping[str, Any]]) -> Schema | None:
    """Guess a file's schema from its columns and first rows (None: nothing to guess, use the defaults)."""
    columns = set(rows[0])
    first = [r for r in rows[:20]]
    ident = next((c for c in ID_COLUMNS if c in columns and c != "problem"), None)
    labels = {k: c for k, cs in LABEL_COLUMNS.items() for c in cs if c in columns}

    def all_have(column: str, pattern: str) -> bool:
        return all(re.search(pattern, str(r.get(column) or "")) for r in first)

    if "question" in columns and "answer" in columns and all_have("answer", r"####"):
        return Schema("GSM8K-like", ("question",), "answer", "gsm8k", worked="answer", id=ident, labels=labels)
    if "problem" in columns and "solution" in columns and all_have("solution", r"\\boxed"):
        gold = "answer" if "answer" in columns else "solution"
        fmt = "plain" if gold == "answer" else "boxed"
        return Schema("MATH-like", ("problem",), gold, fmt, worked="solution", id=ident, labels=labels)
    if {"Body", "Question"} <= columns:
        gold = next((c for c in ("Answer", "answer") if c in columns), None)
        return Schema("story problem (Body + Question)", ("Body", "Question"), gold, "plain", id=ident)
    for problem in ("problem", "question", "prompt"):
        if problem in columns:
            gold = next((c for c in ("answer", "solution", "final_answer", "Answer") if c in columns), None)
            if problem == "problem" and gold in (None, "solution"):
                return None  # the factory's own layout: no guess needed
            return Schema("plain", (problem,), gold, "plain", id=ident, labels=labels)
    return None


def preset_schema(preset: Preset) -> Schema:
    return Schema(preset.name, preset.problem, preset.gold, preset.gold_format, preset.worked, preset.id, preset.labels)


def apply_schema(rows: list[dict[str, Any]], schema: Schema, source: str) -> list[dict[str, Any]]:
    """Rows with the factory's columns (``problem``, ``solution``, ``worked``, ``source_id``, labels), the source's
    other columns kept. Problems built from several columns are joined with a space."""
    from r1f.io import gold_of

    missing = [c for c in (*schema.problem, schema.gold) if c and c not in rows[0]]
    if missing:
        raise DataError(
            f"{source}: no column {', '.join(map(repr, missing))}"
            + (f" ({schema.kind})" if schema.kind != "given" else "")
            + "; columns are: "
            f"{', '.join(map(str, rows[0]))}; pass --problem-column / --solution-column"
        )
    out = []
    for i, row in enumerate(rows):
        parts = [str(row.get(c) or "").strip() for c in schema.problem]
        new = {k: v for k, v in row.items() if k not in (*schema.problem, schema.gold)}
        new["problem"] = " ".join(p for p in parts if p)
        if schema.gold:
            gold = gold_of(row.get(schema.gold), source, i, schema.gold)
            new["solution"] = None if gold is None else gold_answer(gold, schema.gold_format, source, i)
        if schema.worked and isinstance(row.get(schema.worked), str):
            new["worked"] = row[schema.worked]
        if schema.id and row.get(schema.id) is not None:
            new["source_id"] = str(row[schema.id])
        for target, column in schema.labels.items():
            if column in row:
                new[target] = label_value(target, row[column])
        out.append(new)
    return out


def label_value(target: str, value: Any) -> Any:
    """MATH writes levels as ``Level 5`` in one copy and ``5`` in another: one form (the int)."""
    if target == "level":
        found = re.search(r"\d+", str(value))
        return int(found.group()) if found else None
    return value


GSM8K_RE = re.compile(r"####\s*(.+?)\s*$", re.S)


def gold_answer(text: str, fmt: str, source: str | Path = "", index: int = 0) -> str:
    """The gold answer inside a worked solution.

    >>> gold_answer("She has 3 + 4 = 7 apples.\\n#### 7", "gsm8k")
    '7'
    >>> gold_answer("so $\\\\boxed{\\\\frac{1}{2}}$", "boxed")
    '\\\\frac{1}{2}'
    """
    if fmt not in GOLD_FORMATS:
        raise ConfigError(f"--solution-format {fmt!r}: use one of {', '.join(GOLD_FORMATS)}")
    if fmt == "plain":
        return text
    if fmt == "gsm8k":
        found = GSM8K_RE.search(text)
        if found:
            return found.group(1).replace(",", "").strip()
    else:
        from filters.text import last_boxed

        boxed = last_boxed(text)
        if boxed and boxed.strip():
            return boxed.strip()
    marker = "####" if fmt == "gsm8k" else "\\boxed{}"
    raise DataError(
        f"{source}: row {index + 1}: no {marker} answer in the solution; check --solution-format ({fmt}) or the row"
    )


def say(message: str) -> None:
    """One line on stderr: what the loader chose (stdout stays for data)."""
    print(message, file=sys.stderr)


def provenance(source: str | None, split: str | None = None) -> list[dict[str, str]]:
    """The named datasets rows from ``source`` come from (for manifests and cards): a preset's own entry, or the
    ``sources`` a factory dataset's manifest already records."""
    if not source:
        return []
    preset = preset_of(str(source))
    if preset is not None:
        return [preset.provenance(split or preset.split)]
    path = Path(str(source))
    if path.is_dir():
        from r1f.io import read_manifest

        return list((read_manifest(path) or {}).get("sources") or [])
    return []


def merge_sources(*groups: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """Sources of several inputs, each named once (first seen wins)."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for group in groups:
        for entry in group:
            seen.setdefault((entry.get("name", ""), entry.get("split", "")), dict(entry))
    return list(seen.values())
