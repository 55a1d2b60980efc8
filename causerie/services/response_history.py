"""A stored response chain as a conversation, so the web UI and ``causerie history`` show it like any other.

The first stored response of a chain opens a conversation (its instructions as the system prompt, titled
after the first user message); each response adds its input messages (user and assistant text) and then its
answer's text under the message the response before it ended on. Function calls and their outputs are not
shown there (the conversation holds text turns); the context of ``previous_response_id`` comes from the
responses table, not from these messages. A conversation deleted in the UI only stops the mirroring: the next
response of the chain opens a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from causerie.language import detect_language
from causerie.principal import Principal
from causerie.protocol.responses import InputItem, MessageItem
from causerie.services.titles import fallback_title
from causerie.store import ConversationRepository, MessageStatus, ResponseRow
from causerie.store.models import ConversationRow


@dataclass(frozen=True)
class Place:
    """Where a response's messages go: the conversation, and the message they follow."""

    conversation_id: str
    message_id: str | None


class ResponseHistory:
    def __init__(self, conversations: ConversationRepository) -> None:
        self.conversations = conversations

    def add_input(
        self,
        principal: Principal,
        previous: ResponseRow | None,
        items: list[InputItem],
        *,
        model: str,
        instructions: str | None,
    ) -> Place:
        """Store the input messages of a response; a chain's first response opens its conversation."""
        turns = [item for item in items if isinstance(item, MessageItem) and item.role in ("user", "assistant")]
        place = self._continued(previous) or self._opened(principal, turns, model, instructions)
        leaf = place.message_id
        for turn in turns:
            leaf = self.conversations.add_message(
                principal, place.conversation_id, parent_id=leaf, role=turn.role, content=turn.text()
            ).id
        return Place(place.conversation_id, leaf)

    def add_answer(self, principal: Principal, place: Place, text: str, *, model: str, status: MessageStatus) -> Place:
        """Store the answer's text (nothing for an answer that is only function calls)."""
        if not text:
            return place
        message = self.conversations.add_message(
            principal,
            place.conversation_id,
            parent_id=place.message_id,
            role="assistant",
            content=text,
            model=model,
            status=status,
        )
        return Place(place.conversation_id, message.id)

    def _continued(self, previous: ResponseRow | None) -> Place | None:
        if previous is None or previous.conversation_id is None:
            return None
        return Place(previous.conversation_id, previous.message_id)

    def _opened(self, principal: Principal, turns: list[MessageItem], model: str, instructions: str | None) -> Place:
        first = next((turn.text() for turn in turns if turn.role == "user"), "")
        row: ConversationRow = self.conversations.create(
            principal,
            title=fallback_title(first),
            model=model,
            system_prompt=instructions,
            language=detect_language(first) if first else None,
        )
        return Place(row.id, None)
