"""Causerie as the gateway of two real ``python -m llama_cpp.server`` replicas on SmolLM2.

llama-cpp-python's own OpenAI server is a third-party server that runs on CPU, so this checks the
same code path a GPU fleet (vLLM) takes: routing, affinity, a replica killed under load, and a quick
503 when none is left.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai
import pytest

from causerie.config import Settings
from tests.conftest import client_for, free_port, smollm2_path
from tests.upstream_fakes import REMOTE_MODEL, engines_toml, gateway

pytestmark = pytest.mark.model
STORY = [{"role": "user", "content": "Tell me a short story about a cat who learns to sail."}]


@dataclass
class Replica:
    url: str
    process: subprocess.Popen


def _start_replica(log: Path) -> Replica:
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path())]
    command += ["--model_alias", REMOTE_MODEL, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    command += ["--n_threads", "1", "--interrupt_requests", "False", "--verbose", "False"]
    process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    return Replica(f"http://127.0.0.1:{port}/v1", process)


def _wait_ready(replica: Replica, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {replica.process.returncode}")
        try:
            if httpx.get(replica.url + "/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("llama_cpp.server did not start")


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[Replica]]:
    started = [_start_replica(tmp_path / f"replica{i}.log") for i in range(2)]
    try:
        for replica in started:
            _wait_ready(replica)
        yield started
    finally:
        for replica in started:
            replica.process.kill()
            replica.process.wait(timeout=30)


def _gateway_settings(tmp_path: Path, replicas: list[Replica]) -> Settings:
    toml = engines_toml(tmp_path / "engines.toml", [r.url for r in replicas], health_interval=0.5)
    return Settings(data_dir=tmp_path / "gateway", engines_file=toml, preload=False, language_consistency=False)


def test_load_spreads_and_affinity_holds(tmp_path, replicas):
    with gateway(_gateway_settings(tmp_path, replicas)) as (url, registry):
        assert registry.fleet is not None
        up0, up1 = registry.fleet.upstreams
        client = client_for(url)
        for _ in range(4):
            reply = client.chat.completions.create(model=REMOTE_MODEL, messages=STORY, max_tokens=8, temperature=0)
            assert reply.choices[0].message.content
            assert reply.usage.prompt_tokens > 10  # counted by the replica's /extras/tokenize
        assert (up0.served, up1.served) == (2, 2)

        for _ in range(4):
            client.chat.completions.create(model=REMOTE_MODEL, messages=STORY, max_tokens=8, user="alice")
        assert sorted([up0.served, up1.served]) == [2, 6]


@dataclass
class _Stream:
    text: list[str] = field(default_factory=list)
    finished: str | None = None
    error: str | None = None


def _read(client: openai.OpenAI, result: _Stream) -> None:
    try:
        for chunk in client.chat.completions.create(
            model=REMOTE_MODEL, messages=STORY, max_tokens=128, temperature=0, stream=True
        ):
            if chunk.choices:
                result.text.append(chunk.choices[0].delta.content or "")
                result.finished = chunk.choices[0].finish_reason or result.finished
    except openai.APIError as exc:
        result.error = str(exc)


def test_a_replica_killed_under_eight_streams_fails_only_what_it_had_started(tmp_path, replicas):
    with gateway(_gateway_settings(tmp_path, replicas)) as (url, registry):
        assert registry.fleet is not None
        upstreams = registry.fleet.upstreams
        client = client_for(url)
        streams = [_Stream() for _ in range(8)]
        threads = [threading.Thread(target=_read, args=(client, s)) for s in streams]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 300

        def busy() -> int | None:  # a replica running one stream with others queued behind it
            running = any("".join(s.text) for s in streams)
            return next((i for i, u in enumerate(upstreams) if u.outstanding >= 2 and running), None)

        while (victim := busy()) is None:
            assert time.monotonic() < deadline, "the streams never started"
            time.sleep(0.01)
        killed, survivor = upstreams[victim], upstreams[1 - victim]
        queued_on_killed = killed.outstanding
        replicas[victim].process.kill()
        for thread in threads:
            thread.join(timeout=600)

        failed = [s for s in streams if s.error is not None]
        for stream in failed:  # only what had started on the killed replica, ending with a clean error
            assert "".join(stream.text), f"a request failed before its first token: {stream.error}"
            assert "failed in the middle of the reply" in stream.error
        for stream in streams:
            if stream.error is None:
                assert "".join(stream.text) and stream.finished in ("stop", "length")
        assert len(failed) < queued_on_killed  # the queued ones went on to the survivor
        assert survivor.served >= queued_on_killed - len(failed)
        health = httpx.get(url + "/health").json()["upstreams"]
        assert health == {killed.label: False, survivor.label: True}

        replicas[1 - victim].process.kill()
        replicas[1 - victim].process.wait(timeout=30)
        started = time.monotonic()
        response = httpx.post(url + "/v1/chat/completions", json={"model": REMOTE_MODEL, "messages": STORY}, timeout=60)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["code"] == "upstream_unavailable"
        assert elapsed < 5  # the bound: a refusal within seconds, never a hang
