"""``causerie translate`` and ``causerie summarize``: in-process and with --server, over the fake engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import causerie.cli.backend as backend_module
from causerie.cli.main import app
from causerie.cli.text import default_target
from causerie.engine.base import GenerationRequest
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry
from tests.conftest import fake_spec
from tests.text_fakes import is_translation, system_text, upper_translator

runner = CliRunner()
DOC = "# Notes\n\nThe server restarts every night at `02:00`. See https://example.com/ops for details.\n"
FRENCH_DOC = (
    "Le conseil municipal s'est réuni hier soir pour discuter du budget de l'année prochaine. "
    "Les habitants ont demandé plus de pistes cyclables et un nouveau marché couvert."
)


def fake_model(request: GenerationRequest) -> str:
    if is_translation(request):
        return upper_translator(request)
    if "one part of a longer document" in system_text(request):
        return "Une partie du compte rendu municipal."
    return "Le conseil a discuté du budget et des demandes des habitants."


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("CAUSERIE_SERVER", "CAUSERIE_API_KEY", "CAUSERIE_MODEL_PATHS", "CAUSERIE_DEFAULT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAUSERIE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")


@pytest.fixture
def local_fake(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    engine = FakeEngine(reply=fake_model)
    monkeypatch.setattr(backend_module, "discover_registry", lambda settings: ModelRegistry([fake_spec(engine)]))
    return engine


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "notes.md"
    path.write_text(DOC, encoding="utf-8")
    return path


def test_translate_a_file_in_process(local_fake, doc):
    result = runner.invoke(app, ["translate", str(doc), "--to", "ja"])
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == "# NOTES\n\nTHE SERVER RESTARTS EVERY NIGHT AT `02:00`. SEE https://example.com/ops FOR DETAILS.\n"
    )
    assert "into Japanese" in system_text(local_fake.requests[0])


def test_translate_stdin_defaults_to_the_locale_language_and_prints_json(local_fake):
    result = runner.invoke(app, ["translate", "--json"], input=DOC)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["source_language"], data["target_language"], data["format"]) == ("en", "fr", "markdown")
    assert "".join(s["source"] for s in data["segments"]) == DOC


def test_side_by_side_and_glossary_warnings(local_fake, doc):
    result = runner.invoke(app, ["translate", str(doc), "--to", "fr", "--side-by-side", "-g", "server=serveur"])
    assert result.exit_code == 0, result.output
    assert "Notes" in result.stdout and "NOTES" in result.stdout  # both columns
    assert "'server' not translated as 'serveur'" in result.stderr


def test_summarize_in_process(local_fake, tmp_path):
    path = tmp_path / "cr.txt"
    path.write_text(FRENCH_DOC, encoding="utf-8")
    result = runner.invoke(app, ["summarize", str(path), "--length", "short"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Le conseil a discuté du budget et des demandes des habitants.\n"
    assert "one pass; language fr" in result.stderr
    assert "in one or two sentences" in system_text(local_fake.requests[0])


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["translate", "--to", "fr"], "is a binary file, not text"),
        ("Déjà vu".encode("latin-1"), ["translate", "--to", "fr"], "is not UTF-8 text"),
        (b"   \n", ["summarize"], "is empty"),
        (DOC.encode(), ["translate", "--to", "vulcan"], "unknown language 'vulcan'"),
        (DOC.encode(), ["translate", "--to", "fr", "--formality", "rude"], "invalid formality"),
        (DOC.encode(), ["translate", "--to", "fr", "-g", "server"], "must look like TERM=TRANSLATION"),
        (DOC.encode(), ["summarize", "--length", "epic"], "invalid length"),
        (DOC.encode(), ["summarize", "--lang", "xx"], "unknown language 'xx'"),
    ],
)
def test_bad_input_is_one_readable_line(local_fake, tmp_path, content, args, message):
    path = tmp_path / "input"
    path.write_bytes(content)
    result = runner.invoke(app, [args[0], str(path), *args[1:]])
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output
    assert local_fake.requests == []


def test_missing_file(local_fake, tmp_path):
    result = runner.invoke(app, ["summarize", str(tmp_path / "nope.txt")])
    assert result.exit_code == 1 and "cannot read" in result.stderr


def test_both_commands_against_a_server(serve_fake, doc, tmp_path):
    url, _engine = serve_fake(reply=fake_model)
    translated = runner.invoke(app, ["translate", str(doc), "--to", "fr", "--server", url])
    assert translated.exit_code == 0, translated.output
    assert "https://example.com/ops" in translated.stdout and "THE SERVER RESTARTS" in translated.stdout

    path = tmp_path / "long.txt"
    path.write_text("\n\n".join([FRENCH_DOC] * 8), encoding="utf-8")
    summary = runner.invoke(app, ["summarize", str(path), "--server", url, "--json"])
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.stdout)["summary"].startswith("Le conseil")

    wrong = runner.invoke(app, ["summarize", str(path), "--server", url, "--model", "nope"])
    assert wrong.exit_code == 1 and "The model 'nope' does not exist" in wrong.stderr


def test_default_target_follows_the_locale(monkeypatch):
    monkeypatch.setenv("LC_ALL", "ja_JP.UTF-8")
    assert default_target() == "ja"
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("LANG", "C")
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    assert default_target() == "en"
