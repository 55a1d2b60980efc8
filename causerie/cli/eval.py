"""``causerie eval``: run a benchmark suite on a model in this process; table, progress, JSON report.

The suites' data sets and metrics come from the ``eval`` extra; the runner is imported only once the
extra is known to be installed, so that the rest of the CLI (and the server) never loads them.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from causerie.cli import backend
from causerie.cli.common import ModelOpt, _friendly_errors
from causerie.cli.settings import cli_settings
from causerie.config import Settings
from causerie.extras import require_extra
from causerie.services.container import Container
from causerie.services.evals.base import EvalContext, EvalSuite, ItemResult, SuiteReport

console = Console(stderr=True)


def _table(report: SuiteReport) -> Table:
    table = Table(title=f"{report.suite} on {report.model}", header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in report.metrics.items():
        table.add_row(escape(name), f"{value:.4f}")
    table.add_row("items", str(len(report.items)))
    table.add_row("seconds", f"{report.seconds:.1f}")
    return table


async def _evaluate(
    settings: Settings, suite: EvalSuite, model: str | None, limit: int | None, concurrency: int
) -> SuiteReport:
    from causerie.services.evals.runner import run_suite

    container = Container(settings, backend.discover_registry(settings))  # tests replace discovery
    pool = container.pool
    try:
        spec = pool.registry.resolve(model)
        await pool.get(spec)  # load (or fail) before the progress bar starts
        context = EvalContext.of(container, spec.id)
        total = suite.size() if limit is None else min(limit, suite.size())
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"{suite.name} · {spec.id}", total=total)

            def advance(item: ItemResult) -> None:
                progress.advance(task)
                if not console.is_terminal:  # logs get one line per item instead of a live bar
                    done = int(progress.tasks[0].completed)
                    scores = ", ".join(f"{name}={value:g}" for name, value in item.scores.items())
                    console.print(f"[{done}/{total}] {escape(item.id)} {escape(scores)}")

            return await run_suite(suite, context, limit=limit, concurrency=concurrency, progress=advance)
    finally:
        await container.aclose()


def eval_command(
    suite: Annotated[str, typer.Option("--suite", "-s", help="Benchmark to run (see --list).")] = "humaneval",
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Only the first N items.")] = None,
    model: ModelOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", dir_okay=False, help="Write the JSON report here.")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Items scored at once.")] = 1,
    list_suites: Annotated[bool, typer.Option("--list", help="List the suites and exit.")] = False,
) -> None:
    """Run a benchmark that ships inside a package on a model; prints a table and can write a JSON report."""
    with _friendly_errors():
        require_extra("eval", "causerie eval")
        from causerie.services.evals.runner import available_suites, get_suite, report_dict

        if list_suites:
            for name, description in available_suites().items():
                typer.echo(f"{name}\t{description}")
            return
        settings = cli_settings()
        report = asyncio.run(_evaluate(settings, get_suite(suite), model, limit, concurrency))
    console.print(_table(report))
    if output is not None:
        output.write_text(json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"Report written to {escape(str(output))}")
