"""Request and response models of the text endpoints: ``/v1/translate`` and ``/v1/summarize``.

Requests validate and normalise at the edge (language names become ISO 639-1 codes, empty text
is refused with the offending ``param``), so services receive clean values.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from causerie.errors import InvalidRequest
from causerie.language import resolve_language
from causerie.protocol.base import RequestModel

MAX_TEXT_CHARS = 2_000_000
"""The longest document one request may carry (about 500k tokens)."""


class _Request(RequestModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    stream: StrictBool = Field(False, description="Send progress as server-sent events, then the result.")

    @field_validator("text", check_fields=False)
    @classmethod
    def _text_present(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("empty_text", "text is empty: there is nothing to process")
        if len(value) > MAX_TEXT_CHARS:
            raise PydanticCustomError(
                "text_too_long",
                "text is too long: {length} characters, the limit is {limit}",
                {"length": len(value), "limit": MAX_TEXT_CHARS},
            )
        return value


def _resolve(value: str, info: ValidationInfo) -> str:
    """``resolve_language`` with its error raised as a validator's, which pydantic locates."""
    try:
        return resolve_language(value, param=info.field_name or "")
    except InvalidRequest as exc:
        raise PydanticCustomError("unknown_language", exc.message) from None


class TextUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    calls: int = Field(0, description="Model calls made.")

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.total_tokens = self.prompt_tokens + self.completion_tokens
        self.calls += 1

    def merge(self, other: TextUsage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.total_tokens = self.prompt_tokens + self.completion_tokens
        self.calls += other.calls


# ---------------------------------------------------------------- translate


class TranslateRequest(_Request):
    text: str = Field(description="What to translate: plain text, Markdown or HTML.")
    target_language: str = Field(description="ISO 639-1 code or language name (fr, French, 日本語…).")
    source_language: str | None = Field(None, description="Detected when omitted.")
    format: Literal["auto", "text", "markdown", "html"] = "auto"
    formality: Literal["formal", "informal"] | None = Field(None, description="vous/tu, keigo/plain form…")
    glossary: dict[str, str] = Field(default_factory=dict, description="Source term -> required translation.")
    max_segment_tokens: int | None = Field(
        None, ge=16, description="Longest segment sent to the model (default: what the context allows)."
    )

    @field_validator("target_language")
    @classmethod
    def _target(cls, value: str, info: ValidationInfo) -> str:
        return _resolve(value, info)

    @field_validator("source_language")
    @classmethod
    def _source(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _resolve(value, info) if value else None

    @field_validator("glossary")
    @classmethod
    def _glossary(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not source.strip() or not target.strip() for source, target in value.items()):
            raise PydanticCustomError("invalid_value", "glossary terms and their translations must not be empty")
        return {source.strip(): target.strip() for source, target in value.items()}


class GlossaryCheck(BaseModel):
    source: str
    target: str
    found: bool = Field(description="Whether the required translation appears in the segment's translation.")


class TranslatedSegment(BaseModel):
    index: int
    source: str
    translation: str
    translated: bool = Field(description="False for pieces copied as they are (code blocks, markup, blank lines).")
    glossary: list[GlossaryCheck] = Field(default_factory=list)
    missing: list[str] = Field(
        default_factory=list, description="Protected pieces (code, URLs, tags, placeholders) the model dropped."
    )
    attempts: int = Field(0, description="Model calls for this segment (2: retried to fix glossary or markers).")


class Translation(BaseModel):
    object: Literal["translation"] = "translation"
    model: str
    source_language: str
    target_language: str
    format: Literal["text", "markdown", "html"]
    text: str
    segments: list[TranslatedSegment]
    usage: TextUsage


class TranslateProgress(BaseModel):
    object: Literal["translation.progress"] = "translation.progress"
    done: int
    total: int
    segment: TranslatedSegment


# ---------------------------------------------------------------- summarize

SummaryLength = Literal["short", "medium", "long"]


class SummarizeRequest(_Request):
    text: str = Field(description="The document to summarize, of any length.")
    length: SummaryLength = "medium"
    language: str | None = Field(None, description="Language of the summary (default: the document's).")
    chunk_tokens: int | None = Field(
        None, ge=64, description="Largest piece read in one model call (default: what the context allows)."
    )

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _resolve(value, info) if value else None


class Summary(BaseModel):
    object: Literal["summary"] = "summary"
    model: str
    language: str | None = Field(description="Language of the summary.")
    document_language: str | None
    summary: str
    chunks: int = Field(description="Pieces the document was read in (1: a single pass).")
    levels: int = Field(description="Reduce rounds after the first pass over the chunks (0: a single pass).")
    translated: bool = Field(False, description="The model wrote in another language; the summary was translated.")
    usage: TextUsage


class SummarizeProgress(BaseModel):
    object: Literal["summary.progress"] = "summary.progress"
    stage: Literal["map", "reduce", "final"]
    level: int = Field(description="0 for the chunks of the document, 1+ for reduce rounds.")
    done: int
    total: int
