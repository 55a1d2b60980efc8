"""One instruction-following call to a model: the building block of translate and summarize.

Messages are prepared for the engine (``chat_prompt``: the model's chat template, or the messages
themselves for a chat engine), checked against its context window, and generated greedily by
default so the same document gives the same result.
"""

from __future__ import annotations

from dataclasses import dataclass

from causerie.engine.base import Engine, GenerationChunk, SamplingParams
from causerie.principal import Principal
from causerie.protocol.openai import ChatMessage
from causerie.protocol.text import TextUsage
from causerie.services.chat_prompt import ChatPrompt, prepare_prompt, run
from causerie.services.engines import EnginePool
from causerie.services.sampling import check_context


@dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str


class Prompter:
    """Runs system + user prompts on one engine and counts what they cost."""

    def __init__(self, engine: Engine, model_id: str) -> None:
        self.engine = engine
        self.model_id = model_id

    @classmethod
    async def open(cls, pool: EnginePool, model: str | None, principal: Principal) -> Prompter:
        spec = pool.resolve(model, principal)
        return cls(await pool.get(spec), spec.id)

    @property
    def context_length(self) -> int:
        return self.engine.context_length

    def count(self, text: str) -> int:
        """Tokens ``text`` takes inside a prompt; seconds for megabytes, so the event loop awaits ``count_prompt``."""
        return self.engine.count_tokens(text, add_bos=False)

    async def overhead(self, system: str) -> int:
        """Tokens of a prompt with this system message and an empty user message."""
        return (await self._prompt(system, "")).tokens

    async def _prompt(self, system: str, user: str) -> ChatPrompt:
        messages = [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]
        return await prepare_prompt(self.engine, messages)

    async def reply(
        self,
        system: str,
        user: str,
        *,
        max_tokens: int,
        usage: TextUsage,
        param: str = "text",
        temperature: float = 0.0,
    ) -> Reply:
        """The model's answer to ``user`` under ``system``; the cost is added to ``usage``."""
        prompt = await self._prompt(system, user)
        max_tokens = max(1, min(max_tokens, self.engine.context_length - prompt.tokens - 1))
        check_context(self.engine, prompt.tokens, max_tokens, param=param)
        request = prompt.request(SamplingParams(max_tokens=max_tokens, temperature=temperature, seed=0))
        parts: list[str] = []
        reason, prompt_tokens, completion_tokens = "stop", prompt.tokens, 0
        async for event in run(self.engine, request):
            if isinstance(event, GenerationChunk):
                parts.append(event.text)
            else:
                reason, prompt_tokens, completion_tokens = event.reason, event.prompt_tokens, event.completion_tokens
        usage.add(prompt_tokens, completion_tokens)
        return Reply("".join(parts).strip(), reason)
