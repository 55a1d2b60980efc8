"""``causerie code generate|fix|optimize``: code work checked in the sandbox, in-process or via --server."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from causerie.cli.common import (
    ApiKeyOpt,
    JsonOpt,
    ModelOpt,
    ServerOpt,
    _backend,
    _friendly_errors,
    read_text,
    validated,
)
from causerie.protocol.code import CodeFixRequest, CodeGenerateRequest, CodeOptimizeRequest

app = typer.Typer(
    name="code", help="Generate, fix or optimize code; every result is run in a sandbox.", no_args_is_help=True
)
err_console = Console(stderr=True)

AttemptsOpt = Annotated[int | None, typer.Option("--attempts", "-n", min=1, max=10, help="Model attempts at most.")]
TestsOpt = Annotated[
    Path | None, typer.Option("--tests", help="A file of tests (e.g. asserts) run after the code.", dir_okay=False)
]
LanguageOpt = Annotated[str, typer.Option("--language", "-l", help="Programming language.")]


def _optional_text(path: Path | None, what: str) -> str | None:
    return read_text(path, what) if path is not None else None


def _run_summary(run: dict[str, Any] | None) -> str:
    if run is None:
        return "-"
    ending = f"exit {run['exit_code']}" if run["exit_code"] is not None else run["signal"]
    stopped = f", stopped: {run['stopped']}" if run["stopped"] else ""
    return f"{ending}{stopped}, {run['seconds']:.2f}s"


def _report(result: dict[str, Any], as_json: bool) -> None:
    """The final code on stdout, the attempts on stderr; exit status 1 when nothing passed."""
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        table = Table(box=None, header_style="bold")
        for column in ("attempt", "result", "run", "detail"):
            table.add_column(column)
        original = result.get("original")
        rows = ([original] if original and "attempt" in original else []) + result["attempts"]  # fix: the given code
        for attempt in rows:
            ok = attempt.get("passed", attempt.get("accepted"))
            run = attempt.get("run") or (attempt.get("measurement") or {}).get("run")
            detail = attempt.get("syntax_error") or attempt.get("reason") or ""
            label = "given" if attempt["attempt"] == 0 else str(attempt["attempt"])
            table.add_row(
                label,
                "[green]pass[/green]" if ok else "[red]fail[/red]",
                _run_summary(run),
                escape(detail.splitlines()[0] if detail else ""),
            )
        err_console.print(table)
        if original and "outputs" in original:  # optimize: the given code's own measurement
            err_console.print(f"Given code: {_run_summary(original['run'])}, {len(original['outputs'])} input(s)")
        if "speedup" in result and result["accepted"]:
            err_console.print(f"Speedup: {result['speedup']}x (same results on every input, measured in the sandbox)")
        typer.echo(result["code"].rstrip("\n"))
    if not result.get("passed", result.get("accepted")):
        raise typer.Exit(1)


@app.command()
def generate(
    description: Annotated[
        str | None, typer.Argument(help="What the code must do; read from stdin when omitted or '-'.")
    ] = None,
    tests: TestsOpt = None,
    attempts: AttemptsOpt = None,
    language: LanguageOpt = "python",
    model: ModelOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write code from a description; with --tests, retry until they pass."""
    with _friendly_errors():
        text = sys.stdin.read() if description in (None, "-") else description
        request = validated(
            CodeGenerateRequest,
            description=text,
            tests=_optional_text(tests, "tests"),
            max_attempts=attempts,
            language=language,
            model=model,
        )
    with _backend(server, api_key) as backend:
        result = backend.code("generate", request)
    _report(result, as_json)


@app.command()
def fix(
    file: Annotated[Path, typer.Argument(help="The code to fix ('-': stdin).", dir_okay=False)],
    tests: TestsOpt = None,
    error: Annotated[str | None, typer.Option("--error", "-e", help="The error message seen.")] = None,
    attempts: AttemptsOpt = None,
    language: LanguageOpt = "python",
    model: ModelOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fix code from a failing test or an error message, iterating on what running it shows."""
    with _friendly_errors():
        request = validated(
            CodeFixRequest,
            code=read_text(file, "code"),
            tests=_optional_text(tests, "tests"),
            error=error,
            max_attempts=attempts,
            language=language,
            model=model,
        )
    with _backend(server, api_key) as backend:
        result = backend.code("fix", request)
    _report(result, as_json)


@app.command()
def optimize(
    file: Annotated[Path, typer.Argument(help="The code to optimize ('-': stdin).", dir_okay=False)],
    tests: TestsOpt = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="An expression to compare and time, e.g. 'fib(25)'; repeatable."),
    ] = None,
    repeat: Annotated[int | None, typer.Option("--repeat", min=1, max=50, help="Timing runs per input.")] = None,
    attempts: AttemptsOpt = None,
    language: LanguageOpt = "python",
    model: ModelOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make code faster; accepted only if results are equal on every input and the tests pass."""
    with _friendly_errors():
        request = validated(
            CodeOptimizeRequest,
            code=read_text(file, "code"),
            tests=_optional_text(tests, "tests"),
            inputs=inputs or None,
            repeat=repeat,
            max_attempts=attempts,
            language=language,
            model=model,
        )
    with _backend(server, api_key) as backend:
        result = backend.code("optimize", request)
    _report(result, as_json)
