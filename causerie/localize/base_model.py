"""Find and load the model to localize: a registered id, a GGUF file or a Hugging Face folder.

transformers reads GGUF (dequantizing the weights to float32) but marks such a model quantized and
then refuses to train or save it, although its weights are dense: the mark is cleared, the model is
saved once as a plain Hugging Face folder in a cache keyed by the file's hash, and every later load
reads that folder.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from causerie.errors import CauserieError, ModelNotFound
from causerie.localize.errors import LocalizeError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from causerie.models.registry import ModelRegistry


@dataclass(frozen=True)
class BaseWeights:
    """The base as the pipeline sees it."""

    id: str
    """Registry id, or the file/folder name when given as a path."""
    folder: Path
    """A Hugging Face model folder (config.json, weights, tokenizer)."""
    source: Path
    """What the user named: the GGUF file or the folder."""
    sha256: str | None
    """Of the GGUF file; None for folders."""


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_base(name: str, registry: ModelRegistry) -> tuple[str, Path]:
    """(id, path) of the base: a registered model id, else a path to a Hugging Face folder or a GGUF file."""
    try:
        spec = registry.get(name)
    except ModelNotFound as unknown:
        return _base_at(Path(name).expanduser(), unknown)
    except CauserieError as exc:
        raise LocalizeError(f"the base model '{name}' cannot be used: {exc.message}", param="base_model") from None
    if spec.path is None:
        raise LocalizeError(f"the model '{name}' has no weights file to train from", param="base_model")
    return spec.id, spec.path


def _base_at(path: Path, unknown: ModelNotFound) -> tuple[str, Path]:
    from causerie.models.registry import model_id_from_filename

    if path.is_dir():
        if not (path / "config.json").is_file():
            raise LocalizeError(f"{path} is not a Hugging Face model folder (no config.json)", param="base_model")
        return path.name.lower(), path
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise LocalizeError(f"{path} is neither a .gguf file nor a model folder", param="base_model")
        return model_id_from_filename(path.name), path
    raise LocalizeError(f"unknown base model '{path}': {unknown.message}", param="base_model")


def prepare_base(name: str, registry: ModelRegistry, cache_dir: Path) -> BaseWeights:
    """Resolve ``name`` and make sure a trainable Hugging Face folder of it exists (converted once, cached)."""
    model_id, path = resolve_base(name, registry)
    if path.is_dir():
        return BaseWeights(id=model_id, folder=path, source=path, sha256=None)
    sha256 = _file_sha256(path)
    folder = cache_dir / f"{model_id}-{sha256[:16]}"
    if not (folder / "config.json").is_file():
        _gguf_to_folder(path, folder)
    return BaseWeights(id=model_id, folder=folder, source=path, sha256=sha256)


def _gguf_to_folder(path: Path, folder: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except (ValueError, OSError, KeyError, RuntimeError) as exc:
        raise LocalizeError(f"transformers cannot load {path} for training: {exc}", param="base_model") from exc
    # Loaded from GGUF: dense float32 weights, but flagged as quantized (which blocks saving and training).
    model.hf_quantizer = None  # type: ignore[assignment]  # attributes transformers sets but does not declare
    model.is_quantized = False  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    temp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    model.save_pretrained(temp)
    tokenizer.save_pretrained(temp)
    shutil.rmtree(folder, ignore_errors=True)
    temp.rename(folder)


def load_model(folder: Path, device: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model (float32, eval mode, on ``device``) and its tokenizer (with a pad token)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model = model.to(device)  # type: ignore[arg-type]  # transformers' decorated PreTrainedModel.to loses its self type
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(tokenizer, "chat_template", None) is None:
        raise LocalizeError(f"the model in {folder} has no chat template; a chat model is needed", param="base_model")
    model.eval()
    return model, tokenizer


def pick_device(choice: str) -> str:
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise LocalizeError("device 'cuda' was asked for but no CUDA device is available", param="device")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


def model_summary(model: Any) -> dict[str, Any]:
    config = model.config
    return {
        "architecture": (config.architectures or [type(model).__name__])[0],
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": config.vocab_size,
    }
