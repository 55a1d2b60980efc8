"""Translate, summarize and language consistency end to end on the embedded Qwen model (French, Japanese)."""

from __future__ import annotations

import httpx
import pytest

from causerie.language import detect_language
from causerie.models.embedded import QWEN_ID
from tests.conftest import client_for

pytestmark = pytest.mark.model


def translate(url: str, text: str, target: str) -> dict:
    response = httpx.post(url + "/v1/translate", json={"text": text, "target_language": target}, timeout=300)
    assert response.status_code == 200, response.text
    return response.json()


def test_english_to_french_keeps_placeholders(qwen_url):
    result = translate(qwen_url, "Hello {name}, your order has been shipped and will arrive tomorrow.", "fr")
    assert result["source_language"] == "en"
    assert detect_language(result["text"]) == "fr", result["text"]
    assert "{name}" in result["text"] and result["segments"][0]["missing"] == []


def test_english_to_japanese(qwen_url):
    result = translate(qwen_url, "The weather is nice today, so we are going to the park.", "ja")
    assert detect_language(result["text"]) == "ja", result["text"]


def test_french_text_gets_a_french_summary(qwen_url):
    text = (
        "La ville de Lyon a inauguré samedi une nouvelle ligne de tramway qui relie la gare Part-Dieu à "
        "l'aéroport en vingt-cinq minutes. Le projet a coûté 180 millions d'euros et a duré quatre ans. "
        "Les élus espèrent réduire le trafic automobile de dix pour cent d'ici 2030, tandis que certains "
        "commerçants craignent une baisse de leur clientèle pendant les travaux de la deuxième phase."
    )
    response = httpx.post(qwen_url + "/v1/summarize", json={"text": text, "length": "short"}, timeout=300)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["document_language"] == "fr" and result["language"] == "fr"
    assert detect_language(result["summary"]) == "fr", result["summary"]


def test_japanese_question_gets_a_japanese_reply(qwen_url):
    result = client_for(qwen_url).chat.completions.create(
        model=QWEN_ID,
        temperature=0,
        max_tokens=60,
        messages=[{"role": "user", "content": "富士山について一文で教えてください。日本で一番高い山ですか？"}],
    )
    report = result.model_extra["causerie"]
    assert report["language"] == "ja"
    assert detect_language(result.choices[0].message.content) == "ja", result.choices[0].message.content
