"""``POST /v1/embeddings``: OpenAI's request and response shapes (``openai.types.EmbeddingCreateParams``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from causerie.protocol.base import RequestModel

MAX_INPUTS = 2048
"""OpenAI's limit on the number of inputs in one request."""

EmbeddingInput = str | list[str] | list[int] | list[list[int]]


class EmbeddingRequest(RequestModel):
    model: str = Field(min_length=1)
    input: EmbeddingInput
    """A text, texts, one text's token ids, or several texts' token ids (in the model's own vocabulary)."""
    encoding_format: Literal["float", "base64"] = "float"
    """``base64``: each vector's float32 values, little-endian, base64-encoded (what the openai SDK asks for)."""
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None

    @field_validator("input", mode="before")
    @classmethod
    def _one_shape(cls, value: Any) -> Any:
        """Name what is wrong with ``input`` once, instead of one error per member of the union."""
        if isinstance(value, str):
            if not value:
                raise PydanticCustomError("empty_input", "'input' cannot be an empty string")
            return value
        if not isinstance(value, list) or not value:
            raise PydanticCustomError(
                "input_shape", "'input' must be a string, a non-empty array of strings or an array of token ids"
            )
        if len(value) > MAX_INPUTS:
            raise PydanticCustomError("too_many_inputs", f"'input' has {len(value)} items; at most {MAX_INPUTS}")
        first = value[0]
        if isinstance(first, str):
            _all(value, lambda item: isinstance(item, str) and bool(item), "non-empty strings")
        elif isinstance(first, list):
            _all(value, lambda item: isinstance(item, list) and bool(item) and all(map(_token, item)), "token ids")
        else:
            _all(value, _token, "token ids (integers >= 0)")
        return value


def _token(item: Any) -> bool:
    return type(item) is int and item >= 0


def _all(items: list[Any], good: Any, what: str) -> None:
    for index, item in enumerate(items):
        if not good(item):
            raise PydanticCustomError(
                "input_item", "'input' must be all {what}: item {index} is not", {"what": what, "index": index}
            )


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
