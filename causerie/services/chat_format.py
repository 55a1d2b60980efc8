"""Turning OpenAI chat messages into a model prompt, and model output back into tool calls.

The model's own Jinja chat template (from the GGUF) renders the conversation. Templates that
know about tools (Qwen2.5's) get the tools passed in; for the others a system instruction
describes them in the same ``<tool_call>{json}</tool_call>`` convention, so parsing is shared.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from causerie.protocol.openai import ChatMessage, FunctionCall, Tool, ToolCall

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""Used when a model ships without a chat template."""

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
_TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


@dataclass(frozen=True)
class RenderedPrompt:
    text: str
    stop: tuple[str, ...]


class ChatFormatter:
    """Renders prompts for one model."""

    def __init__(self, template: str | None, bos_token: str, eos_token: str) -> None:
        self.template = template or CHATML_TEMPLATE
        self.native_tools = "tools" in self.template
        self._formatter = Jinja2ChatFormatter(self.template, eos_token=eos_token, bos_token=bos_token)
        self._eos = eos_token

    def render(
        self, messages: list[ChatMessage], tools: list[Tool] | None = None, *, force_tool_call: bool = False
    ) -> RenderedPrompt:
        wire = [self._message_dict(m) for m in messages]
        tool_dicts = [t.model_dump(exclude_none=True) for t in tools or []]
        if tool_dicts and not self.native_tools:
            wire = _with_tool_instruction(wire, tool_dicts)
        try:
            # The template gets plain dicts (tool-call arguments as objects, as tool-aware templates expect);
            # llama_cpp types them as its OpenAI request TypedDicts.
            result = self._formatter(messages=wire, tools=tool_dicts or None)  # type: ignore[arg-type]
        except Exception as exc:  # template errors (raise_exception, bad role order)
            from causerie.errors import InvalidRequest

            raise InvalidRequest(f"the model's chat template rejected the messages: {exc}", param="messages") from exc
        text = result.prompt + (TOOL_CALL_OPEN + "\n" if force_tool_call else "")
        stops = tuple(s for s in ([result.stop] if isinstance(result.stop, str) else result.stop or []) if s)
        return RenderedPrompt(text=text, stop=stops or ((self._eos,) if self._eos else ()))

    def _message_dict(self, message: ChatMessage) -> dict[str, Any]:
        role = "system" if message.role == "developer" else message.role
        data: dict[str, Any] = {"role": role, "content": message.text()}
        if message.tool_calls:
            calls = [
                {
                    "type": "function",
                    "function": {"name": c.function.name, "arguments": _arguments(c.function.arguments)},
                }
                for c in message.tool_calls
            ]
            if self.native_tools:
                data["tool_calls"] = calls
            else:
                data["content"] = (data["content"] + "\n" + "\n".join(_call_text(c) for c in calls)).strip()
        if message.role == "tool":
            if self.native_tools:
                data["tool_call_id"] = message.tool_call_id
            else:
                data = {"role": "user", "content": f"<tool_response>\n{message.text()}\n</tool_response>"}
        return data


def _arguments(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except json.JSONDecodeError:
        return arguments


def _call_text(call: dict[str, Any]) -> str:
    body = {"name": call["function"]["name"], "arguments": call["function"]["arguments"]}
    return f"{TOOL_CALL_OPEN}\n{json.dumps(body, ensure_ascii=False)}\n{TOOL_CALL_CLOSE}"


def _with_tool_instruction(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    listing = "\n".join(json.dumps(t["function"], ensure_ascii=False) for t in tools)
    instruction = (
        "You can call these functions:\n"
        f"{listing}\n"
        "To call a function, reply with only "
        '<tool_call>{"name": <function name>, "arguments": <arguments object>}</tool_call>.'
    )
    if messages and messages[0]["role"] == "system":
        first = {**messages[0], "content": messages[0]["content"] + "\n\n" + instruction}
        return [first, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]


def could_be_tool_call(text: str) -> bool:
    """Whether ``text`` (the output so far) is, or may become, a tool call."""
    stripped = text.lstrip()
    return stripped.startswith(TOOL_CALL_OPEN) or TOOL_CALL_OPEN.startswith(stripped)


def parse_tool_calls(text: str, tools: list[Tool]) -> tuple[str | None, list[ToolCall]]:
    """Split model output into (content, tool calls); calls must name a known tool."""
    known = {t.function.name for t in tools}
    calls: list[ToolCall] = []
    for body in _TOOL_CALL_RE.findall(text):
        call = _call_from_json(body, known)
        if call is not None:
            calls.append(call)
    if not calls:
        stripped = text.strip()
        call = _call_from_json(stripped, known) if stripped.startswith("{") else None
        if call is None:
            return text, []
        return None, [call]
    content = _TOOL_CALL_RE.sub("", text).strip()
    return content or None, calls


def tool_call_from_forced_output(text: str, tools: list[Tool]) -> ToolCall | None:
    """Parse the JSON a grammar-forced tool call produced (after the prefilled ``<tool_call>``)."""
    return _call_from_json(text.split(TOOL_CALL_CLOSE)[0].strip(), {t.function.name for t in tools})


def _call_from_json(body: str, known: set[str]) -> ToolCall | None:
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("name") not in known:
        return None
    arguments = data.get("arguments", data.get("parameters", {}))
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return ToolCall(id=f"call_{uuid.uuid4().hex[:24]}", function=FunctionCall(name=data["name"], arguments=arguments))
