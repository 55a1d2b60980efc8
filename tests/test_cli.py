"""The ``causerie`` command line, in-process over the fake engine and against a live HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import causerie.cli.backend as backend_module
from causerie.cli.backend import BackendError, ModelRow
from causerie.cli.chat_loop import Conversation, Options, interactive_chat
from causerie.cli.main import app
from causerie.config import Settings
from causerie.engine.base import GenerationRequest
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry
from tests.conftest import fake_spec, free_port
from tests.conversation_fixtures import chat_requests

runner = CliRunner()


def numbered_reply(request: GenerationRequest) -> str:
    """'reply N' where N counts the user turns in the rendered prompt: shows that history is sent."""
    return f"reply {request.prompt.count('<|user|>')}"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("CAUSERIE_SERVER", "CAUSERIE_API_KEY", "CAUSERIE_MODEL_PATHS", "CAUSERIE_DEFAULT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAUSERIE_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def local_fake(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """In-process commands discover one fake model (and one broken model, as a problem)."""
    engine = FakeEngine(reply=numbered_reply)
    registry = ModelRegistry([fake_spec(engine)], problems={"broken": "the file broken.gguf is missing"})
    monkeypatch.setattr(backend_module, "discover_registry", lambda settings: registry)
    return engine


# ---------------------------------------------------------------- help


def test_top_level_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "chat", "run", "models"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (
            "serve",
            [
                "--host",
                "--port",
                "--model",
                "--models-dir",
                "--default-model",
                "--context-length",
                "--parallel",
                "--threads",
                "--api-key",
                "--log-level",
            ],
        ),
        ("chat", ["--model", "--server", "--api-key", "--system", "--temperature", "--max-tokens", "/reset"]),
        ("run", ["prompt", "--model", "--server", "--api-key", "--system", "--temperature", "--max-tokens"]),
        ("models", ["--server", "--api-key", "--json"]),
    ],
)
def test_command_help_mentions_its_options(command, options):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    for option in options:
        assert option in result.stdout, option


# ---------------------------------------------------------------- in-process


def test_models_in_process_marks_default_and_reports_problems(local_fake):
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if "fake" in line)
    assert "*" in line and "custom" in line
    assert "broken" not in result.stdout
    assert "broken" in result.stderr and "missing" in result.stderr


def test_models_json(local_fake):
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"id": "fake", "context_length": None, "source": "custom", "description": "", "default": True}
    ]


def test_run_in_process_streams_answer_with_options(local_fake):
    result = runner.invoke(
        app, ["run", "Bonjour", "--system", "Réponds en français.", "--temperature", "0.2", "--max-tokens", "5"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "reply 1\n"
    request = local_fake.requests[-1]
    assert "<|system|>Réponds en français." in request.prompt and "<|user|>Bonjour" in request.prompt
    assert (request.params.temperature, request.params.max_tokens) == (0.2, 5)


def test_run_reads_prompt_from_stdin(local_fake):
    result = runner.invoke(app, ["run"], input="Quelle heure est-il ?\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "reply 1\n"
    assert "<|user|>Quelle heure est-il ?" in local_fake.requests[-1].prompt


def test_run_without_any_prompt_is_a_usage_error(local_fake):
    result = runner.invoke(app, ["run"], input="  \n")
    assert result.exit_code == 2
    assert "no prompt" in result.stderr
    assert local_fake.requests == []


def test_chat_piped_keeps_history_and_prints_only_replies(local_fake):
    result = runner.invoke(app, ["chat"], input="Bonjour\n\nÇa va ?\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "reply 1\nreply 2\n"
    second = chat_requests(local_fake)[1].prompt
    assert "<|user|>Bonjour\n<|assistant|>reply 1\n<|user|>Ça va ?" in second


def test_chat_piped_reset_and_exit(local_fake):
    result = runner.invoke(app, ["chat", "--system", "Sois bref."], input="un\n/reset\ndeux\n/exit\ntrois\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "reply 1\nreply 1\n"
    last = chat_requests(local_fake)[-1].prompt
    assert "un" not in last and "<|system|>Sois bref." in last and "<|user|>deux" in last
    assert len(chat_requests(local_fake)) == 2


def test_unknown_model_in_process_is_a_readable_error(local_fake):
    result = runner.invoke(app, ["run", "hi", "--model", "nope"])
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "does not exist" in result.stderr and "fake" in result.stderr
    assert "Traceback" not in result.output


class ScriptedBackend:
    """A backend that keeps conversations, answers 'ok' and fails on the word 'boom'."""

    def __init__(self) -> None:
        self.conversations: dict[str, list[str]] = {}
        self.calls: list[tuple[str, str]] = []

    def models(self) -> list[ModelRow]:
        return [ModelRow("fake", None, "custom", "", True)]

    def problems(self) -> dict[str, str]:
        return {}

    def create_conversation(self, *, system, model) -> str:
        conversation_id = f"conv_{len(self.conversations)}"
        self.conversations[conversation_id] = [system] if system else []
        return conversation_id

    def stream_message(self, conversation_id, text, *, model, temperature, max_tokens) -> Iterator[str]:
        self.calls.append((conversation_id, text))
        self.conversations[conversation_id].append(text)  # stored before the reply, like the real store
        if text == "boom":
            raise BackendError("the server is on fire")
        self.conversations[conversation_id].append("ok")
        yield "ok"

    def close(self) -> None:
        pass


def test_interactive_loop_survives_errors_and_resets(monkeypatch, capsys):
    lines = iter(["hello", "boom", "", "again", "/reset", "fresh"])

    def fake_input(prompt: str = "") -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", fake_input)
    backend = ScriptedBackend()
    interactive_chat(backend, Conversation(system="Be brief."), Options(), Console())
    assert backend.calls == [("conv_0", "hello"), ("conv_0", "boom"), ("conv_0", "again"), ("conv_1", "fresh")]
    assert backend.conversations == {
        "conv_0": ["Be brief.", "hello", "ok", "boom", "again", "ok"],  # the failed turn stays stored
        "conv_1": ["Be brief.", "fresh", "ok"],
    }
    captured = capsys.readouterr()
    assert "the server is on fire" in captured.err


# ---------------------------------------------------------------- serve (without starting a server)


def test_serve_merges_flags_over_environment(monkeypatch, tmp_path, local_fake):
    from_env, from_flag = tmp_path / "env.gguf", tmp_path / "flag.gguf"
    from_env.touch()
    from_flag.touch()
    monkeypatch.setenv("CAUSERIE_MODEL_PATHS", str(from_env))
    monkeypatch.setenv("CAUSERIE_PARALLEL", "3")
    discover = classmethod(lambda cls, settings: backend_module.discover_registry(settings))
    monkeypatch.setattr(ModelRegistry, "discover", discover)
    started = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: started.update(app=app, **kwargs))
    result = runner.invoke(app, ["serve", "--port", "9123", "--model", str(from_flag), "--api-key", "k"])
    assert result.exit_code == 0, result.output
    settings: Settings = started["app"].state.settings
    assert (started["host"], started["port"], started["log_level"]) == ("127.0.0.1", 9123, "info")
    assert settings.model_paths == [from_env, from_flag]
    assert (settings.parallel, settings.api_keys, settings.context_length) == (3, ["k"], 4096)
    assert "http://127.0.0.1:9123" in result.stdout and "fake" in result.stdout


def test_serve_rejects_missing_model_file(tmp_path):
    result = runner.invoke(app, ["serve", "--model", str(tmp_path / "absent.gguf")])
    assert result.exit_code == 2
    assert "absent.gguf" in result.output and "does not exist" in result.output


def test_serve_rejects_invalid_settings(monkeypatch):
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    result = runner.invoke(app, ["serve", "--parallel", "0"])
    assert result.exit_code == 2
    assert "parallel" in result.stderr and "Traceback" not in result.output


# ---------------------------------------------------------------- against a live server


def test_run_and_models_against_a_server(serve_fake):
    url, engine = serve_fake(reply=numbered_reply)
    result = runner.invoke(app, ["run", "Bonjour", "--server", url + "/", "--max-tokens", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "reply\n"  # max_tokens reached the server
    assert engine.requests[-1].params.max_tokens == 1

    result = runner.invoke(app, ["models", "--json"], env={"CAUSERIE_SERVER": url})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"id": "fake", "context_length": None, "source": "causerie", "description": "", "default": True}
    ]
    table = runner.invoke(app, ["models", "--server", url])
    assert table.exit_code == 0 and "fake" in table.stdout and "*" in table.stdout


def test_chat_piped_against_a_server(serve_fake):
    url, engine = serve_fake(reply=numbered_reply)
    result = runner.invoke(app, ["chat", "--server", url, "--model", "fake"], input="un\ndeux\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "reply 1\nreply 2\n"
    assert "<|user|>un\n<|assistant|>reply 1\n<|user|>deux" in chat_requests(engine)[-1].prompt


def test_server_errors_are_readable(serve_fake):
    url, _ = serve_fake()
    result = runner.invoke(app, ["run", "hi", "--server", url, "--model", "nope"])
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.output


def test_api_key_is_sent_and_refusal_is_readable(serve_fake, tmp_path):
    url, _ = serve_fake(Settings(data_dir=tmp_path, api_keys=["secret"]), reply=lambda r: "ok")
    refused = runner.invoke(app, ["run", "hi", "--server", url])
    assert refused.exit_code == 1 and "API key" in refused.stderr
    accepted = runner.invoke(app, ["run", "hi", "--server", url], env={"CAUSERIE_API_KEY": "secret"})
    assert accepted.exit_code == 0 and accepted.stdout == "ok\n"


def test_unreachable_server_is_a_readable_error():
    url = f"http://127.0.0.1:{free_port()}"
    for args in (["run", "hi"], ["models"], ["chat"]):
        result = runner.invoke(app, [*args, "--server", url], input="hello\n")
        assert result.exit_code == 1, args
        assert "Error:" in result.stderr and "cannot reach the server" in result.stderr and url in result.stderr
        assert "Traceback" not in result.output


def test_local_backend_frees_the_slot_when_the_reader_stops(local_fake, monkeypatch):
    engine = FakeEngine(reply=lambda r: "a b c d e f g h", parallel=1, delay=0.01)
    registry = ModelRegistry([fake_spec(engine)])
    monkeypatch.setattr(backend_module, "discover_registry", lambda settings: registry)
    backend = backend_module.LocalBackend()
    try:
        messages = [{"role": "user", "content": "hi"}]
        stream = backend.stream_chat(messages, model=None, temperature=None, max_tokens=None)
        assert next(stream) == "a"
        stream.close()  # like Ctrl-C during a reply
        again = backend.stream_chat(messages, model=None, temperature=None, max_tokens=None)
        assert "".join(again) == "a b c d e f g h"  # the single slot was released; same loop across turns
    finally:
        backend.close()
