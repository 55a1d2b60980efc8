"""The engine contract: a prompt and sampling parameters in, a stream of text chunks out.

Engines know nothing of Causerie's HTTP API or conversations. A caller renders the prompt,
then iterates ``Engine.generate``: zero or more ``GenerationChunk`` followed by exactly one
``GenerationFinish``. Breaking out of the iteration (or cancelling the task) stops the
generation and frees its capacity.

An engine that applies its own chat template (a remote OpenAI-compatible server) declares
``capabilities.chat`` and also implements ``ChatEngine.chat``: messages, tools and
``response_format`` in (plain JSON objects, as OpenAI's API has them), the same events out, its
``GenerationFinish`` carrying the tool calls the model made. Callers ask the capability, never
the type.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast, runtime_checkable

from causerie.engine.observer import UNOBSERVED, RequestObserver

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens. Defaults follow OpenAI's API."""

    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    grammar: str | None = None
    """A GBNF grammar the output must follow (JSON mode, forced tool calls)."""
    logprobs: int | None = None
    """None: no log-probabilities; k >= 0: the sampled token's and the k most likely alternatives'."""


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    """Fully rendered prompt text; special tokens written in it (e.g. ``<|im_start|>``) are parsed."""
    params: SamplingParams = field(default_factory=SamplingParams)
    add_bos: bool = True
    """Prepend the model's BOS token when the model wants one and the prompt does not already start with it."""
    affinity: str | None = None
    """Requests with the same key (a conversation, a user) should run where the previous ones did (prefix cache)."""
    observer: RequestObserver = field(default=UNOBSERVED, compare=False, repr=False)
    """Told when the request leaves the engine's wait queue (``engine.observer``)."""


JsonObject = Mapping[str, Any]


@dataclass(frozen=True)
class ChatGenerationRequest:
    """A chat for an engine that renders it itself (``capabilities.chat``); fields as OpenAI's API has them."""

    messages: tuple[JsonObject, ...]
    params: SamplingParams = field(default_factory=SamplingParams)
    tools: tuple[JsonObject, ...] = ()
    tool_choice: str | JsonObject | None = None
    response_format: JsonObject | None = None
    affinity: str | None = None


@dataclass(frozen=True)
class TopLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...]


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...]
    top: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True)
class GenerationChunk:
    text: str
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class GeneratedToolCall:
    id: str
    name: str
    arguments: str
    """JSON text, as the model wrote it."""


@dataclass(frozen=True)
class GenerationFinish:
    reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    """Prompt tokens whose KV cache was reused instead of recomputed."""
    tool_calls: tuple[GeneratedToolCall, ...] = ()
    """Tool calls a chat engine (``ChatEngine.chat``) parsed from its output; prompt engines leave it empty."""


GenerationEvent = GenerationChunk | GenerationFinish


@dataclass(frozen=True)
class EngineCapabilities:
    grammar: bool = True
    logprobs: bool = True
    seed: bool = True
    chat: bool = False
    """Takes chat messages (``ChatEngine.chat``) and applies its own template, tools and response_format."""


@runtime_checkable
class Engine(Protocol):
    """One loaded model that produces tokens."""

    model_id: str
    capabilities: EngineCapabilities

    @property
    def context_length(self) -> int:
        """Tokens one sequence can hold (prompt + completion)."""
        ...

    @property
    def chat_template(self) -> str | None:
        """The model's Jinja chat template, if it has one."""
        ...

    @property
    def bos_token(self) -> str: ...

    @property
    def eos_token(self) -> str: ...

    def count_tokens(self, text: str, *, add_bos: bool = True) -> int:
        """How many tokens ``text`` takes as a prompt (an empty one takes one: see ``generate``).

        Thread-safe and CPU-bound (seconds for megabytes): code on the event loop awaits
        ``services.sampling.count_prompt``, which calls it on a worker thread.
        """
        ...

    def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        """Stream chunks then one finish event; cancellation stops the work.

        The prompt is tokenized off the event loop. An empty prompt completes from the start of a
        document, as OpenAI's does: the model's BOS token, or its EOS for a model without one.
        """
        ...

    async def aclose(self) -> None:
        """Free the model's resources."""
        ...


@runtime_checkable
class ChatEngine(Engine, Protocol):
    """An engine with ``capabilities.chat``: it renders messages with its own template."""

    def count_chat_tokens(self, messages: tuple[JsonObject, ...], tools: tuple[JsonObject, ...] = ()) -> int:
        """Prompt tokens of this chat (an estimate where the engine cannot tell exactly; never less).

        Blocking, like ``count_tokens``: code on the event loop calls it on a worker thread.
        """
        ...

    def chat(self, request: ChatGenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        """As ``generate``, for messages; the finish event carries the tool calls the model made."""
        ...


def as_chat_engine(engine: Engine) -> ChatEngine | None:
    """``engine`` as a ``ChatEngine`` when it declares ``capabilities.chat``, else None (render the prompt)."""
    return cast(ChatEngine, engine) if engine.capabilities.chat else None
