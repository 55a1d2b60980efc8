"""The gate's factual checks: answer normalization, the packaged question sets, cloze questions from
held-out text, and a gate that fails on a factual regression or on wrong-language replies."""

from __future__ import annotations

import pytest

from causerie.localize import evaluate as ev
from causerie.localize import factual
from causerie.localize.errors import LocalizeError
from causerie.localize.options import GateThresholds


def test_answers_match_regardless_of_case_accents_width_and_kana() -> None:
    assert factual.is_right("C'est Léonard de Vinci.", ["leonard de vinci"], "fr")
    assert factual.is_right("ＰＡＲＩＳ, bien sûr", ["Paris"], "fr"), "full-width letters"
    assert factual.is_right("１００度です。", ["100"], "ja"), "full-width digits"
    assert factual.is_right("ぱりです", ["パリ"], "ja"), "hiragana for katakana"
    assert not factual.is_right("かです", ["が"], "ja"), "dakuten is kept: が is not か"


def test_spaced_languages_need_whole_words_unspaced_ones_do_not() -> None:
    assert factual.is_right("La capitale de l'Italie est Rome.", ["Rome"], "fr")
    assert not factual.is_right("Roméo et Juliette", ["Rome"], "fr")
    assert not factual.is_right("La capitale de la France est le Canada.", ["Paris"], "fr")
    assert factual.is_right("日本の首都は東京都です。", ["東京"], "ja")


def test_score_counts_right_answers_in_order() -> None:
    items = [factual.QaItem(question="q1", answers=["Paris"]), factual.QaItem(question="q2", answers=["sept", "7"])]
    result = factual.score(items, ["Paris.", "Il y en a 8."], "fr")
    assert (result.correct, result.total, result.right) == (1, 2, [True, False])
    assert result.rate == 0.5


@pytest.mark.parametrize("language", ["fr", "ja"])
def test_packaged_sets_load_and_name_their_source(language: str) -> None:
    items = factual.packaged_set(language)
    assert len(items) >= 20
    assert all(item.source.startswith("written for Causerie") and item.answers for item in items)
    assert len({item.question for item in items}) == len(items)


def test_a_language_without_a_set_fails_clearly() -> None:
    with pytest.raises(LocalizeError) as failure:
        factual.packaged_set("de")
    assert failure.value.param == "eval.qa" and "no factual question set for 'de'" in failure.value.message
    assert "fr" in failure.value.message and "ja" in failure.value.message


def test_cloze_masks_the_longest_word_of_a_held_out_sentence() -> None:
    passages = ["Court. Le boulanger prépare chaque matin des croissants dorés pour le village.", "Trop."]
    [item] = factual.cloze_set(passages, "fr", 5)
    assert item.answers == ["croissants"] and "____" in item.question and "croissants" not in item.question
    assert item.source == "held-out passage 1 of the corpus"
    [japanese] = factual.cloze_set(["東京の郊外にある小さな店で、毎朝新鮮なパンを焼いて売っています。"], "ja", 5)
    assert japanese.answers[0] in "東京の郊外にある小さな店で、毎朝新鮮なパンを焼いて売っています。"
    assert japanese.answers[0] not in japanese.question
    assert factual.cloze_set(passages, "fr", 0) == []


def _measurements(*, right_language: float, qa_right: int, answer: str = "Paris") -> ev.Measurements:
    items = factual.packaged_set("fr")[:4]
    replies = [answer if i < qa_right else "Je ne sais pas." for i in range(4)]
    chat = ev.ChatQuality(right_language_rate=right_language, repetition_rate=0.1, distinct_2=0.9, answers=["a", "b"])
    qa = factual.score([i.model_copy(update={"answers": ["Paris"]}) for i in items], replies, "fr")
    return ev.Measurements(
        target_ppl=20.0, english_ppl=None, tokens_per_kchar=300.0, chat=chat, qa=qa, cloze=factual.score([], [], "fr")
    )


def _failed(report: ev.GateReport) -> set[str]:
    return {check.name for check in report.checks if check.passed is False}


def test_the_gate_fails_a_model_that_knows_fewer_facts() -> None:
    base = _measurements(right_language=1.0, qa_right=3)
    worse = _measurements(right_language=1.0, qa_right=2).model_copy(update={"target_ppl": 10.0})
    report = ev.gate("fr", base, worse, GateThresholds())
    assert not report.passed and _failed(report) == {"qa_correct_delta"}, "better perplexity does not save it"
    assert "cloze_correct_delta" not in {c.name for c in report.checks}, "an empty set is not a check"
    same = _measurements(right_language=1.0, qa_right=3).model_copy(update={"target_ppl": 10.0})
    assert ev.gate("fr", base, same, GateThresholds()).passed


def test_the_gate_fails_a_model_that_answers_in_the_wrong_language() -> None:
    base = _measurements(right_language=0.75, qa_right=3)
    still = _measurements(right_language=0.75, qa_right=3).model_copy(update={"target_ppl": 10.0})
    report = ev.gate("fr", base, still, GateThresholds())
    assert not report.passed and _failed(report) == {"right_language_rate"}, "as bad as the base is not enough"
    markdown = ev.markdown(report, "run")
    assert "| Right-language answers, localized | 0.750 | ≥ 0.95 | FAIL |" in markdown
    assert "| general-knowledge questions right | 3/4 | 3/4 |" in markdown
    assert "## Answers side by side" in markdown and "Paris (right)" in markdown
