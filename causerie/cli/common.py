"""What every command shares: consoles, readable errors, the backend and the --server/--api-key options."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape

from causerie.cli.backend import Backend, BackendError, open_backend
from causerie.errors import CauserieError, InvalidRequest

RequestT = TypeVar("RequestT", bound=BaseModel)

console = Console()
err_console = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]Error:[/bold red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _settings_problem(exc: ValidationError) -> str:
    details = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
    return f"invalid settings: {details}"


@contextmanager
def _friendly_errors() -> Iterator[None]:
    """Expected failures become one red line on stderr and a non-zero exit status, never a traceback."""
    try:
        yield
    except (CauserieError, BackendError) as exc:
        raise _fail(exc.message) from None
    except ValidationError as exc:
        raise _fail(_settings_problem(exc), 2) from None
    except KeyboardInterrupt:
        err_console.print("[dim]Interrupted.[/dim]")
        raise typer.Exit(130) from None


@contextmanager
def _backend(server: str | None, api_key: str | None) -> Iterator[Backend]:
    logger = logging.getLogger("causerie")
    level = logger.level
    if not server:  # in-process: discovery warnings stay quiet; `models` shows problems itself
        logger.setLevel(logging.ERROR)
    try:
        with _friendly_errors():
            backend = open_backend(server, api_key)
            try:
                yield backend
            finally:
                backend.close()
    finally:
        logger.setLevel(level)


ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="CAUSERIE_SERVER",
        help="URL of a running Causerie server (e.g. http://127.0.0.1:8000); default: run the models in this process.",
    ),
]
ApiKeyOpt = Annotated[str | None, typer.Option("--api-key", envvar="CAUSERIE_API_KEY", help="API key for --server.")]
ModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="Model id (see `causerie models`); default: the server's default.")
]
SystemOpt = Annotated[str | None, typer.Option("--system", "-s", help="System prompt that steers every reply.")]
TemperatureOpt = Annotated[
    float | None,
    typer.Option("--temperature", "-t", min=0.0, max=2.0, help="Sampling temperature, 0 to 2 (0: greedy)."),
]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-tokens", min=1, help="Longest reply, in tokens.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the whole result as JSON.")]


def read_text(source: str | Path, what: str = "input") -> str:
    """The UTF-8 text of a file (``-``: stdin), or one readable error: unreadable, binary, not UTF-8, empty."""
    name = "stdin" if str(source) == "-" else f"the {what} file {source}"
    if str(source) == "-" and sys.stdin.isatty():
        raise InvalidRequest(f"no {what}: give a FILE, or pipe the text in")
    try:
        data = sys.stdin.buffer.read() if str(source) == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise InvalidRequest(f"cannot read {name}: {exc.strerror or exc}") from exc
    if b"\x00" in data:
        raise InvalidRequest(f"{name} is a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"{name} is not UTF-8 text (undecodable byte at offset {exc.start})") from exc
    if not text.strip():
        raise InvalidRequest(f"{name} is empty: there is nothing to process")
    return text


def validated(schema: type[RequestT], **fields: Any) -> RequestT:
    """A request model built from CLI values (None: not given), checked before any model runs."""
    try:
        return schema(**{key: value for key, value in fields.items() if value is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise InvalidRequest(f"invalid {where}: {first['msg']}" if where else first["msg"]) from None
