"""Scoring and selecting completions: reward functions (TRL signature) and the filter step."""
