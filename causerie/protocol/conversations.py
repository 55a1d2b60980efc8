"""Request and response models of the conversations API (see /v1/conversations in the OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from causerie.protocol.base import RequestModel
from causerie.protocol.openai import ErrorBody

MessageRole = Literal["user", "assistant", "system"]
MessageStatusName = Literal["complete", "incomplete", "error"]


class _Request(RequestModel):
    model_config = ConfigDict(extra="ignore")


class ConversationCreate(_Request):
    title: str | None = Field(None, max_length=300)
    model: str | None = None
    system_prompt: str | None = None


class ConversationUpdate(_Request):
    """Only the fields that are present change; ``current_message_id`` moves between branches."""

    title: str | None = Field(None, min_length=1, max_length=300)
    current_message_id: str | None = None
    model: str | None = None
    system_prompt: str | None = None


class GenerationOptions(_Request):
    model: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    stream: bool = True


class MessageCreate(GenerationOptions):
    content: str = Field(min_length=1)
    parent_id: str | None = Field(
        None,
        description="Omitted: after the current message. Given: a new branch under that message "
        "(edit = the edited text under the original's parent). null: a new root.",
    )


class Message(BaseModel):
    id: str
    object: Literal["conversation.message"] = "conversation.message"
    conversation_id: str
    parent_id: str | None
    role: MessageRole
    content: str
    model: str | None = None
    status: MessageStatusName
    created_at: int
    children: list[str] = Field(default_factory=list, description="Replies to this message, oldest first.")


class Conversation(BaseModel):
    id: str
    object: Literal["conversation"] = "conversation"
    title: str | None
    model: str | None
    system_prompt: str | None
    language: str | None = Field(description="ISO 639-1 code detected from the first message.")
    created_at: int
    updated_at: int
    current_message_id: str | None = Field(description="Leaf of the branch being shown; null when empty.")


class ConversationWithMessages(Conversation):
    messages: list[Message] = Field(description="Every message of every branch, oldest first.")


class ConversationList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Conversation]
    has_more: bool


class ConversationDeleted(BaseModel):
    id: str
    object: Literal["conversation.deleted"] = "conversation.deleted"
    deleted: bool = True


class ConversationExport(BaseModel):
    object: Literal["list"] = "list"
    data: list[ConversationWithMessages]


class Exchange(BaseModel):
    """The answer to a non-streamed message or regeneration."""

    user_message: Message | None = None
    assistant_message: Message
    conversation: Conversation


class StopResult(BaseModel):
    stopped: bool


class ImportResult(BaseModel):
    imported: int
    conversations: list[Conversation]


class SearchResult(BaseModel):
    conversation_id: str
    conversation_title: str | None
    message_id: str
    role: MessageRole
    snippet: str
    created_at: int


class SearchResults(BaseModel):
    object: Literal["list"] = "list"
    data: list[SearchResult]


# -- stream events (``data: {json}`` lines of text/event-stream) ------------------------------


class UserMessageEvent(BaseModel):
    type: Literal["user_message"] = "user_message"
    message: Message


class AssistantMessageEvent(BaseModel):
    type: Literal["assistant_message"] = "assistant_message"
    message: Message


class DeltaEvent(BaseModel):
    type: Literal["delta"] = "delta"
    content: str


class DoneEvent(BaseModel):
    type: Literal["done"] = "done"
    message: Message


class TitleEvent(BaseModel):
    type: Literal["title"] = "title"
    title: str


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    error: ErrorBody


StreamEvent = UserMessageEvent | AssistantMessageEvent | DeltaEvent | DoneEvent | TitleEvent | ErrorEvent
