"""Between the Responses API's items and the chat service's messages and requests.

A response runs as a chat completion: its context (the items of the responses it continues, their outputs, then
its own input) becomes chat messages, ``function_call`` items assistant tool calls and ``function_call_output``
items tool messages; ``tools``, ``tool_choice`` and ``text.format`` become their chat equivalents, so tools and
structured output are grammar-enforced exactly as on ``/v1/chat/completions``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from causerie.errors import InvalidRequest
from causerie.protocol.openai import (
    ChatCompletionRequest,
    ChatMessage,
    FunctionCall,
    FunctionDefinition,
    JsonSchemaFormat,
    NamedFunction,
    NamedToolChoice,
    ResponseFormat,
    Tool,
    ToolCall,
)
from causerie.protocol.response_objects import FunctionCallOutput, OutputItem, OutputMessage
from causerie.protocol.responses import (
    FunctionCallItem,
    InputItem,
    MessageItem,
    NamedFunctionChoice,
    ResponseCreateRequest,
    TextContent,
)


def item_id(prefix: str) -> str:
    """OpenAI-style ids: ``resp_…``, ``msg_…``, ``fc_…``, ``fco_…``."""
    return f"{prefix}_{uuid.uuid4().hex}"


_ID_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}


def with_ids(items: Iterable[InputItem]) -> list[InputItem]:
    """The request's items as stored: each with an id and a status."""
    return [
        item.model_copy(update={"id": item.id or item_id(_ID_PREFIX[item.type]), "status": item.status or "completed"})
        for item in items
    ]


def as_input(output: Iterable[OutputItem]) -> list[InputItem]:
    """A response's output as input items of the response that continues it."""
    items: list[InputItem] = []
    for item in output:
        if isinstance(item, OutputMessage):
            parts = [TextContent(type="output_text", text=part.text) for part in item.content]
            items.append(MessageItem(id=item.id, role="assistant", content=parts, status=item.status))
        else:
            items.append(
                FunctionCallItem(
                    type="function_call", id=item.id, call_id=item.call_id, name=item.name, arguments=item.arguments
                )
            )
    return items


def chat_messages(instructions: str | None, items: list[InputItem]) -> list[ChatMessage]:
    """The context as chat messages; a tool output must answer a call made before it."""
    messages = [ChatMessage(role="system", content=instructions)] if instructions else []
    calls: set[str] = set()
    for item in items:
        if isinstance(item, MessageItem):
            messages.append(ChatMessage(role=item.role, content=item.text()))
        elif isinstance(item, FunctionCallItem):
            calls.add(item.call_id)
            call = ToolCall(id=item.call_id, function=FunctionCall(name=item.name, arguments=item.arguments))
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant":  # text then calls, or several calls: one turn
                last.tool_calls = [*(last.tool_calls or []), call]
            else:
                messages.append(ChatMessage(role="assistant", content=None, tool_calls=[call]))
        else:
            if item.call_id not in calls:
                raise InvalidRequest(
                    f"No tool call found for function call output with call_id '{item.call_id}'.", param="input"
                )
            messages.append(ChatMessage(role="tool", content=item.text(), tool_call_id=item.call_id))
    return messages


def chat_request(request: ResponseCreateRequest, messages: list[ChatMessage]) -> ChatCompletionRequest:
    """The chat completion that produces the response."""
    tools = [
        Tool(
            function=FunctionDefinition(
                name=tool.name,
                description=tool.description,
                parameters=tool.parameters or {"type": "object", "properties": {}},
                strict=tool.strict,
            )
        )
        for tool in request.tools
    ]
    choice = request.tool_choice
    if isinstance(choice, NamedFunctionChoice):
        tool_choice: NamedToolChoice | str = NamedToolChoice(function=NamedFunction(name=choice.name))
    else:
        tool_choice = choice
    return ChatCompletionRequest.model_validate(
        {
            "model": request.model,
            "messages": messages,
            "max_tokens": request.max_output_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "tools": tools or None,
            "tool_choice": tool_choice if tools else None,
            "response_format": _response_format(request),
            "user": request.user,
            "locale": request.locale,
        }
    )


def _response_format(request: ResponseCreateRequest) -> ResponseFormat | None:
    fmt = request.text.format if request.text is not None else None
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return ResponseFormat(type="json_object")
    schema = JsonSchemaFormat.model_validate(
        {
            "name": fmt.name or "response",
            "schema": fmt.schema_ or {},
            "strict": fmt.strict,
            "description": fmt.description,
        }
    )
    return ResponseFormat(type="json_schema", json_schema=schema)


def function_call_item(call: ToolCall) -> FunctionCallOutput:
    return FunctionCallOutput(
        id=item_id("fc"),
        call_id=call.id,
        name=call.function.name,
        arguments=call.function.arguments,
        status="completed",
    )
