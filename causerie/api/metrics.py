"""``GET /metrics``: Prometheus's text format, behind the API keys like every non-public path (``auth.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from causerie.api.deps import ContainerDep
from causerie.api.errors import error_responses
from causerie.services.metrics import CONTENT_TYPE

router = APIRouter(tags=["metrics"], responses=error_responses())


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(container: ContainerDep) -> Response:
    return Response(container.metrics.render(), media_type=CONTENT_TYPE)
