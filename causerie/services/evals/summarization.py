"""Summarization quality: ROUGE on ACLSum (scientific papers with human-written summaries).

Each document of the ``aclsum`` package is the paper's abstract, introduction and conclusion (as the
package gives them, one sentence after another); the reference is its three human-written aspect
summaries (challenge, approach, outcome) read as one paragraph. Summaries are produced by
``SummarizationService`` (map-reduce when a paper exceeds the context) and scored with Google's
``rouge-score`` (ROUGE-1/2/L F1, Porter stemming), averaged over the items and reported ×100.
"""

from __future__ import annotations

from functools import cached_property
from statistics import mean
from typing import Literal

from aclsum import ACLSum
from rouge_score import rouge_scorer

from causerie.principal import PERSONAL
from causerie.protocol.text import SummarizeRequest, SummaryLength
from causerie.services.evals.base import EvalContext, EvalSuite, ItemResult

ASPECTS = ("challenge", "approach", "outcome")
METRICS = ("rouge1", "rouge2", "rougeL")


class SummarizationSuite(EvalSuite):
    """ROUGE of Causerie's summaries of ACL papers against the human summaries."""

    name = "summarization"
    description = "ROUGE-1/2/L on ACLSum papers (abstract + introduction + conclusion)"

    def __init__(self, split: Literal["train", "val", "test"] = "test", length: SummaryLength = "medium") -> None:
        self.split = split
        self.length = length
        self._scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)

    @cached_property
    def documents(self) -> list[tuple[str, str, str]]:
        """(id, document, reference) for every paper of the split."""
        return [
            (doc.id, " ".join(doc.get_all_sentences()), " ".join(doc.summaries[a] for a in ASPECTS))
            for doc in ACLSum(self.split)
        ]

    def size(self) -> int:
        return len(self.documents)

    async def run_item(self, index: int, context: EvalContext) -> ItemResult:
        doc_id, document, reference = self.documents[index]
        result = await context.summarization.summarize(
            SummarizeRequest(text=document, length=self.length, language="en", model=context.model), PERSONAL
        )
        scores = self._scorer.score(reference, result.summary)
        return ItemResult(
            id=doc_id,
            scores={metric: scores[metric].fmeasure for metric in METRICS},
            detail={"summary": result.summary, "reference": reference, "chunks": result.chunks},
        )

    def aggregate(self, items: list[ItemResult]) -> dict[str, float]:
        if not items:
            return {}
        metrics = {metric: round(100 * mean(item.scores[metric] for item in items), 2) for metric in METRICS}
        return {**metrics, "items": float(len(items))}
