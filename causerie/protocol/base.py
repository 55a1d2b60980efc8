"""What every request body checks before its fields: JSON types as declared, and valid Unicode.

Request models are strict, as the OpenAPI schema and OpenAI are: an integer field takes a JSON
integer, not ``true`` or ``"5"``; a number field takes a number, not ``"1.5"``. (Fields of types JSON
cannot carry, such as paths, opt out with ``Field(strict=False)``.)

JSON may escape a lone UTF-16 surrogate (``"\\ud800"``); Python decodes it into a ``str`` that
cannot be encoded, and that would fail deep inside a tokenizer, a database driver or a response
serializer. A request body model rejects it up front, naming where it is (``messages.0.content``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

Location = tuple[str | int, ...]
_LONE_SURROGATE = "the text has a lone surrogate (like \\ud800): it is not valid Unicode"


class RequestPart(BaseModel):
    """Base of the models inside request bodies: JSON types are taken as declared (strict validation)."""

    model_config = ConfigDict(strict=True)


class RequestModel(RequestPart):
    """Base of the models of request bodies; nested models need not repeat the Unicode check, the body covers them."""

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        errors = [
            InitErrorDetails(type=PydanticCustomError("lone_surrogate", _LONE_SURROGATE), loc=loc, input=text)
            for loc, text in _lone_surrogates(data, ())
        ]
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return data


def _lone_surrogates(value: Any, loc: Location) -> Iterator[tuple[Location, str]]:
    """(where, string) for every string in a JSON-like value that UTF-8 cannot encode, keys included."""
    if isinstance(value, str):
        if not _encodable(value):
            yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            where = (*loc, str(key).encode("utf-8", "backslashreplace").decode())  # the path is echoed in the error
            yield from _lone_surrogates(key, where)
            yield from _lone_surrogates(item, where)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _lone_surrogates(item, (*loc, index))


def _encodable(text: str) -> bool:
    if text.isascii():  # the common case, and instant
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
