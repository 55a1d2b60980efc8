"""Translation quality: chrF and BLEU on human translations of Django's interface strings.

The pairs come from the ``.po`` catalogs inside the ``django`` package (English source strings,
French and Japanese translations by Django's translators). Kept: complete sentences (at least five
words and 30 characters of English), not fuzzy, not plural forms, deduplicated by source; ordered
by a hash of the source so any ``limit`` takes a varied, reproducible sample. Placeholders
(``%(name)s``, ``{obj}``) stay in, so the product's masking is part of what is measured.

Each item goes through ``TranslationService`` as a user's request would. Metrics are sacrebleu's
corpus chrF and BLEU (BLEU tokenized by characters for Japanese, which has no spaces; 13a otherwise),
and ``chrf_words``: chrF with the placeholders taken out of both sides, since copying them verbatim
lifts the scores.
"""

from __future__ import annotations

import hashlib
import re
from functools import cached_property
from pathlib import Path

import django
import polib
import sacrebleu

from causerie.principal import PERSONAL
from causerie.protocol.text import TranslateRequest
from causerie.services.evals.base import EvalContext, EvalSuite, ItemResult
from causerie.services.segments import has_prose, mask

PAIRS = ("en-fr", "en-ja")
_MARKERS = re.compile(r"\{\d+\}")
MIN_WORDS = 5
MIN_CHARS = 30


def django_pairs(language: str) -> list[tuple[str, str]]:
    """(English, translation) pairs from every Django catalog of ``language``, filtered as described above."""
    root = Path(django.__file__).parent
    pairs: dict[str, str] = {}
    for path in sorted(root.rglob(f"locale/{language}/LC_MESSAGES/*.po")):
        for entry in polib.pofile(str(path)):
            source, target = entry.msgid.strip(), entry.msgstr.strip()
            if entry.msgid_plural or entry.fuzzy or entry.obsolete or not target:
                continue
            if len(source) < MIN_CHARS or len(source.split()) < MIN_WORDS or not has_prose(mask(source, "text")[0]):
                continue
            pairs.setdefault(source, target)
    return sorted(pairs.items(), key=lambda pair: hashlib.sha256(pair[0].encode()).hexdigest())


def _without_placeholders(text: str) -> str:
    """``text`` without the pieces translation keeps verbatim (placeholders, URLs, code spans)."""
    return " ".join(_MARKERS.sub(" ", mask(text, "text")[0]).split())


class TranslationSuite(EvalSuite):
    """English → French or Japanese on Django's human-translated interface strings."""

    name = "translation"
    description = "chrF/BLEU on Django's human-translated EN→FR / EN→JA interface strings"

    def __init__(self, pair: str = "en-fr") -> None:
        if pair not in PAIRS:
            raise ValueError(f"unknown pair '{pair}'; available: {', '.join(PAIRS)}")
        self.pair = pair
        self.source_language, self.target_language = pair.split("-")
        self.name = f"translation-{pair}"  # type: ignore[misc]  # one registered suite per pair

    @cached_property
    def pairs(self) -> list[tuple[str, str]]:
        return django_pairs(self.target_language)

    def size(self) -> int:
        return len(self.pairs)

    async def run_item(self, index: int, context: EvalContext) -> ItemResult:
        source, reference = self.pairs[index]
        result = await context.translation.translate(
            TranslateRequest(
                text=source,
                source_language=self.source_language,
                target_language=self.target_language,
                format="text",
                model=context.model,
            ),
            PERSONAL,
        )
        hypothesis = result.text
        chrf = sacrebleu.sentence_chrf(hypothesis, [reference]).score
        missing = [m for s in result.segments for m in s.missing]
        return ItemResult(
            id=f"{self.pair}-{index}",
            scores={"chrf": chrf, "markers_lost": float(len(missing))},
            detail={"source": source, "reference": reference, "hypothesis": hypothesis, "missing": missing},
        )

    def aggregate(self, items: list[ItemResult]) -> dict[str, float]:
        if not items:
            return {}
        hypotheses = [item.detail["hypothesis"] for item in items]
        references = [[item.detail["reference"] for item in items]]
        tokenize = "char" if self.target_language == "ja" else "13a"
        prose_hypotheses = [_without_placeholders(text) for text in hypotheses]
        prose_references = [[_without_placeholders(text) for text in references[0]]]
        return {
            "chrf": round(sacrebleu.corpus_chrf(hypotheses, references).score, 2),
            "bleu": round(sacrebleu.corpus_bleu(hypotheses, references, tokenize=tokenize).score, 2),
            # placeholders are copied verbatim, which lifts the scores: also score the words alone
            "chrf_words": round(sacrebleu.corpus_chrf(prose_hypotheses, prose_references).score, 2),
            "markers_lost": sum(item.scores["markers_lost"] for item in items),
            "items": float(len(items)),
        }


class EnglishFrenchSuite(TranslationSuite):
    name = "translation-en-fr"
    description = "chrF/BLEU on Django's human-translated EN→FR interface strings"

    def __init__(self) -> None:
        super().__init__("en-fr")


class EnglishJapaneseSuite(TranslationSuite):
    name = "translation-en-ja"
    description = "chrF/BLEU on Django's human-translated EN→JA interface strings"

    def __init__(self) -> None:
        super().__init__("en-ja")
