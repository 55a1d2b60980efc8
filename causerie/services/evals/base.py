"""The contract every evaluation suite follows, so one runner can drive them all.

A suite is a small class (nanochat's ``tasks/`` shape): it knows its items, scores one item by
calling Causerie's own services (so the product is measured, not a bare prompt), and turns the
per-item results into corpus-level metrics (pass@1, chrF, ROUGE…).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from causerie.services.code import CodeService
from causerie.services.container import Container
from causerie.services.summarize import SummarizationService
from causerie.services.translate import TranslationService


@dataclass(frozen=True)
class EvalContext:
    """What a suite may use: the model under test and the services it measures, built once by the container."""

    model: str
    translation: TranslationService
    summarization: SummarizationService
    code: CodeService

    @classmethod
    def of(cls, container: Container, model: str) -> EvalContext:
        return cls(model, container.translation, container.summarization, container.code)


@dataclass
class ItemResult:
    """One scored item. ``scores`` are numbers the suite aggregates; ``detail`` is kept in the report."""

    id: str
    scores: dict[str, float]
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class SuiteReport:
    suite: str
    model: str
    metrics: dict[str, float]
    items: list[ItemResult]
    seconds: float


class EvalSuite(ABC):
    """A benchmark. Subclasses set ``name`` and ``description`` and implement the three methods."""

    name: ClassVar[str]
    description: ClassVar[str]

    @abstractmethod
    def size(self) -> int:
        """How many items the suite has."""

    @abstractmethod
    async def run_item(self, index: int, context: EvalContext) -> ItemResult:
        """Score item ``index`` (0 <= index < size())."""

    @abstractmethod
    def aggregate(self, items: list[ItemResult]) -> dict[str, float]:
        """Corpus-level metrics from the scored items (e.g. chrF over all hypotheses)."""
