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
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from causerie.api.app import create_app
from causerie.config import Settings
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry, ModelSpec

API_KEY = "fuzz-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, negative_data_rejection]
MAX_EXAMPLES = 12
"""Fuzzing-phase examples per operation (the examples and coverage phases add their own, bounded, cases)."""
SEED = 8


def fuzz_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        }
    )


def fuzz_app(data_dir: Path) -> FastAPI:
    """The app on a fake engine; each lifespan gets a fresh engine (schemathesis ends the lifespan after each test)."""
    settings = Settings(data_dir=data_dir, api_keys=[API_KEY], parallel=4)
    spec = ModelSpec(id="fake", path=None, source="custom", created=0, factory=lambda settings: FakeEngine(parallel=4))
    return create_app(settings, ModelRegistry([spec]))


# The schema is built without starting an app (collection stays cheap); the tests call a served one.
schema = schemathesis.openapi.from_dict(fuzz_app(Path("unused")).openapi(), config=fuzz_config())


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return fuzz_app(tmp_path_factory.mktemp("fuzz-data"))


@schema.parametrize()
def test_every_operation_keeps_its_contract(case: schemathesis.Case, app: FastAPI) -> None:
    case.call_and_validate(app=app, headers=AUTH, checks=CHECKS)
