"""Cold-start data on the embedded model: every kept row passes the checks it claims to have passed."""

import json

import pytest

from filters.rewards.accuracy import Accuracy
from generators.coldstart import SFT_SYSTEM, FewShotPrompt, parse_natural, parse_output, rule_refine
from generators.examples import EXAMPLES
from r1f.io import read_rows
from tests.conftest import run_r1f

# fp32: which rows a 135M model gets right is luck, and bf16 (dtype auto on CPUs where it is faster) deals other luck.
# So the sampled tests ask for one kept row and let the step grow its problem set (--target-rows) over 48 easy
# money problems until it has one, as a user with a weak model would; it usually stops after the first round.
SAMPLED = ["--n-problems", "8", "--n", "8", "--temperature", "0.8", "--max-new-tokens", "128", "--dtype", "float32"]
GROW = ["--target-rows", "1", "--max-problems", "48"]


@pytest.fixture(scope="module")
def money_problems(tmp_path_factory) -> str:
    """48 easy money problems (the family the embedded model gets right most often)."""
    path = tmp_path_factory.mktemp("money") / "money.jsonl"
    args = ["--n", "48", "--languages", "en", "--families", "money", "--difficulties", "1"]
    result = run_r1f("problems", "--out", str(path), *args)
    assert result.returncode == 0, result.stderr
    return str(path)


def _check_kept(out, fmt, *, require_format):
    manifest = json.loads((out / "manifest.json").read_text())
    kept, rejected = read_rows(out), read_rows(out, split="rejected")
    counts = manifest["counts"]
    assert counts["kept"] == len(kept) >= 1, counts
    assert counts["kept"] + counts["dropped"] == counts["samples_drawn"] == len(kept) + len(rejected)
    assert all(r["reject_reason"] for r in rejected)
    for row in kept:
        # None: reasoning of one or two words cannot be judged for language (filters/rewards/language.py); kept
        consistency = row["reward_language_consistency"]
        assert row["reward_accuracy"] == 1.0 and (consistency is None or consistency >= 0.95)
        assert row["finish_reason"] != "length"
        if require_format:
            assert row["reward_format"] == 1.0
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["system", "user", "assistant"]
        assert row["messages"][0]["content"] == SFT_SYSTEM[fmt]
        assistant = row["messages"][-1]["content"]
        reasoning, summary, _ = parse_output(assistant, fmt)
        assert reasoning == row["reasoning"] and summary == row["summary"]
        # the verification holds on the assistant turn itself, independently recomputed
        assert Accuracy()([assistant], solution=[row["solution"]]) == [1.0]
    return manifest


def test_few_shot(tmp_path, money_problems, fmt="think"):
    out = tmp_path / "cs"
    args = ["--method", "few-shot", "--format", fmt, "--problems", money_problems, *SAMPLED, *GROW]
    result = run_r1f("cold-start", *args, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "samples drawn" in result.stdout and "dropped: " in result.stdout
    manifest = _check_kept(out, fmt, require_format=True)
    assert manifest["parameters"]["method"] == "few-shot" and manifest["parameters"]["k"] == 2
    assert (out / "plots" / "reward_accuracy.png").is_file()


@pytest.mark.slow  # direct prompting rarely ends on a stated answer: it grows to ~32 problems (~3.5 min) here
def test_direct(tmp_path, money_problems):
    out = tmp_path / "direct"
    result = run_r1f(
        "cold-start",
        "--method",
        "direct",
        "--format",
        "think",
        "--problems",
        money_problems,
        "--n-problems",
        "8",
        "--n",
        "8",
        "--temperature",
        "0.8",
        "--max-new-tokens",
        "160",
        "--dtype",
        "float32",
        *GROW,
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    _check_kept(out, "think", require_format=False)


def test_few_shot_examples_never_include_the_target():
    target = {"problem": EXAMPLES[0]["problem"], "lang": "en", "family": "arithmetic"}
    messages = FewShotPrompt(k=3)(target)
    users = [m["content"] for m in messages if m["role"] == "user"]
    assert users[-1] == target["problem"] and target["problem"] not in users[:-1]
    assert len(users) == 4
    es = FewShotPrompt(k=2)({"problem": "¿Cuánto es 1 + 1?", "lang": "es"})
    assert all("¿" in m["content"] or "Un " in m["content"] or "Ana" in m["content"] for m in es if m["role"] == "user")


MESSY = [
    (
        "m1",
        "What is 2 + 3 * 4?",
        "14",
        "en",
        "<think>  ummm... multiply 3 and 4... get 12... then add 2...</think>\n<answer> 14 </answer>",
    ),
    (
        "m2",
        "¿Cuánto es 5 + 2 * 3?",
        "11",
        "es",
        "<think>hmm primero 2 por 3 es 6... luego sumo 5... da 11</think><answer>11</answer>",
    ),
    ("m3", "Was ist 3 * 5?", "15", "de", "<think>ähm... drei mal fünf ergibt fünfzehn</think><answer>15"),
    ("m4", "Combien font 6 + 1 ?", "7", "fr", "<think>euh six plus un font sept</think><answer>7</answer>"),
    ("m5", "3 + 4 等于多少？", "7", "zh", "<think>嗯……三加四等于七</think><answer>7</answer>"),
    (
        "m6",
        "What is 10 - 4?",
        "6",
        "en",
        "<think>uh we take away four from ten and what remains is 6</think>",
    ),  # ends on the gold
    ("m8", "What is 12 - 4?", "8", "en", "<think>uh 12 minus 4 is 7</think>"),  # states nothing, ends elsewhere
    ("m7", "What is 9 - 4?", "5", "en", "<think>nine minus four is six</think><answer>6</answer>"),
]


def write_messy(path):
    """The MESSY rows as a jsonl of raw R1-Zero completions (the refine method's input)."""
    with open(path, "w") as handle:
        for row_id, problem, solution, lang, completion in MESSY:
            handle.write(
                json.dumps(
                    {"id": row_id, "problem": problem, "solution": solution, "lang": lang, "completion": completion},
                    ensure_ascii=False,
                )
                + "\n"
            )
    return path


@pytest.fixture()
def messy_file(tmp_path):
    return write_messy(tmp_path / "r1zero.jsonl")


def test_refine_with_rules_keeps_answers_unchanged(tmp_path, messy_file):
    out = tmp_path / "refined"
    result = run_r1f("cold-start", "--method", "refine", "--problems", str(messy_file), "--out", str(out))
    assert result.returncode == 0, result.stderr
    kept = {r["id"]: r for r in read_rows(out)}
    rejected = {r["id"]: r["reject_reason"] for r in read_rows(out, split="rejected")}
    assert set(kept) == {"m1", "m2", "m3", "m4", "m5", "m6"}
    assert rejected == {"m8": "no_answer", "m7": "incorrect"}
    originals = {row_id: (completion, gold) for row_id, _, gold, _, completion in MESSY}
    for row_id, row in kept.items():
        _, summary, answer = parse_output(row["messages"][-1]["content"], "r1")
        completion, gold = originals[row_id]
        assert answer == rule_refine(completion, gold=gold)[1]  # the answer is the model's own, unchanged
        assert "umm" not in row["reasoning"] and "ähm" not in row["reasoning"] and "..." not in row["reasoning"]
    assert kept["m1"]["reasoning"].splitlines() == [
        "Step 1: Multiply 3 and 4.",
        "Step 2: Get 12.",
        "Step 3: Then add 2.",
    ]
    assert kept["m2"]["summary"] == "La respuesta es 11."


def test_refine_with_an_llm_never_changes_the_answer(tmp_path, messy_file):
    out = tmp_path / "refined_llm"
    result = run_r1f(
        "cold-start",
        "--method",
        "refine",
        "--refiner",
        "llm",
        "--problems",
        str(messy_file),
        "--max-new-tokens",
        "96",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    kept, rejected = read_rows(out), read_rows(out, split="rejected")
    assert len(kept) + len(rejected) == len(MESSY)
    assert {r["reject_reason"] for r in rejected} <= {
        "no_answer",
        "incorrect",
        "answer_changed",
        "empty_rewrite",
        "mixed_language",
        "empty",
    }
    originals = {row_id: solution for row_id, _, solution, _, _ in MESSY}
    for row in kept:
        assert Accuracy()([row["messages"][-1]["content"]], solution=[originals[row["id"]]]) == [1.0]
        assert row["method"] == "refine/llm"


def test_bad_refine_input_is_one_line(tmp_path):
    path = tmp_path / "no_completions.jsonl"
    path.write_text(json.dumps({"problem": "What is 1 + 1?", "solution": "2"}) + "\n")
    result = run_r1f("cold-start", "--method", "refine", "--problems", str(path), "--out", str(tmp_path / "o"))
    assert result.returncode == 1 and "missing column(s) completion" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_natural_parse_of_direct_prompting():
    text = "Step 1: 3 * 4 = 12.\nStep 2: 12 + 2 = 14.\nVerification: 14 - 2 = 12.\nThe answer is 14."
    reasoning, summary, answer = parse_natural(text)
    assert "Verification" in reasoning and summary == "The answer is 14." and answer == "14"
    assert parse_natural("I like trains.") is None


def test_worked_solutions_reach_every_gold_in_every_family_level_and_language():
    from fractions import Fraction

    from generators.problems import DIFFICULTIES, FAMILIES, LANGUAGES, make_problems
    from generators.worked import OPENERS, worked_problems

    rows = worked_problems(len(LANGUAGES) * len(FAMILIES) * len(DIFFICULTIES) * 3, seed=7)
    assert [r["id"] for r in rows] == [r["id"] for r in make_problems(len(rows), seed=7)]  # the same problems
    assert {(r["lang"], r["family"], r["difficulty"]) for r in rows} == {
        (lang, f, d) for lang in LANGUAGES for f in FAMILIES for d in DIFFICULTIES
    }
    for row in rows:
        opener, *steps = row["reasoning"].splitlines()
        assert opener == OPENERS[row["lang"]] and steps, row
        assert Fraction(steps[-1].rsplit("= ", 1)[1]) == Fraction(row["solution"]), row  # ends on the gold
        for step in steps:  # every equation holds (x-steps are checked by their result above)
            if "x" not in step:
                forms = [f.strip() for f in step.split("=")]
                values = {eval(f.replace("/", "*1.0/")) for f in forms}  # noqa: S307 - our own arithmetic strings
                assert max(values) - min(values) < 1e-9, step


def test_worked_cold_start_rows_are_verified_sft_rows(tmp_path):
    from filters.rewards.format import Format

    out = tmp_path / "worked"
    result = run_r1f("cold-start", "--method", "worked", "--n-problems", "48", "--format", "think", "--out", str(out))
    assert result.returncode == 0, result.stderr
    kept = read_rows(out)
    assert len(kept) == 48 and json.loads((out / "manifest.json").read_text())["counts"]["dropped"] == 0
    for row in kept:
        system, user, assistant = row["messages"]
        assert system["content"] == SFT_SYSTEM["think"] and user["content"] == row["problem"]
        assert Accuracy()([assistant["content"]], solution=[row["solution"]]) == [1.0]
        assert Format("strict")([assistant["content"]]) == [1.0]
        assert row["method"] == "worked" and row["reward_language_consistency"] in (None, 1.0)
    r1 = tmp_path / "worked_r1"
    assert run_r1f("cold-start", "--method", "worked", "--n-problems", "5", "--out", str(r1)).returncode == 0
    assert read_rows(r1)[0]["messages"][-1]["content"].startswith("|special_token|")


def test_worked_cold_start_refuses_problems_without_a_derivation(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"problem": "What is 1 + 1?", "solution": "2"}) + "\n")
    result = run_r1f("cold-start", "--method", "worked", "--problems", str(path), "--out", str(tmp_path / "o"))
    assert result.returncode != 0 and "--problems builtin" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
