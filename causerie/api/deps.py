"""FastAPI dependencies, all in one module: the container's services and authentication."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request

from causerie.config import Settings
from causerie.errors import AuthenticationFailed
from causerie.services.chat import ChatService
from causerie.services.code import CodeService
from causerie.services.completions import CompletionService
from causerie.services.container import Container
from causerie.services.conversations import ConversationService
from causerie.services.corpora import CorpusStore
from causerie.services.engines import EnginePool
from causerie.services.localize import LocalizeService
from causerie.services.replies import ReplyService
from causerie.services.summarize import SummarizationService
from causerie.services.translate import TranslationService


def get_container(request: Request) -> Container:
    """The app's composition root, built in its lifespan."""
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_pool(container: ContainerDep) -> EnginePool:
    return container.pool


def get_chat(container: ContainerDep) -> ChatService:
    return container.chat


def get_completions(container: ContainerDep) -> CompletionService:
    return container.completions


def get_conversations(container: ContainerDep) -> ConversationService:
    return container.conversations


def get_replies(container: ContainerDep) -> ReplyService:
    return container.replies


def get_translation(container: ContainerDep) -> TranslationService:
    return container.translation


def get_summarization(container: ContainerDep) -> SummarizationService:
    return container.summarization


def get_code(container: ContainerDep) -> CodeService:
    return container.code


def get_localize(container: ContainerDep) -> LocalizeService:
    return container.localize


def get_corpora(container: ContainerDep) -> CorpusStore:
    return container.corpora


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[EnginePool, Depends(get_pool)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
CompletionsDep = Annotated[CompletionService, Depends(get_completions)]
ConversationsDep = Annotated[ConversationService, Depends(get_conversations)]
RepliesDep = Annotated[ReplyService, Depends(get_replies)]
TranslationDep = Annotated[TranslationService, Depends(get_translation)]
SummarizationDep = Annotated[SummarizationService, Depends(get_summarization)]
CodeDep = Annotated[CodeService, Depends(get_code)]
LocalizeDep = Annotated[LocalizeService, Depends(get_localize)]
CorporaDep = Annotated[CorpusStore, Depends(get_corpora)]


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
