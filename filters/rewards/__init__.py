"""Reward functions with TRL's signature ``f(completions, **columns) -> list[float | None]``.

One module per family: ``accuracy`` (accuracy, cosine, length), ``format`` (format, tag_count,
reasoning_steps), ``penalties`` (repetition_penalty, soft_overlong_punishment), ``language``
(language_consistency). Look them up by name through :mod:`filters.registry`.
"""
