"""End to end on the embedded SmolLM2: the code endpoint over HTTP and one HumanEval task."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from causerie.config import Settings
from causerie.models.embedded import SMOLLM_ID
from causerie.models.registry import ModelRegistry, ModelSpec
from causerie.services.container import Container
from causerie.services.evals.base import EvalContext
from causerie.services.evals.humaneval import HumanEvalSuite, load_problems
from causerie.services.evals.runner import run_suite
from tests.conftest import smollm2_path

pytestmark = pytest.mark.model


def test_generate_on_smollm2_passes_a_simple_task(smollm2_url):
    response = httpx.post(
        smollm2_url + "/v1/code/generate",
        json={
            "model": SMOLLM_ID,
            "description": "Write a Python function add(a, b) that returns the sum of a and b.",
            "tests": "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n",
            "temperature": 0,
            "max_tokens": 200,
            "max_attempts": 2,
        },
        timeout=600,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == SMOLLM_ID and body["checked_by"] == "tests"
    assert body["passed"] is True, body
    last = body["attempts"][-1]
    assert last["run"]["exit_code"] == 0 and "def add(" in body["code"]


def test_humaneval_task_on_smollm2_is_run_in_the_sandbox(tmp_path: Path):
    path = smollm2_path()
    settings = Settings(data_dir=tmp_path, parallel=1, context_length=2048)
    container = Container(settings, ModelRegistry([ModelSpec(id=SMOLLM_ID, path=path, source="embedded", created=0)]))
    suite = HumanEvalSuite(load_problems()[2:3], max_tokens=200)

    async def evaluate():
        try:
            return await run_suite(suite, EvalContext.of(container, SMOLLM_ID))
        finally:
            await container.aclose()

    report = asyncio.run(evaluate())
    item = report.items[0]
    assert item.id == "HumanEval/2" and report.metrics["pass@1"] == item.scores["pass@1"]
    assert "def truncate_number" in item.detail["completion"]
    assert item.detail["exit_code"] is not None or item.detail["stopped"] is not None  # it really ran
    assert (item.scores["pass@1"] == 1.0) == (item.detail["exit_code"] == 0)
