"""Named public datasets, read offline from local copies: presets, sniffing unknown files, problems built from
several columns, ``r1f problems`` importing and filtering, and the card naming the sources and their licenses.

The fixtures are rows written here in the formats of GSM8K, MATH-500 and SVAMP (not copied from them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generators.datasets import PRESETS, sniff
from generators.sources import load_problems
from r1f.errors import DataError
from r1f.io import read_manifest, read_rows
from tests.conftest import ROOT

GSM8K_ROWS = [
    {
        "question": "A baker makes 14 loaves a day and sells 9 of them. How many loaves are left after 3 days?",
        "answer": "Each day 14 - 9 = <<14-9=5>>5 are left.\nIn 3 days that is 5 * 3 = <<5*3=15>>15 loaves.\n#### 15",
        "idx": 0,
    },
    {
        "question": "Tom saves $1,200 a month. How much has he saved after a year?",
        "answer": "He saves 1,200 * 12 = <<1200*12=14400>>14,400 dollars.\n#### 14,400",
        "idx": 1,
    },
]
MATH_ROWS = [
    {
        "problem": "What is $\\frac{1}{2} + \\frac{1}{3}$?",
        "solution": "Over 6 this is $\\frac{3}{6}+\\frac{2}{6} = \\boxed{\\frac{5}{6}}$.",
        "answer": "\\frac{5}{6}",
        "subject": "Prealgebra",
        "level": 1,
        "unique_id": "test/prealgebra/1.json",
    },
    {
        "problem": "Solve $x^2 = 9$ for $x > 0$, and give $(x, x^2)$.",
        "solution": "So $x = 3$ and the pair is $\\boxed{(3, 9)}$.",
        "answer": "(3, 9)",
        "subject": "Algebra",
        "level": 3,
        "unique_id": "test/algebra/2.json",
    },
    {
        "problem": "Find the interval where $2 \\le x \\le 7$.",
        "solution": "It is $\\boxed{[2,7]}$.",
        "answer": "[2,7]",
        "subject": "Algebra",
        "level": 2,
        "unique_id": "test/algebra/3.json",
    },
]
SVAMP_ROWS = [
    {
        "ID": "chal-1",
        "Body": "Ann had 8 pens. She gave 3 to Ben.",
        "Question": "How many pens does Ann have now?",
        "Answer": 5.0,
    },
    {"ID": "chal-2", "Body": "A box holds 6 eggs.", "Question": "How many eggs are in 4 boxes?", "Answer": 24.0},
]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_preset_reads_a_local_copy_given_as_name_equals_path(tmp_path, capsys):
    copy = _jsonl(tmp_path / "gsm8k-test-copy.jsonl", GSM8K_ROWS)
    rows = load_problems(f"gsm8k={copy}", split="test")
    assert [r["problem"] for r in rows] == [r["question"] for r in GSM8K_ROWS]
    assert [r["solution"] for r in rows] == ["15", "14400"]  # after ####, thousands separator gone
    assert [r["id"] for r in rows] == ["gsm8k/0", "gsm8k/1"]  # the dataset's own id
    assert rows[0]["worked"].startswith("Each day 14 - 9") and rows[0]["source"] == "gsm8k"


def test_a_preset_finds_its_copy_in_the_cache_directory_with_its_labels(tmp_path, monkeypatch):
    monkeypatch.setenv("R1F_DATA_DIR", str(tmp_path))
    _jsonl(tmp_path / "math500_test.jsonl", MATH_ROWS)
    rows = load_problems("math500")
    assert [r["solution"] for r in rows] == ["\\frac{5}{6}", "(3, 9)", "[2,7]"]  # the LaTeX answer column
    assert [(r["level"], r["subject"]) for r in rows] == [(1, "Prealgebra"), (3, "Algebra"), (2, "Algebra")]
    assert rows[1]["id"] == "math500/test/algebra/2.json"


def test_without_a_copy_or_the_hub_a_preset_says_in_one_line_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("R1F_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError) as err:
        load_problems("aime24")
    message = str(err.value)
    assert "\n" not in message and "aime24=PATH" in message and "HuggingFaceH4/aime_2024" in message
    assert str(tmp_path) in message and "aime24_train.jsonl" in message


def test_every_preset_names_its_source_license_and_citation():
    for name, preset in PRESETS.items():
        assert preset.hub_id and preset.problem and preset.gold and preset.license and preset.citation, name
    assert {"gsm8k", "math500", "math", "numina", "openr1-math", "aime24", "aime25", "amc23"} <= set(PRESETS)


def test_unknown_files_are_sniffed_and_the_choice_printed(tmp_path, capsys):
    gsm = load_problems(str(_jsonl(tmp_path / "mystery.jsonl", GSM8K_ROWS)))
    assert [r["solution"] for r in gsm] == ["15", "14400"]
    assert "mystery.jsonl: read as GSM8K-like" in capsys.readouterr().err
    # MATH-like without an answer column: the gold is the last \boxed{} of the solution, not the whole solution
    worked = [{k: v for k, v in r.items() if k != "answer"} for r in MATH_ROWS]
    math = load_problems(str(_jsonl(tmp_path / "worked.jsonl", worked)))
    assert [r["solution"] for r in math] == ["\\frac{5}{6}", "(3, 9)", "[2,7]"]
    assert "read as MATH-like" in capsys.readouterr().err
    story = load_problems(str(_jsonl(tmp_path / "story.jsonl", SVAMP_ROWS)))
    assert story[0]["problem"] == "Ann had 8 pens. She gave 3 to Ben. How many pens does Ann have now?"
    assert [r["solution"] for r in story] == ["5", "24"]
    assert sniff([{"problem": "p", "solution": "1"}]) is None  # the factory's own layout needs no guess


def test_a_problem_can_be_built_from_several_columns(tmp_path):
    path = _jsonl(tmp_path / "svamp.jsonl", SVAMP_ROWS)
    rows = load_problems(str(path), problem_column="Body,Question", solution_column="Answer")
    assert rows[1]["problem"] == "A box holds 6 eggs. How many eggs are in 4 boxes?"
    with pytest.raises(DataError, match="no column 'Story'"):
        load_problems(str(path), problem_column="Story,Question", solution_column="Answer")


def _r1f(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "r1f", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_r1f_problems_imports_filters_and_writes_a_named_dataset_with_its_license(tmp_path):
    copy = _jsonl(tmp_path / "m.jsonl", MATH_ROWS)
    out = tmp_path / "algebra"
    result = _r1f(
        "problems", "--source", f"math500={copy}", "--subjects", "Algebra", "--levels", "2,3", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    rows = read_rows(out)
    assert [r["id"] for r in rows] == ["math500/test/algebra/2.json", "math500/test/algebra/3.json"]
    manifest = read_manifest(out)
    assert manifest["sources"][0]["hub_id"] == "HuggingFaceH4/MATH-500" and manifest["sources"][0]["license"] == "mit"
    card = (out / "README.md").read_text()
    assert yaml.safe_load(card.split("---")[1])["license"] == "mit"
    assert "## Source datasets" in card and "Hendrycks" in card
    assert str(tmp_path) not in card + json.dumps(manifest)  # the local path stays local
    wrong = _r1f("problems", "--source", "builtin", "--levels", "2", "--out", str(tmp_path / "x"))
    assert wrong.returncode == 1 and "no level label" in wrong.stderr


# -- decontamination on real-shaped data ------------------------------------------------------------------

from curation.curate import CurateConfig, run_curate  # noqa: E402
from curation.decontaminate import Decontaminator, EvalSet, load_eval_set  # noqa: E402
from r1f.io import write_dataset  # noqa: E402

GSM_EVAL = EvalSet(
    "gsm8k",
    [
        "Mia has $80. She buys 3 books for $12 each and a lamp for $20. How much money will she have left over after "
        "she buys them?",
        "Leo works 6 hours a day for 5 days a week at $15 an hour. How much does he earn in 4 weeks?",
        "What is 7 + 8 * 2?",
    ],
    ["101", "102", "103"],
)


def test_stock_phrasing_is_not_a_copy_but_a_copy_with_other_numbers_is():
    texts = [
        # shares only the stock phrase with item 101 (open-r1's any-8-gram rule flags it)
        "A farmer sells 14 pumpkins at a market stall for $3 each and pays $9 rent for the stall. How much money will "
        "she have left over after she buys seeds for $5?",
        # shares only a masked stock phrase with item 102 ("0 hours a day for 0 days a week")
        "A nurse sleeps 7 hours a day for 6 days a week and naps on Sundays. How many hours of sleep is that?",
        # item 102 with other numbers, other case and punctuation
        "LEO works 8 hours a day for 4 days a week at $11 an hour; how much does he earn in 3 weeks",
        # item 103 with other numbers
        "What is 5 + 9 * 4?",
    ]
    hits = Decontaminator([GSM_EVAL]).check(texts)
    assert hits[0] is None and hits[1] is None
    assert hits[2]["sets"] == ["gsm8k (digits-masked)"] and hits[2]["items"] == ["102"]
    assert hits[3]["items"] == ["103"]
    any_gram = Decontaminator([GSM_EVAL], overlap=0).check(texts)  # open-r1's rule, kept as --overlap 0
    assert any_gram[0] is not None


def test_a_harness_prefix_on_every_eval_item_does_not_hide_copies():
    prefixed = EvalSet(
        "math500", ["Return your final response within \\boxed{}. " + t for t in GSM_EVAL.texts], GSM_EVAL.ids
    )
    hits = Decontaminator([prefixed]).check(
        [
            "What is 4 + 1 * 6?",
            "Leo works 2 hours a day for 3 days a week at $9 an hour. How much does he earn in 5 weeks?",
        ]
    )
    assert [h["items"] for h in hits] == [["103"], ["102"]]


def test_eval_sets_add_to_the_heldout_split_and_hits_carry_the_benchmark_ids(tmp_path, monkeypatch):
    monkeypatch.setenv("R1F_DATA_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    _jsonl(tmp_path / "cache" / "math500_test.jsonl", MATH_ROWS)
    _jsonl(tmp_path / "cache" / "gsm8k_test.jsonl", GSM8K_ROWS)
    assert load_eval_set("gsm8k").ids == ["0", "1"] and load_eval_set("math500").ids[0] == "test/prealgebra/1.json"
    rows = [
        {"id": "a", "problem": MATH_ROWS[1]["problem"], "solution": "(3, 9)"},
        {"id": "b", "problem": GSM8K_ROWS[0]["question"].replace("14", "16"), "solution": "21"},
        {
            "id": "c",
            "problem": "A frog jumps 3 times a minute. How many jumps does it make in 7 minutes?",
            "solution": "21",
        },
    ]
    write_dataset(tmp_path / "in", {"train": rows}, {"kind": "sampled"})
    config = CurateConfig(
        inputs=[str(tmp_path / "in")], out=str(tmp_path / "out"), eval_sets=["math500,gsm8k"], dedup_on=[]
    )
    assert config.against == ["heldout", "math500", "gsm8k"]
    counts = run_curate(config)
    assert counts["contaminated_per_eval_set"] == {"heldout": 0, "math500": 1, "gsm8k": 1}
    rejected = {r["id"]: r for r in read_rows(tmp_path / "out", split="rejected")}
    assert rejected["a"]["contaminated_items"] == ["test/algebra/2.json"]
    assert rejected["b"]["contaminated_by"] == ["gsm8k"] and rejected["b"]["contaminated_items"] == ["0"]
    assert [r["id"] for r in read_rows(tmp_path / "out")] == ["c"]


def test_when_decontamination_removes_everything_the_error_counts_why(tmp_path):
    held = load_eval_set("heldout")
    write_dataset(
        tmp_path / "in", {"train": [{"id": f"h{i}", "problem": held.texts[i]} for i in range(3)]}, {"kind": "x"}
    )
    with pytest.raises(DataError) as err:
        run_curate(CurateConfig(inputs=[str(tmp_path / "in")], out=str(tmp_path / "out"), dedup_on=[]))
    message = str(err.value)
    assert "(3 rows)" in message and "contaminated 3" in message and "heldout 3" in message
    assert not (tmp_path / "out").exists()


def test_the_paraphrase_judge_works_through_an_openai_server(served, model_dir, tmp_path):
    """A real model behind --judge-engine openai on loopback: retrieval, the request, the verdict marks."""
    eval_file = _jsonl(
        tmp_path / "eval.jsonl",
        [{"id": "e1", "problem": "A train travels at 60 km/h for 3 hours. How far does it go in km?"}],
    )
    src = _jsonl(
        tmp_path / "in.jsonl",
        [{"problem": "For 3 hours a train goes at 60 km/h. How many km does it travel?", "solution": "180"}],
    )
    config = CurateConfig(
        inputs=[str(src)],
        out=str(tmp_path / "out"),
        eval_sets=[str(eval_file)],
        heldout=False,
        judge=model_dir,
        judge_engine="openai",
        judge_options={"base_url": served, "timeout": 120, "max_retries": 1},
        contaminated="flag",
        dedup_on=[],
    )
    counts = run_curate(config)
    assert counts["paraphrase_judge"]["candidates"] == 1
    judged = read_rows(tmp_path / "out")[0]["paraphrase_judged"]
    assert judged["item"] == "e1" and judged["verdict"] in ("same", "different", "unclear") and judged["answer"]


# -- standard benchmarks --------------------------------------------------------------------------------


def test_eval_on_benchmarks_writes_tables_per_benchmark_with_the_probe(tmp_path, model_dir):
    cache = tmp_path / "cache"
    cache.mkdir()
    _jsonl(cache / "gsm8k_test.jsonl", GSM8K_ROWS)
    _jsonl(cache / "math500_test.jsonl", MATH_ROWS)
    out = tmp_path / "eval"
    env = {"R1F_DATA_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    args = ["eval", model_dir, "--benchmark", "gsm8k,math500", "--k", "2", "--max-new-tokens", "12"]
    result = _r1f(*args, "--memorisation", "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((out / "eval.json").read_text())
    assert list(data["benchmarks"]) == ["gsm8k", "math500"] and data["n_problems"] == 5
    math = data["benchmarks"]["math500"]
    assert math["template"] == "benchmark:math500" and math["n_problems"] == 3
    for key in ("pass@1", "pass@2", "pass@1 (mean of 2)", "maj@2"):
        assert 0.0 <= math[key] <= 1.0 and key in math["intervals"], key
    assert set(math["pass@1 by level"]) == {"1", "2", "3"} and set(math["pass@1 by subject"]) == {
        "Algebra",
        "Prealgebra",
    }
    assert math["memorisation"]["n"] == 3 and 0.0 <= math["memorisation"]["rouge_l"]["value"] <= 1.0
    # the benchmark's usual prompt: the problem, then the instruction
    greedy = read_rows(out / "math500" / "greedy")
    assert greedy[0]["prompt"][-1]["content"].endswith("put your final answer within \\boxed{}.")
    report = (out / "eval.md").read_text()
    assert (
        "## gsm8k (2 problems" in report
        and "pass@1 (greedy) by subject" in report
        and "## Memorisation probe" in report
    )
    # a missing benchmark copy fails in one line before the model loads
    missing = _r1f("eval", model_dir, "--benchmark", "aime24", "--out", str(tmp_path / "e2"), env=env)
    assert missing.returncode == 1 and "aime24=PATH" in missing.stderr and missing.stderr.strip().count("\n") == 0


def test_majority_vote_and_rouge():
    from training.evaluate import majority, vote_key
    from training.probe import rouge_l, states_gold

    assert vote_key("so the answer is \\boxed{ 12 }") == vote_key("<answer>12</answer>") == "12"
    assert majority([("12", True), ("7", False), ("12", True)]) and not majority(
        [("7", False), ("7", False), ("12", True)]
    )
    assert not majority([("", True)])  # no extracted answer is no vote
    assert 0 < rouge_l("she sells the eggs at the market", "she sells the rest at the market") < 1
    assert states_gold("so it is 18 dollars", "18") and not states_gold("180 dollars", "18")


# -- cold starts from real worked solutions ----------------------------------------------------------------


def test_cold_start_from_a_datasets_own_solutions(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    _jsonl(cache / "gsm8k_train.jsonl", GSM8K_ROWS)
    wrong_box = {**MATH_ROWS[2], "solution": "It is $\\boxed{[2,8]}$.", "unique_id": "test/algebra/9.json"}
    _jsonl(cache / "math500_test.jsonl", [*MATH_ROWS[:2], wrong_box])
    env = {"R1F_DATA_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    gsm = _r1f(
        "cold-start",
        "--method",
        "solutions",
        "--problems",
        "gsm8k",
        "--format",
        "think",
        "--out",
        str(tmp_path / "gsm"),
        env=env,
    )
    assert gsm.returncode == 0, gsm.stderr[-2000:]
    rows = read_rows(tmp_path / "gsm")
    reply = rows[0]["messages"][-1]["content"]
    assert "<<" not in reply and "####" not in reply  # calculator notes and the answer marker are gone
    assert "Each day 14 - 9 = 5 are left." in reply and reply.endswith("<answer>\n15\n</answer>")
    assert [r["messages"][-1]["content"].split("<answer>")[1].strip() for r in rows][1] == "14400\n</answer>"
    math = _r1f("cold-start", "--method", "solutions", "--problems", "math500", "--out", str(tmp_path / "m"), env=env)
    assert math.returncode == 0, math.stderr[-2000:]
    kept = read_rows(tmp_path / "m")
    assert len(kept) == 2 and "\\boxed" not in kept[0]["messages"][-1]["content"]
    assert "\\frac{3}{6}+\\frac{2}{6} = \\frac{5}{6}" in kept[0]["messages"][-1]["content"]  # LaTeX kept as written
    rejected = read_rows(tmp_path / "m", split="rejected")
    assert [(r["source_id"], r["reject_reason"]) for r in rejected] == [
        ("test/algebra/9.json", "solution_disagrees_with_gold")
    ]
    builtin = _r1f("cold-start", "--method", "solutions", "--out", str(tmp_path / "b"), env=env)
    assert builtin.returncode == 1 and "--method worked" in builtin.stderr


def test_a_recipe_eval_stage_on_a_benchmark_reports_a_row_per_benchmark(tmp_path, model_dir):
    cache = tmp_path / "cache"
    cache.mkdir()
    _jsonl(cache / "math500_test.jsonl", MATH_ROWS)
    config = {"model": model_dir, "benchmark": ["math500"], "n_problems": 2, "k": 1, "max_new_tokens": 8}
    recipe = tmp_path / "bench.yaml"
    recipe.write_text(yaml.safe_dump({"stages": {"ev": {"step": "eval", "config": config}}}))
    result = _r1f("run", str(recipe), "--run-dir", str(tmp_path / "run"), env={"R1F_DATA_DIR": str(cache)})
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tmp_path / "run" / "report.md").read_text()
    assert "ev [math500]" in report
