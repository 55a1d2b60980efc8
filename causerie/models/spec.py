"""What one servable model is (shared by the registry and the modules that find models)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from causerie.config import Settings
from causerie.engine.base import Engine
from causerie.engine.embedding import Embedder

ModelSource = Literal["embedded", "file", "directory", "custom", "localized", "upstream"]
Capability = Literal["chat", "embedding"]
"""What a model is served for: generating text (chat and completions) or embeddings."""

# A final quantization tag: -Q4_K_M, .Q4_1, -q8_0, -IQ4_XS, -F16, -BF16, -fp32 …
_QUANT_SUFFIX = re.compile(r"[-_. ](?:i?q\d+(?:_[a-z0-9]+)*|b?f(?:16|32)|fp(?:16|32))$", re.IGNORECASE)


@dataclass(frozen=True)
class ModelSpec:
    """One servable model."""

    id: str
    path: Path | None
    """The GGUF file; None for engines that are not files (test fakes)."""
    source: ModelSource
    created: int
    """Unix time: the file's mtime, or when the spec was made."""
    description: str = ""
    context_length: int | None = None
    """Training context from the GGUF metadata."""
    factory: Callable[[Settings], Engine | Embedder] | None = None
    """Builds a custom engine (an ``Embedder`` for an embedding model); None means llama.cpp on ``path``."""
    language: str | None = None
    """ISO 639-1 code of the language a localized model was adapted to."""
    engine: str = "llama.cpp"
    """What runs it: ``llama.cpp`` in this process, ``upstream:<names>`` for a remote model."""
    organization_id: str | None = None
    """The organization that owns it (a localized model: whose run produced it); None: served to every one."""
    capability: Capability = "chat"
    matryoshka: bool = False
    """An embedding model trained so that a vector's first dimensions, renormalized, are a vector too."""


def model_id_from_filename(filename: str) -> str:
    """Derive a model id: ``Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf`` -> ``qwen2.5-coder-0.5b-instruct``."""
    stem = re.sub(r"\.gguf$", "", filename.strip(), flags=re.IGNORECASE)
    stem = _QUANT_SUFFIX.sub("", stem)
    stem = re.sub(r"(?<!\d)\.|\.(?!\d)", "-", stem.lower())  # keep only version dots (2.5, 0.5b)
    stem = re.sub(r"[^a-z0-9.]+", "-", stem)
    return stem.strip("-.") or "model"
