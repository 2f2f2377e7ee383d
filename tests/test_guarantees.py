"""Nothing a user owns is deleted, nothing secret is published, bad input is one line.

Each case is one that was tried as a new user would and failed (a deleted thesis, a key in a manifest, a
traceback after the model loaded); every command runs for real, in a fresh process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from r1f.io import read_manifest, read_rows, write_dataset
from tests.conftest import ROOT, run_r1f

PLANTED_KEY = "sk-planted0123456789abcdefSECRET"
PLANTED_PASSWORD = "hunter2planted0987"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with the hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def foreign_folder(root: Path, name: str = "mydocs") -> Path:
    folder = root / name
    (folder / "sub").mkdir(parents=True)
    (folder / "thesis.txt").write_text("three years of work\n")
    (folder / "sub" / "notes.md").write_text("# notes\n")
    (folder / ".hidden").write_text("x")
    return folder


def scored_dataset(path: Path) -> Path:
    rows = [
        {
            "id": f"r{i}",
            "problem": f"What is {i} + {i}?",
            "solution": str(2 * i),
            "completion": f"<answer>{2 * i}</answer>",
        }
        for i in range(4)
    ]
    write_dataset(path, {"train": rows}, {"kind": "scores"})
    return path


def one_error_line(result) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_no_output_option_touches_a_foreign_folder(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    scored_dataset(work / "data")
    folder = foreign_folder(work)
    before = snapshot(folder)
    commands = [
        ["problems", "--n", "2", "--out", "mydocs"],
        ["generate", "--n-problems", "2", "--out", "mydocs"],
        ["cold-start", "--method", "worked", "--n-problems", "2", "--format", "think", "--out", "mydocs"],
        ["cold-start", "--method", "worked", "--n-problems", "2", "--format", "think", "--out", "mydocs", "--force"],
        ["sample", "--n-problems", "2", "--out", "mydocs"],
        ["distill", "--n-problems", "2", "--out", "mydocs"],
        ["score", "data", "--out", "mydocs"],
        ["filter", "data", "--out", "mydocs", "--keep", "accuracy == 1"],
        ["audit", "data", "--out", "mydocs"],
        ["curate", "data", "--out", "mydocs"],
        ["pairs", "data", "--out", "mydocs"],
        ["eval", "smollm2-135m", "--out", "mydocs"],
        ["train", "sft", "--set", "dataset=data", "--output-dir", "mydocs"],
        ["train", "grpo", "--output-dir", "mydocs"],
        ["run", "tiny-r1-demo", "--run-dir", "mydocs"],
        ["push", "data", "--dry-run", "mydocs"],
        ["review", "pull", "some-dataset", "--out", "mydocs", "--api-url", "http://127.0.0.1:9", "--api-key", "k"],
    ]
    for args in commands:
        result = run_r1f(*args, cwd=work, timeout=300)
        line = one_error_line(result)
        assert "mydocs" in line and ("not written by r1-factory" in line or "did not write" in line), (args, line)
        assert snapshot(folder) == before, args
    assert sorted(p.name for p in work.iterdir()) == ["data", "mydocs"]  # no lock, temp or run store left


def test_the_working_directory_is_never_an_output(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    before = snapshot(tmp_path)
    for out in (".", "./", str(tmp_path)):
        line = one_error_line(
            run_r1f("cold-start", "--method", "worked", "--n-problems", "2", "--out", out, cwd=tmp_path)
        )
        assert "not the working" in line
    assert snapshot(tmp_path) == before


def test_a_file_the_factory_did_not_write_is_not_overwritten(tmp_path):
    (tmp_path / "mine.jsonl").write_text('{"my": "data"}\n')
    line = one_error_line(run_r1f("problems", "--n", "2", "--out", "mine.jsonl", cwd=tmp_path))
    assert "mine.jsonl" in line
    assert (tmp_path / "mine.jsonl").read_text() == '{"my": "data"}\n'
    for _ in range(2):  # its own file it replaces
        assert run_r1f("problems", "--n", "2", "--out", "made.jsonl", cwd=tmp_path).returncode == 0


def test_factory_outputs_are_still_replaced_and_forced(tmp_path):
    args = ["cold-start", "--method", "worked", "--n-problems", "2", "--format", "think", "--out", "ds"]
    for extra in ([], [], ["--force"]):
        result = run_r1f(*args, *extra, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert read_manifest(tmp_path / "ds")["kind"]
    (tmp_path / "empty").mkdir()
    assert run_r1f(*args[:-1], "empty", cwd=tmp_path).returncode == 0  # an empty folder holds nothing to lose


@pytest.mark.parametrize("stage", ["../important", "../../escaped", "a/b", "", "x y", "."])
def test_stage_names_cannot_leave_the_run_directory(tmp_path, stage):
    important = foreign_folder(tmp_path, "important")
    before = snapshot(important)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        json.dumps(
            {"name": "r", "stages": {stage: {"step": "cold-start", "config": {"method": "worked", "n_problems": 2}}}}
        )
    )
    line = one_error_line(run_r1f("run", str(recipe), "--run-dir", str(tmp_path / "run"), cwd=tmp_path))
    assert "stage name" in line
    assert (
        snapshot(important) == before and not (tmp_path / "run").exists() and not (tmp_path.parent / "escaped").exists()
    )


def test_a_recipe_imports_no_module_it_did_not_declare(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\nstages:\n  boom: {step: 'os:system'}\n")
    line = one_error_line(run_r1f("run", str(recipe), "--dry-run", cwd=tmp_path))
    assert "'os'" in line and "plugins" in line
    recipe.write_text("name: r\nplugins: [os]\nstages:\n  boom: {step: 'os:system'}\n")
    line = one_error_line(run_r1f("run", str(recipe), "--dry-run", cwd=tmp_path))
    assert "not a Step class" in line


def test_pairs_on_a_dataset_without_pairs_writes_nothing(tmp_path):
    rows = [{**row, "reward_accuracy": 1.0} for row in read_rows(scored_dataset(tmp_path / "data"))]
    data = tmp_path / "data"
    write_dataset(data, {"train": rows}, {"kind": "scores"})
    out = tmp_path / "pairs"
    write_dataset(out, {"train": [{"prompt": "p", "chosen": "a", "rejected": "b"}] * 8}, {"kind": "pairs"})
    before = snapshot(out)
    line = one_error_line(run_r1f("pairs", str(data), "--out", str(out)))
    assert "no preference pair" in line
    assert snapshot(out) == before


def test_a_named_split_must_exist(tmp_path):
    data = scored_dataset(tmp_path / "data")
    line = one_error_line(run_r1f("score", str(data), "--split", "nosuch", "--out", str(tmp_path / "o")))
    assert "no split 'nosuch'" in line and "train" in line
    assert not (tmp_path / "o").exists()


def test_eval_and_train_do_not_write_into_a_dataset(tmp_path):
    data = scored_dataset(tmp_path / "data")
    before = snapshot(data)
    one_error_line(run_r1f("eval", "smollm2-135m", "--out", str(data)))
    one_error_line(run_r1f("train", "sft", "--set", f"dataset={data}", "--output-dir", str(data)))
    assert snapshot(data) == before


def test_bad_options_are_one_line_before_any_model_loads(tmp_path):
    data = scored_dataset(tmp_path / "data")
    cases = [
        (["train", "sft", "--set", f"dataset={data}", "--set", "per_device_train_batch_size=0"], "at least 1"),
        (["generate", "--n-problems", "2", "--stop", "", "--out", "o1"], "empty stop"),
        (["generate", "--n-problems", "100000000000", "--out", "o2"], "--n-problems must be at most"),
        (["generate", "--n-problems", "2", "--threads", "0", "--out", "o3"], "--threads must be at least 1"),
        (["curate", str(data), "--test-size", "1.5", "--out", "o4"], "--test-size 1.5"),
        (["push", str(data), "--repo", "not a repo", "--dry-run", "o5"], "--repo 'not a repo'"),
        (["score", str(data), "--rewards", "accuracy,nosuch", "--out", "o6"], "nosuch"),
        (["train", "grpo", "--set", "rewards=accuracy,nosuch", "--set", "reward_weights=[1,1,1]"], "nosuch"),
        (["review", "serve", "--reviewer", "../credentials", "--home", "h"], "--reviewer '../credentials'"),
    ]
    for args, expected in cases:
        line = one_error_line(run_r1f(*args, cwd=tmp_path, timeout=120))
        assert expected in line, (args, line)
    recipe = tmp_path / "big.yaml"
    recipe.write_text("name: big\nstages:\n  p: {step: generate, config: {n_problems: 100000000000}}\n")
    assert "--n-problems must be at most" in one_error_line(run_r1f("run", str(recipe), "--dry-run", cwd=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml", "data"]


def test_the_missing_token_message_is_whole(tmp_path):
    data = scored_dataset(tmp_path / "data")
    env_backup = {k: os.environ.pop(k) for k in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN") if k in os.environ}
    os.environ["HF_HOME"] = str(tmp_path / "hf")
    try:
        line = one_error_line(run_r1f("push", str(data), "--repo", "me/data"))
    finally:
        os.environ.pop("HF_HOME")
        os.environ.update(env_backup)
    assert "set HF_TOKEN" in line


def test_two_problems_with_one_id_are_refused(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [{"id": "same", "problem": "1 + 1?", "solution": "2"}, {"id": "same", "problem": "2 + 2?", "solution": "4"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    line = one_error_line(run_r1f("sample", "--problems", str(path), "--out", str(tmp_path / "o")))
    assert "rows 1 and 2 share the id 'same'" in line


def test_a_chunk_where_no_prompt_fits_gives_prompt_too_long_rows(tmp_path, model_dir):
    out = tmp_path / "gen"
    result = run_r1f(
        "generate", "--n-problems", "2", "--max-new-tokens", "1000000", "--dtype", "float32", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    rows = read_rows(out)
    assert len(rows) == 2 and {r["finish_reason"] for r in rows} == {"prompt_too_long"}
    huge = tmp_path / "huge.jsonl"  # one 1 MB prompt alone in its chunk
    huge.write_text(json.dumps({"problem": "How many apples? " * 60_000, "solution": "3"}) + "\n")
    result = run_r1f("generate", "--problems", str(huge), "--dtype", "float32", "--out", str(tmp_path / "huge"))
    assert result.returncode == 0, result.stderr
    assert [r["finish_reason"] for r in read_rows(tmp_path / "huge")] == ["prompt_too_long"]


@contextlib.contextmanager
def loopback(handler: type[BaseHTTPRequestHandler]):
    """A real HTTP server on 127.0.0.1 answering with ``handler``; yields its /v1 URL."""
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


def generate_from(url: str, out: Path, *extra: str):
    """``r1f generate`` with the openai engine against ``url``: one problem, no patience."""
    return run_r1f(
        "generate",
        "--engine",
        "openai",
        "--base-url",
        url,
        "--model",
        "m",
        "--n-problems",
        "1",
        *extra,
        "--out",
        str(out),
    )


class _HtmlProxy(BaseHTTPRequestHandler):
    """A real HTTP server that answers every chat request 200 with an HTML page, as a captive proxy does."""

    hits = 0

    def do_POST(self):  # noqa: N802
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"<html><body>Please log in to the proxy</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_200_that_is_not_json_is_retried_then_one_line(tmp_path):
    with loopback(_HtmlProxy) as url:
        result = generate_from(url, tmp_path / "o", "--max-retries", "2")
    line = one_error_line(result)
    assert "not a chat completion" in line and _HtmlProxy.hits == 3


def test_endpoint_identity_is_the_model_not_the_address():
    from generators.engines.openai_engine import OpenAIEngine

    a = OpenAIEngine(model="m", base_url="http://127.0.0.1:8000/v1")
    b = OpenAIEngine(model="m", base_url="http://localhost:9000/v1")
    assert a.identity() == b.identity() == {"engine": "openai", "model": "m"}


def test_no_secret_or_local_path_in_any_file_written(tmp_path, served, model_dir):
    """Keys in every flag and environment variable the factory reads, a password in the endpoint URL: none of them,
    and not the absolute working directory, in any file written (dataset, card, manifest, run store, plots)."""
    work = tmp_path / "work"
    work.mkdir()
    host = served.split("://", 1)[1]
    url = f"http://user:{PLANTED_PASSWORD}@{host}"
    env = {
        "OPENAI_API_KEY": PLANTED_KEY,
        "HF_TOKEN": "hf_planted" + "0123456789abcdef",
        "ARGILLA_API_KEY": "argilla.planted.0123456789",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = run_r1f(
            "generate",
            "--engine",
            "openai",
            "--base-url",
            url,
            "--model",
            model_dir,
            "--n-problems",
            "2",
            "--max-new-tokens",
            "16",
            "--out",
            "gen",
            cwd=work,
        )
        assert result.returncode == 0, result.stderr
        outputs = [result.stdout + result.stderr]
        result = run_r1f("score", "gen", "--out", "scored", cwd=work)
        assert result.returncode == 0, result.stderr
        result = run_r1f("push", "scored", "--dry-run", "upload", cwd=work)
        assert result.returncode == 0, result.stderr
        recipe = {
            "name": "leak",
            "stages": {
                "gen": {
                    "step": "generate",
                    "config": {
                        "engine": "openai",
                        "model": model_dir,
                        "n_problems": 2,
                        "max_new_tokens": 16,
                        "engine_options": {"base_url": url},
                    },
                },
                "sc": {"step": "score", "inputs": {"source": "gen"}, "config": {"rewards": "accuracy"}},
            },
        }
        (work / "leak.yaml").write_text(json.dumps(recipe))
        result = run_r1f("run", "leak.yaml", "--run-dir", "run", cwd=work)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
        assert (work / "run" / "report.html").is_file()
        from tests.test_training import TINY_GRPO

        result = run_r1f("train", "grpo", *TINY_GRPO, "--set", "max_steps=1", "--output-dir", "model", cwd=work)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
        assert (work / "model" / "README.md").is_file()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    secrets = [PLANTED_KEY, PLANTED_PASSWORD, env["HF_TOKEN"], env["ARGILLA_API_KEY"], str(work), str(ROOT)]
    files = [p for p in work.rglob("*") if p.is_file() and p.name != "leak.yaml"]  # the test's own recipe
    assert any(p.name == "manifest.json" for p in files) and any(p.parent.name == "chunks" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, (path, secret)
    for output in outputs:  # what the commands printed (the logs a user keeps)
        for secret in secrets[:4]:
            assert secret not in output, secret
    manifest = read_manifest(work / "gen")
    assert manifest["command"][0] == "r1f" and "user:***@" in json.dumps(manifest)


def test_a_problem_without_a_gold_counts_in_neither_pass_at_1_nor_pass_at_k(tmp_path, model_dir):
    path = tmp_path / "p.jsonl"
    rows = [
        {"problem": "What is 2 + 3?", "solution": "5"},
        {"problem": "What is 4 + 4?", "solution": "8"},
        {"problem": "Describe a number.", "solution": ""},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "eval"
    result = run_r1f(
        "eval", "smollm2-135m", "--problems", str(path), "--k", "2", "--max-new-tokens", "8", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "eval.json").read_text())
    assert metrics["judged"]["pass@1"] == metrics["judged"]["pass@2"] == 2


def test_a_server_echo_is_masked_before_it_is_cut(tmp_path):
    key = "sk-echo" + "x" * 26  # 33 characters, as in the report

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"error": "." * 150 + " Incorrect API key provided: " + key}).encode()
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    os.environ["ECHO_TEST_KEY"] = key
    try:
        with loopback(Echo) as url:
            result = generate_from(url, tmp_path / "o", "--api-key-env", "ECHO_TEST_KEY", "--max-retries", "0")
    finally:
        os.environ.pop("ECHO_TEST_KEY")
    one_error_line(result)
    assert "sk-echox" not in result.stderr + result.stdout and "***" in result.stderr


def test_a_killed_evaluation_resumes_into_its_own_folder(tmp_path):
    """An evaluation killed before its eval.json leaves its run store inside its folder: that folder is the
    factory's to resume (the signal test kills one for real); a folder of other files is not."""
    from r1f.lock import check_owned
    from r1f.step import step_class
    from training.evaluate import EvalConfig

    out = tmp_path / "eval"
    (out / ".greedy.run" / "chunks").mkdir(parents=True)
    (out / ".greedy.lock").write_text("")
    markers = step_class("eval")(EvalConfig(model="smollm2-135m", out=str(out))).markers()
    check_owned(out, markers)
    other = foreign_folder(tmp_path)
    with pytest.raises(Exception, match="not written by r1-factory"):
        check_owned(other, markers)
