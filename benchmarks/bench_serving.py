#!/usr/bin/env python
"""Serving benchmark for Causerie: decode speed vs. raw llama.cpp, concurrency, multi-turn TTFT.

Starts a Causerie server in a subprocess, then for each model:

1. single-stream decode tokens/s through the HTTP API (OpenAI SDK, streaming) against
   llama-cpp-python called directly on the same GGUF in this process (measured one after the other,
   never at the same time), median of ``--runs`` runs after a warm-up;
2. aggregate tokens/s, time to first token (mean/max) and failures at each ``--concurrency`` level;
3. one multi-turn conversation: time to first token of each turn, turn N vs. turn 1.

Decode rate = (content pieces - 1) / (time of last piece - time of first piece); a piece is one token,
except the first piece of a reply the server held back for its language check.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_serving.py
    .venv/bin/python benchmarks/bench_serving.py --quick --models smollm2-135m-instruct
    .venv/bin/python benchmarks/bench_serving.py --json results.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

from openai import AsyncOpenAI, OpenAI

from harness import (
    DEFAULT_MODELS,
    REQUEST_TIMEOUT_S,
    SEED,
    Server,
    api_key,
    api_stream,
    api_stream_async,
    direct_stream,
    model_path,
)
from serving_report import ConcurrencyLevel, DecodeResult, ModelResult, MultiTurnResult, report, verdicts

DECODE_PROMPT = "Explain step by step how to write a small web server in Python, with code and comments."
"""Long answers from both models (Qwen2.5-Coder declines to write stories: 13 tokens)."""

CONCURRENT_PROMPTS = [
    "Explain how a rainbow forms.",
    "Give three tips for learning a new language.",
    "What is the difference between a list and a tuple in Python?",
    "Describe the water cycle in a few sentences.",
    "Why is the sky blue?",
    "Write a short poem about autumn leaves.",
    "How does a bicycle stay upright?",
    "Summarize the plot of Romeo and Juliet.",
    "What are the health benefits of walking?",
    "Explain what a hash table is.",
    "Name some famous French painters and their styles.",
    "How do bees make honey?",
    "What causes the seasons on Earth?",
    "Suggest a simple recipe for dinner.",
    "Explain recursion to a beginner.",
    "What is photosynthesis?",
]

TURN_QUESTIONS = [
    "I'm planning a trip to Japan. What city should I visit first?",
    "What food should I try there?",
    "How do I get around the city cheaply?",
    "What is a good day trip from there?",
    "What should I pack for the spring season?",
    "Any etiquette rules I should know about?",
    "How many days would you recommend for the whole trip?",
    "Can you suggest a budget per day?",
    "Which souvenirs are worth bringing back?",
    "What is the best way to get from the airport to the city?",
    "Are there any festivals in April?",
    "Summarize the plan we discussed in three lines.",
]


# --------------------------------------------------------------------------------------------------
# Benchmarks


def bench_decode(client: OpenAI, model: str, args: argparse.Namespace, log) -> DecodeResult:
    out = DecodeResult()
    messages = [{"role": "user", "content": DECODE_PROMPT}]

    # API first (the direct Llama is not loaded yet, so nothing competes for the cores).
    log(f"[{model}] decode via API: warm-up + {args.runs} runs of {args.max_tokens} tokens")
    warm = api_stream(client, model, messages, args.max_tokens)
    if not warm.ok:
        raise RuntimeError(f"API warm-up failed: {warm.error}")
    for _ in range(args.runs):
        run = api_stream(client, model, messages, args.max_tokens)
        if not run.ok or run.decode_tps is None:
            raise RuntimeError(f"API run failed: {run.error or 'too few tokens to time'}")
        out.api_tps.append(run.decode_tps)
        out.api_tokens.append(run.completion_tokens)
    out.api_median = statistics.median(out.api_tps)

    # Then llama-cpp-python directly on the same file, in this process; the server is idle.
    import llama_cpp

    path = model_path(model, args.gguf)
    log(f"[{model}] decode direct (llama-cpp-python) on {path}")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=4096, n_threads=os.cpu_count(), n_batch=256, verbose=False)
    try:
        warm = direct_stream(llm, messages, args.max_tokens)
        if not warm.ok:
            raise RuntimeError(f"direct warm-up failed: {warm.error}")
        for _ in range(args.runs):
            run = direct_stream(llm, messages, args.max_tokens)
            if not run.ok or run.decode_tps is None:
                raise RuntimeError(f"direct run failed: {run.error or 'too few tokens to time'}")
            out.direct_tps.append(run.decode_tps)
            out.direct_tokens.append(run.completion_tokens)
    finally:
        llm.close()
        del llm
        gc.collect()
    out.direct_median = statistics.median(out.direct_tps)
    out.ratio = out.api_median / out.direct_median if out.direct_median else None
    return out


async def _concurrent_level(base_url: str, model: str, n: int, max_tokens: int) -> ConcurrencyLevel:
    level = ConcurrencyLevel(concurrency=n)
    async with AsyncOpenAI(
        base_url=f"{base_url}/v1", api_key=api_key(), timeout=REQUEST_TIMEOUT_S, max_retries=0
    ) as client:
        prompts = [CONCURRENT_PROMPTS[i % len(CONCURRENT_PROMPTS)] for i in range(n)]
        start = time.perf_counter()
        results = await asyncio.gather(
            *(api_stream_async(client, model, [{"role": "user", "content": p}], max_tokens) for p in prompts)
        )
        level.wall_s = time.perf_counter() - start
    level.failures = sum(1 for r in results if not r.ok)
    level.errors = sorted({r.error for r in results if r.error})
    level.completion_tokens = sum(r.completion_tokens for r in results if r.ok)
    ttfts = [r.ttft_s for r in results if r.ttft_s is not None]
    if ttfts:
        level.ttft_mean_s = statistics.fmean(ttfts)
        level.ttft_max_s = max(ttfts)
    if level.wall_s > 0:
        level.aggregate_tps = level.completion_tokens / level.wall_s
    return level


def bench_concurrency(base_url: str, model: str, args: argparse.Namespace, log) -> list[ConcurrencyLevel]:
    levels = []
    for n in args.concurrency:
        log(f"[{model}] {n} concurrent stream(s) of {args.max_tokens} tokens")
        levels.append(asyncio.run(_concurrent_level(base_url, model, n, args.max_tokens)))
    return levels


def bench_multi_turn(client: OpenAI, model: str, args: argparse.Namespace, log) -> MultiTurnResult:
    out = MultiTurnResult()
    log(f"[{model}] multi-turn: {args.turns} turns of up to {args.turn_max_tokens} tokens")
    messages: list[dict] = [{"role": "system", "content": "You are a helpful travel assistant. Answer briefly."}]
    for turn in range(args.turns):
        messages.append({"role": "user", "content": TURN_QUESTIONS[turn % len(TURN_QUESTIONS)]})
        run = api_stream(client, model, messages, args.turn_max_tokens)
        if not run.ok or run.ttft_s is None:
            raise RuntimeError(f"turn {turn + 1} failed: {run.error}")
        out.ttft_s.append(run.ttft_s)
        out.prompt_tokens.append(run.prompt_tokens)
        out.completion_tokens.append(run.completion_tokens)
        messages.append({"role": "assistant", "content": run.text})
    out.ratio = out.ttft_s[-1] / out.ttft_s[0] if out.ttft_s and out.ttft_s[0] > 0 else None
    return out


# --------------------------------------------------------------------------------------------------
# Main


QUICK = dict(max_tokens=24, turns=3, turn_max_tokens=16, concurrency=[1, 2], runs=2)
FULL = dict(max_tokens=128, turns=8, turn_max_tokens=64, concurrency=[1, 4, 8], runs=3)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help="model ids (default: both embedded)")
    parser.add_argument(
        "--max-tokens", type=int, help=f"tokens per decode/concurrency stream (default {FULL['max_tokens']})"
    )
    parser.add_argument("--turns", type=int, help=f"turns of the multi-turn conversation (default {FULL['turns']})")
    parser.add_argument("--turn-max-tokens", type=int, help=f"max_tokens per turn (default {FULL['turn_max_tokens']})")
    parser.add_argument("--concurrency", type=int, nargs="+", help="concurrent stream counts (default 1 4 8)")
    parser.add_argument("--runs", type=int, help="timed decode runs per side, after a warm-up (default 3)")
    parser.add_argument("--parallel", type=int, default=8, help="server --parallel (default 8)")
    parser.add_argument("--quick", action="store_true", help="tiny run: 24 tokens, 3 turns, concurrency 1 2, 2 runs")
    parser.add_argument(
        "--server", choices=["auto", "cli", "uvicorn"], default="auto",
        help="how to start the server: `causerie serve` module, uvicorn+create_app, or auto (cli, then uvicorn)",
    )  # fmt: skip
    parser.add_argument("--base-url", help="use a running server at this URL instead of starting one")
    parser.add_argument(
        "--gguf", action="append", default=[], metavar="ID=PATH", help="GGUF for the direct run of a model id"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    overrides = {}
    for item in args.gguf:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--gguf expects ID=PATH, got {item!r}")
        overrides[key] = value
    args.gguf = overrides
    if args.max_tokens < 2 or args.turns < 1 or args.runs < 1 or min(args.concurrency) < 1:
        parser.error("--max-tokens >= 2, --turns >= 1, --runs >= 1 and --concurrency >= 1 are required")
    return args


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.markup import escape

    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 140, highlight=False)

    def log(message: str) -> None:
        console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {escape(message)}", highlight=False, soft_wrap=True)

    log(
        f"bench: models={args.models} max_tokens={args.max_tokens} runs={args.runs} turns={args.turns}"
        f" turn_max_tokens={args.turn_max_tokens} concurrency={args.concurrency} cpus={os.cpu_count()}"
    )
    server = None if args.base_url else Server(args.server, args.parallel, log)
    results: list[ModelResult] = []
    try:
        if server is not None:
            server.start()
            base_url = server.base_url
        else:
            base_url = args.base_url.rstrip("/").removesuffix("/v1")
        client = OpenAI(base_url=f"{base_url}/v1", api_key=api_key(), timeout=REQUEST_TIMEOUT_S, max_retries=0)
        for model in args.models:
            result = ModelResult(model=model)
            results.append(result)
            try:
                result.decode = bench_decode(client, model, args, log)
            except Exception as exc:
                result.decode.error = f"{type(exc).__name__}: {exc}"
                log(f"[{model}] decode benchmark failed: {result.decode.error}")
            try:
                result.concurrency = bench_concurrency(base_url, model, args, log)
            except Exception as exc:
                result.concurrency_error = f"{type(exc).__name__}: {exc}"
                log(f"[{model}] concurrency benchmark failed: {result.concurrency_error}")
            try:
                result.multi_turn = bench_multi_turn(client, model, args, log)
            except Exception as exc:
                result.multi_turn.error = f"{type(exc).__name__}: {exc}"
                log(f"[{model}] multi-turn benchmark failed: {result.multi_turn.error}")
        client.close()
    finally:
        if server is not None:
            server.stop()
            log(f"server stopped (log: {server.log_path})")

    console.print()
    all_pass = report(results, args, console)
    if args.json:
        payload = {
            "config": {
                key: getattr(args, key)
                for key in (
                    "models",
                    "max_tokens",
                    "turns",
                    "turn_max_tokens",
                    "concurrency",
                    "runs",
                    "parallel",
                    "quick",
                )
            }
            | {
                "seed": SEED,
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "server": server.how if server else "external",
            },
            "results": [asdict(r) for r in results],
            "summary": [
                {"model": r.model, "check": c, "measured": m, "target": t, "pass": p}
                for r in results
                for c, m, t, p in verdicts(r, args)
            ],
            "pass": all_pass,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    return 0 if all_pass else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
