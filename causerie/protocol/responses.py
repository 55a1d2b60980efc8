"""The Responses API's request bodies (``POST /v1/responses``), as OpenAI's SDK sends them.

``input`` is a string or a list of items: messages (``{"role", "content"}``, ``type`` optional), ``function_call``
and ``function_call_output``. A string becomes one user message, and message content that is a string becomes one
text part, so the rest of Causerie sees one shape. Each item is validated by its own model, so an error names
where it is without pydantic's union labels: ``input.2.type``, ``input.0.content.1.type``, ``input.1.call_id``.
Fields OpenAI clients send that Causerie has no use for (``include``, ``truncation``, ``reasoning``…) are ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from causerie.protocol.base import RequestModel, RequestPart

ItemStatus = Literal["in_progress", "completed", "incomplete"]


def _or_string(schema: dict[str, Any]) -> None:
    """The documented schema of a list field that also takes a string (turned into that list before validation)."""
    listed = {key: value for key, value in schema.items() if key not in ("title", "default")}
    schema.clear()
    schema["anyOf"] = [{"type": "string"}, listed]


class _Part(RequestPart):
    model_config = ConfigDict(strict=True, extra="ignore")


class TextContent(_Part):
    """A text part of a message: ``input_text`` from users, ``output_text`` in an assistant message sent back."""

    type: Literal["input_text", "output_text"]
    text: str


class MessageItem(_Part):
    type: Literal["message"] = "message"
    id: str | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: list[TextContent] = Field(json_schema_extra=_or_string)
    status: ItemStatus | None = None

    @model_validator(mode="before")
    @classmethod
    def _string_content(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("content"), str):
            kind = "output_text" if data.get("role") == "assistant" else "input_text"
            return {**data, "content": [{"type": kind, "text": data["content"]}]}
        return data

    def text(self) -> str:
        return "".join(part.text for part in self.content)


class FunctionCallItem(_Part):
    """A call the model made, sent back so that the model sees it with its output."""

    type: Literal["function_call"]
    id: str | None = None
    call_id: str
    name: str
    arguments: str
    status: ItemStatus | None = None


class FunctionCallOutputItem(_Part):
    type: Literal["function_call_output"]
    id: str | None = None
    call_id: str
    output: str | list[TextContent]
    status: ItemStatus | None = None

    def text(self) -> str:
        return self.output if isinstance(self.output, str) else "".join(part.text for part in self.output)


InputItem = MessageItem | FunctionCallItem | FunctionCallOutputItem
_ITEM_MODELS: dict[str, type[MessageItem] | type[FunctionCallItem] | type[FunctionCallOutputItem]] = {
    "message": MessageItem,
    "function_call": FunctionCallItem,
    "function_call_output": FunctionCallOutputItem,
}


def parse_items(value: Any) -> Any:
    """``input`` as a list of validated items; errors located at ``input.<index>.<field>``."""
    if isinstance(value, str):
        value = [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        return value  # the field's own type check reports it
    items: list[Any] = []
    errors: list[InitErrorDetails] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            errors.append(_error(("input", index), "an input item must be an object", item))
            continue
        kind = item.get("type", "message" if "role" in item else None)
        model = _ITEM_MODELS.get(kind) if isinstance(kind, str) else None
        if model is None:
            supported = ", ".join(f"'{name}'" for name in _ITEM_MODELS)
            errors.append(
                _error(("input", index, "type"), f"Invalid value: {kind!r}. Supported values are: {supported}.", kind)
            )
            continue
        try:
            items.append(model.model_validate(item))
        except ValidationError as exc:
            errors.extend(
                InitErrorDetails(
                    type=PydanticCustomError(error["type"], error["msg"]),
                    loc=("input", index, *error["loc"]),
                    input=error["input"],
                )
                for error in exc.errors()
            )
    if errors:
        raise ValidationError.from_exception_data("ResponseCreateRequest", errors)
    return items


def _error(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("invalid_value", message), loc=loc, input=value)


class FunctionTool(_Part):
    type: Literal["function"]
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class NamedFunctionChoice(_Part):
    type: Literal["function"]
    name: str


ToolChoice = Literal["none", "auto", "required"] | NamedFunctionChoice


class TextFormat(_Part):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    description: str | None = None
    strict: bool | None = None

    @model_validator(mode="after")
    def _schema_for_json_schema(self) -> TextFormat:
        if self.type == "json_schema" and self.schema_ is None:
            raise PydanticCustomError("missing", "a text.format of type 'json_schema' needs a 'schema'")
        return self


class TextConfig(_Part):
    format: TextFormat | None = None


class ResponseCreateRequest(RequestModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    model: str | None = None
    input: list[InputItem] = Field(default_factory=list, json_schema_extra=_or_string)
    instructions: str | None = None
    previous_response_id: str | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    tools: list[FunctionTool] = Field(default_factory=list)
    tool_choice: ToolChoice = "auto"
    parallel_tool_calls: bool = True
    text: TextConfig | None = None
    metadata: dict[str, str] | None = Field(None, max_length=16)
    user: str | None = None
    store: bool = True
    background: bool = False
    stream: bool = False
    locale: str | None = Field(None, description="Locale profile (fr-FR, ja-JP, en-US), as on chat completions.")

    @model_validator(mode="before")
    @classmethod
    def _input_items(cls, data: Any) -> Any:
        if isinstance(data, dict) and "input" in data:
            return {**data, "input": parse_items(data["input"])}
        return data

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice_among_tools(cls, value: ToolChoice, info: ValidationInfo) -> ToolChoice:
        if "tools" not in info.data:  # the tools themselves were invalid; that error is reported
            return value
        names = [tool.name for tool in info.data["tools"]]
        if isinstance(value, NamedFunctionChoice) and value.name not in names:
            raise PydanticCustomError(
                "invalid_value",
                "tool_choice names function '{name}', which is not among the tools ({names})",
                {"name": value.name, "names": ", ".join(names) or "none given"},
            )
        if value == "required" and not names:
            raise PydanticCustomError("invalid_value", "tool_choice 'required' needs at least one tool")
        return value

    @field_validator("background")
    @classmethod
    def _background_is_stored(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("store") is False:
            raise PydanticCustomError("invalid_value", "a background response must be stored (store cannot be false)")
        return value

    @field_validator("stream")
    @classmethod
    def _not_streamed_in_background(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("background"):
            raise PydanticCustomError(
                "invalid_value", "background responses are not streamed here: poll GET /v1/responses/{id} instead"
            )
        return value
