"""``POST /v1/embeddings`` (OpenAI's shapes)."""

from __future__ import annotations

from fastapi import APIRouter

from causerie.api.deps import EmbeddingsDep, PrincipalDep
from causerie.api.errors import error_responses
from causerie.protocol.embeddings import EmbeddingList, EmbeddingRequest

router = APIRouter(prefix="/v1", responses=error_responses(400, 404, 503))


@router.post("/embeddings", response_model=EmbeddingList)
async def create_embeddings(
    request: EmbeddingRequest, service: EmbeddingsDep, principal: PrincipalDep
) -> EmbeddingList:
    return await service.create(request, principal)
