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
    wrong.write_text(json.dumps({"question": "What is 1 + 1?", "answer": "2"}) + "\n")
    cases.append((wrong, [], ["no column 'problem'", "question, answer", "--problem-column"]))
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
    cases.append((wrong, ["--solution-column", "gold", "--problem-column", "question"], ["no column 'gold'"]))
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
