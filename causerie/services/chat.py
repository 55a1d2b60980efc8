"""Chat completions: prompt rendering, context checks, tools, structured output, streaming.

A reply runs as a stream of ``reply_stream`` events per choice; the language policy (``consistency``), when
the request is checked, wraps that stream. Streaming sends the events as chunks; ``complete`` collects them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field, replace

from causerie.engine.base import Engine, FinishReason, GenerationFinish
from causerie.principal import Principal
from causerie.protocol.openai import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatDelta,
    ChatMessage,
    ChoiceLogprobs,
    FunctionCall,
    NamedToolChoice,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
    new_id,
    now,
)
from causerie.services.chat_format import (
    could_be_tool_call,
    parse_tool_calls,
    tool_call_from_forced_output,
)
from causerie.services.chat_prompt import EngineRequest, prepare_prompt, run
from causerie.services.consistency import LanguagePlan, LanguagePolicy, merge_reports
from causerie.services.engines import EnginePool
from causerie.services.locales import apply_locale
from causerie.services.reply_stream import ChoiceEnd, ChoiceFinish, Content, ReplyStream, collect
from causerie.services.routing import routing_language
from causerie.services.sampling import (
    check_capabilities,
    check_context,
    logprobs_out,
    sampling_params,
    usage,
)
from causerie.services.tracing import record_reply, traced


@dataclass(frozen=True)
class PreparedChat:
    """A validated request, ready to run: errors surface here, before any streaming starts."""

    request: ChatCompletionRequest
    principal: Principal
    """Who asked: a correction (translation) runs for them too."""
    model_id: str
    engine: Engine
    generation: EngineRequest
    prompt_tokens: int
    tools: list[Tool] = field(default_factory=list)
    """Tools whose calls Causerie parses from the output (none on a chat engine, which parses its own)."""
    forced_tool_call: bool = False
    native: bool = False
    """The engine took the messages themselves (``chat_prompt``); its usage counts the prompt exactly."""
    language: LanguagePlan | None = None
    """The language replies must be in; None when not checked (tools, JSON, unclear, disabled, code)."""


class _ChoiceState:
    """Decides what of one choice's output is content and what is a tool call."""

    def __init__(self, prepared: PreparedChat) -> None:
        self.tools = prepared.tools
        self.forced = prepared.forced_tool_call
        self.held = ""
        self.holding = bool(self.tools)

    def feed(self, text: str) -> str:
        """Content that can be shown now."""
        if not self.holding:
            return text
        self.held += text
        if self.forced or could_be_tool_call(self.held):
            return ""
        self.holding, released, self.held = False, self.held, ""
        return released

    def finish(self, end: GenerationFinish) -> tuple[str, list[ToolCall], ChoiceFinish]:
        """(content not yet shown, tool calls, finish reason)."""
        reason: FinishReason = end.reason
        if end.tool_calls:  # a chat engine parsed them itself
            calls = [
                ToolCall(id=c.id, function=FunctionCall(name=c.name, arguments=c.arguments)) for c in end.tool_calls
            ]
            return self.held, calls, "tool_calls"
        if not self.held:
            return "", [], reason
        if self.forced:
            call = tool_call_from_forced_output(self.held, self.tools)
            calls = [call] if call else []
            tail = ""
        else:
            text, calls = parse_tool_calls(self.held, self.tools)
            tail = text or ""
        return tail, calls, "tool_calls" if calls else reason


class ChatService:
    """Prepares a chat and runs it; a ``LanguagePolicy``, when given, wraps the replies users read."""

    def __init__(self, pool: EnginePool, *, language: LanguagePolicy | None = None) -> None:
        self.pool = pool
        self.language = language

    async def prepare(
        self,
        request: ChatCompletionRequest,
        principal: Principal,
        *,
        check_language: bool = True,
        affinity: str | None = None,
    ) -> PreparedChat:
        """Validate and render ``request`` (a model ``principal`` may use); ``check_language=False`` for replies no
        user reads as prose (code).

        ``affinity`` (a conversation id; else the request's ``user``) keeps related requests on one replica.
        """
        spec = self.pool.resolve(request.model, principal, language=routing_language(request))
        engine = await self.pool.get(spec)
        tools = (request.tools or []) if request.tool_choice != "none" else []
        forced = _forced_tools(request, tools)
        messages = apply_locale(request.messages, request.locale or self.pool.settings.default_locale)
        prompt = await prepare_prompt(
            engine,
            messages,
            tools=tools,
            tool_choice=request.tool_choice,
            forced=forced,
            response_format=request.response_format,
        )
        check_context(engine, prompt.tokens, request.completion_limit, param="messages")
        params = sampling_params(
            request,
            max_tokens=request.completion_limit,
            logprobs=(request.top_logprobs or 0) if request.logprobs else None,
        )
        generation = prompt.request(params, affinity=affinity or request.user)
        check_capabilities(engine, generation.params)
        policy = self.language if check_language else None
        return PreparedChat(
            request=request,
            principal=principal,
            model_id=spec.id,
            engine=engine,
            generation=generation,
            prompt_tokens=prompt.tokens,
            tools=[] if prompt.native else forced or tools,
            forced_tool_call=bool(forced) and not prompt.native,
            native=prompt.native,
            language=policy.plan(request) if policy is not None else None,
        )

    def reply(self, prepared: PreparedChat) -> ReplyStream:
        """One choice of the reply, with the language policy applied when the request is checked."""
        if prepared.language is None or self.language is None:
            return self._generate(prepared)
        return self.language.apply(
            prepared.language,
            self._generate(prepared),
            retry=lambda messages: self._asked_again(prepared, messages),
            messages=prepared.request.messages,
            model=prepared.model_id,
            principal=prepared.principal,
        )

    async def _generate(self, prepared: PreparedChat) -> ReplyStream:
        """The engine's output for one choice: content pieces (tool calls held back), then the end."""
        state = _ChoiceState(prepared)
        finish: GenerationFinish | None = None
        async with aclosing(run(prepared.engine, prepared.generation)) as events:
            async for event in events:
                if isinstance(event, GenerationFinish):
                    finish = event
                    break
                shown = state.feed(event.text)
                logprobs = tuple(logprobs_out(event.logprobs)) if prepared.request.logprobs else ()
                if shown or logprobs:
                    yield Content(shown, logprobs)
        assert finish is not None  # the engine contract ends every generation with one
        tail, calls, reason = state.finish(finish)
        if tail:
            yield Content(tail)
        yield ChoiceEnd(reason, tuple(calls), (finish,))

    async def _asked_again(self, prepared: PreparedChat, messages: list[ChatMessage]) -> ReplyStream:
        """The same request with other ``messages`` (a policy's retry); its prompt counts as extra usage."""
        again = await self.prepare(
            prepared.request.model_copy(update={"messages": messages}),
            prepared.principal,
            check_language=False,
            affinity=prepared.generation.affinity,
        )
        async with aclosing(self._generate(again)) as events:
            async for event in events:
                if isinstance(event, ChoiceEnd):
                    event = replace(event, extra_prompt_tokens=event.extra_prompt_tokens + again.prompt_tokens)
                yield event

    @traced("chat.completions")
    async def complete(self, prepared: PreparedChat) -> ChatCompletion:
        choices: list[ChatChoice] = []
        ends: list[ChoiceEnd] = []
        for index in range(prepared.request.n):
            reply = await collect(self.reply(prepared))
            calls = list(reply.end.tool_calls)
            ends.append(reply.end)
            choices.append(
                ChatChoice(
                    index=index,
                    message=AssistantMessage(
                        content=reply.content or (None if calls else ""), tool_calls=calls or None
                    ),
                    finish_reason=reply.end.reason,
                    logprobs=ChoiceLogprobs(content=reply.logprobs) if prepared.request.logprobs else None,
                )
            )
        return ChatCompletion(
            id=new_id("chatcmpl"),
            created=now(),
            model=prepared.model_id,
            choices=choices,
            usage=reply_usage(prepared, ends),
            causerie=merge_reports([end.language for end in ends]),
        )

    @traced("chat.completions")
    async def stream(self, prepared: PreparedChat) -> AsyncGenerator[ChatCompletionChunk, None]:
        completion_id, created = new_id("chatcmpl"), now()
        want_logprobs = prepared.request.logprobs

        def chunk(
            index: int, delta: ChatDelta, *, finish: ChoiceFinish | None = None, logprobs: ChoiceLogprobs | None = None
        ) -> ChatCompletionChunk:
            choice = ChatChunkChoice(index=index, delta=delta, finish_reason=finish, logprobs=logprobs)
            return ChatCompletionChunk(id=completion_id, created=created, model=prepared.model_id, choices=[choice])

        ends: list[ChoiceEnd] = []
        for index in range(prepared.request.n):
            yield chunk(index, ChatDelta(role="assistant", content=""))
            async with aclosing(self.reply(prepared)) as events:  # a client that goes away stops the generation
                async for event in events:
                    if isinstance(event, Content):
                        lp = ChoiceLogprobs(content=list(event.logprobs)) if want_logprobs else None
                        yield chunk(index, ChatDelta(content=event.text), logprobs=lp)
                        continue
                    ends.append(event)
                    if event.tool_calls:
                        deltas = [
                            ToolCallDelta(index=i, id=call.id, type="function", function=call.function)
                            for i, call in enumerate(event.tool_calls)
                        ]
                        yield chunk(index, ChatDelta(tool_calls=deltas))
                    final = chunk(index, ChatDelta(), finish=event.reason)
                    if index == prepared.request.n - 1:
                        final.causerie = merge_reports([end.language for end in ends])
                    yield final
        record_reply(reply_usage(prepared, ends), merge_reports([end.language for end in ends]))
        options = prepared.request.stream_options
        if options is not None and options.include_usage:
            yield ChatCompletionChunk(
                id=completion_id,
                created=created,
                model=prepared.model_id,
                choices=[],
                usage=reply_usage(prepared, ends),
            )


def reply_usage(prepared: PreparedChat, ends: list[ChoiceEnd]) -> Usage:
    """Usage over every generation of a request: its prompt once, retries and translations included.

    A chat engine's own count of the prompt (the first generation's) replaces Causerie's estimate.
    """
    first = next((end.generations[0] for end in ends if end.generations), None)
    counted = first.prompt_tokens if prepared.native and first is not None else prepared.prompt_tokens
    prompt = counted + sum(end.extra_prompt_tokens for end in ends)
    result = usage(prompt, [finish for end in ends for finish in end.generations])
    result.completion_tokens += sum(end.extra_completion_tokens for end in ends)
    result.total_tokens = result.prompt_tokens + result.completion_tokens
    return result


def _forced_tools(request: ChatCompletionRequest, tools: list[Tool]) -> list[Tool]:
    if isinstance(request.tool_choice, NamedToolChoice):
        return [t for t in tools if t.function.name == request.tool_choice.function.name]
    if request.tool_choice == "required":
        return list(tools)
    return []
