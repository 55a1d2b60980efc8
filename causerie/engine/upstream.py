"""One OpenAI-compatible upstream server: its HTTP clients, its health, its load, its tokenizer.

Health is known two ways. A background check (``monitor``, started by the fleet) lists the
server's models every ``health_interval`` seconds: a failure takes the server out, a success
brings it back. A request that cannot reach the server, or gets a 5xx from it, takes it out at
once; without a running monitor it is tried again ``health_interval`` seconds later.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from causerie.engine.upstream_config import UpstreamConfig

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 2.0
SLOW_CHECKS_TOLERATED = 3
"""Health checks in a row that may time out before a server is taken out: a server busy generating (one
thread answering both, as llama.cpp's servers) is slow to list its models, not down. One that is streaming
to us (a request sent or a chunk received within its read timeout) is never taken out by a slow check; a refused connection or an
error answer takes it out at once."""

TokenizeBody = Callable[[str, str, bool], dict[str, Any]]
_TOKENIZE_DIALECTS: tuple[tuple[str, TokenizeBody], ...] = (
    # vLLM and SGLang: {"count", "tokens", "max_model_len"}
    ("tokenize", lambda model, text, special: {"model": model, "prompt": text, "add_special_tokens": special}),
    # llama.cpp's llama-server: {"tokens"}
    ("tokenize", lambda model, text, special: {"content": text, "add_special": special}),
    # llama-cpp-python's server: {"tokens"}
    ("extras/tokenize", lambda model, text, special: {"model": model, "input": text}),
)
_PROBE_TEXT = "Hello, world"


def estimate_tokens(text: str) -> int:
    """A count never below the real one for the tokenizers measured: one token per two UTF-8 bytes.

    (SmolLM2 takes 0.26 tokens per byte of English and 0.39 of Japanese; real tokenizers of larger
    vocabularies take fewer.)
    """
    return len(text.encode("utf-8")) // 2 + 1


def server_root(url: str) -> str:
    """The server's root URL, where the tokenize endpoints are: ``http://h:8000/v1`` -> ``http://h:8000/``."""
    return (url[: -len("/v1")] if url.endswith("/v1") else url) + "/"


class Upstream:
    """One server; replicas of a model on several servers share their servers' ``Upstream``."""

    def __init__(self, config: UpstreamConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.label = config.label
        self.weight = config.weight
        key = config.api_key()
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
        self.http = httpx.AsyncClient(
            base_url=config.url + "/", headers=self._headers, timeout=self._timeout, transport=transport
        )
        self.healthy = True
        self.outstanding = 0
        """Requests sent and not finished: what least-outstanding routing compares."""
        self.served = 0
        """Requests that ran to their end here."""
        self.monitored = False
        self._down_until = 0.0
        self._slow_checks = 0
        """Health checks in a row that timed out."""
        self.last_progress = -math.inf
        """When a request was last sent to it or a reply's chunk last arrived (``time.monotonic()``)."""
        self._tokenize: tuple[str, TokenizeBody] | None = None
        self._tokenize_probed = False
        self._sync: httpx.Client | None = None
        self._sync_lock = threading.Lock()

    # -- health --------------------------------------------------------------------------------

    def available(self) -> bool:
        """Healthy, or down long enough ago to be tried again (only when no monitor watches it)."""
        return self.healthy or time.monotonic() >= self._down_until

    def streaming(self) -> bool:
        """Whether it is working for us now: requests outstanding, and one sent or a chunk received within the
        read timeout (a server that stopped answering mid-reply is cut by that timeout, then marked down)."""
        return self.outstanding > 0 and time.monotonic() - self.last_progress < self.config.read_timeout

    def mark_down(self, reason: str) -> None:
        if self.healthy:
            log.warning("upstream %s is out of service: %s", self.label, reason)
        self.healthy = False
        self._down_until = math.inf if self.monitored else time.monotonic() + self.config.health_interval

    def mark_up(self) -> None:
        if not self.healthy:
            log.warning("upstream %s is back in service", self.label)
        self.healthy = True

    async def check(self) -> bool:
        """List the server's models; the answer decides its health."""
        try:
            response = await self.http.get("models", timeout=HEALTH_TIMEOUT_S)
            response.raise_for_status()
        except httpx.TimeoutException as exc:
            if self.streaming():
                return self.healthy
            self._slow_checks += 1
            if self._slow_checks >= SLOW_CHECKS_TOLERATED:
                self.mark_down(f"{self._slow_checks} health checks in a row timed out: {exc!r}")
            return self.healthy
        except httpx.HTTPError as exc:
            self.mark_down(f"health check failed: {exc!r}")
            return False
        self._slow_checks = 0
        self.mark_up()
        return True

    async def monitor(self) -> None:
        """Check health every ``health_interval`` seconds until cancelled."""
        self.monitored = True
        try:
            while True:
                await self.check()
                await asyncio.sleep(self.config.health_interval)
        finally:
            self.monitored = False
            self._down_until = time.monotonic()

    # -- blocking calls (start-up discovery, token counts from worker threads) -------------------

    def _client(self) -> httpx.Client:
        if self._sync is None:
            self._sync = httpx.Client(headers=self._headers, timeout=self._timeout)
        return self._sync

    def list_models(self) -> list[dict[str, Any]]:
        """The ``data`` of the server's ``GET /models`` (blocking); ``httpx.HTTPError`` when it cannot answer."""
        with self._sync_lock:
            response = self._client().get(self.config.url + "/models", timeout=self.config.connect_timeout + 2)
        response.raise_for_status()
        data = response.json().get("data", [])
        return [item for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]

    def count_tokens(self, model: str, text: str, *, add_special: bool = True) -> int | None:
        """Tokens of ``text`` by the server's tokenize endpoint (blocking), or None when it has none or is down."""
        with self._sync_lock:
            if not self._tokenize_probed:
                self._probe_tokenize(model)
            if self._tokenize is None:
                return None
            path, body = self._tokenize
            try:
                response = self._client().post(server_root(self.config.url) + path, json=body(model, text, add_special))
                response.raise_for_status()
                return _token_count(response.json())
            except (httpx.HTTPError, ValueError):
                return None

    def count_chat_tokens(self, model: str, messages: list[dict[str, Any]]) -> int | None:
        """Prompt tokens of a chat, template applied, where the server can tell (vLLM's ``/tokenize``)."""
        with self._sync_lock:
            if not self._tokenize_probed:
                self._probe_tokenize(model)
            if self._tokenize is not _TOKENIZE_DIALECTS[0]:
                return None
            try:
                response = self._client().post(
                    server_root(self.config.url) + "tokenize",
                    json={"model": model, "messages": messages, "add_generation_prompt": True},
                )
                response.raise_for_status()
                return _token_count(response.json())
            except (httpx.HTTPError, ValueError):
                return None

    def _probe_tokenize(self, model: str) -> None:
        """Find which tokenize endpoint the server has; decided for good only once the server answered."""
        reached = False
        for dialect in _TOKENIZE_DIALECTS:
            path, body = dialect
            try:
                response = self._client().post(server_root(self.config.url) + path, json=body(model, _PROBE_TEXT, True))
            except httpx.HTTPError:
                continue
            reached = True
            try:
                count = _token_count(response.json()) if response.status_code == 200 else None
            except ValueError:
                count = None
            if count:
                self._tokenize = dialect
                break
        self._tokenize_probed = reached
        log.info("upstream %s: tokenize endpoint %s", self.label, self._tokenize[0] if self._tokenize else "none")

    async def aclose(self) -> None:
        await self.http.aclose()
        with self._sync_lock:
            if self._sync is not None:
                self._sync.close()


def _token_count(payload: object) -> int | None:
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    tokens, count = payload.get("tokens"), payload.get("count")
    if isinstance(count, int):
        return count
    if isinstance(tokens, list):
        return len(tokens)
    raise ValueError("no token count in the answer")
