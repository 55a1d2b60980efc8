"""The ``causerie`` command: serve the API, chat, answer one prompt, list models."""

from __future__ import annotations

import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from causerie import __version__
from causerie.cli import code as code_cli
from causerie.cli import eval as eval_cli
from causerie.cli import text as text_cli
from causerie.cli.admin import admin_app
from causerie.cli.backend import BackendError, ModelRow
from causerie.cli.chat_loop import HELP_TEXT, Conversation, Options, interactive_chat, piped_chat, stream_reply
from causerie.cli.common import (
    ApiKeyOpt,
    MaxTokensOpt,
    ModelOpt,
    ServerOpt,
    SystemOpt,
    TemperatureOpt,
    _backend,
    _fail,
    _friendly_errors,
    console,
    err_console,
)
from causerie.cli.history import history_app
from causerie.cli.localize import localize
from causerie.cli.settings import cli_settings
from causerie.config import Settings
from causerie.models.registry import ModelRegistry

app = typer.Typer(
    name="causerie",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"causerie {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Causerie: a self-hosted, multilingual chat server with an OpenAI-compatible API, on llama.cpp.

    Without --server, chat, run and models load the models in this process; with --server URL (or CAUSERIE_SERVER) they talk to a running `causerie serve`.
    """


# ---------------------------------------------------------------- serve


def _describe(field: str) -> str:
    """Help text for a serve flag, from the Settings field it overrides (one source of truth)."""
    info = Settings.model_fields[field]
    text = info.description or field
    if info.default is not None and not callable(info.default):
        text += f" (default: {info.default})"
    return text + f" Env: CAUSERIE_{field.upper()}."


class LogLevel(str, Enum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


def _serve_settings(
    overrides: dict[str, Any], model_paths: list[Path], api_keys: list[str], upstreams: list[str]
) -> Settings:
    """Settings from the environment, with the flags that were given on top."""
    settings = cli_settings(**overrides, api_keys=list(api_keys) or None)
    if model_paths or upstreams:  # added to CAUSERIE_MODEL_PATHS and CAUSERIE_UPSTREAMS, not instead of them
        settings = settings.model_copy(
            update={
                "model_paths": [*settings.model_paths, *model_paths],
                "upstreams": [*settings.upstreams, *upstreams],
            }
        )
    return settings


def _print_banner(settings: Settings, registry: ModelRegistry) -> None:
    url = f"http://{settings.host}:{settings.port}"
    console.print(
        f"[bold]Causerie {__version__}[/bold] on [link={url}]{url}[/link]  (OpenAI base URL: {url}/v1)", soft_wrap=True
    )
    console.print(f"Default model: [bold]{escape(registry.default_id or 'none')}[/bold]")
    names = ", ".join(spec.id for spec in registry.list()) or "none"
    console.print(f"Models: {escape(names)}", soft_wrap=True)
    for model_id, problem in registry.problems.items():
        err_console.print(f"[yellow]Unavailable:[/yellow] {escape(model_id)}: {escape(problem)}", soft_wrap=True)
    if settings.api_keys:
        console.print(f"API keys required: {len(settings.api_keys)} configured")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help=_describe("host"))] = None,
    port: Annotated[int | None, typer.Option(help=_describe("port"))] = None,
    model: Annotated[
        list[Path] | None,
        typer.Option(
            "--model",
            "-m",
            metavar="PATH",
            exists=True,
            dir_okay=False,
            readable=True,
            help="A GGUF file to serve; repeat for several. Added to CAUSERIE_MODEL_PATHS.",
        ),
    ] = None,
    models_dir: Annotated[Path | None, typer.Option(exists=True, file_okay=False, help=_describe("models_dir"))] = None,
    default_model: Annotated[str | None, typer.Option(help=_describe("default_model"))] = None,
    context_length: Annotated[int | None, typer.Option(help=_describe("context_length"))] = None,
    parallel: Annotated[int | None, typer.Option(help=_describe("parallel"))] = None,
    threads: Annotated[int | None, typer.Option(help=_describe("threads"))] = None,
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            "--api-key",
            metavar="KEY",
            help="Require this API key (Bearer token); repeat for several. Env: CAUSERIE_API_KEYS.",
        ),
    ] = None,
    upstream: Annotated[
        list[str] | None,
        typer.Option(
            "--upstream",
            metavar="URL",
            help="Serve the models of this OpenAI-compatible server too (a base URL such as "
            "http://gpu-a:8000/v1: vLLM, SGLang, llama-server, another Causerie); repeat for several, and "
            "servers of the same model become replicas. Added to CAUSERIE_UPSTREAMS.",
        ),
    ] = None,
    upstream_key_env: Annotated[str | None, typer.Option(metavar="NAME", help=_describe("upstream_key_env"))] = None,
    engines_file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, readable=True, help=_describe("engines_file"))
    ] = None,
    log_level: Annotated[LogLevel, typer.Option(help="Server log level.")] = LogLevel.info,
) -> None:
    """Start the OpenAI-compatible HTTP server (API at /v1)."""
    import uvicorn

    from causerie.api.app import create_app
    from causerie.store import Database, database_url

    logging.basicConfig(level=log_level.value.upper(), format="%(levelname)s:  %(name)s: %(message)s")
    with _friendly_errors():
        settings = _serve_settings(
            dict(
                host=host,
                port=port,
                models_dir=models_dir,
                default_model=default_model,
                context_length=context_length,
                parallel=parallel,
                threads=threads,
                upstream_key_env=upstream_key_env,
                engines_file=engines_file,
            ),
            model or [],
            api_key or [],
            upstream or [],
        )
        registry = ModelRegistry.discover(settings)
        Database.open(database_url(settings)).close()  # migrated now; a bad URL is one line, not a traceback
    _print_banner(settings, registry)
    uvicorn.run(create_app(settings, registry), host=settings.host, port=settings.port, log_level=log_level.value)


# ---------------------------------------------------------------- client commands


def _check_model(rows: list[ModelRow], model: str | None) -> str:
    """The model the chat will use, failing early on an unknown id."""
    ids = [row.id for row in rows]
    if model:
        if model not in ids:
            raise BackendError(f"The model '{model}' does not exist; available models: {', '.join(ids) or 'none'}")
        return model
    return next((row.id for row in rows if row.default), "the default model")


@app.command()
def chat(
    model: ModelOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    system: SystemOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
) -> None:
    """Chat in the terminal, replies streamed as they are written.

    /reset clears the conversation; /exit, /quit or Ctrl-D leaves.

    With piped input, each non-empty line is one message of the same conversation and only the replies are printed.
    """
    options = Options(model=model, temperature=temperature, max_tokens=max_tokens)
    conversation = Conversation(system=system)
    with _backend(server, api_key) as backend:
        if not sys.stdin.isatty():
            piped_chat(backend, sys.stdin, conversation, options)
            return
        name = _check_model(backend.models(), model)
        where = server or "this process"
        console.print(f"[bold]Causerie[/bold] chat with [bold]{escape(name)}[/bold] ({escape(where)})")
        console.print(f"[dim]{HELP_TEXT}[/dim]")
        interactive_chat(backend, conversation, options, console)


@app.command()
def run(
    prompt: Annotated[str | None, typer.Argument(help="The prompt; read from stdin when omitted or '-'.")] = None,
    model: ModelOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    system: SystemOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
) -> None:
    """Answer one prompt, streamed to stdout as plain text."""
    text = sys.stdin.read() if prompt in (None, "-") else prompt
    if not text or not text.strip():
        raise _fail("no prompt: give one as an argument or on stdin", 2)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text.strip()}]
    with _backend(server, api_key) as backend:
        stream_reply(backend, messages, Options(model=model, temperature=temperature, max_tokens=max_tokens))


@app.command()
def models(
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the models as JSON.")] = False,
) -> None:
    """List the models that can answer (the default one is marked); unavailable ones go to stderr."""
    with _backend(server, api_key) as backend:
        rows, problems = backend.models(), backend.problems()
    if as_json:
        typer.echo(json.dumps([row.to_dict() for row in rows], indent=2))
    else:
        table = Table(box=None, header_style="bold")
        table.add_column("", width=1)
        table.add_column("ID", no_wrap=True)
        table.add_column("Context", justify="right")
        table.add_column("Source")
        table.add_column("Description")
        for row in rows:
            context = str(row.context_length) if row.context_length else "-"
            table.add_row("*" if row.default else "", row.id, context, row.source, row.description)
        console.print(table)
        if any(row.default for row in rows):
            console.print("[dim]* default model[/dim]")
    for model_id, problem in problems.items():
        err_console.print(f"[yellow]Unavailable:[/yellow] {escape(model_id)}: {escape(problem)}", soft_wrap=True)


app.add_typer(history_app)
app.add_typer(admin_app)
app.add_typer(code_cli.app)
app.command(name="eval")(eval_cli.eval_command)
app.command()(text_cli.translate)
app.command()(text_cli.summarize)
app.command()(localize)
