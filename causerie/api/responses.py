"""The Responses API under /v1/responses: parse, call one service method, shape the answer."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from causerie.api.deps import PrincipalDep, ResponsesDep
from causerie.api.errors import error_responses
from causerie.api.sse import sse_response, sse_responses
from causerie.protocol.response_objects import DeletedResponse, InputItemList, ResponseObject
from causerie.protocol.responses import ResponseCreateRequest

router = APIRouter(prefix="/v1/responses", tags=["responses"], responses=error_responses(400, 404, 503))


@router.post(
    "",
    response_model=ResponseObject,
    responses=sse_responses("response.created, response.in_progress, response.output_item.added… response.completed"),
)
async def create_response(
    request: ResponseCreateRequest, service: ResponsesDep, principal: PrincipalDep
) -> ResponseObject | StreamingResponse:
    prepared = await service.prepare(request, principal)
    if request.stream:
        return sse_response(service.stream(prepared), exclude_none=False, typed=True)
    return await service.create(prepared)


@router.get("/{response_id}", response_model=ResponseObject)
async def get_response(response_id: str, service: ResponsesDep, principal: PrincipalDep) -> ResponseObject:
    return await service.get(response_id, principal)


@router.get("/{response_id}/input_items", response_model=InputItemList)
async def list_input_items(
    response_id: str,
    service: ResponsesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
) -> InputItemList:
    return await service.input_items(response_id, principal, limit=limit, order=order, after=after)


@router.delete("/{response_id}", response_model=DeletedResponse)
async def delete_response(response_id: str, service: ResponsesDep, principal: PrincipalDep) -> DeletedResponse:
    return await service.delete(response_id, principal)


@router.post("/{response_id}/cancel", response_model=ResponseObject)
async def cancel_response(response_id: str, service: ResponsesDep, principal: PrincipalDep) -> ResponseObject:
    return await service.cancel(response_id, principal)
