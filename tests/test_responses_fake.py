"""The Responses API over the fake engine, through the openai SDK and raw HTTP: exact events, storage, errors."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import openai
import pytest
from llama_cpp.llama_grammar import JSON_GBNF

from causerie.config import Settings
from causerie.engine.fake import FakeEngine
from causerie.errors import ResponseNotFound
from causerie.models.registry import ModelRegistry
from causerie.principal import Principal
from causerie.protocol.openai import Tool
from causerie.protocol.responses import ResponseCreateRequest
from causerie.services.container import Container
from causerie.services.structured import schema_grammar, tool_call_grammar
from tests.conftest import client_for, fake_spec, idle_load
from tests.conversation_fixtures import api

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    *["response.output_text.delta"] * 3,
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def sse(response: httpx.Response) -> list[tuple[str, dict]]:
    """(event name, data) of every server-sent event."""
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: ") :])))
    return events


def assert_error(response: httpx.Response, status: int, param: str | None, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def test_plain_text_response_exact_output_and_usage(serve_fake):
    url, engine = serve_fake(reply=lambda r: "Salut, ça va ?")
    response = client_for(url).responses.create(model="fake", input="Bonjour", instructions="Sois bref.")
    assert response.output_text == "Salut, ça va ?"
    assert response.status == "completed" and response.object == "response" and response.model == "fake"
    assert response.id.startswith("resp_") and response.output[0].id.startswith("msg_")
    message = response.output[0]
    assert message.type == "message" and message.role == "assistant" and message.status == "completed"
    assert message.content[0].type == "output_text" and message.content[0].annotations == []
    assert response.usage.output_tokens == 4 and response.usage.total_tokens == response.usage.input_tokens + 4
    assert response.instructions == "Sois bref." and response.incomplete_details is None and response.error is None
    assert engine.requests[0].prompt.startswith("<|system|>Sois bref.\n<|user|>Bonjour\n")


def test_item_list_input_with_text_parts_and_sampling(serve_fake):
    url, engine = serve_fake(reply=lambda r: "ok")
    client_for(url).responses.create(
        model="fake",
        input=[
            {"role": "developer", "content": "Réponds en français."},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Deux"}, {"type": "input_text", "text": " parts"}],
            },
            {"role": "assistant", "content": [{"type": "output_text", "text": "Oui ?", "annotations": []}]},
            {"role": "user", "content": "Encore"},
        ],
        temperature=0.3,
        top_p=0.9,
        max_output_tokens=50,
        metadata={"k": "v"},
        user="someone",
    )
    request = engine.requests[0]
    assert "<|system|>Réponds en français.\n<|user|>Deux parts\n<|assistant|>Oui ?\n<|user|>Encore\n" in request.prompt
    assert (request.params.temperature, request.params.top_p, request.params.max_tokens) == (0.3, 0.9, 50)


def test_max_output_tokens_makes_an_incomplete_response(serve_fake):
    url, _ = serve_fake(reply=lambda r: "one two three four five")
    response = client_for(url).responses.create(model="fake", input="count", max_output_tokens=2)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "one two" and response.output[0].status == "incomplete"


def test_stream_event_sequence_is_exact(serve_fake):
    url, _ = serve_fake(reply=lambda r: "Il fait beau")
    with httpx.stream("POST", url + "/v1/responses", json={"input": "Météo ?", "stream": True}, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse(response)
    assert [name for name, _ in events] == TEXT_EVENTS
    assert [data["type"] for _, data in events] == TEXT_EVENTS  # each event's name is its type
    assert [data["sequence_number"] for _, data in events] == list(range(len(TEXT_EVENTS)))
    deltas = [data["delta"] for _, data in events if data["type"] == "response.output_text.delta"]
    assert deltas == ["Il", " fait", " beau"]
    created, added, part = events[0][1], events[2][1], events[3][1]
    assert created["response"]["status"] == "in_progress" and created["response"]["output"] == []
    assert added["item"]["status"] == "in_progress" and added["item"]["content"] == []
    assert part["part"] == {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    done = events[-1][1]["response"]
    assert done["status"] == "completed" and done["output"][0]["content"][0]["text"] == "Il fait beau"
    assert events[-2][1]["item"]["id"] == added["item"]["id"] == part["item_id"]
    assert done["usage"]["output_tokens"] == 3


def test_sdk_stream_helper_joins_deltas_to_the_final_text(serve_fake):
    url, _ = serve_fake(reply=lambda r: "Bonjour tout le monde")
    with client_for(url).responses.stream(model="fake", input="Salut") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Bonjour tout le monde"


def test_forced_function_call_is_grammar_constrained_and_streamed(serve_fake):
    url, engine = serve_fake(reply=lambda r: '{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>')
    client = client_for(url)
    response = client.responses.create(
        model="fake",
        input="Weather in Paris?",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    call = response.output[0]
    assert (
        call.type == "function_call" and call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    )
    assert call.call_id.startswith("call_") and call.id.startswith("fc_") and response.status == "completed"
    assert engine.requests[0].params.grammar == tool_call_grammar(
        [Tool.model_validate({"function": {k: v for k, v in WEATHER.items() if k != "type"}})]
    )

    with httpx.stream(
        "POST",
        url + "/v1/responses",
        json={"input": "Weather?", "tools": [WEATHER], "tool_choice": "required", "stream": True},
        timeout=60,
    ) as streamed:
        events = [data for _, data in sse(streamed)]
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[2]["item"]["arguments"] == "" and events[3]["delta"] == events[4]["arguments"]
    assert json.loads(events[5]["item"]["arguments"]) == {"city": "Paris"}


def test_function_call_output_round_trip_renders_the_tool_result(serve_fake):
    replies = iter(
        ['<tool_call>{"name": "get_weather", "arguments": {"city": "Lyon"}}</tool_call>', "Il fait 21 °C à Lyon."]
    )
    url, engine = serve_fake(reply=lambda r: next(replies))
    client = client_for(url)
    first = client.responses.create(model="fake", input="Météo à Lyon ?", tools=[WEATHER])
    call = first.output[0]
    assert call.type == "function_call" and json.loads(call.arguments) == {"city": "Lyon"}
    second = client.responses.create(
        model="fake",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"temp_c": 21}'}],
        tools=[WEATHER],
    )
    assert second.output_text == "Il fait 21 °C à Lyon."
    assert '{"temp_c": 21}' in engine.requests[1].prompt and "Météo à Lyon ?" in engine.requests[1].prompt


def test_json_schema_and_json_object_formats(serve_fake):
    url, engine = serve_fake(reply=lambda r: '{"city": "Paris"}')
    client = client_for(url)
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    response = client.responses.create(
        model="fake",
        input="x",
        text={"format": {"type": "json_schema", "name": "place", "schema": schema, "strict": True}},
    )
    assert json.loads(response.output_text) == {"city": "Paris"}
    assert response.text.format.type == "json_schema" and response.text.format.schema_ == schema
    assert engine.requests[0].params.grammar == schema_grammar(schema, param="text.format")
    client.responses.create(model="fake", input="x", text={"format": {"type": "json_object"}})
    assert engine.requests[1].params.grammar == JSON_GBNF


def test_previous_response_id_continues_without_resending(serve_fake):
    url, engine = serve_fake(reply=lambda r: f"réponse {len(engine.requests)}")
    client = client_for(url)
    first = client.responses.create(model="fake", input="Je m'appelle Aiko.", instructions="Sois gentil.")
    second = client.responses.create(model="fake", input="Comment je m'appelle ?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    prompt = engine.requests[1].prompt
    assert "<|user|>Je m'appelle Aiko.\n<|assistant|>réponse 1\n<|user|>Comment je m'appelle ?\n" in prompt
    assert "Sois gentil." not in prompt  # instructions are not carried over, as with OpenAI
    fetched = client.responses.retrieve(second.id)
    assert fetched.output_text == second.output_text == "réponse 2" and fetched.status == "completed"
    items = client.responses.input_items.list(second.id)
    assert [item.content[0].text for item in items.data] == ["Comment je m'appelle ?"]


def test_stored_chain_shows_as_one_conversation(conv_server):
    """On SQLite and on PostgreSQL."""
    url, _ = conv_server(reply=lambda r: "Enchanté !")
    client = client_for(url)
    first = client.responses.create(model="fake", input="Bonjour, je suis Aiko.", instructions="Sois bref.")
    client.responses.create(model="fake", input="Et toi ?", previous_response_id=first.id)
    conversations = api(url).get("/conversations").json()["data"]
    assert len(conversations) == 1
    conversation = api(url).get(f"/conversations/{conversations[0]['id']}").json()
    assert conversation["title"] == "Bonjour, je suis Aiko." and conversation["system_prompt"] == "Sois bref."
    assert [(m["role"], m["content"]) for m in conversation["messages"]] == [
        ("user", "Bonjour, je suis Aiko."),
        ("assistant", "Enchanté !"),
        ("user", "Et toi ?"),
        ("assistant", "Enchanté !"),
    ]
    assert conversation["current_message_id"] == conversation["messages"][-1]["id"]


def test_store_false_keeps_nothing(serve_fake):
    url, _ = serve_fake(reply=lambda r: "ok")
    client = client_for(url)
    response = client.responses.create(model="fake", input="x", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    assert api(url).get("/conversations").json()["data"] == []


def test_input_items_pagination_and_delete(conv_server):
    url, _ = conv_server(reply=lambda r: "ok")
    client = client_for(url)
    response = client.responses.create(model="fake", input=[{"role": "user", "content": f"m{i}"} for i in range(3)])
    newest = client.responses.input_items.list(response.id, limit=2)
    assert [item.content[0].text for item in newest.data] == ["m2", "m1"] and newest.has_more
    rest = client.responses.input_items.list(response.id, after=newest.last_id)
    assert [item.content[0].text for item in rest.data] == ["m0"] and not rest.has_more
    oldest = client.responses.input_items.list(response.id, order="asc")
    assert oldest.data[0].id == rest.data[0].id and oldest.first_id == oldest.data[0].id
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    assert_error(httpx.delete(f"{url}/v1/responses/{response.id}"), 404, "response_id", "response_not_found")


def test_background_response_polled_and_cancelled(serve_fake):
    url, engine = serve_fake(reply=lambda r: "word " * 200, delay=0.02)
    client = client_for(url)
    queued = client.responses.create(model="fake", input="long", background=True)
    assert queued.status == "queued" and queued.background is True
    deadline = time.monotonic() + 30
    while client.responses.retrieve(queued.id).status == "queued" and time.monotonic() < deadline:
        time.sleep(0.02)
    cancelled = client.responses.cancel(queued.id)
    assert cancelled.status == "cancelled"
    assert client.responses.retrieve(queued.id).status == "cancelled"
    assert idle_load(engine) == (0, 0)  # the generation really stopped

    done = client.responses.create(model="fake", input="short", background=True, max_output_tokens=3)
    deadline = time.monotonic() + 30
    while (polled := client.responses.retrieve(done.id)).status in ("queued", "in_progress"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert polled.status == "incomplete" and polled.output_text == "word word word"
    assert client.responses.cancel(done.id).status == "incomplete"  # already over: answered as it is


def test_cancel_of_a_synchronous_response_is_400(serve_fake):
    url, _ = serve_fake(reply=lambda r: "ok")
    response = client_for(url).responses.create(model="fake", input="x")
    assert_error(httpx.post(f"{url}/v1/responses/{response.id}/cancel"), 400, "response_id")


def test_stream_client_gone_cancels_the_response(serve_fake):
    url, engine = serve_fake(reply=lambda r: "word " * 500, delay=0.02)
    with httpx.stream("POST", url + "/v1/responses", json={"input": "x", "stream": True}, timeout=60) as response:
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        response_id = json.loads(first[len("data: ") :])["response"]["id"]
        next(line for line in lines if "output_text.delta" in line)
    assert idle_load(engine) == (0, 0)
    deadline = time.monotonic() + 10
    while (status := httpx.get(f"{url}/v1/responses/{response_id}").json()["status"]) == "in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert status == "cancelled"


def test_engine_failure_mid_stream_is_error_then_response_failed(serve_fake):
    def fail(request):
        raise RuntimeError("boom")

    url, _ = serve_fake(reply=fail)
    with httpx.stream("POST", url + "/v1/responses", json={"input": "x", "stream": True}, timeout=60) as response:
        assert response.status_code == 200
        events = [data for _, data in sse(response)]
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "error", "response.failed"]
    assert events[-1]["response"]["status"] == "failed" and events[-1]["response"]["error"]["code"] == "server_error"
    assert "boom" not in json.dumps(events)  # no exception text leaks
    stored = httpx.get(f"{url}/v1/responses/{events[0]['response']['id']}").json()
    assert stored["status"] == "failed"
    plain = httpx.post(url + "/v1/responses", json={"input": "x"}, timeout=60).json()
    assert plain["status"] == "failed" and plain["error"]["message"]


# -- errors ---------------------------------------------------------------------------------


def test_unknown_previous_response_is_404(serve_fake):
    url, _ = serve_fake(reply=lambda r: "ok")
    with pytest.raises(openai.NotFoundError) as info:
        client_for(url).responses.create(model="fake", input="x", previous_response_id="resp_nope")
    assert info.value.body["param"] == "previous_response_id"
    assert info.value.body["code"] == "previous_response_not_found"
    assert_error(httpx.get(f"{url}/v1/responses/resp_nope"), 404, "response_id", "response_not_found")
    assert_error(httpx.get(f"{url}/v1/responses/resp_nope/input_items"), 404, "response_id")
    assert_error(httpx.post(f"{url}/v1/responses/resp_nope/cancel"), 404, "response_id")


def test_another_owners_response_is_404_like_a_missing_one(tmp_path):
    """Through the service, as the organizations layer will call it with a resolved principal."""
    engine = FakeEngine(reply=lambda r: "ok")
    container = Container(Settings(data_dir=tmp_path), ModelRegistry([fake_spec(engine)]))
    service = container.responses
    mine, other = Principal("org_a", user_id="alice"), Principal("org_a", user_id="mallory")

    async def scenario() -> None:
        created = await service.create(await service.prepare(ResponseCreateRequest(input="secret"), mine))
        assert (await service.get(created.id, mine)).status == "completed"
        for attempt in (
            service.get(created.id, other),
            service.input_items(created.id, other, limit=20, order="desc", after=None),
            service.delete(created.id, other),
            service.cancel(created.id, other),
            service.prepare(ResponseCreateRequest(input="x", previous_response_id=created.id), other),
        ):
            with pytest.raises(ResponseNotFound):
                await attempt
        assert (await service.get(created.id, mine)).output[0].content[0].text == "ok"
        await container.aclose()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [{"type": "reasoning", "summary": []}]}, "input.0.type"),
        ({"input": [{"role": "user", "content": "ok"}, {"type": "web_search_call"}]}, "input.1.type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
            "input.0.content.0.type",
        ),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input.0.call_id"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input.0.role"),
        ({"input": ["not an item"]}, "input.0"),
        ({"input": 5}, "input"),
        ({"input": "x", "tools": [{"type": "web_search"}]}, "tools.0.type"),
        ({"input": "x", "tool_choice": "required"}, "tool_choice"),
        ({"input": "x", "tools": [WEATHER], "tool_choice": {"type": "function", "name": "other"}}, "tool_choice"),
        ({"input": "x", "text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format"),
        ({"input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "x", "temperature": 3}, "temperature"),
        ({"input": "x", "store": False, "background": True}, "background"),
        ({"input": "x", "background": True, "stream": True}, "stream"),
    ],
)
def test_bad_requests_are_400_naming_the_parameter(serve_fake, body, param):
    url, engine = serve_fake(reply=lambda r: "ok")
    assert_error(httpx.post(url + "/v1/responses", json=body), 400, param)
    assert engine.requests == []


def test_semantic_input_errors_are_400(serve_fake):
    url, engine = serve_fake(reply=lambda r: "ok")
    orphan = [{"type": "function_call_output", "call_id": "call_1", "output": "42"}]
    error = assert_error(httpx.post(url + "/v1/responses", json={"input": orphan}), 400, "input")
    assert "call_1" in error["message"]
    assert_error(httpx.post(url + "/v1/responses", json={"input": []}), 400, "input", "missing_required_parameter")
    assert_error(httpx.post(url + "/v1/responses", json={"model": "nope", "input": "x"}), 404, "model")
    assert engine.requests == []


def test_context_length_is_checked_before_streaming(serve_fake):
    url, _ = serve_fake(reply=lambda r: "ok", context_length=20)
    response = httpx.post(url + "/v1/responses", json={"input": "word " * 50, "stream": True})
    assert_error(response, 400, "messages", "context_length_exceeded")
