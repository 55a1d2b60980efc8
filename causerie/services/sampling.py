"""Pieces shared by chat and text completions: sampling parameters, context checks, usage."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from causerie.engine.base import Engine, GenerationFinish, SamplingParams, TokenLogprob
from causerie.errors import ContextLengthExceeded, InvalidRequest
from causerie.protocol.openai import PromptTokensDetails, SamplingFields, TokenLogprobOut, TopLogprobOut, Usage


async def count_prompt(engine: Engine, text: str, *, add_bos: bool = True) -> int:
    """``engine.count_tokens`` on a worker thread: megabytes take seconds, and the event loop keeps serving."""
    return await asyncio.to_thread(engine.count_tokens, text, add_bos=add_bos)


def check_context(engine: Engine, prompt_tokens: int, max_tokens: int | None, *, param: str) -> None:
    """Refuse prompts that leave no room, like OpenAI, with the numbers."""
    limit = engine.context_length
    if prompt_tokens >= limit:
        raise ContextLengthExceeded(
            f"This model's maximum context length is {limit} tokens. However, your {param} "
            f"resulted in {prompt_tokens} tokens. Please reduce the length of the {param}.",
            param=param,
        )
    if max_tokens is not None and prompt_tokens + max_tokens > limit:
        raise ContextLengthExceeded(
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{prompt_tokens + max_tokens} tokens ({prompt_tokens} in the {param}, {max_tokens} in the "
            "completion). Please reduce the length of the messages or completion.",
            param=param,
        )


def check_capabilities(engine: Engine, params: SamplingParams) -> None:
    """Refuse what the engine cannot honour instead of silently ignoring it."""
    if params.grammar is not None and not engine.capabilities.grammar:
        raise InvalidRequest(f"model '{engine.model_id}' does not support structured output", param="response_format")
    if params.logprobs is not None and not engine.capabilities.logprobs:
        raise InvalidRequest(f"model '{engine.model_id}' does not support logprobs", param="logprobs")


def sampling_params(
    request: SamplingFields,
    *,
    max_tokens: int | None,
    logprobs: int | None = None,
) -> SamplingParams:
    stops = list(request.stop or [])  # normalised to a list by the request model
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        stop=tuple(dict.fromkeys(stops)),
        seed=request.seed,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
        logprobs=logprobs,
    )


def usage(prompt_tokens: int, finishes: Iterable[GenerationFinish]) -> Usage:
    finishes = list(finishes)
    completion = sum(f.completion_tokens for f in finishes)
    cached = min((f.cached_tokens for f in finishes), default=0)
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion,
        total_tokens=prompt_tokens + completion,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cached),
    )


def logprobs_out(items: Iterable[TokenLogprob]) -> list[TokenLogprobOut]:
    return [
        TokenLogprobOut(
            token=item.token,
            logprob=item.logprob,
            bytes=list(item.bytes),
            top_logprobs=[TopLogprobOut(token=t.token, logprob=t.logprob, bytes=list(t.bytes)) for t in item.top],
        )
        for item in items
    ]
