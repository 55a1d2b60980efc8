"""Text routes: ``POST /v1/translate`` and ``POST /v1/summarize``.

With ``"stream": true`` the response is server-sent events: one progress object per model call
(``translation.progress`` with the finished segment, or ``summary.progress``), then the final
``translation`` / ``summary`` object, then ``data: [DONE]``. Errors found before work starts are
plain HTTP errors; later ones arrive in the stream as an ``{"error": …}`` event.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from causerie.api.deps import PrincipalDep, SummarizationDep, TranslationDep
from causerie.api.errors import error_responses
from causerie.api.sse import sse_response, sse_responses
from causerie.protocol.text import SummarizeRequest, Summary, TranslateRequest, Translation

router = APIRouter(prefix="/v1", responses=error_responses(400, 404, 503), tags=["text"])


@router.post("/translate", response_model=Translation, responses=sse_responses("translation.progress…, translation"))
async def translate(
    request: TranslateRequest, service: TranslationDep, principal: PrincipalDep
) -> Translation | StreamingResponse:
    """Translate text, Markdown or HTML; the result lists the segments side by side."""
    if request.stream:
        return sse_response(service.run(await service.prepare(request, principal)))
    return await service.translate(request, principal)


@router.post("/summarize", response_model=Summary, responses=sse_responses("summary.progress…, summary"))
async def summarize(
    request: SummarizeRequest, service: SummarizationDep, principal: PrincipalDep
) -> Summary | StreamingResponse:
    """Summarize a document of any length (map-reduce when it exceeds the context)."""
    if request.stream:
        return sse_response(service.run(await service.prepare(request, principal)))
    return await service.summarize(request, principal)
