"""``r1f score`` / ``r1f filter`` end to end, resume after SIGKILL, and the rewards inside a real GRPO step."""

import json

import pytest

from filters.expression import KeepExpression
from filters.registry import parse_rewards
from filters.rules import parse_rules
from r1f.errors import ConfigError
from r1f.io import read_rows
from r1f.store import RunStore
from tests.conftest import kill_after_chunks, run_r1f

ROWS = [
    # id, completion, solution, lang, finish_reason -> expected reason (None = kept)
    (
        "ok",
        "<think>Three times four is twelve, plus two is fourteen.</think><answer>14</answer>",
        "14",
        "en",
        "stop",
        None,
    ),
    (
        "wrong",
        "<think>Three times four is twelve, plus two is fifteen.</think><answer>15</answer>",
        "14",
        "en",
        "stop",
        "keep: accuracy == 1",
    ),
    ("noformat", "The answer is 14.", "14", "en", "stop", "keep: format == 1"),
    ("cut", "<think>Three times four is twelve and then", "14", "en", "length", "truncated"),
    ("empty", "   ", "14", "en", "stop", "empty"),
    ("code", "<think>```python\nprint(14)\n```</think><answer>14</answer>", "14", "en", "stop", "code_block"),
    (
        "mixed",
        "<think>Primero multiplicamos tres por cuatro y obtenemos doce. Then we add two and we get fourteen."
        "</think><answer>14</answer>",
        "14",
        "es",
        "stop",
        "mixed_language",
    ),
    (
        "es_ok",
        "<think>Primero multiplicamos tres por cuatro y obtenemos doce. Luego sumamos dos y obtenemos catorce."
        "</think><answer>14</answer>",
        "14",
        "es",
        "stop",
        None,
    ),
    (
        "nogold",
        "<think>Three times four is twelve.</think><answer>14</answer>",
        "see the figure",
        "en",
        "stop",
        "keep: accuracy == 1",
    ),
]


def _write_rows(path):
    with open(path, "w") as handle:
        for row_id, completion, solution, lang, finish, _ in ROWS:
            row = {
                "id": row_id,
                "problem": "What is 2 + 3 * 4?",
                "completion": completion,
                "solution": solution,
                "lang": lang,
                "finish_reason": finish,
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def test_filter_keeps_drops_with_reasons_and_plots(tmp_path):
    source = tmp_path / "rows.jsonl"
    _write_rows(source)
    out = tmp_path / "filtered"
    result = run_r1f(
        "filter",
        str(source),
        "--out",
        str(out),
        "--rewards",
        "accuracy,format,language_consistency",
        "--keep",
        "accuracy == 1 and format == 1",
        "--rules",
        "empty,truncated,code_block,mixed_language",
    )
    assert result.returncode == 0, result.stderr
    kept = {r["id"] for r in read_rows(out)}
    rejected = {r["id"]: r["reject_reason"] for r in read_rows(out, split="rejected")}
    expected = {row_id: reason for row_id, *_, reason in ROWS}
    assert kept == {k for k, v in expected.items() if v is None}
    assert rejected == {k: v for k, v in expected.items() if v is not None}
    nogold = next(r for r in read_rows(out, split="rejected") if r["id"] == "nogold")
    assert nogold["reward_accuracy"] is None  # unjudgeable, and not kept silently
    for name in ("accuracy", "format", "language_consistency"):
        png = out / "plots" / f"reward_{name}.png"
        assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["kept"] == 2 and manifest["counts"]["dropped_by_reason"]["truncated"] == 1
    assert "kept" in result.stdout and "dropped: code_block" in result.stdout
    # every dataset gets a Hub dataset card whose metadata the Hub can read, and r1f stats shows the same
    import yaml

    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["license"] == "apache-2.0" and {"synthetic", "r1-factory"} <= set(meta["tags"])
    assert meta["size_categories"] == ["n<1K"] and meta["language"] == ["en", "es"]
    assert [f["split"] for f in meta["configs"][0]["data_files"]] == ["train", "rejected"]
    assert "| truncated | 1 |" in card and "plots/reward_accuracy.png" in card and "load_dataset" in card
    shown = run_r1f("stats", str(out))
    assert shown.returncode == 0, shown.stderr
    assert "Dropped by reason" in shown.stdout and "code_block" in shown.stdout and "rejected" in shown.stdout

    scored = tmp_path / "scored"
    result = run_r1f("score", str(source), "--out", str(scored), "--rewards", "accuracy,tag_count")
    assert result.returncode == 0, result.stderr
    rows = read_rows(scored)
    assert len(rows) == len(ROWS) and {"reward_accuracy", "reward_tag_count"} <= set(rows[0])
    assert [r["reward_accuracy"] for r in rows][:3] == [1.0, 0.0, 1.0]


def test_bad_filter_input_is_one_line(tmp_path):
    source = tmp_path / "rows.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "hello"}) + "\n")
    result = run_r1f("filter", str(source), "--out", str(tmp_path / "o"), "--rewards", "format")
    assert result.returncode == 1 and "no 'completion' column" in result.stderr
    result = run_r1f("filter", str(source), "--out", str(tmp_path / "o"), "--rewards", "format,vibes")
    assert result.returncode == 1 and "unknown reward 'vibes'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_keep_expression_is_parsed_not_evaluated():
    keep = KeepExpression("accuracy == 1 and format >= 0.5 and lang in ['en', 'es']")
    assert keep.check({"reward_accuracy": 1.0, "reward_format": 1.0, "lang": "es"}) is None
    assert keep.check({"reward_accuracy": 0.0, "reward_format": 1.0, "lang": "es"}) == "accuracy == 1"
    assert keep.check({"reward_accuracy": None, "reward_format": 1.0, "lang": "es"}) == "accuracy == 1"
    assert keep.check({"reward_accuracy": 1.0, "reward_format": 1.0, "lang": "de"}) == "lang in ['en', 'es']"
    for bad in ("__import__('os').system('true')", "accuracy.real > 0", "[x for x in y]", "accuracy =="):
        with pytest.raises(ConfigError):
            KeepExpression(bad)
    with pytest.raises(ConfigError, match="unknown rule"):
        parse_rules("empty,cosmic_rays")


def test_killed_scoring_run_resumes(tmp_path):
    source = tmp_path / "rows.jsonl"
    with open(source, "w") as handle:
        for i in range(1500):
            handle.write(
                json.dumps(
                    {
                        "id": f"r{i}",
                        # LaTeX answers go through the verifier workers and langdetect reads every row,
                        # so each batch takes real time and the kill lands mid-run
                        "completion": f"<think>We add one to {i} and get the next number.</think>"
                        f"<answer>$\\frac{{{2 * (i + 1)}}}{{2}}$</answer>",
                        "lang": "en",
                        "solution": str(i + 1 if i % 3 else i),
                    }
                )
                + "\n"
            )
    out = tmp_path / "scored"
    store = RunStore(RunStore.beside(out).root / "scores")  # the score cache inside the run store
    args = ["score", str(source), "--out", str(out), "--rewards", "accuracy,format,language_consistency"]
    kill_after_chunks(args, store.chunks, 1, timeout=120)
    done_at_kill = len(RunStore(store.root).rows())
    assert 0 < done_at_kill < 1500
    assert not out.exists()
    resumed = run_r1f(*args)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["reused"] == done_at_kill
    assert manifest["counts"]["scored_now"] == 1500 - done_at_kill
    rows = read_rows(out)
    assert [r["reward_accuracy"] for r in rows] == [0.0 if i % 3 == 0 else 1.0 for i in range(1500)]


def test_rewards_in_a_real_grpo_step(tmp_path, model_dir):
    """Our rewards as TRL reward_funcs: one GRPO step on the embedded model, tiny settings."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from generators.problems import make_problems
    from generators.prompts import build_prompt

    problems = make_problems(2, seed=9, languages=["en", "es"])
    data = Dataset.from_list(
        [
            {"prompt": build_prompt("r1-zero", p["problem"]), "solution": p["solution"], "lang": p["lang"]}
            for p in problems
        ]
    )
    named = parse_rewards("accuracy,format,tag_count,language_consistency,cosine", "1,0.5,0.5,0.5,0.2")
    config = GRPOConfig(
        output_dir=str(tmp_path / "grpo"),
        use_cpu=True,
        bf16=False,
        max_steps=1,
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=12,
        learning_rate=1e-6,
        logging_steps=1,
        report_to=[],
        reward_weights=[r.weight for r in named],
        save_strategy="no",
        seed=0,
    )
    trainer = GRPOTrainer(model=model_dir, reward_funcs=[r.fn for r in named], args=config, train_dataset=data)
    trainer.train()
    logged = {k: v for entry in trainer.state.log_history for k, v in entry.items()}
    for r in named:
        assert f"rewards/{r.fn.__name__}/mean" in logged, sorted(logged)
