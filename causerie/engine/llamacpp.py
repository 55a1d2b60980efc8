"""In-process llama.cpp engine: several sequence slots over one GGUF, with prefix reuse.

Each slot is a llama.cpp context (weights are memory-mapped and shared). A new request goes to
the free slot whose KV cache shares the longest prefix with its prompt, so the next turn of a
conversation only processes what is new. Sequences advance step by step in a ``SlotScheduler``:
prompt processing in chunks, then one sampled token per step.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import random
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import Llama, LlamaGrammar

from causerie.engine.base import (
    EngineCapabilities,
    FinishReason,
    GenerationChunk,
    GenerationEvent,
    GenerationFinish,
    GenerationRequest,
    SamplingParams,
    TokenLogprob,
    TopLogprob,
)
from causerie.engine.observer import CacheUsage
from causerie.engine.scheduler import SlotScheduler
from causerie.engine.text import StopMatcher, Utf8Assembler
from causerie.errors import ContextLengthExceeded, InvalidRequest

PROMPT_CHUNK = 128
"""Prompt tokens processed per scheduling step, so a long prompt does not starve other streams."""

_COMPUTE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="causerie-llama-compute")
"""Every model's forward passes run on this one thread. ggml parallelizes with OpenMP, and libgomp keeps
a team of threads per calling thread; once the teams of several models outnumber the cores, libgomp
throttles its spin-waiting for all of them, which halved decode speed as soon as a second model had run."""


@dataclass(frozen=True)
class _Payload:
    request: GenerationRequest
    tokens: list[int]


class LlamaCppEngine:
    """A GGUF model served by llama.cpp in this process."""

    capabilities = EngineCapabilities(grammar=True, logprobs=True, seed=True)

    def __init__(
        self,
        model_id: str,
        path: Path,
        *,
        context_length: int = 4096,
        parallel: int = 4,
        threads: int | None = None,
    ) -> None:
        self.model_id = model_id
        self.path = Path(path)
        n_threads = threads or os.cpu_count() or 1
        self._slots = [
            Llama(
                model_path=str(self.path),
                n_ctx=context_length,
                n_batch=256,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                verbose=False,
            )
            for _ in range(parallel)
        ]
        first = self._slots[0]
        self._n_ctx = min(context_length, first._model.n_ctx_train())
        meta = first.metadata
        self._chat_template = meta.get("tokenizer.chat_template")
        self._bos_token = _token_text(first, first.token_bos())
        self._eos_token = _token_text(first, first.token_eos())
        self._adds_bos = first._model.add_bos_token()
        self._document_start = next((t for t in (first.token_bos(), first.token_eos()) if t >= 0), None)
        """What an empty prompt becomes (OpenAI: "as if from the beginning of a new document"): BOS, else EOS."""
        self._scheduler: SlotScheduler[Llama, _Payload] = SlotScheduler(
            self._slots, self._start, _cached_prefix, name=model_id
        )

    # -- Engine protocol ---------------------------------------------------------------

    @property
    def context_length(self) -> int:
        return self._n_ctx

    @property
    def chat_template(self) -> str | None:
        return self._chat_template

    @property
    def bos_token(self) -> str:
        return self._bos_token

    @property
    def eos_token(self) -> str:
        return self._eos_token

    def count_tokens(self, text: str, *, add_bos: bool = True) -> int:
        return len(self._tokenize(text, add_bos))

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        payload = await asyncio.to_thread(self._payload, request)  # megabytes take seconds to tokenize
        async for event in self._scheduler.run(payload, request.observer):
            yield event

    async def aclose(self) -> None:
        self._scheduler.close()
        for slot in self._slots:
            slot.close()

    def load(self) -> tuple[int, int]:
        return self._scheduler.load()

    def cache_usage(self) -> CacheUsage:
        """Tokens in the slots' KV caches against their combined context."""
        return CacheUsage(sum(slot.n_tokens for slot in self._slots), self._n_ctx * len(self._slots))

    # -- internals ----------------------------------------------------------------------

    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        """The prompt's tokens, never none: llama.cpp cannot sample without evaluating at least one."""
        first = self._slots[0]
        tokens = first.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if add_bos and self._adds_bos and (not tokens or tokens[0] != first.token_bos()):
            tokens.insert(0, first.token_bos())
        if not tokens:
            if self._document_start is None:
                raise InvalidRequest(f"model '{self.model_id}' cannot complete an empty prompt", param="prompt")
            tokens = [self._document_start]
        return tokens

    def _payload(self, request: GenerationRequest) -> _Payload:
        """Everything that can be refused, refused before the request queues for a slot."""
        tokens = self._tokenize(request.prompt, request.add_bos)
        if len(tokens) >= self._n_ctx:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {self._n_ctx} tokens, but the prompt is {len(tokens)} tokens.",
                param="messages",
            )
        if request.params.grammar is not None:
            _check_grammar(self._slots[0], request.params.grammar)
        return _Payload(request, tokens)

    def _start(self, slot: Llama, payload: _Payload) -> _LlamaSequence:
        return _LlamaSequence(slot, payload.tokens, payload.request.params, self._n_ctx)


def _piece(llm: Llama, token: int, *, special: bool = False) -> bytes:
    """The bytes of one token (llama-cpp-python's own helper pads them to 32 bytes)."""
    size = 64
    while True:
        buffer = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_token_to_piece(llm._model.vocab, token, buffer, size, 0, special)
        if n >= 0:
            return buffer.raw[:n]
        size = -n


def _token_text(llm: Llama, token: int) -> str:
    return _piece(llm, token, special=True).decode("utf-8", errors="replace") if token >= 0 else ""


def _cached_prefix(slot: Llama, payload: _Payload) -> int:
    return Llama.longest_token_prefix(slot._input_ids.tolist(), payload.tokens)


def _check_grammar(llm: Llama, grammar: str) -> None:
    """Refuse a grammar llama.cpp's parser rejects: a sampler chain given the NULL it returns then crashes."""
    sampler = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, grammar.encode("utf-8"), b"root")
    if not sampler:
        raise InvalidRequest("llama.cpp cannot parse the grammar (from an unsupported JSON schema?)", param="grammar")
    llama_cpp.llama_sampler_free(sampler)


class _LlamaSequence:
    """One generation's state machine on one slot."""

    def __init__(self, llm: Llama, prompt: list[int], params: SamplingParams, n_ctx: int) -> None:
        if not prompt:  # never from the engine's tokenizer: sampling without logits would abort the process
            raise ValueError("a sequence needs at least one prompt token")
        self.llm = llm
        self.params = params
        self.n_ctx = n_ctx
        self.prompt_tokens = len(prompt)
        reuse = Llama.longest_token_prefix(llm._input_ids.tolist(), prompt)
        reuse = min(reuse, len(prompt) - 1)  # at least one token must be evaluated for fresh logits
        if reuse > 0 and llm._ctx.kv_cache_seq_rm(-1, reuse, -1):
            llm.n_tokens = reuse
        else:
            reuse = 0
            llm.reset()
        self.cached_tokens = reuse
        self.pending = prompt[reuse:]
        self.completion_tokens = 0
        self.utf8 = Utf8Assembler()
        self.stops = StopMatcher(params.stop)
        self.sampler = self._make_sampler()
        self.vocab = llm._model.vocab

    def _make_sampler(self):  # llama_cpp internals: the pinned version's sampler chain
        p = self.params
        # llama.cpp takes a uint32 and reads 0xFFFFFFFF as "random": fold every int into the other values
        self.llm.set_seed(p.seed % 0xFFFFFFFF if p.seed is not None else random.randrange(2**31))
        grammar = LlamaGrammar.from_string(p.grammar, verbose=False) if p.grammar is not None else None
        return self.llm._init_sampler(
            top_k=40,
            top_p=p.top_p,
            min_p=0.05,
            temp=p.temperature,
            frequency_penalty=p.frequency_penalty,
            presence_penalty=p.presence_penalty,
            grammar=grammar,
        )

    def step(self) -> tuple[list[GenerationEvent], bool]:
        if self.pending:
            chunk, self.pending = self.pending[:PROMPT_CHUNK], self.pending[PROMPT_CHUNK:]
            _COMPUTE.submit(self.llm.eval, chunk).result()
            if self.pending:
                return [], False
        return self._sample()

    def _sample(self) -> tuple[list[GenerationEvent], bool]:
        logprob_source = self._logprobs_now() if self.params.logprobs is not None else None
        token = self.sampler.sample(self.llm._ctx, -1)
        if llama_cpp.llama_vocab_is_eog(self.vocab, token):
            return self._finish("stop"), True
        self.completion_tokens += 1
        piece = _piece(self.llm, token)
        text = self.stops.feed(self.utf8.feed(piece))
        logprobs = (self._token_logprob(logprob_source, token, piece),) if logprob_source is not None else ()
        events: list[GenerationEvent] = [GenerationChunk(text, logprobs)] if text or logprobs else []
        if self.stops.stopped:
            return events + self._finish("stop", flush=False), True
        limit = self.params.max_tokens
        if (limit is not None and self.completion_tokens >= limit) or self.llm.n_tokens + 1 >= self.n_ctx:
            return events + self._finish("length"), True
        self.pending = [token]
        return events, False

    def _finish(self, reason: FinishReason, *, flush: bool = True) -> list[GenerationEvent]:
        events: list[GenerationEvent] = []
        if flush:
            tail = self.stops.feed(self.utf8.flush()) + self.stops.flush()
            if tail:
                events.append(GenerationChunk(tail))
        events.append(
            GenerationFinish(
                reason=reason,
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
                cached_tokens=self.cached_tokens,
            )
        )
        return events

    def _logprobs_now(self) -> np.ndarray:
        n_vocab = self.llm.n_vocab()
        logits = np.ctypeslib.as_array(self.llm._ctx.get_logits_ith(-1), shape=(n_vocab,)).astype(np.float64)
        shifted = logits - logits.max()
        return shifted - np.log(np.exp(shifted).sum())

    def _token_logprob(self, logprobs: np.ndarray, token: int, piece: bytes) -> TokenLogprob:
        k = min(self.params.logprobs or 0, len(logprobs))
        top: tuple[TopLogprob, ...] = ()
        if k > 0:
            best = np.argpartition(-logprobs, k - 1)[:k]
            best = best[np.argsort(-logprobs[best])]
            top = tuple(self._entry(int(t), float(logprobs[t])) for t in best)
        return TokenLogprob(
            token=piece.decode("utf-8", errors="replace"),
            logprob=float(logprobs[token]),
            bytes=tuple(piece),
            top=top,
        )

    def _entry(self, token: int, logprob: float) -> TopLogprob:
        piece = _piece(self.llm, token)
        return TopLogprob(piece.decode("utf-8", errors="replace"), logprob, tuple(piece))
