"""Chat completions: prompt rendering, context checks, tools, structured output, streaming."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from causerie.engine.base import Engine, GenerationChunk, GenerationFinish, GenerationRequest
from causerie.protocol.openai import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatDelta,
    ChoiceLogprobs,
    NamedToolChoice,
    TokenLogprobOut,
    Tool,
    ToolCall,
    ToolCallDelta,
    new_id,
    now,
)
from causerie.services.chat_format import (
    ChatFormatter,
    could_be_tool_call,
    parse_tool_calls,
    tool_call_from_forced_output,
)
from causerie.services.engines import EnginePool
from causerie.services.locales import apply_locale
from causerie.services.routing import routing_language
from causerie.services.sampling import check_capabilities, check_context, logprobs_out, sampling_params, usage
from causerie.services.structured import response_format_grammar, tool_call_grammar


@dataclass(frozen=True)
class PreparedChat:
    """A validated request, ready to run: errors surface here, before any streaming starts."""

    request: ChatCompletionRequest
    model_id: str
    engine: Engine
    generation: GenerationRequest
    prompt_tokens: int
    tools: list[Tool] = field(default_factory=list)
    forced_tool_call: bool = False


class _ChoiceState:
    """Accumulates one choice's output and decides what is content and what is a tool call."""

    def __init__(self, prepared: PreparedChat) -> None:
        self.tools = prepared.tools
        self.forced = prepared.forced_tool_call
        self.held = ""
        self.holding = bool(self.tools)
        self.content = ""

    def feed(self, text: str) -> str:
        """Content that can be shown now."""
        if not self.holding:
            self.content += text
            return text
        self.held += text
        if self.forced or could_be_tool_call(self.held):
            return ""
        self.holding, released, self.held = False, self.held, ""
        self.content += released
        return released

    def finish(self, reason: str) -> tuple[str, list[ToolCall], str]:
        """(content not yet shown, tool calls, finish reason)."""
        if not self.held:
            return "", [], reason
        if self.forced:
            call = tool_call_from_forced_output(self.held, self.tools)
            calls = [call] if call else []
            tail = ""
        else:
            tail, calls = parse_tool_calls(self.held, self.tools)
            tail = tail or ""
        self.content += tail
        return tail, calls, "tool_calls" if calls else reason


class ChatService:
    def __init__(self, pool: EnginePool) -> None:
        self.pool = pool

    async def prepare(self, request: ChatCompletionRequest) -> PreparedChat:
        spec = self.pool.registry.resolve(request.model, language=routing_language(request))
        engine = await self.pool.get(spec)
        tools = (request.tools or []) if request.tool_choice != "none" else []
        forced = _forced_tools(request, tools)
        formatter = ChatFormatter(engine.chat_template, engine.bos_token, engine.eos_token)
        messages = apply_locale(request.messages, request.locale or self.pool.settings.default_locale)
        rendered = formatter.render(messages, tools or None, force_tool_call=bool(forced))
        prompt_tokens = engine.count_tokens(rendered.text, add_bos=True)
        check_context(engine, prompt_tokens, request.completion_limit, param="messages")
        grammar = tool_call_grammar(forced) if forced else response_format_grammar(request.response_format)
        params = sampling_params(
            request,
            max_tokens=request.completion_limit,
            extra_stops=rendered.stop,
            grammar=grammar,
            logprobs=(request.top_logprobs or 0) if request.logprobs else None,
        )
        check_capabilities(engine, params)
        return PreparedChat(
            request=request,
            model_id=spec.id,
            engine=engine,
            generation=GenerationRequest(rendered.text, params),
            prompt_tokens=prompt_tokens,
            tools=forced or tools,
            forced_tool_call=bool(forced),
        )

    async def complete(self, prepared: PreparedChat) -> ChatCompletion:
        choices: list[ChatChoice] = []
        finishes: list[GenerationFinish] = []
        for index in range(prepared.request.n):
            state = _ChoiceState(prepared)
            logprobs: list[TokenLogprobOut] = []
            async for event in prepared.engine.generate(prepared.generation):
                if isinstance(event, GenerationChunk):
                    state.feed(event.text)
                    logprobs.extend(logprobs_out(event.logprobs))
                else:
                    finishes.append(event)
            _, calls, reason = state.finish(finishes[-1].reason)
            choices.append(
                ChatChoice(
                    index=index,
                    message=AssistantMessage(content=state.content or (None if calls else ""), tool_calls=calls or None),
                    finish_reason=reason,  # type: ignore[arg-type]
                    logprobs=ChoiceLogprobs(content=logprobs) if prepared.request.logprobs else None,
                )
            )
        return ChatCompletion(
            id=new_id("chatcmpl"),
            created=now(),
            model=prepared.model_id,
            choices=choices,
            usage=usage(prepared.prompt_tokens, finishes),
        )

    async def stream(self, prepared: PreparedChat) -> AsyncIterator[ChatCompletionChunk]:
        completion_id, created = new_id("chatcmpl"), now()

        def chunk(index: int, delta: ChatDelta, **fields: object) -> ChatCompletionChunk:
            choice = ChatChunkChoice(index=index, delta=delta, **fields)  # type: ignore[arg-type]
            return ChatCompletionChunk(id=completion_id, created=created, model=prepared.model_id, choices=[choice])

        finishes: list[GenerationFinish] = []
        want_logprobs = prepared.request.logprobs
        for index in range(prepared.request.n):
            state = _ChoiceState(prepared)
            yield chunk(index, ChatDelta(role="assistant", content=""))
            async for event in prepared.engine.generate(prepared.generation):
                if isinstance(event, GenerationFinish):
                    finishes.append(event)
                    break
                shown = state.feed(event.text)
                if shown or (want_logprobs and event.logprobs):
                    lp = ChoiceLogprobs(content=logprobs_out(event.logprobs)) if want_logprobs else None
                    yield chunk(index, ChatDelta(content=shown), logprobs=lp)
            tail, calls, reason = state.finish(finishes[-1].reason)
            if tail:
                yield chunk(index, ChatDelta(content=tail))
            if calls:
                deltas = [
                    ToolCallDelta(index=i, id=call.id, type="function", function=call.function)
                    for i, call in enumerate(calls)
                ]
                yield chunk(index, ChatDelta(tool_calls=deltas))
            yield chunk(index, ChatDelta(), finish_reason=reason)
        options = prepared.request.stream_options
        if options is not None and options.include_usage:
            yield ChatCompletionChunk(
                id=completion_id,
                created=created,
                model=prepared.model_id,
                choices=[],
                usage=usage(prepared.prompt_tokens, finishes),
            )


def _forced_tools(request: ChatCompletionRequest, tools: list[Tool]) -> list[Tool]:
    if isinstance(request.tool_choice, NamedToolChoice):
        return [t for t in tools if t.function.name == request.tool_choice.function.name]
    if request.tool_choice == "required":
        return list(tools)
    return []
