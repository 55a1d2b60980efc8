"""The evaluation gate: measure base and localized model the same way, promote only on a pass.

Measurements: held-out perplexity in the target language, perplexity on English text from another
domain (regressions), tokens per 1,000 characters, chat quality on a fixed prompt set in the
target language (share of answers in that language; repetition as repeated n-grams and distinct-n),
and facts (``factual``: general-knowledge questions and cloze questions on held-out passages).
What users notice decides: the localized model may not know fewer facts than its base, and must
answer in the target language.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from causerie.localize.factual import QaScore
from causerie.localize.options import GateThresholds
from causerie.localize.tokens import decode

if TYPE_CHECKING:
    from peft import PeftModel
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

_CHAR_LANGUAGES = {"ja", "zh", "th", "lo", "km", "my"}


def eval_texts(texts: Sequence[str], max_chars: int) -> list[str]:
    """The first texts up to ``max_chars`` characters in all (the last one cut), so every tokenizer sees the same text."""
    chosen: list[str] = []
    left = max_chars
    for text in texts:
        if left <= 0:
            break
        chosen.append(text[:left])
        left -= len(chosen[-1])
    return chosen


def total_nll(
    model: PreTrainedModel | PeftModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *, seq_len: int
) -> tuple[float, int]:
    """(summed token loss, tokens scored) over the texts joined by EOS, scored in ``seq_len`` windows.

    Perplexity is ``exp(loss / tokens)``. To compare a model whose tokenizer was extended with its
    base, divide its loss by the base's token count for the same text (loss per base token).
    """
    import torch

    stream: list[int] = []
    for text in texts:
        stream.extend(tokenizer.encode(text, add_special_tokens=False))
        stream.append(tokenizer.eos_token_id)
    device = next(model.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(stream), seq_len):
            window = stream[start : start + seq_len]
            if len(window) < 2:
                continue
            ids = torch.tensor([window], device=device)
            loss = model(input_ids=ids, labels=ids).loss
            total += float(loss) * (len(window) - 1)
            count += len(window) - 1
    if count == 0:
        raise ValueError("no text to measure perplexity on")
    return total, count


def chat_answers(
    model: PreTrainedModel | PeftModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    batch_size: int = 8,
) -> list[str]:
    """Greedy answers to single-turn prompts, generated in left-padded batches."""
    import torch

    device = next(model.parameters()).device
    answers: list[str] = []
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            texts = [
                tokenizer.apply_chat_template(
                    [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
                )
                for p in chunk
            ]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            with torch.no_grad():
                # A causal LM at run time (GenerationMixin), which transformers' PreTrainedModel type leaves out.
                out = model.generate(  # type: ignore[operator]
                    **batch,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            width = batch["input_ids"].shape[1]
            answers.extend(decode(tokenizer, row[width:].tolist(), skip_special_tokens=True).strip() for row in out)
    finally:
        tokenizer.padding_side = side
    return answers


def _units(text: str, language: str) -> list[str]:
    return [c for c in text if not c.isspace()] if language in _CHAR_LANGUAGES else text.lower().split()


def distinct_n(units: Sequence[str], n: int) -> float:
    grams = [tuple(units[i : i + n]) for i in range(len(units) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 1.0


class ChatQuality(BaseModel):
    right_language_rate: float
    repetition_rate: float
    """Mean share of repeated 4-grams per answer (1 - distinct-4), in words (characters for ja/zh)."""
    distinct_2: float
    answers: list[str]


def chat_quality(answers: Sequence[str], language: str, detect: Callable[[str], str | None]) -> ChatQuality:
    units = [_units(a, language) for a in answers]
    count = max(len(answers), 1)
    return ChatQuality(
        right_language_rate=sum(detect(a) == language for a in answers) / count,
        repetition_rate=sum(1 - distinct_n(u, 4) for u in units) / count,
        distinct_2=sum(distinct_n(u, 2) for u in units) / count,
        answers=list(answers),
    )


class Measurements(BaseModel):
    target_ppl: float
    english_ppl: float | None
    tokens_per_kchar: float
    chat: ChatQuality
    qa: QaScore
    """General-knowledge questions."""
    cloze: QaScore
    """Cloze questions on the corpus's held-out passages."""


class Check(BaseModel):
    name: str
    value: float | None
    threshold: float
    passed: bool | None
    """None: not measured (no English text given)."""


class GateReport(BaseModel):
    language: str
    base: Measurements
    localized: Measurements
    checks: list[Check]
    passed: bool


def gate(language: str, base: Measurements, localized: Measurements, thresholds: GateThresholds) -> GateReport:
    """Compare the two measurements against ``thresholds``; every measured check must pass."""
    english_ratio = (
        localized.english_ppl / base.english_ppl if localized.english_ppl is not None and base.english_ppl else None
    )
    target_ratio = localized.target_ppl / base.target_ppl
    language_delta = localized.chat.right_language_rate - base.chat.right_language_rate
    repetition_delta = localized.chat.repetition_rate - base.chat.repetition_rate
    checks = [
        Check(
            name="target_ppl_ratio",
            value=target_ratio,
            threshold=thresholds.max_target_ppl_ratio,
            passed=target_ratio <= thresholds.max_target_ppl_ratio,
        ),
        Check(
            name="english_ppl_ratio",
            value=english_ratio,
            threshold=thresholds.max_english_ppl_ratio,
            passed=None if english_ratio is None else english_ratio <= thresholds.max_english_ppl_ratio,
        ),
        Check(
            name="right_language_delta",
            value=language_delta,
            threshold=thresholds.min_right_language_delta,
            passed=language_delta >= thresholds.min_right_language_delta - 1e-9,
        ),
        Check(
            name="repetition_delta",
            value=repetition_delta,
            threshold=thresholds.max_repetition_delta,
            passed=repetition_delta <= thresholds.max_repetition_delta + 1e-9,
        ),
        Check(
            name="right_language_rate",
            value=localized.chat.right_language_rate,
            threshold=thresholds.min_right_language_rate,
            passed=localized.chat.right_language_rate >= thresholds.min_right_language_rate - 1e-9,
        ),
        *(
            Check(
                name=f"{name}_correct_delta",
                value=new.correct - old.correct,
                threshold=thresholds.min_qa_correct_delta,
                passed=new.correct - old.correct >= thresholds.min_qa_correct_delta,
            )
            for name, old, new in (("qa", base.qa, localized.qa), ("cloze", base.cloze, localized.cloze))
            if old.total
        ),
    ]
    passed = all(check.passed is not False for check in checks)
    return GateReport(language=language, base=base, localized=localized, checks=checks, passed=passed)


_CHECK_LABELS = {
    "target_ppl_ratio": ("Held-out perplexity ratio (target language)", "≤"),
    "english_ppl_ratio": ("English other-domain perplexity ratio", "≤"),
    "right_language_delta": ("Right-language answers, change", "≥"),
    "repetition_delta": ("Repetition rate, change", "≤"),
    "right_language_rate": ("Right-language answers, localized", "≥"),
    "qa_correct_delta": ("General-knowledge questions right, change", "≥"),
    "cloze_correct_delta": ("Held-out cloze questions right, change", "≥"),
}

SIDE_BY_SIDE = 3
"""Answers shown base beside localized, per set, in the report."""


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def markdown(report: GateReport, title: str) -> str:
    """The report as a readable Markdown document."""
    b, loc = report.base, report.localized
    lines = [
        f"# {title}",
        "",
        f"Gate: **{'PASSED' if report.passed else 'FAILED'}** (language: {report.language})",
        "",
        "| metric | base | localized |",
        "|---|---:|---:|",
        f"| held-out perplexity ({report.language}) | {_fmt(b.target_ppl, 2)} | {_fmt(loc.target_ppl, 2)} |",
        f"| English other-domain perplexity | {_fmt(b.english_ppl, 2)} | {_fmt(loc.english_ppl, 2)} |",
        f"| tokens per 1,000 characters | {_fmt(b.tokens_per_kchar, 1)} | {_fmt(loc.tokens_per_kchar, 1)} |",
        f"| answers in {report.language} | {b.chat.right_language_rate:.0%} | {loc.chat.right_language_rate:.0%} |",
        f"| repetition rate (repeated 4-grams) | {_fmt(b.chat.repetition_rate)} | {_fmt(loc.chat.repetition_rate)} |",
        f"| distinct-2 | {_fmt(b.chat.distinct_2)} | {_fmt(loc.chat.distinct_2)} |",
        f"| general-knowledge questions right | {b.qa.correct}/{b.qa.total} | {loc.qa.correct}/{loc.qa.total} |",
        f"| held-out cloze questions right | {b.cloze.correct}/{b.cloze.total} | {loc.cloze.correct}/{loc.cloze.total} |",
        "",
        "| check | value | threshold | result |",
        "|---|---:|---:|---|",
    ]
    for check in report.checks:
        label, op = _CHECK_LABELS[check.name]
        result = {True: "pass", False: "FAIL", None: "not measured"}[check.passed]
        lines.append(f"| {label} | {_fmt(check.value)} | {op} {check.threshold:g} | {result} |")
    lines += ["", "## Answers side by side", "", "| prompt | base | localized |", "|---|---|---|"]
    for prompt, old, new in _side_by_side(report):
        lines.append(f"| {_cell(prompt)} | {_cell(old)} | {_cell(new)} |")
    return "\n".join(lines) + "\n"


def _side_by_side(report: GateReport) -> list[tuple[str, str, str]]:
    b, loc = report.base, report.localized
    rows = [(str(i + 1), old, new) for i, (old, new) in enumerate(zip(b.chat.answers, loc.chat.answers, strict=True))][
        :SIDE_BY_SIDE
    ]
    for old_set, new_set in ((b.qa, loc.qa), (b.cloze, loc.cloze)):
        for question, old, new, old_right, new_right in list(
            zip(old_set.questions, old_set.answers, new_set.answers, old_set.right, new_set.right, strict=True)
        )[:SIDE_BY_SIDE]:
            rows.append((question, f"{old} ({_mark(old_right)})", f"{new} ({_mark(new_right)})"))
    return rows


def _mark(right: bool) -> str:
    return "right" if right else "wrong"


def _cell(text: str, width: int = 160) -> str:
    one_line = " ".join(text.split()).replace("|", "\\|")
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


def summary(report: GateReport) -> dict[str, Any]:
    """Headline figures for the model card."""
    return {
        "passed": report.passed,
        "target_ppl": {"base": report.base.target_ppl, "localized": report.localized.target_ppl},
        "english_ppl": {"base": report.base.english_ppl, "localized": report.localized.english_ppl},
        "tokens_per_kchar": {"base": report.base.tokens_per_kchar, "localized": report.localized.tokens_per_kchar},
        "right_language_rate": {
            "base": report.base.chat.right_language_rate,
            "localized": report.localized.chat.right_language_rate,
        },
        "repetition_rate": {
            "base": report.base.chat.repetition_rate,
            "localized": report.localized.chat.repetition_rate,
        },
        "qa_correct": {
            "base": report.base.qa.correct,
            "localized": report.localized.qa.correct,
            "of": report.base.qa.total,
        },
        "cloze_correct": {
            "base": report.base.cloze.correct,
            "localized": report.localized.cloze.correct,
            "of": report.base.cloze.total,
        },
    }
