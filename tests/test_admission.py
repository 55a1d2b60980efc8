"""Admission control: a bounded wait queue per model; past it, 503 with Retry-After in OpenAI's error shape."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack

import httpx
import pytest

from causerie.config import Settings
from causerie.errors import Overloaded
from causerie.services.admission import ModelLoad
from causerie.services.metrics import Metrics
from tests.conftest import idle_load
from tests.test_metrics import metrics_of, value

USER = [{"role": "user", "content": "Hello there"}]
LONG = " ".join(["word"] * 400)


def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def test_a_full_queue_answers_503_with_retry_after(serve_fake, tmp_path):
    url, engine = serve_fake(
        settings=Settings(data_dir=tmp_path, max_queued=1), reply=lambda r: LONG, parallel=1, delay=0.02
    )
    streamed = {"model": "fake", "messages": USER, "stream": True}
    with httpx.Client(timeout=30) as client, ExitStack() as streams:
        running = streams.enter_context(client.stream("POST", url + "/v1/chat/completions", json=streamed))
        until(lambda: engine.load() == (1, 0))
        waiting = streams.enter_context(client.stream("POST", url + "/v1/chat/completions", json=streamed))
        until(lambda: engine.load() == (1, 1))
        assert running.status_code == waiting.status_code == 200

        health = client.get(url + "/health").json()["models"]["fake"]
        assert (health["running"], health["waiting"], health["max_queued"]) == (1, 1, 1)
        assert health["kv_cache"]["capacity_tokens"] == 2048 and health["kv_cache"]["used_tokens"] > 0

        for body in ({"model": "fake", "messages": USER}, streamed, {"model": "fake", "prompt": "Once"}):
            refused = client.post(url + ("/v1/completions" if "prompt" in body else "/v1/chat/completions"), json=body)
            assert refused.status_code == 503
            assert int(refused.headers["retry-after"]) >= 1
            error = refused.json()["error"]
            assert (error["type"], error["code"]) == ("server_error", "model_overloaded")
            assert "try again" in error["message"]
        samples = metrics_of(url)
        assert value(samples, "causerie:admission_rejections_total") == 3
        assert value(samples, "causerie:num_requests_running") == 1
        assert value(samples, "causerie:num_requests_waiting") == 1
    assert idle_load(engine) == (0, 0)
    until(lambda: client_health(url)["waiting"] == 0 and client_health(url)["running"] == 0)
    assert (
        httpx.post(url + "/v1/chat/completions", json={"model": "fake", "messages": USER, "max_tokens": 2}).status_code
        == 200
    )


def client_health(url: str) -> dict:
    return httpx.get(url + "/health").json()["models"]["fake"]


def test_the_bound_holds_for_generations_admitted_at_once():
    """``admit`` itself refuses: requests prepared together cannot pile up past ``max_queued``."""
    load = ModelLoad(Metrics().model("m"), max_queued=2)
    first, second = load.admit(), load.admit()
    with pytest.raises(Overloaded) as refused:
        load.admit()
    assert refused.value.retry_after >= 1
    with pytest.raises(Overloaded):
        load.check()
    first.on_started()  # the engine gave it a slot: one place in the queue is free again
    assert (load.running, load.waiting) == (1, 1)
    third = load.admit()
    first.on_started()  # told twice: counted once
    load.ended(first)
    load.ended(first)
    load.ended(second)  # left while waiting
    assert (load.running, load.waiting) == (0, 1)
    load.ended(third)
    assert (load.running, load.waiting) == (0, 0)
