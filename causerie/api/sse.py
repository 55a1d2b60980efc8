"""Server-sent events in the forms OpenAI clients read: chat's ``data:`` lines ending in ``[DONE]``, and the
Responses API's typed events (``event: <type>`` before each ``data:``, no ``[DONE]``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from causerie.errors import CauserieError
from causerie.protocol.openai import ErrorResponse

log = logging.getLogger(__name__)


async def _events(chunks: AsyncIterator[BaseModel], exclude_none: bool, typed: bool) -> AsyncIterator[str]:
    try:
        async for chunk in chunks:
            name = f"event: {chunk.model_dump(include={'type'})['type']}\n" if typed else ""
            yield f"{name}data: {chunk.model_dump_json(exclude_none=exclude_none, by_alias=True)}\n\n"
    except CauserieError as exc:
        yield f"data: {ErrorResponse.of(exc).model_dump_json()}\n\n"
        return
    except Exception:  # the status line is already sent: report in-band
        log.exception("stream failed")
        yield f"data: {ErrorResponse.of(CauserieError('The server had an error while streaming.')).model_dump_json()}\n\n"
        return
    if not typed:
        yield "data: [DONE]\n\n"


SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One server-sent event (OpenAPI 3.2's itemSchema; 3.1 tools read `schema` per event).",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "contentMediaType": "application/json", "description": "A JSON object, or [DONE]."},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}


def sse_responses(events: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a route that can stream: its 200 is also ``text/event-stream`` of ``events``."""
    return {
        200: {
            "description": f"JSON; with stream=true, text/event-stream: `data: {{json}}` events ({events}), "
            'then `data: [DONE]`. An error after the stream started arrives as `data: {"error": {...}}`.',
            "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
        }
    }


def sse_response(
    chunks: AsyncIterator[BaseModel], *, exclude_none: bool = True, typed: bool = False
) -> StreamingResponse:
    """``exclude_none=False`` keeps ``null`` fields (the conversation events' contract); ``typed`` names each
    event after its ``type`` field and sends no ``[DONE]`` (the Responses API's events)."""
    return StreamingResponse(
        _events(chunks, exclude_none, typed),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
