"""What bench_serving.py measures, per model, and how it prints it: results, targets, tables, verdicts."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

TARGET_DECODE_RATIO = 0.95  # API / direct, at least
TARGET_TURN_RATIO = 1.3  # TTFT turn N / turn 1, at most
TARGET_FAILURES = 0  # at the highest concurrency level


# --------------------------------------------------------------------------------------------------
# Results


@dataclass
class DecodeResult:
    api_tps: list[float] = field(default_factory=list)
    api_tokens: list[int] = field(default_factory=list)
    direct_tps: list[float] = field(default_factory=list)
    direct_tokens: list[int] = field(default_factory=list)
    api_median: float | None = None
    direct_median: float | None = None
    ratio: float | None = None
    error: str | None = None


@dataclass
class ConcurrencyLevel:
    concurrency: int
    failures: int = 0
    aggregate_tps: float | None = None
    ttft_mean_s: float | None = None
    ttft_max_s: float | None = None
    wall_s: float | None = None
    completion_tokens: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class MultiTurnResult:
    ttft_s: list[float] = field(default_factory=list)
    prompt_tokens: list[int | None] = field(default_factory=list)
    completion_tokens: list[int] = field(default_factory=list)
    ratio: float | None = None
    error: str | None = None


@dataclass
class ModelResult:
    model: str
    decode: DecodeResult = field(default_factory=DecodeResult)
    concurrency: list[ConcurrencyLevel] = field(default_factory=list)
    concurrency_error: str | None = None
    multi_turn: MultiTurnResult = field(default_factory=MultiTurnResult)


# --------------------------------------------------------------------------------------------------
# Reporting


def _f(value: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def _short(error: str, limit: int = 60) -> str:
    text = f"error: {error}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def verdicts(result: ModelResult, args: argparse.Namespace) -> list[tuple[str, str, str, bool | None]]:
    """(check, measured, target, passed) rows; passed None means the check could not run."""
    rows: list[tuple[str, str, str, bool | None]] = []
    d = result.decode
    rows.append((
        "decode API/direct",
        (d.error and _short(d.error)) or _f(d.ratio, "{:.3f}"),
        f">= {TARGET_DECODE_RATIO}",
        None if d.ratio is None else d.ratio >= TARGET_DECODE_RATIO,
    ))  # fmt: skip
    top = max(result.concurrency, key=lambda lvl: lvl.concurrency) if result.concurrency else None
    rows.append((
        f"failures at {top.concurrency if top else max(args.concurrency)} streams",
        (result.concurrency_error and _short(result.concurrency_error)) or (str(top.failures) if top else "-"),
        f"== {TARGET_FAILURES}",
        None if top is None else top.failures == TARGET_FAILURES,
    ))  # fmt: skip
    m = result.multi_turn
    rows.append((
        f"TTFT turn {len(m.ttft_s) or args.turns}/turn 1",
        (m.error and _short(m.error)) or _f(m.ratio, "{:.2f}"),
        f"<= {TARGET_TURN_RATIO}",
        None if m.ratio is None else m.ratio <= TARGET_TURN_RATIO,
    ))  # fmt: skip
    return rows


def report(results: list[ModelResult], args: argparse.Namespace, console) -> bool:
    from rich.table import Table

    table = Table(title="Single-stream decode (tokens/s, median of runs)", title_justify="left")
    for col in (
        "model",
        "API tok/s",
        "direct tok/s",
        "API/direct",
        "API tokens",
        "direct tokens",
        "runs API",
        "runs direct",
    ):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in results:
        d = r.decode
        table.add_row(
            r.model,
            _f(d.api_median),
            _f(d.direct_median),
            _f(d.ratio, "{:.3f}") if d.error is None else "error",
            ",".join(map(str, d.api_tokens)) or "-",
            ",".join(map(str, d.direct_tokens)) or "-",
            " ".join(f"{x:.1f}" for x in d.api_tps) or "-",
            " ".join(f"{x:.1f}" for x in d.direct_tps) or "-",
        )
    console.print(table)

    table = Table(title="Concurrent streams through the API", title_justify="left")
    for col in ("model", "streams", "failures", "aggregate tok/s", "TTFT mean ms", "TTFT max ms", "tokens", "wall s"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in results:
        if r.concurrency_error and not r.concurrency:
            table.add_row(r.model, "-", "error", "-", "-", "-", "-", "-")
        for lvl in r.concurrency:
            table.add_row(
                r.model,
                str(lvl.concurrency),
                str(lvl.failures),
                _f(lvl.aggregate_tps),
                _ms(lvl.ttft_mean_s),
                _ms(lvl.ttft_max_s),
                str(lvl.completion_tokens),
                _f(lvl.wall_s, "{:.2f}"),
            )
    console.print(table)
    for r in results:
        for lvl in r.concurrency:
            for err in lvl.errors:
                console.print(f"  [{r.model}, {lvl.concurrency} streams] {err}", markup=False)

    table = Table(title="Multi-turn conversation (time to first token per turn)", title_justify="left")
    for col in ("model", "turns", "TTFT turn 1 ms", "TTFT turn N ms", "N/1", "prompt tokens 1 -> N", "all turns ms"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in results:
        m = r.multi_turn
        if not m.ttft_s:
            table.add_row(r.model, "-", "-", "-", "error" if m.error else "-", "-", "-")
            continue
        table.add_row(
            r.model,
            str(len(m.ttft_s)),
            _ms(m.ttft_s[0]),
            _ms(m.ttft_s[-1]),
            _f(m.ratio, "{:.2f}"),
            f"{m.prompt_tokens[0]} -> {m.prompt_tokens[-1]}",
            " ".join(_ms(t) for t in m.ttft_s),
        )
    console.print(table)

    table = Table(title="Summary vs targets", title_justify="left")
    for col in ("model", "check", "measured", "target", "result"):
        table.add_column(col, justify="left")
    all_pass = True
    for r in results:
        for check, measured, target, passed in verdicts(r, args):
            verdict = "PASS" if passed else ("FAIL" if passed is False else "ERROR")
            all_pass &= bool(passed)
            table.add_row(r.model, check, measured, target, verdict)
    console.print(table)
    console.print(f"Overall: {'PASS' if all_pass else 'FAIL'}", markup=False)
    return all_pass
