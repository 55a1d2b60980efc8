"""FastAPI dependencies, all in one module: the container's services and the request's principal
(authentication is ``api/auth.py``, checked before routing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from causerie.principal import PERSONAL, Principal
from causerie.services.accounts import AccountService
from causerie.services.chat import ChatService
from causerie.services.code import CodeService
from causerie.services.completions import CompletionService
from causerie.services.container import Container
from causerie.services.conversations import ConversationService
from causerie.services.corpora import CorpusStore
from causerie.services.embeddings import EmbeddingService
from causerie.services.engines import EnginePool
from causerie.services.localize import LocalizeService
from causerie.services.replies import ReplyService
from causerie.services.responses import ResponseService
from causerie.services.signin import SignInService
from causerie.services.summarize import SummarizationService
from causerie.services.translate import TranslationService


def get_container(request: Request) -> Container:
    """The app's composition root, built in its lifespan."""
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_principal(request: Request) -> Principal:
    """Who the request acts for: set in the request's state by the authentication middleware before
    routing; ``PERSONAL`` in personal mode."""
    principal: Principal = getattr(request.state, "principal", PERSONAL)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


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


def get_responses(container: ContainerDep) -> ResponseService:
    return container.responses


def get_embeddings(container: ContainerDep) -> EmbeddingService:
    return container.embeddings


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


PoolDep = Annotated[EnginePool, Depends(get_pool)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
CompletionsDep = Annotated[CompletionService, Depends(get_completions)]
EmbeddingsDep = Annotated[EmbeddingService, Depends(get_embeddings)]
ConversationsDep = Annotated[ConversationService, Depends(get_conversations)]
RepliesDep = Annotated[ReplyService, Depends(get_replies)]
ResponsesDep = Annotated[ResponseService, Depends(get_responses)]
TranslationDep = Annotated[TranslationService, Depends(get_translation)]
SummarizationDep = Annotated[SummarizationService, Depends(get_summarization)]
CodeDep = Annotated[CodeService, Depends(get_code)]
LocalizeDep = Annotated[LocalizeService, Depends(get_localize)]
CorporaDep = Annotated[CorpusStore, Depends(get_corpora)]


def get_accounts(container: ContainerDep) -> AccountService:
    return container.accounts


AccountsDep = Annotated[AccountService, Depends(get_accounts)]


def get_signin(container: ContainerDep) -> SignInService:
    return container.signin


SignInDep = Annotated[SignInService, Depends(get_signin)]
