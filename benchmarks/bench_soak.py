#!/usr/bin/env python
"""Soak test for Causerie: sustained concurrent streams, then a disconnect storm, then a final check.

Starts ``causerie serve`` on SmolLM2 (the server of ``harness``, as ``bench_serving`` does), then:

1. ``--streams`` concurrent chat streams (default 16), each starting a new one as soon as one ends,
   for ``--minutes`` (default 10);
2. a disconnect storm: ``--storm`` streams (default 50) started at once and cut at random points,
   half after a random number of events, half after a random delay (some before the first byte);
3. a final check: as many concurrent streams as the server has slots, plus one non-streaming request,
   must all succeed (a slot left stuck by the storm would make one of them wait forever).

Throughout, ``GET /health`` is timed from a separate thread every ``--health-interval`` seconds.
It prints the errors (target 0), the server's RSS at start and end (and its peak), and the /health
latency percentiles (target p99 < 100 ms); the exit status is 0 only when both targets are met.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_soak.py                 # 10 minutes
    .venv/bin/python benchmarks/bench_soak.py --minutes 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from openai import AsyncOpenAI

from bench_serving import CONCURRENT_PROMPTS
from harness import REQUEST_TIMEOUT_S, SEED, SMOLLM_ID, Server, api_key, api_stream_async

TARGET_ERRORS = 0
TARGET_HEALTH_P99_S = 0.100
FINAL_TIMEOUT_S = 120.0


@dataclass
class Health:
    """/health latencies (seconds) and failures, sampled from a thread so the load's event loop never delays it."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def percentile(self, q: int) -> float | None:
        if len(self.latencies) < 2:
            return None
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1]


@dataclass
class Soak:
    streams_ok: int = 0
    completion_tokens: int = 0
    storm_cut: int = 0
    storm_completed: int = 0
    final_ok: int = 0
    errors: list[str] = field(default_factory=list)
    rss_start_mb: float | None = None
    rss_end_mb: float | None = None
    rss_peak_mb: float | None = None


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process, from /proc (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def probe_health(base_url: str, interval: float, stop: threading.Event, health: Health, on_sample) -> None:
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                response = client.get("/health")
                elapsed = time.perf_counter() - start
                if response.status_code == 200:
                    health.latencies.append(elapsed)
                else:
                    health.errors.append(f"/health answered {response.status_code}")
            except httpx.HTTPError as exc:
                health.errors.append(f"/health failed: {type(exc).__name__}: {exc}")
            on_sample()
            stop.wait(interval)


def _messages(index: int) -> list[dict]:
    return [{"role": "user", "content": CONCURRENT_PROMPTS[index % len(CONCURRENT_PROMPTS)]}]


async def sustained(client: AsyncOpenAI, args: argparse.Namespace, soak: Soak, log) -> None:
    """``args.streams`` workers, each streaming one reply after another until the deadline."""
    deadline = time.monotonic() + args.minutes * 60

    async def worker(worker_id: int) -> None:
        turn = 0
        while time.monotonic() < deadline:
            result = await api_stream_async(client, args.model, _messages(worker_id + turn), args.max_tokens)
            turn += 1
            if result.ok:
                soak.streams_ok += 1
                soak.completion_tokens += result.completion_tokens
            else:
                soak.errors.append(f"stream (worker {worker_id}): {result.error}")

    async def progress() -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(30)
            log(f"  {soak.streams_ok} streams done, {len(soak.errors)} errors")

    reporter = asyncio.create_task(progress())
    await asyncio.gather(*(worker(i) for i in range(args.streams)))
    reporter.cancel()


def _body(model: str, index: int, max_tokens: int, stream: bool) -> dict:
    return {
        "model": model,
        "messages": _messages(index),
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": SEED,
        "stream": stream,
    }


async def cut_stream(http: httpx.AsyncClient, body: dict, after_events: int | None, after_s: float) -> str:
    """Open a stream and drop the connection after ``after_events`` events, or after ``after_s`` seconds.

    Returns "cut" or "completed" (the reply ended before the cut); raises on anything else.
    """

    async def read() -> str:
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {(await response.aread())[:200]!r}")
            events = 0
            async for line in response.aiter_lines():
                if line == "data: [DONE]":
                    return "completed"
                if line.startswith("data: "):
                    events += 1
                    if after_events is not None and events >= after_events:
                        return "cut"  # leaving the block closes the unread connection
        raise RuntimeError("stream ended without [DONE]")

    if after_events is not None:
        return await read()
    try:
        async with asyncio.timeout(after_s):
            return await read()
    except TimeoutError:
        return "cut"


async def storm(base_url: str, args: argparse.Namespace, soak: Soak) -> None:
    rng = random.Random(SEED)
    headers = {"Authorization": f"Bearer {api_key()}"}
    cuts = [
        (rng.randint(1, args.max_tokens), 0.0) if index % 2 == 0 else (None, rng.uniform(0.0, 3.0))
        for index in range(args.storm)
    ]
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S) as http:
        outcomes = await asyncio.gather(
            *(
                cut_stream(http, _body(args.model, index, args.max_tokens, stream=True), after_events, after_s)
                for index, (after_events, after_s) in enumerate(cuts)
            ),
            return_exceptions=True,
        )
    for outcome in outcomes:
        if outcome == "cut":
            soak.storm_cut += 1
        elif outcome == "completed":
            soak.storm_completed += 1
        else:
            soak.errors.append(f"storm: {type(outcome).__name__}: {outcome}")


async def final_check(base_url: str, client: AsyncOpenAI, args: argparse.Namespace, soak: Soak) -> None:
    """Every slot serves again (one stream per slot at once), and a plain request answers."""

    async def plain() -> str | None:
        async with httpx.AsyncClient(base_url=base_url, timeout=FINAL_TIMEOUT_S) as http:
            response = await http.post(
                "/v1/chat/completions",
                json=_body(args.model, 0, 16, stream=False),
                headers={"Authorization": f"Bearer {api_key()}"},
            )
        if response.status_code != 200 or not response.json()["choices"][0]["message"]["content"]:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        return None

    streams = [api_stream_async(client, args.model, _messages(i), 16) for i in range(args.parallel)]
    try:
        async with asyncio.timeout(FINAL_TIMEOUT_S):
            results = await asyncio.gather(*streams)
            problem = await plain()
    except TimeoutError:
        soak.errors.append(f"final check: not answered within {FINAL_TIMEOUT_S:.0f} s (a slot stuck?)")
        return
    soak.final_ok = sum(result.ok for result in results) + (problem is None)
    soak.errors += [f"final stream: {result.error}" for result in results if not result.ok]
    soak.errors += [f"final request: {problem}"] if problem else []


async def run_load(server: Server, args: argparse.Namespace, soak: Soak, log) -> None:
    async with AsyncOpenAI(
        base_url=f"{server.base_url}/v1", api_key=api_key(), timeout=REQUEST_TIMEOUT_S, max_retries=0
    ) as client:
        warm = await api_stream_async(client, args.model, _messages(0), 8)
        if not warm.ok:
            raise RuntimeError(f"warm-up request failed: {warm.error}")
        soak.rss_start_mb = rss_mb(server.proc.pid)
        log(f"{args.streams} concurrent streams of up to {args.max_tokens} tokens for {args.minutes:g} min")
        await sustained(client, args, soak, log)
        log(f"disconnect storm: {args.storm} streams cut at random points")
        await storm(server.base_url, args, soak)
        log(f"final check: {args.parallel} concurrent streams and one plain request")
        await final_check(server.base_url, client, args, soak)
    soak.rss_end_mb = rss_mb(server.proc.pid)


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} MB"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def report(soak: Soak, health: Health, args: argparse.Namespace) -> bool:
    errors = soak.errors + health.errors
    p50, p99 = health.percentile(50), health.percentile(99)
    print()
    print(f"streams completed      {soak.streams_ok} ({soak.completion_tokens} tokens) in {args.minutes:g} min")
    print(f"storm                  {soak.storm_cut} cut, {soak.storm_completed} finished before their cut")
    print(f"final check            {soak.final_ok}/{args.parallel + 1} answered")
    print(
        f"server RSS             start {_mb(soak.rss_start_mb)}, end {_mb(soak.rss_end_mb)}, peak {_mb(soak.rss_peak_mb)}"
    )
    print(
        f"/health latency        p50 {_ms(p50)}, p99 {_ms(p99)}, max {_ms(max(health.latencies, default=None))}"
        f" ({len(health.latencies)} samples)"
    )
    print(f"errors                 {len(errors)}")
    for error in errors[:20]:
        print(f"  {error}")
    errors_ok = len(errors) <= TARGET_ERRORS
    health_ok = p99 is not None and p99 < TARGET_HEALTH_P99_S
    print(f"errors == {TARGET_ERRORS}: {'PASS' if errors_ok else 'FAIL'}")
    print(f"/health p99 < {TARGET_HEALTH_P99_S * 1000:.0f} ms: {'PASS' if health_ok else 'FAIL'}")
    return errors_ok and health_ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="duration of the sustained load (default 10)")
    parser.add_argument("--streams", type=int, default=16, help="concurrent streams (default 16)")
    parser.add_argument("--storm", type=int, default=50, help="streams of the disconnect storm (default 50)")
    parser.add_argument("--max-tokens", type=int, default=64, help="max_tokens of each stream (default 64)")
    parser.add_argument("--parallel", type=int, default=4, help="server --parallel (default 4)")
    parser.add_argument("--model", default=SMOLLM_ID, help=f"model id (default {SMOLLM_ID})")
    parser.add_argument("--health-interval", type=float, default=0.25, help="seconds between /health probes")
    parser.add_argument("--server", choices=["auto", "cli", "uvicorn"], default="cli", help="how to start the server")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or min(args.streams, args.storm, args.max_tokens, args.parallel) < 1:
        parser.error("--minutes > 0 and --streams, --storm, --max-tokens, --parallel >= 1 are required")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

    os.environ["CAUSERIE_DEFAULT_MODEL"] = args.model  # the server preloads it, and nothing else
    server = Server(args.server, args.parallel, log)
    soak, health = Soak(), Health()
    stop = threading.Event()

    def sample_rss() -> None:
        if server.proc is not None and (rss := rss_mb(server.proc.pid)) is not None:
            soak.rss_peak_mb = max(soak.rss_peak_mb or 0.0, rss)

    try:
        server.start()
        prober = threading.Thread(
            target=probe_health, args=(server.base_url, args.health_interval, stop, health, sample_rss), daemon=True
        )
        prober.start()
        try:
            asyncio.run(run_load(server, args, soak, log))
        finally:
            stop.set()
            prober.join(timeout=60)
        if server.proc.poll() is not None:
            soak.errors.append(f"the server exited with code {server.proc.returncode}")
    finally:
        server.stop()
        log(f"server stopped (log: {server.log_path})")
    return 0 if report(soak, health, args) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
