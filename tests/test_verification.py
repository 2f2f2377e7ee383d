r"""Verification on real-math shapes: every case the verification issue lists, golds read whole, the worker
budget, and ``r1f audit``.

Golds are written in the shapes of MATH-500 (bare LaTeX ``answer``, worked ``solution`` ending in ``\boxed{}``)
and GSM8K (worked answer ending ``#### N``); the problems below are our own, not rows of those datasets.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from filters.rewards.accuracy import Accuracy, gold_warning, unreadable_golds
from filters.verify import VerifyPool
from r1f.io import read_manifest, read_rows, write_dataset
from tests.conftest import run_r1f

SHAPES = [
    "<answer>{x}</answer>",
    "So we get $\\boxed{{{x}}}$.",
    "<think>I work it out.</think><answer>\\boxed{{{x}}}</answer>",
    "I work it out.\nThe final answer is ${x}$",
]


def score(completion: str, gold: str) -> float | None:
    return Accuracy()([completion], solution=[gold])[0]


# golds math-verify's bare-text extraction read as a fragment (the fragment it kept on the right)
FRAGMENT_GOLDS = [
    ("4a-2", "4"),
    ("7\\pi", "7"),
    ("12\\frac{3}{5}", "\\frac{3}{5}"),
    ("3\\sqrt{13}", "3"),
    ("6 - 5i", "5"),
    ("1 + 1/e", "1"),
    ("3x+4y+14=0", "0"),
    ("10{,}000", "10"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "3"),
    ("x^5 - x^4 + x^3 - x^2 + x - 1", "1"),
    ("(-\\infty, 0]", "0"),
]
# golds it could not parse at all
UNPARSED_GOLDS = [
    "\\sqrt{51}",
    "\\pi",
    "p - q",
    "(3,4]",
    "\\{1,2,3\\}",
    "x^2+1",
    "\\frac43",
    "\\dfrac{17}{50}",
    "\\text{east}",
    "A",
    "\\text{(C)}",
]


@pytest.mark.parametrize("gold,fragment", FRAGMENT_GOLDS)
def test_golds_once_read_as_a_fragment_are_read_whole(gold, fragment):
    assert [score(shape.format(x=gold), gold) for shape in SHAPES] == [1.0] * len(SHAPES)
    assert score(f"<answer>{fragment}</answer>", gold) == 0.0


@pytest.mark.parametrize("gold", UNPARSED_GOLDS)
def test_golds_once_unparsed_are_read(gold):
    assert unreadable_golds([gold]) == []
    assert [score(shape.format(x=gold), gold) for shape in SHAPES] == [1.0] * len(SHAPES)


def test_worked_solution_golds_use_their_last_box():
    gold = "Adding gives $2 + \\frac{5}{3} + 1 = \\boxed{\\frac{14}{3}}$."
    assert score("<answer>\\dfrac{14}{3}</answer>", gold) == 1.0
    assert score("<answer>14</answer>", gold) == 0.0
    assert score("<answer>5</answer>", "Twice 2 is <<2*2=4>>4, plus 1 is 5.\n#### 5") == 1.0


@pytest.mark.parametrize(
    "completion,gold",
    [
        ("<answer>4a+9</answer>", "4a-2"),
        ("<answer>7</answer>", "7\\pi"),
        ("<answer>2</answer>", "2\\sqrt{3}"),
        ("<answer>5!</answer>", "5"),
        ("<answer>10^{10^{10^{10}}}</answer>", "10"),
        ("<answer>4:15 p.m.</answer>", "4:30p.m."),
        ("<answer>1 - 1/e</answer>", "1 + 1/e"),
        ("<answer>8n^2 + 4n + 1</answer>", "1"),
        ("<answer>52</answer>", "52_8"),
        ("<answer>2</answer>", "2k"),
    ],
)
def test_no_false_credit(completion, gold):
    assert score(completion, gold) == 0.0


@pytest.mark.parametrize(
    "answer,gold",
    [
        ("(1, 3]", "(1,3]"),
        ("\\{3, 2, 1\\}", "\\{1,2,3\\}"),
        ("x \\in (1, 3]", "(1,3]"),
        ("1{,}000", "1000"),
        ("1,000", "1000"),
        ("\\$5", "5"),
        ("5!", "120"),
        ("\\sqrt{1/n}", "\\frac{1}{\\sqrt{n}}"),
        ("\\dfrac{\\pi}{2}", "\\frac{\\pi}{2}"),
        ("4:30 p.m.", "4:30p.m."),
        ("68\\%", "68"),
        ("30^\\circ", "30"),
        ("15\\mbox{ cm}^2", "15"),
        ("14 apples", "14"),
        ("East", "\\text{east}"),
        ("(C)", "\\text{(C)}"),
        ("52_8", "52_8"),
        ("x = 5", "5"),
    ],
)
def test_no_false_zero(answer, gold):
    assert score(f"<answer>{answer}</answer>", gold) == 1.0
    assert score(f"So the answer is {answer}", gold) == 1.0


def test_empty_answer_regions_score_zero_and_never_fall_back_to_the_reasoning():
    assert score("<think>3 + 11 = 14</think><answer></answer>", "14") == 0.0
    assert score("<think>3 + 11 = 14</think><answer>  </answer>", "14") == 0.0
    assert score("3 + 11 = 14, so $\\boxed{}$", "14") == 0.0
    assert score("<answer>\\boxed{}</answer> 14", "14") == 0.0


def test_free_text_needs_an_anchor():
    assert score("We know there are 7 apples and 5 pears, and Tom ate 2.", "2") == 0.0
    solution = "He walks 92 minutes.\n92 minutes / 4 hours = 68%\nA: 68"
    assert score(solution, "92") == 0.0
    assert score(solution, "68") == 1.0
    assert score("3 * 4 = 12 and 12 + 2 = 14\n#### 14", "14") == 1.0
    assert score("14", "14") == 1.0  # a completion that is only the value states it


def test_hedges_and_several_boxes_score_zero():
    assert score("<answer>12 or 14</answer>", "14") == 0.0
    assert score("Either $\\boxed{12}$ or $\\boxed{14}$.", "14") == 0.0
    assert score("<answer>\\boxed{12}, \\boxed{14}</answer>", "14") == 0.0
    # boxes of one value in the final paragraph are fine (MATH solutions box a result twice)
    assert score("So $\\boxed{15\\frac{39}{40}}$, or $\\boxed{\\frac{639}{40}}$ inches.", "\\frac{639}{40}") == 1.0
    # a box in earlier reasoning is not the answer
    assert score("First $\\boxed{3}$.\n\nSo the total is $\\boxed{14}$.", "14") == 1.0


def test_gsm8k_numeric_verification_is_exact_in_every_written_form():
    gold = "She sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs, 9 * 2 = $<<9*2=18>>18.\n#### 1800"
    right = [
        "The answer is 1800.",
        "The answer is 1,800.",
        "<answer>1800</answer>",
        "<answer>\\$1,800</answer>",
        "$\\boxed{1800}$",
        "work\n#### 1800",
        "work\nA: 1800",
        "The answer is 1800.00",
        "<answer>1800 dollars</answer>",
    ]
    wrong = ["The answer is 1801.", "<answer>180</answer>", "<answer>18</answer>", "#### 18000"]
    assert Accuracy()(right + wrong, solution=[gold] * (len(right) + len(wrong))) == [1.0] * len(right) + [0.0] * len(
        wrong
    )


def test_golds_that_cannot_be_read_whole_are_reported_and_score_none():
    golds = ["14", "\\frac{1}{2}", "see the figure for the answer", "", None, "4a-2"]
    assert unreadable_golds(golds) == [2]
    line = gold_warning(golds, "mine.jsonl")
    assert line is not None and line.startswith("mine.jsonl: 1 of 6 gold answers") and "row 2" in line
    assert "\n" not in line
    assert score("<answer>14</answer>", "see the figure for the answer") is None


def test_loading_a_file_reports_unreadable_golds_in_one_line(tmp_path, capsys):
    from generators.sources import load_problems

    path = tmp_path / "math_like.jsonl"
    rows = [
        {"problem": "What is $2+2$?", "answer": "4", "unique_id": "a/1.json"},
        {"problem": "Name the direction.", "answer": "\\text{east}", "unique_id": "a/2.json"},
        {"problem": "Describe it.", "answer": "it depends on the weather", "unique_id": "a/3.json"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = load_problems(str(path), solution_column="answer")
    assert [r["solution"] for r in loaded] == ["4", "\\text{east}", "it depends on the weather"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1 of 3 gold answers cannot be read" in err[0] and "row 2" in err[0]


def test_the_budget_starts_when_the_worker_is_ready():
    # a cold worker imports math-verify and sympy (seconds on a busy box); that is not any item's time. With a
    # 0.3 s budget every right answer still scores 1, and the 8 identical rows are not zeroed together.
    pool = VerifyPool(workers=1, timeout=0.3)
    try:
        scores = pool.verify([("14", "\\frac{28}{2}", True)] * 8 + [("7\\pi", "7 \\pi", True)])
        assert scores == [1.0] * 9
        assert pool.timeouts == 0
    finally:
        pool.close()


def test_an_overrun_is_retried_once_on_a_fresh_worker_then_scores_zero():
    pool = VerifyPool(workers=1, timeout=0.001)  # every sympy check overruns this budget
    try:
        assert pool.verify([("14", "\\frac{28}{2}", True)]) == [0.0]
        assert pool.timeouts == 2 and pool.gave_up == 1
    finally:
        pool.close()


def test_pathological_inputs_stay_bounded():
    cases = [
        ("<answer>10^{10^{10^{10}}}</answer>", "10", 0.0),
        ("<answer>10^{10^{10^{10}}}</answer>", "10^{10^{10^{10}}}", 1.0),
        ("<answer>" + "{" * 10_000 + "14" + "}" * 10_000 + "</answer>", "14", 0.0),
        ("blah " * 200_000 + "<answer>14</answer>", "14", 1.0),  # 1 MB
        ("\\boxed{" * 1000 + "x" * 1_000_000, "14", 0.0),
        ("<answer>" + "7" * 100_000 + "</answer>", "7" * 100_000, 1.0),
        ("<answer>" + "7" * 100_000 + "</answer>", "7" * 99_999 + "8", 0.0),
        ("<answer>\\frac{" + "7" * 100_000 + "}{3}</answer>", "2", 0.0),
        ("<answer>100000!</answer>", "5", 0.0),
    ]
    started = time.monotonic()
    scores = Accuracy()([c for c, _, _ in cases], solution=[g for _, g, _ in cases])
    assert time.monotonic() - started < 60
    assert scores == [e for _, _, e in cases]
    assert Accuracy()(["<answer>1</answer>"], solution=["{" * 10_000 + "1" + "}" * 10_000]) == [None]


def test_settled_review_cases_pass():
    """Rows people settled in review (``r1f audit --export-cases``): the verifier must keep agreeing with them."""
    cases = [json.loads(line) for line in (Path(__file__).parent / "data" / "verifier_cases.jsonl").open()]
    assert len(cases) >= 10
    scores = Accuracy()([c["completion"] for c in cases], solution=[c["gold"] for c in cases])
    assert scores == [c["expected"] for c in cases], [c["id"] for c, s in zip(cases, scores) if s != c["expected"]]


# -- the audit ------------------------------------------------------------------------------------

MATH_LIKE = [
    # (completion, gold answer, reward the factory gave, what the second checker says)
    ("Expanding, $\\boxed{4a-2}$.", "4a-2", 1.0),
    ("<answer>4</answer>", "4a-2", 0.0),
    ("So $r = \\boxed{\\frac{1}{\\sqrt{n}}}$.", "\\sqrt{1/n}", 1.0),  # equal for n > 0: the checkers disagree
    ("The answer, I think, is 18.", "18", 0.0),  # no anchor the reward reads; the second checker reads it
    ("<answer>(1, 3]</answer>", "(1,3]", 1.0),
    ("<answer>\\text{east}</answer>", "\\text{east}", 1.0),
    ("<answer>12 or 14</answer>", "14", 0.0),
    ("<answer>7</answer>", "7\\pi", 0.0),
]


def _math_like_dataset(directory: Path) -> Path:
    rows = []
    for i, (completion, answer, _) in enumerate(MATH_LIKE):
        rows.append(
            {
                "id": f"item{i}",
                "problem": f"Our own problem number {i}.",
                "solution": f"Working it out gives $\\boxed{{{answer}}}$.",
                "answer": answer,
                "subject": "Algebra",
                "level": 1 + i % 5,
                "unique_id": f"test/algebra/{i}.json",
                "completion": completion,
            }
        )
    write_dataset(directory, {"train": rows}, {"kind": "scores"})
    return directory


def test_audit_reports_agreement_rates_and_the_disagreeing_rows(tmp_path):
    source = _math_like_dataset(tmp_path / "scored")
    out = tmp_path / "audit"
    result = run_r1f("audit", str(source), "--out", str(out), "--update-card")
    assert result.returncode == 0, result.stderr
    manifest = read_manifest(out)
    audit = manifest["audit"]
    # the reward's own verdicts (scored now: no reward_accuracy column)
    assert audit["rows"] == 8 and audit["judged_by_both"] == 8
    assert audit["agreement"]["count"] == 6
    assert audit["false_credit"]["count"] == 1 and audit["false_zero"]["count"] == 1
    low, high = audit["false_credit"]["ci95"]
    assert 0.0 < low < 0.125 < high < 0.6
    rows = {r["id"]: r for r in read_rows(out)}
    assert sorted(rows) == ["item2", "item3"]
    assert rows["item2"]["audit_kind"] == "false_credit?" and rows["item2"]["audit_second"] == 0.0
    assert rows["item3"]["audit_kind"] == "false_zero?" and rows["item3"]["reward_accuracy"] == 0.0
    probes = {p["probe"]: p for p in audit["probes"]}
    assert all(p["accuracy_ok"] for p in probes.values()), [p for p in probes.values() if not p["accuracy_ok"]]
    assert {"grader override", "empty answer tags", "hedge", "several boxes", "exponent tower"} <= set(probes)
    assert {"format", "cosine", "language_consistency"} <= set(probes["hedge"])  # every reward, not only accuracy
    # the summary is in both cards
    assert "## Verifier audit" in (out / "README.md").read_text()
    card = (source / "README.md").read_text()
    assert "## Verifier audit" in card and "false-credit rate" in card
    assert read_manifest(source)["audit"]["agreement"]["count"] == 6
    assert read_rows(source) == read_rows(tmp_path / "scored")  # the data files are not rewritten


def test_audit_as_a_recipe_stage(tmp_path):
    scored = tmp_path / "scored.jsonl"
    rows = [{"id": f"r{i}", "completion": c, "solution": g} for i, (c, g, _) in enumerate(MATH_LIKE)]
    scored.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = tmp_path / "audit.yaml"
    recipe.write_text(
        "name: audit-recipe\nstages:\n"
        f"  scored: {{step: score, config: {{source: {scored}, rewards: accuracy}}}}\n"
        "  audited: {step: audit, inputs: {source: scored}, config: {probes: false}}\n"
    )
    for _attempt in range(2):
        result = run_r1f("run", str(recipe), "--run-dir", str(tmp_path / "run"))
        assert result.returncode == 0, result.stderr
    assert "scored  │ score │ done" in result.stdout and "audited │ audit │ done" in result.stdout, result.stdout
    audit = read_manifest(tmp_path / "run" / "audited")["audit"]
    assert audit["rows"] == 8 and audit["false_credit"]["count"] == 1


def test_audit_of_given_verdicts_and_of_a_factory_dataset(tmp_path, easy_sampled):
    source = _math_like_dataset(tmp_path / "scored")
    rows = read_rows(source)
    for row, (_, _, given) in zip(rows, MATH_LIKE):
        row["reward_accuracy"] = given
    rows[1]["reward_accuracy"] = 1.0  # a planted false credit: "4" for 4a-2
    write_dataset(source, {"train": rows}, {"kind": "scores"})
    result = run_r1f("audit", str(source), "--out", str(tmp_path / "a1"), "--no-probes")
    assert result.returncode == 0, result.stderr
    audit = read_manifest(tmp_path / "a1")["audit"]
    assert audit["false_credit"]["count"] == 2 and audit["probes"] == []
    assert "item1" in {r["id"] for r in read_rows(tmp_path / "a1")}
    assert "Verifier audit" not in (source / "README.md").read_text()

    # a real rejection-sampled dataset the factory made with the embedded model
    result = run_r1f("audit", str(easy_sampled), "--out", str(tmp_path / "a2"), "--no-probes")
    assert result.returncode == 0, result.stderr
    audit = read_manifest(tmp_path / "a2")["audit"]
    assert audit["rows"] == len(read_rows(easy_sampled)) >= 2
    assert audit["judged_by_both"] + audit["not_cross_checked"] == audit["rows"]
    assert audit["agreement"]["rate"] >= 0.8  # numeric golds: the two checkers should rarely differ


@pytest.mark.slow
def test_audit_with_the_embedded_model_as_judge(tmp_path, model_dir):
    source = _math_like_dataset(tmp_path / "scored")
    out = tmp_path / "audit"
    result = run_r1f(
        "audit",
        str(source),
        "--out",
        str(out),
        "--judge",
        "smollm2-135m",
        "--judge-engine",
        "transformers",
        "--no-probes",
    )
    assert result.returncode == 0, result.stderr
    judge = read_manifest(out)["audit"]["judge"]
    assert judge["model"] == "smollm2-135m" and judge["asked"] == 2
    assert judge["with_reward"] + judge["with_second"] + judge["unclear"] == 2
    assert {r["audit_judge"] for r in read_rows(out)} <= {"yes", "no", "?"}


def test_audit_bad_input_is_one_line(tmp_path):
    path = tmp_path / "nogold.jsonl"
    path.write_text(json.dumps({"id": "x", "completion": "<answer>1</answer>"}) + "\n")
    result = run_r1f("audit", str(path), "--out", str(tmp_path / "a"))
    assert result.returncode == 1
    assert "no 'solution' column" in result.stderr and "--solution-column" in result.stderr
    assert "Traceback" not in result.stderr
