"""The generic job runner, the localize job API's validation, and model=auto routing."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from conftest import fake_spec, live_server

from causerie.config import Settings
from causerie.engine.fake import FakeEngine
from causerie.errors import InvalidRequest
from causerie.models.registry import ModelRegistry, ModelSpec
from causerie.principal import PERSONAL
from causerie.services.jobs import JobNotFound, JobRunner


def test_job_runs_reports_progress_and_keeps_its_result(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path / "jobs")
    runner.start()
    release = threading.Event()
    seen = threading.Event()

    def work(progress) -> dict:
        progress("train", 1, 4, loss=2.5)
        seen.set()
        release.wait(10)
        return {"answer": 42}

    job = runner.submit("demo", work, PERSONAL)
    assert seen.wait(10)
    running = runner.get(job.id, PERSONAL)
    assert running.status == "running" and running.progress.stage == "train"
    assert running.progress.completed == 1 and running.progress.total == 4 and running.progress.metrics == {"loss": 2.5}
    release.set()
    done = runner.wait(job.id, PERSONAL, 10)
    assert done.status == "succeeded" and done.result == {"answer": 42} and done.finished_at is not None
    runner.shutdown()
    reloaded = JobRunner(tmp_path / "jobs")
    reloaded.start()
    assert reloaded.get(job.id, PERSONAL).result == {"answer": 42}, "finished jobs survive a restart"
    reloaded.shutdown()


def test_failed_jobs_keep_a_readable_error_and_interrupted_ones_are_marked(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path / "jobs")
    runner.start()

    def bad_input(progress) -> dict:
        raise InvalidRequest("the corpus is empty", param="corpus")

    def crash(progress) -> dict:
        raise RuntimeError("disk on fire")

    first, second = runner.submit("demo", bad_input, PERSONAL), runner.submit("demo", crash, PERSONAL)
    client_fault = runner.wait(first.id, PERSONAL, 10).error
    assert client_fault is not None and client_fault.message == "the corpus is empty"
    assert client_fault.type == "invalid_request_error" and client_fault.param == "corpus"
    server_fault = runner.wait(second.id, PERSONAL, 10).error
    assert server_fault is not None and server_fault.message == "RuntimeError: disk on fire"
    assert server_fault.type == "server_error"
    with pytest.raises(JobNotFound):
        runner.get("job-nope", PERSONAL)
    stuck = runner.get(first.id, PERSONAL).model_copy(update={"status": "running", "error": None, "id": "job-stuck"})
    (tmp_path / "jobs" / "job-stuck.json").write_text(stuck.model_dump_json())
    restarted = JobRunner(tmp_path / "jobs")
    with pytest.raises(JobNotFound):
        restarted.get("job-stuck", PERSONAL)  # a runner reads no record before it starts (the CLI never does)
    restarted.start()
    interrupted = restarted.get("job-stuck", PERSONAL)
    assert interrupted.status == "failed" and interrupted.error is not None
    assert interrupted.error.type == "server_error" and interrupted.error.code == "interrupted"
    restarted.shutdown()
    runner.shutdown()


@pytest.fixture
def api(tmp_path: Path):
    engine = FakeEngine("fake")
    settings = Settings(data_dir=tmp_path / "data", corpus_roots=[tmp_path])
    with live_server(settings, ModelRegistry([fake_spec(engine)])) as url:
        yield url


def test_localize_job_rejects_bad_input_with_openai_errors(api: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    cases = [
        ({"corpus": str(tmp_path / "missing"), "language": "fr", "base_model": "fake"}, "corpus", "may read"),
        ({"corpus": str(corpus), "language": "French", "base_model": "fake"}, "language", "Invalid value"),
        ({"corpus": str(corpus), "language": "fr", "base_model": "no-such-model"}, "base_model", "registered model"),
        ({"corpus": str(corpus), "language": "fr", "base_model": "fake"}, "base_model", "no weights file"),
        (
            {"corpus": str(corpus), "language": "fr", "base_model": "fake", "train": {"max_steps": 0}},
            "train.max_steps",
            "Invalid",
        ),
        ({"corpus": str(corpus), "language": "fr", "base_model": "fake", "surprise": 1}, "surprise", "Invalid"),
    ]
    for body, param, message in cases:
        response = httpx.post(f"{api}/v1/localize/jobs", json=body)
        error = response.json()["error"]
        assert response.status_code == 400, body
        assert error["param"] == param and message in error["message"], error
    missing = httpx.get(f"{api}/v1/localize/jobs/job-unknown")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "job_not_found"


def _localized(engine: FakeEngine, language: str, created: int) -> ModelSpec:
    return ModelSpec(
        id=engine.model_id, path=None, source="localized", created=created, language=language, factory=lambda s: engine
    )


def test_model_auto_routes_by_the_language_of_the_last_user_message(tmp_path: Path) -> None:
    default, french, japanese = (
        FakeEngine("default", lambda r: "hi"),
        FakeEngine("m-fr", lambda r: "salut"),
        FakeEngine("m-ja", lambda r: "やあ"),
    )
    older_french = FakeEngine("m-fr-old", lambda r: "vieux")
    registry = ModelRegistry(
        [
            fake_spec(default),
            _localized(older_french, "fr", 1),
            _localized(french, "fr", 2),
            _localized(japanese, "ja", 3),
        ],
        default_id="default",
    )
    with live_server(Settings(data_dir=tmp_path), registry) as url:

        def ask(text: str, model: str = "auto") -> dict:
            messages = [
                {"role": "user", "content": "Hello there, how are you?"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": text},
            ]
            response = httpx.post(f"{url}/v1/chat/completions", json={"model": model, "messages": messages})
            assert response.status_code == 200, response.text
            return response.json()

        fr = ask("Bonjour, pouvez-vous m'expliquer comment fonctionne ce fichier ?")
        assert fr["model"] == "m-fr" and fr["choices"][0]["message"]["content"] == "salut"
        assert ask("このファイルの使い方を教えてください。")["model"] == "m-ja"
        assert ask("Guten Tag, wie geht es Ihnen heute?")["model"] == "default", "no German model: the default answers"
        assert ask("Bonjour, pouvez-vous m'aider ?", model="m-ja")["model"] == "m-ja", (
            "an explicit id is never rerouted"
        )
        streamed = httpx.post(
            f"{url}/v1/chat/completions",
            json={
                "model": "auto",
                "stream": True,
                "messages": [{"role": "user", "content": "日本の首都はどこですか？"}],
            },
        )
        assert '"model":"m-ja"' in streamed.text
