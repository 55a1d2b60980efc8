"""End to end through the openai SDK against real embedded models (llama.cpp in-process)."""

from __future__ import annotations

import json
import threading
import time

import jsonschema
import pytest

from causerie.config import Settings
from causerie.language import detect_language
from causerie.models.embedded import QWEN_ID
from causerie.models.registry import ModelRegistry
from tests.conftest import client_for, live_server, most_at_once

pytestmark = pytest.mark.model
ASK = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


def test_plain_answer_mentions_paris(smollm2_url):
    result = client_for(smollm2_url).chat.completions.create(model="smollm2-135m-instruct", messages=ASK, temperature=0)
    assert "Paris" in result.choices[0].message.content
    assert result.choices[0].finish_reason == "stop"
    assert result.usage.prompt_tokens > 10 and result.usage.completion_tokens > 0


def test_streamed_answer_matches_the_plain_one(smollm2_url):
    client = client_for(smollm2_url)
    plain = client.chat.completions.create(model="smollm2-135m-instruct", messages=ASK, temperature=0, max_tokens=30)
    stream = client.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=ASK,
        temperature=0,
        max_tokens=30,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 3  # really streamed
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens


def test_max_tokens_and_stop(smollm2_url):
    client = client_for(smollm2_url)
    story = [{"role": "user", "content": "Write a long story about a dragon."}]
    short = client.chat.completions.create(model="smollm2-135m-instruct", messages=story, max_tokens=5)
    assert short.usage.completion_tokens == 5 and short.choices[0].finish_reason == "length"
    counted = client.chat.completions.create(model="smollm2-135m-instruct", messages=ASK, temperature=0, stop=["Paris"])
    assert "Paris" not in counted.choices[0].message.content
    assert counted.choices[0].finish_reason == "stop"


def test_seed_makes_sampling_repeatable(smollm2_url):
    client = client_for(smollm2_url)
    story = [{"role": "user", "content": "Invent a name for a cat."}]
    runs = [
        client.chat.completions.create(
            model="smollm2-135m-instruct", messages=story, seed=42, max_tokens=20, temperature=1
        )
        .choices[0]
        .message.content
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_json_schema_output_parses_and_validates(smollm2_url):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 40},
            "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 5},
        },
        "required": ["name", "age", "tags"],
        "additionalProperties": False,
    }
    result = client_for(smollm2_url).chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "Describe a fictional person as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}},
        max_tokens=200,
        seed=7,
    )
    assert result.choices[0].finish_reason == "stop"  # the bounded schema ends well within max_tokens
    data = json.loads(result.choices[0].message.content)
    jsonschema.validate(data, schema)


def test_forced_tool_call_parses_against_the_schema(smollm2_url):
    parameters = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    }
    tool = {
        "type": "function",
        "function": {"name": "forecast", "description": "Weather forecast", "parameters": parameters},
    }
    result = client_for(smollm2_url).chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "What will the weather be in Paris for the next 3 days?"}],
        tools=[tool],
        tool_choice="required",
        max_tokens=100,
    )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "forecast"
    jsonschema.validate(json.loads(call.function.arguments), parameters)


def test_logprobs_are_real_probabilities(smollm2_url):
    result = client_for(smollm2_url).chat.completions.create(
        model="smollm2-135m-instruct", messages=ASK, max_tokens=4, logprobs=True, top_logprobs=3, temperature=0
    )
    content = result.choices[0].logprobs.content
    assert len(content) == 4
    for item in content:
        assert item.logprob <= 0 and len(item.top_logprobs) == 3
        assert item.top_logprobs[0].logprob >= item.top_logprobs[-1].logprob
        assert item.logprob == pytest.approx(item.top_logprobs[0].logprob)  # greedy picks the best


def test_eight_streams_on_four_slots_run_four_at_a_time(smollm2_url):
    topics = ["the sea", "a forest", "a city", "the moon", "a river", "snow", "a library", "trains"]
    outcomes: dict[int, tuple[str, str | None, int]] = {}
    spans: list[tuple[float, float]] = []  # (first token, last chunk) of each stream, as the client saw them

    def stream(i: int) -> None:
        chunks = client_for(smollm2_url).chat.completions.create(
            model="smollm2-135m-instruct",
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=40,
            temperature=0,
            messages=[{"role": "user", "content": f"Write a long story about {topics[i]}."}],
        )
        text, finish, first = "", None, None
        for chunk in chunks:
            if chunk.choices and chunk.choices[0].delta.content:
                first = first or time.monotonic()
                text += chunk.choices[0].delta.content
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
            if chunk.usage:
                outcomes[i] = (text, finish, chunk.usage.completion_tokens)
        spans.append((first or time.monotonic(), time.monotonic()))

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert sorted(outcomes) == list(range(8))
    for text, finish, completion_tokens in outcomes.values():
        assert text.strip() and finish == "length" and completion_tokens == 40  # a long story outruns 40 tokens
    assert most_at_once(spans) >= 4  # the four slots streamed at once (one after another would give 1)


def test_next_turn_reuses_the_cached_prefix(smollm2_url):
    client = client_for(smollm2_url)
    history = [{"role": "user", "content": "Name a fruit that is red."}]
    first = client.chat.completions.create(
        model="smollm2-135m-instruct", messages=history, max_tokens=20, temperature=0
    )
    history += [
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "And one that is yellow?"},
    ]
    second = client.chat.completions.create(
        model="smollm2-135m-instruct", messages=history, max_tokens=20, temperature=0
    )
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached >= first.usage.prompt_tokens  # the whole first turn was reused


def test_default_server_answers_french_in_french_with_qwen(tmp_path):
    """The real default set-up: discovery assembles Qwen from its packages and serves it."""
    settings = Settings(data_dir=tmp_path, parallel=1, context_length=1024)
    registry = ModelRegistry.discover(settings)
    assert registry.default_id == QWEN_ID, registry.problems
    with live_server(settings, registry) as url:
        result = client_for(url).chat.completions.create(
            model=QWEN_ID,
            temperature=0,
            max_tokens=40,
            messages=[{"role": "user", "content": "Quelle est la capitale de la France ? Réponds en une phrase."}],
        )
    answer = result.choices[0].message.content
    assert "Paris" in answer
    assert detect_language(answer) == "fr", answer
