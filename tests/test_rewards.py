"""Each reward on hand-written cases that pin its semantics, including the seed's known bugs."""

import pickle
import time

import pytest

from filters.registry import REWARDS, make_reward, parse_rewards
from filters.rewards.accuracy import Accuracy, Cosine, Length
from filters.rewards.format import Format, reasoning_steps_reward, tag_count_reward
from filters.rewards.language import LanguageConsistency
from filters.rewards.penalties import RepetitionPenalty, SoftOverlongPunishment
from filters.verify import VerifyPool
from r1f.errors import ConfigError


def chat(text):
    return [{"role": "assistant", "content": text}]


class TestAccuracy:
    def test_answer_forms(self):
        cases = [
            ("<think>3*4=12, 12+2=14</think><answer>14</answer>", "14", 1.0),
            ("<think>x</think>\n<answer>\n14\n</answer>", "14", 1.0),
            ("<answer>15</answer>", "14", 0.0),
            ("We get $\\boxed{14}$.", "14", 1.0),
            ("so the answer is 14.", "14", 1.0),
            ("So the answer is 7/10.", "7/10", 1.0),  # the period must not make it 7/10.0
            ("<answer>\\frac{1}{2}</answer>", "0.5", 1.0),
            ("<answer>1/2</answer>", "\\frac{1}{2}", 1.0),
            ("<answer>$\\frac{7}{12}$</answer>", "7/12", 1.0),
            ("|special_token| 3*4 = 12, plus 2 |special_token| Summary: The answer is 14.", "14", 1.0),
            ("<answer>2.5</answer>", "5/2", 1.0),
            ("", "14", 0.0),
            ("I don't know", "14", 0.0),
        ]
        completions = [c for c, _, _ in cases]
        golds = [g for _, g, _ in cases]
        assert Accuracy()(completions, solution=golds) == [e for _, _, e in cases]
        # chat-format completions score the same
        assert Accuracy()([chat(c) for c in completions], solution=golds) == [e for _, _, e in cases]

    def test_unparseable_gold_is_none_not_half(self):
        # the seed gave 0.5 here, open-r1 once 1.0: both invent a score
        assert Accuracy()(["<answer>14</answer>", "<answer>14</answer>"], solution=["no answer here", None]) == [
            None,
            None,
        ]

    def test_gold_goes_first_in_verify(self):
        # verify(gold, answer) is not symmetric for equations: "x = 5" as the answer to gold 5 is right
        assert Accuracy()(["<answer>x = 5</answer>"], solution=["5"]) == [1.0]

    def test_missing_solution_column_is_a_clear_error(self):
        with pytest.raises(ConfigError, match="needs a 'solution' column"):
            Accuracy()(["<answer>1</answer>"], problem=["1?"])
        assert Accuracy(solution_column="gold")(["<answer>1</answer>"], gold=["1"]) == [1.0]

    def test_extra_columns_are_ignored(self):
        assert Accuracy()(["<answer>1</answer>"], solution=["1"], lang=["en"], anything=[object()]) == [1.0]


class TestPathologicalInputs:
    def test_bounded_time_and_defined_values(self):
        nested = "<answer>$" + "\\frac{1}{" * 400 + "2" + "}" * 400 + "$</answer>"
        huge = "<think>" + "blah " * 40_000 + "</think><answer>14</answer>"  # ~200 kB
        junk = "<answer>" + bytes(range(256)).decode("latin-1") * 50 + "</answer>"
        cases = [nested, huge, junk, "", None, chat(None), [{"role": "assistant"}]]
        started = time.time()
        scores = Accuracy()(cases, solution=["14"] * len(cases))
        assert time.time() - started < 20
        assert all(s in (0.0, 1.0) for s in scores)
        assert scores[1] == 1.0  # the answer at the end of a 200 kB completion is still found
        for name in ("format", "tag_count", "reasoning_steps", "repetition_penalty", "language_consistency"):
            values = make_reward(name)(cases, solution=["14"] * len(cases), lang=["en"] * len(cases))
            assert len(values) == len(cases) and all(v is None or isinstance(v, float) for v in values), name

    def test_a_hanging_item_is_killed_and_scored_wrong(self):
        # a real overrun: a tiny budget makes ordinary sympy work exceed it, in a worker process
        pool = VerifyPool(workers=1, timeout=0.001)
        try:
            assert pool.verify([("14", "$\\frac{28}{2}$")]) == [0.0]
            assert pool.timeouts >= 1
        finally:
            pool.close()
        pool = VerifyPool(workers=2, timeout=10)
        try:
            pairs = [("14", f"{i}") for i in range(10, 20)] + [("nonsense words", "1")]
            assert pool.verify(pairs) == [1.0 if i == 14 else 0.0 for i in range(10, 20)] + [None]
        finally:
            pool.close()


class TestFormat:
    def test_modes(self):
        strict_ok = "<think>\n3*4=12\n</think>\n<answer>\n14\n</answer>"
        loose_ok = "<think> 3*4=12 </think> <answer>14</answer>"
        r1_ok = "|special_token| 3*4=12, then 2+12 |special_token| Summary: the answer is 14."
        cases = [
            strict_ok,
            loose_ok,
            r1_ok,
            "<think></think><answer>14</answer>",
            "<answer>14</answer>",
            "<think>a</think><answer>1</answer><answer>2</answer>",
            "14",
        ]
        assert Format("strict")(cases) == [1.0, 0, 0, 0, 0, 0, 0]
        assert Format("loose")(cases) == [1.0, 1.0, 0, 0, 0, 0, 0]
        assert Format("r1")(cases) == [0, 0, 1.0, 0, 0, 0, 0]
        assert Format("r1")(["<|special_token|> a <|special_token|> b"]) == [1.0]
        assert Format("loose")([chat(loose_ok)]) == [1.0]

    def test_bad_mode(self):
        with pytest.raises(ConfigError, match="strict, loose, r1"):
            Format("fancy")

    def test_tag_count_partial_credit(self):
        assert tag_count_reward(["<think>\nx\n</think>\n<answer>\n1\n</answer>"]) == [1.0]
        assert tag_count_reward(["<think>\nx\n</think>\nno answer"]) == [0.5]
        assert tag_count_reward(["<think>\n<think>\n"]) == [0.0]

    def test_reasoning_steps(self):
        text = "Step 1: multiply.\nStep 2: add.\nFinally, answer."
        assert reasoning_steps_reward([text, "1. a\n2. b", "- x", "nothing", "首先算乘法，然后加法"]) == [
            1.0,
            2 / 3,
            1 / 3,
            0.0,
            2 / 3,
        ]
        # "1." only counts at a line start
        assert reasoning_steps_reward(["costs 1. dollars and 2. more"]) == [0.0]


class TestCosine:
    def test_direction_and_clamp(self):
        reward = Cosine(max_len=100)
        short_ok, long_ok, past_ok = reward(
            ["<answer>4</answer>", "x" * 80 + "<answer>4</answer>", "x" * 500 + "<answer>4</answer>"],
            solution=["4"] * 3,
        )
        short_bad, long_bad, past_bad = reward(
            ["<answer>5</answer>", "x" * 80 + "<answer>5</answer>", "x" * 500 + "<answer>5</answer>"],
            solution=["4"] * 3,
        )
        assert short_ok > long_ok > 0 > long_bad > short_bad
        assert past_ok == pytest.approx(0.5) and past_bad == pytest.approx(-0.5)
        assert Cosine(max_len=10_000)(["<answer>5</answer>"], solution=["4"])[0] == pytest.approx(-1.0, abs=1e-3)

    def test_needs_no_accuracy_argument_and_rejects_inverted_bounds(self):
        assert Cosine()(["<answer>1</answer>"], solution=["1"])[0] > 0.9
        with pytest.raises(ConfigError, match="min_value_wrong <= max_value_wrong"):
            Cosine(min_value_wrong=0.0, max_value_wrong=-0.5)  # open-r1's inverted CLI defaults


class TestRepetitionAndLength:
    def test_repetition_factory_returns_a_reward_and_validates(self):
        reward = RepetitionPenalty(ngram_size=2, max_penalty=-0.5)
        assert callable(reward) and not isinstance(reward(["a b"]), RepetitionPenalty)
        assert reward(["one two three four", "la la la la la la"]) == [0.0, pytest.approx(-0.5 * (1 - 1 / 5))]
        with pytest.raises(ConfigError, match="must be <= 0"):
            RepetitionPenalty(max_penalty=0.5)

    def test_kimi_length_is_group_relative(self):
        completions = [
            "<answer>4</answer>",
            "x" * 50 + "<answer>4</answer>",
            "<answer>5</answer>",
            "<answer>9</answer>",
        ]
        prompts = ["p1", "p1", "p1", "p2"]
        scores = Length()(completions, solution=["4", "4", "4", "9"], prompts=prompts)
        assert scores[0] == pytest.approx(0.5) and scores[1] == pytest.approx(-0.5)
        assert scores[2] == pytest.approx(0.0)  # wrong: min(0, lambda); it is as short as the shortest
        assert scores[3] == 0.0  # a group of one

    def test_soft_overlong_in_tokens(self):
        reward = SoftOverlongPunishment(max_completion_len=10, soft_punish_cache=4)
        assert reward(["a"] * 4, completion_ids=[[1] * 6, [1] * 8, [1] * 10, [1] * 12]) == [0.0, -0.5, -1.0, -1.0]
        assert reward(["a"]) == [None]
        with pytest.raises(ConfigError):
            SoftOverlongPunishment(max_completion_len=10, soft_punish_cache=20)


SENTENCES = {
    "en": "First we multiply three by four and get twelve. Then we add two and the result is fourteen.",
    "es": "Primero multiplicamos tres por cuatro y obtenemos doce. Luego sumamos dos y el resultado es catorce.",
    "fr": "D'abord on multiplie trois par quatre et on obtient douze. "
    "Ensuite on ajoute deux et le résultat est quatorze.",
    "de": "Zuerst multiplizieren wir drei mit vier und erhalten zwölf. "
    "Dann addieren wir zwei und das Ergebnis ist vierzehn.",
    "zh": "首先我们把三乘以四，得到十二。然后我们再加上二，结果是十四。",
}


class TestLanguageConsistency:
    def test_five_languages_score_one(self):
        langs = list(SENTENCES)
        completions = [f"<think>{SENTENCES[lang]}</think><answer>14</answer>" for lang in langs]
        assert LanguageConsistency()(completions, lang=langs) == [1.0] * 5

    def test_mixed_language_scores_in_between(self):
        for lang in ("es", "fr", "de", "zh"):
            first_half = SENTENCES[lang].split("。" if lang == "zh" else ". ")[0]
            mixed = f"<think>{first_half}. Then we add two and the result is fourteen.</think><answer>14</answer>"
            score = LanguageConsistency()([mixed], lang=[lang])[0]
            assert 0.2 < score < 0.8, (lang, score)
            assert LanguageConsistency()([f"<think>{SENTENCES['en']}</think>"], lang=[lang]) == [0.0]

    def test_one_foreign_word_costs_little_and_math_costs_nothing(self):
        text = "Primero multiplicamos tres por cuatro usando la regla de multiplication y obtenemos doce."
        assert LanguageConsistency()([text], lang=["es"]) == [1.0]
        assert LanguageConsistency()(["<think>3 * 4 = 12, 12 + 2 = 14, $\\frac{28}{2}$</think>"], lang=["zh"]) == [1.0]

    def test_target_from_the_prompt_and_deterministic(self):
        prompt = [{"role": "user", "content": "Un tren viaja a 50 km/h durante 5 horas. ¿Cuántos kilómetros recorre?"}]
        completions = [f"<think>{SENTENCES['es']}</think>", f"<think>{SENTENCES['en']}</think>"]
        first = LanguageConsistency()(completions, prompts=[prompt, prompt])
        assert first == [1.0, 0.0]
        assert LanguageConsistency()(completions, prompts=[prompt, prompt]) == first


class TestRegistry:
    def test_spec_with_weights_and_params(self):
        named = parse_rewards("accuracy,format,language_consistency", "1,0.5,0.5")
        assert [(r.name, r.weight) for r in named] == [
            ("accuracy", 1.0),
            ("format", 0.5),
            ("language_consistency", 0.5),
        ]
        cosine = parse_rewards("cosine(max_len=50, min_value_correct=0.6)")[0]
        assert cosine.fn.max_len == 50 and cosine.params == {"max_len": 50, "min_value_correct": 0.6}
        dotted = parse_rewards("filters.rewards.format.tag_count_reward")[0]
        assert dotted.fn is tag_count_reward

    def test_unknown_names_list_the_valid_ones(self):
        with pytest.raises(ConfigError, match="registered rewards: accuracy, format"):
            parse_rewards("accuracy,vibes")
        with pytest.raises(ConfigError, match="one weight per reward"):
            parse_rewards("accuracy,format", "1")
        with pytest.raises(ConfigError, match="takes no parameters"):
            parse_rewards("tag_count(x=1)")

    @pytest.mark.parametrize("name", list(REWARDS))
    def test_every_reward_pickles_and_keeps_its_name(self, name):
        reward = make_reward(name)
        clone = pickle.loads(pickle.dumps(reward))
        assert clone.__name__ == reward.__name__
        assert reward.__name__ == name or (name == "format" and reward.__name__ == "format")


class TestHostileInput:
    """Rewards under input a model (or a user) can produce: huge, looping, terse, or in other scripts."""

    def test_language_consistency_is_bounded_on_any_input(self):
        reward = LanguageConsistency()
        hostile = [
            "<think>" + "We add the two numbers and check. " * 30_000,  # ~1 MB
            "<think>" + "We add two. " * 18_000,  # 200 KB of three-word sentences
            "<think>" + "abcdefghij" * 10_000,
        ]
        for text in hostile:
            started = time.perf_counter()
            reward([text], lang=["en"])
            assert time.perf_counter() - started < 1.0  # bench/language.py measures it precisely

    def test_language_consistency_rules_for_text_too_short_to_judge(self):
        reward = LanguageConsistency()
        assert reward(["<think>Easy.</think>", "<think>12 * 4 = 48</think>"], lang=["es", "es"]) == [None, 1.0]
        assert reward(["<think>First we multiply twelve by four and get forty-eight.</think>"], lang=["en"]) == [1.0]
        with pytest.raises(ConfigError, match="choose one of lingua, langdetect"):
            LanguageConsistency(detector="guess")

    def test_repetition_penalty_sees_loops_in_chinese(self):
        reward = RepetitionPenalty()
        looping = ["这个" * 100, "我们先算三乘四，再加二。" * 200, "先算三乘四得十二，再加二得十四。"]
        scores = reward(looping, lang=["zh", "zh", "zh"])
        assert scores[0] < -0.9 and scores[1] < -0.9 and scores[2] == 0.0
        assert reward(["这个" * 100])[0] < -0.9  # no lang column: the script decides

    def test_unicode_minus_signs_and_digits_verify(self):
        completions = ["<answer>\u22127</answer>", "<answer>\uff0d\uff17</answer>", "<answer>\u0667</answer>"]
        assert Accuracy()(completions, solution=["-7", "-7", "7"]) == [1.0, 1.0, 1.0]

    def test_configuration_errors_are_value_errors(self):
        with pytest.raises(ValueError):
            RepetitionPenalty(max_penalty=1.0)
        with pytest.raises(ValueError):
            parse_rewards("accuracy,vibes")


def test_r1_zero_fewshot_examples_speak_the_problems_language():
    from generators.examples import EXAMPLES
    from generators.prompts import build_prompt

    for lang in ("en", "es", "fr", "de", "zh"):
        messages = build_prompt("r1-zero-fewshot", "Q?", lang)
        shots = [m["content"] for m in messages if m["role"] == "user"][:-1]
        assert len(shots) == 2 and all(s in {e["problem"] for e in EXAMPLES if e["lang"] == lang} for s in shots)
    assert build_prompt("r1-zero-fewshot", "Q?") == build_prompt("r1-zero-fewshot", "Q?", "xx")  # English fallback


def test_the_random_control_reward_is_seeded_and_has_its_rate():
    from filters.registry import parse_rewards

    (reward,) = parse_rewards("random(p=0.3,seed=2)")
    completions = [f"<think>{i}</think><answer>{i}</answer>" for i in range(3000)]
    first = reward.fn(completions, prompts=["q"] * 3000)
    assert first == reward.fn(completions, prompts=["q"] * 3000)  # reproducible
    assert 0.27 < sum(first) / 3000 < 0.33
    other = parse_rewards("random(p=0.3,seed=3)")[0].fn(completions, prompts=["q"] * 3000)
    assert other != first and reward.column == "reward_random"
