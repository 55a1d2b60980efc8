"""Language detection and names, segmentation edge cases, and the evaluation suites over the fake engine."""

from __future__ import annotations

import asyncio

import pytest

from causerie.config import Settings
from causerie.engine.fake import FakeEngine
from causerie.errors import InvalidRequest
from causerie.language import detect, detect_language, language_name, mentioned_languages, resolve_language
from causerie.models.registry import ModelRegistry
from causerie.services.container import Container
from causerie.services.evals.base import EvalContext
from causerie.services.evals.summarization import SummarizationSuite
from causerie.services.evals.translation import TranslationSuite, django_pairs
from causerie.services.segments import detect_format, segment
from tests.conftest import fake_spec
from tests.text_fakes import upper_translator


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Bonjour, pourriez-vous m'indiquer le chemin de la gare, s'il vous plaît ?", "fr"),
        ("明日の会議は午後三時からに変更になりました。", "ja"),
        ("The meeting tomorrow has been moved to three in the afternoon.", "en"),
        ("Der Zug nach Berlin hat heute leider zwanzig Minuten Verspätung.", "de"),
        (
            "Voici le code :\n```python\nfor item in items:\n    print(item)\n```\n"
            "Il affiche chaque élément de la liste.",
            "fr",
        ),
    ],
)
def test_detect_language(text, code):
    assert detect_language(text) == code


@pytest.mark.parametrize("text", ["ok", "42", "", "https://example.com/a/b/c", "```\nx = 1\n```", "{name} %s"])
def test_too_short_or_not_prose_is_unknown(text):
    assert detect_language(text) is None


def test_detection_reports_confidence_and_reads_long_texts():
    found = detect("Le chat dort sur le canapé depuis ce matin. " * 200)
    assert found is not None and found.language == "fr" and 0.5 <= found.confidence <= 1


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("fr", "fr"),
        ("FR", "fr"),
        ("fr-CA", "fr"),
        ("pt_BR", "pt"),
        ("French", "fr"),
        ("français", "fr"),
        ("Francais", "fr"),
        ("japonais", "ja"),
        ("日本語", "ja"),
        ("Japanese", "ja"),
        ("Deutsch", "de"),
    ],
)
def test_resolve_language_accepts_codes_and_names(value, code):
    assert resolve_language(value, param="to") == code


def test_unknown_language_lists_the_valid_codes():
    with pytest.raises(InvalidRequest) as info:
        resolve_language("klingon", param="target_language")
    assert info.value.param == "target_language" and info.value.code == "unknown_language"
    assert (
        "Valid codes: aa, ab" in info.value.message and " fr, " in info.value.message and " ja, " in info.value.message
    )


def test_language_names_in_several_languages():
    assert (language_name("ja"), language_name("ja", "fr"), language_name("ja", "ja")) == (
        "Japanese",
        "japonais",
        "日本語",
    )
    assert language_name("fr", "ja") == "フランス語"


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Traduis en japonais : bonjour", {"ja"}),
        ("Answer in English, please.", {"en"}),
        ("日本語で答えて", {"ja"}),
        ("Quelle est la capitale de la France ?", set()),
        ("Write a Python function that sorts a list", set()),
    ],
)
def test_mentioned_languages(text, codes):
    assert mentioned_languages(text) == codes


def test_formats_are_recognised():
    assert detect_format("<p>Hello <b>there</b></p>") == "html"
    assert detect_format("# Title\n\nSome *text*.") == "markdown"
    assert detect_format("Just a sentence. And another one.") == "text"


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("Line one.\n\n\n  Line two after spaces.  \n", "text"),
        ("1. First step\n2. Second step with `code`\n   continued line\n\n> quoted\n> lines", "markdown"),
        ("~~~\nraw ~~~ block\n~~~\nAfter the fence, a sentence.", "markdown"),
        ("| Name | Role |\n|------|------|\n| Ana | Lead dev |", "markdown"),
        ("<ul>\n  <li>One &amp; two</li>\n  <li><a href='#x'>Link</a></li>\n</ul>\n<!-- note -->", "html"),
    ],
)
def test_segments_rebuild_the_document_exactly(text, fmt):
    count = lambda s: len(s.split())  # noqa: E731
    segments = segment(text, fmt, budget=4, count=count)
    assert "".join(s.whole(s.source) for s in segments) == text
    assert all(count(s.text) <= 4 for s in segments if s.translatable)


def test_markdown_tables_go_row_by_row_with_borders_masked():
    segments = segment("| Name | Role |\n|---|---|\n| Ana | Lead dev |\n", "markdown", budget=50, count=len)
    assert [(s.text, s.pieces) for s in segments if s.translatable] == [
        ("Name {1} Role", ["|"]),
        ("Ana {1} Lead dev", ["|"]),
    ]


def _context(reply) -> EvalContext:
    engine = FakeEngine(reply=reply)
    return EvalContext.of(Container(Settings(), ModelRegistry([fake_spec(engine)])), "fake")


def test_translation_suite_data_is_deterministic_and_clean():
    pairs = django_pairs("ja")
    assert len(pairs) > 150 and pairs == django_pairs("ja")
    assert len({source for source, _ in pairs}) == len(pairs)
    assert all(len(source.split()) >= 5 for source, _ in pairs)
    with pytest.raises(ValueError, match="available: en-fr, en-ja"):
        TranslationSuite("en-de")


def test_translation_suite_scores_through_the_service():
    suite = TranslationSuite("en-fr")
    context = _context(upper_translator)
    items = [asyncio.run(suite.run_item(i, context)) for i in range(3)]
    for index, item in enumerate(items):
        source, reference = suite.pairs[index]
        hypothesis = item.detail["hypothesis"]  # the fake translator upper-cases, through TranslationService
        assert hypothesis.casefold() == source.casefold() and hypothesis != source
        assert 0 <= item.scores["chrf"] < 100 and item.detail["reference"] == reference
    assert "%(datestr)s" in items[0].detail["hypothesis"]  # placeholders are masked, so never upper-cased
    metrics = suite.aggregate(items)
    assert set(metrics) == {"chrf", "bleu", "chrf_words", "markers_lost", "items"}
    assert metrics["items"] == 3
    assert metrics["chrf_words"] < metrics["chrf"]  # upper-cased words match less than the kept placeholders


def test_summarization_suite_scores_rouge():
    suite = SummarizationSuite()
    assert suite.size() == 100
    _, _document, reference = suite.documents[0]
    item = asyncio.run(suite.run_item(0, _context(lambda request: reference)))  # a perfect summarizer
    assert item.scores["rouge1"] == pytest.approx(1.0) and item.scores["rougeL"] == pytest.approx(1.0)
    assert suite.aggregate([item])["rouge2"] == pytest.approx(100.0)
