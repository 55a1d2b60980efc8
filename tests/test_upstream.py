"""Remote engines over scripted upstreams and a second Causerie: exact routing, failover and contract."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import openai
import pytest

from causerie.config import Settings
from causerie.engine.fleet import Fleet
from causerie.engine.replicas import Replica, choose
from causerie.engine.upstream import Upstream, estimate_tokens
from causerie.engine.upstream_config import UpstreamConfig, UpstreamConfigError, read_engines_file, upstream_configs
from tests.conftest import client_for
from tests.conversation_fixtures import sse_events
from tests.upstream_fakes import REMOTE_MODEL, Script, engines_toml, gateway, upstream

HELLO = [{"role": "user", "content": "Hello, how are you doing this morning?"}]


def settings_for(tmp_path: Path, urls: list[str], **kwargs) -> Settings:
    toml = engines_toml(tmp_path / "engines.toml", urls)
    return Settings(data_dir=tmp_path, engines_file=toml, preload=False, language_consistency=False, **kwargs)


def wait_for(condition, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds} s: {what}")
        time.sleep(0.05)


def health(url: str) -> dict[str, bool]:
    return httpx.get(url + "/health").json()["upstreams"]


# -- configuration -------------------------------------------------------------------------------


def test_engines_toml_errors_name_the_file_and_field(tmp_path, monkeypatch):
    path = tmp_path / "engines.toml"
    path.write_text('[[upstream]]\nurl = "gpu-a:8000"\nwieght = 2\n')
    with pytest.raises(UpstreamConfigError) as caught:
        read_engines_file(path)
    assert caught.value.message.startswith(f"{path}: ")
    assert "upstream.0.url: Value error, must be an http:// or https:// URL" in caught.value.message
    assert "upstream.0.wieght: Extra inputs are not permitted" in caught.value.message

    path.write_text('[[upstream]\nurl = "x"\n')
    with pytest.raises(UpstreamConfigError, match="not valid TOML"):
        read_engines_file(path)

    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    settings = Settings(data_dir=tmp_path, upstreams=["http://a:1/v1"], upstream_key_env="NO_SUCH_KEY")
    with pytest.raises(UpstreamConfigError, match="environment variable NO_SUCH_KEY is not set"):
        Upstream(upstream_configs(settings)[0])
    twice = Settings(data_dir=tmp_path, upstreams=["http://a:1/v1", "http://a:1/v1/"])
    with pytest.raises(UpstreamConfigError, match="two upstreams are named a:1"):
        upstream_configs(twice)


def test_flags_and_file_combine(tmp_path):
    path = tmp_path / "engines.toml"
    path.write_text(
        '[[upstream]]\nname = "gpu-a"\nurl = "http://gpu-a:8000/v1/"\nweight = 2\nread_timeout = 30\n'
        '[[upstream.models]]\nname = "Qwen/Qwen2.5-7B-Instruct"\nid = "qwen2.5-7b-instruct"\ncontext_length = 32768\n'
    )
    configs = upstream_configs(
        Settings(data_dir=tmp_path, engines_file=path, upstreams="http://gpu-b:8000/v1", upstream_key_env="K")
    )
    assert [(c.label, c.url, c.weight, c.api_key_env) for c in configs] == [
        ("gpu-a", "http://gpu-a:8000/v1", 2.0, None),
        ("gpu-b:8000", "http://gpu-b:8000/v1", 1.0, "K"),
    ]
    assert configs[0].read_timeout == 30 and configs[0].models is not None
    assert configs[0].models[0].causerie_id == "qwen2.5-7b-instruct"


# -- routing -------------------------------------------------------------------------------------


def _replicas(*weights: float) -> list[Replica]:
    return [
        Replica(Upstream(UpstreamConfig(url=f"http://r{i}:1/v1", weight=w)), "m", 4096) for i, w in enumerate(weights)
    ]


def test_least_outstanding_for_the_weight_then_fewest_served():
    one, two = _replicas(1, 2)
    assert choose([one, two], None) is two  # 1/2 < 1/1
    two.upstream.outstanding = 2
    assert choose([one, two], None) is one  # (2+1)/2 > (0+1)/1
    one.upstream.outstanding, two.upstream.outstanding = 0, 1
    two.upstream.served = 5
    assert choose([one, two], None) is one  # a tie on load: the one that served fewer
    assert choose([one, two], None, exclude=[one.upstream]) is two


def test_affinity_sticks_and_only_a_lost_replicas_keys_move():
    replicas = _replicas(1, 1, 1)
    keys = [f"conv_{i}" for i in range(300)]
    before = {key: choose(replicas, key) for key in keys}
    assert {id(r) for r in before.values()} == {id(r) for r in replicas}  # all three get conversations
    for replica in replicas:
        replica.upstream.outstanding = 7  # load does not move a conversation
    assert all(choose(replicas, key) is before[key] for key in keys)
    replicas[0].upstream.mark_down("test")
    after = {key: choose(replicas, key) for key in keys}
    moved = [key for key in keys if after[key] is not before[key]]
    assert moved == [key for key in keys if before[key] is replicas[0]]


# -- the gateway over scripted upstreams ---------------------------------------------------------


def test_models_listed_with_their_engine_and_the_upstreams_context(tmp_path):
    with upstream(Script()) as a, upstream(Script()) as b, gateway(settings_for(tmp_path, [a, b])) as (url, _):
        [card] = httpx.get(url + "/v1/models").json()["data"]
        assert card["id"] == REMOTE_MODEL
        assert card["engine"] == "upstream:up0,up1"
        assert card["context_length"] == 1024  # vLLM's max_model_len in its /v1/models
        assert health(url) == {"up0": True, "up1": True}


def test_load_spreads_and_a_user_sticks_to_one_replica(tmp_path):
    a, b = Script(), Script()
    with upstream(a) as ua, upstream(b) as ub, gateway(settings_for(tmp_path, [ua, ub])) as (url, _):
        client = client_for(url)
        for _ in range(4):
            reply = client.chat.completions.create(model=REMOTE_MODEL, messages=HELLO)
            assert reply.choices[0].message.content == "Hello from the upstream."
        assert (len(a.bodies), len(b.bodies)) == (2, 2)
        for _ in range(4):
            client.chat.completions.create(model=REMOTE_MODEL, messages=HELLO, user="alice")
        assert sorted([len(a.bodies), len(b.bodies)]) == [2, 6]
        assert all(body["user"] == "alice" for body in a.bodies + b.bodies if "user" in body)


def test_conversation_turns_stay_on_one_replica(tmp_path):
    a, b = Script(), Script()
    with upstream(a) as ua, upstream(b) as ub, gateway(settings_for(tmp_path, [ua, ub])) as (url, _):
        with httpx.Client(base_url=url + "/v1", timeout=60) as client:
            conversation = client.post("/conversations", json={"model": REMOTE_MODEL}).json()
            for turn in range(3):
                path = f"/conversations/{conversation['id']}/messages"
                with client.stream("POST", path, json={"content": f"Tell me more, part {turn}."}) as response:
                    events = sse_events(response)
                done = next(e for e in events if e["type"] == "done")
                assert done["message"]["status"] == "complete"
                assert done["message"]["content"] == "Hello from the upstream."
        on_a, on_b = ([body for body in s.bodies if body.get("user") == conversation["id"]] for s in (a, b))
        assert sorted([len(on_a), len(on_b)]) == [0, 3]  # (the title request has no affinity: either replica)
        last = (on_a or on_b)[-1]["messages"]
        assert [m["role"] for m in last] == ["user", "assistant", "user", "assistant", "user"]


def test_tools_and_response_format_go_upstream_and_tool_calls_come_back(tmp_path):
    script = Script(reply="", tool_call=("get_weather", '{"city": "Paris"}'))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    with upstream(script) as a, gateway(settings_for(tmp_path, [a])) as (url, _):
        client = client_for(url)
        reply = client.chat.completions.create(model=REMOTE_MODEL, messages=HELLO, tools=tools, tool_choice="auto")
        assert reply.choices[0].finish_reason == "tool_calls"
        [call] = reply.choices[0].message.tool_calls
        assert (call.id, call.function.name, call.function.arguments) == ("call_up", "get_weather", '{"city": "Paris"}')
        assert reply.usage.prompt_tokens == 11  # the upstream's own count
        body = script.bodies[-1]
        assert body["tools"] == tools and body["tool_choice"] == "auto"
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}

        chunks = list(client.chat.completions.create(model=REMOTE_MODEL, messages=HELLO, tools=tools, stream=True))
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
        assert any(c.choices[0].delta.tool_calls for c in chunks if c.choices)

        schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
        script.tool_call = None
        client.chat.completions.create(
            model=REMOTE_MODEL,
            messages=HELLO,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
            temperature=0,
            seed=3,
            max_tokens=20,
            stop=["END"],
        )
        body = script.bodies[-1]
        assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
        assert (body["temperature"], body["seed"], body["max_tokens"], body["stop"]) == (0.0, 3, 20, ["END"])


def test_failover_before_the_first_token_and_health_checks(tmp_path):
    a, b = Script(mode="fail"), Script()
    with upstream(a) as ua, upstream(b) as ub, gateway(settings_for(tmp_path, [ua, ub])) as (url, _):
        client = client_for(url)
        for _ in range(3):  # up0 answers 500: each request goes on to up1 and succeeds
            assert client.chat.completions.create(model=REMOTE_MODEL, messages=HELLO).choices[0].message.content
        assert len(b.bodies) == 3 and len(a.bodies) >= 1

        a.mode, a.listing = "ok", False  # its health check fails: out of service, no request goes there
        wait_for(lambda: health(url)["up0"] is False, "up0 taken out")
        sent = len(a.bodies)
        for _ in range(3):
            client.chat.completions.create(model=REMOTE_MODEL, messages=HELLO)
        assert len(a.bodies) == sent

        a.listing = True  # healthy again: back in the rotation
        wait_for(lambda: health(url)["up0"] is True, "up0 back")
        for _ in range(4):
            client.chat.completions.create(model=REMOTE_MODEL, messages=HELLO)
        assert len(a.bodies) > sent


def test_a_stopped_upstream_fails_over_and_none_left_is_a_quick_503(tmp_path):
    servers = [upstream(Script()), upstream(Script())]
    ua, ub = (server.__enter__() for server in servers)
    try:
        with gateway(settings_for(tmp_path, [ua, ub])) as (url, _):
            client = client_for(url)
            servers.pop(0).__exit__(None, None, None)  # up0 goes away: connection refused
            for _ in range(3):
                assert client.chat.completions.create(model=REMOTE_MODEL, messages=HELLO).choices[0].message.content
            assert health(url)["up0"] is False

            servers.pop(0).__exit__(None, None, None)  # and up1: nothing left
            # (a kept-alive connection may still answer one request while the server winds down)
            wait_for(lambda: health(url)["up1"] is False, "up1 taken out")
            started = time.monotonic()
            response = httpx.post(
                url + "/v1/chat/completions", json={"model": REMOTE_MODEL, "messages": HELLO}, timeout=60
            )
            elapsed = time.monotonic() - started
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "1"  # the health interval (0.2 s), in whole seconds
            assert response.json()["error"]["code"] == "upstream_unavailable"
            assert elapsed < 5  # the bound: a refusal within seconds, never a hang
    finally:
        for server in servers:
            server.__exit__(None, None, None)


def _key_on(registry, label: str, make_key) -> str:
    """A key (from ``make_key()``) that the gateway routes to the replica named ``label``."""
    engine = registry.get(REMOTE_MODEL).factory(None)
    while True:
        key = make_key()
        if choose(engine.replicas, key).upstream.label == label:
            return key


def test_stream_cut_midway_ends_with_an_error_and_keeps_the_partial_reply(tmp_path):
    cutting, healthy = Script(reply="one two three four five six", mode="cut"), Script()
    with upstream(cutting) as a, upstream(healthy) as b, gateway(settings_for(tmp_path, [a, b])) as (url, registry):
        client = client_for(url)
        counter = iter(range(1000))
        user = _key_on(registry, "up0", lambda: f"user-{next(counter)}")
        pieces: list[str] = []
        with pytest.raises(openai.APIError, match="failed in the middle of the reply"):
            for chunk in client.chat.completions.create(model=REMOTE_MODEL, messages=HELLO, stream=True, user=user):
                if chunk.choices:
                    pieces.append(chunk.choices[0].delta.content or "")
        assert "".join(pieces) == "one two"
        assert healthy.bodies == []  # started on up0: not replayed elsewhere

        with httpx.Client(base_url=url + "/v1", timeout=60) as http:
            cid = _key_on(
                registry, "up0", lambda: http.post("/conversations", json={"model": REMOTE_MODEL}).json()["id"]
            )
            wait_for(lambda: health(url)["up0"] is True, "up0 back after the cut")
            with http.stream("POST", f"/conversations/{cid}/messages", json={"content": "Go on."}) as response:
                events = sse_events(response)
            errors = [e for e in events if e["type"] == "error"]
            assert errors and errors[0]["error"]["code"] == "upstream_error"
            done = next(e for e in events if e["type"] == "done")["message"]
            assert (done["status"], done["content"]) == ("error", "one two")
            stored = http.get(f"/conversations/{cid}").json()["messages"]
            assert [m["content"] for m in stored if m["role"] == "assistant"] == ["one two"]


def test_token_counts_use_the_upstream_tokenizer_else_a_safe_estimate(tmp_path):
    messages = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "one two three"})
    with upstream(Script()) as counted, upstream(Script(tokenize=False)) as estimated:
        fleet = Fleet.connect([UpstreamConfig(url=counted, name="c"), UpstreamConfig(url=estimated, name="e")])
        try:
            engine = fleet.engines[REMOTE_MODEL]  # two replicas: counts come from the least loaded, "c"
            assert engine.context_length == 1024
            assert fleet.upstreams[0].count_tokens(REMOTE_MODEL, "one two three") == 3
            assert fleet.upstreams[1].count_tokens(REMOTE_MODEL, "one two three") is None
            assert fleet.upstreams[0].count_chat_tokens(REMOTE_MODEL, list(messages)) == 2 + 3 + 6
            assert estimate_tokens("one two three") == 7 and estimate_tokens("東京") == 4
        finally:
            fleet.upstreams[0].healthy = True


# -- a second Causerie as the upstream: every service on a remote model ------------------------------


def test_a_second_causerie_as_the_upstream_serves_every_service(tmp_path, serve_fake):
    answer = "Bonjour, je vais très bien ce matin, merci beaucoup."
    inner_url, inner = serve_fake(model_id="inner", reply=lambda request: answer)
    settings = Settings(data_dir=tmp_path / "gateway", upstreams=[inner_url + "/v1"], preload=False)
    with gateway(settings) as (url, _):
        [card] = httpx.get(url + "/v1/models").json()["data"]
        assert (card["id"], card["context_length"]) == ("inner", 4096)  # the inner card gives none: the default
        assert card["engine"] == "upstream:" + inner_url.removeprefix("http://")
        client = client_for(url)
        french = [{"role": "user", "content": "Bonjour, comment allez-vous ce matin ?"}]

        reply = client.chat.completions.create(model="auto", messages=french)
        assert (reply.model, reply.choices[0].message.content) == ("inner", answer)
        assert reply.model_extra["causerie"]["language"] == "fr"  # the gateway's language check ran
        assert inner.requests[-1].prompt.startswith("<|user|>Bonjour")  # rendered by the inner Causerie
        streamed = client.chat.completions.create(model="inner", messages=french, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == answer

        text = client.completions.create(model="inner", prompt="Il était une fois", max_tokens=3)
        assert (text.choices[0].text, text.choices[0].finish_reason) == ("Bonjour, je vais", "length")
        assert inner.requests[-1].prompt == "Il était une fois"

        translated = httpx.post(
            url + "/v1/translate",
            json={"text": "Good morning, how are you?", "target_language": "fr", "model": "inner"},
            timeout=60,
        ).json()
        assert translated["text"] == answer and translated["model"] == "inner"
        summary = httpx.post(
            url + "/v1/summarize", json={"text": "Le matin était calme. " * 20, "model": "inner"}, timeout=60
        ).json()
        assert summary["summary"] == answer and summary["chunks"] == 1


def test_a_busy_upstream_slow_to_answer_its_health_check_stays_in_service_until_it_keeps_failing() -> None:
    """llama.cpp's own server answers ``/models`` late while it generates: a few slow checks are not an outage,
    a refused connection is."""
    import asyncio

    answers: list[str] = ["slow", "slow", "ok", "slow", "slow", "slow", "refused"]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if answer == "slow":
            raise httpx.ReadTimeout("busy", request=request)
        if answer == "refused":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"object": "list", "data": []})

    async def checks() -> list[bool]:
        upstream = Upstream(UpstreamConfig(url="http://busy:8000/v1"), transport=httpx.MockTransport(handler))
        seen = [await upstream.check() for _ in range(6)]
        upstream.mark_up()
        seen.append(await upstream.check())
        return seen

    assert asyncio.run(checks()) == [True, True, True, True, True, False, False]


def test_an_upstream_streaming_to_us_is_not_taken_out_by_slow_health_checks() -> None:
    import asyncio

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("busy", request=request)

    async def checks() -> list[bool]:
        upstream = Upstream(UpstreamConfig(url="http://busy:8000/v1"), transport=httpx.MockTransport(handler))
        upstream.outstanding, upstream.last_progress = 1, time.monotonic()  # a reply is flowing
        busy = [await upstream.check() for _ in range(5)]
        upstream.outstanding = 0  # nothing flows: slow checks count again
        return busy + [await upstream.check() for _ in range(3)]

    assert asyncio.run(checks()) == [True] * 5 + [True, True, False]
