"""One validated settings object, built at start-up and passed down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from causerie.runs import (
    DEFAULT_MAXIMUMS,
    CpuSeconds,
    FileSizeMiB,
    Limits,
    MemoryMiB,
    OpenFileCount,
    OutputBytes,
    ProcessCount,
    WallSeconds,
)


def default_data_dir() -> Path:
    """Per-user data folder (XDG on Linux)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "causerie"


class Settings(BaseSettings):
    """Causerie configuration; every field can be set with a ``CAUSERIE_`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="CAUSERIE_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    data_dir: Path = Field(default_factory=default_data_dir, description="Where Causerie keeps its files.")
    models_dir: Path | None = Field(None, description="Folder scanned for extra .gguf models.")
    model_paths: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Extra GGUF files to serve (CAUSERIE_MODEL_PATHS, comma-separated)."
    )
    default_model: str | None = Field(
        None, description="Model id used when a client asks for none (default: the best embedded model)."
    )
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Accepted API keys (comma-separated); empty means no authentication."
    )
    auth: Literal["auto", "required"] = Field(
        "auto",
        description="auto: personal mode (no key needed, unless api_keys) until an organization exists; "
        "required: organization mode from the start (every request needs an organization's key).",
    )
    preview_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Model ids served only to the organizations granted them (CAUSERIE_PREVIEW_MODELS, comma-separated).",
    )
    context_length: int = Field(
        4096, ge=256, description="Context window per sequence, capped by the model's own training context."
    )
    max_request_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted, in bytes (a bigger one is answered 413 before it is read); "
        "file uploads (multipart) have their own limit, max_upload_bytes.",
    )
    max_upload_bytes: int = Field(
        512 * 1024 * 1024,
        ge=1024,
        description="Largest file upload (a multipart/form-data body: a ChatGPT export, a localization corpus), "
        "in bytes; uploads are spooled to disk as they arrive, not held in memory.",
    )
    parallel: int = Field(4, ge=1, le=64, description="Sequences one model decodes at once; more requests queue.")
    max_queued: int = Field(
        64,
        ge=1,
        description="Requests that may wait for one model (admitted, not yet given a slot: being tokenized or "
        "queued); one more is answered 503 with Retry-After.",
    )
    threads: int | None = Field(None, ge=1, description="CPU threads for inference (default: all cores).")
    default_locale: str | None = Field(
        None, description="Locale profile for requests that name none (fr-FR, ja-JP, en-US)."
    )
    preload: bool = Field(True, description="Load the default model when the server starts.")
    database_url: str | None = Field(
        None, description="Conversation store (SQLAlchemy URL, e.g. postgresql://...); default: SQLite in data_dir."
    )
    otlp_endpoint: str | None = Field(
        None,
        description="OpenTelemetry collector (OTLP over HTTP, e.g. http://collector:4318) that receives traces; "
        "unset: no traces.",
    )
    language_consistency: bool = Field(
        True, description="Check that chat replies are in the user's language; ask again or translate when not."
    )
    # The most a request's sandbox ``limits`` may ask for (the code endpoints and ``causerie code``).
    sandbox_max_wall_seconds: WallSeconds = Field(
        DEFAULT_MAXIMUMS.wall_seconds, description="Longest wall-clock time of one sandboxed run, seconds."
    )
    sandbox_max_cpu_seconds: CpuSeconds = Field(
        DEFAULT_MAXIMUMS.cpu_seconds, description="Most CPU time of one sandboxed run, seconds."
    )
    sandbox_max_memory_mb: MemoryMiB = Field(
        DEFAULT_MAXIMUMS.memory_mb, description="Largest address space of a sandboxed process, MiB."
    )
    sandbox_max_file_size_mb: FileSizeMiB = Field(
        DEFAULT_MAXIMUMS.file_size_mb, description="Largest file a sandboxed program may write, MiB."
    )
    sandbox_max_processes: ProcessCount = Field(
        DEFAULT_MAXIMUMS.processes, description="Most processes and threads of one sandboxed run."
    )
    sandbox_max_open_files: OpenFileCount = Field(
        DEFAULT_MAXIMUMS.open_files, description="Most open files of a sandboxed process."
    )
    sandbox_max_output_bytes: OutputBytes = Field(
        DEFAULT_MAXIMUMS.output_bytes, description="Most stdout (and stderr) a sandboxed run may print, bytes."
    )

    upstreams: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="OpenAI-compatible servers whose models are served too (CAUSERIE_UPSTREAMS, comma-separated "
        "base URLs such as http://gpu-a:8000/v1); several serving one model are replicas.",
    )
    upstream_key_env: str | None = Field(
        None, description="Environment variable holding the API key of the `upstreams` URLs."
    )
    engines_file: Path | None = Field(
        None, description="An engines.toml describing upstreams (names, keys, models, weights, timeouts)."
    )

    corpus_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Folders whose files localization jobs of the API may read (CAUSERIE_CORPUS_ROOTS, "
        "comma-separated), besides uploaded corpora (<data_dir>/corpora).",
    )

    @field_validator("api_keys", "model_paths", "corpus_roots", "upstreams", "preview_models", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def sandbox_maximums(self) -> Limits:
        """The most a sandboxed run may ask for, from the ``sandbox_max_*`` settings."""
        return Limits(**{name: getattr(self, f"sandbox_max_{name}") for name in Limits.model_fields})

    @property
    def models_cache_dir(self) -> Path:
        """Where assembled embedded weights are stored."""
        return self.data_dir / "models"

    @property
    def corpora_dir(self) -> Path:
        """Where corpora uploaded through the API are stored (always a corpus root)."""
        return self.data_dir / "corpora"
