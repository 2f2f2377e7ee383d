"""Thin TRL stages (GRPO, SFT) configured by YAML recipes, and the evaluator."""
