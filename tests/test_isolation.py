"""Isolation, checked by walking the app's route table: every route that names an object by id, asked by
another organization for Acme's objects, answers exactly as for an object that does not exist (404), admin
routes refuse members (403), and no route but the public ones answers without credentials (401)."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from causerie.api.auth import PUBLIC_PATHS
from tests.org_fixtures import Orgs

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
BODIES: dict[tuple[str, str], dict] = {
    ("POST", "/v1/conversations/{conversation_id}/messages"): {"content": "Salut", "stream": False},
    ("PATCH", "/v1/conversations/{conversation_id}"): {"title": "pris"},
    ("POST", "/v1/admin/models/{model_id}/grants"): {"organization": "Beta"},
}


def _acme_objects(orgs: Orgs) -> dict[str, str]:
    """One object of each kind, owned by Acme's member (the model and the key: by Acme)."""
    client, member = orgs.client, orgs.headers("a_member")
    conversation = client.post("/v1/conversations", json={"title": "à Acme"}, headers=member).json()
    exchange = client.post(
        f"/v1/conversations/{conversation['id']}/messages", json={"content": "Salut", "stream": False}, headers=member
    ).json()
    response = client.post("/v1/responses", json={"input": "Salut"}, headers=member)
    assert response.status_code == 200, response.text
    job = orgs.container.jobs.submit("localize", lambda progress: {"ok": True}, orgs.principal("a_member"))
    return {
        "conversation_id": conversation["id"],
        "message_id": exchange["assistant_message"]["id"],
        "job_id": job.id,
        "response_id": response.json()["id"],
        "model_id": "fake-fr",
        "key_id": orgs.key_ids["a_member"],
        "organization": "Beta",
    }


def _routes(orgs: Orgs) -> list[tuple[str, str, bool]]:
    """(method, path template, whether it is an API route) of every route but the web UI's static files."""
    return [
        (method, str(route.path), isinstance(route.original_route, APIRoute))
        for route in iter_route_contexts(orgs.app.routes)  # FastAPI's own walk, into included routers
        if not isinstance(route.original_route, Mount)
        for method in sorted(route.methods or {"GET"})
        if method != "HEAD"
    ]


def _routes_with_ids(orgs: Orgs) -> list[tuple[str, str]]:
    return [(method, path) for method, path, api in _routes(orgs) if api and _PARAM.search(path)]


def _url(path: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda found: values[found.group(1)], path)


def _ask(orgs: Orgs, method: str, path: str, values: dict[str, str], who: str | None):
    return orgs.client.request(method, _url(path, values), json=BODIES.get((method, path)), headers=orgs.headers(who))


def test_another_organization_gets_404_for_every_object_route_exactly_as_for_a_missing_object(orgs: Orgs) -> None:
    acme = _acme_objects(orgs)
    missing = {name: f"{value}-missing" for name, value in acme.items()} | {"organization": "Beta"}
    routes = _routes_with_ids(orgs)
    assert len(routes) >= 12, routes  # conversations, messages, jobs, responses, models, keys, grants
    checked = 0
    for method, path in routes:
        admin_route = path.startswith("/v1/admin/")
        for who in ("b_admin", "b_member", "b_service"):
            response = _ask(orgs, method, path, acme, who)
            if admin_route and who != "b_admin":
                assert response.status_code == 403, (method, path, who, response.text)
                assert response.json()["error"]["code"] == "insufficient_permissions"
                checked += 1
                continue
            assert response.status_code == 404, (method, path, who, response.text)
            absent = _ask(orgs, method, path, missing, who)
            assert absent.status_code == 404, (method, path, who, absent.text)
            theirs, none = response.json()["error"], absent.json()["error"]
            for name, value in acme.items():  # the same answer, but for the id it names
                none["message"] = none["message"].replace(missing[name], value)
            assert theirs == none, (method, path, who)
            checked += 1
    assert checked == 3 * len(routes)
    # Acme's own member still has every object: the walk changed nothing of theirs.
    mine = orgs.client.get(f"/v1/conversations/{acme['conversation_id']}", headers=orgs.headers("a_member"))
    assert mine.status_code == 200 and len(mine.json()["messages"]) == 2
    assert orgs.client.get(f"/v1/localize/jobs/{acme['job_id']}", headers=orgs.headers("a_member")).status_code == 200


def test_inside_an_organization_each_member_sees_only_their_own_conversations_and_jobs(orgs: Orgs) -> None:
    acme = _acme_objects(orgs)
    for who in ("a_admin", "a_service"):
        for path in ("/v1/conversations/{conversation_id}", "/v1/localize/jobs/{job_id}"):
            response = _ask(orgs, "GET", path, acme, who)
            assert response.status_code == 404, (path, who)
        listed = orgs.client.get("/v1/conversations", headers=orgs.headers(who)).json()["data"]
        assert listed == []
        assert orgs.client.get("/v1/localize/jobs", headers=orgs.headers(who)).json()["data"] == []
        searched = orgs.client.get("/v1/conversations/search", params={"q": "salut"}, headers=orgs.headers(who))
        assert searched.json()["data"] == []
    own = orgs.client.get("/v1/conversations", headers=orgs.headers("a_member")).json()["data"]
    ids = [c["id"] for c in own]
    assert acme["conversation_id"] in ids and len(ids) == 2, "theirs, and the one their stored response shows as"


def test_in_organization_mode_no_route_answers_without_credentials(orgs: Orgs) -> None:
    acme = _acme_objects(orgs)
    routes = [(method, path) for method, path, _ in _routes(orgs) if path not in PUBLIC_PATHS]
    assert len(routes) >= 30, routes
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Bearer sk-cau-forged"}):
            response = orgs.client.request(method, _url(path, acme), headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert orgs.client.get("/health").status_code == 200, "public paths stay public"
    assert orgs.client.get("/").status_code == 200
