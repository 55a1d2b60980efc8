"""POST /v1/summarize over the fake engine: single pass, map-reduce with progress, language, errors."""

from __future__ import annotations

import httpx
import pytest

from causerie.engine.base import GenerationRequest
from tests.text_fakes import is_translation, sse_events, system_text, upper_translator, user_text

FRENCH_SUMMARY = "Le document décrit la vie du village et les travaux des champs au fil des saisons."
ENGLISH_SUMMARY = "The document describes village life and the work in the fields through the seasons."
FRENCH_DOC = "\n\n".join(
    f"Au printemps {i}, les habitants du village préparent les champs et réparent les outils. "
    "Les enfants aident leurs parents avant d'aller à l'école, et le marché du samedi réunit tout le monde."
    for i in range(12)
)


def summarizer(final: str):
    def reply(request: GenerationRequest) -> str:
        if is_translation(request):
            return upper_translator(request)
        if "one part of a longer document" in system_text(request):
            return "Partie : " + " ".join(user_text(request).split()[:12])
        return final

    return reply


def post(url: str, **body) -> httpx.Response:
    return httpx.post(url + "/v1/summarize", json=body, timeout=60)


def test_short_document_is_one_pass_in_its_language(serve_fake):
    url, engine = serve_fake(reply=summarizer(FRENCH_SUMMARY))
    result = post(url, text=FRENCH_DOC.split("\n\n")[0], model="fake", length="short").json()
    assert result["summary"] == FRENCH_SUMMARY
    assert (result["chunks"], result["levels"], result["usage"]["calls"]) == (1, 0, 1)
    assert result["document_language"] == "fr" and result["language"] == "fr" and not result["translated"]
    system = system_text(engine.requests[0])
    assert "in one or two sentences" in system and "in French" in system
    assert engine.requests[0].params.max_tokens == 96


def test_long_document_map_reduces_with_progress(serve_fake):
    url, engine = serve_fake(reply=summarizer(FRENCH_SUMMARY), context_length=4096)
    body = {"text": FRENCH_DOC, "model": "fake", "chunk_tokens": 64, "stream": True}
    with httpx.stream("POST", url + "/v1/summarize", json=body, timeout=60) as response:
        assert response.status_code == 200
        events = sse_events(response)
    assert events[-1] == "[DONE]"
    result, progress = events[-2], events[:-2]
    assert result["object"] == "summary" and result["summary"] == FRENCH_SUMMARY
    maps = [p for p in progress if p["stage"] == "map"]
    reduces = [p for p in progress if p["stage"] == "reduce"]
    assert len(maps) == result["chunks"] == maps[0]["total"] >= 6
    assert result["levels"] >= 1
    assert [p["done"] for p in maps] == list(range(1, len(maps) + 1))
    assert reduces and {p["level"] for p in reduces} == set(range(1, result["levels"] + 1))
    assert progress[-1] == {
        "object": "summary.progress",
        "stage": "final",
        "level": result["levels"] + 1,
        "done": 1,
        "total": 1,
    }
    assert result["usage"]["calls"] == len(progress) == len(engine.requests)
    assert all(len(user_text(r).split()) <= 64 for r in engine.requests)  # every call fits the budget
    final_input = user_text(engine.requests[-1])
    assert final_input.startswith("Partie :")  # the last pass reads partial summaries, not the document


def test_summary_in_another_language_is_translated_back(serve_fake):
    url, engine = serve_fake(reply=summarizer(ENGLISH_SUMMARY))
    result = post(url, text=FRENCH_DOC.split("\n\n")[0], model="fake").json()
    assert result["translated"] is True and result["language"] == "fr"
    assert result["summary"] == ENGLISH_SUMMARY.upper()  # the fake translator upper-cases
    assert is_translation(engine.requests[-1]) and "into French" in system_text(engine.requests[-1])


def test_requested_language_overrides_the_documents(serve_fake):
    url, engine = serve_fake(reply=summarizer(ENGLISH_SUMMARY))
    result = post(url, text=FRENCH_DOC.split("\n\n")[0], model="fake", language="en", length="long").json()
    assert result["language"] == "en" and result["document_language"] == "fr" and not result["translated"]
    assert "in English" in system_text(engine.requests[0]) and "several paragraphs" in system_text(engine.requests[0])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"text": ""}, "text"),
        ({"text": "Du texte", "language": "elvish"}, "language"),
        ({"text": "Du texte", "length": "huge"}, "length"),
        ({"text": "Du texte", "chunk_tokens": 3}, "chunk_tokens"),
    ],
)
def test_bad_requests_get_openai_errors(serve_fake, body, param):
    url, engine = serve_fake(reply=summarizer(FRENCH_SUMMARY))
    response = post(url, model="fake", **body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert engine.requests == []


def test_context_too_small_for_a_summary_is_refused(serve_fake):
    url, _ = serve_fake(reply=summarizer(FRENCH_SUMMARY), context_length=300)
    response = post(url, model="fake", text=FRENCH_DOC)
    assert response.status_code == 400
    assert "too small to summarize" in response.json()["error"]["message"]
