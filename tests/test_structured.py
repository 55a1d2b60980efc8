"""The grammars behind JSON mode, JSON schemas and forced tool calls, run by llama.cpp's own grammar sampler.

The fake engine ignores grammars, so the API tests can only check which grammar reaches the engine; here
each grammar is fed strings token by token (SmolLM2's vocabulary, loaded without its weights) to see
which it lets through to the end of the text.
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Iterator

import llama_cpp
import pytest
from llama_cpp import Llama

from causerie.errors import InvalidRequest
from causerie.protocol.openai import ResponseFormat, Tool
from causerie.services.structured import response_format_grammar, tool_call_grammar
from tests.conftest import smollm2_path


@pytest.fixture(scope="module")
def vocabulary() -> Iterator[Llama]:
    llm = Llama(model_path=str(smollm2_path()), vocab_only=True, verbose=False)
    yield llm
    llm.close()


def _allows(sampler: llama_cpp.llama_sampler_p, token: int) -> bool:
    data = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(id=token, logit=0.0, p=0.0))
    candidates = llama_cpp.llama_token_data_array(data=data, size=1, selected=-1, sorted=False)
    llama_cpp.llama_sampler_apply(sampler, ctypes.byref(candidates))
    return data[0].logit != float("-inf")


def accepts(llm: Llama, grammar: str, text: str) -> bool:
    """Whether a model constrained by ``grammar`` could write exactly ``text`` and then stop."""
    vocab = llm._model.vocab
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    assert sampler, "llama.cpp cannot parse the grammar"
    try:
        for token in llm.tokenize(text.encode(), add_bos=False, special=False):
            if not _allows(sampler, token):
                return False
            llama_cpp.llama_sampler_accept(sampler, token)
        return _allows(sampler, llama_cpp.llama_vocab_eos(vocab))
    finally:
        llama_cpp.llama_sampler_free(sampler)


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


def schema_format(schema: dict) -> ResponseFormat:
    return ResponseFormat.model_validate({"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ('{"name": "Aiko", "age": 31}', True),
        ('{"name":"Aiko","age":31,"tags":["a","b"]}', True),
        ('{"name": "Aiko"}', False),  # a required property missing
        ('{"name": "Aiko", "age": "31"}', False),  # a string where the schema says integer
        ('{"name": "Aiko", "age": 31.5}', False),
        ('{"name": "Aiko", "age": 31, "tags": ["a", "b", "c"]}', False),  # maxItems
        ('{"name": "Aiko", "age": 31, "city": "Kyoto"}', False),  # additionalProperties: false
        ('{"name": "Aiko", "age": 31', False),  # unfinished
        ("Aiko is 31.", False),
    ],
)
def test_a_json_schema_grammar_admits_exactly_the_documents_of_the_schema(vocabulary, text, ok):
    assert accepts(vocabulary, response_format_grammar(schema_format(PERSON)), text) is ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ('{"anything": [1, 2.5, null, true, {"nested": "é"}]}', True),
        ("{}", True),
        ("Sure! Here is the JSON:", False),
        ('{"a": 1} and more', False),
        ('{"a": }', False),
    ],
)
def test_json_mode_admits_json_objects_only(vocabulary, text, ok):
    grammar = response_format_grammar(ResponseFormat(type="json_object"))
    assert grammar is not None and accepts(vocabulary, grammar, text) is ok


def test_plain_text_has_no_grammar():
    assert response_format_grammar(None) is None
    assert response_format_grammar(ResponseFormat(type="text")) is None


def _tool(name: str, parameters: dict) -> Tool:
    return Tool.model_validate({"type": "function", "function": {"name": name, "parameters": parameters}})


WEATHER = _tool("get_weather", {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
CLOCK = _tool("get_time", {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]})


def test_a_forced_call_must_name_the_tool_and_match_its_parameters(vocabulary):
    grammar = tool_call_grammar([WEATHER])
    assert accepts(vocabulary, grammar, json.dumps({"name": "get_weather", "arguments": {"city": "Lyon"}}))
    assert not accepts(vocabulary, grammar, json.dumps({"name": "get_time", "arguments": {"city": "Lyon"}}))
    assert not accepts(vocabulary, grammar, json.dumps({"name": "get_weather", "arguments": {"town": "Lyon"}}))
    assert not accepts(vocabulary, grammar, json.dumps({"name": "get_weather"}))
    assert not accepts(vocabulary, grammar, "get_weather(city='Lyon')")


def test_a_call_among_several_tools_takes_each_tool_with_its_own_parameters(vocabulary):
    grammar = tool_call_grammar([WEATHER, CLOCK])
    assert accepts(vocabulary, grammar, json.dumps({"name": "get_weather", "arguments": {"city": "Lyon"}}))
    assert accepts(vocabulary, grammar, json.dumps({"name": "get_time", "arguments": {"zone": "Asia/Tokyo"}}))
    assert not accepts(vocabulary, grammar, json.dumps({"name": "get_time", "arguments": {"city": "Lyon"}}))


def test_a_schema_the_converter_cannot_handle_is_a_400_naming_the_parameter():
    with pytest.raises(InvalidRequest) as caught:
        response_format_grammar(schema_format({"$ref": "#/$defs/missing"}))
    assert caught.value.param == "response_format.json_schema"
