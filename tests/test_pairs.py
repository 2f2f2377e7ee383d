"""Preference pairs from real rejection-sampled data, loaded into TRL's DPOTrainer on the embedded model."""

from __future__ import annotations

from curation.pairs import PairsConfig, is_good, make_pairs
from r1f.io import read_manifest, read_rows
from tests.conftest import run_r1f


def _sample(i: int, problem: str, ok: float, tokens: int, **extra) -> dict:
    return {
        "id": f"s{i}",
        "problem_id": problem,
        "problem": f"question {problem}",
        "completion": f"<think>{'x ' * tokens}</think><answer>{i}</answer>",
        "completion_tokens": tokens,
        "reward_accuracy": ok,
        "finish_reason": "stop",
        **extra,
    }


def test_shortest_correct_against_incorrect_or_longest():
    rows = [
        _sample(1, "a", 1.0, 30),
        _sample(2, "a", 1.0, 10),
        _sample(3, "a", 0.0, 5),
        _sample(4, "a", 1.0, 8, finish_reason="length"),  # cut: never chosen
        _sample(7, "a", 1.0, 9, reject_reason="mixed_language"),  # failed a filter: never chosen
        _sample(5, "b", 0.0, 5),  # no correct sample
        _sample(6, "c", 1.0, 5),  # nothing to reject
    ]
    pairs, skipped = make_pairs(rows, PairsConfig())
    assert [(p["chosen_id"], p["rejected_id"]) for p in pairs] == [("s2", "s3")]
    assert skipped == {"no_correct_sample": 1, "no_incorrect_sample": 1}
    assert pairs[0]["prompt"] == [{"role": "user", "content": "question a"}]
    longest, skipped = make_pairs(rows, PairsConfig(rejected="longest"))
    assert [(p["chosen_id"], p["rejected_id"]) for p in longest] == [("s2", "s1")]
    assert skipped == {"no_correct_sample": 1, "one_correct_sample": 1}
    assert not is_good(rows[3]) and not is_good(rows[4])


def test_pairs_from_r1f_sample_train_two_dpo_steps(tmp_path, easy_sampled):
    sampled = easy_sampled
    out = tmp_path / "pairs"
    result = run_r1f("pairs", str(sampled), "--out", str(out), "--pairs-per-problem", "2")
    assert result.returncode == 0, result.stderr
    assert "preference pairs" in result.stdout
    pairs = read_rows(out)
    assert pairs, "no problem had a correct and an incorrect sample"
    samples = {r["id"]: r for r in read_rows(sampled) + read_rows(sampled, split="rejected")}
    for pair in pairs:
        chosen, rejected = samples[pair["chosen_id"]], samples[pair["rejected_id"]]
        assert is_good(chosen) and rejected["reward_accuracy"] == 0.0
        assert chosen["problem_id"] == rejected["problem_id"] == pair["problem_id"]
        assert pair["chosen"] == [{"role": "assistant", "content": chosen["completion"]}]
        assert [m["role"] for m in pair["prompt"]] == ["system", "user"]
    manifest = read_manifest(out)
    assert manifest["counts"]["pairs"] == len(pairs)
    assert "pairs" in (out / "README.md").read_text()

    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from generators.models import DEFAULT_MODEL, resolve_model

    torch.manual_seed(0)
    path = resolve_model(DEFAULT_MODEL).path
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if "layers.0." in n}
    dataset = datasets.Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
    config = DPOConfig(
        output_dir=str(tmp_path / "dpo"),
        max_steps=2,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=1,
        learning_rate=1e-5,
        max_length=384,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        bf16=False,  # DPOConfig defaults to bf16: on a CPU without bf16 instructions a step took 168 s, not 19
    )
    trainer = DPOTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    trainer.train()
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == 2 and all(torch.isfinite(torch.tensor(h["loss"])) for h in logged)
    assert any("rewards/chosen" in h for h in trainer.state.log_history)
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters() if n in before)
