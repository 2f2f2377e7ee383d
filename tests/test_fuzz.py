"""Property-based: random rows, files, recipe YAML, option values and completions thrown at the readers, the
recipe checks, the configs and the rewards. Each must answer with data or a one-line error of ours (never
another exception, never a hang), and an existing output must be left byte for byte when a command refuses.

Derandomized (the same examples every run), so a failure here is reproducible.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r1f.errors import R1FactoryError

FUZZ = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
rows = st.lists(
    st.dictionaries(st.sampled_from(["problem", "solution", "id", "answer", "x", ""]), values, max_size=4), max_size=5
)


@FUZZ
@given(rows=rows, kind=st.sampled_from(["jsonl", "csv", "raw"]), raw=st.binary(max_size=200))
def test_readers_answer_with_rows_or_one_line(tmp_path_factory, rows, kind, raw):
    from generators.sources import load_problems
    from r1f.io import read_rows

    folder = tmp_path_factory.mktemp("reader")
    path = folder / ("data.jsonl" if kind != "csv" else "data.csv")
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
    elif kind == "csv":
        keys = sorted({k for r in rows for k in r}) or ["problem"]
        path.write_text(",".join(keys) + "\n" + "".join(",".join(str(r.get(k, "")) for k in keys) + "\n" for r in rows))
    else:
        path.write_bytes(raw)
    for read in (lambda: read_rows(str(path)), lambda: load_problems(str(path))):
        try:
            got = read()
        except R1FactoryError as err:
            assert "\n" not in str(err) and str(err)
        else:
            assert isinstance(got, list)


recipe_keys = st.sampled_from(["name", "stages", "defaults", "format", "executor", "plugins", "bogus"])
stage_specs = st.dictionaries(
    st.sampled_from(["step", "config", "inputs"]),
    st.one_of(st.sampled_from(["generate", "score", "eval", "nosuch", "os:system", "train-sft"]), values),
    max_size=3,
)


@FUZZ
@given(
    top=st.dictionaries(recipe_keys, values, max_size=4),
    stages=st.dictionaries(st.text(max_size=10), stage_specs, max_size=3),
    junk=st.text(max_size=60),
)
def test_recipe_checks_answer_with_a_plan_or_one_line(tmp_path_factory, top, stages, junk):
    import yaml

    from r1f.recipe import load_pipeline

    folder = tmp_path_factory.mktemp("recipe")
    data = {**top, "stages": stages}
    for text in (yaml.safe_dump(data, allow_unicode=True), junk):
        path = folder / "r.yaml"
        path.write_text(text)
        started = time.monotonic()
        try:
            pipeline = load_pipeline(str(path), run_dir=folder / "run")
        except R1FactoryError as err:
            assert "\n" not in str(err) and str(err)
        else:
            assert pipeline.stages
            assert all(
                Path(s.output).resolve().is_relative_to((folder / "run").resolve()) for s in pipeline.stages.values()
            )
        assert time.monotonic() - started < 30
        assert not (folder / "run").exists()  # checking a recipe writes nothing


CONFIGS = [
    ("generators.generate", "GenerateConfig"),
    ("generators.sampling", "SampleConfig"),
    ("curation.curate", "CurateConfig"),
    ("curation.audit", "AuditConfig"),
    ("filters.steps", "FilterConfig"),
]


@FUZZ
@given(which=st.sampled_from(CONFIGS), data=st.data())
def test_config_values_are_checked_in_one_line(which, data):
    import importlib

    cls = getattr(importlib.import_module(which[0]), which[1])
    names = [n for n in cls.field_names() if n not in ("engine_options", "judge_options")]
    given_values = data.draw(st.dictionaries(st.sampled_from(names), values, max_size=3))
    try:
        cls.from_mapping(given_values)
    except R1FactoryError as err:
        assert "\n" not in str(err) and str(err)


completions = st.one_of(
    st.text(max_size=300),
    st.builds(lambda a, b: f"<think>{a}</think><answer>{b}</answer>", st.text(max_size=80), st.text(max_size=40)),
    st.builds(lambda a: f"So $\\boxed{{{a}}}$", st.text(alphabet="0123456789{}\\^_+-*/()[],. abcxyz", max_size=60)),
    st.lists(st.dictionaries(st.sampled_from(["role", "content"]), st.text(max_size=30), max_size=2), max_size=2),
    st.none(),
)


@FUZZ
@given(
    batch=st.lists(
        st.tuples(completions, st.one_of(st.none(), st.text(max_size=30), st.integers())), min_size=1, max_size=6
    )
)
def test_rewards_give_defined_values_in_bounded_time(batch):
    from filters.registry import REWARDS, make_reward

    texts = [c for c, _ in batch]
    golds = [g for _, g in batch]
    for name in sorted(REWARDS):
        started = time.monotonic()
        got = make_reward(name)(texts, solution=golds, lang=["en"] * len(texts))
        assert len(got) == len(texts) and all(v is None or isinstance(v, float) for v in got), name
        assert time.monotonic() - started < 30, name


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(rows=rows, raw=st.binary(max_size=120))
def test_a_refused_command_leaves_the_existing_output(tmp_path_factory, rows, raw):
    from r1f.io import write_dataset
    from tests.conftest import run_r1f

    folder = tmp_path_factory.mktemp("cli")
    out = folder / "out"
    write_dataset(
        out, {"train": [{"id": "a", "completion": "<answer>1</answer>", "solution": "1"}]}, {"kind": "scores"}
    )
    before = _snapshot(out)
    bad = folder / "bad.jsonl"
    bad.write_bytes(raw if raw.strip() else json.dumps(rows, default=str).encode())
    result = run_r1f("score", str(bad), "--out", str(out), "--rewards", "accuracy")
    assert "Traceback" not in result.stderr
    if result.returncode != 0:
        assert result.returncode == 1 and len([ln for ln in result.stderr.splitlines() if ln.startswith("error:")]) == 1
        assert _snapshot(out) == before
