"""`causerie history list|show|search|export`: the stored conversations, from this machine's store or a server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Protocol

import typer
from rich.markup import escape
from rich.table import Table

from causerie.cli.common import ApiKeyOpt, ServerOpt, _fail, _friendly_errors, console, err_console
from causerie.cli.remote_conversations import RemoteConversations
from causerie.cli.settings import cli_settings
from causerie.principal import PERSONAL, Principal
from causerie.protocol.conversations import ConversationList, ConversationWithMessages, SearchResults
from causerie.services.container import Container
from causerie.services.conversations import ConversationService, ExportFormat

history_app = typer.Typer(
    name="history",
    help="Read the stored conversations (the same ones the web UI and the API show).",
    no_args_is_help=True,
)


class HistorySource(Protocol):
    """What ``ConversationService`` (this machine's store) and ``RemoteConversations`` (a server) share."""

    def list_page(self, limit: int = 20, after: str | None = None) -> ConversationList: ...

    def get(self, conversation_id: str) -> ConversationWithMessages: ...

    def search(self, query: str, limit: int = 20) -> SearchResults: ...

    def export(self, conversation_id: str, fmt: ExportFormat) -> str: ...

    def export_all(self, fmt: ExportFormat) -> str: ...


class LocalHistory:
    """This machine's store, read as ``principal`` (the CLI acts as ``PERSONAL``, the operator's own data)."""

    def __init__(self, service: ConversationService, principal: Principal) -> None:
        self.service = service
        self.principal = principal

    def list_page(self, limit: int = 20, after: str | None = None) -> ConversationList:
        return self.service.list_page(self.principal, limit, after)

    def get(self, conversation_id: str) -> ConversationWithMessages:
        return self.service.get(self.principal, conversation_id)

    def search(self, query: str, limit: int = 20) -> SearchResults:
        return self.service.search(self.principal, query, limit)

    def export(self, conversation_id: str, fmt: ExportFormat) -> str:
        return self.service.export(self.principal, conversation_id, fmt)

    def export_all(self, fmt: ExportFormat) -> str:
        return self.service.export_all(self.principal, fmt)


class Format(str, Enum):
    json = "json"
    markdown = "markdown"


@contextmanager
def _history(server: str | None, api_key: str | None) -> Iterator[HistorySource]:
    with _friendly_errors():
        if server:
            remote = RemoteConversations(server, api_key)
            try:
                yield remote
            finally:
                remote.close()
            return
        container = Container(cli_settings())
        try:
            yield LocalHistory(container.conversations, PERSONAL)
        finally:
            container.close_store()


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, max=100, help="How many to show.")]


@history_app.command("list")
def list_conversations(
    server: ServerOpt = None, api_key: ApiKeyOpt = None, limit: LimitOpt = 20, as_json: JsonOpt = False
) -> None:
    """The latest conversations, newest first."""
    with _history(server, api_key) as source:
        page = source.list_page(limit)
    if as_json:
        typer.echo(page.model_dump_json(indent=2))
        return
    if not page.data:
        err_console.print("[dim]No conversations yet.[/dim]")
        return
    table = Table(box=None, header_style="bold")
    table.add_column("ID", no_wrap=True, min_width=max(len(item.id) for item in page.data))  # copyable, never cut
    for column in ("Updated", "Lang", "Title"):
        table.add_column(column, no_wrap=column != "Title")
    for item in page.data:
        table.add_row(item.id, _when(item.updated_at), item.language or "", escape(item.title or "(untitled)"))
    console.print(table)
    if page.has_more:
        err_console.print(f"[dim]Showing the {limit} most recent; use --limit for more.[/dim]")


@history_app.command()
def show(
    conversation_id: Annotated[str, typer.Argument(help="Conversation id (see `causerie history list`).")],
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every branch as JSON.")] = False,
) -> None:
    """One conversation: the branch being shown, oldest message first."""
    with _history(server, api_key) as source:
        conversation = source.get(conversation_id)
    if as_json:
        typer.echo(conversation.model_dump_json(indent=2))
        return
    console.print(f"[bold]{escape(conversation.title or '(untitled)')}[/bold]  [dim]{conversation.id}[/dim]")
    by_id = {message.id: message for message in conversation.messages}
    branch, leaf = [], conversation.current_message_id
    while leaf is not None and leaf in by_id:
        branch.append(by_id[leaf])
        leaf = by_id[leaf].parent_id
    for message in reversed(branch):
        note = "" if message.status == "complete" else f" [yellow]({message.status})[/yellow]"
        style = "cyan" if message.role == "user" else "green"
        console.print(f"\n[bold {style}]{message.role}[/bold {style}]{note}")
        console.print(escape(message.content), soft_wrap=True)


@history_app.command()
def search(
    query: Annotated[str, typer.Argument(help="Text to find (case and accents ignored; works without spaces).")],
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    limit: LimitOpt = 20,
    as_json: JsonOpt = False,
) -> None:
    """Messages of every conversation that contain the text."""
    with _history(server, api_key) as source:
        results = source.search(query, limit)
    if as_json:
        typer.echo(results.model_dump_json(indent=2))
        return
    if not results.data:
        err_console.print(f"[dim]Nothing found for {escape(query)!r}.[/dim]")
        raise typer.Exit(1)
    for hit in results.data:
        title = escape(hit.conversation_title or "(untitled)")
        console.print(f"[bold]{title}[/bold]  [dim]{hit.conversation_id} · {hit.role} · {_when(hit.created_at)}[/dim]")
        console.print(f"  {escape(hit.snippet)}", soft_wrap=True)


@history_app.command()
def export(
    conversation_id: Annotated[
        str | None, typer.Argument(help="One conversation; every conversation when omitted.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="json (every branch) or markdown.")] = Format.json,
    output: Annotated[Path | None, typer.Option("--output", "-o", dir_okay=False, help="Write to this file.")] = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Export conversations as JSON or Markdown (to stdout or a file)."""
    with _history(server, api_key) as source:
        if conversation_id:
            text = source.export(conversation_id, fmt.value)
        else:
            text = source.export_all(fmt.value)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror}") from None
    err_console.print(f"Wrote {escape(str(output))}")
