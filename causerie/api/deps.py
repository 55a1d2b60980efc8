"""FastAPI dependencies: settings, services, authentication."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request

from causerie.config import Settings
from causerie.errors import AuthenticationFailed
from causerie.services.chat import ChatService
from causerie.services.completions import CompletionService
from causerie.services.conversations import ConversationService
from causerie.services.replies import ReplyService
from causerie.services.engines import EnginePool


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_pool(request: Request) -> EnginePool:
    return request.app.state.pool


def get_chat(request: Request) -> ChatService:
    return ChatService(request.app.state.pool)


def get_completions(request: Request) -> CompletionService:
    return CompletionService(request.app.state.pool)


def get_conversations(request: Request) -> ConversationService:
    return ConversationService(request.app.state.conversations)


def get_replies(request: Request) -> ReplyService:
    return request.app.state.replies


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[EnginePool, Depends(get_pool)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
CompletionsDep = Annotated[CompletionService, Depends(get_completions)]
ConversationsDep = Annotated[ConversationService, Depends(get_conversations)]
RepliesDep = Annotated[ReplyService, Depends(get_replies)]


def require_api_key(request: Request, settings: SettingsDep) -> None:
    """Bearer-token check, active only when API keys are configured."""
    if not settings.api_keys:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise AuthenticationFailed(
            "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY)."
        )
    if scheme.lower() != "bearer" or not any(secrets.compare_digest(token.strip(), key) for key in settings.api_keys):
        raise AuthenticationFailed("Incorrect API key provided.")
