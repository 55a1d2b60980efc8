"""The HTTP API through the official openai SDK, over a deterministic fake engine."""

from __future__ import annotations

import json
import threading

import httpx
import openai
import pytest

from causerie.config import Settings
from causerie.engine.base import GenerationRequest
from causerie.protocol.openai import ResponseFormat, Tool
from causerie.services.structured import response_format_grammar, tool_call_grammar
from tests.conftest import client_for, idle_load, most_at_once

USER = [{"role": "user", "content": "Bonjour"}]


def test_chat_completion_exact_output_and_usage(serve_fake):
    url, engine = serve_fake(reply=lambda r: "Salut, ça va ?")
    result = client_for(url).chat.completions.create(model="fake", messages=USER)
    assert result.choices[0].message.content == "Salut, ça va ?"
    assert result.choices[0].finish_reason == "stop"
    assert result.model == "fake"
    assert result.usage.completion_tokens == 4  # 'Salut,' ' ça' ' va' ' ?'
    assert result.usage.total_tokens == result.usage.prompt_tokens + 4
    assert "<|user|>Bonjour" in engine.requests[0].prompt  # rendered with the model's template


def test_default_model_is_used_when_none_given(serve_fake):
    url, _ = serve_fake(reply=lambda r: "ok")
    response = httpx.post(url + "/v1/chat/completions", json={"messages": USER})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "ok"


def test_streaming_with_usage_and_stop_across_chunks(serve_fake):
    url, _ = serve_fake(reply=lambda r: "one two END three")
    chunks = list(
        client_for(url).chat.completions.create(
            model="fake", messages=USER, stream=True, stop=["EN", "END"], stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two "
    assert chunks[0].choices[0].delta.role == "assistant"
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3


def test_max_tokens_and_max_completion_tokens(serve_fake):
    url, _ = serve_fake(reply=lambda r: "a b c d e f g")
    client = client_for(url)
    for key in ("max_tokens", "max_completion_tokens"):
        result = client.chat.completions.create(model="fake", messages=USER, **{key: 3})
        assert result.choices[0].message.content == "a b c"
        assert result.choices[0].finish_reason == "length"
        assert result.usage.completion_tokens == 3


def test_sampling_parameters_reach_the_engine(serve_fake):
    url, engine = serve_fake(reply=lambda r: "x")
    client_for(url).chat.completions.create(
        model="fake",
        messages=USER,
        temperature=0.3,
        top_p=0.5,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        stop="STOP",
    )
    params = engine.requests[-1].params
    assert (params.temperature, params.top_p, params.seed) == (0.3, 0.5, 7)
    assert (params.presence_penalty, params.frequency_penalty) == (0.5, -0.5)
    assert "STOP" in params.stop


def test_n_choices(serve_fake):
    url, _ = serve_fake(reply=lambda r: "same answer")
    result = client_for(url).chat.completions.create(model="fake", messages=USER, n=3)
    assert [c.index for c in result.choices] == [0, 1, 2]
    assert all(c.message.content == "same answer" for c in result.choices)
    assert result.usage.completion_tokens == 6


def test_logprobs(serve_fake):
    url, engine = serve_fake(reply=lambda r: "a b")
    result = client_for(url).chat.completions.create(model="fake", messages=USER, logprobs=True, top_logprobs=2)
    tokens = [t.token for t in result.choices[0].logprobs.content]
    assert tokens == ["a", " b"]
    assert engine.requests[-1].params.logprobs == 2


def test_json_response_formats_send_their_grammar_to_the_engine(serve_fake):
    """The fake ignores grammars: that the grammars hold is tested in test_structured.py."""
    url, engine = serve_fake(reply=lambda r: '{"city": "Paris"}')
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    for response_format in (
        {"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
        {"type": "json_object"},
    ):
        result = client_for(url).chat.completions.create(model="fake", messages=USER, response_format=response_format)
        assert result.choices[0].message.content == '{"city": "Paris"}'
        expected = response_format_grammar(ResponseFormat.model_validate(response_format))
        assert expected and engine.requests[-1].params.grammar == expected


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_auto_tool_call_is_parsed(serve_fake):
    url, engine = serve_fake(
        reply=lambda r: '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Lyon"}}\n</tool_call>'
    )
    result = client_for(url).chat.completions.create(model="fake", messages=USER, tools=[WEATHER])
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Lyon"}
    assert engine.requests[-1].params.grammar is None
    assert "get_weather" in engine.requests[-1].prompt  # described to the model


def test_auto_tool_choice_streams_plain_content(serve_fake):
    url, _ = serve_fake(reply=lambda r: "Il fait beau.")
    chunks = list(client_for(url).chat.completions.create(model="fake", messages=USER, tools=[WEATHER], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Il fait beau."
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_named_tool_choice_is_forced_by_grammar_and_streamed(serve_fake):
    url, engine = serve_fake(reply=lambda r: '{"name": "get_weather", "arguments": {"city": "Kyoto"}}')
    chunks = list(
        client_for(url).chat.completions.create(
            model="fake",
            messages=USER,
            tools=[WEATHER],
            stream=True,
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        )
    )
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1 and calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "Kyoto"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    request: GenerationRequest = engine.requests[-1]
    assert request.params.grammar == tool_call_grammar([Tool.model_validate(WEATHER)])  # this tool's call only
    assert request.prompt.endswith("<tool_call>\n")


def test_tool_results_are_rendered_back(serve_fake):
    url, engine = serve_fake(reply=lambda r: "Il fait 20 degrés à Lyon.")
    messages = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 20}'},
    ]
    result = client_for(url).chat.completions.create(model="fake", messages=messages, tools=[WEATHER])
    assert result.choices[0].message.content == "Il fait 20 degrés à Lyon."
    prompt = engine.requests[-1].prompt
    assert '"city": "Lyon"' in prompt and '{"temp": 20}' in prompt


def test_text_completions(serve_fake):
    url, engine = serve_fake(reply=lambda r: " world and more")
    result = client_for(url).completions.create(model="fake", prompt="Hello", max_tokens=2, echo=True)
    assert result.choices[0].text == "Hello world and"
    assert result.choices[0].finish_reason == "length"
    assert engine.requests[-1].prompt == "Hello"
    chunks = list(client_for(url).completions.create(model="fake", prompt=["a", "b"], max_tokens=1, stream=True))
    assert sorted({c.choices[0].index for c in chunks}) == [0, 1]


def test_models_endpoints_and_health(serve_fake):
    url, _ = serve_fake()
    client = client_for(url)
    assert [m.id for m in client.models.list()] == ["fake"]
    assert client.models.retrieve("fake").id == "fake"
    health = httpx.get(url + "/health").json()
    assert health["status"] == "ok" and health["default_model"] == "fake"


# -- errors ---------------------------------------------------------------------------------


def _error(call) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as info:
        call()
    body = info.value.body
    assert set(body) >= {"message", "type", "param", "code"}  # the SDK unwraps {"error": ...}
    return info.value


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"n": 0}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
    ],
)
def test_invalid_parameters_are_400_with_param(serve_fake, kwargs, param):
    url, _ = serve_fake()
    request = {"model": "fake", "messages": USER, **kwargs}
    error = _error(lambda: client_for(url).chat.completions.create(**request))
    assert error.status_code == 400
    assert error.body["type"] == "invalid_request_error"
    assert error.body["param"].startswith(param)


def test_malformed_json_is_400_not_422(serve_fake):
    url, _ = serve_fake()
    response = httpx.post(
        url + "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_model_is_404_listing_available(serve_fake):
    url, _ = serve_fake()
    error = _error(lambda: client_for(url).chat.completions.create(model="gpt-9", messages=USER))
    assert error.status_code == 404 and error.body["code"] == "model_not_found"
    assert "fake" in error.body["message"]
    assert _error(lambda: client_for(url).models.retrieve("gpt-9")).status_code == 404


def test_context_length_exceeded_gives_the_numbers(serve_fake):
    url, _ = serve_fake(context_length=50)
    long = [{"role": "user", "content": "mot " * 60}]
    error = _error(lambda: client_for(url).chat.completions.create(model="fake", messages=long))
    assert error.status_code == 400 and error.body["code"] == "context_length_exceeded"
    assert "50" in error.body["message"]
    error = _error(lambda: client_for(url).chat.completions.create(model="fake", messages=USER, max_tokens=49))
    assert error.body["code"] == "context_length_exceeded" and "49 in the completion" in error.body["message"]


def test_api_keys(serve_fake, tmp_path):
    url, _ = serve_fake(Settings(data_dir=tmp_path, api_keys=["sesame"]), reply=lambda r: "ok")
    missing = httpx.post(url + "/v1/chat/completions", json={"model": "fake", "messages": USER})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    assert _error(lambda: client_for(url, "wrong").models.list()).status_code == 401
    assert (
        client_for(url, "sesame").chat.completions.create(model="fake", messages=USER).choices[0].message.content
        == "ok"
    )
    assert httpx.get(url + "/health").status_code == 200


def test_unknown_route_uses_the_error_shape(serve_fake):
    url, _ = serve_fake()
    response = httpx.get(url + "/v1/nothing-here")
    assert response.status_code == 404 and "error" in response.json()


# -- concurrency and disconnects ------------------------------------------------------------------


def test_disconnect_mid_stream_frees_the_slot(serve_fake):
    url, engine = serve_fake(reply=lambda r: "tok " * 500, parallel=1, delay=0.01)
    with httpx.stream(
        "POST", url + "/v1/chat/completions", json={"model": "fake", "messages": USER, "stream": True}
    ) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data:")
    assert idle_load(engine) == (0, 0)  # freed long before the 500 tokens (5 s) would have been produced
    result = client_for(url).chat.completions.create(model="fake", messages=USER, max_tokens=2)
    assert result.choices[0].message.content == "tok tok"


def test_more_requests_than_slots_run_two_at_a_time_and_all_complete(serve_fake):
    reply = "un deux trois quatre cinq six sept huit"
    url, engine = serve_fake(reply=lambda r: reply, parallel=2, delay=0.01)
    results: list[str] = []

    def ask() -> None:
        stream = client_for(url).chat.completions.create(model="fake", messages=USER, stream=True)
        results.append("".join(c.choices[0].delta.content or "" for c in stream))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [reply] * 8
    assert len(engine.spans) == 8
    assert most_at_once(engine.spans) == 2  # both slots interleave their steps; a third request waits


def test_broken_model_file_is_reported_and_others_still_served(tmp_path):
    from causerie.engine.fake import FakeEngine
    from causerie.models.registry import ModelRegistry
    from tests.conftest import fake_spec, live_server

    broken = tmp_path / "broken-model.gguf"
    broken.write_bytes(b"this is not a gguf file")
    registry = ModelRegistry.discover(Settings(data_dir=tmp_path, model_paths=[broken]))
    registry.register(fake_spec(FakeEngine(reply=lambda r: "still here")), default=True)
    with live_server(Settings(data_dir=tmp_path, preload=False), registry) as url:
        client = client_for(url)
        assert "broken-model" not in [m.id for m in client.models.list()]
        error = _error(lambda: client.chat.completions.create(model="broken-model", messages=USER))
        assert error.status_code == 503 and str(broken) in error.body["message"]
        assert client.chat.completions.create(model="fake", messages=USER).choices[0].message.content == "still here"
