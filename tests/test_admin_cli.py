"""`causerie admin …` in-process on a store, then a server on the same store; secrets never reach the logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from causerie.api.app import create_app
from causerie.cli.main import app
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry
from tests.conftest import fake_spec
from tests.org_fixtures import org_settings

runner = CliRunner()
PASSWORD = "a very long secret"


@pytest.fixture(autouse=True)
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("CAUSERIE_DATABASE_URL", "CAUSERIE_API_KEYS", "CAUSERIE_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAUSERIE_DATA_DIR", str(tmp_path))
    return tmp_path


def admin(*args: str, input: str | None = None, code: int = 0) -> str:
    result = runner.invoke(app, ["admin", *args], input=input)
    assert result.exit_code == code, result.output
    return result.output


def server(tmp_path: Path) -> TestClient:
    return TestClient(create_app(org_settings(tmp_path), ModelRegistry([fake_spec(FakeEngine())])))


def test_the_admin_commands_set_up_an_organization_that_the_server_enforces(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert "Created organization acme" in admin("org", "create", "acme")
    admin("org", "create", "acme", code=1)  # a name is taken once
    added = admin(
        "user",
        "create",
        "--org",
        "acme",
        "--email",
        "Ada@Example.com",
        "--role",
        "admin",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert "ada@example.com" in added and "admin" in added
    prompted = admin("user", "create", "--org", "acme", "--email", "bob@example.com", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert "as member" in prompted
    admin("user", "create", "--org", "nowhere", "--email", "x@example.com", "--password-stdin", input=PASSWORD, code=1)
    output = admin("key", "create", "--org", "acme", "--user", "ada@example.com", "--name", "ci", "--expires", "30d")
    key = output.strip().splitlines()[-1]
    assert key.startswith("sk-cau-") and output.count(key) == 1, "the key, once, on the last line"
    key_id = next(word for word in output.split() if word.startswith("key_"))
    admin("key", "create", "--org", "acme", "--expires", "tomorrow", code=2)
    assert "may now use" in admin("models", "grant", "--org", "acme", "fake-preview")
    assert "no longer" in admin("models", "revoke", "--org", "acme", "fake-preview")

    with server(data_dir) as client:
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/v1/admin/keys", headers=headers).status_code == 200, "an admin's key"
        assert client.get("/v1/models").status_code == 401, "organization mode: a key is needed"
        wrong = client.get("/v1/models", headers={"Authorization": f"Bearer {key}x"})
        assert wrong.status_code == 401 and key not in wrong.text
        assert "Revoked" in admin("key", "revoke", key_id)
        assert client.get("/v1/models", headers=headers).status_code == 401
    admin("key", "revoke", "key_nope", code=1)
    for secret in (key, PASSWORD):
        assert secret not in caplog.text, "no secret in the logs"


def test_personal_mode_needs_no_admin_step(data_dir: Path) -> None:
    """Nothing configured: no key, no organization, as before organizations existed."""
    with server(data_dir) as client:
        assert client.get("/v1/models").status_code == 200
        assert client.post("/v1/conversations", json={}).status_code == 201
