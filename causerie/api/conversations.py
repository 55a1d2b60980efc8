"""Conversation routes under /v1/conversations: parse, call one service method, shape the answer."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from causerie.api.deps import ConversationsDep, PrincipalDep, RepliesDep
from causerie.api.errors import error_responses
from causerie.api.sse import sse_response, sse_responses
from causerie.errors import InvalidRequest
from causerie.protocol.conversations import (
    Conversation,
    ConversationCreate,
    ConversationDeleted,
    ConversationList,
    ConversationUpdate,
    ConversationWithMessages,
    Exchange,
    GenerationOptions,
    ImportResult,
    MessageCreate,
    SearchResults,
    StopResult,
)
from causerie.services.replies import ReplyJob

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], responses=error_responses(400, 404, 409, 503))

FormatQuery = Annotated[Literal["json", "markdown"], Query(alias="format", description="json or markdown")]
_STREAMED = sse_responses("stream is true by default: user_message, assistant_message, delta…, done, title, error")
_EXPORTED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A file to save (Content-Disposition: attachment).",
        "content": {"application/json": {}, "text/markdown": {"schema": {"type": "string"}}},
    }
}
_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "A ChatGPT data export's conversations.json, as the JSON body or a multipart field `file`.",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


def _attachment(text: str, fmt: str, name: str) -> Response:
    media, suffix = ("text/markdown; charset=utf-8", "md") if fmt == "markdown" else ("application/json", "json")
    return Response(text, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{suffix}"'})


async def _reply(job: ReplyJob, stream: bool, replies: RepliesDep) -> Exchange | StreamingResponse:
    if stream:
        return sse_response(job.events(), exclude_none=False)
    return await job.result(replies.repository)


@router.post("", status_code=201, response_model=Conversation)
def create_conversation(
    body: ConversationCreate, conversations: ConversationsDep, principal: PrincipalDep
) -> Conversation:
    return conversations.create(principal, body)


@router.get("", response_model=ConversationList)
def list_conversations(
    conversations: ConversationsDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: Annotated[str | None, Query(description="Id of the last conversation of the previous page.")] = None,
) -> ConversationList:
    """Newest first (by last update)."""
    return conversations.list_page(principal, limit, after)


@router.get("/search", response_model=SearchResults)
def search_messages(
    conversations: ConversationsDep,
    principal: PrincipalDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResults:
    """Messages containing ``q``, ignoring case and accents; no word boundaries needed (Japanese)."""
    return conversations.search(principal, q, limit)


@router.get("/export", responses=_EXPORTED, response_class=Response)
def export_all(conversations: ConversationsDep, principal: PrincipalDep, fmt: FormatQuery = "json") -> Response:
    return _attachment(conversations.export_all(principal, fmt), fmt, "causerie-conversations")


@router.post("/import", response_model=ImportResult, openapi_extra=_IMPORT_BODY)
async def import_chatgpt(request: Request, conversations: ConversationsDep, principal: PrincipalDep) -> ImportResult:
    """Import a ChatGPT data export; branches (edits, regenerations) are kept."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest(
                "the multipart body needs a file field named 'file'", param="file", code="invalid_value"
            )
        raw = await upload.read()
    else:
        raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the export is not valid JSON", param="file", code="invalid_value") from None
    return await run_in_threadpool(conversations.import_chatgpt, principal, data)


@router.get("/{conversation_id}", response_model=ConversationWithMessages)
def get_conversation(
    conversation_id: str, conversations: ConversationsDep, principal: PrincipalDep
) -> ConversationWithMessages:
    return conversations.get(principal, conversation_id)


@router.patch("/{conversation_id}", response_model=Conversation)
def update_conversation(
    conversation_id: str, body: ConversationUpdate, conversations: ConversationsDep, principal: PrincipalDep
) -> Conversation:
    """Rename, switch branch (``current_message_id``), change model or system prompt."""
    return conversations.update(principal, conversation_id, body)


@router.delete("/{conversation_id}", response_model=ConversationDeleted)
async def delete_conversation(
    conversation_id: str, conversations: ConversationsDep, principal: PrincipalDep, replies: RepliesDep
) -> ConversationDeleted:
    """Delete the conversation and all its messages (a reply being written is stopped first)."""
    await replies.stop(principal, conversation_id)
    return await run_in_threadpool(conversations.delete, principal, conversation_id)


@router.post("/{conversation_id}/messages", response_model=Exchange, responses=_STREAMED)
async def post_message(
    conversation_id: str, body: MessageCreate, replies: RepliesDep, principal: PrincipalDep
) -> Exchange | StreamingResponse:
    """Store the message, then write the reply (streamed by default)."""
    return await _reply(await replies.post(principal, conversation_id, body), body.stream, replies)


@router.post("/{conversation_id}/messages/{message_id}/regenerate", response_model=Exchange, responses=_STREAMED)
async def regenerate(
    conversation_id: str,
    message_id: str,
    replies: RepliesDep,
    principal: PrincipalDep,
    body: GenerationOptions | None = None,
) -> Exchange | StreamingResponse:
    """A new reply beside ``message_id`` (a branch under the same user message)."""
    options = body or GenerationOptions()
    return await _reply(
        await replies.regenerate(principal, conversation_id, message_id, options), options.stream, replies
    )


@router.post("/{conversation_id}/stop", response_model=StopResult)
async def stop(conversation_id: str, replies: RepliesDep, principal: PrincipalDep) -> StopResult:
    """Stop the reply being written; its text so far stays stored as ``incomplete``."""
    return StopResult(stopped=await replies.stop(principal, conversation_id))


@router.get("/{conversation_id}/export", responses=_EXPORTED, response_class=Response)
def export_conversation(
    conversation_id: str, conversations: ConversationsDep, principal: PrincipalDep, fmt: FormatQuery = "json"
) -> Response:
    return _attachment(conversations.export(principal, conversation_id, fmt), fmt, conversation_id)
