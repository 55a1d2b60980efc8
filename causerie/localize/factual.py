"""Factual checks for the gate: short questions with known answers, asked in the target language.

Two sets per run: general knowledge (packaged per language in ``qa/<language>.jsonl``, or given in the
options) and cloze questions built from the corpus's own held-out passages (a word of a sentence the
model never trained on is masked; the model must give it back). An answer counts when the normalized
reply contains a normalized expected answer: case, accents, full-width forms and katakana/hiragana
do not matter, and in languages written with spaces the answer must be whole words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib.resources import files

from pydantic import BaseModel, ConfigDict, Field

from causerie.localize.errors import LocalizeError
from causerie.store.search import search_key

UNSPACED_LANGUAGES = frozenset({"ja", "zh", "th", "lo", "km", "my"})
_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)}
_NOT_A_WORD = re.compile(r"[\W_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")
_LATIN_WORD = re.compile(r"[^\W\d_]{6,}")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff\u30a1-\u30fa\u30fc]{2,}")

CLOZE_WORDING: dict[str, str] = {
    "fr": "Quel mot manque à la place de ____ dans cette phrase ? Réponds par ce mot seulement.\n\n{sentence}",
    "ja": "次の文の____に入る言葉は何ですか。その言葉だけで答えてください。\n\n{sentence}",
    "en": "Which word is missing in place of ____ in this sentence? Answer with that word only.\n\n{sentence}",
}


BRIEFLY: dict[str, str] = {
    "fr": "Réponds en quelques mots.",
    "ja": "短く答えてください。",
    "en": "Answer in a few words.",
}


def briefly(question: str, language: str) -> str:
    """``question`` with the request, in its language, to answer in a few words."""
    return f"{question} {BRIEFLY.get(language, BRIEFLY['en'])}"


class QaItem(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    question: str = Field(min_length=1)
    answers: list[str] = Field(min_length=1, description="Accepted answers; any one found in the reply counts.")
    source: str = Field("", description="Where the question and its answer come from.")


class QaScore(BaseModel):
    correct: int
    total: int
    questions: list[str]
    answers: list[str]
    right: list[bool]

    @property
    def rate(self) -> float:
        return self.correct / self.total if self.total else 0.0


def answer_key(text: str) -> str:
    """``text`` as compared: NFKC, casefolded, accents stripped (dakuten kept), katakana as hiragana, words
    separated by one space."""
    folded = search_key(text).translate(_KATAKANA_TO_HIRAGANA)
    return " ".join(_NOT_A_WORD.sub(" ", folded).split())


def is_right(reply: str, expected: Sequence[str], language: str) -> bool:
    """Whether ``reply`` contains one of the ``expected`` answers (whole words where words are spaced)."""
    said = answer_key(reply)
    for answer in expected:
        key = answer_key(answer)
        if not key:
            continue
        if language in UNSPACED_LANGUAGES:
            if key.replace(" ", "") in said.replace(" ", ""):
                return True
        elif f" {key} " in f" {said} ":
            return True
    return False


def score(items: Sequence[QaItem], replies: Sequence[str], language: str) -> QaScore:
    right = [is_right(reply, item.answers, language) for item, reply in zip(items, replies, strict=True)]
    return QaScore(
        correct=sum(right),
        total=len(items),
        questions=[item.question for item in items],
        answers=list(replies),
        right=right,
    )


def packaged_set(language: str) -> list[QaItem]:
    """The general-knowledge set shipped for ``language``; a clear error when there is none."""
    resource = files("causerie.localize") / "qa" / f"{language}.jsonl"
    if not resource.is_file():
        shipped = sorted(p.name.removesuffix(".jsonl") for p in (files("causerie.localize") / "qa").iterdir())
        raise LocalizeError(
            f"no factual question set for '{language}' (shipped: {', '.join(shipped)}); "
            "give one with eval.qa (CLI: --qa-file FILE.jsonl)",
            param="eval.qa",
        )
    lines = resource.read_text(encoding="utf-8").splitlines()
    return [QaItem.model_validate_json(line) for line in lines if line.strip()]


def cloze_set(passages: Sequence[str], language: str, count: int) -> list[QaItem]:
    """Up to ``count`` cloze questions, one per held-out passage, from its first suitable sentence."""
    wording = CLOZE_WORDING.get(language, CLOZE_WORDING["en"])
    pattern = _CJK_RUN if language in UNSPACED_LANGUAGES else _LATIN_WORD
    items: list[QaItem] = []
    for number, passage in enumerate(passages, 1):
        if len(items) == count:
            break
        for sentence in _SENTENCE_END.split(passage):
            sentence = " ".join(sentence.split())
            candidates = [m for m in pattern.finditer(sentence) if m.start() > 0] if 30 <= len(sentence) <= 300 else []
            if not candidates:
                continue
            word = max(candidates, key=lambda m: len(m.group()))
            masked = sentence[: word.start()] + "____" + sentence[word.end() :]
            items.append(
                QaItem(
                    question=wording.format(sentence=masked),
                    answers=[word.group()],
                    source=f"held-out passage {number} of the corpus",
                )
            )
            break
    return items
