"""What a localize job of the HTTP API may read: corpus roots, uploads, model folders; one answer for every refusal."""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from localize_fixtures import write_french_corpus

from causerie.api.app import create_app
from causerie.config import Settings
from causerie.engine.fake import FakeEngine
from causerie.localize.errors import LocalizeFailure
from causerie.localize.paths import confined
from causerie.models.registry import ModelRegistry, ModelSpec
from causerie.principal import PERSONAL


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    root = tmp_path / "archive"
    root.mkdir()
    return Settings(data_dir=tmp_path / "data", corpus_roots=[root], models_dir=tmp_path / "models")


def _registry(folder: Path) -> ModelRegistry:
    """One registered model, ``fake``, with a weights file (a base model must have one)."""
    weights = folder / "fake.gguf"
    weights.write_bytes(b"GGUF")
    engine = FakeEngine("fake")
    return ModelRegistry([ModelSpec(id="fake", path=weights, source="custom", created=0, factory=lambda s: engine)])


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings, _registry(tmp_path))) as client:
        yield client


@pytest.fixture(autouse=True)
def pipeline(monkeypatch: pytest.MonkeyPatch) -> list:
    """The options each job ran with; the pipeline itself (training) is not what these tests are about."""
    runs: list = []

    def run(options, settings, *, registry, progress, restart, confine_to):
        runs.append(options)
        return _Result({"corpus": str(options.corpus)})

    _stub_pipeline(monkeypatch, run)
    return runs


def _job(client: TestClient, corpus: str, **fields: object) -> tuple[int, dict]:
    body = {"corpus": corpus, "language": "fr", "base_model": "fake", **fields}
    response = client.post("/v1/localize/jobs", json=body)
    return response.status_code, response.json()


def _refused(client: TestClient, corpus: str, **fields: object) -> dict:
    status, payload = _job(client, corpus, **fields)
    assert status == 400, payload
    return payload


def _stub_pipeline(monkeypatch: pytest.MonkeyPatch, run) -> None:
    monkeypatch.setattr("causerie.localize.pipeline.run_localize", run)


def _wait(client: TestClient, job_id: str) -> dict:
    import time

    deadline = time.monotonic() + 30
    while (job := client.get(f"/v1/localize/jobs/{job_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def test_a_corpus_outside_the_roots_is_refused_like_a_missing_one(client: TestClient, settings: Settings) -> None:
    root = settings.corpus_roots[0]
    (root / "notes.txt").write_text("bonjour", encoding="utf-8")
    refusals = [
        _refused(client, "/etc"),
        _refused(client, "/etc/shadow"),
        _refused(client, str(Path.home())),
        _refused(client, str(root / "missing")),
        _refused(client, "missing"),
        _refused(client, "/no/such/folder"),
    ]
    assert all(refusal == refusals[0] for refusal in refusals), "outside, missing and absent answer the same bytes"
    error = refusals[0]["error"]
    assert (
        error["param"] == "corpus" and error["code"] == "path_not_allowed" and error["type"] == "invalid_request_error"
    )
    assert "/etc" not in error["message"] and str(root) not in error["message"]
    assert _job(client, "notes.txt")[0] == 202, "a relative corpus resolves inside a root"
    assert _job(client, str(root / "notes.txt"))[0] == 202


def test_a_symlink_out_of_a_corpus_root_is_refused(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    root = settings.corpus_roots[0]
    outside = write_french_corpus(tmp_path / "private", files=1, paragraphs=3)
    os.symlink(outside, root / "link")
    os.symlink(outside / "doc0.txt", root / "doc.txt")
    missing = _refused(client, "missing")
    assert _refused(client, "link") == missing
    assert _refused(client, str(root / "link")) == missing
    assert _refused(client, "link/doc0.txt") == missing
    assert _refused(client, "doc.txt") == missing
    inside = root / "inner"
    inside.mkdir()
    os.symlink(inside, root / "alias")
    assert _job(client, "alias")[0] == 202, "a symlink that stays inside a root is fine"


def test_dotdot_cannot_leave_the_corpus_root(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    root = settings.corpus_roots[0]
    write_french_corpus(tmp_path / "secret", files=1, paragraphs=2)
    (root / "sub").mkdir()
    missing = _refused(client, "missing")
    for value in (
        "..",
        "../secret",
        "sub/../../secret",
        f"{root}/../secret",
        "../../../../etc",
        "./../archive/../secret",
    ):
        assert _refused(client, value) == missing, value
    assert _job(client, "sub/..")[0] == 202, "'..' that stays inside the root is the root"


def test_paths_outside_the_roots_are_never_touched(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stat, no readlink outside the roots: the answer and its timing cannot tell what exists there."""
    touched: list[str] = []
    for name in ("stat", "lstat", "readlink"):
        real = getattr(os, name)

        def spy(path, *args, _real=real, **kwargs):
            touched.append(os.fspath(path))
            return _real(path, *args, **kwargs)

        monkeypatch.setattr(os, name, spy)
    roots = [settings.corpora_dir, *settings.corpus_roots]
    for value in ("/etc/shadow", "../../etc/passwd", f"{settings.corpus_roots[0]}{'/..' * 12}/etc/shadow"):
        assert confined(value, roots, "file or folder") is None
    assert not [path for path in touched if path.startswith("/etc")], touched


def test_uploaded_corpus_runs_as_a_job(client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from causerie.localize.corpus import CorpusOptions, read_corpus

    source = write_french_corpus(tmp_path / "mine", files=4, paragraphs=3)
    files = [("files", (path.name, path.read_bytes(), "application/octet-stream")) for path in sorted(source.iterdir())]
    uploaded = client.post("/v1/localize/corpora", data={"name": "fr-archive"}, files=files)
    assert uploaded.status_code == 201, uploaded.text
    corpus = uploaded.json()
    assert corpus["corpus"] == "fr-archive" and {f["name"] for f in corpus["files"]} == {
        p.name for p in source.iterdir()
    }

    seen: dict = {}

    def run(options, settings, *, registry, progress, restart, confine_to):
        seen["corpus"] = options.corpus
        report = read_corpus(options.corpus, CorpusOptions(language="fr"), confine_to=confine_to).report
        return _Result(report.model_dump(mode="json"))

    _stub_pipeline(monkeypatch, run)
    status, job = _job(client, corpus["corpus"])
    assert status == 202, job
    done = _wait(client, job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert seen["corpus"] == (client.app.state.settings.corpora_dir / "fr-archive").resolve()
    assert {f["path"] for f in done["result"]["files"]} == {p.name for p in source.iterdir()}
    assert all(f["status"] == "used" for f in done["result"]["files"])

    again = client.post("/v1/localize/corpora", data={"name": "fr-archive"}, files=files[:1])
    assert again.status_code == 409 and again.json()["error"]["code"] == "corpus_exists"


class _Result:
    """What the service needs of a pipeline result: ``model_dir`` and ``model_dump``."""

    model_dir = None

    def __init__(self, data: dict) -> None:
        self.data = data

    def model_dump(self, mode: str) -> dict:
        return self.data


@pytest.mark.parametrize(
    ("name", "file_name"),
    [
        ("../escape", "a.txt"),
        ("..", "a.txt"),
        (".hidden", "a.txt"),
        ("a/b", "a.txt"),
        ("", "a.txt"),
        ("ok", "../a.txt"),
        ("ok", "sub/a.txt"),
        ("ok", ".a.txt"),
        ("ok", "a.exe"),
        ("ok", "a\\b.txt"),
    ],
)
def test_upload_refuses_unsafe_names(client: TestClient, settings: Settings, name: str, file_name: str) -> None:
    response = client.post(
        "/v1/localize/corpora", data={"name": name}, files=[("files", (file_name, b"bonjour", "text/plain"))]
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] in ("name", "files")
    stored = list(settings.corpora_dir.rglob("*")) if settings.corpora_dir.exists() else []
    assert stored == [], "nothing is written for a refused upload"


def test_symlinked_files_inside_a_corpus_folder_are_not_read_by_a_job(settings: Settings, tmp_path: Path) -> None:
    from causerie.localize.corpus import CorpusOptions, read_corpus

    root = settings.corpus_roots[0]
    corpus = write_french_corpus(root / "fr", files=2, paragraphs=3)
    secret = write_french_corpus(tmp_path / "secret", files=1, paragraphs=3, seed=7) / "doc0.txt"
    os.symlink(secret, corpus / "secret.txt")
    report = read_corpus(corpus, CorpusOptions(language="fr"), confine_to=[root]).report
    skipped = {f.path: f for f in report.files if f.status == "skipped"}
    assert set(skipped) == {"secret.txt"} and skipped["secret.txt"].sha256 is None, "skipped unread"
    local = read_corpus(corpus, CorpusOptions(language="fr")).report
    assert all(f.status == "used" for f in local.files), "the CLI (no confinement) reads the operator's symlinks"


def test_base_model_path_outside_roots_is_refused(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    root = settings.corpus_roots[0]
    (root / "c.txt").write_text("bonjour", encoding="utf-8")
    outside = tmp_path / "elsewhere" / "tiny"
    outside.mkdir(parents=True)
    (outside / "config.json").write_text("{}")
    (outside / "weights.gguf").write_bytes(b"GGUF")
    assert settings.models_dir is not None
    settings.models_dir.mkdir()
    os.symlink(outside, settings.models_dir / "link")
    answers = [
        _refused(client, "c.txt", base_model=value)
        for value in (str(outside), str(outside / "weights.gguf"), "/etc/passwd", "no-such-model", "link", "../x")
    ]
    assert all(answer == answers[0] for answer in answers), answers
    assert answers[0]["error"]["param"] == "base_model" and answers[0]["error"]["code"] == "path_not_allowed"
    inside = settings.models_dir / "tiny"
    inside.mkdir()
    (inside / "config.json").write_text("{}")
    assert _job(client, "c.txt", base_model="tiny")[0] == 202, "a model folder under the models dir is allowed"
    assert _job(client, "c.txt", base_model=str(inside))[0] == 202


def test_eval_text_path_outside_roots_is_refused(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    root = settings.corpus_roots[0]
    (root / "c.txt").write_text("bonjour", encoding="utf-8")
    (root / "english.txt").write_text("Hello there.", encoding="utf-8")
    (root / "folder").mkdir()
    outside = tmp_path / "english.txt"
    outside.write_text("Hello.", encoding="utf-8")
    os.symlink(outside, root / "link.txt")
    answers = [
        _refused(client, "c.txt", eval={"english_text": value})
        for value in (str(outside), "/etc/passwd", "missing.txt", "folder", "link.txt", "../english.txt")
    ]
    assert all(answer == answers[0] for answer in answers), "outside, missing, a folder and a symlink out look alike"
    assert answers[0]["error"]["param"] == "eval.english_text"
    assert _job(client, "c.txt", eval={"english_text": "english.txt"})[0] == 202


def test_export_failure_is_a_server_error_not_a_400(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """llama.cpp's converter failing is the server's failure: a failed job of type server_error, never a 400."""
    from causerie.localize.export import convert

    version = importlib.metadata.version("llama-cpp-python")
    converter = tmp_path / "cache" / f"llama.cpp-convert-{version}"
    converter.mkdir(parents=True)
    (converter / "convert_hf_to_gguf.py").write_text(
        "import sys\nprint('ERROR: Model architecture TinyMoE is not supported', file=sys.stderr)\nsys.exit(1)\n"
    )

    def run(options, settings, *, registry, progress, restart, confine_to):
        convert(tmp_path / "merged", tmp_path / "out.gguf", "f32", cache=tmp_path / "cache")
        raise AssertionError("the conversion cannot succeed")

    _stub_pipeline(monkeypatch, run)
    (settings.corpus_roots[0] / "c.txt").write_text("bonjour", encoding="utf-8")
    status, job = _job(client, "c.txt")
    assert status == 202, job
    failed = _wait(client, job["id"])
    assert failed["status"] == "failed"
    error = failed["error"]
    assert error["type"] == "server_error" and error["code"] == "localize_failed", error
    assert "TinyMoE is not supported" in error["message"]
    assert LocalizeFailure("x").status_code == 500, "raised outside a job, it would answer 500"


def test_the_app_lifespan_starts_and_stops_the_job_runner(settings: Settings, tmp_path: Path) -> None:
    app = create_app(settings, _registry(tmp_path))
    with TestClient(app):
        jobs = app.state.container.jobs
        started = jobs.submit("demo", lambda progress: {"ok": True}, PERSONAL)
        assert jobs.wait(started.id, PERSONAL, 10).status == "succeeded", "started with the app"
    after = jobs.submit("demo", lambda progress: {"ok": True}, PERSONAL)
    assert jobs.wait(after.id, PERSONAL, 0.5).status == "queued", "stopped with the app"


def test_a_registered_base_id_is_never_read_as_a_path_of_the_same_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API accepts a registered id without a path check, so the pipeline must not turn it into a local path."""
    from causerie.localize.base_model import resolve_base

    registry = _registry(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "config.json").write_text("{}")
    assert resolve_base("fake", registry) == ("fake", tmp_path / "fake.gguf")
