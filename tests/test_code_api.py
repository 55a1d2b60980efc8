"""The code endpoints over the fake engine: scripted model replies, real sandbox runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from causerie.api.app import create_app
from causerie.config import Settings
from causerie.engine.base import GenerationRequest
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry
from causerie.sandbox import DEFAULT_MAXIMUMS
from causerie.sandbox import isolation as isolation_module
from causerie.services.code_text import extract_code
from tests.conftest import fake_spec

ADD_WRONG = "```python\ndef add(a, b):\n    return a - b\n```"
ADD_RIGHT = "Here is the fix:\n```python\ndef add(a, b):\n    return a + b\n```\nIt adds."
ADD_TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"


class Script:
    """Replies in order; remembers every prompt the model was given."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []

    def __call__(self, request: GenerationRequest) -> str:
        self.prompts.append(request.prompt)
        return self.replies.pop(0)


@pytest.fixture
def serve(tmp_path) -> Iterator:
    clients: list[TestClient] = []

    def start(*replies: str, **settings: Any) -> tuple[TestClient, Script, FakeEngine]:
        script = Script(*replies)
        engine = FakeEngine(reply=script, context_length=8192)
        app = create_app(Settings(data_dir=tmp_path, preload=False, **settings), ModelRegistry([fake_spec(engine)]))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client, script, engine

    yield start
    for client in clients:
        client.__exit__(None, None, None)


# ---------------------------------------------------------------- generate


def test_generate_retries_with_the_failure_and_passes_on_attempt_two(serve):
    client, script, _ = serve(ADD_WRONG, ADD_RIGHT)
    response = client.post("/v1/code/generate", json={"description": "add two numbers", "tests": ADD_TESTS})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "code.generate" and body["model"] == "fake"
    assert body["passed"] is True and body["checked_by"] == "tests"
    assert body["code"] == "def add(a, b):\n    return a + b\n"
    first, second = body["attempts"]
    assert first["passed"] is False and first["run"]["exit_code"] == 1
    assert "AssertionError" in first["run"]["stderr"]
    assert second["passed"] is True and second["run"]["exit_code"] == 0 and second["run"]["command"][-1] == "main.py"
    assert ADD_TESTS.splitlines()[0] in script.prompts[0]  # the model saw the tests
    assert "AssertionError" in script.prompts[1]  # and, the second time, why the first attempt failed


def test_generate_without_tests_is_checked_by_running_it(serve):
    client, _, _ = serve("```python\nprint('hello')\n```")
    body = client.post("/v1/code/generate", json={"description": "say hello"}).json()
    assert body["passed"] is True and body["checked_by"] == "run"
    assert body["attempts"][0]["run"]["stdout"] == "hello\n"


def test_generate_reports_unparseable_model_code_without_running_it(serve):
    client, _, _ = serve("```python\ndef add(a, b)\n    return a + b\n```")
    body = client.post("/v1/code/generate", json={"description": "add", "tests": ADD_TESTS, "max_attempts": 1}).json()
    attempt = body["attempts"][0]
    assert body["passed"] is False
    assert attempt["syntax_error"].startswith("line 1:") and attempt["run"] is None


# ---------------------------------------------------------------- fix


def test_fix_runs_the_given_code_first_then_succeeds_on_attempt_two(serve):
    client, script, _ = serve(ADD_WRONG, ADD_RIGHT)
    body = client.post("/v1/code/fix", json={"code": "def add(a, b):\n    return a * b\n", "tests": ADD_TESTS}).json()
    assert body["object"] == "code.fix" and body["passed"] is True
    assert body["original"]["attempt"] == 0 and body["original"]["passed"] is False
    assert [attempt["passed"] for attempt in body["attempts"]] == [False, True]
    assert "return a * b" in script.prompts[0] and "AssertionError" in script.prompts[0]


def test_fix_gives_up_after_max_attempts(serve):
    client, _, engine = serve(ADD_WRONG, ADD_WRONG)
    body = client.post(
        "/v1/code/fix", json={"code": "def add(a, b):\n    return 0\n", "tests": ADD_TESTS, "max_attempts": 2}
    ).json()
    assert body["passed"] is False and len(body["attempts"]) == 2 and len(engine.requests) == 2
    assert body["code"] == "def add(a, b):\n    return a - b\n"  # the last attempt


def test_fix_of_code_that_already_passes_calls_no_model(serve):
    client, _, engine = serve()
    body = client.post("/v1/code/fix", json={"code": "def add(a, b):\n    return a + b\n", "tests": ADD_TESTS}).json()
    assert body["passed"] is True and body["attempts"] == [] and engine.requests == []


def test_fix_accepts_code_with_a_syntax_error_and_an_error_message(serve):
    client, script, _ = serve(ADD_RIGHT)
    body = client.post(
        "/v1/code/fix", json={"code": "def add(a, b)\n    return a + b\n", "error": "SyntaxError: expected ':'"}
    ).json()
    assert body["original"]["syntax_error"] and body["passed"] is True and body["checked_by"] == "run"
    assert "expected ':'" in script.prompts[0]


# ---------------------------------------------------------------- optimize

SLOW = "def total(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n"
FAST = "```python\ndef total(n):\n    return n * (n - 1) // 2\n```"
WRONG = "```python\ndef total(n):\n    return n * (n + 1) // 2\n```"


def test_optimize_accepts_equal_results_and_reports_the_measured_speedup(serve):
    client, _, _ = serve(FAST)
    body = client.post(
        "/v1/code/optimize",
        json={"code": SLOW, "inputs": ["total(300000)", "total(7)"], "tests": "assert total(4) == 6"},
    ).json()
    assert body["accepted"] is True and body["code"] == "def total(n):\n    return n * (n - 1) // 2\n"
    assert body["original"]["outputs"] == body["optimized"]["outputs"] == ["44999850000", "21"]
    assert body["optimized"]["tests_passed"] is True
    assert body["speedup"] == pytest.approx(body["original"]["seconds"] / body["optimized"]["seconds"], rel=1e-2)
    assert body["speedup"] > 1


def test_optimize_rejects_code_that_changes_behaviour(serve):
    client, script, _ = serve(WRONG, WRONG)
    body = client.post("/v1/code/optimize", json={"code": SLOW, "inputs": ["total(10)"]}).json()
    assert body["accepted"] is False and body["code"] == SLOW and body["speedup"] is None
    assert [attempt["accepted"] for attempt in body["attempts"]] == [False, False]
    assert body["attempts"][0]["reason"] == "behaviour changed: total(10) -> 55 (was 45)"
    assert "behaviour changed" in script.prompts[1]


def test_optimize_rejects_code_that_fails_the_tests(serve):
    client, _, _ = serve(WRONG)
    body = client.post(
        "/v1/code/optimize", json={"code": SLOW, "tests": "assert total(4) == 6", "max_attempts": 1}
    ).json()
    assert body["accepted"] is False
    assert "AssertionError" in body["attempts"][0]["reason"]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("path", "payload", "param", "words"),
    [
        ("generate", {"description": "  "}, "description", "must not be empty"),
        ("generate", {"description": "x", "tests": "assert ("}, "tests", "does not parse"),
        ("generate", {"description": "x", "language": "cobol"}, "language", "available: python"),
        ("generate", {"description": "x", "max_attempts": 0}, "max_attempts", "greater than or equal"),
        ("generate", {"description": "x", "limits": {"memory_mb": 1}}, "limits.memory_mb", "greater than"),
        ("generate", {"description": "x", "bogus": 1}, "bogus", "Extra inputs"),
        ("fix", {"code": ""}, "code", "must not be empty"),
        ("optimize", {"code": "def f(:\n  pass", "inputs": ["f()"]}, "code", "does not parse"),
        ("optimize", {"code": "def f(): pass"}, "inputs", "give tests or inputs"),
        ("optimize", {"code": "def f(): pass", "inputs": ["f() +"]}, "inputs", "not a Python expression"),
    ],
)
def test_bad_requests_get_400_naming_the_parameter_before_any_model_call(serve, path, payload, param, words):
    client, _, engine = serve()
    response = client.post(f"/v1/code/{path}", json=payload)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and words in error["message"] and error["type"] == "invalid_request_error"
    assert engine.requests == []


@pytest.mark.parametrize(
    ("path", "payload", "param", "maximum"),
    [
        ("generate", {"description": "x"}, "memory_mb", 1024),
        ("generate", {"description": "x"}, "wall_seconds", 30.0),
        ("generate", {"description": "x"}, "processes", 64),
        ("generate", {"description": "x"}, "cpu_seconds", 10),
        ("generate", {"description": "x"}, "file_size_mb", 64),
        ("generate", {"description": "x"}, "open_files", 256),
        ("generate", {"description": "x"}, "output_bytes", 1 << 20),
        ("fix", {"code": "print(open('/proc/1/environ').read())", "tests": "assert True"}, "memory_mb", 1024),
        ("optimize", {"code": "def f(): return 1", "inputs": ["f()"]}, "wall_seconds", 30.0),
    ],
)
def test_limits_above_the_servers_maximum_are_refused_naming_the_parameter(serve, path, payload, param, maximum):
    client, _, engine = serve("```python\nprint(1)\n```")
    above = {
        "memory_mb": 16000,
        "wall_seconds": 300,
        "processes": 1024,
        "cpu_seconds": 300,
        "file_size_mb": 4096,
        "open_files": 4096,
        "output_bytes": 16 << 20,
    }[param]
    response = client.post(f"/v1/code/{path}", json={**payload, "limits": {param: above}})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == f"limits.{param}"
    assert f"maximum of {maximum}" in error["message"]
    assert engine.requests == []


def test_limits_at_the_servers_maximum_are_accepted(serve):
    client, _, _ = serve("```python\nprint('ran')\n```")
    at_most = DEFAULT_MAXIMUMS.model_dump()
    response = client.post("/v1/code/generate", json={"description": "x", "limits": at_most})
    assert response.status_code == 200, response.text
    run = response.json()["attempts"][0]["run"]
    assert run["stdout"] == "ran\n" and run["limits"] == at_most


ALLOCATE = "```python\nblock = bytearray(400 << 20)\nprint(len(block) >> 20)\n```"


def test_a_lower_operator_maximum_is_enforced(serve):
    client, _, _ = serve(ALLOCATE)
    body = client.post("/v1/code/generate", json={"description": "x", "max_attempts": 1}).json()
    assert body["passed"] is True and body["attempts"][0]["run"]["stdout"] == "400\n"  # under the default 512 MiB

    client, _, engine = serve(ALLOCATE, sandbox_max_memory_mb=256, sandbox_max_wall_seconds=5)
    response = client.post("/v1/code/generate", json={"description": "x", "limits": {"memory_mb": 512}})
    assert response.status_code == 400 and response.json()["error"]["param"] == "limits.memory_mb"
    assert "maximum of 256" in response.json()["error"]["message"] and engine.requests == []
    body = client.post("/v1/code/generate", json={"description": "x", "max_attempts": 1}).json()
    run = body["attempts"][0]["run"]
    assert (run["limits"]["memory_mb"], run["limits"]["wall_seconds"]) == (256, 5)  # defaults lowered to the maximum
    assert body["passed"] is False and run["stopped"] == "memory"


def test_unknown_model_is_404(serve):
    client, _, _ = serve()
    response = client.post("/v1/code/generate", json={"description": "x", "model": "nope"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"


def test_no_sandbox_means_503_and_nothing_runs(serve, monkeypatch):
    client, _, _ = serve("```python\nprint(1)\n```")
    isolation_module.detect.cache_clear()
    monkeypatch.setattr(isolation_module.shutil, "which", lambda name: None)
    try:
        response = client.post("/v1/code/generate", json={"description": "x"})
    finally:
        isolation_module.detect.cache_clear()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "sandbox_unavailable"


# ---------------------------------------------------------------- extraction


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("```python\nx = 1\n```", "x = 1\n"),
        ("Sure!\n```py\nx = 1\n```\nUsage:\n```python\nprint(x)\nprint(x)\n```", "print(x)\nprint(x)\n"),
        ("```bash\npip install x\n```\n```python\nx = 2\n```", "x = 2\n"),
        ("```\nx = 3\n```", "x = 3\n"),
        ("```python\nx = 4\n", "x = 4\n"),  # cut off before the closing fence
        ("x = 5", "x = 5\n"),
        ("~~~python\nx = 6\n~~~", "x = 6\n"),
    ],
)
def test_extract_code(reply, expected):
    assert extract_code(reply, "python") == expected


def test_extract_code_prefers_the_block_defining_the_target():
    reply = "```python\ndef helper():\n    return 1 + 1 + 1 + 1\n```\n```python\ndef f():\n    pass\n```"
    assert extract_code(reply, "python", prefer="def f(") == "def f():\n    pass\n"
