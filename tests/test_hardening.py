"""A hostile but fair user: signals on every long command, two runs on one output, kills during the final
write, a full disk, read-only outputs, and a corpus of bad inputs. Real subprocesses, real signals, a real
(small) filesystem; each failure must be one line that names the file, row or option, exit 1, and leave
what was already written untouched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from r1f.io import read_rows, write_dataset
from tests.conftest import ROOT, run_r1f

STOPPED = "finished work is kept"


# -- processes ------------------------------------------------------------------------------------------


def _start(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "r1f", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the command ended before the signal:\n{out[-2000:]}\n{err[-2000:]}")
        time.sleep(0.05)
    raise AssertionError("the command never reached the point to interrupt")


def _interrupt(proc: subprocess.Popen, sig: int) -> tuple[int, str, str, float, set[int]]:
    children = _descendants(proc.pid)
    sent = time.time()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err, time.time() - sent, children


# -- inputs -----------------------------------------------------------------------------------------------


def _problems(path: Path, n: int = 12) -> Path:
    from generators.problems import make_problems

    rows = make_problems(n, seed=4, languages=["en"], families=["money"], difficulties=[1])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _completions(path: Path, n: int) -> Path:
    with open(path, "w") as handle:
        for i in range(n):
            row = {
                "id": f"r{i}",
                "problem": f"What is {i} plus one, in a word problem about {i % 97} apples?",
                "completion": f"<think>We add one to {i}.</think><answer>$\\frac{{{2 * (i + 1)}}}{{2}}$</answer>",
                "solution": str(i + 1),
                "lang": "en",
            }
            handle.write(json.dumps(row) + "\n")
    return path


SIGNALLED = {
    # name -> (args, what shows it is working, signal)
    "generate": (
        ["generate", "--n-problems", "12", "--max-new-tokens", "48", "--batch-size", "1", "--max-active", "1"],
        lambda out: any((out.parent / f".{out.name}.run" / "chunks").glob("*.jsonl")),
        signal.SIGTERM,
    ),
    "sample": (
        ["sample", "--n-problems", "6", "--k", "2", "--max-new-tokens", "48", "--batch-size", "1"],
        lambda out: any((out.parent / f".{out.name}.run" / "chunks").glob("*.jsonl")),
        signal.SIGINT,
    ),
    "cold-start": (
        ["cold-start", "--method", "few-shot", "--n-problems", "6", "--max-new-tokens", "48", "--batch-size", "1"],
        lambda out: any((out.parent / f".{out.name}.run" / "chunks").glob("*.jsonl")),
        signal.SIGTERM,
    ),
    "eval": (
        ["eval", "smollm2-135m", "--n-problems", "12", "--k", "1", "--max-new-tokens", "48", "--batch-size", "1"],
        lambda out: any((out / ".greedy.run" / "chunks").glob("*.jsonl")),
        signal.SIGTERM,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("command", list(SIGNALLED))
def test_long_commands_stop_on_a_signal_keep_their_work_and_leave_no_child(tmp_path, model_dir, command):
    args, working, sig = SIGNALLED[command]
    out = tmp_path / "out"
    proc = _start(*args, "--out", str(out))
    _wait_for(lambda: working(out), proc)
    code, stdout, stderr, seconds, children = _interrupt(proc, sig)
    assert code == 128 + sig, (code, stdout[-2000:], stderr[-2000:])
    assert STOPPED in stdout and "Traceback" not in stderr, stderr[-2000:]
    assert seconds < 15, seconds
    time.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)], "a child process outlived the command"
    resumed = run_r1f(*args, "--out", str(out))  # and the same command finishes the job
    assert resumed.returncode == 0, resumed.stderr[-2000:]


def test_scoring_and_curation_stop_on_sigterm_with_their_worker_processes(tmp_path):
    source = _completions(tmp_path / "rows.jsonl", 3000)
    out = tmp_path / "scored"
    proc = _start("score", str(source), "--out", str(out), "--rewards", "accuracy,language_consistency")
    _wait_for(lambda: any((tmp_path / ".scored.run" / "scores" / "chunks").glob("*.jsonl")), proc)
    code, stdout, stderr, seconds, children = _interrupt(proc, signal.SIGTERM)
    assert code == 143 and STOPPED in stdout and "Traceback" not in stderr, stderr[-2000:]
    assert children, "the verifier workers were running"
    time.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)]

    rows = [json.loads(line) for line in source.read_text().splitlines()]
    many = tmp_path / "many.jsonl"
    many.write_text("".join(json.dumps({**r, "id": f"{r['id']}-{k}"}) + "\n" for k in range(8) for r in rows))
    proc = _start("curate", str(many), "--out", str(tmp_path / "curated"), "--dedup-on", "completion")
    _wait_for(lambda: (tmp_path / ".curated.lock").exists() and time.sleep(1.0) is None, proc)
    code, stdout, stderr, _, _ = _interrupt(proc, signal.SIGTERM)
    assert code == 143 and STOPPED in stdout and "Traceback" not in stderr, stderr[-2000:]


@pytest.mark.slow
def test_training_and_recipes_stop_on_sigterm(tmp_path, model_dir):
    out = tmp_path / "grpo"
    proc = _start(
        "train",
        "grpo",
        "--set",
        "max_steps=50",
        "--set",
        "n_problems=4",
        "--set",
        "max_completion_length=16",
        "--set",
        "num_generations=2",
        "--set",
        "per_device_train_batch_size=2",
        "--output-dir",
        str(out),
    )
    _wait_for(lambda: (out / ".r1f-train-fingerprint").exists(), proc, timeout=300)
    time.sleep(3)
    code, stdout, stderr, seconds, children = _interrupt(proc, signal.SIGTERM)
    assert code == 143 and STOPPED in stdout and "Traceback" not in stderr, stderr[-2000:]
    assert seconds < 30
    assert not [pid for pid in children if _alive(pid)]

    import yaml

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "gen": {
                        "step": "generate",
                        "config": {
                            "n_problems": 12,
                            "max_new_tokens": 48,
                            "engine_options": {"batch_size": 1, "max_active": 1},
                        },
                    }
                }
            }
        )
    )
    run_dir = tmp_path / "run"
    proc = _start("run", str(recipe), "--run-dir", str(run_dir))
    _wait_for(lambda: any((run_dir / ".gen.run" / "chunks").glob("*.jsonl")), proc)
    code, stdout, stderr, _, _ = _interrupt(proc, signal.SIGTERM)
    assert code == 143 and STOPPED in stdout and "Traceback" not in stderr, stderr[-2000:]
    assert (run_dir / "report.html").is_file()  # the report says where the run stopped


# -- one writer per output, temp directories, ids ------------------------------------------------------------


@pytest.mark.slow
def test_a_second_run_on_the_same_output_is_refused_and_a_killed_runs_lock_is_taken_over(tmp_path, model_dir):
    out = tmp_path / "gen"
    args = ["generate", "--n-problems", "8", "--max-new-tokens", "32", "--batch-size", "1", "--max-active", "1"]
    first = _start(*args, "--out", str(out))
    _wait_for(lambda: any((tmp_path / ".gen.run" / "chunks").glob("*.jsonl")), first)
    second = run_r1f(*args, "--out", str(out))
    assert second.returncode == 1 and second.stderr.count("\n") == 1, second.stderr
    assert f"pid {first.pid}" in second.stderr and "being written by another run" in second.stderr
    first.send_signal(signal.SIGKILL)
    first.wait()
    third = run_r1f(*args, "--out", str(out))  # the kernel dropped the dead run's lock: this one takes over
    assert third.returncode == 0, third.stderr[-2000:]
    assert len(read_rows(out)) == 8
    chunks = list((tmp_path / ".gen.run" / "chunks").glob("*.jsonl"))
    ids = [json.loads(line)["id"] for chunk in chunks for line in chunk.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 8  # nothing was generated twice


def test_a_kill_during_the_final_write_leaves_a_temp_dir_the_next_run_removes(tmp_path):
    source = tmp_path / "rows.jsonl"
    with open(source, "w") as handle:
        for i in range(120_000):
            handle.write(json.dumps({"id": f"r{i}", "completion": f"<think>x{i}</think><answer>{i}</answer>"}) + "\n")
    out = tmp_path / "scored"
    args = ["score", str(source), "--out", str(out), "--rewards", "format"]
    proc = _start(*args)
    _wait_for(lambda: any(tmp_path.glob(".scored.tmp-*")), proc, timeout=600)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert any(tmp_path.glob(".scored.tmp-*")) and not out.exists()
    again = run_r1f(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert not any(tmp_path.glob(".scored.tmp-*")) and len(read_rows(out)) == 120_000


@pytest.mark.slow
def test_batching_is_part_of_the_row_id(tmp_path, model_dir):
    args = ["generate", "--n-problems", "3", "--max-new-tokens", "8", "--temperature", "0.8", "--max-active", "4"]
    out = tmp_path / "g"
    first = run_r1f(*args, "--batch-size", "2", "--out", str(out))
    assert first.returncode == 0, first.stderr
    ids = {r["id"] for r in read_rows(out)}
    other = run_r1f(*args, "--batch-size", "3", "--out", str(out))
    assert other.returncode == 0, other.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["generated"] == 3 and manifest["counts"]["reused"] == 0  # no mixing of samplings
    assert not ids & {r["id"] for r in read_rows(out)}


# -- bad input: one line, exit 1, nothing lost ------------------------------------------------------------------


@pytest.fixture()
def existing(tmp_path):
    out = tmp_path / "keep"
    write_dataset(out, {"train": [{"id": "x", "completion": "kept"}]}, {"kind": "earlier"})
    return out


def _one_line(result, *needles):
    assert result.returncode == 1, (result.stdout[-2000:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
    for needle in needles:
        assert needle in lines[0], lines[0]


def _unchanged(existing):
    assert read_rows(existing) == [{"id": "x", "completion": "kept"}]


def test_bad_problem_files(tmp_path, existing):
    nan = tmp_path / "nan.jsonl"
    nan.write_text('{"problem": "What is 1 + 1?", "solution": "2"}\n{"problem": "What is 2 + 2?", "solution": NaN}\n')
    _one_line(run_r1f("sample", "--problems", str(nan), "--out", str(existing)), "nan.jsonl", "row 2", "solution")
    empty = tmp_path / "empty_problem.jsonl"
    empty.write_text('{"problem": "What is 1 + 1?", "solution": "2"}\n{"problem": "  ", "solution": "3"}\n')
    _one_line(run_r1f("generate", "--problems", str(empty), "--out", str(existing)), "empty_problem.jsonl", "row 2")
    _one_line(run_r1f("sample", "--k", "0", "--out", str(existing)), "k must be at least 1")
    _one_line(
        run_r1f("curate", str(tmp_path / "missing.jsonl"), "--weights=-1", "--out", str(existing)), "--weights"
    )  # refused before reading anything: the missing file is not even opened
    _unchanged(existing)


def test_a_csv_with_a_byte_order_mark_reads_and_mixed_gold_types_become_text(tmp_path):
    bom = tmp_path / "excel.csv"
    bom.write_bytes("\ufeffproblem,solution,completion\nWhat is 2+2?,4,<think>2+2</think><answer>4</answer>\n".encode())
    refined = run_r1f("cold-start", "--method", "refine", "--problems", str(bom), "--out", str(tmp_path / "cs"))
    assert refined.returncode == 0, refined.stderr
    assert read_rows(tmp_path / "cs")[0]["problem"] == "What is 2+2?"
    mixed = tmp_path / "mixed.jsonl"
    rows = [(1, 1), (2.0, 2), (None, 3), ("4", 4), (2.5, 2.5)]
    mixed.write_text(
        "".join(
            json.dumps({"id": f"m{i}", "completion": f"<answer>{a}</answer>", "solution": gold}) + "\n"
            for i, (gold, a) in enumerate(rows)
        )
    )
    scored = run_r1f("score", str(mixed), "--out", str(tmp_path / "scored"), "--rewards", "accuracy")
    assert scored.returncode == 0, scored.stderr
    out = read_rows(tmp_path / "scored")
    assert [r["solution"] for r in out] == ["1", "2", None, "4", "2.5"]
    assert [r["reward_accuracy"] for r in out] == [1.0, 1.0, None, 1.0, 1.0]


def test_bad_training_rows_and_values_fail_before_a_model_loads(tmp_path, existing):
    wizard = tmp_path / "wizard.jsonl"
    wizard.write_text(
        json.dumps({"messages": [{"role": "wizard", "content": "hi"}, {"role": "assistant", "content": "x"}]}) + "\n"
    )
    started = time.time()
    _one_line(run_r1f("train", "sft", "--set", f"dataset={wizard}"), "wizard.jsonl", "row 1", "role 'wizard'")
    text_prompt = tmp_path / "text_prompt.jsonl"
    text_prompt.write_text(json.dumps({"prompt": "What is 2 + 2?", "solution": "4"}) + "\n")
    _one_line(run_r1f("train", "grpo", "--set", f"dataset={text_prompt}"), "text_prompt.jsonl", "row 1", "is text")
    _one_line(run_r1f("train", "grpo", "--set", "learning_rate=abc"), "learning_rate must be float", "abc")
    assert time.time() - started < 60  # none of these loaded a model


def test_outputs_that_cannot_be_written_are_refused_before_any_work(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    _one_line(run_r1f("problems", "--n", "3", "--out", str(blocker / "sub" / "out")), "a_file is a file")
    source = tmp_path / "rows.jsonl"
    source.write_text(json.dumps({"problem": "p", "completion": "c", "id": "1"}) + "\n")
    _one_line(run_r1f("curate", str(source), "--out", str(blocker)), "is a file, not a directory")


@pytest.fixture()
def small_disk(tmp_path):
    """A real 512 KB filesystem (tmpfs): a full disk without filling the machine's."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.decode().strip()}); needs root or CAP_SYS_ADMIN")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_is_one_line_and_keeps_what_was_written(tmp_path, small_disk):
    out = small_disk / "scored"
    write_dataset(out, {"train": [{"id": "x", "completion": "kept"}]}, {"kind": "earlier"})
    source = _completions(tmp_path / "rows.jsonl", 20_000)
    result = run_r1f("score", str(source), "--out", str(out), "--rewards", "format")
    _one_line(result, "no space left on the device holding")
    _unchanged(out)
    assert not any(small_disk.glob(".scored.tmp-*"))  # the failed write removed its temp directory


def test_a_read_only_output_is_refused_before_any_work(tmp_path, small_disk):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    _one_line(run_r1f("problems", "--n", "3", "--out", str(small_disk / "p")), "cannot write in", "read-only")


@pytest.mark.slow
def test_a_prompt_longer_than_the_context_is_skipped_with_a_reason(tmp_path, model_dir):
    huge = tmp_path / "huge.jsonl"
    rows = [
        {"problem": "What is 2 + 2?", "solution": "4"},
        {"problem": "Count the words: " + "word " * 200_000, "solution": "200000"},
    ]
    huge.write_text("".join(json.dumps(r) + "\n" for r in rows))
    started = time.time()
    result = run_r1f("generate", "--problems", str(huge), "--max-new-tokens", "16", "--out", str(tmp_path / "g"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.time() - started < 120
    out = read_rows(tmp_path / "g")
    assert [r["finish_reason"] for r in out][1] == "prompt_too_long" and out[1]["completion"] == ""
    assert out[1]["prompt_tokens"] > 8192 and out[0]["completion"]


# -- secrets ----------------------------------------------------------------------------------------------------

PLANTED = {"OPENAI_API_KEY": "sk-planted0123456789abcdef", "HF_TOKEN": "hf_planted0123456789abcdef"}


def test_planted_keys_never_reach_a_file_a_log_or_the_terminal(tmp_path):
    from tests.servers import FaultServer

    env = dict(PLANTED)
    outputs = []
    with FaultServer(["401-echo"]) as server:
        proc = _start(
            "generate",
            "--engine",
            "openai",
            "--base-url",
            server.url,
            "--model",
            "m",
            "--n-problems",
            "2",
            "--out",
            str(tmp_path / "gen"),
            env=env,
        )
        out, err = proc.communicate(timeout=120)
        outputs += [out, err]
        assert proc.returncode == 1 and "Incorrect API key provided: Bearer ***" in err, err
        assert server.requests[0]["auth"] == f"Bearer {PLANTED['OPENAI_API_KEY']}"  # it was sent, and only sent
    source = _completions(tmp_path / "rows.jsonl", 5)
    for args in (
        ["problems", "--n", "3", "--out", str(tmp_path / "p")],
        ["score", str(source), "--out", str(tmp_path / "scored"), "--rewards", "format"],
        ["curate", str(source), "--out", str(tmp_path / "curated")],
    ):
        proc = _start(*args, env=env)
        outputs += list(proc.communicate(timeout=300))
        assert proc.returncode == 0, outputs[-1][-2000:]
    written = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    for secret in PLANTED.values():
        assert not any(secret in text for text in outputs)
        assert not any(secret.encode() in data for data in written)
