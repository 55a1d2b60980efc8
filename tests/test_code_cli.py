"""``causerie code generate|fix|optimize`` in-process and against a server, over the fake engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import causerie.cli.backend as backend_module
from causerie.cli.main import app
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry
from tests.conftest import fake_spec
from tests.test_code_api import ADD_RIGHT, ADD_TESTS, ADD_WRONG, ALLOCATE, FAST, SLOW, WRONG, Script

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("CAUSERIE_SERVER", "CAUSERIE_API_KEY", "CAUSERIE_MODEL_PATHS", "CAUSERIE_DEFAULT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAUSERIE_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch):
    """In-process commands get one fake model that answers from a script."""

    def start(*replies: str) -> tuple[Script, FakeEngine]:
        script = Script(*replies)
        engine = FakeEngine(reply=script, context_length=8192)
        registry = ModelRegistry([fake_spec(engine)])
        monkeypatch.setattr(backend_module, "discover_registry", lambda settings: registry)
        return script, engine

    return start


@pytest.fixture
def files(tmp_path: Path):
    def write(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return str(path)

    return write


def test_help_lists_the_code_commands():
    result = runner.invoke(app, ["code", "--help"])
    assert result.exit_code == 0
    for command in ("generate", "fix", "optimize"):
        assert command in result.stdout


def test_generate_in_process_prints_the_passing_code(local, files):
    script, _ = local(ADD_WRONG, ADD_RIGHT)
    result = runner.invoke(app, ["code", "generate", "add two numbers", "--tests", files("t.py", ADD_TESTS)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "def add(a, b):\n    return a + b\n"
    assert "fail" in result.stderr and "pass" in result.stderr and "exit 1" in result.stderr
    assert len(script.prompts) == 2


def test_generate_that_never_passes_exits_1(local, files):
    local(ADD_WRONG)
    result = runner.invoke(app, ["code", "generate", "add", "--tests", files("t.py", ADD_TESTS), "--attempts", "1"])
    assert result.exit_code == 1
    assert "return a - b" in result.stdout


def test_fix_json_reports_every_run(local, files):
    local(ADD_RIGHT)
    code = files("add.py", "def add(a, b):\n    return a * b\n")
    result = runner.invoke(app, ["code", "fix", code, "--tests", files("t.py", ADD_TESTS), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["original"]["run"]["exit_code"] == 1 and body["attempts"][0]["run"]["exit_code"] == 0


def test_optimize_in_process_reports_speedup(local, files):
    local(FAST)
    result = runner.invoke(app, ["code", "optimize", files("slow.py", SLOW), "-i", "total(200000)"])
    assert result.exit_code == 0, result.output
    assert "Speedup:" in result.stderr and "n * (n - 1) // 2" in result.stdout


def test_in_process_runs_obey_the_operators_sandbox_maximums(local, monkeypatch):
    monkeypatch.setenv("CAUSERIE_SANDBOX_MAX_MEMORY_MB", "256")
    local(ALLOCATE)
    result = runner.invoke(app, ["code", "generate", "allocate 400 MiB", "--attempts", "1", "--json"])
    assert result.exit_code == 1, result.output
    run = json.loads(result.stdout)["attempts"][0]["run"]
    assert run["limits"]["memory_mb"] == 256 and run["stopped"] == "memory"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["fix", "{bin}"], "is a binary file, not text"),
        (["fix", "{missing}"], "cannot read the code file"),
        (["optimize", "{bad}", "-i", "f()"], "code does not parse as python: line 1"),
        (["optimize", "{good}"], "give tests or inputs"),
        (["generate", "x", "--language", "cobol"], "unknown language 'cobol'"),
        (["generate", "x", "--tests", "{bad}"], "tests does not parse as python: line 1"),
    ],
)
def test_bad_input_is_one_readable_line_and_no_model_call(local, files, tmp_path, args, words):
    _, engine = local()
    paths = {
        "bin": files("x.bin", b"\x00\x01\x02"),
        "missing": str(tmp_path / "nope.py"),
        "bad": files("bad.py", "def f(:\n"),
        "good": files("good.py", "def f():\n    return 1\n"),
    }
    result = runner.invoke(app, ["code", *[arg.format(**paths) for arg in args]])
    assert result.exit_code == 1, result.output
    assert "Error:" in result.stderr and words in result.stderr and "Traceback" not in result.output
    assert engine.requests == []


def test_commands_against_a_server(serve_fake, files):
    url, _engine = serve_fake(reply=Script(ADD_RIGHT, WRONG), context_length=8192)
    result = runner.invoke(
        app,
        [
            "code",
            "fix",
            files("add.py", "def add(a, b):\n    return 0\n"),
            "--tests",
            files("t.py", ADD_TESTS),
            "--server",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "def add(a, b):\n    return a + b\n"
    result = runner.invoke(
        app,
        ["code", "optimize", files("slow.py", SLOW), "-i", "total(10)", "--server", url, "--attempts", "1", "--json"],
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["attempts"][0]["reason"].startswith("behaviour changed")
    result = runner.invoke(app, ["code", "generate", "x", "--server", url, "--model", "nope"])
    assert result.exit_code == 1 and "does not exist" in result.stderr
