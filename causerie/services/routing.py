"""``"model": "auto"``: the language of the user's last message picks the model (see ``ModelRegistry.resolve``)."""

from __future__ import annotations

from causerie.language import detect_language
from causerie.models.registry import AUTO_MODEL
from causerie.protocol.openai import ChatCompletionRequest


def routing_language(request: ChatCompletionRequest) -> str | None:
    """The detected language of the last user message when the request asks for ``auto``; else None."""
    if request.model != AUTO_MODEL:
        return None
    last_user = next((m for m in reversed(request.messages) if m.role == "user"), None)
    return detect_language(last_user.text()) if last_user is not None else None
