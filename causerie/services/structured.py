"""Grammars that make output parse: JSON mode, JSON schemas, forced tool calls."""

from __future__ import annotations

import json
from typing import Any

from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from causerie.errors import InvalidRequest
from causerie.protocol.openai import ResponseFormat, Tool


def schema_grammar(schema: dict[str, Any], *, param: str) -> str:
    try:
        return json_schema_to_gbnf(json.dumps(schema))
    except Exception as exc:  # the converter raises plain exceptions on unsupported schemas
        raise InvalidRequest(f"unsupported JSON schema: {exc}", param=param) from exc


def response_format_grammar(response_format: ResponseFormat | None) -> str | None:
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return JSON_GBNF
    assert response_format.json_schema is not None  # enforced by ResponseFormat
    return schema_grammar(response_format.json_schema.schema_, param="response_format.json_schema")


def tool_call_grammar(tools: list[Tool]) -> str:
    """A grammar for one ``{"name": ..., "arguments": ...}`` object calling one of ``tools``."""
    options = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.function.name},
                "arguments": tool.function.parameters or {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
        for tool in tools
    ]
    schema = options[0] if len(options) == 1 else {"anyOf": options}
    return schema_grammar(schema, param="tools")
