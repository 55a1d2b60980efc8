"""Where the CLI gets its answers: services in this process, or a running server over HTTP.

Both backends expose the same small surface (``Backend``) so the commands never care which
one they talk to. Errors leave a backend as ``CauserieError`` (in-process) or ``BackendError``
(remote); both carry a ``message`` meant for the user.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, TypeVar, cast

import httpx
import openai
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from causerie.cli.errors import BackendError, raise_for_event, response_error, sdk_error
from causerie.cli.remote_conversations import RemoteConversations
from causerie.cli.settings import cli_settings
from causerie.config import Settings
from causerie.errors import CauserieError, InvalidRequest
from causerie.models.registry import ModelRegistry
from causerie.principal import PERSONAL
from causerie.protocol.conversations import ConversationCreate, DeltaEvent, ErrorEvent, MessageCreate
from causerie.protocol.openai import ChatCompletionRequest
from causerie.protocol.text import (
    SummarizeProgress,
    SummarizeRequest,
    Summary,
    TranslateProgress,
    TranslateRequest,
    Translation,
)
from causerie.services.container import Container

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionChunk

__all__ = ["Backend", "BackendError", "LocalBackend", "ModelRow", "RemoteBackend", "open_backend"]

T = TypeVar("T")
CodeOperation = Literal["generate", "fix", "optimize"]


@dataclass(frozen=True)
class ModelRow:
    """One line of ``causerie models``."""

    id: str
    context_length: int | None
    source: str
    description: str
    default: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backend(Protocol):
    def models(self) -> list[ModelRow]: ...

    def problems(self) -> dict[str, str]:
        """Model id -> why that model cannot be used (empty where unknown)."""
        ...

    def stream_chat(
        self, messages: list[dict], *, model: str | None, temperature: float | None, max_tokens: int | None
    ) -> Iterator[str]:
        """The reply's text, piece by piece as it is generated."""
        ...

    def create_conversation(self, *, system: str | None, model: str | None) -> str:
        """A new stored conversation; returns its id."""
        ...

    def stream_message(
        self, conversation_id: str, text: str, *, model: str | None, temperature: float | None, max_tokens: int | None
    ) -> Iterator[str]:
        """Store ``text`` in the conversation and yield the reply (stored too) as it is generated."""
        ...

    def code(self, operation: CodeOperation, request: BaseModel) -> dict[str, Any]:
        """Run ``/v1/code/<operation>``: the result as JSON-ready data."""
        ...

    def translate(self, request: TranslateRequest) -> Iterator[TranslateProgress | Translation]:
        """Progress events, then the translation."""
        ...

    def summarize(self, request: SummarizeRequest) -> Iterator[SummarizeProgress | Summary]:
        """Progress events, then the summary."""
        ...

    def close(self) -> None: ...


def discover_registry(settings: Settings) -> ModelRegistry:
    """The models available in-process (tests replace this)."""
    return ModelRegistry.discover(settings)


def _request(
    messages: list[dict], model: str | None, temperature: float | None, max_tokens: int | None
) -> ChatCompletionRequest:
    try:
        return ChatCompletionRequest.model_validate(
            {"model": model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens, "stream": True}
        )
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidRequest(f"invalid request: {details}") from exc


_DONE = object()
_TRANSLATE_EVENT: TypeAdapter[TranslateProgress | Translation] = TypeAdapter(
    Annotated[TranslateProgress | Translation, Field(discriminator="object")]
)
_SUMMARIZE_EVENT: TypeAdapter[SummarizeProgress | Summary] = TypeAdapter(
    Annotated[SummarizeProgress | Summary, Field(discriminator="object")]
)


class LocalBackend:
    """The services of one ``Container`` in this process, on one event loop that lives in a background thread.

    It acts as ``PERSONAL``: the operator on their own machine.

        Engines keep worker threads and asyncio objects bound to the loop that first used them, so
        every call runs on the same loop; async streams are bridged to plain iterators.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or cli_settings()
        self.container = Container(settings, discover_registry(settings))
        self.registry = self.container.registry
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def models(self) -> list[ModelRow]:
        default = self.registry.default_id
        return [
            ModelRow(spec.id, spec.context_length, spec.source, spec.description, spec.id == default)
            for spec in self.registry.list()
        ]

    def problems(self) -> dict[str, str]:
        return self.registry.problems

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name="causerie-cli-loop", daemon=True)
            self._thread.start()
            self._loop = loop
        return self._loop

    def _iterate(self, items_of: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
        """The items of an async stream, as a plain iterator (run on this backend's loop)."""
        items: queue.Queue[Any] = queue.Queue()

        async def pump() -> None:
            async for item in items_of():
                items.put(item)

        future = asyncio.run_coroutine_threadsafe(pump(), self._ensure_loop())
        future.add_done_callback(lambda _: items.put(_DONE))
        try:
            while (item := items.get()) is not _DONE:
                yield item
            future.result()  # raises what the service raised
        finally:
            future.cancel()  # a consumer that stops early (Ctrl-C, break) frees the engine slot

    def _call(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run one service call on this backend's loop (where its engines live) and wait for it."""
        future = asyncio.run_coroutine_threadsafe(work(), self._ensure_loop())
        try:
            return future.result()
        finally:
            future.cancel()

    def stream_chat(
        self, messages: list[dict], *, model: str | None, temperature: float | None, max_tokens: int | None
    ) -> Iterator[str]:
        request = _request(messages, model, temperature, max_tokens)
        chat = self.container.chat

        async def pieces() -> AsyncIterator[str]:
            async for chunk in chat.stream(await chat.prepare(request, PERSONAL)):
                for choice in chunk.choices:
                    if choice.delta.content:
                        yield choice.delta.content

        return self._iterate(pieces)

    def create_conversation(self, *, system: str | None, model: str | None) -> str:
        return self.container.conversations.create(PERSONAL, ConversationCreate(system_prompt=system, model=model)).id

    def stream_message(
        self, conversation_id: str, text: str, *, model: str | None, temperature: float | None, max_tokens: int | None
    ) -> Iterator[str]:
        replies = self.container.replies
        body = MessageCreate(content=text, model=model, temperature=temperature, max_tokens=max_tokens)

        async def pieces() -> AsyncIterator[str]:
            job = await replies.post(PERSONAL, conversation_id, body)
            async for event in job.events():
                if isinstance(event, DeltaEvent):
                    yield event.content
                elif isinstance(event, ErrorEvent):
                    raise CauserieError(event.error.message)

        return self._iterate(pieces)

    def code(self, operation: CodeOperation, request: BaseModel) -> dict[str, Any]:
        run = getattr(self.container.code, operation)
        return self._call(lambda: run(request, PERSONAL)).model_dump()

    def translate(self, request: TranslateRequest) -> Iterator[TranslateProgress | Translation]:
        service = self.container.translation

        async def events() -> AsyncIterator[TranslateProgress | Translation]:
            async for event in service.run(await service.prepare(request, PERSONAL)):
                yield event

        return self._iterate(events)

    def summarize(self, request: SummarizeRequest) -> Iterator[SummarizeProgress | Summary]:
        service = self.container.summarization

        async def events() -> AsyncIterator[SummarizeProgress | Summary]:
            async for event in service.run(await service.prepare(request, PERSONAL)):
                yield event

        return self._iterate(events)

    def close(self) -> None:
        try:
            if self._loop is not None:
                asyncio.run_coroutine_threadsafe(self.container.aclose(), self._loop).result(timeout=30)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._loop.close()
        self._loop = None


class RemoteBackend:
    """A running Causerie (or any OpenAI-compatible server) through the official ``openai`` SDK."""

    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = 600) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.client = openai.OpenAI(
            base_url=self.url + "/v1", api_key=api_key or "none", max_retries=0, timeout=timeout
        )
        self.conversations = RemoteConversations(self.url, api_key, timeout=timeout)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except openai.APIConnectionError as exc:  # includes timeouts
            raise BackendError(f"cannot reach the server at {self.url}: {exc.message}") from exc
        except openai.APIError as exc:
            raise sdk_error(exc) from exc

    def _default_id(self) -> str | None:
        """Causerie reports its default model on ``/health``; other servers may not."""
        try:
            response = httpx.get(self.url + "/health", timeout=10)
            value = response.json().get("default_model")
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None

    def models(self) -> list[ModelRow]:
        with self._errors():
            cards = list(self.client.models.list())
        default = self._default_id()
        return [
            ModelRow(
                id=card.id,
                context_length=getattr(card, "context_length", None),
                source=card.owned_by or "",
                description=getattr(card, "description", None) or "",
                default=card.id == default,
            )
            for card in cards
        ]

    def problems(self) -> dict[str, str]:
        return {}  # the HTTP API lists working models only

    def stream_chat(
        self, messages: list[dict], *, model: str | None, temperature: float | None, max_tokens: int | None
    ) -> Iterator[str]:
        with self._errors():
            # No model means the server's default: Causerie's API makes it optional, the SDK types it as required
            # (and the CLI's messages as its TypedDicts), so no overload matches and the stream's type is restated.
            stream = cast(
                "openai.Stream[ChatCompletionChunk]",
                self.client.chat.completions.create(
                    model=model or openai.omit,  # type: ignore[arg-type]
                    messages=messages,  # type: ignore[arg-type]
                    stream=True,
                    temperature=openai.omit if temperature is None else temperature,
                    max_tokens=openai.omit if max_tokens is None else max_tokens,
                ),
            )
            with stream:
                for chunk in stream:
                    for choice in chunk.choices:
                        if choice.delta and choice.delta.content:
                            yield choice.delta.content

    def create_conversation(self, *, system: str | None, model: str | None) -> str:
        return self.conversations.create(system=system, model=model)

    def stream_message(
        self, conversation_id: str, text: str, *, model: str | None, temperature: float | None, max_tokens: int | None
    ) -> Iterator[str]:
        return self.conversations.stream_message(
            conversation_id, text, model=model, temperature=temperature, max_tokens=max_tokens
        )

    def code(self, operation: CodeOperation, request: BaseModel) -> dict[str, Any]:
        body = request.model_dump(exclude_unset=True)
        with self._errors():
            return self.client.post(f"/code/{operation}", body=body, cast_to=httpx.Response).json()

    def translate(self, request: TranslateRequest) -> Iterator[TranslateProgress | Translation]:
        for event in self._stream_events("/v1/translate", request):
            yield _TRANSLATE_EVENT.validate_python(event)

    def summarize(self, request: SummarizeRequest) -> Iterator[SummarizeProgress | Summary]:
        for event in self._stream_events("/v1/summarize", request):
            yield _SUMMARIZE_EVENT.validate_python(event)

    def _stream_events(self, path: str, request: BaseModel) -> Iterator[dict[str, Any]]:
        """The JSON events of a streamed Causerie endpoint (``/v1/translate``…), errors as ``BackendError``."""
        headers = {"Authorization": f"Bearer {self.client.api_key}"}
        try:
            body = {**request.model_dump(exclude_none=True), "stream": True}
            with httpx.stream("POST", self.url + path, json=body, headers=headers, timeout=self.timeout) as response:
                if response.status_code != 200:
                    response.read()
                    raise response_error(response)
                for line in response.iter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    event = json.loads(line[len("data: ") :])
                    raise_for_event(event)
                    yield event
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach the server at {self.url}: {exc}") from exc

    def close(self) -> None:
        self.client.close()
        self.conversations.close()


def open_backend(server: str | None, api_key: str | None) -> Backend:
    """``RemoteBackend`` with ``--server``, else ``LocalBackend`` over the models of this machine's settings."""
    if server:
        return RemoteBackend(server, api_key)
    return LocalBackend()
