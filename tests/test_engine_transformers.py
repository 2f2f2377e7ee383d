"""The in-process engine on the real embedded model (tiny token budgets keep this fast)."""

import pytest
import torch

from generators.engines import SamplingParams
from generators.problems import make_problems
from generators.prompts import build_prompt


def _prompts(k, seed=1):
    return [build_prompt("plain", p["problem"]) for p in make_problems(k, seed=seed, languages=["en", "es"])]


def _generate_reference(engine, prompt, max_new_tokens):
    """transformers' own greedy ``model.generate`` on the whole prompt: (prompt ids, tokens before any EOS,
    whether it reached EOS, the text the engine must return)."""
    ids = torch.tensor([engine.encode(prompt)])
    with torch.inference_mode():
        out = engine.model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, do_sample=False
        )
    ref = out[0, ids.shape[1] :].tolist()
    eos = [i for i, t in enumerate(ref) if t in engine.eos_ids]
    ref = ref[: eos[0]] if eos else ref
    text = engine.tokenizer.decode(ref, skip_special_tokens=True)
    return ids, ref, bool(eos), (text if eos else text.rstrip("\ufffd"))


def test_greedy_matches_transformers_generate_with_rows_joining(engine):
    # 6 prompts through 4 slots: rows finish, leave, and waiting rows join the running batch.
    prompts = _prompts(6)
    ours = engine.generate(prompts, SamplingParams(max_new_tokens=20))
    for prompt, (completion,) in zip(prompts, ours):
        ids, ref, eos, expected = _generate_reference(engine, prompt, 20)
        assert completion.text == expected
        assert completion.text.strip()
        assert completion.finish_reason == ("stop" if eos else "length")
        assert completion.completion_tokens == len(ref) + (1 if eos else 0)
        assert completion.prompt_tokens == ids.shape[1]


def test_sampling_n_is_seeded_and_varied(engine):
    prompts = _prompts(2, seed=2)
    params = SamplingParams(n=3, temperature=1.0, max_new_tokens=12, seed=7)
    first = engine.generate(prompts, params)
    again = engine.generate(prompts, params)
    assert [[c.text for c in row] for row in first] == [[c.text for c in row] for row in again]
    assert all(len(row) == 3 for row in first)
    assert len({c.text for row in first for c in row}) > 2
    other = engine.generate(prompts, SamplingParams(n=3, temperature=1.0, max_new_tokens=12, seed=8))
    assert [[c.text for c in row] for row in other] != [[c.text for c in row] for row in first]


def test_stop_strings_cut_the_text(engine):
    prompts = _prompts(2, seed=3)
    free = engine.generate(prompts, SamplingParams(max_new_tokens=24))
    word = free[0][0].text.split()[2]
    cut = engine.generate(prompts[:1], SamplingParams(max_new_tokens=24, stop=(word,)))[0][0]
    assert word not in cut.text
    assert free[0][0].text.startswith(cut.text.rstrip())
    assert cut.finish_reason == "stop"
    assert cut.completion_tokens < 24


def test_a_character_cut_by_the_token_limit_is_dropped_not_written_as_u_fffd(engine):
    ids = engine.tokenizer.encode("一共行驶了多少公里", add_special_tokens=False)
    cut = next(k for k in range(1, len(ids)) if engine.tokenizer.decode(ids[:k]).endswith("\ufffd"))
    params = SamplingParams(max_new_tokens=cut)
    partial = engine._completion([1, 2], ids[:cut], "length", params)
    assert partial.text and not partial.text.endswith("\ufffd")
    assert "一共行驶了多少公里".startswith(partial.text)
    assert partial.completion_tokens == cut  # the tokens were generated; only the half character is not shown


def test_generate_ids_is_what_generate_decodes_and_an_adopted_model_generates_the_same(engine, model_dir):
    from transformers import AutoModelForCausalLM

    from generators.engines.transformers_engine import TransformersEngine

    prompts = _prompts(3, seed=4)
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=12, seed=3)
    texts = engine.generate(prompts, params)
    ids = engine.generate_ids([engine.encode(p) for p in prompts], params)
    for row_text, row_ids in zip(texts, ids):
        for completion, (tokens, reason) in zip(row_text, row_ids):
            assert completion.completion_tokens == len(tokens) and completion.finish_reason == reason
            body = tokens[:-1] if tokens[-1] in engine.eos_ids else tokens
            assert completion.text == engine.tokenizer.decode(body, skip_special_tokens=True).rstrip("\ufffd")
    # GRPO's rollout hands the engine the policy in memory instead of a path to load
    other = TransformersEngine(model="smollm2-135m", dtype="float32", batch_size=4, max_active=4)
    other.adopt(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval(), engine.tokenizer)
    assert other._model is not None
    assert [[c.text for c in row] for row in other.generate(prompts, params)] == [
        [c.text for c in row] for row in texts
    ]


def test_dtype_auto_is_measured_once_per_cpu_and_read_back_without_torch(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from generators.engines.cpu import native_bf16

    assert not native_bf16({"avx2", "fma"}) and native_bf16({"avx512_bf16"}) and native_bf16({"amx_bf16"})
    env = {**os.environ, "R1F_CACHE_DIR": str(tmp_path)}
    code = (
        "import sys; from generators.engines.cpu import auto_cpu_dtype, native_bf16; "
        "print(auto_cpu_dtype(2), native_bf16(), 'torch' in sys.modules)"
    )
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    dtype, native, _ = first.stdout.split()
    assert dtype in ("float32", "bfloat16")
    if native == "False":
        assert dtype == "float32" and not (tmp_path / "cpu-dtype.json").exists()  # nothing to measure
        return
    (verdict,) = json.loads((tmp_path / "cpu-dtype.json").read_text()).values()
    assert verdict["dtype"] == dtype and verdict["threads"] == 2 and 0 < verdict["bf16_over_fp32_time"] < 10
    again = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert again.stdout.split() == [dtype, native, "False"]  # read back: torch never imported


def test_sampling_draws_from_the_temperature_and_top_p_distribution(engine):
    # 300 tokens: row 0 peaked (its nucleus lies among the first candidates), row 1 flat (its nucleus is wider
    # than the candidates, so that row is sorted whole); frequencies over 40 000 draws each match the distribution
    from generators.engines.transformers_engine import NUCLEUS_CANDIDATES

    vocab, draws = NUCLEUS_CANDIDATES + 44, 40_000
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, vocab, generator=gen)
    logits[0, :5] += torch.tensor([9.0, 8.0, 7.5, 7.0, 6.0])
    logits[1] *= 0.1
    assert torch.softmax(logits[1] / 0.7, -1).topk(NUCLEUS_CANDIDATES).values.sum() < 0.9
    for top_p in (1.0, 0.9):
        params = SamplingParams(temperature=0.7, top_p=top_p)
        picked = engine._pick(logits.repeat(draws, 1), params, gen).view(draws, 2)
        for row in range(2):
            probs = torch.softmax(logits[row].double() / 0.7, -1)
            ordered, order = probs.sort(descending=True)
            keep = (ordered.cumsum(-1) - ordered) <= top_p
            expected = torch.zeros(vocab, dtype=torch.float64)
            expected[order[keep]] = ordered[keep] / ordered[keep].sum()
            seen = torch.bincount(picked[:, row], minlength=vocab).double() / draws
            assert seen[expected == 0].sum() == 0  # nothing outside the nucleus
            assert ((seen - expected).abs() <= 5 * (expected * (1 - expected) / draws).sqrt() + 1e-4).all()


def test_prompts_sharing_a_few_shot_prefix_decode_as_transformers_generate(engine):
    # r1-zero-fewshot: each language's ~330-token system turn and examples are computed once, then only each
    # prompt's own tokens; the greedy text must still be model.generate's on the whole prompt.
    problems = make_problems(6, seed=3, languages=["en", "fr"])
    prompts = [build_prompt("r1-zero-fewshot", p["problem"], p["lang"]) for p in problems]
    computed: list[int] = []  # a spy on the real prefix pass: the lengths of the prefixes it had to compute
    prefix_pass = engine._prefix_pass

    def spy(tokens, known):
        if tuple(tokens) not in known:
            computed.append(len(tokens))
        return prefix_pass(tokens, known)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "_prefix_pass", spy)
        ours = engine.generate(prompts, SamplingParams(max_new_tokens=12))
    for prompt, (completion,) in zip(prompts, ours):
        assert completion.text == _generate_reference(engine, prompt, 12)[3]
    # each language's few-shot prefix (hundreds of tokens) was computed once, though rows joined in several groups
    assert len(computed) == len(set(computed))
    assert len([n for n in computed if n > 200]) == 2


def test_prefix_families_split_by_what_is_worth_sharing():
    from generators.engines.prefix import MIN_SHARED_PREFIX, prefix_families

    system = list(range(100, 140))
    english, french = list(range(500, 800)), list(range(900, 1200))
    prompts = {
        "en1": system + english + [1, 2, 3],
        "en2": system + english + [4, 5],
        "fr1": system + french + [1, 2, 3, 4],
        "fr2": system + french + [6],
        "fr3": system + french + [6, 7],  # one token more in common with fr2: not worth a pass of its own
        "zh1": system + [7, 7, 7],  # alone in its language: keeps the system turn
    }
    families = {tuple(sorted(keys)): prefix for prefix, keys in prefix_families(prompts)}
    assert families == {
        ("en1", "en2"): len(system) + len(english),
        ("fr1", "fr2", "fr3"): len(system) + len(french),
        ("zh1",): len(system),
    }
    # a prefix leaves each prompt one token of its own; a short one is not shared at all
    assert prefix_families({"a": [1] * 50, "b": [1] * 50}) == [(49, ["a", "b"])]
    short = {"a": [1] * (MIN_SHARED_PREFIX - 1) + [2], "b": [1] * (MIN_SHARED_PREFIX - 1) + [3]}
    assert prefix_families(short) == [(0, ["a", "b"])]
    assert prefix_families({"a": [5, 6]}) == [(0, ["a"])]
    assert prefix_families({}) == []
