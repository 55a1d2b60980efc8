"""Organization mode over the fake engine: keys, roles, the admin API, per-organization models, adoption."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from causerie.api.app import create_app
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry
from causerie.principal import PERSONAL, PERSONAL_ORGANIZATION_ID
from causerie.services import accounts as accounts_module
from causerie.services.container import Container
from tests.conftest import fake_spec
from tests.org_fixtures import Orgs, org_settings, spec

FRENCH = "Bonjour, pourriez-vous m'expliquer comment fonctionne la photosynthèse des plantes vertes ?"


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"], error
    return error


def _model_ids(orgs: Orgs, who: str) -> list[str]:
    response = orgs.client.get("/v1/models", headers=orgs.headers(who))
    assert response.status_code == 200, response.text
    return [card["id"] for card in response.json()["data"]]


def _chat(orgs: Orgs, who: str, model: str, text: str = "Salut"):
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    return orgs.client.post("/v1/chat/completions", json=body, headers=orgs.headers(who))


# ---------------------------------------------------------------- keys and roles


def test_a_member_cannot_use_the_admin_api(orgs: Orgs) -> None:
    for who in ("a_member", "a_service"):
        headers = orgs.headers(who)
        _error(orgs.client.get("/v1/admin/keys", headers=headers), 403, "insufficient_permissions")
        _error(orgs.client.post("/v1/admin/keys", json={}, headers=headers), 403, "insufficient_permissions")
        body = {"email": "new@a.example", "password": "long enough", "role": "admin"}
        _error(orgs.client.post("/v1/admin/users", json=body, headers=headers), 403, "insufficient_permissions")
        revoke = orgs.client.delete(f"/v1/admin/keys/{orgs.key_ids['a_admin']}", headers=headers)
        _error(revoke, 403, "insufficient_permissions")
    assert orgs.client.get("/v1/models", headers=orgs.headers("a_admin")).status_code == 200, "nothing was revoked"


def test_an_admin_adds_a_member_creates_a_key_shown_once_and_revokes_it(orgs: Orgs) -> None:
    admin = orgs.headers("a_admin")
    body = {"email": "Grace@A.example", "password": "hopper-1906", "role": "member"}
    added = orgs.client.post("/v1/admin/users", json=body, headers=admin)
    assert added.status_code == 201 and added.json()["email"] == "grace@a.example" and added.json()["role"] == "member"
    _error(orgs.client.post("/v1/admin/users", json=body, headers=admin), 409, "conflict")
    created = orgs.client.post(
        "/v1/admin/keys", json={"user": "grace@a.example", "name": "laptop", "expires": "30d"}, headers=admin
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["key"].startswith("sk-cau-") and key["prefix"] == key["key"][:11] + "…"
    assert key["expires_at"] - key["created_at"] == 30 * 86400 and key["user_id"] == added.json()["id"]
    listed = orgs.client.get("/v1/admin/keys", headers=admin).json()["data"]
    assert key["id"] in [k["id"] for k in listed] and all("key" not in k for k in listed), "shown once only"
    grace = {"Authorization": f"Bearer {key['key']}"}
    conversation = orgs.client.post("/v1/conversations", json={}, headers=grace)
    assert conversation.status_code == 201
    used = next(k for k in orgs.client.get("/v1/admin/keys", headers=admin).json()["data"] if k["id"] == key["id"])
    assert used["last_used_at"] is not None
    revoked = orgs.client.delete(f"/v1/admin/keys/{key['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    _error(orgs.client.get("/v1/models", headers=grace), 401, "invalid_api_key")
    _error(orgs.client.post("/v1/admin/keys", json={"user": "nobody@a.example"}, headers=admin), 404, "not_found")
    _error(orgs.client.post("/v1/admin/keys", json={"expires": "soon"}, headers=admin), 400, "invalid_value")
    _error(orgs.client.post("/v1/admin/keys", json={"user": "admin@b.example"}, headers=admin), 404, "not_found")


def test_an_expired_key_and_a_former_member_s_key_are_refused(orgs: Orgs) -> None:
    accounts = orgs.container.accounts
    expired = accounts.create_key("Acme", name="old", expires=timedelta(seconds=-1))
    _error(orgs.client.get("/v1/models", headers={"Authorization": f"Bearer {expired.key}"}), 401, "invalid_api_key")
    assert accounts.authenticate(orgs.keys["a_member"]) is not None
    assert accounts.authenticate(orgs.keys["a_member"] + "x") is None
    principal = orgs.principal("a_admin")
    assert principal.organization_id == orgs.a.id and principal.role.value == "admin" and principal.is_admin
    service = orgs.principal("a_service")
    assert service.user_id is None and not service.is_admin


def test_the_admin_api_needs_an_organization(tmp_path: Path) -> None:
    engine = FakeEngine()
    with TestClient(create_app(org_settings(tmp_path), ModelRegistry([fake_spec(engine)]))) as client:
        error = _error(client.get("/v1/admin/keys"), 403, "insufficient_permissions")
        assert "causerie admin org create" in error["message"]


# ---------------------------------------------------------------- models per organization


def test_each_organization_sees_and_uses_only_its_models(orgs: Orgs) -> None:
    assert _model_ids(orgs, "a_member") == ["fake", "fake-fr"], "shared + its own localized model, no preview"
    assert _model_ids(orgs, "b_member") == ["fake"]
    assert _chat(orgs, "a_member", "fake-fr").json()["model"] == "fake-fr"
    hidden, absent = _chat(orgs, "b_member", "fake-fr"), _chat(orgs, "b_member", "fake-xx")
    assert _error(hidden, 404, "model_not_found")["message"] == _error(absent, 404, "model_not_found")[
        "message"
    ].replace("fake-xx", "fake-fr")
    _error(_chat(orgs, "b_member", "fake-preview"), 404, "model_not_found")
    _error(orgs.client.get("/v1/models/fake-fr", headers=orgs.headers("b_member")), 404, "model_not_found")
    assert orgs.client.get("/v1/models/fake-fr", headers=orgs.headers("a_member")).status_code == 200


def test_auto_routes_only_among_allowed_models(orgs: Orgs) -> None:
    assert _chat(orgs, "a_member", "auto", FRENCH).json()["model"] == "fake-fr"
    assert _chat(orgs, "b_member", "auto", FRENCH).json()["model"] == "fake", "Beta may not use Acme's model"


def test_the_owner_grants_early_access_and_the_operator_grants_previews(orgs: Orgs) -> None:
    grant = orgs.client.post(
        "/v1/admin/models/fake-fr/grants", json={"organization": "Beta"}, headers=orgs.headers("a_admin")
    )
    assert grant.status_code == 200 and grant.json() == {
        "object": "model.grant",
        "organization": "Beta",
        "model": "fake-fr",
        "granted": True,
    }
    assert _model_ids(orgs, "b_member") == ["fake", "fake-fr"]
    assert _chat(orgs, "b_member", "fake-fr").json()["model"] == "fake-fr"
    own = orgs.client.post(
        "/v1/admin/models/fake/grants", json={"organization": "Beta"}, headers=orgs.headers("a_admin")
    )
    _error(own, 404, "model_not_found")  # only a model Acme owns can be shared by Acme
    orgs.container.accounts.grant("Beta", "fake-preview")
    assert _model_ids(orgs, "b_member") == ["fake", "fake-preview", "fake-fr"]
    assert _model_ids(orgs, "a_member") == ["fake", "fake-fr"], "a preview is for granted organizations only"
    taken = orgs.client.delete("/v1/admin/models/fake-fr/grants/Beta", headers=orgs.headers("a_admin"))
    assert taken.status_code == 200 and taken.json()["granted"] is False
    assert _model_ids(orgs, "b_member") == ["fake", "fake-preview"]


def test_personal_mode_sees_every_model(tmp_path: Path) -> None:
    engine = FakeEngine()
    registry = ModelRegistry([fake_spec(engine), spec("fake-preview", engine, source="custom")])
    with TestClient(create_app(org_settings(tmp_path), registry)) as client:
        ids = [card["id"] for card in client.get("/v1/models").json()["data"]]
    assert ids == ["fake", "fake-preview"]


# ---------------------------------------------------------------- personal mode, then the first organization


def test_the_first_organization_adopts_personal_data_and_turns_on_organization_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = FakeEngine(reply=lambda request: "Bonjour.")
    registry = ModelRegistry([fake_spec(engine)])
    registry.register(
        spec("fake-fr", engine, source="localized", language="fr", organization_id=PERSONAL_ORGANIZATION_ID)
    )
    settings = org_settings(tmp_path)
    app = create_app(settings, registry)
    with TestClient(app) as client:
        conversation = client.post("/v1/conversations", json={"title": "avant"}).json()
        client.post(f"/v1/conversations/{conversation['id']}/messages", json={"content": "Salut", "stream": False})
        job = app.state.container.jobs.submit("localize", lambda progress: {"ok": True}, PERSONAL)
        assert client.get("/v1/conversations").json()["data"][0]["id"] == conversation["id"], "no key needed"

        operator = Container(settings)  # `causerie admin org create`, another process on the same store
        try:
            org = operator.accounts.create_organization("Acme")
            key = operator.accounts.create_key("Acme", name="service").key
        finally:
            operator.close_store()
        assert org.adopted_conversations == 1

        monkeypatch.setattr(accounts_module, "MODE_CHECK_S", 0.0)  # the server looks again at once
        _error(client.get("/v1/conversations"), 401, "invalid_api_key")
        headers = {"Authorization": f"Bearer {key}"}
        adopted = client.get(f"/v1/conversations/{conversation['id']}", headers=headers)
        assert adopted.status_code == 200 and [m["content"] for m in adopted.json()["messages"]] == [
            "Salut",
            "Bonjour.",
        ]
        assert client.get(f"/v1/localize/jobs/{job.id}", headers=headers).status_code == 200
        assert [c["id"] for c in client.get("/v1/models", headers=headers).json()["data"]] == ["fake", "fake-fr"]
        second = Container(settings)
        try:
            assert second.accounts.create_organization("Beta").adopted_conversations == 0, "only the first adopts"
        finally:
            second.close_store()
    record = (tmp_path / "jobs" / f"{job.id}.json").read_text()
    assert org.id in record, "the job's record on disk moved too"


def test_auth_required_needs_a_key_before_any_organization_exists(tmp_path: Path) -> None:
    engine = FakeEngine()
    app = create_app(org_settings(tmp_path, auth="required"), ModelRegistry([fake_spec(engine)]))
    with TestClient(app) as client:
        _error(client.get("/v1/models"), 401, "invalid_api_key")
        assert client.get("/health").status_code == 200


def test_personal_mode_with_api_keys_works_as_before(tmp_path: Path) -> None:
    engine = FakeEngine()
    app = create_app(org_settings(tmp_path, api_keys=["k1"]), ModelRegistry([fake_spec(engine)]))
    with TestClient(app) as client:
        _error(client.get("/v1/models"), 401, "invalid_api_key")
        _error(client.get("/v1/models", headers={"Authorization": "Bearer k2"}), 401, "invalid_api_key")
        assert client.get("/v1/models", headers={"Authorization": "Bearer k1"}).status_code == 200
