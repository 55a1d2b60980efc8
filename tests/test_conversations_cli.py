"""`causerie chat` stores its exchanges and `causerie history` reads them, in-process and with --server,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import causerie.cli.backend as backend_module
from causerie.cli.main import app
from causerie.config import Settings
from causerie.engine.base import GenerationRequest
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry
from tests.conftest import fake_spec, free_port, live_server
from tests.conversation_fixtures import api, chat_requests, is_title_request

runner = CliRunner()


def reply(request: GenerationRequest) -> str:
    if is_title_request(request):
        return "Titre : Une lettre à écrire"
    return f"reply {request.prompt.count('<|user|>')}"


@pytest.fixture(autouse=True)
def store_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str | None) -> None:
    for name in ("CAUSERIE_SERVER", "CAUSERIE_API_KEY", "CAUSERIE_MODEL_PATHS", "CAUSERIE_DEFAULT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAUSERIE_DATA_DIR", str(tmp_path / "data"))
    if database_url:
        monkeypatch.setenv("CAUSERIE_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("CAUSERIE_DATABASE_URL", raising=False)


@pytest.fixture
def local_fake(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    engine = FakeEngine(reply=reply)
    monkeypatch.setattr(backend_module, "discover_registry", lambda settings: ModelRegistry([fake_spec(engine)]))
    return engine


def invoke(*args: str, input: str | None = None):
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result


def test_terminal_chat_is_stored_and_shown_by_history_and_the_server(local_fake):
    invoke("chat", "--system", "Sois bref.", input="Écrire une lettre au maire\nÀ Tōkyō, 東京都に住んでいます\n")
    listed = json.loads(invoke("history", "list", "--json").stdout)
    assert len(listed["data"]) == 1
    conversation = listed["data"][0]
    assert conversation["title"] == "Une lettre à écrire" and conversation["language"] == "fr"
    assert conversation["system_prompt"] == "Sois bref."
    table = invoke("history", "list").stdout
    assert conversation["id"] in table and "Une lettre" in table  # the title may wrap at 80 columns
    shown = invoke("history", "show", conversation["id"]).stdout
    assert shown.index("Écrire une lettre au maire") < shown.index("reply 1") < shown.index("東京都に住んでいます")
    full = json.loads(invoke("history", "show", conversation["id"], "--json").stdout)
    assert [m["content"] for m in full["messages"]] == [
        "Écrire une lettre au maire", "reply 1", "À Tōkyō, 東京都に住んでいます", "reply 2",
    ]  # fmt: skip
    assert "東京都に住んでいます" in invoke("history", "search", "東京").stdout
    hits = json.loads(invoke("history", "search", "ECRIRE", "--json").stdout)["data"]
    assert [hit["conversation_id"] for hit in hits] == [conversation["id"]]
    assert "<|user|>Écrire une lettre au maire\n<|assistant|>reply 1" in chat_requests(local_fake)[-1].prompt
    # the browser's server reads the same store
    settings = Settings()
    with live_server(settings, ModelRegistry([fake_spec(FakeEngine())])) as url:
        assert [c["id"] for c in api(url).get("/conversations").json()["data"]] == [conversation["id"]]


def test_history_export_to_stdout_and_file(local_fake, tmp_path):
    invoke("chat", input="Bonjour\n/reset\nSalut\n")  # /reset starts a second conversation
    ids = [c["id"] for c in json.loads(invoke("history", "list", "--json").stdout)["data"]]
    assert len(ids) == 2
    markdown = invoke("history", "export", ids[0], "--format", "markdown").stdout
    assert markdown.startswith("# ") and "## User\n\nSalut" in markdown
    target = tmp_path / "all.json"
    result = invoke("history", "export", "--output", str(target))
    assert "Wrote" in result.stderr
    exported = json.loads(target.read_text(encoding="utf-8"))
    assert [c["id"] for c in exported["data"]] == ids
    assert [m["content"] for m in exported["data"][1]["messages"]] == ["Bonjour", "reply 1"]


def test_history_errors_are_readable(local_fake, tmp_path):
    for args in (["history", "show", "conv_nope"], ["history", "export", "conv_nope"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, args
        assert "Error:" in result.stderr and "No conversation with id 'conv_nope'" in result.stderr
        assert "Traceback" not in result.output
    nothing = runner.invoke(app, ["history", "search", "absent"])
    assert nothing.exit_code == 1 and "Nothing found" in nothing.stderr
    unwritable = runner.invoke(app, ["history", "export", "--output", str(tmp_path / "missing" / "x.json")])
    assert unwritable.exit_code == 1 and "cannot write" in unwritable.stderr
    url = f"http://127.0.0.1:{free_port()}"
    offline = runner.invoke(app, ["history", "list", "--server", url])
    assert offline.exit_code == 1 and "cannot reach the server" in offline.stderr


def test_interrupted_local_reply_is_kept_incomplete(monkeypatch):
    engine = FakeEngine(reply=lambda r: "a b c d e f g h " * 20, parallel=1, delay=0.01)
    monkeypatch.setattr(backend_module, "discover_registry", lambda settings: ModelRegistry([fake_spec(engine)]))
    backend = backend_module.LocalBackend()
    try:
        conversation_id = backend.create_conversation(system=None, model=None)
        stream = backend.stream_message(conversation_id, "raconte", model=None, temperature=None, max_tokens=None)
        assert next(stream) == "a"
        stream.close()  # Ctrl-C during the reply
        again = backend.stream_message(conversation_id, "encore", model=None, temperature=None, max_tokens=None)
        assert "".join(again).startswith("a b c")  # the slot was freed and the conversation goes on
    finally:
        backend.close()
    shown = json.loads(invoke("history", "show", conversation_id, "--json").stdout)
    statuses = [(m["role"], m["status"]) for m in shown["messages"]]
    assert statuses[:2] == [("user", "complete"), ("assistant", "incomplete")]
    assert shown["messages"][1]["content"].startswith("a")
    assert shown["messages"][2]["content"] == "encore"


def test_chat_with_server_stores_on_the_server(conv_server):
    url, _engine = conv_server(reply=reply)
    result = runner.invoke(app, ["chat", "--server", url], input="Écrire un poème\nUn autre\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "reply 1\nreply 2\n"
    listed = api(url).get("/conversations").json()["data"]
    assert len(listed) == 1 and listed[0]["title"] == "Une lettre à écrire"
    messages = api(url).get(f"/conversations/{listed[0]['id']}").json()["messages"]
    assert [m["content"] for m in messages] == ["Écrire un poème", "reply 1", "Un autre", "reply 2"]
    remote = json.loads(invoke("history", "search", "ecrire", "--server", url, "--json").stdout)["data"]
    assert [hit["message_id"] for hit in remote] == [messages[0]["id"]]
    assert "Un autre" in invoke("history", "show", listed[0]["id"], "--server", url).stdout
    refused = runner.invoke(app, ["chat", "--server", url, "--model", "nope"], input="hi\n")
    assert refused.exit_code == 1 and "does not exist" in refused.stderr and "Traceback" not in refused.output


def test_serve_refuses_an_unreachable_database_in_one_line(monkeypatch, local_fake):
    monkeypatch.setenv("CAUSERIE_DATABASE_URL", f"postgresql://causerie:hunter2@127.0.0.1:{free_port()}/causerie")
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    monkeypatch.setattr(ModelRegistry, "discover", lambda settings: ModelRegistry([fake_spec(local_fake)]))
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    assert "Error: cannot open database" in result.stderr and "hunter2" not in result.output
    assert "Traceback" not in result.output
