"""Writing replies into conversations: post, edit-as-branch, regenerate, stop.

The user's message is stored before generation starts. The reply's row is created as soon as
the prompt is ready (status ``incomplete``), its text is saved while it streams, and its final
status is written whatever happens: ``complete``, ``incomplete`` (stop, client gone, shutdown)
or ``error`` (the engine failed). Each reply runs in its own task, so a client that goes away
only cancels it, and the save in ``finally`` still runs.

Long histories: the system prompt and the newest messages that fit are sent, starting at a
user message, leaving room for the reply (``max_tokens``, or a quarter of the context window up
to ``DEFAULT_REPLY_TOKENS``). Older messages stay stored; only the prompt leaves them out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from causerie.errors import CauserieError, ContextLengthExceeded, GenerationInProgress, InvalidRequest
from causerie.language import detect_language
from causerie.principal import Principal
from causerie.protocol.conversations import (
    AssistantMessageEvent,
    DeltaEvent,
    DoneEvent,
    ErrorEvent,
    Exchange,
    GenerationOptions,
    Message,
    MessageCreate,
    StreamEvent,
    TitleEvent,
    UserMessageEvent,
)
from causerie.protocol.openai import ChatCompletionRequest, ChatMessage, ErrorBody
from causerie.services.chat import ChatService, PreparedChat
from causerie.services.conversations import conversation_out, message_out
from causerie.services.titles import fallback_title, generate_title
from causerie.store import ConversationRepository, ConversationRow, MessageRow, MessageStatus
from causerie.store.repository import path_to

log = logging.getLogger(__name__)

DEFAULT_REPLY_TOKENS = 1024
SAVE_INTERVAL_S = 0.5
"""How often a streaming reply's text is written to the database."""

_END = object()


@dataclass
class ReplyJob:
    """One reply being written; read it as events (streaming) or wait for the result."""

    principal: Principal
    conversation_id: str
    user_message: Message | None
    task: asyncio.Task[None] | None = None
    queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    failure: CauserieError | None = None

    async def events(self) -> AsyncIterator[StreamEvent]:
        """The reply's events; a reader that stops early (client gone) stops the reply, which stays stored."""
        try:
            if self.user_message is not None:
                yield UserMessageEvent(message=self.user_message)
            while (event := await self.queue.get()) is not _END:
                yield event  # type: ignore[misc]
        finally:
            if self.task is not None and not self.task.done():
                self.task.cancel()

    async def result(self, repository: ConversationRepository) -> Exchange:
        """Wait for the whole reply; an engine failure is raised after the partial reply is saved."""
        final: Message | None = None
        async for event in self.events():
            if isinstance(event, DoneEvent):
                final = event.message
        if self.failure is not None:
            raise self.failure
        if final is None:
            raise RuntimeError("a reply ended without its final message")
        conversation = await asyncio.to_thread(repository.get, self.principal, self.conversation_id)
        return Exchange(
            user_message=self.user_message, assistant_message=final, conversation=conversation_out(conversation)
        )


class ReplyService:
    """Holds the replies running in this process (one per conversation); each acts for its ``Principal``."""

    def __init__(self, chat: ChatService, repository: ConversationRepository) -> None:
        self.chat = chat
        self.repository = repository
        self._running: dict[str, asyncio.Task[None] | None] = {}

    async def _claim(self, conversation_id: str) -> None:
        """Reserve the conversation; a reply that is being stopped (client gone) is let finish first."""
        task = self._running.get(conversation_id)
        if task is not None and task.cancelling():
            await asyncio.wait({task})
        if conversation_id in self._running:
            raise GenerationInProgress(
                "A reply is already being written in this conversation; stop it or wait for it to finish."
            )
        self._running[conversation_id] = None

    async def post(self, principal: Principal, conversation_id: str, body: MessageCreate) -> ReplyJob:
        """Store the user's message (after the current one, or under ``parent_id``) and start the reply."""
        repository = self.repository
        conversation = await asyncio.to_thread(repository.get, principal, conversation_id)
        await self._claim(conversation_id)
        try:
            parent_id = body.parent_id if "parent_id" in body.model_fields_set else conversation.current_message_id
            if parent_id is not None:
                await asyncio.to_thread(repository.message, principal, conversation_id, parent_id, param="parent_id")
            user = await asyncio.to_thread(
                repository.add_message,
                principal,
                conversation_id,
                parent_id=parent_id,
                role="user",
                content=body.content,
            )
            conversation = await self._detect_language(principal, conversation, body.content)
            return await self._start(principal, conversation, user, body, user_message=message_out(user))
        except BaseException:
            self._running.pop(conversation_id, None)
            raise

    async def regenerate(
        self, principal: Principal, conversation_id: str, message_id: str, options: GenerationOptions
    ) -> ReplyJob:
        """A new reply beside ``message_id`` (an assistant message), under the same parent."""
        conversation = await asyncio.to_thread(self.repository.get, principal, conversation_id)
        old = await asyncio.to_thread(self.repository.message, principal, conversation_id, message_id)
        if old.role != "assistant" or old.parent_id is None:
            raise InvalidRequest(
                "only a reply (an assistant message that answers a message) can be regenerated",
                param="message_id",
                code="invalid_value",
            )
        await self._claim(conversation_id)
        try:
            parent = await asyncio.to_thread(self.repository.message, principal, conversation_id, old.parent_id)
            return await self._start(principal, conversation, parent, options, user_message=None)
        except BaseException:
            self._running.pop(conversation_id, None)
            raise

    async def stop(self, principal: Principal, conversation_id: str) -> bool:
        """Stop the reply being written, once its partial text is saved; False when none was running."""
        await asyncio.to_thread(self.repository.get, principal, conversation_id)
        task = self._running.get(conversation_id)
        if task is None:
            return False
        task.cancel()
        await asyncio.wait({task})
        return True

    async def aclose(self) -> None:
        """Stop every running reply (server shutdown); their text so far stays stored."""
        tasks = [task for task in self._running.values() if task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    # -- internals ----------------------------------------------------------------------------

    async def _detect_language(self, principal: Principal, conversation: ConversationRow, text: str) -> ConversationRow:
        """Record the language of the conversation's first message."""
        if conversation.language is not None:
            return conversation
        language = await asyncio.to_thread(detect_language, text)
        if language is None:
            return conversation
        return await asyncio.to_thread(self.repository.update, principal, conversation.id, language=language)

    async def _start(
        self,
        principal: Principal,
        conversation: ConversationRow,
        parent: MessageRow,
        options: GenerationOptions,
        user_message: Message | None,
    ) -> ReplyJob:
        messages = await asyncio.to_thread(self.repository.messages, principal, conversation.id)
        branch = path_to(messages, parent.id)
        prepared = await self._prepare(principal, conversation, branch, options)
        if options.model and options.model != conversation.model:  # keep the model the user picked
            await asyncio.to_thread(self.repository.update, principal, conversation.id, model=options.model)
        reply = await asyncio.to_thread(
            self.repository.add_message,
            principal,
            conversation.id,
            parent_id=parent.id,
            role="assistant",
            content="",
            model=prepared.model_id,
            status=MessageStatus.incomplete,
        )
        job = ReplyJob(principal, conversation.id, user_message)
        job.queue.put_nowait(AssistantMessageEvent(message=message_out(reply)))
        wants_title = conversation.title is None
        first_user = next((m.content for m in branch if m.role == "user"), "")
        job.task = asyncio.create_task(self._write(job, prepared, reply, wants_title, first_user))
        self._running[conversation.id] = job.task
        return job

    async def _prepare(
        self, principal: Principal, conversation: ConversationRow, branch: list[MessageRow], options: GenerationOptions
    ) -> PreparedChat:
        """The newest messages that fit with room for the reply (see the module docstring)."""
        pool = self.chat.pool
        spec = pool.resolve(options.model or conversation.model, principal)
        engine = await pool.get(spec)
        budget = options.max_tokens or min(DEFAULT_REPLY_TOKENS, engine.context_length // 4)
        system = [ChatMessage(role="system", content=conversation.system_prompt)] if conversation.system_prompt else []
        turns = [ChatMessage(role=m.role, content=m.content) for m in branch if m.content]  # type: ignore[arg-type]
        start = 0
        while True:
            request = ChatCompletionRequest(
                model=spec.id,
                messages=system + turns[start:],
                temperature=options.temperature,
                max_tokens=budget,
                stream=True,
            )
            try:
                return await self.chat.prepare(request, principal, affinity=conversation.id)  # its turns on one replica
            except ContextLengthExceeded:
                later_user = next((i for i in range(start + 1, len(turns)) if turns[i].role == "user"), None)
                if later_user is None:
                    raise
                start = later_user

    async def _write(
        self, job: ReplyJob, prepared: PreparedChat, reply: MessageRow, wants_title: bool, first_user: str
    ) -> None:
        parts: list[str] = []
        status = MessageStatus.incomplete
        saved_at = time.monotonic()
        try:
            async for chunk in self.chat.stream(prepared):
                text = "".join(choice.delta.content or "" for choice in chunk.choices)
                if not text:
                    continue
                parts.append(text)
                job.queue.put_nowait(DeltaEvent(content=text))
                if time.monotonic() - saved_at >= SAVE_INTERVAL_S:
                    await asyncio.to_thread(self.repository.save_content, job.principal, reply.id, "".join(parts))
                    saved_at = time.monotonic()
            status = MessageStatus.complete
        except asyncio.CancelledError:
            status = MessageStatus.incomplete  # stopped, or the client went away
        except CauserieError as exc:
            status, job.failure = MessageStatus.error, exc
        except Exception:
            log.exception("reply %s failed", reply.id)
            status = MessageStatus.error
            job.failure = CauserieError("The model failed while writing the reply; what it wrote so far is kept.")
        finally:
            try:
                await asyncio.to_thread(self.repository.save_content, job.principal, reply.id, "".join(parts), status)
                if job.failure is not None:
                    job.queue.put_nowait(ErrorEvent(error=ErrorBody.of(job.failure)))
                final = await asyncio.to_thread(self.repository.message, job.principal, reply.conversation_id, reply.id)
                job.queue.put_nowait(DoneEvent(message=message_out(final)))
                if wants_title and status is MessageStatus.complete:
                    title = await self._title(job.principal, prepared.model_id, job.conversation_id, first_user)
                    job.queue.put_nowait(TitleEvent(title=title))
            finally:
                self._running.pop(job.conversation_id, None)
                job.queue.put_nowait(_END)

    async def _title(self, principal: Principal, model_id: str, conversation_id: str, first_user: str) -> str:
        conversation = await asyncio.to_thread(self.repository.get, principal, conversation_id)
        try:
            title = await generate_title(self.chat, principal, model_id, conversation.language, first_user)
        except CauserieError as exc:
            log.warning("title generation failed, using the first message: %s", exc.message)
            title = fallback_title(first_user)
        await asyncio.to_thread(self.repository.update, principal, conversation_id, title=title)
        return title
