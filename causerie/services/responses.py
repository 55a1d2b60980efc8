"""The Responses API: a response is a chat reply run through ``ChatService``, told as Responses events, stored.

``prepare`` checks everything that can fail before any output (the previous response, the items, the model,
the context window), so those errors are plain HTTP errors. Each response then runs in its own task, which
puts its events on a queue: a stream reads them as they come, ``create`` waits for the last one, a background
response is left running and polled. A stream whose client goes away stops its response (``cancelled``); a
background one runs on. Stored responses (``store``, the default) are saved with their owner when they start
and when they end, whatever ends them, and their chain shows as a conversation (``ResponseHistory``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field

from causerie.errors import CauserieError, InvalidRequest, ResponseNotFound
from causerie.principal import Principal
from causerie.protocol.response_objects import (
    DeletedResponse,
    IncompleteDetails,
    InputItemList,
    InputTokensDetails,
    ResponseError,
    ResponseObject,
    ResponseUsage,
    StreamEvent,
)
from causerie.protocol.responses import InputItem, ResponseCreateRequest, TextConfig, TextFormat, parse_items
from causerie.services.chat import ChatService, PreparedChat, reply_usage
from causerie.services.response_events import ResponseEvents
from causerie.services.response_history import Place, ResponseHistory
from causerie.services.response_items import as_input, chat_messages, chat_request, item_id, with_ids
from causerie.store import MessageStatus, ResponseRepository, ResponseRow

log = logging.getLogger(__name__)

_END = object()
_RUNNING = ("queued", "in_progress")
_MESSAGE_STATUS = {"completed": MessageStatus.complete, "failed": MessageStatus.error}


@dataclass
class PreparedResponse:
    """A checked request, ready to run."""

    request: ResponseCreateRequest
    principal: Principal
    chat: PreparedChat
    items: list[InputItem]
    """This request's input items, with their ids (what ``input_items`` lists)."""
    previous: ResponseRow | None
    response: ResponseObject
    place: Place | None = None
    queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)


class ResponseService:
    def __init__(self, chat: ChatService, repository: ResponseRepository, history: ResponseHistory) -> None:
        self.chat = chat
        self.repository = repository
        self.history = history
        self._running: dict[str, asyncio.Task[None]] = {}

    async def prepare(self, request: ResponseCreateRequest, principal: Principal) -> PreparedResponse:
        chain: list[ResponseRow] = []
        if request.previous_response_id is not None:
            chain = await asyncio.to_thread(self.repository.chain, request.previous_response_id, principal)
            if not chain:
                raise ResponseNotFound(
                    f"Previous response with id '{request.previous_response_id}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            if chain[-1].status in _RUNNING:
                raise InvalidRequest(
                    f"Previous response '{request.previous_response_id}' is still in progress.",
                    param="previous_response_id",
                )
        items = with_ids(request.input)
        context = [item for row in chain for item in _context_of(row)] + items
        messages = chat_messages(request.instructions, context)
        if not messages:
            raise InvalidRequest(
                "Missing input: give 'input' or 'instructions'.", param="input", code="missing_required_parameter"
            )
        prepared = await self.chat.prepare(chat_request(request, messages), principal)
        return PreparedResponse(
            request=request,
            principal=principal,
            chat=prepared,
            items=items,
            previous=chain[-1] if chain else None,
            response=_initial(request, prepared.model_id),
        )

    async def create(self, prepared: PreparedResponse) -> ResponseObject:
        """The finished response; a background one comes back at once, ``queued``."""
        await self._start(prepared)
        if prepared.request.background:
            return prepared.response.model_copy(deep=True)
        final = prepared.response
        async with aclosing(self._events(prepared)) as events:
            async for event in events:
                final = getattr(event, "response", final)
        return final

    async def stream(self, prepared: PreparedResponse) -> AsyncGenerator[StreamEvent, None]:
        await self._start(prepared)
        async with aclosing(self._events(prepared)) as events:
            async for event in events:
                yield event

    async def _events(self, prepared: PreparedResponse) -> AsyncGenerator[StreamEvent, None]:
        """The running response's events; a reader that stops early stops the response."""
        task = self._running.get(prepared.response.id)
        try:
            while (event := await prepared.queue.get()) is not _END:
                yield event  # type: ignore[misc]
        finally:
            if task is not None and not task.done():
                task.cancel()

    async def get(self, response_id: str, principal: Principal) -> ResponseObject:
        return ResponseObject.model_validate((await self._row(response_id, principal)).body)

    async def input_items(
        self, response_id: str, principal: Principal, *, limit: int, order: str, after: str | None
    ) -> InputItemList:
        items: list[InputItem] = parse_items((await self._row(response_id, principal)).input_items)
        if order == "desc":
            items.reverse()
        ids = [item.id for item in items]
        if after is not None:
            if after not in ids:
                raise InvalidRequest(f"No input item with id '{after}' in response '{response_id}'.", param="after")
            items = items[ids.index(after) + 1 :]
        page = items[:limit]
        return InputItemList(
            data=page,
            first_id=page[0].id if page else None,
            last_id=page[-1].id if page else None,
            has_more=len(items) > limit,
        )

    async def delete(self, response_id: str, principal: Principal) -> DeletedResponse:
        await self._row(response_id, principal)
        await self._stop(response_id)
        if not await asyncio.to_thread(self.repository.delete, response_id, principal):
            raise _not_found(response_id)
        return DeletedResponse(id=response_id)

    async def cancel(self, response_id: str, principal: Principal) -> ResponseObject:
        """Stop a background response; one that has already ended is answered as it is."""
        row = await self._row(response_id, principal)
        if not row.background:
            raise InvalidRequest("Cannot cancel a synchronous response.", param="response_id")
        await self._stop(response_id)
        return await self.get(response_id, principal)

    async def aclose(self) -> None:
        """Stop every running response (server shutdown); each is saved as ``cancelled``."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    # -- internals ----------------------------------------------------------------------------

    async def _row(self, response_id: str, principal: Principal) -> ResponseRow:
        row = await asyncio.to_thread(self.repository.find, response_id, principal)
        if row is None:
            raise _not_found(response_id)
        return row

    async def _stop(self, response_id: str) -> None:
        task = self._running.get(response_id)
        if task is not None:
            task.cancel()
            await asyncio.wait({task})

    async def _start(self, prepared: PreparedResponse) -> None:
        """Save the response as started (stored ones), then run it in its own task."""
        if prepared.request.store:
            await asyncio.to_thread(self._save_start, prepared)
        task = asyncio.create_task(self._run(prepared))
        self._running[prepared.response.id] = task
        task.add_done_callback(lambda _: self._running.pop(prepared.response.id, None))

    def _save_start(self, prepared: PreparedResponse) -> None:
        response = prepared.response
        prepared.place = self.history.add_input(
            prepared.principal,
            prepared.previous,
            prepared.items,
            model=response.model,
            instructions=prepared.request.instructions,
        )
        row = ResponseRow(
            id=response.id,
            organization_id=prepared.principal.organization_id,
            user_id=prepared.principal.user_id,
            previous_response_id=response.previous_response_id,
            conversation_id=prepared.place.conversation_id,
            message_id=prepared.place.message_id,
            status=response.status,
            background=response.background,
            created_at=response.created_at,
            input_items=[item.model_dump(mode="json", by_alias=True) for item in prepared.items],
            body=_body(response),
        )
        self.repository.add(row)

    def _save_end(self, prepared: PreparedResponse) -> None:
        response = prepared.response
        place = prepared.place
        if place is not None:
            text = "".join(part.text for item in response.output if item.type == "message" for part in item.content)
            status = _MESSAGE_STATUS.get(response.status, MessageStatus.incomplete)
            place = self.history.add_answer(prepared.principal, place, text, model=response.model, status=status)
        self.repository.save(
            response.id,
            status=response.status,
            body=_body(response),
            message_id=place.message_id if place is not None else None,
        )

    async def _run(self, prepared: PreparedResponse) -> None:
        response, put = prepared.response, prepared.queue.put_nowait
        events = ResponseEvents(response)
        try:
            response.status = "in_progress"
            put(events.lifecycle("response.created"))
            if prepared.request.store and response.background:
                await asyncio.to_thread(self.repository.save, response.id, status="in_progress", body=_body(response))
            put(events.lifecycle("response.in_progress"))
            async for event in events.output(self.chat.reply(prepared.chat)):
                put(event)
            assert events.end is not None  # set once the output has ended
            response.usage = _usage(prepared.chat, events)
            response.causerie = events.end.language
            if events.end.reason == "length":
                response.status, response.incomplete_details = (
                    "incomplete",
                    IncompleteDetails(reason="max_output_tokens"),
                )
            else:
                response.status = "completed"
            response.completed_at = time.time()
            put(events.lifecycle("response.incomplete" if response.status == "incomplete" else "response.completed"))
        except asyncio.CancelledError:
            response.status = "cancelled"
            raise
        except Exception as exc:
            if not isinstance(exc, CauserieError):
                log.exception("response %s failed", response.id)
                exc = CauserieError("The model failed while writing the response.")
            response.status = "failed"
            response.error = ResponseError(code=exc.code or "server_error", message=exc.message)
            put(events.error(exc.code or "server_error", exc.message, exc.param))
            put(events.lifecycle("response.failed"))
        finally:
            try:
                if prepared.request.store:
                    await asyncio.to_thread(self._save_end, prepared)
            finally:
                put(_END)


def _initial(request: ResponseCreateRequest, model_id: str) -> ResponseObject:
    return ResponseObject(
        id=item_id("resp"),
        created_at=time.time(),
        status="queued" if request.background else "in_progress",
        background=request.background,
        instructions=request.instructions,
        max_output_tokens=request.max_output_tokens,
        model=model_id,
        parallel_tool_calls=request.parallel_tool_calls,
        previous_response_id=request.previous_response_id,
        store=request.store,
        temperature=1.0 if request.temperature is None else request.temperature,
        text=request.text
        if request.text is not None and request.text.format
        else TextConfig(format=TextFormat(type="text")),
        tool_choice=request.tool_choice,
        tools=request.tools,
        top_p=1.0 if request.top_p is None else request.top_p,
        user=request.user,
        metadata=request.metadata or {},
    )


def _context_of(row: ResponseRow) -> list[InputItem]:
    """What a stored response adds to the context of one that continues it: its input, then its output."""
    return [*parse_items(row.input_items), *as_input(ResponseObject.model_validate(row.body).output)]


def _body(response: ResponseObject) -> dict[str, object]:
    return response.model_dump(mode="json", by_alias=True)


def _usage(prepared: PreparedChat, events: ResponseEvents) -> ResponseUsage:
    assert events.end is not None
    usage = reply_usage(prepared, [events.end])
    return ResponseUsage(
        input_tokens=usage.prompt_tokens,
        input_tokens_details=InputTokensDetails(cached_tokens=usage.prompt_tokens_details.cached_tokens),
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def _not_found(response_id: str) -> ResponseNotFound:
    return ResponseNotFound(f"No response found with id '{response_id}'.", param="response_id")
