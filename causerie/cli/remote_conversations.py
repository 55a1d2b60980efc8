"""The conversations API of a running server, for `causerie chat --server` and `causerie history --server`.

Methods mirror ``ConversationService`` (and the chat turn of ``ReplyService``) so the CLI reads the
local store and a server the same way. Failures leave as ``BackendError`` with the server's message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from causerie.cli.errors import BackendError, raise_for_event, response_error
from causerie.protocol.conversations import ConversationList, ConversationWithMessages, SearchResults
from causerie.services.conversations import ExportFormat

ModelT = TypeVar("ModelT", bound=BaseModel)


class RemoteConversations:
    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = 600) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=self.url + "/v1", headers=headers, timeout=timeout)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except httpx.TransportError as exc:
            raise BackendError(f"cannot reach the server at {self.url}: {exc}") from exc

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self._errors():
            response = self.http.request(method, path, **kwargs)
        if response.is_error:
            raise response_error(response)
        return response

    def _get(self, path: str, model: type[ModelT], **params: Any) -> ModelT:
        return model.model_validate(self._request("GET", path, params=params).json())

    # -- reading (same names as ConversationService) ------------------------------------------

    def list_page(self, limit: int = 20, after: str | None = None) -> ConversationList:
        return self._get("/conversations", ConversationList, limit=limit, **({"after": after} if after else {}))

    def get(self, conversation_id: str) -> ConversationWithMessages:
        return self._get(f"/conversations/{conversation_id}", ConversationWithMessages)

    def search(self, query: str, limit: int = 20) -> SearchResults:
        return self._get("/conversations/search", SearchResults, q=query, limit=limit)

    def export(self, conversation_id: str, fmt: ExportFormat) -> str:
        return self._request("GET", f"/conversations/{conversation_id}/export", params={"format": fmt}).text

    def export_all(self, fmt: ExportFormat) -> str:
        return self._request("GET", "/conversations/export", params={"format": fmt}).text

    # -- chatting -------------------------------------------------------------------------------

    def create(self, *, system: str | None, model: str | None) -> str:
        return self._request("POST", "/conversations", json={"system_prompt": system, "model": model}).json()["id"]

    def stream_message(self, conversation_id: str, text: str, **options: Any) -> Iterator[str]:
        """Post a message; yield the reply's text as it streams (the server stores both)."""
        body = {"content": text, "stream": True, **{k: v for k, v in options.items() if v is not None}}
        with (
            self._errors(),
            self.http.stream("POST", f"/conversations/{conversation_id}/messages", json=body) as response,
        ):
            if response.is_error:
                response.read()
                raise response_error(response)
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                raise_for_event(event)
                if event["type"] == "delta":
                    yield event["content"]

    def close(self) -> None:
        self.http.close()
