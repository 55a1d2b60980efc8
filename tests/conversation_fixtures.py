"""Fixtures for the conversation tests: every test runs on SQLite and on a real PostgreSQL server.

The PostgreSQL server is started by the test session itself (initdb + pg_ctl into a temporary
folder, listening on 127.0.0.1 only), as the unprivileged ``postgres`` user when running as root.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from causerie.config import Settings
from causerie.engine.base import GenerationRequest
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry
from causerie.services.titles import title_instruction
from tests.conftest import broken_install, fake_spec, free_port, live_server


def _postgres_bin() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return candidates[-1].parent if candidates else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server on loopback; yields its base URL (no database name)."""
    bindir = _postgres_bin()
    if bindir is None:  # a skip would pass a run that never tested PostgreSQL
        broken_install("PostgreSQL (initdb) is not installed (to leave its tests out: -k 'not postgresql')")
    root = Path(tempfile.mkdtemp(prefix="causerie-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        pwd.getpwnam("postgres")  # created by Debian's postgresql package
        shutil.chown(root, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "causerie", "--auth=trust", "-E", "UTF8", "--no-locale")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-o", options, "start")
    try:
        yield f"postgresql+psycopg://causerie@127.0.0.1:{port}"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def fresh_postgres_database(server: str) -> str:
    """A new empty database on ``server``; returns its SQLAlchemy URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None (the default SQLite file in the data folder) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return fresh_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def conv_server(tmp_path: Path, database_url: str | None) -> Iterator[Callable[..., tuple[str, FakeEngine]]]:
    """Start a server over a FakeEngine (keyword arguments) on the parametrised database."""
    contexts: list = []

    def start(settings: Settings | None = None, **engine_kwargs) -> tuple[str, FakeEngine]:
        engine = FakeEngine(**engine_kwargs)
        settings = settings or Settings(data_dir=tmp_path, database_url=database_url)
        context = live_server(settings, ModelRegistry([fake_spec(engine)]))
        contexts.append(context)
        return context.__enter__(), engine

    yield start
    for context in reversed(contexts):
        context.__exit__(None, None, None)


def is_title_request(request: GenerationRequest) -> bool:
    """Whether the engine was asked for a conversation title (not a reply)."""
    return any(title_instruction(language) in request.prompt for language in ("en", "fr", "ja", None))


def chat_requests(engine: FakeEngine) -> list[GenerationRequest]:
    """The engine's requests for replies, without the title requests."""
    return [request for request in engine.requests if not is_title_request(request)]


def api(url: str) -> httpx.Client:
    return httpx.Client(base_url=url + "/v1", timeout=60)


def sse_events_iter(response: httpx.Response) -> Iterator[dict]:
    """The JSON events of a conversation stream as they arrive (without the final ``[DONE]``)."""
    for line in response.iter_lines():
        if line.startswith("data: ") and line != "data: [DONE]":
            yield json.loads(line[6:])


def sse_events(response: httpx.Response) -> list[dict]:
    """The JSON events of a conversation stream, up to ``[DONE]`` (which must come)."""
    events = []
    for line in response.iter_lines():
        if line == "data: [DONE]":
            return events
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
    raise AssertionError(f"the stream ended without [DONE] after {events}")
