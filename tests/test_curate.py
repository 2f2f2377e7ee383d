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
    assert hits[len(train)] == {"sets": ["heldout"], "items": [held[3]["id"]], "rules": ["ngram"], "overlap": [1.0]}
    assert hits[len(train) + 1]["items"] == [held[10]["id"]]
    assert hits[len(train) + 2]["items"] == [held[0]["id"]]
    # the columnar rule is the per-row rule, row for row
    only_ngrams = Decontaminator([load_eval_set("heldout")], masked=False).check(texts)
    baseline = python_baseline(texts, [load_eval_set("heldout")])
    assert [bool(h) for h in only_ngrams] == [bool(b) for b in baseline]


def _renumber(text: str, which: str) -> str:
    import re

    numbers = list(re.finditer(r"\d+", text))
    if which == "one":
        m = numbers[len(numbers) // 2]
        return text[: m.start()] + str(int(m.group()) + 3) + text[m.end() :]
    return re.sub(r"\d+", lambda m: str(int(m.group()) + 7), text)


def test_digits_masked_rule_catches_other_numbers_that_ngrams_miss():
    held = heldout_problems()
    aime = EvalSet("aime", ["What is 2 + 9 * 9?", "Compute 3 * 4 - 7."], ["q1", "q2"])
    english = [p for p in held if p["lang"] == "en"]
    planted = [_renumber(p["problem"], which) for p in english for which in ("one", "all")]
    planted.append("what is 5 + 1 * 3?")  # a short problem, other numbers
    ngram_only = Decontaminator([load_eval_set("heldout"), aime], masked=False).check(planted)
    both = Decontaminator([load_eval_set("heldout"), aime]).check(planted)
    missed = [i for i, hit in enumerate(ngram_only) if hit is None]
    assert len(missed) >= 10  # copies with other numbers the 8-gram rule lets through
    assert all(both[i] is not None for i in range(len(planted)))
    assert all(both[i]["rules"] == ["digits-masked"] for i in missed)
    assert both[-1] == {"sets": ["aime (digits-masked)"], "items": ["q1"], "rules": ["digits-masked"], "overlap": [1.0]}
    reference = python_baseline(planted, [load_eval_set("heldout"), aime], masked=True)
    assert [bool(r) for r in reference] == [bool(h) for h in both]
    # a different problem that merely shares the formula shape is not a copy when words differ
    clean = Decontaminator([aime]).check(["The answer to 2 + 9 * 9 in a story about 4 trains and 7 apples."])
    assert clean == [None]


def test_curate_reports_each_rule_and_can_turn_the_masked_one_off(tmp_path):
    held = heldout_problems()
    rows = _rows(40)
    copy = {**rows[0], "id": "copy", "problem": _renumber(held[120]["problem"], "all")}
    write_dataset(tmp_path / "in", {"train": [*rows, copy]}, {"kind": "sampled"})
    config = CurateConfig(inputs=[str(tmp_path / "in")], out=str(tmp_path / "out"), dedup_on=["problem"])
    counts = run_curate(config)
    assert counts["contaminated_by_eval_set"] == {"heldout (digits-masked)": 1}
    rejected = read_rows(tmp_path / "out", split="rejected")
    assert [r["id"] for r in rejected if r["reject_reason"] == "contaminated"] == ["copy"]
    assert read_manifest(tmp_path / "out")["parameters"]["digits_masked"] is True
    config.digits_masked, config.out = False, str(tmp_path / "off")
    assert run_curate(config)["contaminated_by_eval_set"] == {}


def test_paraphrase_judge_plumbing_with_the_embedded_model(tmp_path):
    """The 135M model is a poor judge; this checks retrieval, the prompt round trip and the marks, not its taste."""
    (tmp_path / "eval.jsonl").write_text(
        json.dumps({"id": "e1", "problem": "A train travels at 60 km/h for 3 hours. How far does it go in km?"})
        + "\n"
        + json.dumps({"id": "e2", "problem": "Anna buys 4 apples at 3 dollars each. How much does she pay?"})
        + "\n"
    )
    (tmp_path / "in.jsonl").write_text(
        json.dumps({"problem": "For 3 hours a train goes at 60 km/h. How many km does it travel?", "solution": "180"})
        + "\n"
        + json.dumps({"problem": "What is 17 * 23?", "solution": "391"})
        + "\n"
    )
    config = CurateConfig(
        inputs=[str(tmp_path / "in.jsonl")],
        out=str(tmp_path / "out"),
        eval_sets=[str(tmp_path / "eval.jsonl")],
        judge="smollm2-135m",
        contaminated="flag",
        dedup_on=[],
    )
    counts = run_curate(config)
    tally = counts["paraphrase_judge"]
    assert tally["candidates"] == 1 == tally["same"] + tally["different"] + tally["unclear"]
    rows = {r["solution"]: r for r in read_rows(tmp_path / "out")}
    judged = rows["180"]["paraphrase_judged"]
    assert judged["item"] == "e1" and judged["verdict"] in ("same", "different", "unclear") and judged["answer"]
    assert rows["391"]["paraphrase_judged"] is None
    assert (rows["180"]["contaminated_by"] == [f"{tmp_path / 'eval.jsonl'} (paraphrase)"]) == (
        judged["verdict"] == "same"
    )
    assert read_manifest(tmp_path / "out")["parameters"]["judge"]["model"] == "smollm2-135m"


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
    assert {k: hits[0][k] for k in ("sets", "items", "rules")} == {
        "sets": ["aime"],
        "items": ["a1"],
        "rules": ["ngram"],
    }
    assert {k: hits[1][k] for k in ("sets", "items", "rules")} == {
        "sets": ["other"],
        "items": ["o1"],
        "rules": ["ngram"],
    }
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
    mixed_chat, mixed_reasoning = (counts["mixed_from"][str(tmp_path / k)] for k in ("chat.jsonl", "reasoning"))
    assert 0 <= mixed_reasoning - 3 * mixed_chat < 3  # 3:1, rounded down on the scarcer side
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
    # one line per evaluation set, zero included; sets named without the local path
    assert "contaminated: eval.jsonl" in result.stdout and "duplicate_problem" in result.stdout
    assert "contaminated: heldout" in result.stdout
    import datasets

    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf-cache"))
    assert set(loaded) == {"train", "rejected"}
    manifest = read_manifest(out)
    assert loaded["train"].num_rows == manifest["counts"]["train"] == len(rows) - manifest["counts"]["dropped"] + 5
    leak = [r for r in loaded["rejected"] if r["problem"] == rows[9]["problem"]]
    assert leak and leak[0]["contaminated_by"] == ["eval.jsonl"] and leak[0]["contaminated_items"] == ["row 1"]
    assert manifest["counts"]["contaminated_per_eval_set"] == {"heldout": 0, "eval.jsonl": 1}
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


def test_a_curated_dataset_can_be_curated_again_and_mixed(tmp_path):
    """Rows of a curated input keep their first mix_source, and still count as rows of that input in this mix."""
    write_dataset(tmp_path / "a", {"train": _rows(20, seed=1)}, {"kind": "sampled"})
    write_dataset(tmp_path / "b", {"train": _rows(20, seed=2)}, {"kind": "sampled"})
    first = CurateConfig(inputs=[str(tmp_path / "a")], out=str(tmp_path / "a-clean"), dedup_on=[])
    run_curate(first)
    again = CurateConfig(
        inputs=[str(tmp_path / "a-clean"), str(tmp_path / "b")], weights=[1, 1], out=str(tmp_path / "mix"), dedup_on=[]
    )
    counts = run_curate(again)
    assert counts["mixed_from"] == {str(tmp_path / "a-clean"): 20, str(tmp_path / "b"): 20}
    rows = read_rows(tmp_path / "mix")
    assert {r["mix_source"] for r in rows} == {"a", "b"}  # published as names, never the local path
    assert not any(key.startswith("_curate") for r in rows for key in r)
