"""Dataset hygiene on real factory data: decontamination, dedup, mixing, splits, and the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation.curate import CurateConfig, run_curate
from curation.decontaminate import Decontaminator, EvalSet, load_eval_set, python_baseline
from curation.dedup import dedup
from curation.mix import mix, mix_counts, train_test_split
from generators.problems import heldout_problems, make_problems
from r1f.errors import ConfigError
from r1f.io import read_manifest, read_rows, write_dataset
from tests.conftest import run_r1f

REASONING = (
    "<think>First I read the problem and note the numbers. Then I multiply the quantity by the unit price, "
    "check the multiplication by adding the price repeatedly, and confirm the total once more.</think>"
    "<answer>{answer}</answer>"
)


def _rows(n: int, seed: int = 1) -> list[dict]:
    rows = []
    for i, p in enumerate(make_problems(n, seed=seed)):
        rows.append(
            {
                **p,
                "completion": f"Problem {i} ({p['family']}): " + REASONING.format(answer=p["solution"]),
                "reward_accuracy": 1.0,
                "reward_format": 1.0,
            }
        )
    return rows


def test_decontamination_flags_copies_and_names_the_eval_item():
    held = heldout_problems()
    train = [r["problem"] for r in make_problems(400, seed=2)]
    planted = {
        "exact": held[3]["problem"],
        "case_space": "  " + held[10]["problem"].upper().replace(" ", "   \n"),
        "short": held[0]["problem"],  # shorter than 8 words: open-r1 would never flag it
    }
    texts = train + list(planted.values())
    hits = Decontaminator([load_eval_set("heldout")]).check(texts)
    assert hits[len(train)] == {"sets": ["heldout"], "items": [held[3]["id"]]}
    assert hits[len(train) + 1]["items"] == [held[10]["id"]]
    assert hits[len(train) + 2]["items"] == [held[0]["id"]]
    # the columnar rule is the per-row rule, row for row
    baseline = python_baseline(texts, [load_eval_set("heldout")])
    assert [bool(h) for h in hits] == [bool(b) for b in baseline]


def test_decontamination_reports_each_eval_set_and_respects_n():
    question = "find the number of ordered pairs of positive integers whose product is one million"
    aime = EvalSet("aime", [question], ["a1"])
    other = EvalSet("other", ["the quick brown fox jumps over the lazy dog near the river bank"], ["o1"])
    texts = [
        "Please FIND the number of ordered pairs of positive integers whose product is one million, thanks",
        "A quick brown fox jumps over the lazy dog near the river bank today",
        "A completely unrelated question about trains and apples and oranges today",
    ]
    hits = Decontaminator([aime, other]).check(texts)
    assert hits[0] == {"sets": ["aime"], "items": ["a1"]}
    assert hits[1] == {"sets": ["other"], "items": ["o1"]}
    assert hits[2] is None
    # with n = 13 the second text (a 12-word overlap) no longer matches
    assert Decontaminator([aime, other], n=13).check(texts)[1] is None


def test_exact_dedup_keeps_the_best_scored_row():
    rows = _rows(30)
    worse = {**rows[4], "id": "copy-worse", "problem": rows[4]["problem"].upper() + "  ", "reward_accuracy": 0.0}
    better = {**rows[5], "id": "copy-better", "problem": " " + rows[5]["problem"], "reward_format": 2.0}
    result = dedup(rows + [worse, better], targets=["problem"], near=False)
    kept = {r["id"] for r in result.kept}
    assert "copy-worse" not in kept and rows[4]["id"] in kept
    assert "copy-better" in kept and rows[5]["id"] not in kept
    dropped = {r["id"]: r for r in result.dropped}
    assert dropped["copy-worse"]["duplicate_of"] == rows[4]["id"]
    assert dropped[rows[5]["id"]]["reject_reason"] == "duplicate_problem"
    assert result.counts == {"duplicate_problem": 2}


def test_near_duplicate_completions_cluster_transitively():
    base = " ".join(f"In step {i} we add {3 * i} and {5 * i} to get {8 * i}, then check it." for i in range(12))
    one = base.replace("step 2 ", "stage 2 ")
    variants = [base, one, one.replace("step 9 ", "stage 9 ")]
    rows = [
        {"id": f"v{i}", "problem": f"problem {i}", "completion": text, "reward_accuracy": float(i == 1)}
        for i, text in enumerate(variants)
    ]
    distinct = {"id": "other", "problem": "p", "completion": "a short unrelated answer about fractions and pies"}
    result = dedup(rows + [distinct], targets=["completion"], threshold=0.8)
    assert sorted(r["id"] for r in result.kept) == ["other", "v1"]
    assert {r["reject_reason"] for r in result.dropped} == {"near_duplicate_completion"}
    assert {r["duplicate_of"] for r in result.dropped} == {"v1"}


def test_mix_ratio_seed_and_grouped_split():
    assert mix_counts([1000, 200], [3, 1]) == [600, 200]
    assert mix_counts([1000, 200], [3, 1], total=401) == [301, 100]
    with pytest.raises(ConfigError, match="dataset 2, which has 200"):
        mix_counts([1000, 200], [1, 1], total=1000)
    a = [{"problem": f"a{i}", "k": "a"} for i in range(90)]
    b = [{"problem": f"b{i}", "k": "b"} for i in range(30)]
    mixed = mix([a, b], [2, 1], seed=7)
    assert mixed == mix([a, b], [2, 1], seed=7) and mixed != mix([a, b], [2, 1], seed=8)
    assert sum(r["k"] == "a" for r in mixed) == 60 and sum(r["k"] == "b" for r in mixed) == 30
    rows = [{"problem": f"p{i // 4}", "n": i} for i in range(200)]  # four completions per problem
    train, test = train_test_split(rows, 0.25, seed=1)
    assert len(test) == 52  # whole problems of four rows until a quarter is reached
    assert not {r["problem"] for r in train} & {r["problem"] for r in test}
    assert len(train) + len(test) == 200


def test_run_curate_on_factory_datasets(tmp_path):
    held = heldout_problems()
    reasoning = _rows(120)
    contaminated = {**reasoning[0], "id": "leak", "problem": held[7]["problem"], "reward_accuracy": 1.0}
    duplicate = {**reasoning[1], "id": "dup", "reward_accuracy": 0.0}
    write_dataset(tmp_path / "reasoning", {"train": [*reasoning, contaminated, duplicate]}, {"kind": "sampled"})
    chat = [
        {
            "id": f"c{i}",
            "problem": f"Write a friendly greeting number {i} for a colleague",
            "completion": f"Hi {i}!",
            "lang": "en",
        }
        for i in range(40)
    ]
    (tmp_path / "chat.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chat))
    config = CurateConfig(
        inputs=[str(tmp_path / "reasoning"), str(tmp_path / "chat.jsonl")],
        out=str(tmp_path / "curated"),
        weights=[3, 1],
        test_size=0.1,
        seed=3,
    )
    counts = run_curate(config)
    assert counts["dropped_by_reason"]["duplicate_problem"] >= 1
    assert counts["contaminated_by_eval_set"]["heldout"] >= 1
    assert counts["mixed_from"][str(tmp_path / "chat.jsonl")] * 3 == counts["mixed_from"][str(tmp_path / "reasoning")]
    train = read_rows(tmp_path / "curated", split="train")
    test = read_rows(tmp_path / "curated", split="test")
    rejected = read_rows(tmp_path / "curated", split="rejected")
    ids = {r["id"] for r in train + test}
    assert "leak" not in ids and "dup" not in ids
    leak = next(r for r in rejected if r["id"] == "leak")
    assert leak["reject_reason"] == "contaminated" and leak["contaminated_by"] == ["heldout"]
    assert leak["contaminated_items"] == [held[7]["id"]]
    assert next(r for r in rejected if r["id"] == "dup")["duplicate_of"] == reasoning[1]["id"]
    assert len(train) + len(test) == counts["kept"]
    card = (tmp_path / "curated" / "README.md").read_text()
    assert "| rejected |" in card and "contaminated" in card and "curated" in card
    assert "rows matching evaluation set `heldout`" in card and "mixed in from" in card
    assert (tmp_path / "curated" / "plots" / "languages.png").stat().st_size > 1000
    manifest = read_manifest(tmp_path / "curated")
    assert manifest["parameters"]["decontaminate_against"] == ["heldout"]

    # flag mode keeps the leak (one input, no weights: every surviving row) and says what it hits
    config.contaminated, config.out, config.weights = "flag", str(tmp_path / "flagged"), None
    config.inputs, config.dedup_on = config.inputs[:1], ["problem"]  # the test completions are near-identical
    counts = run_curate(config)
    rows = read_rows(tmp_path / "flagged", split="train") + read_rows(tmp_path / "flagged", split="test")
    assert len(rows) == counts["kept"] == len(reasoning) + 1  # the leak stays, the duplicate goes
    leak = next(r for r in rows if r["id"] == "leak")
    assert leak["contaminated_by"] == ["heldout"] and leak["contaminated_items"] == [held[7]["id"]]
    assert sum(bool(r["contaminated_by"]) for r in rows) == counts["contaminated_by_eval_set"]["heldout"]


def test_curate_cli_end_to_end_and_bad_options(tmp_path):
    rows = _rows(60)
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows + rows[:5]))
    eval_file = tmp_path / "eval.jsonl"
    eval_file.write_text(json.dumps({"question": rows[9]["problem"]}) + "\n")
    out = tmp_path / "out"
    result = run_r1f("curate", str(src), "--out", str(out), "--eval-set", "heldout", "--eval-set", str(eval_file))
    assert result.returncode == 0, result.stderr
    assert f"contaminated ({eval_file})" in result.stdout and "duplicate_problem" in result.stdout
    import datasets

    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf-cache"))
    assert set(loaded) == {"train", "rejected"}
    manifest = read_manifest(out)
    assert loaded["train"].num_rows == manifest["counts"]["train"] == len(rows) - manifest["counts"]["dropped"] + 5
    leak = [r for r in loaded["rejected"] if r["problem"] == rows[9]["problem"]]
    assert leak and str(eval_file) in leak[0]["contaminated_by"]
    before = sorted(Path(out).rglob("*"))
    for args, needle in [
        (["--weights", "1,1"], "--weights has 2 values for 1 datasets"),
        (["--contaminated", "keep"], "--contaminated 'keep'"),
        (["--eval-set", str(tmp_path / "missing.jsonl")], "missing.jsonl: no such file"),
        (["--dedup-on", "answers"], "--dedup-on 'answers'"),
    ]:
        bad = run_r1f("curate", str(src), "--out", str(out), *args)
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and needle in bad.stderr, bad.stderr
    bare = tmp_path / "bare.jsonl"
    bare.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    bad = run_r1f("curate", str(bare), "--out", str(out))
    assert bad.returncode == 1 and "no row has problem text" in bad.stderr and "--dedup-on" in bad.stderr
    assert sorted(Path(out).rglob("*")) == before
