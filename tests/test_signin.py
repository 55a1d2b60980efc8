"""Signing in to the web UI over the fake engine: sessions, the cookie, CSRF, rate limits, no secret in the logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from causerie.api.app import create_app
from causerie.api.auth import SESSION_COOKIE
from causerie.config import Settings
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry
from causerie.services import signin as signin_module
from causerie.services.container import Container
from causerie.services.signin import session_hash
from causerie.store.accounts_tables import MembershipRow
from causerie.store.database import MIGRATIONS
from causerie.store.sessions import SessionRepository
from tests.conftest import fake_spec
from tests.org_fixtures import PASSWORDS, Orgs

MEMBER = {"email": "member@a.example", "password": PASSWORDS["member"]}
CHAT = {"model": "fake", "messages": [{"role": "user", "content": "Salut"}]}


def _sign_in(client: TestClient, body: dict = MEMBER, **headers: str):
    return client.post("/v1/auth/sign-in", json=body, headers=headers)


def _signed_in(orgs: Orgs, body: dict = MEMBER) -> tuple[str, str]:
    """The session cookie's value and the CSRF token."""
    response = _sign_in(orgs.client, body)
    assert response.status_code == 200, response.text
    return orgs.client.cookies[SESSION_COOKIE], response.json()["csrf_token"]


def test_sign_in_sets_an_httponly_lax_cookie_and_stores_only_its_hash(orgs: Orgs) -> None:
    response = _sign_in(orgs.client)
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["email"] == "member@a.example" and info["role"] == "member" and info["organization_id"] == orgs.a.id
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie, "plain HTTP: a Secure cookie would never come back"
    session_id = orgs.client.cookies[SESSION_COOKIE]
    assert session_id not in response.text, "the session id travels only in the cookie"
    sessions = SessionRepository(orgs.container.open_store())
    assert sessions.find(session_hash(session_id)) is not None
    assert sessions.find(session_id) is None, "the id itself is not what is stored"


def test_the_cookie_is_secure_over_https(orgs: Orgs) -> None:
    client = TestClient(orgs.app, base_url="https://testserver")
    cookie = _sign_in(client).headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_a_session_acts_as_its_user_and_sees_only_their_conversations(orgs: Orgs) -> None:
    mine = orgs.client.post("/v1/conversations", json={"title": "mine"}, headers=orgs.headers("a_member"))
    theirs = orgs.client.post("/v1/conversations", json={"title": "admin's"}, headers=orgs.headers("a_admin"))
    assert mine.status_code == theirs.status_code == 201, (mine.text, theirs.text)
    assert orgs.client.get("/v1/models").status_code == 401, "no cookie yet"
    _, csrf = _signed_in(orgs)
    listed = orgs.client.get("/v1/conversations")
    assert listed.status_code == 200, listed.text
    assert [c["title"] for c in listed.json()["data"]] == ["mine"]
    assert orgs.client.get(f"/v1/conversations/{theirs.json()['id']}").status_code == 404
    chat = orgs.client.post("/v1/chat/completions", json=CHAT, headers={"X-CSRF-Token": csrf})
    assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"] == "Bonjour."
    assert orgs.client.get("/v1/admin/keys").status_code == 403, "a member's session is a member"


def test_an_admin_session_uses_the_admin_api(orgs: Orgs) -> None:
    _, csrf = _signed_in(orgs, {"email": "admin@a.example", "password": PASSWORDS["admin"]})
    created = orgs.client.post("/v1/admin/keys", json={"name": "from the UI"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201 and created.json()["key"].startswith("sk-cau-"), created.text


def test_a_cookie_request_without_the_csrf_token_or_from_another_site_is_refused(orgs: Orgs) -> None:
    _, csrf = _signed_in(orgs)
    before = len(orgs.client.get("/v1/conversations").json()["data"])
    for headers in (
        {},
        {"X-CSRF-Token": "forged"},
        {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"},
        {"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    ):
        refused = orgs.client.post("/v1/conversations", json={"title": "forged"}, headers=headers)
        assert refused.status_code == 403, (headers, refused.text)
        assert refused.json()["error"]["code"] in ("csrf_token_invalid", "cross_site_request")
    assert len(orgs.client.get("/v1/conversations").json()["data"]) == before, "nothing was created"
    same_origin = {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}
    assert orgs.client.post("/v1/conversations", json={"title": "ok"}, headers=same_origin).status_code == 201


def test_bearer_requests_need_no_csrf_token(orgs: Orgs) -> None:
    headers = {**orgs.headers("a_member"), "Sec-Fetch-Site": "cross-site"}
    assert orgs.client.post("/v1/conversations", json={"title": "api"}, headers=headers).status_code == 201


def test_signing_in_from_another_site_is_refused(orgs: Orgs) -> None:
    refused = _sign_in(orgs.client, MEMBER, **{"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403 and SESSION_COOKIE not in orgs.client.cookies


def test_signing_in_again_ends_the_previous_session(orgs: Orgs) -> None:
    first, _ = _signed_in(orgs)
    second, _ = _signed_in(orgs, {"email": "admin@a.example", "password": PASSWORDS["admin"]})
    assert first != second
    sessions = SessionRepository(orgs.container.open_store())
    assert sessions.find(session_hash(first)) is None and sessions.find(session_hash(second)) is not None


def test_sign_out_ends_the_session(orgs: Orgs) -> None:
    session_id, csrf = _signed_in(orgs)
    assert orgs.client.get("/v1/auth/session").json()["csrf_token"] == csrf
    out = orgs.client.post("/v1/auth/sign-out", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204 and SESSION_COOKIE not in orgs.client.cookies
    orgs.client.cookies.set(SESSION_COOKIE, session_id)  # a copy of the old cookie is worth nothing now
    ended = orgs.client.get("/v1/models")
    assert ended.status_code == 401 and ended.json()["error"]["code"] == "session_expired"


def test_wrong_password_unknown_email_and_non_member_are_the_same_401(orgs: Orgs) -> None:
    for body in (
        {"email": "member@a.example", "password": "wrong password"},
        {"email": "nobody@a.example", "password": "wrong password"},
    ):
        response = _sign_in(orgs.client, body)
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_credentials"
        assert response.json()["error"]["message"] == "Incorrect email or password."


def test_a_removed_members_session_stops_working(orgs: Orgs) -> None:
    session_id, _ = _signed_in(orgs)
    found = SessionRepository(orgs.container.open_store()).find(session_hash(session_id))
    assert found is not None and found.role == "member"
    with orgs.container.open_store().session() as session:
        session.delete(session.get(MembershipRow, (orgs.a.id, found.session.user_id)))
    assert orgs.client.get("/v1/models").status_code == 401


def test_failed_sign_ins_are_limited_per_account_with_retry_after(orgs: Orgs) -> None:
    wrong = {"email": "member@a.example", "password": "not the password"}
    for _ in range(signin_module.ACCOUNT_LIMIT.amount):
        assert _sign_in(orgs.client, wrong).status_code == 401
    limited = _sign_in(orgs.client, MEMBER)
    assert limited.status_code == 429, "even the right password waits"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert 0 < int(limited.headers["Retry-After"]) <= 15 * 60
    other = _sign_in(orgs.client, {"email": "admin@a.example", "password": PASSWORDS["admin"]})
    assert other.status_code == 200, "another account is not locked out"


def test_failed_sign_ins_are_limited_per_address(orgs: Orgs) -> None:
    limit = signin_module.ADDRESS_LIMIT.amount
    for n in range(limit):
        assert _sign_in(orgs.client, {"email": f"guess{n}@a.example", "password": "guess"}).status_code == 401
    limited = _sign_in(orgs.client, MEMBER)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_no_password_or_session_id_in_the_logs(orgs: Orgs, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "an-incorrect-secret-9"
    _sign_in(orgs.client, {"email": "member@a.example", "password": wrong})
    session_id, csrf = _signed_in(orgs)
    orgs.client.post("/v1/auth/sign-out", headers={"X-CSRF-Token": csrf})
    logged = caplog.text
    for secret in (wrong, PASSWORDS["member"], session_id, csrf):
        assert secret not in logged


def test_personal_mode_ignores_a_stale_cookie_and_signs_no_one_in(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path), ModelRegistry([fake_spec(FakeEngine())]))
    with TestClient(app) as client:
        assert client.get("/health").json()["sign_in"] is False
        client.cookies.set(SESSION_COOKIE, "left over from another server")
        assert client.get("/v1/models").status_code == 200
        assert client.post("/v1/conversations", json={"title": "no CSRF needed"}).status_code == 201
        assert _sign_in(client).status_code == 401, "personal mode has no users"


def test_sessions_on_sqlite_and_postgresql_and_the_revision_goes_down_and_up(
    tmp_path: Path, database_url: str | None
) -> None:
    container = Container(Settings(data_dir=tmp_path, database_url=database_url))
    container.accounts.create_organization("Acme")
    container.accounts.add_user("Acme", "ada@acme.example", "analytical engine", "admin")
    signed = container.signin.sign_in("ada@acme.example", "analytical engine", "127.0.0.1")
    principal = container.signin.authenticate(signed.session_id)
    assert principal is not None and principal.role.value == "admin" and principal.user_id == signed.info.user_id
    container.signin.sign_out(signed.session_id)
    assert container.signin.authenticate(signed.session_id) is None
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with container.open_store().engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002_organizations")
        assert "sessions" not in inspect(connection).get_table_names()
        command.upgrade(config, "head")
        assert "sessions" in inspect(connection).get_table_names()
    container.close_store()
