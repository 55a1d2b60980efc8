"""The composition root: one ``Settings`` in, every long-lived object and service out.

The app factory (``causerie.api.app``) and the CLI (``causerie.cli``) each build exactly one
``Container``; nothing else constructs services, engine pools or the store. Everything is built on
first use, so a CLI command that only reads the history never discovers models, and one that only
chats never opens the database.
"""

from __future__ import annotations

from functools import cached_property

from opentelemetry.trace import TracerProvider

from causerie.config import Settings
from causerie.models.localized import adopt_localized
from causerie.models.registry import ModelRegistry
from causerie.principal import PERSONAL_ORGANIZATION_ID
from causerie.sandbox import Sandbox
from causerie.services.accounts import AccountService
from causerie.services.chat import ChatService
from causerie.services.code import CodeService
from causerie.services.completions import CompletionService
from causerie.services.consistency import LanguagePolicy
from causerie.services.conversations import ConversationService
from causerie.services.corpora import CorpusStore
from causerie.services.embeddings import EmbeddingService
from causerie.services.engines import EnginePool
from causerie.services.jobs import JobRunner
from causerie.services.localize import LocalizeService
from causerie.services.metrics import Metrics
from causerie.services.model_access import ModelAccess
from causerie.services.replies import ReplyService
from causerie.services.response_history import ResponseHistory
from causerie.services.responses import ResponseService
from causerie.services.signin import SignInService
from causerie.services.summarize import SummarizationService
from causerie.services.tracing import tracer_from
from causerie.services.translate import TranslationService
from causerie.store import (
    AccountRepository,
    ConversationRepository,
    Database,
    ResponseRepository,
    SessionRepository,
    database_url,
)


class Container:
    """Registry, engine pool, metrics, store, sandbox, job runner and the services on top, built once from
    ``settings``."""

    def __init__(
        self,
        settings: Settings,
        registry: ModelRegistry | None = None,
        *,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        """``tracer_provider``: where spans go (``services.tracing``); None: no traces."""
        self.settings = settings
        self._registry = registry
        self._tracer_provider = tracer_provider
        self._database: Database | None = None

    @cached_property
    def registry(self) -> ModelRegistry:
        return self._registry if self._registry is not None else ModelRegistry.discover(self.settings)

    @cached_property
    def metrics(self) -> Metrics:
        return Metrics()

    @cached_property
    def model_access(self) -> ModelAccess:
        """Which models each principal may use; grants are read from the store only for organizations."""
        return ModelAccess(
            self.registry,
            lambda organization: self.account_repository.grants(organization),
            self.settings.preview_models,
        )

    @cached_property
    def pool(self) -> EnginePool:
        return EnginePool(
            self.registry, self.settings, self.model_access, self.metrics, tracer_from(self._tracer_provider)
        )

    @cached_property
    def sandbox(self) -> Sandbox:
        return Sandbox(maximums=self.settings.sandbox_maximums)

    @cached_property
    def language_policy(self) -> LanguagePolicy:
        return LanguagePolicy(self.translation)

    @cached_property
    def chat(self) -> ChatService:
        """Chat replies, kept in the user's language when ``Settings.language_consistency`` is on."""
        return ChatService(self.pool, language=self.language_policy if self.settings.language_consistency else None)

    @cached_property
    def completions(self) -> CompletionService:
        return CompletionService(self.pool)

    @cached_property
    def embeddings(self) -> EmbeddingService:
        return EmbeddingService(self.pool)

    @cached_property
    def translation(self) -> TranslationService:
        return TranslationService(self.pool)

    @cached_property
    def summarization(self) -> SummarizationService:
        return SummarizationService(self.pool, self.translation)

    @cached_property
    def code(self) -> CodeService:
        return CodeService(self.chat, self.sandbox)

    @cached_property
    def jobs(self) -> JobRunner:
        """Long jobs; inert until ``start`` (the app's lifespan), so the CLI never touches their records."""
        return JobRunner(self.settings.data_dir / "jobs")

    @cached_property
    def localize(self) -> LocalizeService:
        return LocalizeService(self.settings, self.registry, self.jobs)

    @cached_property
    def corpora(self) -> CorpusStore:
        return CorpusStore(self.settings.corpora_dir)

    def open_store(self) -> Database:
        """The conversation store, opened (and migrated) the first time."""
        if self._database is None:
            self._database = Database.open(database_url(self.settings))
        return self._database

    @cached_property
    def repository(self) -> ConversationRepository:
        return ConversationRepository(self.open_store())

    @cached_property
    def account_repository(self) -> AccountRepository:
        return AccountRepository(self.open_store())

    @cached_property
    def accounts(self) -> AccountService:
        """Organizations, members, keys, grants; the first organization adopts the personal-mode jobs and models."""
        return AccountService(
            self.account_repository,
            lambda: self.registry,
            self.settings,
            adopters=(self.jobs.adopt, self._adopt_models),
        )

    @cached_property
    def signin(self) -> SignInService:
        """The web UI's sign-in: sessions, their CSRF tokens, the sign-in rate limits."""
        return SignInService(self.account_repository, SessionRepository(self.open_store()))

    def _adopt_models(self, organization_id: str) -> int:
        """Personal mode's localized models: their cards on disk, and the registry's entries once it is built."""
        adopted = adopt_localized(self.settings, organization_id)
        if self._built("registry"):
            self.registry.reassign(PERSONAL_ORGANIZATION_ID, organization_id)
        return adopted

    @cached_property
    def conversations(self) -> ConversationService:
        return ConversationService(self.repository)

    @cached_property
    def replies(self) -> ReplyService:
        return ReplyService(self.chat, self.repository)

    @cached_property
    def responses(self) -> ResponseService:
        """The Responses API: chat replies, stored with their owner and mirrored as conversations."""
        return ResponseService(self.chat, ResponseRepository(self.open_store()), ResponseHistory(self.repository))

    def _built(self, name: str) -> bool:
        return name in self.__dict__

    async def aclose(self) -> None:
        """Stop the job workers, running replies, unload the engines, close the store (only what was built)."""
        try:
            if self._built("jobs"):
                self.jobs.shutdown()
            if self._built("replies"):
                await self.replies.aclose()
            if self._built("responses"):
                await self.responses.aclose()
            if self._built("pool"):
                await self.pool.aclose()
            if self._built("metrics"):
                self.metrics.close()
        finally:
            self.close_store()

    def close_store(self) -> None:
        if self._database is not None:
            self._database.close()
            self._database = None
