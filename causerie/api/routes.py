"""OpenAI-compatible routes. Each parses, calls one service, and shapes the result."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from causerie.api.deps import ChatDep, CompletionsDep, PoolDep, PrincipalDep
from causerie.api.errors import error_responses
from causerie.api.sse import sse_response, sse_responses
from causerie.models.registry import ModelSpec
from causerie.protocol.openai import (
    ChatCompletion,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    ModelCard,
    ModelList,
)

router = APIRouter(prefix="/v1", responses=error_responses(400, 404, 503))


def _card(spec: ModelSpec) -> ModelCard:
    return ModelCard(
        id=spec.id,
        created=spec.created,
        context_length=spec.context_length,
        description=spec.description or None,
        engine=spec.engine,
        capability=spec.capability,
    )


@router.get("/models", response_model=ModelList, response_model_exclude_none=True)
async def list_models(pool: PoolDep, principal: PrincipalDep) -> ModelList:
    """The models this organization may use (every model in personal mode)."""
    return ModelList(data=[_card(spec) for spec in pool.models(principal)])


@router.get("/models/{model_id:path}", response_model=ModelCard, response_model_exclude_none=True)
async def get_model(model_id: str, pool: PoolDep, principal: PrincipalDep) -> ModelCard:
    return _card(pool.model(model_id, principal))


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    response_model_exclude_none=True,
    responses=sse_responses("chat.completion.chunk"),
)
async def chat_completions(
    request: ChatCompletionRequest, chat: ChatDep, principal: PrincipalDep
) -> ChatCompletion | StreamingResponse:
    prepared = await chat.prepare(request, principal)
    if request.stream:
        return sse_response(chat.stream(prepared))
    return await chat.complete(prepared)


@router.post(
    "/completions",
    response_model=Completion,
    response_model_exclude_none=True,
    responses=sse_responses("text_completion"),
)
async def completions(
    request: CompletionRequest, service: CompletionsDep, principal: PrincipalDep
) -> Completion | StreamingResponse:
    prepared = await service.prepare(request, principal)
    if request.stream:
        return sse_response(service.stream(prepared))
    return await service.complete(prepared)
