"""A chat reply stream as the Responses API's stream events, numbered, building the ``response`` as it goes.

For a text answer: ``response.output_item.added`` (the message), ``response.content_part.added``, one
``response.output_text.delta`` per piece, ``response.output_text.done``, ``response.content_part.done``,
``response.output_item.done``. Then, per function call: ``response.output_item.added``,
``response.function_call_arguments.delta`` (tool calls are parsed whole, so one delta), ``.done``,
``response.output_item.done``. The lifecycle events around them come from ``ResponseEvents.lifecycle``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Literal

from causerie.protocol.response_objects import (
    ArgumentsDeltaEvent,
    ArgumentsDoneEvent,
    ContentPartEvent,
    ErrorEvent,
    FunctionCallOutput,
    OutputItem,
    OutputItemEvent,
    OutputMessage,
    OutputText,
    ResponseLifecycleEvent,
    ResponseObject,
    StreamEvent,
    TextDeltaEvent,
    TextDoneEvent,
)
from causerie.services.reply_stream import ChoiceEnd, Content, ReplyStream
from causerie.services.response_items import function_call_item, item_id

Lifecycle = Literal[
    "response.created", "response.in_progress", "response.completed", "response.incomplete", "response.failed"
]


class ResponseEvents:
    """Numbers the events of one response and keeps ``response.output`` in step with them."""

    def __init__(self, response: ResponseObject) -> None:
        self.response = response
        self._sequence = -1
        self.end: ChoiceEnd | None = None

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    def lifecycle(self, kind: Lifecycle) -> ResponseLifecycleEvent:
        return ResponseLifecycleEvent(
            type=kind, sequence_number=self._next(), response=self.response.model_copy(deep=True)
        )

    def error(self, code: str | None, message: str, param: str | None) -> ErrorEvent:
        return ErrorEvent(sequence_number=self._next(), code=code, message=message, param=param)

    def _item(
        self, kind: Literal["response.output_item.added", "response.output_item.done"], index: int, item: OutputItem
    ) -> OutputItemEvent:
        return OutputItemEvent(
            type=kind,
            sequence_number=self._next(),
            output_index=index,
            item=item.model_copy(deep=True),
        )

    def _part(
        self,
        kind: Literal["response.content_part.added", "response.content_part.done"],
        index: int,
        message: OutputMessage,
    ) -> ContentPartEvent:
        return ContentPartEvent(
            type=kind,
            sequence_number=self._next(),
            item_id=message.id,
            output_index=index,
            content_index=0,
            part=message.content[0].model_copy(),
        )

    async def output(self, reply: ReplyStream) -> AsyncGenerator[StreamEvent, None]:
        """The output events of ``reply``; its ``ChoiceEnd`` is kept in ``self.end``."""
        message: OutputMessage | None = None
        index = len(self.response.output)
        async with aclosing(reply) as events:
            async for event in events:
                if isinstance(event, Content):
                    if not event.text:
                        continue
                    if message is None:
                        message = OutputMessage(id=item_id("msg"), status="in_progress")
                        self.response.output.append(message)
                        yield self._item("response.output_item.added", index, message)
                        message.content.append(OutputText())
                        yield self._part("response.content_part.added", index, message)
                    message.content[0].text += event.text
                    yield TextDeltaEvent(
                        sequence_number=self._next(),
                        item_id=message.id,
                        output_index=index,
                        content_index=0,
                        delta=event.text,
                    )
                else:
                    self.end = event
        assert self.end is not None  # a reply stream always ends with one
        if message is not None:
            message.status = "incomplete" if self.end.reason == "length" else "completed"
            text = message.content[0].text
            yield TextDoneEvent(
                sequence_number=self._next(), item_id=message.id, output_index=index, content_index=0, text=text
            )
            yield self._part("response.content_part.done", index, message)
            yield self._item("response.output_item.done", index, message)
            index += 1
        for call in self.end.tool_calls:
            item = function_call_item(call)
            self.response.output.append(item)
            yield self._item("response.output_item.added", index, _started(item))
            yield ArgumentsDeltaEvent(
                sequence_number=self._next(), item_id=item.id, output_index=index, delta=item.arguments
            )
            yield ArgumentsDoneEvent(
                sequence_number=self._next(),
                item_id=item.id,
                output_index=index,
                name=item.name,
                arguments=item.arguments,
            )
            yield self._item("response.output_item.done", index, item)
            index += 1


def _started(item: FunctionCallOutput) -> FunctionCallOutput:
    """A function call as first announced: no arguments yet."""
    return item.model_copy(update={"arguments": "", "status": "in_progress"})
