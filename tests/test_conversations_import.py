"""Importing a ChatGPT data export (conversations.json), on SQLite and on PostgreSQL."""

from __future__ import annotations

import json

import httpx

from tests.conversation_fixtures import api
from tests.test_conversations_api import assert_error

T0 = 1_732_000_000.0


def node(key: str, parent: str | None, children: list[str], role: str | None = None, parts=None, **extra) -> dict:
    """One entry of a ChatGPT ``mapping``, shaped like the real export."""
    message = None
    if role is not None:
        content = extra.pop("content", None) or {"content_type": "text", "parts": parts}
        message = {
            "id": key,
            "author": {"role": role, "name": extra.pop("name", None), "metadata": {}},
            "create_time": extra.pop("create_time", None),
            "update_time": None,
            "content": content,
            "status": "finished_successfully",
            "end_turn": role == "assistant",
            "weight": 1.0,
            "metadata": extra.pop("metadata", {}),
            "recipient": extra.pop("recipient", "all"),
            "channel": None,
        }
    return {"id": key, "message": message, "parent": parent, "children": children}


def french_conversation() -> dict:
    """A conversation with a hidden system prompt, an edited question and a regenerated answer.

    root ─ sys(hidden) ─ u1 ─ a1 ─ u2  ─ a2
                                 │      └ a2b (regenerated)
                                 └ u2e (edit) ─ tool ─ a3 (current)
    """
    mapping = {
        "root": node("root", None, ["sys"]),
        "sys": node("sys", "root", ["u1"], "system", [""], metadata={"is_visually_hidden_from_conversation": True}),
        "u1": node("u1", "sys", ["a1"], "user", ["Comment écrire une lettre de motivation ?"], create_time=T0 + 1),
        "a1": node("a1", "u1", ["u2", "u2e"], "assistant", ["Commencez par vous présenter."], create_time=T0 + 2,
                   metadata={"model_slug": "gpt-4o"}),
        "u2": node("u2", "a1", ["a2", "a2b"], "user", ["Et la conclusion ?"], create_time=T0 + 3),
        "a2": node("a2", "u2", [], "assistant", ["Remerciez le recruteur."], create_time=T0 + 4),
        "a2b": node("a2b", "u2", [], "assistant", ["Proposez un entretien."], create_time=T0 + 5),
        "u2e": node("u2e", "a1", ["tool"], "user",
                    ["Et la formule de politesse ?", {"content_type": "image_asset_pointer", "asset_pointer": "file-x"}],
                    content={"content_type": "multimodal_text",
                             "parts": ["Et la formule de politesse ?", {"content_type": "image_asset_pointer"}]},
                    create_time=T0 + 6),
        "tool": node("tool", "u2e", ["a3"], "tool", None, name="browser", create_time=T0 + 7,
                     content={"content_type": "tether_browsing_display", "result": "…"}),
        "a3": node("a3", "tool", [], "assistant", ["Veuillez agréer, Madame, Monsieur, mes salutations distinguées."],
                   create_time=T0 + 8),
    }  # fmt: skip
    return {
        "title": "Lettre de motivation",
        "create_time": T0,
        "update_time": T0 + 8,
        "mapping": mapping,
        "moderation_results": [],
        "current_node": "a3",
        "plugin_ids": None,
        "conversation_id": "6744c0de-0000-0000-0000-000000000001",
        "id": "6744c0de-0000-0000-0000-000000000001",
    }


def japanese_conversation() -> dict:
    mapping = {
        "r": node("r", None, ["u"]),
        "u": node("u", "r", ["a"], "user", ["東京でおすすめのラーメン屋は？"], create_time=T0 + 100),
        "a": node("a", "u", ["c"], "assistant", ["新宿にいくつかあります。"], create_time=T0 + 101),
        "c": node("c", "a", [], "assistant", None, create_time=T0 + 102, recipient="python",
                  content={"content_type": "code", "language": "unknown", "text": "print('ramen')"}),
    }  # fmt: skip
    return {
        "title": "ラーメン",
        "create_time": T0 + 100,
        "update_time": T0 + 102,
        "mapping": mapping,
        "current_node": "c",
    }


def test_import_keeps_branches_and_the_current_branch(conv_server):
    url, _ = conv_server(reply=lambda r: "Je continue.")
    client = api(url)
    response = client.post("/conversations/import", json=[french_conversation(), japanese_conversation()])
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["imported"] == 2
    french_id, japanese_id = (c["id"] for c in result["conversations"])
    french = client.get(f"/conversations/{french_id}").json()
    assert french["title"] == "Lettre de motivation" and french["language"] == "fr" and french["model"] is None
    assert french["created_at"] == int(T0) and french["updated_at"] == int(T0 + 8)
    assert len(french["messages"]) == 7  # hidden system prompt and tool output left out
    by_content = {m["content"]: m for m in french["messages"]}
    u1, a1 = by_content["Comment écrire une lettre de motivation ?"], by_content["Commencez par vous présenter."]
    u2, u2e = by_content["Et la conclusion ?"], by_content["Et la formule de politesse ?"]
    a2, a2b = by_content["Remerciez le recruteur."], by_content["Proposez un entretien."]
    a3 = by_content["Veuillez agréer, Madame, Monsieur, mes salutations distinguées."]
    assert u1["parent_id"] is None and a1["parent_id"] == u1["id"] and a1["model"] == "gpt-4o"
    assert a1["children"] == [u2["id"], u2e["id"]]  # the edit is a branch
    assert u2["children"] == [a2["id"], a2b["id"]]  # the regeneration is a branch
    assert a3["parent_id"] == u2e["id"]  # the tool step is skipped, not the answer after it
    assert french["current_message_id"] == a3["id"]
    assert all(m["status"] == "complete" for m in french["messages"])
    japanese = client.get(f"/conversations/{japanese_id}").json()
    assert japanese["language"] == "ja"
    assert japanese["messages"][-1]["content"] == "```\nprint('ramen')\n```"
    # imported conversations are searchable and can be continued on the current branch
    hits = client.get("/conversations/search", params={"q": "ecrire"}).json()["data"]
    assert [h["conversation_id"] for h in hits] == [french_id]
    assert (
        client.get("/conversations/search", params={"q": "ラーメン屋"}).json()["data"][0]["conversation_id"]
        == japanese_id
    )
    reply = client.post(f"/conversations/{french_id}/messages", json={"content": "Merci !", "stream": False}).json()
    assert reply["user_message"]["parent_id"] == a3["id"]


def test_import_as_a_multipart_file(conv_server):
    url, _ = conv_server()
    files = {"file": ("conversations.json", json.dumps([japanese_conversation()]).encode(), "application/json")}
    response = httpx.post(url + "/v1/conversations/import", files=files)
    assert response.status_code == 200, response.text
    assert response.json()["conversations"][0]["title"] == "ラーメン"
    listed = api(url).get("/conversations").json()["data"]
    assert [c["title"] for c in listed] == ["ラーメン"]


def test_invalid_exports_are_refused_whole(conv_server):
    url, _ = conv_server()
    client = api(url)
    broken = japanese_conversation()
    del broken["mapping"]["u"]["message"]["author"]
    refused = client.post("/conversations/import", json=[french_conversation(), broken])
    assert_error(refused, 400, "invalid_value", "file")
    assert "author" in refused.json()["error"]["message"]
    assert client.get("/conversations").json()["data"] == []  # nothing half-imported
    not_json = client.post("/conversations/import", content=b"\xff{", headers={"content-type": "application/json"})
    assert_error(not_json, 400, "invalid_value", "file")
    assert_error(client.post("/conversations/import", json={"hello": "world"}), 400, "invalid_value", "file")
    no_file = httpx.post(url + "/v1/conversations/import", files={"other": ("x.json", b"[]")})
    assert_error(no_file, 400, "invalid_value", "file")
