"""``causerie localize``: adapt a model to a language from a local corpus, with a progress bar.

The operator runs it on their own machine, so it reads any local path (corpus, base model, English
text); only jobs of the HTTP API are confined to the configured folders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from causerie.cli.settings import cli_settings
from causerie.errors import CauserieError
from causerie.services.container import Container

console = Console()
err_console = Console(stderr=True)


def _fail(message: str, code: int) -> typer.Exit:
    err_console.print(f"[bold red]Error:[/bold red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


class _ProgressBar:
    """One bar per stage; the training bar shows the loss and an ETA."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, completed: int, total: int, **metrics: float) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total, loss="")
        loss = f"loss {metrics['loss']:.3f}" if "loss" in metrics else ""
        self.progress.update(self.tasks[stage], completed=completed, total=total, loss=loss)


def _questions(path: Path) -> list[dict[str, Any]]:
    """The question file's items, or a one-line error naming the file and the line."""
    from causerie.localize.factual import QaItem

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot read the question file {path}: {exc}", 2) from None
    items = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                items.append(QaItem.model_validate_json(line).model_dump())
            except ValidationError as exc:
                raise _fail(f"{path}, line {number}: {exc.errors()[0]['msg']}", 2) from None
    return items


def localize(
    corpus: Annotated[Path, typer.Argument(help="A folder (or one file) of .txt, .md, .html or .jsonl text.")],
    language: Annotated[str, typer.Option("--language", "-l", help="ISO 639-1 code of the target language (fr, ja…).")],
    base: Annotated[
        str, typer.Option("--base", "-b", help="Base model: a registered id, a GGUF file or a Hugging Face folder.")
    ] = "smollm2-135m-instruct",
    name: Annotated[str | None, typer.Option(help="Id of the new model (default: <base>-<language>).")] = None,
    steps: Annotated[int, typer.Option(min=1, help="Training steps.")] = 30,
    minutes: Annotated[float | None, typer.Option(min=0.1, help="Training time budget in minutes.")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 8,
    seq_len: Annotated[int, typer.Option(min=16, help="Tokens per training sequence.")] = 256,
    learning_rate: Annotated[float, typer.Option("--lr", min=0.0)] = 3e-4,
    extend_tokens: Annotated[int, typer.Option(min=0, help="New target-language tokens to learn (0: none).")] = 0,
    english_text: Annotated[
        Path | None, typer.Option(help="English text of another domain, to catch regressions.")
    ] = None,
    qa_file: Annotated[
        Path | None,
        typer.Option(help="Factual questions in the target language, JSON lines of {question, answers, source}."),
    ] = None,
    eval_chars: Annotated[int, typer.Option(min=100, help="Characters scored per perplexity measurement.")] = 20000,
    answer_tokens: Annotated[int, typer.Option(min=8, help="Longest chat answer, for evaluation and replay.")] = 96,
    max_target_ppl_ratio: Annotated[
        float, typer.Option(help="Gate: localized/base held-out perplexity at most this.")
    ] = 0.85,
    max_english_ppl_ratio: Annotated[
        float, typer.Option(help="Gate: localized/base English perplexity at most this.")
    ] = 1.05,
    max_repetition_delta: Annotated[
        float, typer.Option(help="Gate: increase of the chat repetition rate at most this.")
    ] = 0.0,
    min_right_language_delta: Annotated[
        float, typer.Option(help="Gate: change of the right-language answer rate at least this.")
    ] = 0.0,
    min_right_language_rate: Annotated[
        float, typer.Option(help="Gate: share of the localized model's answers in the target language.")
    ] = 0.95,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    outtype: Annotated[str, typer.Option(help="GGUF weight type: q8_0, f16, bf16 or f32.")] = "q8_0",
    restart: Annotated[bool, typer.Option(help="Start over instead of resuming an interrupted run.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Adapt a model to a language from your corpus: LoRA fine-tune, evaluation gate, GGUF export, registration.

    An interrupted run resumes from its last checkpoint when started again with the same options.
    """
    from causerie.localize.options import LocalizeOptions

    try:
        options = LocalizeOptions.model_validate(
            {
                "corpus": corpus,
                "language": language,
                "base_model": base,
                "name": name,
                "extend_tokens": extend_tokens,
                "outtype": outtype,
                "train": {
                    "max_steps": steps,
                    "max_minutes": minutes,
                    "batch_size": batch_size,
                    "seq_len": seq_len,
                    "learning_rate": learning_rate,
                    "device": device,
                    "replay_answer_tokens": answer_tokens,
                },
                "eval": {
                    "english_text": english_text,
                    "max_eval_chars": eval_chars,
                    "answer_tokens": answer_tokens,
                    "qa": _questions(qa_file) if qa_file else None,
                },
                "gate": {
                    "max_target_ppl_ratio": max_target_ppl_ratio,
                    "max_english_ppl_ratio": max_english_ppl_ratio,
                    "max_repetition_delta": max_repetition_delta,
                    "min_right_language_delta": min_right_language_delta,
                    "min_right_language_rate": min_right_language_rate,
                },
            }
        )
        settings = cli_settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        raise _fail(f"invalid {'.'.join(map(str, error['loc']))}: {error['msg']}", 2) from None

    columns = (
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[loss]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=err_console, transient=as_json) as progress:
            result = Container(settings).localize.run(options, progress=_ProgressBar(progress), restart=restart)
    except CauserieError as exc:
        raise _fail(exc.message, 1) from None
    except KeyboardInterrupt:
        err_console.print("[dim]Interrupted; run the same command again to resume from the last checkpoint.[/dim]")
        raise typer.Exit(130) from None
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    console.print(Path(result.work_dir, "report.md").read_text(encoding="utf-8"))
    if result.promoted:
        console.print(
            f"[bold green]Registered[/bold green] {escape(result.model_id)} in {escape(str(result.model_dir))}"
        )
    else:
        console.print(
            f"[bold yellow]Not promoted[/bold yellow]: the gate failed; the exported model stays in {escape(result.work_dir)}/export"
        )
        raise typer.Exit(3)
