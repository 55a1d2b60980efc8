"""``GET /metrics`` over the fake engine: every count exact, histograms observed, behind the API keys,
and the values of several worker processes added up (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from causerie.config import Settings
from causerie.services.metrics import MULTIPROC_ENV, Metrics
from tests.conftest import client_for, idle_load

USER = [{"role": "user", "content": "Hello there"}]


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, frozenset({"model_name": "fake", **labels}.items()))]


def metrics_of(url: str, **headers: str) -> dict:
    response = httpx.get(url + "/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return scrape(response.text)


def test_metrics_count_tokens_successes_and_observe_histograms(serve_fake):
    url, _ = serve_fake(reply=lambda r: "a b c")
    client = client_for(url)
    done = client.chat.completions.create(model="fake", messages=USER)
    cut = client.chat.completions.create(model="fake", messages=USER, max_tokens=2)
    streamed = list(
        client.chat.completions.create(model="fake", messages=USER, stream=True, stream_options={"include_usage": True})
    )
    legacy = client.completions.create(model="fake", prompt="Once upon")
    usages = [done.usage, cut.usage, streamed[-1].usage, legacy.usage]

    samples = metrics_of(url)
    assert value(samples, "causerie:generation_tokens_total") == 3 + 2 + 3 + 3
    assert value(samples, "causerie:prompt_tokens_total") == sum(u.prompt_tokens for u in usages)
    assert value(samples, "causerie:request_success_total", finished_reason="stop") == 3
    assert value(samples, "causerie:request_success_total", finished_reason="length") == 1
    assert value(samples, "causerie:prefix_cache_queries_total") == sum(u.prompt_tokens for u in usages)
    assert value(samples, "causerie:prefix_cache_hits_total") == sum(
        u.prompt_tokens_details.cached_tokens for u in usages
    )
    for histogram in ("time_to_first_token", "e2e_request_latency", "request_queue_time"):
        assert value(samples, f"causerie:{histogram}_seconds_count") == 4
        assert value(samples, f"causerie:{histogram}_seconds_sum") >= 0
        assert value(samples, f"causerie:{histogram}_seconds_bucket", le="+Inf") == 4
    # one observation between each two of a generation's pieces (one word each): 2 + 1 + 2 + 2
    assert value(samples, "causerie:inter_token_latency_seconds_count") == 7
    assert value(samples, "causerie:num_requests_running") == 0
    assert value(samples, "causerie:num_requests_waiting") == 0
    assert value(samples, "causerie:admission_rejections_total") == 0
    # the fake's slots still hold the last prompts and replies
    assert 0 < value(samples, "causerie:kv_cache_usage_perc") < 1


def test_a_client_that_leaves_counts_as_abort(serve_fake):
    url, engine = serve_fake(reply=lambda r: " ".join(["word"] * 200), delay=0.02)
    body = {"model": "fake", "messages": USER, "stream": True}
    with httpx.stream("POST", url + "/v1/chat/completions", json=body) as response:
        next(response.iter_lines())
    assert idle_load(engine) == (0, 0)
    deadline = time.monotonic() + 10
    samples = metrics_of(url)
    while (
        "causerie:request_success_total",
        frozenset({"model_name": "fake", "finished_reason": "abort"}.items()),
    ) not in samples:
        assert time.monotonic() < deadline, "the abandoned generation was never counted"
        time.sleep(0.05)
        samples = metrics_of(url)
    assert value(samples, "causerie:request_success_total", finished_reason="abort") == 1
    assert (
        "causerie:request_success_total",
        frozenset({"model_name": "fake", "finished_reason": "stop"}.items()),
    ) not in samples
    assert value(samples, "causerie:num_requests_running") == 0
    assert value(samples, "causerie:e2e_request_latency_seconds_count") == 0  # only finished generations


def test_metrics_need_a_key_when_keys_are_set(serve_fake, tmp_path):
    url, _ = serve_fake(settings=Settings(data_dir=tmp_path, api_keys=["sesame"]))
    refused = httpx.get(url + "/metrics")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(url + "/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    samples = metrics_of(url, Authorization="Bearer sesame")
    assert any(name.startswith("causerie:") for name, _ in samples)


def test_upstream_health_gauge():
    metrics = Metrics()
    metrics.set_upstream_healthy("gpu-box", True)
    metrics.set_upstream_healthy("other", False)
    samples = scrape(metrics.render().decode())
    assert samples[("causerie:upstream_healthy", frozenset({("engine", "gpu-box")}))] == 1
    assert samples[("causerie:upstream_healthy", frozenset({("engine", "other")}))] == 0


_WORKER = """
import asyncio, sys
from causerie.config import Settings
from causerie.engine.base import GenerationRequest
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry, ModelSpec
from causerie.services.container import Container

async def main() -> None:
    engine = FakeEngine(reply=lambda request: "one two three")
    spec = ModelSpec(id="fake", path=None, source="custom", created=0, factory=lambda settings: engine)
    container = Container(Settings(data_dir=sys.argv[1]), ModelRegistry([spec]))
    metered = await container.pool.get(spec)
    for _ in range(int(sys.argv[2])):
        async for _event in metered.generate(GenerationRequest("hello world")):
            pass
    await container.aclose()

asyncio.run(main())
"""


def test_multiprocess_mode_adds_up_the_workers(tmp_path, monkeypatch):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, MULTIPROC_ENV: str(shared), "PYTHONPATH": str(Path(__file__).parents[1])}
    workers = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(tmp_path / f"data{n}"), str(n)], env=env) for n in (2, 3)
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    monkeypatch.setenv(MULTIPROC_ENV, str(shared))

    samples = scrape(Metrics().render().decode())
    assert value(samples, "causerie:generation_tokens_total") == 3 * (2 + 3)
    assert value(samples, "causerie:prompt_tokens_total") == 2 * (2 + 3)  # "hello", " world"
    assert value(samples, "causerie:request_success_total", finished_reason="stop") == 5
    assert value(samples, "causerie:time_to_first_token_seconds_count") == 5
    assert value(samples, "causerie:inter_token_latency_seconds_count") == 2 * 5
    # each worker's live gauges left with it
    assert not list(shared.glob("gauge_live*"))
    assert ("causerie:num_requests_running", frozenset({("model_name", "fake")})) not in samples


def test_the_grafana_dashboard_uses_only_exported_metrics():
    dashboard = json.loads((Path(__file__).parents[1] / "deploy" / "grafana" / "causerie.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"causerie:[a-z0-9_]+", expr)}
    metrics = Metrics()
    metrics.model("fake").request_success("stop").inc()
    metrics.set_upstream_healthy("gpu-box", True)
    exported = {
        sample.name for family in text_string_to_metric_families(metrics.render().decode()) for sample in family.samples
    }
    assert used <= exported, used - exported
    families = {family.name for family in metrics.registry.collect()}
    # every metric is on the dashboard (families drop the _total of counters)
    assert {name.removesuffix("_total").removesuffix("_bucket") for name in used} >= families
