"""Which OpenAI-compatible upstream servers to use: ``--upstream URL`` flags and an ``engines.toml``.

```toml
[[upstream]]
url = "http://gpu-a:8000/v1"        # an OpenAI-compatible base URL (vLLM, SGLang, llama-server, Causerie…)
name = "gpu-a"                      # optional: how logs, /health and /v1/models name it (default host:port)
api_key_env = "GPU_KEY"             # optional: the environment variable that holds its API key
weight = 2                          # optional: its share of the load among replicas (default 1)
connect_timeout = 3                 # seconds (default 3)
read_timeout = 120                  # seconds between two chunks of a reply (default 120)
health_interval = 5                 # seconds between health checks (default 5)

[[upstream.models]]                 # optional: without it, every model the upstream lists is served
name = "Qwen/Qwen2.5-7B-Instruct"    # the upstream's model id
id = "qwen2.5-7b-instruct"           # the Causerie id (default: the upstream's); same id on several upstreams = replicas
context_length = 32768              # optional: else what the upstream says (vLLM, Causerie), else 4096
```
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from causerie.config import Settings
from causerie.errors import CauserieError

DEFAULT_CONTEXT_LENGTH = 4096
"""Used when neither the configuration nor the upstream tells a model's context window."""


class UpstreamConfigError(CauserieError):
    """The upstream configuration is wrong; the message says where and why."""

    code = "invalid_configuration"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExposedModel(_Strict):
    name: str = Field(min_length=1, description="The model's id on the upstream.")
    id: str | None = Field(None, min_length=1, description="Its Causerie id (default: the upstream's).")
    context_length: int | None = Field(None, ge=256)

    @property
    def causerie_id(self) -> str:
        return self.id or self.name


Seconds = Annotated[float, Field(gt=0, le=3600)]


class UpstreamConfig(_Strict):
    url: str = Field(description="OpenAI-compatible base URL, e.g. http://gpu-a:8000/v1.")
    name: str | None = Field(None, min_length=1)
    api_key_env: str | None = Field(None, min_length=1)
    weight: float = Field(1.0, gt=0, le=1000)
    connect_timeout: Seconds = 3.0
    read_timeout: Seconds = 120.0
    health_interval: Seconds = 5.0
    context_length: int | None = Field(None, ge=256, description="Default context window of its models.")
    models: list[ExposedModel] | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL such as http://gpu-a:8000/v1")
        return value.rstrip("/")

    @property
    def label(self) -> str:
        return self.name or urlsplit(self.url).netloc

    def api_key(self) -> str | None:
        """The key read from ``api_key_env``; a variable that is named but unset is an error."""
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise UpstreamConfigError(f"upstream {self.label}: the environment variable {self.api_key_env} is not set")
        return key


class EnginesFile(_Strict):
    upstream: list[UpstreamConfig] = Field(default_factory=list)


def _describe(error: ValidationError, source: str) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        problems.append(f"{where}: {item['msg']}")
    return f"{source}: " + "; ".join(problems)


def read_engines_file(path: Path) -> list[UpstreamConfig]:
    """The ``[[upstream]]`` tables of ``path``; ``UpstreamConfigError`` names the file and the bad field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UpstreamConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UpstreamConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return EnginesFile.model_validate(data).upstream
    except ValidationError as exc:
        raise UpstreamConfigError(_describe(exc, str(path))) from exc


def upstream_configs(settings: Settings) -> list[UpstreamConfig]:
    """The upstreams of ``settings``: ``engines_file`` first, then each ``upstreams`` URL (``--upstream``)."""
    configs = read_engines_file(settings.engines_file) if settings.engines_file is not None else []
    for url in settings.upstreams:
        try:
            configs.append(UpstreamConfig(url=url, api_key_env=settings.upstream_key_env))
        except ValidationError as exc:
            raise UpstreamConfigError(_describe(exc, f"--upstream {url}")) from exc
    labels = [config.label for config in configs]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise UpstreamConfigError(f"two upstreams are named {', '.join(twice)}; give them distinct names")
    return configs
