"""The conversations API over the fake engine, on SQLite and on PostgreSQL: every operation and error."""

from __future__ import annotations

import threading
import time

import httpx

from causerie.config import Settings
from causerie.engine.base import GenerationRequest
from causerie.services.titles import title_instruction
from tests.conftest import idle_load
from tests.conversation_fixtures import api, chat_requests, is_title_request, sse_events, sse_events_iter

ANSWER = "Bonjour ! Je vais très bien, merci."


def scripted(title: str = "Titre : « Salutations du matin »", answer: str = ANSWER):
    return lambda request: title if is_title_request(request) else answer


def post(client: httpx.Client, conversation_id: str, **body) -> list[dict]:
    with client.stream("POST", f"/conversations/{conversation_id}/messages", json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return sse_events(response)


def new_conversation(client: httpx.Client, **body) -> dict:
    response = client.post("/conversations", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def assert_error(response: httpx.Response, status: int, code: str, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if param is not None:
        assert error["param"] == param


# ---------------------------------------------------------------- conversations


def test_create_get_rename_delete(conv_server):
    url, _ = conv_server()
    client = api(url)
    created = new_conversation(client, title="Recettes", model="fake", system_prompt="Sois bref.")
    assert created["id"].startswith("conv_") and created["object"] == "conversation"
    assert (created["title"], created["model"], created["system_prompt"]) == ("Recettes", "fake", "Sois bref.")
    assert created["current_message_id"] is None and created["language"] is None
    fetched = client.get(f"/conversations/{created['id']}").json()
    assert fetched["messages"] == [] and fetched["title"] == "Recettes"
    renamed = client.patch(f"/conversations/{created['id']}", json={"title": "Desserts"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "Desserts"
    assert client.get(f"/conversations/{created['id']}").json()["title"] == "Desserts"
    deleted = client.delete(f"/conversations/{created['id']}")
    assert deleted.json() == {"id": created["id"], "object": "conversation.deleted", "deleted": True}
    assert_error(client.get(f"/conversations/{created['id']}"), 404, "conversation_not_found")
    assert_error(client.delete(f"/conversations/{created['id']}"), 404, "conversation_not_found")


def test_conversation_errors_use_the_openai_envelope(conv_server):
    url, _ = conv_server()
    client = api(url)
    conversation = new_conversation(client)
    path = f"/conversations/{conversation['id']}"
    assert_error(client.patch("/conversations/conv_nope", json={"title": "x"}), 404, "conversation_not_found")
    assert_error(client.patch(path, json={"title": ""}), 400, "invalid_value", "title")
    assert_error(client.patch(path, json={"title": None}), 400, "invalid_value", "title")
    assert_error(
        client.patch(path, json={"current_message_id": "msg_nope"}), 404, "message_not_found", "current_message_id"
    )
    assert_error(client.post("/conversations", json={"title": "x" * 301}), 400, "invalid_value", "title")
    assert_error(
        client.post("/conversations", content=b"{not json", headers={"content-type": "application/json"}),
        400,
        "invalid_value",
    )
    assert_error(client.post(f"{path}/messages", json={"content": ""}), 400, "invalid_value", "content")
    assert_error(
        client.post(f"{path}/messages", json={"content": "hi", "temperature": 5}), 400, "invalid_value", "temperature"
    )
    assert_error(
        client.post("/conversations/conv_nope/messages", json={"content": "hi"}), 404, "conversation_not_found"
    )
    assert_error(
        client.post(f"{path}/messages", json={"content": "hi", "parent_id": "msg_nope"}),
        404,
        "message_not_found",
        "parent_id",
    )
    assert client.post(f"{path}/stop").json() == {"stopped": False}
    assert_error(client.post("/conversations/conv_nope/stop"), 404, "conversation_not_found")
    assert_error(client.get(f"{path}/export", params={"format": "pdf"}), 400, "invalid_value", "format")


def test_pagination_newest_first(conv_server):
    url, _ = conv_server()
    client = api(url)
    ids = [new_conversation(client, title=f"c{i}")["id"] for i in range(5)]
    client.patch(f"/conversations/{ids[1]}", json={"title": "touched"})  # now the most recent
    expected = [ids[1], ids[4], ids[3], ids[2], ids[0]]
    seen, after = [], None
    while True:
        page = client.get("/conversations", params={"limit": 2, **({"after": after} if after else {})}).json()
        assert page["object"] == "list" and len(page["data"]) <= 2
        seen += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    assert seen == expected
    assert [c["id"] for c in client.get("/conversations").json()["data"]] == expected
    client.patch(f"/conversations/{ids[0]}", json={"current_message_id": None})  # switching branch is no update
    assert [c["id"] for c in client.get("/conversations").json()["data"]] == expected
    assert_error(client.get("/conversations", params={"after": "conv_nope"}), 400, "invalid_value", "after")
    assert_error(client.get("/conversations", params={"limit": 0}), 400, "invalid_value", "limit")


# ---------------------------------------------------------------- messages and replies


def test_post_streams_stores_and_titles_in_the_conversation_language(conv_server):
    url, engine = conv_server(reply=scripted())
    client = api(url)
    conversation = new_conversation(client, system_prompt="Tu es un assistant poli.")
    events = post(client, conversation["id"], content="Bonjour, comment vas-tu ce matin ?")
    kinds = [event["type"] for event in events]
    assert kinds[:2] == ["user_message", "assistant_message"] and kinds[-2:] == ["done", "title"]
    assert set(kinds[2:-2]) == {"delta"} and len(kinds) > 5
    user, reply, done = events[0]["message"], events[1]["message"], events[-2]["message"]
    assert user["role"] == "user" and user["parent_id"] is None and user["status"] == "complete"
    assert reply["status"] == "incomplete" and reply["content"] == "" and reply["parent_id"] == user["id"]
    assert "".join(e["content"] for e in events if e["type"] == "delta") == ANSWER
    assert done["id"] == reply["id"] and done["status"] == "complete" and done["content"] == ANSWER
    assert done["model"] == "fake"
    assert events[-1]["title"] == "Salutations du matin"
    stored = client.get(f"/conversations/{conversation['id']}").json()
    assert stored["title"] == "Salutations du matin" and stored["language"] == "fr"
    assert stored["current_message_id"] == reply["id"]
    assert [(m["role"], m["content"], m["children"]) for m in stored["messages"]] == [
        ("user", "Bonjour, comment vas-tu ce matin ?", [reply["id"]]),
        ("assistant", ANSWER, []),
    ]
    assert "<|system|>Tu es un assistant poli." in chat_requests(engine)[0].prompt
    title_prompt = next(r.prompt for r in engine.requests if is_title_request(r))
    assert title_instruction("fr") in title_prompt  # asked in French
    # the second exchange continues the branch and does not retitle
    second = post(client, conversation["id"], content="Et toi ?")
    assert [e["type"] for e in second][-1] == "done"
    assert second[0]["message"]["parent_id"] == reply["id"]
    assert "<|user|>Bonjour, comment vas-tu ce matin ?\n<|assistant|>" + ANSWER in chat_requests(engine)[-1].prompt


def test_non_streamed_reply_and_title_fallback(conv_server):
    url, _ = conv_server(reply=scripted(title='"???"'))
    client = api(url)
    conversation = new_conversation(client)
    text = "東京都に住んでいますが、週末に京都へ行くのにいちばん良い方法を教えてください。新幹線ですか、それともバスですか。"
    response = client.post(f"/conversations/{conversation['id']}/messages", json={"content": text, "stream": False})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_message"]["content"] == text
    assert body["assistant_message"]["status"] == "complete" and body["assistant_message"]["content"] == ANSWER
    assert body["conversation"]["language"] == "ja"
    stored = client.get(f"/conversations/{conversation['id']}").json()
    assert stored["title"] == text[:50] + "…"  # the model's title was unusable


def test_edit_makes_a_branch_and_patch_switches_branches(conv_server):
    url, engine = conv_server(reply=lambda r: f"reply to {r.prompt.rsplit('<|user|>', 1)[-1].split(chr(10))[0]}")
    client = api(url)
    cid = new_conversation(client, title="Branches")["id"]
    first = post(client, cid, content="one")
    second = post(client, cid, content="two")
    user_two = second[0]["message"]
    edited = post(client, cid, content="deux", parent_id=user_two["parent_id"])
    assert edited[0]["message"]["parent_id"] == user_two["parent_id"]
    assert edited[-1]["message"]["content"] == "reply to deux"
    assert "two" not in chat_requests(engine)[-1].prompt  # the new branch does not see the old one
    tree = client.get(f"/conversations/{cid}").json()
    by_id = {m["id"]: m for m in tree["messages"]}
    assert by_id[user_two["parent_id"]]["children"] == [user_two["id"], edited[0]["message"]["id"]]
    assert tree["current_message_id"] == edited[-1]["message"]["id"]
    old_leaf = second[-1]["message"]["id"]
    switched = client.patch(f"/conversations/{cid}", json={"current_message_id": old_leaf})
    assert switched.json()["current_message_id"] == old_leaf
    markdown = client.get(f"/conversations/{cid}/export", params={"format": "markdown"}).text
    assert "two" in markdown and "deux" not in markdown and "reply to one" in markdown
    # a new root (parent_id null) starts another tree in the same conversation
    root = post(client, cid, content="fresh start", parent_id=None)
    assert root[0]["message"]["parent_id"] is None
    assert "one" not in chat_requests(engine)[-1].prompt
    assert first[0]["message"]["id"] != root[0]["message"]["id"]


def test_regenerate_adds_a_sibling_reply(conv_server):
    counter = iter(range(100))
    url, _ = conv_server(reply=lambda r: f"answer {next(counter)}")
    client = api(url)
    cid = new_conversation(client, title="Regen")["id"]
    events = post(client, cid, content="hello")
    user, reply = events[0]["message"], events[-1]["message"]
    path = f"/conversations/{cid}/messages/{reply['id']}/regenerate"
    with client.stream("POST", path, json={"temperature": 0.5}) as response:
        again = sse_events(response)
    assert next(e["type"] for e in again) == "assistant_message"  # no user_message event
    assert again[-1]["type"] == "done" and again[-1]["message"]["parent_id"] == user["id"]
    plain = client.post(path, json={"stream": False}).json()
    assert plain["user_message"] is None and plain["assistant_message"]["parent_id"] == user["id"]
    tree = client.get(f"/conversations/{cid}").json()
    children = next(m["children"] for m in tree["messages"] if m["id"] == user["id"])
    assert children == [reply["id"], again[-1]["message"]["id"], plain["assistant_message"]["id"]]
    assert len({m["content"] for m in tree["messages"] if m["role"] == "assistant"}) == 3
    assert tree["current_message_id"] == plain["assistant_message"]["id"]
    assert_error(
        client.post(f"/conversations/{cid}/messages/{user['id']}/regenerate"), 400, "invalid_value", "message_id"
    )
    assert_error(client.post(f"/conversations/{cid}/messages/msg_nope/regenerate"), 404, "message_not_found")


def _start_slow_stream(client: httpx.Client, cid: str, seen: list[dict], started: threading.Event) -> threading.Thread:
    def read() -> None:
        with client.stream("POST", f"/conversations/{cid}/messages", json={"content": "raconte"}) as response:
            for event in sse_events_iter(response):
                seen.append(event)
                if event["type"] == "delta" and sum(e["type"] == "delta" for e in seen) == 3:
                    started.set()

    thread = threading.Thread(target=read)
    thread.start()
    assert started.wait(30)
    return thread


def test_stop_keeps_the_partial_reply_as_incomplete(conv_server):
    full = "mot " * 400
    url, engine = conv_server(reply=lambda r: full, delay=0.01)
    client = api(url)
    cid = new_conversation(client, title="Stop")["id"]
    seen: list[dict] = []
    thread = _start_slow_stream(client, cid, seen, threading.Event())
    assert_error(
        client.post(f"/conversations/{cid}/messages", json={"content": "encore"}), 409, "generation_in_progress"
    )
    deadline = time.monotonic() + 10  # the reply is saved while it streams, not only at the end
    while not (partial := client.get(f"/conversations/{cid}").json()["messages"][-1])["content"]:
        assert time.monotonic() < deadline, "the streaming reply was never saved"
        time.sleep(0.05)
    assert partial["status"] == "incomplete" and thread.is_alive()
    assert client.post(f"/conversations/{cid}/stop").json() == {"stopped": True}
    thread.join(30)
    assert seen[-1]["type"] == "done" and seen[-1]["message"]["status"] == "incomplete"
    reply = client.get(f"/conversations/{cid}").json()["messages"][-1]
    assert reply["status"] == "incomplete" and reply["role"] == "assistant"
    assert reply["content"] and full.startswith(reply["content"]) and len(reply["content"]) < len(full)
    assert client.post(f"/conversations/{cid}/stop").json() == {"stopped": False}
    assert idle_load(engine) == (0, 0)
    follow = post(client, cid, content="continue")  # the conversation goes on after a stop
    assert follow[-1]["message"]["status"] == "complete"


def test_client_disconnect_keeps_the_partial_reply_as_incomplete(conv_server):
    full = "mot " * 400
    url, engine = conv_server(reply=lambda r: full, delay=0.01)
    client = api(url)
    cid = new_conversation(client, title="Disconnect")["id"]
    with client.stream("POST", f"/conversations/{cid}/messages", json={"content": "raconte"}) as response:
        deltas = 0
        for event in sse_events_iter(response):
            deltas += event["type"] == "delta"
            if deltas == 3:
                break
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        messages = client.get(f"/conversations/{cid}").json()["messages"]
        if engine.load() == (0, 0) and messages[-1]["content"]:
            break
        time.sleep(0.05)
    user, reply = messages
    assert user["content"] == "raconte" and user["status"] == "complete"
    assert reply["status"] == "incomplete" and reply["content"] and full.startswith(reply["content"])
    assert len(reply["content"]) < len(full)  # stopped long before the 400 words (4 s) were written
    assert engine.load() == (0, 0)


def test_engine_errors_keep_the_user_message(conv_server):
    def reply(request: GenerationRequest) -> str:
        if "boom" in request.prompt:
            raise RuntimeError("the engine crashed")
        return "fine"

    url, _ = conv_server(reply=reply)
    client = api(url)
    cid = new_conversation(client, title="Errors")["id"]
    events = post(client, cid, content="boom")
    assert [e["type"] for e in events] == ["user_message", "assistant_message", "error", "done"]
    assert events[2]["error"]["type"] == "server_error" and "kept" in events[2]["error"]["message"]
    assert events[-1]["message"]["status"] == "error"
    stored = client.get(f"/conversations/{cid}").json()["messages"]
    assert [(m["role"], m["content"], m["status"]) for m in stored] == [
        ("user", "boom", "complete"),
        ("assistant", "", "error"),
    ]
    # an error before generation (unknown model) answers with a status and still keeps the message
    refused = client.post(f"/conversations/{cid}/messages", json={"content": "with another model", "model": "nope"})
    assert_error(refused, 404, "model_not_found")
    stored = client.get(f"/conversations/{cid}").json()
    assert stored["messages"][-1]["content"] == "with another model" and stored["messages"][-1]["role"] == "user"
    plain = client.post(f"/conversations/{cid}/messages", json={"content": "boom again", "stream": False})
    assert plain.status_code == 500 and plain.json()["error"]["type"] == "server_error"
    assert client.get(f"/conversations/{cid}").json()["messages"][-1]["status"] == "error"


def test_long_history_keeps_the_newest_messages_that_fit(conv_server):
    url, engine = conv_server(reply=lambda r: "ok", context_length=120)
    client = api(url)
    cid = new_conversation(client, title="Long", system_prompt="Be brief.")["id"]
    for index in range(8):
        events = post(client, cid, content=f"turn{index} " + "word " * 12)
        assert events[-1]["message"]["status"] == "complete"
    prompt = chat_requests(engine)[-1].prompt
    assert "<|system|>Be brief." in prompt and "turn7" in prompt and "turn0" not in prompt
    assert prompt.split("<|system|>Be brief.\n")[1].startswith("<|user|>")  # cut at a user message
    assert len(client.get(f"/conversations/{cid}").json()["messages"]) == 16  # nothing stored is dropped
    too_long = client.post(f"/conversations/{cid}/messages", json={"content": "word " * 200})
    assert_error(too_long, 400, "context_length_exceeded")
    assert client.get(f"/conversations/{cid}").json()["messages"][-1]["content"].startswith("word")


# ---------------------------------------------------------------- search, export, import


def test_search_japanese_and_french(conv_server):
    url, _ = conv_server(reply=lambda r: "D'accord.")
    client = api(url)
    tokyo = new_conversation(client, title="Japon")["id"]
    post(client, tokyo, content="東京都に住んでいます")
    french = new_conversation(client, title="Lettre")["id"]
    post(client, french, content="Écrire une lettre à Zoë, 100% à l'heure")

    def found(query: str) -> list[dict]:
        response = client.get("/conversations/search", params={"q": query})
        assert response.status_code == 200, response.text
        return response.json()["data"]

    hits = found("東京")
    assert [(h["conversation_id"], h["conversation_title"], h["role"]) for h in hits] == [(tokyo, "Japon", "user")]
    assert "東京都に住んでいます" in hits[0]["snippet"]
    for query in ("ecrire", "ÉCRIRE", "écrire", "zoe", "Ｅｃｒｉｒｅ"):
        assert [h["conversation_id"] for h in found(query)] == [french], query
    assert found("100%") and not found("10%") and not found("l_heure")  # LIKE wildcards are literal
    assert found("accord") and len(found("accord")) == 2  # both replies
    assert not found("大阪")
    assert_error(client.get("/conversations/search", params={"q": ""}), 400, "invalid_value", "q")


def test_export_one_and_all(conv_server):
    url, _ = conv_server(reply=lambda r: "Voilà **du gras**.")
    client = api(url)
    cid = new_conversation(client, title="Export", system_prompt="Réponds en français.")["id"]
    post(client, cid, content="Montre-moi")
    other = new_conversation(client, title="Autre")["id"]
    as_json = client.get(f"/conversations/{cid}/export")
    assert as_json.headers["content-disposition"] == f'attachment; filename="{cid}.json"'
    body = as_json.json()
    assert body["id"] == cid and [m["content"] for m in body["messages"]] == ["Montre-moi", "Voilà **du gras**."]
    markdown = client.get(f"/conversations/{cid}/export", params={"format": "markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# Export\n")
    assert "## System\n\nRéponds en français." in markdown.text
    assert markdown.text.index("## User\n\nMontre-moi") < markdown.text.index("## Assistant\n\nVoilà **du gras**.")
    everything = client.get("/conversations/export").json()
    assert everything["object"] == "list" and [c["id"] for c in everything["data"]] == [other, cid]
    all_md = client.get("/conversations/export", params={"format": "markdown"})
    assert 'filename="causerie-conversations.md"' in all_md.headers["content-disposition"]
    assert "# Export" in all_md.text and "# Autre" in all_md.text
    assert_error(client.get("/conversations/conv_nope/export"), 404, "conversation_not_found")


def test_authentication_covers_conversations(conv_server, tmp_path, database_url):
    url, _ = conv_server(Settings(data_dir=tmp_path, database_url=database_url, api_keys=["secret"]))
    assert_error(api(url).get("/conversations"), 401, "invalid_api_key")
    allowed = httpx.get(url + "/v1/conversations", headers={"Authorization": "Bearer secret"})
    assert allowed.status_code == 200 and allowed.json()["data"] == []


def test_openapi_documents_the_conversation_routes(conv_server):
    url, _ = conv_server()
    schema = httpx.get(url + "/openapi.json").json()
    paths = schema["paths"]
    for path, method in [
        ("/v1/conversations", "post"), ("/v1/conversations", "get"), ("/v1/conversations/search", "get"),
        ("/v1/conversations/export", "get"), ("/v1/conversations/import", "post"),
        ("/v1/conversations/{conversation_id}", "patch"), ("/v1/conversations/{conversation_id}/messages", "post"),
        ("/v1/conversations/{conversation_id}/messages/{message_id}/regenerate", "post"),
        ("/v1/conversations/{conversation_id}/stop", "post"), ("/v1/conversations/{conversation_id}/export", "get"),
    ]:  # fmt: skip
        assert method in paths[path], (path, method)
    streamed = paths["/v1/conversations/{conversation_id}/messages"]["post"]["responses"]["200"]["content"]
    assert "text/event-stream" in streamed and "application/json" in streamed
    assert "multipart/form-data" in paths["/v1/conversations/import"]["post"]["requestBody"]["content"]
    assert "409" in paths["/v1/conversations/{conversation_id}/messages"]["post"]["responses"]


def test_delete_stops_a_reply_being_written(conv_server):
    url, engine = conv_server(reply=lambda r: "mot " * 400, delay=0.01)
    client = api(url)
    cid = new_conversation(client, title="Gone")["id"]
    seen: list[dict] = []
    thread = _start_slow_stream(client, cid, seen, threading.Event())
    assert client.delete(f"/conversations/{cid}").json()["deleted"] is True
    thread.join(30)
    assert not thread.is_alive() and idle_load(engine) == (0, 0)
    assert_error(client.get(f"/conversations/{cid}"), 404, "conversation_not_found")
    assert client.get("/conversations/search", params={"q": "raconte"}).json()["data"] == []
