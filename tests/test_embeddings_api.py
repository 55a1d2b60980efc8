"""POST /v1/embeddings over deterministic fakes: OpenAI's shapes, encodings, token input, dimensions, errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from causerie.config import Settings
from causerie.engine.fake import FakeEngine
from causerie.engine.fake_embedding import FakeEmbedder
from causerie.models.registry import ModelRegistry, ModelSpec
from tests.conftest import client_for, fake_spec, live_server


@pytest.fixture(scope="module")
def embedders() -> dict[str, FakeEmbedder]:
    return {"fake-embed": FakeEmbedder("fake-embed"), "fake-mrl": FakeEmbedder("fake-mrl", dimensions=32)}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, embedders: dict[str, FakeEmbedder]) -> Iterator[str]:
    specs = [fake_spec(FakeEngine(model_id="fake-chat"))] + [
        ModelSpec(
            id=name,
            path=None,
            source="custom",
            created=0,
            capability="embedding",
            matryoshka=name == "fake-mrl",
            factory=lambda settings, e=embedder: e,
        )
        for name, embedder in embedders.items()
    ]
    with live_server(Settings(data_dir=tmp_path_factory.mktemp("data")), ModelRegistry(specs)) as base:
        yield base


@pytest.fixture
def client(url: str) -> openai.OpenAI:
    return client_for(url)


def post(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(url + "/v1/embeddings", json=body, timeout=30)


def test_one_text(client: openai.OpenAI, embedders: dict[str, FakeEmbedder]) -> None:
    fake = embedders["fake-embed"]
    result = client.embeddings.create(model="fake-embed", input="bonjour le monde", encoding_format="float")
    assert result.object == "list" and result.model == "fake-embed" and len(result.data) == 1
    item = result.data[0]
    assert item.object == "embedding" and item.index == 0 and len(item.embedding) == 16
    assert item.embedding == fake.vector(fake.tokenize("bonjour le monde")).tolist()
    assert result.usage.prompt_tokens == result.usage.total_tokens == 5  # 3 words + BOS + EOS


def test_texts_keep_their_order_and_usage_adds_up(client: openai.OpenAI, embedders: dict[str, FakeEmbedder]) -> None:
    fake = embedders["fake-embed"]
    texts = ["un", "deux trois", "東京 は 日本 の 首都"]
    result = client.embeddings.create(model="fake-embed", input=texts, encoding_format="float")
    assert [d.index for d in result.data] == [0, 1, 2]
    for text, item in zip(texts, result.data, strict=True):
        assert item.embedding == fake.vector(fake.tokenize(text)).tolist()
    assert result.usage.prompt_tokens == 3 + 4 + 7
    assert fake.batches[-1] == [fake.tokenize(t) for t in texts]  # one batch for the whole request


def test_base64_decodes_to_the_float_vectors(url: str, client: openai.OpenAI) -> None:
    texts = ["alpha beta", "gamma"]
    floats = post(url, {"model": "fake-embed", "input": texts}).json()
    encoded = post(url, {"model": "fake-embed", "input": texts, "encoding_format": "base64"}).json()
    for plain, packed in zip(floats["data"], encoded["data"], strict=True):
        decoded = np.frombuffer(base64.b64decode(packed["embedding"]), dtype="<f4")
        assert decoded.tolist() == plain["embedding"]
    # The SDK asks for base64 when no encoding_format is given and decodes it itself.
    by_sdk = client.embeddings.create(model="fake-embed", input=texts)
    assert [d.embedding for d in by_sdk.data] == [d["embedding"] for d in floats["data"]]


def test_token_ids_embed_like_their_text(client: openai.OpenAI, embedders: dict[str, FakeEmbedder]) -> None:
    fake = embedders["fake-embed"]
    text_ids = [fake.token_id(w) for w in ["le", "chat", "dort"]]
    by_text = client.embeddings.create(model="fake-embed", input="le chat dort", encoding_format="float")
    one = client.embeddings.create(model="fake-embed", input=text_ids, encoding_format="float")
    several = client.embeddings.create(model="fake-embed", input=[text_ids, text_ids[:1]], encoding_format="float")
    assert one.data[0].embedding == by_text.data[0].embedding == several.data[0].embedding
    assert several.data[1].embedding == fake.vector(fake.with_specials(text_ids[:1])).tolist()
    assert one.usage.prompt_tokens == 5 and several.usage.prompt_tokens == 5 + 3
    wrapped = fake.with_specials(text_ids)  # ids that already carry the special tokens are not wrapped twice
    again = client.embeddings.create(model="fake-embed", input=wrapped, encoding_format="float")
    assert again.data[0].embedding == by_text.data[0].embedding and again.usage.prompt_tokens == 5


def test_matryoshka_dimensions_are_truncated_and_renormalized(client: openai.OpenAI) -> None:
    full = client.embeddings.create(model="fake-mrl", input="x y", encoding_format="float").data[0].embedding
    short = client.embeddings.create(model="fake-mrl", input="x y", dimensions=8).data[0].embedding
    prefix = np.array(full[:8], dtype=np.float32)
    assert len(short) == 8 and np.allclose(short, prefix / np.linalg.norm(prefix), atol=1e-6)
    assert np.linalg.norm(short) == pytest.approx(1.0, abs=1e-6)
    same = client.embeddings.create(model="fake-embed", input="x", dimensions=16)  # the native size: a no-op
    assert len(same.data[0].embedding) == 16


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"input": ""}, "input", "cannot be an empty string"),
        ({"input": []}, "input", "must be a string, a non-empty array"),
        ({"input": ["a", ""]}, "input", "item 1 is not"),
        ({"input": ["a", 3]}, "input", "all non-empty strings"),
        ({"input": [1, -2]}, "input", "integers >= 0"),
        ({"input": [1, True]}, "input", "item 1 is not"),
        ({"input": [[1], []]}, "input", "item 1 is not"),
        ({"input": {"text": "a"}}, "input", "must be a string"),
        ({"input": ["a"] * 2049}, "input", "at most 2048"),
        ({"input": [5, 1000]}, "input", "outside the model's vocabulary of 1000 tokens"),
        ({"input": " ".join(["mot"] * 40)}, "input", "maximum context length is 32 tokens"),
        ({"input": "a", "encoding_format": "int8"}, "encoding_format", "float"),
        ({"input": "a", "dimensions": 0}, "dimensions", "greater than or equal to 1"),
        ({"input": "a", "dimensions": 8}, "dimensions", "not a Matryoshka model"),
        ({"input": "a", "dimensions": 64, "model": "fake-mrl"}, "dimensions", "at most 32"),
        ({"input": "a", "model": "fake-chat"}, "model", "is a chat model: it cannot generate embeddings"),
        ({"input": "a", "model": ""}, "model", "at least 1 character"),
    ],
)
def test_bad_requests_name_the_parameter(url: str, body: dict[str, Any], param: str, says: str) -> None:
    response = post(url, {"model": "fake-embed", **body})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error" and says in error["message"]


def test_unknown_model_is_a_404_listing_the_models(url: str) -> None:
    response = post(url, {"model": "text-embedding-3-small", "input": "a"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found" and "fake-embed" in error["message"]


def test_an_embedding_model_cannot_chat(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="fake-embed", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.body["param"] == "model" and "embedding model" in refused.value.body["message"]


def test_models_say_what_each_is_for(url: str, client: openai.OpenAI) -> None:
    listed = httpx.get(url + "/v1/models").json()["data"]
    assert {m["id"]: m["capability"] for m in listed} == {
        "fake-chat": "chat",
        "fake-embed": "embedding",
        "fake-mrl": "embedding",
    }
    assert [m.id for m in client.models.list()] == ["fake-chat", "fake-embed", "fake-mrl"]


def test_the_openapi_schema_documents_the_route(url: str) -> None:
    schema = httpx.get(url + "/openapi.json").json()
    assert "/v1/embeddings" in schema["paths"]
