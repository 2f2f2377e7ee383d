"""Rejection sampling on the embedded model: pass rates, selection, resume after SIGKILL, bad input."""

import json
import shutil
from collections import defaultdict

from filters.rewards.accuracy import Accuracy
from r1f.io import read_rows
from r1f.store import RunStore
from tests.conftest import GROWN_ARGS, SAMPLED_ARGS, kill_after_chunks, run_r1f

ARGS = SAMPLED_ARGS


def test_pass_rates_equal_correct_over_k_from_the_raw_samples(tmp_path, easy_sampled, many_easy_problems):
    # a copy: the selection below rewrites the dataset other tests read
    out = tmp_path / easy_sampled.name
    shutil.copytree(easy_sampled, out)
    shutil.copytree(RunStore.beside(easy_sampled).root, RunStore.beside(out).root, dirs_exist_ok=True)
    table = {r["problem_id"]: r for r in read_rows(out, split="problems")}
    assert len(table) >= 8 and all(r["k"] == 4 for r in table.values())
    # recompute from the raw samples in the run store, independently of the pipeline's scores
    raw = list(RunStore.beside(out).rows().values())
    assert len(raw) == 4 * len(table)
    correct = Accuracy()([r["completion"] for r in raw], solution=[r["solution"] for r in raw])
    by_problem = defaultdict(list)
    for row, ok in zip(raw, correct):
        by_problem[row["problem_id"]].append(ok)
    for problem_id, oks in by_problem.items():
        assert table[problem_id]["pass_rate"] == sum(1 for ok in oks if ok == 1.0) / 4
        assert table[problem_id]["correct"] == sum(1 for ok in oks if ok == 1.0)
    kept, rejected = read_rows(out), read_rows(out, split="rejected")
    assert len(kept) + len(rejected) == len(raw) and len(kept) >= 2
    for row in kept:
        assert row["reward_accuracy"] == 1.0 and row["finish_reason"] == "stop"
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        assert table[row["problem_id"]]["kept"] >= 1
    assert sum(t["kept"] for t in table.values()) == len(kept)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["pass_rate"] == round(sum(t["pass_rate"] for t in table.values()) / len(table), 4)
    assert (out / "plots" / "pass_rate.png").is_file()

    # best-of and a pass-rate window on the problems drawn, reusing every sample already drawn
    again = run_r1f(
        "sample",
        "--problems",
        many_easy_problems,
        *ARGS,
        "--n-problems",
        str(len(table)),
        "--select",
        "best",
        "--best-m",
        "1",
        "--pass-rate",
        "0.01:0.99",
        "--out",
        str(out),
    )
    assert again.returncode == 0, again.stderr
    assert "mean pass rate" in again.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["generated"] == 0 and manifest["counts"]["reused"] == len(raw)
    best = read_rows(out)
    assert len({r["problem_id"] for r in best}) == len(best)  # at most one per problem
    assert all(0.01 <= table[r["problem_id"]]["pass_rate"] <= 0.99 for r in best)


def test_killed_sample_run_resumes_without_regenerating(tmp_path, easy_problems):
    out = tmp_path / "rs_kill"
    args = [
        "sample",
        "--problems",
        easy_problems,
        "--n-problems",
        "6",
        "--k",
        "2",
        "--max-new-tokens",
        "32",
        "--batch-size",
        "1",
        "--max-active",
        "2",
        "--out",
        str(out),
    ]
    store = RunStore.beside(out)
    kill_after_chunks(args, store.chunks, 2)
    before = {k: dict(v) for k, v in RunStore(store.root).rows().items()}
    assert 0 < len(before) < 12
    resumed = run_r1f(*args)
    assert resumed.returncode == 0, resumed.stderr
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert counts["reused"] == len(before) and counts["generated"] == 12 - len(before)
    after = RunStore(store.root).rows()
    assert all(after[k] == v for k, v in before.items())  # finished problems were not re-generated


def test_sampling_needs_gold_answers(tmp_path):
    path = tmp_path / "nogold.jsonl"
    path.write_text(json.dumps({"problem": "What is 1 + 1?"}) + "\n")
    result = run_r1f("sample", "--problems", str(path), "--out", str(tmp_path / "o"))
    assert result.returncode == 1
    assert "needs a gold answer" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_non_reasoning_mix(tmp_path, easy_sampled, many_easy_problems):
    mix = tmp_path / "chat.jsonl"
    with open(mix, "w") as handle:
        for i in range(50):
            handle.write(json.dumps({"prompt": f"Say hello number {i}", "response": f"Hello {i}!"}) + "\n")
    out = tmp_path / "mixed"
    # the same samples as easy_sampled, reused from a copy of its run store: only the mix is new
    shutil.copytree(RunStore.beside(easy_sampled).root, RunStore.beside(out).root, dirs_exist_ok=True)
    result = run_r1f(
        "sample",
        "--problems",
        many_easy_problems,
        *GROWN_ARGS,
        "--mix",
        str(mix),
        "--mix-ratio",
        "0.5",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    rows = read_rows(out)
    assert json.loads((out / "manifest.json").read_text())["counts"]["generated"] == 0
    mixed = [r for r in rows if r["generator"] == "non-reasoning-mix"]
    assert len(mixed) == len(rows) - len(mixed) >= 1
    assert all(r["messages"][-1]["content"].startswith("Hello") for r in mixed)


def test_pseudo_gold_majority_labels_goldless_problems_better_than_one_sample(tmp_path):
    """Gold-less problems whose answers we know: the majority answer is right more often than a single sample."""
    import random

    from generators.sampling import answer_key

    rng = random.Random(5)
    known = {}
    lines = []
    for a, b in rng.sample([(a, b) for a in range(1, 10) for b in range(1, 10)], 12):
        problem = f"What is {a} + {b}?"
        known[problem] = str(a + b)
        lines.append(json.dumps({"problem": problem}))
    path = tmp_path / "goldless.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "pg"
    args = ["--k", "6", "--max-new-tokens", "96", "--pseudo-gold", "majority", "--pseudo-gold-threshold", "0.34"]
    args += ["--dtype", "float32"]
    result = run_r1f("sample", "--problems", str(path), *args, "--out", str(out))
    assert result.returncode == 0, result.stderr
    kept, rejected = read_rows(out), read_rows(out, split="rejected", allow_empty=True)
    raw = list(RunStore.beside(out).rows().values())
    assert len(raw) == 72
    single = sum(answer_key(r["completion"]) == known[r["problem"]] for r in raw) / len(raw)
    labeled = {r["problem"]: r for r in kept + rejected if r.get("gold_source") == "majority"}
    unlabeled = [r for r in rejected if r.get("reject_reason") == "no_majority"]
    assert labeled, "no problem reached a majority"
    assert all(r["gold_agreement"] >= 0.34 for r in labeled.values())
    assert all(r["gold_agreement"] < 0.34 for r in unlabeled)
    majority = sum(r["solution"] == known[p] for p, r in labeled.items()) / len(labeled)
    print(f"pseudo-gold right on {majority:.0%} of {len(labeled)} labeled problems; one sample right {single:.0%}")
    assert majority > single
    # kept rows were verified against their pseudo-gold, like any gold
    assert kept and all(r["reward_accuracy"] == 1.0 and r["gold_source"] == "majority" for r in kept)
