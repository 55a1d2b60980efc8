"""Chat completions: prompt rendering, context checks, tools, structured output, streaming, language policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field, replace

from causerie.engine.base import Engine, GenerationChunk, GenerationFinish, GenerationRequest
from causerie.language import detect, detect_language
from causerie.protocol.openai import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatDelta,
    ChoiceLogprobs,
    LanguageReport,
    NamedToolChoice,
    TokenLogprobOut,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
    new_id,
    now,
)
from causerie.protocol.text import TranslateRequest
from causerie.services.chat_format import (
    ChatFormatter,
    could_be_tool_call,
    parse_tool_calls,
    tool_call_from_forced_output,
)
from causerie.services.consistency import LanguagePlan, plan_for
from causerie.services.engines import EnginePool
from causerie.services.locales import apply_locale
from causerie.services.routing import routing_language
from causerie.services.sampling import (
    check_capabilities,
    check_context,
    count_prompt,
    logprobs_out,
    sampling_params,
    usage,
)
from causerie.services.structured import response_format_grammar, tool_call_grammar
from causerie.services.translate import TranslationService


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
    language: LanguagePlan | None = None
    """The language replies must be in; None when not checked (tools, JSON, unclear, disabled)."""


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
            text, calls = parse_tool_calls(self.held, self.tools)
            tail = text or ""
        self.content += tail
        return tail, calls, "tool_calls" if calls else reason


class ChatService:
    def __init__(self, pool: EnginePool, *, language_consistency: bool | None = None) -> None:
        self.pool = pool
        self.language_consistency = (
            pool.settings.language_consistency if language_consistency is None else language_consistency
        )

    async def prepare(self, request: ChatCompletionRequest) -> PreparedChat:
        spec = self.pool.registry.resolve(request.model, language=routing_language(request))
        engine = await self.pool.get(spec)
        tools = (request.tools or []) if request.tool_choice != "none" else []
        forced = _forced_tools(request, tools)
        formatter = ChatFormatter(engine.chat_template, engine.bos_token, engine.eos_token)
        messages = apply_locale(request.messages, request.locale or self.pool.settings.default_locale)
        rendered = formatter.render(messages, tools or None, force_tool_call=bool(forced))
        prompt_tokens = await count_prompt(engine, rendered.text)
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
            language=plan_for(request) if self.language_consistency else None,
        )

    async def _retry(self, prepared: PreparedChat) -> PreparedChat:
        """The same request with the firmer language instruction (see ``consistency``)."""
        assert prepared.language is not None
        messages = prepared.language.firmer(prepared.request.messages)
        retry = await self.prepare(prepared.request.model_copy(update={"messages": messages}))
        return replace(retry, language=prepared.language)

    async def _translate(self, text: str, prepared: PreparedChat, tally: _Tally) -> str:
        """``text`` translated into the user's language (code, URLs and markup kept)."""
        assert prepared.language is not None
        source = detect_language(text)
        if source is None:  # nothing left to tell the language by: keep the reply as it is
            return text
        result = await TranslationService(self.pool).translate(
            TranslateRequest(
                text=text, source_language=source, target_language=prepared.language.expected, model=prepared.model_id
            )
        )
        tally.extra_prompt += result.usage.prompt_tokens
        tally.extra_completion += result.usage.completion_tokens
        return result.text

    async def _complete_choice(self, prepared: PreparedChat, index: int, tally: _Tally) -> ChatChoice:
        state = _ChoiceState(prepared)
        logprobs: list[TokenLogprobOut] = []
        finish: GenerationFinish | None = None
        async for event in prepared.engine.generate(prepared.generation):
            if isinstance(event, GenerationChunk):
                state.feed(event.text)
                logprobs.extend(logprobs_out(event.logprobs))
            else:
                finish = event
        assert finish is not None  # the engine contract ends every generation with one
        tally.finishes.append(finish)
        _, calls, reason = state.finish(finish.reason)
        return ChatChoice(
            index=index,
            message=AssistantMessage(content=state.content or (None if calls else ""), tool_calls=calls or None),
            finish_reason=reason,  # type: ignore[arg-type]
            logprobs=ChoiceLogprobs(content=logprobs) if prepared.request.logprobs else None,
        )

    async def complete(self, prepared: PreparedChat) -> ChatCompletion:
        choices: list[ChatChoice] = []
        tally = _Tally(prepared)
        plan = prepared.language
        for index in range(prepared.request.n):
            choice = await self._complete_choice(prepared, index, tally)
            if plan is not None and not tally.judge(plan, choice.message.content or ""):
                tally.correct("retried")
                retry = await self._retry(prepared)
                tally.extra_prompt += retry.prompt_tokens
                choice = await self._complete_choice(retry, index, tally)
                if not tally.judge(plan, choice.message.content or ""):
                    tally.correct("translated")
                    choice.message.content = await self._translate(choice.message.content or "", prepared, tally)
            choices.append(choice)
        return ChatCompletion(
            id=new_id("chatcmpl"),
            created=now(),
            model=prepared.model_id,
            choices=choices,
            usage=tally.usage(),
            causerie=tally.report(),
        )

    async def stream(self, prepared: PreparedChat) -> AsyncIterator[ChatCompletionChunk]:
        completion_id, created = new_id("chatcmpl"), now()

        def chunk(index: int, delta: ChatDelta, **fields: object) -> ChatCompletionChunk:
            choice = ChatChunkChoice(index=index, delta=delta, **fields)  # type: ignore[arg-type]
            return ChatCompletionChunk(id=completion_id, created=created, model=prepared.model_id, choices=[choice])

        tally = _Tally(prepared)
        for index in range(prepared.request.n):
            yield chunk(index, ChatDelta(role="assistant", content=""))
            state = _ChoiceState(prepared)
            async for delta in self._stream_choice(prepared, tally):
                if isinstance(delta, _ChoiceState):
                    state = delta
                else:
                    yield chunk(index, ChatDelta(content=delta[0]), logprobs=delta[1])
            tail, calls, reason = state.finish(tally.finishes[-1].reason)
            if tail:
                yield chunk(index, ChatDelta(content=tail))
            if calls:
                deltas = [
                    ToolCallDelta(index=i, id=call.id, type="function", function=call.function)
                    for i, call in enumerate(calls)
                ]
                yield chunk(index, ChatDelta(tool_calls=deltas))
            final = chunk(index, ChatDelta(), finish_reason=reason)
            if index == prepared.request.n - 1:
                final.causerie = tally.report()
            yield final
        options = prepared.request.stream_options
        if options is not None and options.include_usage:
            yield ChatCompletionChunk(
                id=completion_id, created=created, model=prepared.model_id, choices=[], usage=tally.usage()
            )

    async def _stream_choice(
        self, prepared: PreparedChat, tally: _Tally
    ) -> AsyncIterator[tuple[str, ChoiceLogprobs | None] | _ChoiceState]:
        """One choice's content pieces, with the language policy of ``consistency`` applied.

        Yields (text, logprobs) pieces, and the ``_ChoiceState`` of the attempt that was kept (for
        tool calls and the finish reason) before its pieces.
        """
        plan, want_logprobs = prepared.language, prepared.request.logprobs
        attempt = prepared
        while True:
            state = _ChoiceState(attempt)
            yield state
            judging, collecting, wrong = plan is not None, False, False
            held: list[tuple[str, ChoiceLogprobs | None]] = []
            async with aclosing(attempt.engine.generate(attempt.generation)) as events:
                async for event in events:
                    if isinstance(event, GenerationFinish):
                        tally.finishes.append(event)
                        break
                    shown = state.feed(event.text)
                    lp = ChoiceLogprobs(content=logprobs_out(event.logprobs)) if want_logprobs else None
                    if not (judging or collecting):
                        if shown or (lp and lp.content):
                            yield shown, lp
                        continue
                    held.append((shown, lp))
                    if collecting or not plan.ready(_text(held)):  # type: ignore[union-attr]
                        continue
                    judging = False
                    wrong = not tally.judge(plan, _text(held))  # type: ignore[arg-type]
                    if wrong and attempt is prepared:
                        break  # drop this start and ask again, more firmly
                    collecting = wrong
                    if not wrong:
                        for piece in held:
                            yield piece
                        held = []
            if judging and held:  # the reply ended before it was long enough to judge: judge all of it
                wrong = not tally.judge(plan, _text(held))  # type: ignore[arg-type]
                collecting = wrong and attempt is not prepared
            if wrong and attempt is prepared:
                tally.correct("retried")
                attempt = await self._retry(prepared)
                tally.extra_prompt += attempt.prompt_tokens
                continue
            if collecting:
                tally.correct("translated")
                yield await self._translate(_text(held), prepared, tally), None
            else:
                for piece in held:
                    yield piece
            return


def _text(pieces: list[tuple[str, ChoiceLogprobs | None]]) -> str:
    return "".join(piece for piece, _ in pieces)


class _Tally:
    """Usage over every generation of a request (retries and translations included), and the language report."""

    def __init__(self, prepared: PreparedChat) -> None:
        self.prepared = prepared
        self.finishes: list[GenerationFinish] = []
        self.extra_prompt = 0
        self.extra_completion = 0
        self.detected: str | None = None
        self.corrected: str | None = None
        self._first = True

    def judge(self, plan: LanguagePlan, text: str) -> bool:
        """Whether ``text`` is in an accepted language; the first verdict is kept for the report."""
        found = detect(text)
        if self._first:
            self.detected, self._first = (found.language if found else None), False
        return found is None or found.language in plan.accepted

    def correct(self, how: str) -> None:
        if self.corrected != "translated":
            self.corrected = how

    def usage(self) -> Usage:
        result = usage(self.prepared.prompt_tokens + self.extra_prompt, self.finishes)
        result.completion_tokens += self.extra_completion
        result.total_tokens = result.prompt_tokens + result.completion_tokens
        return result

    def report(self) -> LanguageReport | None:
        plan = self.prepared.language
        if plan is None:
            return None
        return LanguageReport(language=plan.expected, detected=self.detected, corrected=self.corrected)  # type: ignore[arg-type]


def _forced_tools(request: ChatCompletionRequest, tools: list[Tool]) -> list[Tool]:
    if isinstance(request.tool_choice, NamedToolChoice):
        return [t for t in tools if t.function.name == request.tool_choice.function.name]
    if request.tool_choice == "required":
        return list(tools)
    return []
