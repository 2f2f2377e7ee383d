"""Recipes, typed configs and the pipeline core, without a model: every bad recipe is one line before any
model loads, knobs are defined once, the executor's contract holds, and the import graph has no cycles."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

import pytest
import yaml

from r1f.errors import ConfigError
from tests.conftest import ROOT, run_r1f

GOOD = {
    "name": "t",
    "format": "think",
    "stages": {
        "samples": {"step": "generate", "config": {"n_problems": 2, "max_new_tokens": 8}},
        "cold": {"step": "cold-start", "inputs": {"problems": "samples"}, "config": {"method": "refine"}},
        "sft": {"step": "train-sft", "inputs": {"dataset": "cold"}, "config": {"max_steps": 1}},
        "sft_eval": {"step": "eval", "inputs": {"model": "sft"}, "config": {"n_problems": 2, "k": 1}},
    },
}


def _write(tmp_path: Path, recipe: dict, name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def _variant(change) -> dict:
    recipe = json.loads(json.dumps(GOOD))
    change(recipe["stages"])
    return recipe


BAD = [
    ("cycle", lambda s: s["samples"].update(inputs={"model": "sft"}), ["cycle", "samples -> sft -> cold -> samples"]),
    (
        "unknown stage",
        lambda s: s["cold"].update(inputs={"problems": "smaples"}),
        ["unknown stage 'smaples'", "samples"],
    ),
    ("unknown step", lambda s: s["samples"].update(step="genrate"), ["unknown step 'genrate'", "generate"]),
    ("unknown input", lambda s: s["sft"]["inputs"].update(data="cold"), ["no input 'data'", "model, dataset"]),
    (
        "model for a dataset",
        lambda s: s["sft_eval"].update(inputs={"model": "cold"}),
        ["needs a model", "cold makes a dataset"],
    ),
    (
        "eval as input",
        lambda s: s.update(base={"step": "eval"}) or s["cold"].update(inputs={"problems": "base"}),
        ["needs a dataset", "stage base makes an evaluation"],
    ),
    (
        "bad value",
        lambda s: s["samples"]["config"].update(n_problems="ten"),
        ["stage samples", "n_problems must be an integer"],
    ),
    (
        "unknown key",
        lambda s: s["samples"]["config"].update(temprature=0.5),
        ["unknown key 'temprature'", "temperature"],
    ),
    (
        "TRL type",
        lambda s: s["sft"]["config"].update(learning_rate="abc"),
        ["stage sft", "learning_rate must be float"],
    ),
    ("TRL key", lambda s: s["sft"]["config"].update(max_step=3), ["max_step", "did you mean max_steps"]),
    ("format", lambda s: s["cold"]["config"].update(format="r1"), ["format is 'r1'", "recipe's format is 'think'"]),
    ("template", lambda s: s["sft_eval"]["config"].update(template="r1-zero"), ["template is 'r1-zero'", "sft-think"]),
    (
        "engine option",
        lambda s: s["samples"]["config"].update(engine="openai", engine_options={"max_active": 4}),
        ["unknown key 'max_active'", "base_url"],
    ),
    ("stage key", lambda s: s["samples"].update(temperature=0.5), ["unknown key(s) temperature", "config:"]),
]


@pytest.mark.parametrize("name,change,needles", BAD, ids=[b[0] for b in BAD])
def test_bad_recipe_fails_in_one_line_before_a_model_loads(tmp_path, name, change, needles):
    path = _write(tmp_path, _variant(change))
    started = time.time()
    result = run_r1f("run", str(path), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert time.time() - started < 30  # nothing loaded a model
    assert not (tmp_path / "run").exists()  # nothing ran


def test_good_recipe_plans_every_stage_and_dry_run_runs_nothing(tmp_path):
    path = _write(tmp_path, GOOD)
    result = run_r1f("run", str(path), "--run-dir", str(tmp_path / "run"), "--dry-run")
    assert result.returncode == 0, result.stderr
    for stage in GOOD["stages"]:
        assert stage in result.stdout
    assert "not run yet" in result.stdout and "after samples" in result.stdout
    assert not (tmp_path / "run").exists()


def test_recipe_derives_templates_from_the_format_and_the_model():
    from r1f.recipe import load_pipeline

    pipeline = load_pipeline("tiny-r1-demo", run_dir="/tmp/unused")
    stages = pipeline.stages
    assert stages["cold_start"].sft_template == "sft-think"
    assert stages["sft1"].template == "sft-think" and stages["r1_zero"].template == "r1-zero-fewshot"
    assert stages["rl"].config.prompt_template == "sft-think"  # reasoning RL prompts as SFT trained
    assert stages["rejection_sampled"].config.template == "sft-think"
    assert stages["r1_zero_samples"].config.template == "r1-zero-fewshot"
    assert stages["distill"].config.teacher_template == "sft-think"
    assert stages["student"].template == "plain"
    assert stages["sft2"].config.model == str(Path("/tmp/unused/rl"))  # inputs become paths of stage outputs
    flipped = load_pipeline("tiny-r1-demo", run_dir="/tmp/unused", overrides={"format": "r1"})
    assert flipped.stages["cold_start_rules"].config.format == "r1"
    assert flipped.stages["rl"].config.prompt_template == "sft-r1"


def test_set_overrides_reach_stage_configs_and_are_checked():
    from r1f.recipe import load_pipeline

    pipeline = load_pipeline(
        "tiny-r1-demo", run_dir="/tmp/x", overrides={"sft1.max_steps": 7, "cold_start.review": True}
    )
    assert pipeline.stages["sft1"].config.trl["max_steps"] == 7 and pipeline.stages["cold_start"].review
    assert pipeline.stages["sft1"].config.dataset == "/tmp/x/cold_start-reviewed"  # consumers read the reviewed rows
    with pytest.raises(ConfigError, match="no stage 'sft3'"):
        load_pipeline("tiny-r1-demo", run_dir="/tmp/x", overrides={"sft3.max_steps": 7})


# -- typed configs ------------------------------------------------------------------------------------


def test_config_types_are_checked_and_converted_once_for_cli_and_recipes():
    from generators.generate import GenerateConfig

    config = GenerateConfig.from_mapping({"n_problems": "3", "languages": "en, fr", "temperature": 1, "n": 2})
    assert config.n_problems == 3 and config.languages == ["en", "fr"] and config.temperature == 1.0
    with pytest.raises(ConfigError, match="n_problems must be an integer or null, got 'three'"):
        GenerateConfig.from_mapping({"n_problems": "three"})
    with pytest.raises(ConfigError, match="did you mean temperature"):
        GenerateConfig.from_mapping({"temprature": 0.1})
    with pytest.raises(ValueError):  # configuration errors are ValueErrors too
        GenerateConfig(n=0)


def test_engine_options_are_typed_and_unknown_ones_are_refused():
    from generators.engines import make_engine
    from generators.engines.options import OpenAIOptions, engine_options

    assert isinstance(engine_options("openai", {"concurrency": "4"}), OpenAIOptions)
    for engine, bad in (
        ("vllm", {"max_active": 2}),
        ("openai", {"dtype": "bfloat16"}),
        ("transformers", {"base_url": "x"}),
    ):
        with pytest.raises(ConfigError, match="valid keys: batch_size"):
            make_engine(engine, "smollm2-135m", bad)
    result = run_r1f("generate", "--engine", "openai", "--max-active", "4", "--out", "/tmp/never")
    assert result.returncode == 1 and "engine 'openai' options: unknown key 'max_active'" in result.stderr
    assert result.stderr.count("\n") == 1


def test_cli_flags_come_from_the_config_fields():
    """Each config field is one flag (plus one per engine option): nothing is written out twice."""
    import dataclasses

    import typer.main

    from r1f.cli import app
    from r1f.step import step_class

    group = typer.main.get_command(app)
    for command, step in (("generate", "generate"), ("sample", "sample"), ("curate", "curate"), ("eval", "eval")):
        params = {p.name for p in group.commands[command].params}
        fields = {f.name for f in dataclasses.fields(step_class(step).config_class) if f.metadata.get("cli", True)}
        assert fields <= params, fields - params


def test_default_model_name_is_written_once():
    """The default model alias appears as a literal in exactly one Python module (recipes are data)."""
    hits = []
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts or "bench" in path.parts:
            continue
        if '"smollm2-135m"' in path.read_text():
            hits.append(str(path.relative_to(ROOT)))
    assert hits == ["generators/models.py"], hits


# -- the executor's contract --------------------------------------------------------------------------


def test_local_executor_shards_rounds_markers_and_lock(tmp_path):
    from dataclasses import dataclass

    from r1f.config import Config, option
    from r1f.errors import LockedError
    from r1f.executor import LocalExecutor
    from r1f.lock import OutputLock
    from r1f.step import Step, StepContext, StepResult, StepStats

    @dataclass
    class CountConfig(Config):
        out: str = option("", help="where")

    calls: list[tuple[int, int, int]] = []

    class Count(Step):
        name = "count"
        config_class = CountConfig

        def shards(self) -> int:
            return 3

        def run(self, ctx: StepContext) -> StepStats:
            calls.append((ctx.round, ctx.rank, ctx.world_size))
            return StepStats(total=10, kept=ctx.rank, extra={"generated": 1})

        def finish(self, ctx: StepContext) -> StepResult:
            return StepResult(self.output, ctx.stats, more=ctx.round == 0)

    step = Count(CountConfig(out=str(tmp_path / "o")))
    result = LocalExecutor(world_size=3).execute(step)
    assert calls == [(0, 0, 3), (0, 1, 3), (0, 2, 3), (1, 0, 3), (1, 1, 3), (1, 2, 3)]
    assert result.stats.total == 60 and result.stats.extra["generated"] == 6
    (config_dir,) = (tmp_path / ".o.run" / "shards").iterdir()  # one directory per config fingerprint
    markers = sorted(p.name for p in config_dir.iterdir())
    assert markers == [f"r{r}-{k:05d}-of-00003.json" for r in (0, 1) for k in range(3)]
    calls.clear()
    LocalExecutor(world_size=3).execute(step)  # every shard is marked done: nothing reruns
    assert calls == []
    with OutputLock(tmp_path / "o"):
        with pytest.raises(LockedError, match="being written by another run"):
            LocalExecutor(world_size=3).execute(step)


# -- the import graph ---------------------------------------------------------------------------------

PACKAGES = ("r1f", "generators", "filters", "curation", "training")


def _imports() -> dict[str, list[tuple[str, bool]]]:
    """module -> [(imported project module, at module level?)]"""
    graph: dict[str, list[tuple[str, bool]]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(p for p in parts if p != "__init__")
            tree = ast.parse(path.read_text())
            top = {id(n) for n in tree.body}
            found = []
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                for name in names:
                    if name.split(".")[0] in PACKAGES:
                        found.append((name, id(node) in top))
            graph[module] = found
    return graph


def _resolve(name: str, modules: set[str]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def test_no_import_cycles_and_the_core_stays_small():
    graph = _imports()
    modules = set(graph)
    edges = {m: sorted({t for n, _ in deps if (t := _resolve(n, modules)) and t != m}) for m, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in edges[node]:
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(target) :] + [target]))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for module in sorted(modules):
        if module not in state:
            visit(module)
    for module, deps in graph.items():
        if module.startswith("r1f"):
            # the core names no stage: not even a lazy import (stages plug in through entry points)
            staged = [n for n, _ in deps if not n.startswith("r1f")]
            assert not staged, f"{module} imports a stage package: {staged}"
        if not module.startswith("r1f.cli") and module != "r1f.__main__":
            assert not [n for n, _ in deps if n.startswith("r1f.cli")], f"{module} imports the CLI"
    # the import rule (docs/library.md): filters never import generators; nothing imports training but itself
    for module, deps in graph.items():
        top = module.split(".")[0]
        targets = {n.split(".")[0] for n, _ in deps}
        if top == "filters":
            assert "generators" not in targets and "curation" not in targets, f"{module} imports {targets}"
        if top != "training":
            assert "training" not in targets, f"{module} imports training"


def test_the_core_holds_no_stage_module_path():
    """No string in the core names a stage module (``"generators.steps:..."``): steps and commands register
    themselves through entry points in pyproject.toml."""
    import re

    for path in (ROOT / "r1f").rglob("*.py"):
        text = path.read_text()
        found = re.findall(r"[\"'](?:generators|filters|curation|training)\.[a-z_.]+(?::[A-Za-z_]+)?[\"']", text)
        assert not found, (path, found)
