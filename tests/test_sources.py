"""Problem sources besides the built-in generator: reasoning-gym tasks and worked-solution files."""

import json

import pytest

from filters import rg
from filters.rewards.accuracy import correctness
from generators.sources import load_problems, parse_rg_spec
from r1f.errors import ConfigError, DataError

SPEC = "rg:basic_arithmetic,chain_sum,gsm_symbolic"


def answer(text: str) -> str:
    return f"<think>working</think><answer>{text}</answer>"


def test_reasoning_gym_rows_are_seeded_and_verified_by_our_reward():
    rows = load_problems(SPEC, n=12, seed=4)
    assert rows == load_problems(SPEC, n=12, seed=4)
    assert len(rows) == 12 and {r["family"] for r in rows} == {"basic_arithmetic", "chain_sum", "gsm_symbolic"}
    assert all(r["source"] == f"reasoning-gym/{r['family']}" and r["solution"] for r in rows)
    assert correctness([answer(r["solution"]) for r in rows], [r["solution"] for r in rows]) == [1.0] * 12
    wrong = [answer(str(int(r["solution"]) + 1)) for r in rows]
    assert correctness(wrong, [r["solution"] for r in rows]) == [0.0] * 12


def test_weights_split_the_count():
    rows = load_problems("rg:basic_arithmetic=3,chain_sum", n=8, seed=0)
    assert [r["family"] for r in rows].count("basic_arithmetic") == 6


def test_their_partial_credit_is_shown_but_ours_decides():
    row = next(r for r in load_problems("rg:chain_sum", n=40, seed=2) if r["solution"] == "4")
    contains = {**row, "completion": answer("14")}  # contains the right answer: reasoning-gym gives 0.5
    contains["reward_accuracy"] = correctness([contains["completion"]], [row["solution"]])[0]
    right = {**row, "completion": answer("4"), "reward_accuracy": 1.0}
    rg.annotate([contains, right])
    assert contains["reward_accuracy"] == 0.0
    assert 0 < contains["rg_score"] < 1 and contains["scorer_disagrees"] is True
    assert right["rg_score"] == 1.0 and right["scorer_disagrees"] is False


@pytest.mark.parametrize(
    ("spec", "message"),
    [("rg:no_such_task", "no_such_task"), ("rg:chain_sum=x", "must be a number"), ("rg:", "name reasoning-gym")],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ConfigError, match=message) as caught:
        load_problems(spec, n=4)
    assert "\n" not in str(caught.value)


def test_parse_rg_spec():
    assert parse_rg_spec("rg:a,b=2.5") == [("a", 1.0), ("b", 2.5)]


def test_worked_solutions_are_parsed_into_gold_answers(tmp_path):
    gsm = tmp_path / "gsm.jsonl"
    gsm.write_text(
        json.dumps({"question": "Tom has 3 bags of 4 apples. How many?", "answer": "3 * 4 = 12\n#### 1,200"}) + "\n"
    )
    rows = load_problems(str(gsm), problem_column="question", solution_column="answer", solution_format="gsm8k")
    assert rows[0]["solution"] == "1200"
    boxed = tmp_path / "math.jsonl"
    boxed.write_text(json.dumps({"problem": "Half of one?", "solution": r"It is $\boxed{\frac{1}{2}}$."}) + "\n")
    assert load_problems(str(boxed), solution_format="boxed")[0]["solution"] == r"\frac{1}{2}"
    with pytest.raises(DataError, match=r"gsm\.jsonl: row 1: no .*boxed.* answer"):
        load_problems(str(gsm), problem_column="question", solution_column="answer", solution_format="boxed")


def test_a_step_grows_over_every_problem_a_file_holds_not_just_the_first_round(tmp_path):
    # Before: growth counted the file's problems with n_problems, so --target-rows never grew past the first round.
    from generators.coldstart import ColdStartConfig
    from generators.steps import ColdStartStep
    from r1f.step import StepContext

    path = tmp_path / "p.jsonl"
    rows = [{"problem": f"What is {i} + 1?", "solution": str(i + 1)} for i in range(48)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    config = ColdStartConfig.from_mapping(
        {"problems": str(path), "n_problems": 8, "target_rows": 1, "max_problems": 48, "out": str(tmp_path / "o")}
    )
    step = ColdStartStep(config)
    assert len(step.problems()) == 8 and len(config.load_problems(every=True)) == 48
    assert step.grow(0, StepContext())  # nothing kept from 8: grow, 4x
    assert len(step.problems()) == 32
    assert step.grow(0, StepContext()) and len(step.problems()) == 48  # then to the whole file, no further
    assert not step.grow(0, StepContext())
