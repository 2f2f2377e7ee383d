"""``r1f train sft``: R1 stage 1 (cold start), stage 2 (rejection sampled) and distillation, via TRL's SFTTrainer.

Two details decide whether the trained model stops: the loss must cover the assistant turns
*including* their end-of-turn token, and that token must not be masked as padding. SmolLM2's chat
template has no ``{% generation %}`` markers, so ``assistant_only_loss`` cannot work with it; the
stage installs a ChatML template that has them (``templates/chatml_generation.jinja``), and when the
pad token equals EOS it gives padding its own token.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from r1f.errors import ConfigError, DataError

TEMPLATES = Path(__file__).parent / "templates"
CHAT_TEMPLATES = {"chatml-generation": TEMPLATES / "chatml_generation.jinja"}


def sft_rows(ours: dict[str, Any]) -> list[dict[str, Any]]:
    """Conversational rows (``messages`` only) from a factory SFT dataset."""
    from r1f.io import read_rows

    source = ours["dataset"]
    if not source:
        raise ConfigError("the SFT stage needs a dataset: --set dataset=datasets_out/cold_start (or in the recipe)")
    rows = read_rows(source, split=ours["dataset_split"])
    if "messages" not in rows[0]:
        raise DataError(
            f"{source}: SFT needs a 'messages' column (chat turns); columns are: {', '.join(rows[0])}. "
            "Make one with r1f cold-start, r1f sample or r1f distill"
        )
    out = []
    for i, row in enumerate(rows):
        messages = row["messages"]
        if not messages or messages[-1].get("role") != "assistant":
            raise DataError(f"{source}: row {i + 1}: messages must end with an assistant turn")
        out.append({"messages": [{"role": m["role"], "content": m["content"]} for m in messages]})
    return out


def prepare_tokenizer(model_path: str, chat_template: str | None) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if chat_template:
        if chat_template not in CHAT_TEMPLATES:
            raise ConfigError(f"unknown chat_template {chat_template!r}; choose {', '.join(CHAT_TEMPLATES)} or null")
        tokenizer.chat_template = CHAT_TEMPLATES[chat_template].read_text()
    if tokenizer.pad_token_id is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        # padding gets its own token, so no collator can ever mistake the real end of a turn for padding
        for candidate in ("<|endoftext|>", "<pad>", "<|pad|>"):
            if candidate in tokenizer.get_vocab() and candidate != tokenizer.eos_token:
                tokenizer.pad_token = candidate
                break
    return tokenizer


def run_sft(recipe: dict[str, Any], *, output_dir: str | None = None, resume: bool = False) -> dict[str, Any]:
    """Supervised fine-tuning as ``recipe`` says; returns the summary written into the model card."""
    from trl import SFTConfig

    from training.config import device_defaults, split_recipe
    from training.grpo import _last_logs, write_card

    ours, trl = split_recipe("sft", recipe, SFTConfig)
    rows = sft_rows(ours)
    trl = device_defaults(trl)
    trl["output_dir"] = output_dir or trl.get("output_dir") or "datasets_out/models/r1-sft"
    if ours["chat_template"]:
        trl.setdefault("assistant_only_loss", True)
    try:
        config = SFTConfig(**trl)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"SFT settings rejected by TRL: {str(err).splitlines()[0]}") from None

    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTTrainer

    from generators.models import resolve_model

    path = resolve_model(ours["model"]).path
    tokenizer = prepare_tokenizer(path, ours["chat_template"])
    model = AutoModelForCausalLM.from_pretrained(path)
    started = time.time()
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    trainer.train(resume_from_checkpoint=True if resume else None)
    trainer.save_model(config.output_dir)
    tokenizer.save_pretrained(config.output_dir)
    summary = {
        "stage": "sft",
        "base_model": ours["model"],
        "dataset": ours["dataset"],
        "rows": len(rows),
        "steps": trainer.state.global_step,
        "seconds": round(time.time() - started, 1),
        "losses": [e["loss"] for e in trainer.state.log_history if "loss" in e],
        "final_logs": _last_logs(trainer.state.log_history),
        "recipe": recipe,
    }
    write_card(Path(config.output_dir), summary)
    return summary
