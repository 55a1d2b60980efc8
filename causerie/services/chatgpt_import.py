"""Reading a ChatGPT data export (``conversations.json``) into message trees ready to store.

Each conversation has a ``mapping`` of nodes (``message``, ``parent``, ``children``) and a
``current_node``. Nodes without visible text (tool calls, hidden system prompts, images) are
left out; their children hang from the nearest ancestor that is kept, so branches survive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from causerie.errors import InvalidRequest
from causerie.language import detect_language
from causerie.protocol.base import RequestModel
from causerie.store.repository import NewMessage

KEPT_ROLES = {"user", "assistant", "system"}


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Author(_Loose):
    role: str


class _Content(_Loose):
    content_type: str = "text"
    parts: list[Any] | None = None
    text: str | None = None


class _Message(_Loose):
    author: _Author
    content: _Content | None = None
    create_time: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class _Node(_Loose):
    message: _Message | None = None
    parent: str | None = None
    children: list[str] = Field(default_factory=list)


class _Conversation(_Loose, RequestModel):
    title: str | None = None
    create_time: float | None = None
    update_time: float | None = None
    mapping: dict[str, _Node]
    current_node: str | None = None


_EXPORT = TypeAdapter(list[_Conversation])


@dataclass(frozen=True)
class ImportedConversation:
    title: str | None
    language: str | None
    created_at: float
    updated_at: float
    messages: list[NewMessage]
    """Parents before children."""
    current: str | None
    """Key of the message the export was showing."""


def _text(message: _Message) -> str:
    content = message.content
    if content is None:
        return ""
    if content.content_type in ("text", "multimodal_text"):
        return "\n".join(part for part in content.parts or [] if isinstance(part, str)).strip()
    if content.content_type == "code" and content.text:
        return f"```\n{content.text}\n```"
    return ""


def _kept(message: _Message) -> bool:
    if message.author.role not in KEPT_ROLES:
        return False
    if message.metadata.get("is_visually_hidden_from_conversation"):
        return False
    return bool(_text(message))


def _convert(conversation: _Conversation) -> ImportedConversation:
    mapping = conversation.mapping
    start = conversation.create_time or 0.0
    messages: list[NewMessage] = []
    kept_parent: dict[str, str | None] = {}  # node -> nearest kept ancestor-or-self
    stack = [key for key, node in mapping.items() if node.parent is None or node.parent not in mapping][::-1]
    last_time = start
    while stack:
        key = stack.pop()
        if key in kept_parent:
            continue  # a malformed export that lists a node twice
        node = mapping[key]
        parent = kept_parent.get(node.parent) if node.parent else None
        message = node.message
        if message is not None and _kept(message):
            last_time = max(message.create_time or last_time, last_time)
            messages.append(
                NewMessage(
                    key=key,
                    parent_key=parent,
                    role=message.author.role,
                    content=_text(message),
                    model=message.metadata.get("model_slug"),
                    created_at=last_time,
                )
            )
            parent = key
        kept_parent[key] = parent
        stack.extend(child for child in reversed(node.children) if child in mapping)
    current = kept_parent.get(conversation.current_node) if conversation.current_node else None
    if current is None and messages:
        current = messages[-1].key
    first_user = next((m.content for m in messages if m.role == "user"), "")
    return ImportedConversation(
        title=(conversation.title or "").strip()[:300] or None,
        language=detect_language(first_user) if first_user else None,
        created_at=start or (messages[0].created_at if messages else 0.0),
        updated_at=conversation.update_time or last_time,
        messages=messages,
        current=current,
    )


def parse_chatgpt_export(data: object) -> list[ImportedConversation]:
    """Validate a whole export (a list of conversations, or one) and convert it."""
    if isinstance(data, dict):
        data = [data]
    try:
        conversations = _EXPORT.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidRequest(
            f"not a ChatGPT conversations.json export: {where}: {first['msg']}", param="file", code="invalid_value"
        ) from exc
    return [_convert(conversation) for conversation in conversations]
