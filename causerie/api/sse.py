"""Server-sent events in the form OpenAI clients read."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from causerie.errors import CauserieError
from causerie.protocol.openai import ErrorResponse

log = logging.getLogger(__name__)


async def _events(chunks: AsyncIterator[BaseModel], exclude_none: bool) -> AsyncIterator[str]:
    try:
        async for chunk in chunks:
            yield f"data: {chunk.model_dump_json(exclude_none=exclude_none)}\n\n"
    except CauserieError as exc:
        yield f"data: {ErrorResponse.of(exc).model_dump_json()}\n\n"
        return
    except Exception:  # the status line is already sent: report in-band
        log.exception("stream failed")
        yield f"data: {ErrorResponse.of(CauserieError('The server had an error while streaming.')).model_dump_json()}\n\n"
        return
    yield "data: [DONE]\n\n"


def sse_response(chunks: AsyncIterator[BaseModel], *, exclude_none: bool = True) -> StreamingResponse:
    """``exclude_none=False`` keeps ``null`` fields (the conversation events' contract)."""
    return StreamingResponse(
        _events(chunks, exclude_none),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
