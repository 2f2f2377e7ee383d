"""``r1f train sft``: R1 stage 1 (cold start), stage 2 (rejection sampled) and distillation, via TRL's SFTTrainer.

Two details decide whether the trained model stops: the loss must cover the assistant turns
*including* their end-of-turn token, and that token must not be masked as padding. SmolLM2's chat
template has no ``{% generation %}`` markers, so ``assistant_only_loss`` cannot work with it; the
stage installs a ChatML template that has them (``templates/chatml_generation.jinja``), and when the
pad token equals EOS it gives padding its own token.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from r1f.errors import ConfigError, DataError
from r1f.step import Progress
from training.compact_head import labelled_positions_only
from training.config import SFTTrainConfig

TEMPLATES = Path(__file__).parent / "templates"
CHAT_TEMPLATES = {"chatml-generation": TEMPLATES / "chatml_generation.jinja"}


def sft_rows(config: SFTTrainConfig) -> list[dict[str, Any]]:
    """Conversational rows (``messages`` only) from a factory SFT dataset."""
    from r1f.io import read_rows

    source = config.dataset
    if not source:
        raise ConfigError("the SFT stage needs a dataset: --set dataset=datasets_out/cold_start (or in the recipe)")
    rows = read_rows(source, split=config.dataset_split)
    if "messages" not in rows[0]:
        raise DataError(
            f"{source}: SFT needs a 'messages' column (chat turns); columns are: {', '.join(rows[0])}. "
            "Make one with r1f cold-start, r1f sample or r1f distill"
        )
    from r1f.schema import message_problem

    out = []
    for i, row in enumerate(rows):
        messages = row["messages"]
        problem = message_problem(messages)
        if problem:
            raise DataError(f"{source}: row {i + 1}: 'messages' {problem}; fix the row or drop it")
        if messages[-1].get("role") != "assistant":
            raise DataError(f"{source}: row {i + 1}: messages must end with an assistant turn")
        out.append({"messages": [{"role": m["role"], "content": m["content"]} for m in messages]})
    return out


def trained_template(rows: list[dict[str, Any]]) -> str:
    """The prompt template a model trained on ``rows`` should be evaluated with: its system turn's template."""
    from generators.prompts import SFT_SYSTEM

    systems = {r["messages"][0]["content"] for r in rows if r["messages"][0]["role"] == "system"}
    for fmt, text in SFT_SYSTEM.items():
        if systems == {text}:
            return f"sft-{fmt}"
    return "plain" if not systems else "custom"


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


def run_sft(config: SFTTrainConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Supervised fine-tuning as ``config`` says; returns the summary written into the model card."""
    from trl import SFTConfig

    from training.lifecycle import (
        drop_checkpoints,
        last_logs,
        prepare_output,
        progress_callback,
        quiet_libraries,
        quiet_trainer,
        write_card,
    )

    rows = sft_rows(config)
    trl = config.trl_kwargs("datasets_out/models/r1-sft")
    if config.chat_template:
        trl.setdefault("assistant_only_loss", True)
    try:
        args = SFTConfig(**trl)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"SFT settings rejected by TRL: {str(err).splitlines()[0]}") from None

    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTTrainer

    from generators.models import resolve_model

    path = resolve_model(config.model).path
    quiet_libraries()
    tokenizer = prepare_tokenizer(path, config.chat_template)
    model = AutoModelForCausalLM.from_pretrained(path)
    started = time.time()
    checkpoint = prepare_output(config, Path(args.output_dir))
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[progress_callback(progress)],
    )
    quiet_trainer(trainer)
    with labelled_positions_only() if config.compact_head else nullcontext():
        trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model(args.output_dir)
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(args.output_dir)
    summary = {
        "stage": "sft",
        "base_model": config.model,
        "dataset": config.dataset,
        "rows": len(rows),
        "template": trained_template(rows),
        "steps": trainer.state.global_step,
        "resumed_from": checkpoint,
        "seconds": round(time.time() - started, 1),
        "losses": [e["loss"] for e in trainer.state.log_history if "loss" in e],
        "final_logs": last_logs(trainer.state.log_history),
        "log_history": trainer.state.log_history,
        "recipe": config.flat(),
    }
    if trainer.is_world_process_zero():
        write_card(Path(args.output_dir), summary)
        drop_checkpoints(config, Path(args.output_dir))
    return summary
