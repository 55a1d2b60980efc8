"""The Responses API end to end on the embedded models, through the unmodified openai SDK and the OpenAI Agents SDK."""

from __future__ import annotations

import asyncio
import json

import jsonschema
import openai
import pytest
from agents import Agent, ModelSettings, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled

from causerie.models.embedded import QWEN_ID, SMOLLM_ID
from tests.conftest import client_for

pytestmark = pytest.mark.model
ASK = "What is the capital of France? Answer in one sentence."


def test_plain_response_mentions_paris(smollm2_url):
    response = client_for(smollm2_url).responses.create(model=SMOLLM_ID, input=ASK, temperature=0)
    assert "Paris" in response.output_text
    assert response.status == "completed" and response.output[0].type == "message"
    assert response.usage.input_tokens > 10 and response.usage.output_tokens > 0


def test_json_schema_response_parses_and_validates(smollm2_url):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    response = client_for(smollm2_url).responses.create(
        model=SMOLLM_ID,
        input="Invent a person: give a name and an age.",
        text={"format": {"type": "json_schema", "name": "person", "schema": schema, "strict": True}},
        max_output_tokens=60,
        temperature=0,
    )
    jsonschema.validate(json.loads(response.output_text), schema)


def test_forced_function_call_parses_against_the_schema(smollm2_url):
    parameters = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"],
    }
    response = client_for(smollm2_url).responses.create(
        model=SMOLLM_ID,
        input="What is the weather in Paris?",
        tools=[{"type": "function", "name": "get_weather", "parameters": parameters, "strict": True}],
        tool_choice="required",
        temperature=0,
    )
    call = response.output[-1]
    assert call.type == "function_call" and call.name == "get_weather"
    jsonschema.validate(json.loads(call.arguments), parameters)


def test_sdk_stream_helper_events_in_order_and_deltas_join(smollm2_url):
    client = client_for(smollm2_url)
    with client.responses.stream(model=SMOLLM_ID, input=ASK, temperature=0, max_output_tokens=40) as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [event.type for event in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 3 and "".join(deltas) == final.output_text
    assert [event.sequence_number for event in events] == list(range(len(events)))
    plain = client.responses.create(model=SMOLLM_ID, input=ASK, temperature=0, max_output_tokens=40)
    assert plain.output_text == final.output_text


def test_previous_response_id_chain_remembers_a_fact(qwen_url):
    client = client_for(qwen_url)
    first = client.responses.create(
        model=QWEN_ID, input="My cat is called Moustache. Just say OK.", temperature=0, max_output_tokens=20
    )
    second = client.responses.create(
        model=QWEN_ID,
        previous_response_id=first.id,
        input="What is my cat called? Answer with its name only.",
        temperature=0,
        max_output_tokens=20,
    )
    assert "Moustache" in second.output_text
    assert second.usage.input_tokens_details.cached_tokens > 0  # the first turn's prefix was reused


def test_agents_sdk_runs_a_function_tool_to_the_answer(qwen_url):
    set_tracing_disabled(True)  # no trace export: offline, nothing leaves the machine
    calls: list[str] = []

    @function_tool
    def get_temperature(city: str) -> str:
        """The current temperature in a city."""
        calls.append(city)
        return f"It is 23 degrees Celsius in {city}."

    client = openai.AsyncOpenAI(base_url=qwen_url + "/v1", api_key="unused", max_retries=0, timeout=300)
    agent = Agent(
        name="weather",
        instructions="You answer questions about the weather. Use the get_temperature tool, then answer briefly.",
        tools=[get_temperature],
        model=OpenAIResponsesModel(model=QWEN_ID, openai_client=client),
        # Forced for the first call (the SDK resets tool_choice to auto once the tool has run): the 0.5B model
        # does not reliably choose to call a tool by itself.
        model_settings=ModelSettings(temperature=0, max_tokens=100, tool_choice="required"),
    )

    async def run() -> str:
        result = await Runner.run(agent, "What is the temperature in Lyon right now?", max_turns=4)
        return str(result.final_output)

    answer = asyncio.run(run())
    assert calls and calls[0].lower().startswith("lyon")
    assert "23" in answer
