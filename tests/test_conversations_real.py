"""One end-to-end conversation on the real embedded SmolLM2 model: stored reply and generated title."""

from __future__ import annotations

import pytest

from causerie.services.titles import TITLE_MAX_CHARS
from tests.conversation_fixtures import api, sse_events


@pytest.mark.model
def test_conversation_on_smollm2_stores_the_reply_and_a_title(smollm2_url):
    client = api(smollm2_url)
    conversation = client.post("/conversations", json={}).json()
    body = {"content": "What is the capital of France?", "max_tokens": 24, "temperature": 0}
    with client.stream("POST", f"/conversations/{conversation['id']}/messages", json=body) as response:
        events = sse_events(response)
    done = next(e["message"] for e in events if e["type"] == "done")
    deltas = "".join(e["content"] for e in events if e["type"] == "delta")
    assert done["status"] == "complete" and done["content"] == deltas and deltas.strip()
    title = next(e["title"] for e in events if e["type"] == "title")
    assert title.strip() and "\n" not in title and len(title) <= TITLE_MAX_CHARS + 1
    stored = client.get(f"/conversations/{conversation['id']}").json()
    assert stored["title"] == title and stored["language"] == "en"
    assert [m["content"] for m in stored["messages"]] == ["What is the capital of France?", deltas]
