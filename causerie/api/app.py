"""The application factory: settings in, a FastAPI app out; the lifespan owns the engines and the job workers.

Every request passes, in order: ``Authentication`` (before routing, so no route can forget it: the request's principal, or a 401),
``BodyLimit`` (before the body is read) and ``CancelOnDisconnect`` (work stops when its client leaves).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import TracerProvider

from causerie import __version__
from causerie.api.admin import router as admin_router
from causerie.api.auth import Authentication
from causerie.api.body_limit import BodyLimit
from causerie.api.code import router as code_router
from causerie.api.conversations import router as conversations_router
from causerie.api.disconnect import CancelOnDisconnect
from causerie.api.embeddings import router as embeddings_router
from causerie.api.errors import install_error_handlers
from causerie.api.localize import router as localize_router
from causerie.api.metrics import router as metrics_router
from causerie.api.responses import router as responses_router
from causerie.api.routes import router
from causerie.api.signin import router as signin_router
from causerie.api.text import router as text_router
from causerie.api.web import mount_web_ui
from causerie.config import Settings
from causerie.models.registry import ModelRegistry
from causerie.services.container import Container
from causerie.services.tracing import exporting_provider

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    registry: ModelRegistry | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """Build the app. ``registry`` defaults to discovering models from ``settings``; ``tracer_provider`` to
    one that exports to ``settings.otlp_endpoint`` (none, and no traces, when that is unset)."""
    settings = settings or Settings()
    exporting = exporting_provider(settings) if tracer_provider is None else None
    tracer_provider = tracer_provider or exporting

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = Container(settings, registry, tracer_provider=tracer_provider)
        app.state.container = container
        container.open_store()  # opened and migrated now: a bad URL fails the start, not the first request
        container.jobs.start()
        await container.pool.start()
        for model_id, problem in container.registry.problems.items():
            log.warning("model %s unavailable: %s", model_id, problem)
        if settings.preload and container.registry.default_id:
            await container.pool.get(container.registry.resolve(None))
        try:
            yield
        finally:
            await container.aclose()
            if exporting is not None:
                exporting.shutdown()  # sends the spans still batched

    app = FastAPI(
        title="Causerie",
        version=__version__,
        description="Self-hosted, multilingual assistant with an OpenAI-compatible API.",
        lifespan=lifespan,
        redirect_slashes=False,  # `/v1/conversations/` is a 404, not a 307 to another URL
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(CancelOnDisconnect)  # the last added runs first
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes, max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(Authentication, api_keys=settings.api_keys)
    app.include_router(router)
    app.include_router(responses_router)
    app.include_router(embeddings_router)
    app.include_router(conversations_router)
    mount_web_ui(app)
    app.include_router(code_router)
    app.include_router(text_router)
    app.include_router(localize_router)
    app.include_router(metrics_router)
    if tracer_provider is not None:  # the request spans, parents of the services' (``services.tracing``)
        FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider, exclude_spans=["receive", "send"])
    app.include_router(admin_router)
    app.include_router(signin_router)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, object]:
        """Liveness, whether the web UI must sign in (organization mode), each loaded model's queue (running,
        waiting, max_queued) and KV cache fill, and the upstreams' health."""
        container = app.state.container
        pool = container.pool
        health: dict[str, object] = {
            "status": "ok",
            "sign_in": container.accounts.organization_mode(),  # the web UI shows its sign-in page
            "default_model": pool.registry.default_id,
            "loaded_models": pool.loaded(),
            "models": pool.status(),
        }
        if upstreams := pool.upstream_health():
            health["upstreams"] = upstreams
        return health

    return app
