"""Distillation against the real loopback OpenAI-compatible server (transformers serve, embedded model)."""

import json

from filters.rewards.accuracy import Accuracy
from r1f.io import read_rows
from tests.conftest import run_r1f


def test_distill_from_a_served_teacher(tmp_path, served, model_dir, easy_problems):
    out = tmp_path / "distill"
    result = run_r1f(
        "distill",
        "--engine",
        "openai",
        "--base-url",
        served,
        "--model",
        model_dir,
        "--problems",
        easy_problems,
        "--n-problems",
        "6",
        "--n",
        "2",
        "--max-new-tokens",
        "64",
        "--concurrency",
        "4",
        "--max-student-tokens",
        "400",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    teacher = manifest["teacher"]
    assert teacher["engine"] == "openai" and teacher["base_url"] == served
    assert teacher["sampling"]["temperature"] == 0.6 and teacher["force_think"] is True
    kept = read_rows(out, allow_empty=True)
    rejected = read_rows(out, split="rejected") if manifest["counts"]["dropped"] else []
    everything = kept + rejected
    assert len(everything) == 12
    # transformers serve cannot continue a forced "<think>\n" (it rejects continue_final_message): the engine
    # falls back to the plain prompt and the rows say so, instead of pretending the model wrote the prefix
    assert all(r["forced_prefix_applied"] is False for r in everything)
    correct = Accuracy()([r["completion"] for r in everything], solution=[r["solution"] for r in everything])
    assert manifest["counts"]["pass_rate"] == round(sum(1 for c in correct if c == 1.0) / 12, 4)
    for row in kept:
        assert row["reward_accuracy"] == 1.0 and row["student_tokens"] <= 400
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]  # no system prompt


def test_distill_with_the_in_process_teacher_and_a_tight_student_budget(tmp_path, easy_problems):
    out = tmp_path / "distill_local"
    result = run_r1f(
        "distill",
        "--problems",
        easy_problems,
        "--n-problems",
        "4",
        "--n",
        "2",
        "--max-new-tokens",
        "96",
        "--max-student-tokens",
        "16",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert counts["kept"] == 0 and counts["samples_drawn"] == 8
    rows = read_rows(out, split="rejected")
    assert all(r["completion"].startswith("<think>\n") and r["forced_prefix_applied"] for r in rows)
    assert sum(counts["dropped_by_reason"].values()) == 8
    for row in rows:  # whatever passed verification was dropped only for the student's budget
        if row["reward_accuracy"] == 1.0 and row["finish_reason"] == "stop":
            assert row["reject_reason"] in ("too_long_for_student", "mixed_language", "code_block")
