"""``causerie translate`` and ``causerie summarize``: documents from a file or stdin, with progress.

Both run the services in this process, or call ``POST /v1/translate`` / ``/v1/summarize`` on a
running server with ``--server``. The result goes to stdout (the translated document, the
summary, or ``--json``); progress and warnings go to stderr, so pipes stay clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from causerie.cli.common import (
    ApiKeyOpt,
    JsonOpt,
    ModelOpt,
    ServerOpt,
    _backend,
    console,
    err_console,
    read_text,
    validated,
)
from causerie.errors import InvalidRequest
from causerie.protocol.text import (
    SummarizeProgress,
    SummarizeRequest,
    Summary,
    TranslateProgress,
    TranslateRequest,
    Translation,
)

InputArg = Annotated[str, typer.Argument(metavar="[FILE|-]", help="The document; '-' or nothing reads stdin.")]


def default_target() -> str:
    """The user's language from the locale (LC_ALL, LC_MESSAGES, LANG); English for C/POSIX or none."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        code = os.environ.get(name, "").split(".")[0].split("_")[0]
        if code and code not in ("C", "POSIX"):
            return code
    return "en"


def _with_progress(events: Iterator[Any], label: str) -> Any:
    """Show a progress bar on stderr while the events arrive; return the last event (the result)."""
    result = None
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None)
        for event in events:
            if isinstance(event, TranslateProgress):
                progress.update(task, completed=event.done, total=event.total)
            elif isinstance(event, SummarizeProgress):
                stage = {"map": "reading", "reduce": f"condensing (round {event.level})", "final": "writing"}[
                    event.stage
                ]
                progress.update(task, description=f"{label}: {stage}", completed=event.done, total=event.total)
            result = event
    return result


def _glossary(entries: list[str]) -> dict[str, str]:
    glossary: dict[str, str] = {}
    for entry in entries:
        source, sep, target = entry.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise InvalidRequest(f"glossary entry '{entry}' must look like TERM=TRANSLATION")
        glossary[source.strip()] = target.strip()
    return glossary


def translate(
    source: InputArg = "-",
    to: Annotated[
        str | None, typer.Option("--to", "-t", help="Target language: code or name (default: your locale's).")
    ] = None,
    from_: Annotated[str | None, typer.Option("--from", "-f", help="Source language (default: detected).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, text, markdown or html.")] = "auto",
    formality: Annotated[str | None, typer.Option(help="formal or informal (vous/tu, keigo/plain form).")] = None,
    glossary: Annotated[
        list[str] | None,
        typer.Option(
            "--glossary", "-g", metavar="TERM=TRANSLATION", help="A required translation; repeat for several."
        ),
    ] = None,
    side_by_side: Annotated[
        bool, typer.Option("--side-by-side", help="Show source and translation segment by segment.")
    ] = False,
    as_json: JsonOpt = False,
    model: ModelOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Translate a text, Markdown or HTML document; code, URLs, tags and placeholders are kept as they are."""
    with _backend(server, api_key) as backend:
        request: TranslateRequest = validated(
            TranslateRequest,
            text=read_text(source, "document"),
            target_language=to or default_target(),
            source_language=from_,
            format=fmt,
            formality=formality,
            glossary=_glossary(glossary or []),
            model=model,
        )

        result: Translation = _with_progress(backend.translate(request), "Translating")
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    if side_by_side:
        table = Table(show_lines=True, header_style="bold")
        table.add_column(f"{result.source_language}", ratio=1)
        table.add_column(f"{result.target_language}", ratio=1)
        for segment in result.segments:
            if segment.translated:
                table.add_row(escape(segment.source.strip()), escape(segment.translation.strip()))
        console.print(table)
    else:
        sys.stdout.write(result.text if result.text.endswith("\n") else result.text + "\n")
    for segment in result.segments:
        problems = [f"lost {piece!r}" for piece in segment.missing]
        problems += [f"'{g.source}' not translated as '{g.target}'" for g in segment.glossary if not g.found]
        if problems:
            err_console.print(
                f"[yellow]Segment {segment.index}:[/yellow] {escape('; '.join(problems))}", soft_wrap=True
            )


def summarize(
    source: InputArg = "-",
    length: Annotated[str, typer.Option("--length", "-l", help="short, medium or long.")] = "medium",
    lang: Annotated[
        str | None, typer.Option("--lang", help="Language of the summary (default: the document's).")
    ] = None,
    as_json: JsonOpt = False,
    model: ModelOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Summarize a document of any length (read in chunks and condensed when it exceeds the model's context)."""
    with _backend(server, api_key) as backend:
        request: SummarizeRequest = validated(
            SummarizeRequest, text=read_text(source, "document"), length=length, language=lang, model=model
        )

        result: Summary = _with_progress(backend.summarize(request), "Summarizing")
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    typer.echo(result.summary)
    how = "one pass" if result.chunks == 1 else f"{result.chunks} chunks, {result.levels} reduce round(s)"
    err_console.print(
        f"[dim]{how}; language {result.language or 'unknown'}{' (translated)' if result.translated else ''}[/dim]"
    )
