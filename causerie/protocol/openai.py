"""OpenAI-compatible request and response models.

Requests validate and name the offending parameter; unknown fields that OpenAI clients send
(``store``, ``metadata``, ``parallel_tool_calls``…) are accepted and ignored. Validators raise
pydantic's ``PydanticCustomError``, so pydantic reports where the problem is (a check across fields
is a validator of the later field, reading the earlier one from ``info.data``); ``api/errors.py``
makes every validation error a 400 naming that location as ``param``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from causerie.errors import CauserieError
from causerie.protocol.base import RequestModel, RequestPart


class _Request(RequestModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(RequestPart):
    type: Literal["text"]
    text: str


class FunctionCall(RequestPart):
    name: str
    arguments: str


class ToolCall(RequestPart):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(RequestPart):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class FunctionDefinition(RequestPart):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None


class Tool(RequestPart):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class NamedFunction(RequestPart):
    name: str


class NamedToolChoice(RequestPart):
    type: Literal["function"] = "function"
    function: NamedFunction


class JsonSchemaFormat(RequestPart):
    name: str = "response"
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None
    description: str | None = None


class ResponseFormat(RequestPart):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_required(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise PydanticCustomError("missing", "response_format of type 'json_schema' needs a 'json_schema' object")
        return self


class StreamOptions(RequestPart):
    include_usage: bool = False


class SamplingFields(_Request):
    model: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: int = Field(1, ge=1, le=8)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float = Field(0.0, ge=-2, le=2)
    frequency_penalty: float = Field(0.0, ge=-2, le=2)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> list[str]:
        stops = [value] if isinstance(value, str) else list(value or [])
        if len(stops) > 4:
            raise PydanticCustomError("too_long", "at most 4 stop sequences are allowed")
        return [s for s in stops if s]

    @field_validator("stream_options")
    @classmethod
    def _stream_options_need_stream(cls, value: StreamOptions | None, info: ValidationInfo) -> StreamOptions | None:
        if value is not None and info.data.get("stream") is False:
            raise PydanticCustomError("invalid_value", "stream_options is only allowed when stream is true")
        return value


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    locale: str | None = Field(
        None, description="Locale profile (fr-FR, ja-JP, en-US): conventions of the system prompt."
    )

    @field_validator("top_logprobs")
    @classmethod
    def _top_logprobs_need_logprobs(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("logprobs") is False:
            raise PydanticCustomError("invalid_value", "top_logprobs requires logprobs to be true")
        return value

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice_among_tools(
        cls, value: Literal["none", "auto", "required"] | NamedToolChoice | None, info: ValidationInfo
    ) -> Literal["none", "auto", "required"] | NamedToolChoice | None:
        if "tools" not in info.data:  # the tools themselves were invalid; that error is reported
            return value
        names = [t.function.name for t in info.data["tools"] or []]
        if isinstance(value, NamedToolChoice) and value.function.name not in names:
            raise PydanticCustomError(
                "invalid_value",
                "tool_choice names function '{name}', which is not among the tools ({names})",
                {"name": value.function.name, "names": ", ".join(names) or "none given"},
            )
        if value == "required" and not names:
            raise PydanticCustomError("invalid_value", "tool_choice 'required' needs at least one tool")
        return value

    @property
    def completion_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(SamplingFields):
    prompt: str | list[str]
    max_tokens: int | None = Field(16, ge=1)
    echo: bool = False
    logprobs: int | None = Field(None, ge=0, le=5)
    suffix: str | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_list(cls, value: str | list[str]) -> list[str]:
        prompts = [value] if isinstance(value, str) else value
        if not prompts:
            raise PydanticCustomError("too_short", "prompt must not be empty")
        return prompts


# -- responses ---------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


class PromptTokensDetails(BaseModel):
    cached_tokens: int = 0


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails = Field(default_factory=PromptTokensDetails)


class TopLogprobOut(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None


class TokenLogprobOut(TopLogprobOut):
    top_logprobs: list[TopLogprobOut] = Field(default_factory=list)


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprobOut] | None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None

    @model_serializer(mode="wrap")
    def _content_always(self, handler: SerializerFunctionWrapHandler):
        """``content`` stays in the answer as ``null`` beside ``tool_calls`` (as OpenAI sends it), even where
        the route leaves out the other empty fields."""
        data = handler(self)
        data.setdefault("content", None)
        return data


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length", "tool_calls"]
    logprobs: ChoiceLogprobs | None = None


class LanguageReport(BaseModel):
    """Causerie's extra field on chat completions: did the reply come back in the user's language?"""

    language: str = Field(description="The user's language (ISO 639-1), which replies should be in.")
    detected: str | None = Field(
        None, description="The language the model first answered in (absent: could not tell)."
    )  # optional in the schema: responses leave out None fields
    corrected: Literal["retried", "translated"] | None = Field(
        None, description="How a reply in another language was corrected: asked again more firmly, or translated."
    )


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    system_fingerprint: str | None = None
    causerie: LanguageReport | None = None


class ToolCallDelta(BaseModel):
    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: FunctionCall | None = None


class ChatDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChatChunkChoice(BaseModel):
    index: int
    delta: ChatDelta
    finish_reason: Literal["stop", "length", "tool_calls"] | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    causerie: LanguageReport | None = None


class CompletionLogprobs(BaseModel):
    tokens: list[str] = Field(default_factory=list)
    token_logprobs: list[float] = Field(default_factory=list)
    top_logprobs: list[dict[str, float]] = Field(default_factory=list)
    text_offset: list[int] = Field(default_factory=list)


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: Literal["stop", "length"] | None
    logprobs: CompletionLogprobs | None = None


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "causerie"
    context_length: int | None = None
    description: str | None = None
    engine: str | None = Field(
        None, description="What runs the model: llama.cpp in this process, or upstream:<names> for a remote model."
    )
    capability: Literal["chat", "embedding"] = "chat"
    """What the model is served for: ``chat`` (chat and text completions) or ``embedding`` (/v1/embeddings)."""


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None

    @classmethod
    def of(cls, exc: CauserieError) -> ErrorBody:
        """The one place a domain error becomes OpenAI's error object."""
        return cls(message=exc.message, type=exc.error_type, param=exc.param, code=exc.code)


class ErrorResponse(BaseModel):
    error: ErrorBody

    @classmethod
    def of(cls, exc: CauserieError) -> ErrorResponse:
        return cls(error=ErrorBody.of(exc))


def error_message(payload: object) -> str | None:
    """The ``error.message`` of an OpenAI-style error payload (a JSON value), or None when it has none."""
    error = payload.get("error", payload) if isinstance(payload, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None
