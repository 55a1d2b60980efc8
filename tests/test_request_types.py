"""Request bodies take JSON types as the OpenAPI schema declares them (found by the fuzzer, tests/test_fuzz_api.py).

An integer field refuses ``true`` and ``"5"``, a number field refuses ``"0.5"``: a 400 naming the parameter,
before any model runs, as OpenAI answers (it used to read ``"logprobs": false`` as ``logprobs=0``).
"""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/completions", {"prompt": "hi", "logprobs": False}, "logprobs"),
        ("/v1/completions", {"prompt": "hi", "max_tokens": "5"}, "max_tokens"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "n": True}, "n"),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "hi"}], "temperature": "0.5"},
            "temperature",
        ),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "seed": "7"}, "seed"),
        ("/v1/summarize", {"text": "A long document.", "chunk_tokens": "100"}, "chunk_tokens"),
        ("/v1/code/fix", {"code": "x = 1", "error": "boom", "limits": {"memory_mb": True}}, "limits.memory_mb"),
        ("/v1/code/generate", {"description": "a function", "max_attempts": "2"}, "max_attempts"),
        (
            "/v1/localize/jobs",
            {"corpus": "c", "language": "fr", "base_model": "m", "train": {"max_steps": True}},
            "train.max_steps",
        ),
    ],
)
def test_numbers_must_be_json_numbers(serve_fake, path: str, body: dict, param: str) -> None:
    url, engine = serve_fake()
    response = httpx.post(url + path, json=body, timeout=60)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert engine.requests == []


def test_paths_are_still_given_as_json_strings(serve_fake, tmp_path) -> None:
    """Strict types leave a localization corpus, a path, readable from its JSON string."""
    url, _ = serve_fake()
    body = {"corpus": str(tmp_path / "missing"), "language": "fr", "base_model": "m"}
    response = httpx.post(url + "/v1/localize/jobs", json=body, timeout=60)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "corpus"  # the path was parsed; it does not exist
