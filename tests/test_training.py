"""The TRL stages for a few steps on the embedded model, the evaluator, and bad recipes."""

import contextlib
import json
import math
import time

import pytest

from r1f.io import read_rows
from tests.conftest import run_r1f
from tests.test_coldstart import write_messy
from training.config import GRPOTrainConfig, emulated_bf16_notice

TINY_GRPO = [
    "--set",
    "max_steps=2",
    "--set",
    "n_problems=2",
    "--set",
    "max_completion_length=16",
    "--set",
    "num_generations=2",
    "--set",
    "per_device_train_batch_size=2",
    "--set",
    "prompt_template=r1-zero",
    "--set",
    "save_strategy=no",
]


def test_grpo_runs_saves_a_loadable_model_and_logs_finite_rewards(tmp_path, model_dir):
    out = tmp_path / "r1-zero"
    result = run_r1f("train", "grpo", *TINY_GRPO, "--output-dir", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "r1f_training.json").read_text())
    assert summary["steps"] == 2 and summary["rewards"] == {"accuracy": 1.0, "format": 0.5, "tag_count": 0.5}
    assert summary["shared_prompt_batches"] >= 2  # the loss ran the shared prompt pass, not TRL's fallback
    logs = summary["final_logs"]
    for name in ("accuracy", "format", "tag_count"):
        assert math.isfinite(logs[f"rewards/{name}/mean"])
    card = (out / "README.md").read_text()
    assert "r1-factory" in card and "prompt_template: r1-zero" in card and "builtin" in card
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(out).num_parameters() > 1e8


@pytest.fixture(scope="module")
def cold_start(tmp_path_factory):
    """A factory-made cold_start dataset (rule refinement: deterministic, no model needed)."""
    work = tmp_path_factory.mktemp("cs")
    source = write_messy(work / "r1zero.jsonl")
    out = work / "cold_start"
    result = run_r1f("cold-start", "--method", "refine", "--problems", str(source), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_sft_loss_falls_and_the_model_learns_to_stop(tmp_path, cold_start):
    out = tmp_path / "r1-sft"
    result = run_r1f(
        "train",
        "sft",
        "--set",
        f"dataset={cold_start}",
        "--set",
        "max_steps=4",
        "--set",
        "learning_rate=1e-4",
        "--set",
        "per_device_train_batch_size=5",
        "--set",
        "save_strategy=no",
        "--output-dir",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "r1f_training.json").read_text())
    losses = summary["losses"]
    assert len(losses) == 4 and losses[-1] < losses[0], losses
    # the trained model ends its turn (EOS) before the budget on a prompt it was trained on
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.pad_token_id != tokenizer.eos_token_id
    model = AutoModelForCausalLM.from_pretrained(out)
    row = read_rows(cold_start)[0]
    ids = tokenizer.apply_chat_template(
        row["messages"][:-1], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.inference_mode():
        generated = model.generate(**ids, max_new_tokens=120, do_sample=False)
    new = generated[0, ids["input_ids"].shape[1] :].tolist()
    assert tokenizer.eos_token_id in new and len(new) < 120


def test_eval_pass_at_1_equals_the_fraction_recomputed_from_saved_completions(tmp_path, model_dir):
    out = tmp_path / "eval"
    result = run_r1f(
        "eval", "smollm2-135m", "--out", str(out), "--n-problems", "6", "--k", "2", "--max-new-tokens", "48"
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "eval.json").read_text())
    from filters.rewards.accuracy import Accuracy

    greedy = read_rows(out / "greedy")
    correct = Accuracy()([r["completion"] for r in greedy], solution=[r["solution"] for r in greedy])
    assert len(greedy) == 6 and metrics["pass@1"] == round(sum(c == 1.0 for c in correct) / 6, 4)
    sampled = read_rows(out / "sampled")
    assert len(sampled) == 12 and 0.0 <= metrics["pass@2"] <= 1.0
    by_problem = {}
    for row, ok in zip(
        sampled, Accuracy()([r["completion"] for r in sampled], solution=[r["solution"] for r in sampled])
    ):
        by_problem.setdefault(row["problem_id"], []).append(ok == 1.0)
    assert metrics["pass@2"] == round(sum(any(v) for v in by_problem.values()) / 6, 4)
    assert "pass@1" in result.stdout and (out / "eval.md").is_file()


def _one_line(result, *needles):
    assert result.returncode == 1, result.stdout[-2000:]
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0]


def test_bad_recipes_fail_in_one_line_before_any_model_loads(tmp_path):
    nomsg = tmp_path / "nomsg.jsonl"
    nomsg.write_text(json.dumps({"text": "hello"}) + "\n")
    started = time.time()
    _one_line(run_r1f("train", "sft", "--set", f"dataset={nomsg}"), "'messages' column", "text")
    _one_line(run_r1f("train", "grpo", "--set", f"dataset={nomsg}"), "neither 'prompt'")
    _one_line(run_r1f("train", "grpo", "--set", "rewards=accuracy,vibes,format"), "unknown reward 'vibes'")
    _one_line(run_r1f("train", "grpo", "--set", "learning_rat=1e-6"), "learning_rat", "did you mean learning_rate")
    _one_line(run_r1f("train", "sft", "--recipe", "nope"), "no recipe 'nope'", "r1-zero-smollm2")
    _one_line(
        run_r1f("train", "grpo", "--set", "top_k=20"), "top_k=20 is not supported by the factory rollout", "rollout"
    )
    _one_line(run_r1f("train", "grpo", "--set", "rollout=vllm"), "rollout 'vllm'", "factory or trl")
    assert time.time() - started < 110  # seven failures, none of which loaded a model


def test_recipe_values_read_as_people_write_them():
    from training.config import load_recipe

    recipe = load_recipe("r1-zero-smollm2", ["save_strategy=no", "use_vllm=true", "learning_rate=1e-6", "max_steps=3"])
    assert recipe["save_strategy"] == "no" and recipe["use_vllm"] is True
    assert recipe["learning_rate"] == 1e-6 and recipe["max_steps"] == 3


def test_a_truncated_completion_gets_no_accuracy_reward():
    """Open-Reasoner-Zero's rule: a completion cut at the limit is not paid, however its last number reads."""
    from transformers import AutoTokenizer

    from filters.rewards.accuracy import Accuracy
    from generators.models import DEFAULT_MODEL, resolve_model
    from training.grpo import TruncatedZero

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL).path)
    eos = tokenizer.eos_token_id
    reward = TruncatedZero(Accuracy(), "accuracy", limit=8, eos=eos)
    completions = ["<answer>14</answer>", "<answer>14</answer>", "<answer>14</answer>", "<answer>13</answer>"]
    ids = [[5] * 7 + [eos], [5] * 8, [5] * 3, [5] * 8]  # finished at the limit; cut; short; cut and wrong
    assert Accuracy()(completions, solution=["14"] * 4) == [1.0, 1.0, 1.0, 0.0]
    assert reward(completions, completion_ids=ids, solution=["14"] * 4) == [1.0, 0.0, 1.0, 0.0]
    assert reward.__name__ == "accuracy"


def test_grpo_prompt_selection_measures_pass_rates_with_the_model_and_orders_a_curriculum(tmp_path):
    out = tmp_path / "sel"
    select = ["--set", "select_k=2", "--set", "select_pass_rate=0:1", "--set", "curriculum=true"]
    result = run_r1f("train", "grpo", *TINY_GRPO, *select, "--output-dir", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "r1f_training.json").read_text())
    assert summary["prompt_selection"] == {"k": 2, "measured": 2, "kept": 2, "dropped": {}}
    assert "Prompt selection: 2 of 2 prompts kept after 2 samples" in (out / "README.md").read_text()
    assert (tmp_path / ".sel.select").is_dir()  # the samples resume from their store
    assert "prompts measured (k=2)" in result.stdout

    # no prompt with a signal: one line before training, saying what to change
    hard = ["--set", "families=[multistep]", "--set", "difficulties=[3]", "--set", "select_k=2"]
    result = run_r1f("train", "grpo", *TINY_GRPO, *hard, "--output-dir", str(tmp_path / "hard"))
    assert result.returncode != 0
    assert "prompt selection kept none of 2 prompts (all_wrong 2)" in result.stderr
    assert not (tmp_path / "hard" / "model.safetensors").exists()


def test_curriculum_reads_labelled_pass_rates_or_says_what_it_needs(tmp_path):
    rows = [
        {"problem": "What is 2 + 3?", "solution": "5", "lang": "en", "pass_rate": 0.25},
        {"problem": "What is 4 + 4?", "solution": "8", "lang": "en", "pass_rate": 0.75},
    ]
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plain = tmp_path / "plain.jsonl"
    plain.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "pass_rate"}) + "\n" for r in rows))
    args = [*TINY_GRPO, "--set", "curriculum=true"]
    result = run_r1f("train", "grpo", *args, "--set", f"dataset={plain}", "--output-dir", str(tmp_path / "p"))
    assert result.returncode != 0 and "curriculum needs measured pass rates" in result.stderr
    result = run_r1f("train", "grpo", *args, "--set", f"dataset={labelled}", "--output-dir", str(tmp_path / "l"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "l" / "r1f_training.json").read_text())["recipe"]["curriculum"] is True


def test_grpo_with_trls_own_generation_still_trains(tmp_path, model_dir):
    out = tmp_path / "r1-zero-trl"
    result = run_r1f(
        "train", "grpo", *TINY_GRPO, "--set", "max_steps=1", "--set", "rollout=trl", "--output-dir", str(out)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "r1f_training.json").read_text())
    assert summary["steps"] == 1 and summary["recipe"]["rollout"] == "trl"
    assert math.isfinite(summary["final_logs"]["rewards/accuracy/mean"])


def test_the_factory_rollout_samples_groups_with_a_bf16_copy_refreshed_every_step(tmp_path, model_dir):
    import torch
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from filters.registry import parse_rewards
    from training.grpo import grpo_rows
    from training.rollout import FactoryRollout

    config = GRPOTrainConfig.from_mapping({"n_problems": 2, "prompt_template": "r1-zero", "languages": ["en"]})
    rows = grpo_rows(config)
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        bf16=False,
        max_steps=2,
        learning_rate=1e-3,
        # four per group: two samples of one prompt can be the same text, and then their opposite advantages
        # cancel and the step changes nothing
        num_generations=4,
        per_device_train_batch_size=4,
        max_completion_length=12,
        save_strategy="no",
        report_to=[],
        logging_steps=1,
    )
    rollout = FactoryRollout(12, 1.0, 1.0, seed=0, dtype="bfloat16")
    lengths: list[int] = []

    def length_reward(completions, completion_ids=None, **kwargs):
        lengths.extend(len(ids) for ids in completion_ids)
        return [0.0 if i % 2 else 1.0 for i in range(len(completions))]  # unequal, so the group has an advantage

    trainer = GRPOTrainer(
        model=model_dir,
        reward_funcs=[length_reward, parse_rewards("format")[0].fn],
        args=args,
        train_dataset=Dataset.from_list(rows),
        rollout_func=rollout,
    )
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    assert trainer.state.global_step == 2 and len(lengths) == 8 and all(1 <= n <= 12 for n in lengths)
    shadow = rollout.shadow.state_dict()
    assert all(t.dtype == torch.bfloat16 for t in shadow.values())
    assert rollout.synced_step == 1  # refreshed at the second step, from the weights the first step made
    name = "model.layers.0.mlp.down_proj.weight"
    assert not torch.equal(shadow[name], before[name].to(torch.bfloat16))


def test_the_shared_prompt_pass_gives_trls_log_probs_entropies_and_gradient(model_dir):
    # Oracle: TRL's own fused LM head on the whole rows. Two prompts (one left-padded), two completions each
    # (some right-padded), as TRL lays out a GRPO batch.
    import torch
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    from training.shared_prompt import prompt_groups, shared_prompt_logps

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).train()
    add_fused_lm_head(model, temperature=0.9, outputs=("log_probs", "entropy"))
    prompts = [([0] * 3 + list(range(200, 230)), [0] * 3 + [1] * 30), (list(range(300, 333)), [1] * 33)]
    completions = [
        (list(range(400, 420)), [1] * 20),
        (list(range(500, 515)) + [0] * 5, [1] * 15 + [0] * 5),
        (list(range(600, 620)), [1] * 20),
        (list(range(700, 712)) + [0] * 8, [1] * 12 + [0] * 8),
    ]
    ids = torch.tensor([prompts[i // 2][0] + c[0] for i, c in enumerate(completions)])
    mask = torch.tensor([prompts[i // 2][1] + c[1] for i, c in enumerate(completions)])
    assert prompt_groups(ids[:, :33], mask[:, :33]) == [[0, 1], [2, 3]]
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :-20] = -100
    theirs = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True)
    theirs.log_probs[:, -20:].sum().backward()
    weight = model.model.layers[0].self_attn.q_proj.weight
    their_grad = weight.grad.clone()
    model.zero_grad()
    logps, entropies = shared_prompt_logps(model, ids, mask, 20, 0.9, compute_entropy=True)
    logps.sum().backward()
    assert torch.allclose(logps, theirs.log_probs[:, -20:], atol=1e-4)
    assert torch.allclose(entropies, theirs.entropy[:, -20:], atol=1e-4)
    assert (logps[1, 15:] == 0).all() and (logps[1, :15] < 0).all()  # padding scores 0, as in TRL
    assert (weight.grad - their_grad).norm() <= 1e-4 * their_grad.norm()


def test_the_compact_head_gives_trls_loss_metrics_and_gradient_from_the_labelled_positions_only(model_dir):
    # Oracle: TRL's fused LM head as it runs on CPU (every position projected, unlabelled ones zeroed after).
    # An SFT batch as TRL's collator lays it out: prompts masked with -100, rows right-padded.
    import torch
    from transformers import AutoModelForCausalLM
    from trl.trainer import utils

    from training.compact_head import labelled_positions_only

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).train()
    utils.add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    ids = torch.tensor([list(range(200, 240)), list(range(300, 330)) + [2] * 10])
    mask = torch.tensor([[1] * 40, [1] * 30 + [0] * 10])
    labels = ids.masked_fill(mask == 0, -100)
    labels[0, :25] = -100
    labels[1, :12] = -100
    projected = []
    apply = utils._ChunkedLogProbFunction.apply

    def counting(hidden, *args):  # a spy that calls through: how many positions reach the vocabulary projection
        projected.append(hidden.shape[0])
        return apply(hidden, *args)

    weights = (model.lm_head.weight, model.model.layers[3].mlp.down_proj.weight)
    results = []
    utils._ChunkedLogProbFunction.apply = counting
    try:
        for compact in (False, True):
            model.zero_grad()
            with labelled_positions_only() if compact else contextlib.nullcontext():
                out = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True)
            out.loss.backward()
            results.append((out, [w.grad.clone() for w in weights]))
    finally:
        utils._ChunkedLogProbFunction.apply = apply
    assert projected == [2 * 39, 15 + 18]  # every shifted position, then only the labelled ones
    (theirs, their_grads), (ours, our_grads) = results
    assert torch.allclose(ours.loss, theirs.loss, atol=1e-5)
    for field in ("log_probs", "entropy"):
        assert torch.allclose(getattr(ours, field), getattr(theirs, field), atol=1e-4), field
    assert torch.equal(ours.is_top1, theirs.is_top1) and torch.equal(ours.label_mask, theirs.label_mask)
    assert ours.label_mask.sum() == 33 and (ours.log_probs[~ours.label_mask] == 0).all()
    for mine, theirs_grad in zip(our_grads, their_grads):
        assert (mine - theirs_grad).norm() <= 1e-4 * theirs_grad.norm()
    assert utils._use_triton(torch.device("cpu")) is False  # TRL's own decision is back after the block


def test_shared_prompt_refuses_gradient_checkpointing_in_one_line():
    from r1f.errors import ConfigError

    with pytest.raises(ConfigError, match="shared_prompt needs gradient_checkpointing: false"):
        GRPOTrainConfig.from_mapping({"gradient_checkpointing": True}).validate()
    config = GRPOTrainConfig.from_mapping({"gradient_checkpointing": True, "shared_prompt": False})
    config.validate()
    assert config.trl_kwargs("out")["gradient_checkpointing"] is True
    assert GRPOTrainConfig.from_mapping({}).trl_kwargs("out")["gradient_checkpointing"] is False


def test_every_shipped_grpo_recipe_loads_and_passes_the_rollout_checks():
    # r1-zero-qwen asked for vLLM while the factory rollout became the default: it failed to start
    from pathlib import Path

    from training.config import load_recipe
    from training.rollout import check_rollout_args

    recipes = sorted((Path(__file__).resolve().parents[1] / "training" / "recipes").glob("*.yaml"))
    grpo = [p for p in recipes if "num_generations" in load_recipe(str(p))]
    assert len(grpo) >= 3
    for path in grpo:
        config = GRPOTrainConfig.from_mapping({"recipe": str(path)})
        config.validate()
        if config.rollout == "factory":
            check_rollout_args(config.trl_kwargs("out"))


def test_bf16_on_a_cpu_without_bf16_instructions_is_named_before_it_trains_slowly():
    # the flag sets stand for two CPUs: this machine has one of them, never both
    notice = emulated_bf16_notice(True, {"avx2", "fma"})
    assert notice and "emulated" in notice and "bf16=false" in notice
    assert emulated_bf16_notice(True, {"avx2", "avx512_bf16"}) is None
    assert emulated_bf16_notice(False, {"avx2"}) is None
