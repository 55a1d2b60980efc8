"""Legacy text completions (``/v1/completions``): raw prompts, no chat template."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from causerie.engine.base import Engine, GenerationChunk, GenerationFinish, GenerationRequest, TokenLogprob
from causerie.errors import InvalidRequest
from causerie.principal import Principal
from causerie.protocol.openai import (
    Completion,
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
    new_id,
    now,
)
from causerie.services.engines import EnginePool
from causerie.services.sampling import check_capabilities, check_context, count_prompt, sampling_params, usage
from causerie.services.tracing import record_reply, traced


@dataclass(frozen=True)
class PreparedCompletion:
    request: CompletionRequest
    model_id: str
    engine: Engine
    generations: list[GenerationRequest]
    prompt_tokens: int


class CompletionService:
    def __init__(self, pool: EnginePool) -> None:
        self.pool = pool

    async def prepare(self, request: CompletionRequest, principal: Principal) -> PreparedCompletion:
        if request.suffix:
            raise InvalidRequest("suffix (fill-in-the-middle) is not supported", param="suffix")
        spec = self.pool.resolve(request.model, principal)
        engine = await self.pool.get(spec)
        params = sampling_params(request, max_tokens=request.max_tokens, logprobs=request.logprobs)
        check_capabilities(engine, params)
        prompt_tokens = 0
        for prompt in request.prompt:
            count = await count_prompt(engine, prompt)
            check_context(engine, count, request.max_tokens, param="prompt")
            prompt_tokens += count
        generations = [GenerationRequest(prompt, params, affinity=request.user) for prompt in request.prompt]
        return PreparedCompletion(request, spec.id, engine, generations, prompt_tokens)

    async def _choices(
        self, prepared: PreparedCompletion
    ) -> AsyncIterator[tuple[int, GenerationChunk | GenerationFinish]]:
        """Events of every choice, in order: prompt-major, then n."""
        n = prepared.request.n
        for p, generation in enumerate(prepared.generations):
            for i in range(n):
                async for event in prepared.engine.generate(generation):
                    yield p * n + i, event

    @traced("completions")
    async def complete(self, prepared: PreparedCompletion) -> Completion:
        texts: dict[int, str] = {}
        logprobs: dict[int, CompletionLogprobs] = {}
        finishes: dict[int, GenerationFinish] = {}
        n = prepared.request.n
        async for index, event in self._choices(prepared):
            if isinstance(event, GenerationFinish):
                finishes[index] = event
                continue
            prompt = prepared.request.prompt[index // n] if prepared.request.echo else ""
            texts[index] = texts.get(index, prompt) + event.text
            if event.logprobs:
                _extend(
                    logprobs.setdefault(index, CompletionLogprobs()),
                    event.logprobs,
                    len(texts[index]) - len(event.text),
                )
        choices = [
            CompletionChoice(
                index=index,
                text=texts.get(index, prepared.request.prompt[index // n] if prepared.request.echo else ""),
                finish_reason=finish.reason,
                logprobs=logprobs.get(index) if prepared.request.logprobs is not None else None,
            )
            for index, finish in sorted(finishes.items())
        ]
        return Completion(
            id=new_id("cmpl"),
            created=now(),
            model=prepared.model_id,
            choices=choices,
            usage=usage(prepared.prompt_tokens, finishes.values()),
        )

    @traced("completions")
    async def stream(self, prepared: PreparedCompletion) -> AsyncIterator[Completion]:
        completion_id, created = new_id("cmpl"), now()
        finishes: list[GenerationFinish] = []
        n = prepared.request.n
        echoed: set[int] = set()
        async for index, event in self._choices(prepared):
            if isinstance(event, GenerationFinish):
                finishes.append(event)
                choice = CompletionChoice(index=index, text="", finish_reason=event.reason)
            else:
                text = event.text
                if prepared.request.echo and index not in echoed:
                    echoed.add(index)
                    text = prepared.request.prompt[index // n] + text
                lp = None
                if prepared.request.logprobs is not None:
                    lp = CompletionLogprobs()
                    _extend(lp, event.logprobs, 0)
                choice = CompletionChoice(index=index, text=text, finish_reason=None, logprobs=lp)
            yield Completion(id=completion_id, created=created, model=prepared.model_id, choices=[choice])
        record_reply(usage(prepared.prompt_tokens, finishes))
        options = prepared.request.stream_options
        if options is not None and options.include_usage:
            yield Completion(
                id=completion_id,
                created=created,
                model=prepared.model_id,
                choices=[],
                usage=usage(prepared.prompt_tokens, finishes),
            )


def _extend(target: CompletionLogprobs, items: tuple[TokenLogprob, ...], offset: int) -> None:
    for item in items:
        target.tokens.append(item.token)
        target.token_logprobs.append(item.logprob)
        target.top_logprobs.append({t.token: t.logprob for t in item.top})
        target.text_offset.append(offset)
        offset += len(item.token)
