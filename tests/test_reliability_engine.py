"""Requests that used to crash the server, answer 500 or stall everyone: each is refused or served.

The engine tests run on the real SmolLM2 (llama.cpp aborts or segfaults on what the fake takes);
validation tests run on the fake engine.
"""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from causerie.config import Settings
from causerie.engine.base import GenerationChunk, GenerationRequest, SamplingParams
from causerie.engine.llamacpp import LlamaCppEngine
from causerie.models.embedded import SMOLLM_ID
from causerie.models.registry import ModelRegistry, ModelSpec
from tests.conftest import live_server, smollm2_path

SMOLLM_VOCABULARY = 49152


def _alive(url: str) -> bool:
    return httpx.get(url + "/health", timeout=30).status_code == 200


def _post_raw(url: str, path: str, body: str) -> httpx.Response:
    """POST a JSON body written by hand, so that it can carry escapes (``\\ud800``) a client would refuse."""
    return httpx.post(url + path, content=body.encode(), headers={"Content-Type": "application/json"}, timeout=60)


# ------------------------------------------------------------ the real engine


@pytest.mark.model
@pytest.mark.parametrize("prompt", ["", [""]])
def test_empty_prompt_completes_and_the_server_stays_up(smollm2_url, prompt):
    response = httpx.post(
        smollm2_url + "/v1/completions",
        json={"model": SMOLLM_ID, "prompt": prompt, "max_tokens": 5, "seed": 1},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["usage"]["prompt_tokens"] == 1  # the start-of-document token
    assert body["usage"]["completion_tokens"] >= 1 and body["choices"][0]["text"]
    assert _alive(smollm2_url)


@pytest.mark.model
def test_empty_prompt_with_logprobs_zero_and_one_token(smollm2_url):
    response = httpx.post(
        smollm2_url + "/v1/completions",
        json={"model": SMOLLM_ID, "prompt": "", "logprobs": 0, "max_tokens": 1, "seed": 1},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    logprobs = response.json()["choices"][0]["logprobs"]
    assert len(logprobs["tokens"]) == 1 and logprobs["token_logprobs"][0] <= 0
    assert logprobs["top_logprobs"] == [{}]  # logprobs 0: the sampled token only


@pytest.mark.model
def test_schema_whose_grammar_llama_cpp_rejects_is_a_400_not_a_crash(smollm2_url):
    response = httpx.post(
        smollm2_url + "/v1/chat/completions",
        json={
            "model": SMOLLM_ID,
            "messages": [{"role": "user", "content": "Pick one."}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "none", "schema": {"enum": []}}},
        },
        timeout=60,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert _alive(smollm2_url)


@pytest.mark.model
def test_negative_seed_is_repeatable(smollm2_url):
    """llama.cpp reads the seed as uint32, and 0xFFFFFFFF (what -1 became) as 'pick one at random'."""
    body = {"model": SMOLLM_ID, "prompt": "Ten random words:", "max_tokens": 8, "temperature": 2, "seed": -1}
    first, second = (httpx.post(smollm2_url + "/v1/completions", json=body, timeout=120).json() for _ in range(2))
    assert first["choices"][0]["text"] == second["choices"][0]["text"]


def _smollm2_engine() -> LlamaCppEngine:
    return LlamaCppEngine(SMOLLM_ID, smollm2_path(), context_length=2048, parallel=1)


@pytest.mark.model
def test_top_logprobs_beyond_the_vocabulary_are_capped():
    engine = _smollm2_engine()

    async def first_token() -> GenerationChunk:
        request = GenerationRequest("Hello", SamplingParams(max_tokens=1, logprobs=10 * SMOLLM_VOCABULARY))
        try:
            chunks = [event async for event in engine.generate(request) if isinstance(event, GenerationChunk)]
        finally:
            await engine.aclose()
        return chunks[0]

    top = asyncio.run(first_token()).logprobs[0].top
    assert len(top) == SMOLLM_VOCABULARY
    assert [t.logprob for t in top] == sorted((t.logprob for t in top), reverse=True)


@pytest.mark.model
def test_health_answers_while_a_huge_message_is_tokenized(tmp_path, monkeypatch):
    engine = _smollm2_engine()  # served, then closed, by the app
    tokenizing = threading.Event()
    count_tokens = engine.count_tokens

    def signalled(text: str, *, add_bos: bool = True) -> int:
        if len(text) > 1_000_000:
            tokenizing.set()
        return count_tokens(text, add_bos=add_bos)

    monkeypatch.setattr(engine, "count_tokens", signalled)
    spec = ModelSpec(id=SMOLLM_ID, path=None, source="custom", created=0, factory=lambda settings: engine)
    answered: list[str] = []
    huge = "The cat sleeps on the sofa while the dog watches the garden. " * 100_000  # 6 MB
    with live_server(Settings(data_dir=tmp_path), ModelRegistry([spec])) as url:

        def big_request() -> None:
            response = httpx.post(
                url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": huge}]}, timeout=300
            )
            answered.append(f"chat {response.status_code}")

        sender = threading.Thread(target=big_request)
        sender.start()
        assert tokenizing.wait(120), "the big message never reached the tokenizer"
        health = httpx.get(url + "/health", timeout=120)
        answered.append(f"health {health.status_code}")
        sender.join(300)
    assert answered == ["health 200", "chat 400"]  # the message is far over the context; /health did not wait


# ------------------------------------------------------------ validation, on the fake engine


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "caf\\ud800"}]}', "messages.0.content"),
        ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "hi"}], "stop": ["\\udfff"]}', "stop.0"),
        ("/v1/completions", '{"prompt": "\\ud800"}', "prompt"),
        ("/v1/summarize", '{"text": "A long document. \\ud800"}', "text"),
        ("/v1/code/fix", '{"code": "print(\'\\ud800\')"}', "code"),
        ("/v1/conversations", '{"system_prompt": "\\ud800"}', "system_prompt"),
        ("/v1/conversations", '{"title": "\\ud800"}', "title"),
    ],
)
def test_lone_surrogate_is_a_400_naming_the_parameter(serve_fake, path, body, param):
    url, engine = serve_fake()
    response = _post_raw(url, path, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert "surrogate" in error["message"]
    assert engine.requests == []  # refused before anything ran
    assert _alive(url)


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "hi"}], "stream": 0}', "stream"),
        ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "hi"}], "logprobs": "true"}', "logprobs"),
        ("/v1/completions", '{"prompt": "hi", "echo": 1}', "echo"),
        ("/v1/summarize", '{"text": "A long document.", "stream": 0}', "stream"),
    ],
)
def test_booleans_must_be_json_true_or_false(serve_fake, path, body, param):
    url, engine = serve_fake()
    response = _post_raw(url, path, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert engine.requests == []
