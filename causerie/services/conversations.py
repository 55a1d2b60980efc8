"""Conversations as the product sees them: create, list, read, rename, branch, delete, search, export, import.

Writing replies lives in ``services/replies.py``; this module never calls a model. Methods are
synchronous (short database transactions): the API runs them in its thread pool.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from causerie.errors import InvalidRequest
from causerie.principal import Principal
from causerie.protocol.conversations import (
    Conversation,
    ConversationCreate,
    ConversationDeleted,
    ConversationExport,
    ConversationList,
    ConversationUpdate,
    ConversationWithMessages,
    ImportResult,
    Message,
    SearchResult,
    SearchResults,
)
from causerie.services.chatgpt_import import parse_chatgpt_export
from causerie.store import ConversationRepository, ConversationRow, MessageRow
from causerie.store.repository import new_id, path_to
from causerie.store.search import search_key, snippet

ExportFormat = Literal["json", "markdown"]


def conversation_out(row: ConversationRow) -> Conversation:
    return Conversation(
        id=row.id,
        title=row.title,
        model=row.model,
        system_prompt=row.system_prompt,
        language=row.language,
        created_at=int(row.created_at),
        updated_at=int(row.updated_at),
        current_message_id=row.current_message_id,
    )


def message_out(row: MessageRow, children: Iterable[str] = ()) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        parent_id=row.parent_id,
        role=row.role,  # type: ignore[arg-type]
        content=row.content,
        model=row.model,
        status=row.status,  # type: ignore[arg-type]
        created_at=int(row.created_at),
        children=list(children),
    )


def tree_out(row: ConversationRow, messages: list[MessageRow]) -> ConversationWithMessages:
    children: dict[str | None, list[str]] = defaultdict(list)
    for message in messages:  # oldest first, so each list is in creation order
        children[message.parent_id].append(message.id)
    return ConversationWithMessages(
        **conversation_out(row).model_dump(),
        messages=[message_out(message, children[message.id]) for message in messages],
    )


def _markdown(conversation: ConversationWithMessages) -> str:
    """The branch being shown (root to ``current_message_id``) as a readable document."""
    by_id = {message.id: message for message in conversation.messages}
    branch: list[Message] = []
    leaf = conversation.current_message_id
    while leaf is not None and leaf in by_id:
        branch.append(by_id[leaf])
        leaf = by_id[leaf].parent_id
    created = datetime.fromtimestamp(conversation.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    details = " · ".join(filter(None, [created, conversation.model, conversation.language]))
    lines = [f"# {conversation.title or 'Untitled conversation'}", "", f"*{details}*", ""]
    if conversation.system_prompt:
        lines += ["## System", "", conversation.system_prompt, ""]
    for message in reversed(branch):
        note = "" if message.status == "complete" else f" ({message.status})"
        lines += [f"## {message.role.capitalize()}{note}", "", message.content, ""]
    return "\n".join(lines)


class ConversationService:
    """Every method acts for a ``Principal``: the repository shows it only its own conversations."""

    def __init__(self, repository: ConversationRepository) -> None:
        self.repository = repository

    def create(self, principal: Principal, body: ConversationCreate) -> Conversation:
        row = self.repository.create(principal, title=body.title, model=body.model, system_prompt=body.system_prompt)
        return conversation_out(row)

    def list_page(self, principal: Principal, limit: int = 20, after: str | None = None) -> ConversationList:
        rows, has_more = self.repository.page(principal, limit, after)
        return ConversationList(data=[conversation_out(row) for row in rows], has_more=has_more)

    def get(self, principal: Principal, conversation_id: str) -> ConversationWithMessages:
        row = self.repository.get(principal, conversation_id)
        return tree_out(row, self.repository.messages(principal, conversation_id))

    def branch(self, principal: Principal, conversation_id: str) -> list[Message]:
        """The messages of the branch being shown, root first."""
        row = self.repository.get(principal, conversation_id)
        messages = self.repository.messages(principal, conversation_id)
        return [message_out(m) for m in path_to(messages, row.current_message_id)]

    def update(self, principal: Principal, conversation_id: str, body: ConversationUpdate) -> Conversation:
        changes = body.model_dump(include=body.model_fields_set)
        if changes.get("title", "") is None:
            raise InvalidRequest("title cannot be null", param="title", code="invalid_value")
        if changes.get("current_message_id") is not None:
            self.repository.message(
                principal, conversation_id, changes["current_message_id"], param="current_message_id"
            )
        else:
            self.repository.get(principal, conversation_id)
        return conversation_out(self.repository.update(principal, conversation_id, **changes))

    def delete(self, principal: Principal, conversation_id: str) -> ConversationDeleted:
        self.repository.delete(principal, conversation_id)
        return ConversationDeleted(id=conversation_id)

    def search(self, principal: Principal, query: str, limit: int = 20) -> SearchResults:
        if not search_key(query).strip():
            raise InvalidRequest("the search query is empty", param="q", code="invalid_value")
        hits = self.repository.search(principal, query, limit)
        return SearchResults(
            data=[
                SearchResult(
                    conversation_id=hit.conversation_id,
                    conversation_title=hit.conversation_title,
                    message_id=hit.message_id,
                    role=hit.role,  # type: ignore[arg-type]
                    snippet=snippet(hit.content, query),
                    created_at=int(hit.created_at),
                )
                for hit in hits
            ]
        )

    def export(self, principal: Principal, conversation_id: str, fmt: ExportFormat) -> str:
        conversation = self.get(principal, conversation_id)
        if fmt == "markdown":
            return _markdown(conversation)
        return conversation.model_dump_json(indent=2)

    def export_all(self, principal: Principal, fmt: ExportFormat) -> str:
        conversations = [self.get(principal, conversation_id) for conversation_id in self.repository.all_ids(principal)]
        if fmt == "markdown":
            return "\n---\n\n".join(_markdown(conversation) for conversation in conversations)
        return ConversationExport(data=conversations).model_dump_json(indent=2)

    def import_chatgpt(self, principal: Principal, data: object) -> ImportResult:
        """Store every conversation of a ChatGPT ``conversations.json`` (validated whole before storing any)."""
        imported = []
        for item in parse_chatgpt_export(data):
            row = ConversationRow(
                id=new_id("conv"),
                title=item.title,
                model=None,  # the export's models (gpt-4o…) are not served here
                system_prompt=None,
                language=item.language,
                created_at=item.created_at,
                updated_at=item.updated_at,
            )
            self.repository.add_tree(principal, row, item.messages, item.current)
            imported.append(conversation_out(row))
        return ImportResult(imported=len(imported), conversations=imported)
