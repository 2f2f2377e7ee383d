"""SFT on CPU projects through the vocabulary only the positions it learns from.

TRL's fused LM head turns hidden states into per-token log-probabilities in tiles of the 49k-token
vocabulary. On Triton devices it first keeps the positions whose label counts; on every other device
it projects all positions (the prompt, the padding) and zeroes the unused ones afterwards, so that
compiled backends (Neuron) see one tile shape per batch. The CPU compiles nothing, so there it is pure
waste: in the factory's SFT rows the prompt is about half of each row and padding a fifth of a batch,
and the head is about a quarter of a CPU step's arithmetic (its backward recomputes each tile). Keeping
the labelled positions first is TRL's own code path on GPUs; the log-probabilities, the loss and the
gradient are the same up to float rounding (tests/test_training.py; bench/sft_step.py measures the step).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def labelled_positions_only() -> Iterator[bool]:
    """Within the block, TRL's fused head keeps only labelled positions on the CPU as it does on GPUs.

    Yields whether it could: a TRL whose fused head decides this another way is left alone (the stage
    then trains exactly as TRL does, only slower).
    """
    try:
        from trl.trainer import utils
    except ImportError:
        yield False
        return
    triton_device = getattr(utils, "_use_triton", None)
    if triton_device is None or getattr(triton_device, "_r1f_compact", False):
        yield triton_device is not None
        return

    def compact(device) -> bool:  # noqa: ANN001 - a torch.device
        return device.type == "cpu" or triton_device(device)

    compact._r1f_compact = True  # type: ignore[attr-defined]
    utils._use_triton = compact
    try:
        yield True
    finally:
        utils._use_triton = triton_device
