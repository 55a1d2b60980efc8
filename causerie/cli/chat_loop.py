"""Conversations in the terminal: streaming one reply, the interactive loop and the piped loop.

Each chat is stored like the web UI's (in this process's store, or the server's with --server):
the conversation is created with the first message, and /reset starts a new one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape

from causerie.cli.backend import Backend, BackendError
from causerie.errors import CauserieError

EXIT_COMMANDS = {"/exit", "/quit", "/bye"}
HELP_TEXT = "Commands: /reset clears the conversation, /exit or /quit (or Ctrl-D) leaves, /help shows this."


@dataclass(frozen=True)
class Options:
    """What every turn sends besides the messages."""

    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass
class Conversation:
    """The stored conversation being continued (None until the first message), with the system prompt."""

    system: str | None = None
    id: str | None = field(default=None, init=False)

    def reset(self) -> None:
        self.id = None


def stream_reply(backend: Backend, messages: list[dict], options: Options) -> str:
    """One stateless reply to ``messages`` (not stored), written as it arrives; returns its text."""
    return write_stream(
        backend.stream_chat(
            messages, model=options.model, temperature=options.temperature, max_tokens=options.max_tokens
        )
    )


def write_stream(pieces: Iterator[str]) -> str:
    """Write the reply to stdout as it arrives, end it with a newline, and return its text."""
    parts: list[str] = []
    try:
        for piece in pieces:
            parts.append(piece)
            sys.stdout.write(piece)
            sys.stdout.flush()
    except BaseException:
        if parts:  # leave the terminal on a fresh line before the error is shown
            sys.stdout.write("\n")
            sys.stdout.flush()
        raise
    sys.stdout.write("\n")
    sys.stdout.flush()
    return "".join(parts)


def _turn(backend: Backend, conversation: Conversation, text: str, options: Options) -> None:
    """One user message and its reply, both stored (a failed or interrupted reply is kept, marked)."""
    if conversation.id is None:
        conversation.id = backend.create_conversation(system=conversation.system, model=options.model)
    write_stream(
        backend.stream_message(
            conversation.id, text, model=options.model, temperature=options.temperature, max_tokens=options.max_tokens
        )
    )


def _command(line: str, conversation: Conversation, status: Console) -> bool | None:
    """Handle a slash command: True to stop, False when handled, None when ``line`` is a message."""
    word = line.strip().lower()
    if word in EXIT_COMMANDS:
        return True
    if word == "/reset":
        conversation.reset()
        status.print("[dim]Conversation cleared.[/dim]")
        return False
    if word in {"/help", "/?"}:
        status.print(f"[dim]{HELP_TEXT}[/dim]")
        return False
    return None


def piped_chat(backend: Backend, lines: Iterable[str], conversation: Conversation, options: Options) -> None:
    """Each non-empty line is one user turn; replies go to stdout, nothing else does.

    Errors propagate: a script should see the failure in the exit status.
    """
    status = Console(stderr=True)
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        handled = _command(line, conversation, status)
        if handled:
            return
        if handled is None:
            _turn(backend, conversation, line, options)


def interactive_chat(backend: Backend, conversation: Conversation, options: Options, console: Console) -> None:
    """Prompt, stream, repeat. A failed turn is reported and forgotten; Ctrl-C stops a reply."""
    status = Console(stderr=True)
    while True:
        try:
            line = console.input("[bold cyan]>>> [/bold cyan]")
        except EOFError:
            console.print()
            return
        except KeyboardInterrupt:
            console.print()
            return
        if not line.strip():
            continue
        handled = _command(line, conversation, status)
        if handled:
            return
        if handled is not None:
            continue
        try:
            _turn(backend, conversation, line.strip(), options)
        except KeyboardInterrupt:
            status.print("[dim](reply interrupted)[/dim]")
        except (CauserieError, BackendError) as exc:
            status.print(f"[red]Error:[/red] {escape(exc.message)}", soft_wrap=True)
