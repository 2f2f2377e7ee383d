"""The real ``r1f`` command in fresh processes: happy paths, --help, and bad input."""

import json

import pytest

from r1f.io import read_rows
from tests.conftest import run_r1f

COMMANDS = [
    "models",
    "problems",
    "generate",
    "inspect",
    "stats",
    "rewards",
    "score",
    "filter",
    "cold-start",
    "sample",
    "distill",
    "eval",
    "curate",
    "push",
    "review serve",
    "review push",
    "review pull",
    "review status",
    "train grpo",
    "train sft",
    "run",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself(command):
    result = run_r1f(*command.split(), "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout and "--help" in result.stdout
    if command == "generate":
        for option in ("--model", "--engine", "--n ", "--temperature", "--max-new-tokens", "--force", "--base-url"):
            assert option in result.stdout


def test_problems_then_generate_then_inspect(tmp_path, model_dir):
    problems = tmp_path / "problems.jsonl"
    made = run_r1f("problems", "--out", str(problems), "--n", "3", "--languages", "en,zh")
    assert made.returncode == 0, made.stderr
    assert len(read_rows(problems)) == 3
    out = tmp_path / "gen"
    result = run_r1f(
        "generate", "--problems", str(problems), "--max-new-tokens", "16", "--out", str(out), "--dtype", "float32"
    )
    assert result.returncode == 0, result.stderr
    assert "Generation summary" in result.stdout
    rows = read_rows(out)
    assert len(rows) == 3
    assert all(r["completion"].strip() for r in rows)
    assert all(r["prompt"][-1]["role"] == "user" for r in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["rows"] == 3 and manifest["model"]["model"] == "smollm2-135m"
    assert {"torch", "transformers"} <= set(manifest["versions"])
    shown = run_r1f("inspect", str(out), "--rows", "1")
    assert shown.returncode == 0, shown.stderr
    assert "3 rows" in shown.stdout and "completion" in shown.stdout and "finish_reason" in shown.stdout


def test_models_lists_and_resolves(model_dir):
    listed = run_r1f("models")
    assert listed.returncode == 0 and "smollm2-135m" in listed.stdout
    resolved = run_r1f("models", "smollm2-135m")
    assert resolved.returncode == 0 and model_dir in resolved.stdout.replace("\n", "")


def _assert_one_line_error(result, *needles):
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture()
def existing_dataset(tmp_path):
    """A dataset already at --out: a failing command must leave it intact."""
    from r1f.io import write_dataset

    out = tmp_path / "keep"
    write_dataset(out, {"train": [{"id": "x", "completion": "kept"}]}, {"kind": "earlier"})
    return out


def test_unknown_model(existing_dataset):
    result = run_r1f("generate", "--model", "no-such-model", "--out", str(existing_dataset), "--n-problems", "1")
    _assert_one_line_error(result, "unknown model 'no-such-model'", "smollm2-135m")
    result = run_r1f("generate", "--model", "someone/not-cached", "--out", str(existing_dataset), "--n-problems", "1")
    _assert_one_line_error(result, "someone/not-cached", "HF_HUB_OFFLINE")
    assert read_rows(existing_dataset) == [{"id": "x", "completion": "kept"}]


def test_bad_inputs_give_one_line_errors(tmp_path, existing_dataset):
    cases = []
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"q": "What is 1 + 1?", "a": "2"}) + "\n")  # nothing a sniffer can place
    cases.append((wrong, [], ["no column 'problem'", "q, a", "--problem-column"]))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("problem,solution\n¿Cuánto es 2 + 2?,4\n".encode("latin-1"))
    cases.append((latin, [], ["not UTF-8", "latin.csv"]))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    cases.append((empty, [], ["empty"]))
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"garbage")
    cases.append((corrupt, [], ["not a readable parquet", "corrupt.parquet"]))
    cases.append((tmp_path / "nowhere.jsonl", [], ["no such file"]))
    cases.append((wrong, ["--solution-column", "gold", "--problem-column", "q"], ["no column 'gold'"]))
    for path, extra, needles in cases:
        result = run_r1f("generate", "--problems", str(path), "--out", str(existing_dataset), *extra)
        _assert_one_line_error(result, *needles)
    result = run_r1f("generate", "--engine", "tgi", "--out", str(existing_dataset), "--n-problems", "1")
    _assert_one_line_error(result, "unknown engine 'tgi'", "transformers, openai, vllm")
    result = run_r1f("generate", "--n", "2", "--out", str(existing_dataset), "--n-problems", "1")
    _assert_one_line_error(result, "--temperature")
    assert read_rows(existing_dataset) == [{"id": "x", "completion": "kept"}]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["eval", "smollm2-135m", "--bogus"], "No such option: --bogus"),
        (["eval"], "Missing argument"),
        (["no-such-command"], "No such command 'no-such-command'"),
        (["train"], "r1f train [OPTIONS] COMMAND"),
    ],
)
def test_command_line_mistakes_get_click_usage_errors_not_tracebacks(argv, needle):
    # typer >= 0.2x raises its vendored click's exceptions, which the entry point once let through as tracebacks
    result = run_r1f(*argv)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert needle in result.stdout + result.stderr


def test_progress_off_a_terminal_prints_plain_lines():
    """Written to a log, rich draws a bar only at the end; the factory's bar says how far it is meanwhile."""
    import io

    from rich.console import Console

    from r1f.console import LoggedProgress

    for terminal, expected in ((False, True), (True, False)):
        out = io.StringIO()
        console = Console(file=out, force_terminal=terminal, width=100)
        with LoggedProgress(label="train-sft", every=0, console=console) as bar:
            task = bar.add_task("steps", total=300)
            bar.update(task, completed=120, description="steps (loss 0.4512)")
            bar.advance(task)
        assert ("train-sft steps (loss 0.4512): 121/300 (0m00s)" in out.getvalue()) is expected, out.getvalue()


def test_every_step_command_reads_a_config_file_and_sets_like_its_flags(tmp_path):
    """One grammar: ``--config FILE.yaml`` + flags + ``--set key=value`` give the config the flags alone give."""
    import dataclasses

    import yaml

    from r1f.commands import config_from, group_parameters
    from r1f.step import registered_steps, step_class

    for name in registered_steps():
        cls = step_class(name).config_class
        fields = {f.name for f in dataclasses.fields(cls) if f.metadata.get("cli", True)}
        values: dict = {}
        if "source" in fields:
            values["source"] = "data.jsonl"
        if "out" in fields:
            values["out"] = "somewhere"
        if "dataset_name" in fields:
            values["dataset_name"] = "ds"
        if "model" in fields and name == "eval":
            values["model"] = "smollm2-135m"
        if "sources" in fields:
            values["sources"] = ["data.jsonl"]
        if "seed" in fields:
            values["seed"] = 7
        _, groups = group_parameters(cls)
        try:
            flags = config_from(cls, dict(values), groups, None, None)  # what the command does with flags
        except Exception as err:  # a config that needs more than this (train: a dataset) is built from the file too
            flags = err
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(values))
        if isinstance(flags, Exception):
            with pytest.raises(type(flags)):
                config_from(cls, {}, groups, str(path), None)
            continue
        from_file = config_from(cls, {}, groups, str(path), None)
        assert from_file.fingerprint_dict() == flags.fingerprint_dict(), name
        if "seed" in fields:
            overridden = config_from(cls, {}, groups, str(path), ["seed=8"])
            assert overridden.seed == 8 and overridden.fingerprint_dict() != flags.fingerprint_dict(), name


def test_config_file_and_flags_make_the_same_dataset(tmp_path):
    from r1f.io import read_manifest

    flags = ["--method", "worked", "--n-problems", "2", "--format", "think"]
    assert run_r1f("cold-start", *flags, "--out", "a", cwd=tmp_path).returncode == 0
    (tmp_path / "c.yaml").write_text("method: worked\nn_problems: 3\nformat: think\n")
    result = run_r1f("cold-start", "--config", "c.yaml", "--set", "n_problems=2", "--out", "b", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    a, b = read_manifest(tmp_path / "a"), read_manifest(tmp_path / "b")
    assert {k: v for k, v in a["parameters"].items() if k != "out"} == {
        k: v for k, v in b["parameters"].items() if k != "out"
    }
    bad = run_r1f("cold-start", "--config", "c.yaml", "--set", "n_problemz=2", "--out", "c", cwd=tmp_path)
    assert bad.returncode == 1 and "n_problemz" in bad.stderr and "Traceback" not in bad.stderr
