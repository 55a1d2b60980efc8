"""POST /v1/translate over the fake engine: structure, markers, glossary, formality, segments, errors."""

from __future__ import annotations

import httpx
import pytest

from tests.text_fakes import glossary_translator, marker_dropper, sse_events, system_text, upper_translator, user_text

MARKDOWN = """# Getting started

Install it with `pip install causerie`, then read https://example.com/docs. Hello {name}, you have %(count)d messages and {{ unread }} alerts.

```python
def greet(name):

    return f"hello {name}"
```

- Open the [user guide](https://example.com/guide "Guide") for **more** details.
- Write to help@example.com if you are stuck.
"""


def post(url: str, **body) -> httpx.Response:
    return httpx.post(url + "/v1/translate", json=body, timeout=60)


def test_markdown_structure_and_protected_pieces_survive(serve_fake):
    url, engine = serve_fake(reply=upper_translator)
    response = post(url, text=MARKDOWN, target_language="fr", model="fake")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["source_language"] == "en" and result["target_language"] == "fr"
    assert result["format"] == "markdown"
    text = result["text"]
    assert [len(line) > 0 for line in text.split("\n")] == [len(line) > 0 for line in MARKDOWN.split("\n")]
    for kept in (
        '```python\ndef greet(name):\n\n    return f"hello {name}"\n```',  # code block untouched
        "`pip install causerie`",
        "https://example.com/docs",
        "{name}",
        "%(count)d",
        "{{ unread }}",
        '](https://example.com/guide "Guide")',
        "help@example.com",
        "**",
        "# ",
        "\n- ",
    ):
        assert kept in text
    assert "GETTING STARTED" in text and "FOR " in text and "MORE" in text
    # the model never saw what is protected
    prompts = "".join(user_text(r) for r in engine.requests)
    assert "pip install" not in prompts and "example.com" not in prompts and "def greet" not in prompts


def test_segments_side_by_side_rebuild_both_documents(serve_fake):
    url, engine = serve_fake(reply=upper_translator)
    result = post(url, text=MARKDOWN, target_language="ja", model="fake").json()
    segments = result["segments"]
    assert "".join(s["source"] for s in segments) == MARKDOWN
    assert "".join(s["translation"] for s in segments) == result["text"]
    translated = [s for s in segments if s["translated"]]
    assert len(translated) == 4 == len(engine.requests) == result["usage"]["calls"]
    assert any(not s["translated"] and s["source"].startswith("```python") for s in segments)
    assert all(s["attempts"] == 1 and s["missing"] == [] for s in translated)


def test_html_tags_entities_and_scripts_are_kept(serve_fake):
    url, engine = serve_fake(reply=upper_translator)
    html = (
        '<html><body><h1>Your account</h1>\n<p>Click <b>Save</b> &amp; keep <a href="/x?a=1">your changes</a>.</p>\n'
        '<script>var note = "do not translate me";</script></body></html>'
    )
    result = post(url, text=html, target_language="fr", model="fake").json()
    assert result["format"] == "html"
    assert result["text"] == (
        '<html><body><h1>YOUR ACCOUNT</h1>\n<p>CLICK <b>SAVE</b> &amp; KEEP <a href="/x?a=1">YOUR CHANGES</a>.</p>\n'
        '<script>var note = "do not translate me";</script></body></html>'
    )
    assert all("<" not in user_text(r) for r in engine.requests)  # tags are masked or outside the segments


def test_lost_markers_are_retried_then_reported(serve_fake):
    url, _ = serve_fake(reply=marker_dropper(times=1))
    segment = post(url, text="Hello {name}, open https://example.com now.", target_language="fr", model="fake").json()[
        "segments"
    ][0]
    assert segment["attempts"] == 2 and segment["missing"] == []
    assert segment["translation"] == "HELLO {name}, OPEN https://example.com NOW."

    url, _ = serve_fake(reply=marker_dropper(times=10))
    segment = post(url, text="Hello {name}, open https://example.com now.", target_language="fr", model="fake").json()[
        "segments"
    ][0]
    assert segment["attempts"] == 2
    assert segment["missing"] == ["{name}", "https://example.com"]


def test_glossary_is_prompted_verified_and_reported(serve_fake):
    text = "The server stores every message.\n\nNothing else here matters."
    glossary = {"server": "serveur", "message": "courriel", "absent": "jamais"}
    url, engine = serve_fake(reply=glossary_translator)
    result = post(url, text=text, target_language="fr", glossary=glossary, model="fake").json()
    first, _, second = result["segments"]
    assert first["glossary"] == [
        {"source": "server", "target": "serveur", "found": True},
        {"source": "message", "target": "courriel", "found": True},
    ]
    assert first["attempts"] == 1 and first["translation"] == "THE serveur STORES EVERY courriel."
    assert second["glossary"] == []  # only terms that occur in the segment are asked for
    assert "“server” → “serveur”" in system_text(engine.requests[0])
    assert "serveur" not in system_text(engine.requests[1])

    url, engine = serve_fake(reply=upper_translator)  # a model that ignores the glossary
    first = post(url, text=text, target_language="fr", glossary=glossary, model="fake").json()["segments"][0]
    assert first["attempts"] == 2
    assert [g["found"] for g in first["glossary"]] == [False, False]
    assert "must be “serveur”" in system_text(engine.requests[1])  # the retry spells out the miss


@pytest.mark.parametrize(
    ("target", "formality", "expected"),
    [
        ("fr", "formal", "« vous »"),
        ("fr", "informal", "« tu »"),
        ("ja", "formal", "です/ます"),
        ("ja", "informal", "plain form"),
        ("sv", "formal", "formal, polite register"),
    ],
)
def test_formality_instruction_reaches_the_model(serve_fake, target, formality, expected):
    url, engine = serve_fake(reply=upper_translator)
    response = post(
        url, text="Please check your settings again.", target_language=target, formality=formality, model="fake"
    )
    assert response.status_code == 200
    assert expected in system_text(engine.requests[0])


def test_long_document_is_segmented_with_streamed_progress(serve_fake):
    paragraphs = [" ".join(f"Sentence {p}.{s} has several plain words." for s in range(6)) for p in range(5)]
    text = "\n\n".join(paragraphs)
    url, engine = serve_fake(reply=upper_translator)
    with httpx.stream(
        "POST",
        url + "/v1/translate",
        timeout=60,
        json={"text": text, "target_language": "fr", "model": "fake", "max_segment_tokens": 20, "stream": True},
    ) as response:
        assert response.status_code == 200
        events = sse_events(response)
    assert events[-1] == "[DONE]"
    progress = [e for e in events[:-1] if e["object"] == "translation.progress"]
    final = events[-2]
    assert final["object"] == "translation"
    total = progress[0]["total"]
    assert total >= 10 and [p["done"] for p in progress] == list(range(1, total + 1))
    assert all(p["total"] == total for p in progress)
    assert len(engine.requests) == total
    assert all(len(user_text(r).split()) <= 20 for r in engine.requests)  # fake tokens are words
    assert final["text"] == text.upper()
    assert [p["segment"] for p in progress] == [s for s in final["segments"] if s["translated"]]


def test_same_language_is_returned_unchanged_without_calling_the_model(serve_fake):
    url, engine = serve_fake(reply=upper_translator)
    result = post(
        url, text="Bonjour à tous, la réunion commence à dix heures.", target_language="French", model="fake"
    ).json()
    assert result["source_language"] == "fr" and result["text"] == "Bonjour à tous, la réunion commence à dix heures."
    assert engine.requests == [] and result["usage"]["calls"] == 0


def test_language_names_are_accepted(serve_fake):
    url, _ = serve_fake(reply=upper_translator)
    result = post(
        url,
        text="Good morning everyone, the meeting starts at ten.",
        target_language="japonais",
        source_language="English",
        model="fake",
    ).json()
    assert (result["source_language"], result["target_language"]) == ("en", "ja")


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"text": "  \n ", "target_language": "fr"}, "text", "empty"),
        ({"text": "Hello there my friend", "target_language": "klingon"}, "target_language", "Valid codes: aa, ab"),
        (
            {"text": "Hello there my friend", "target_language": "fr", "source_language": "xx"},
            "source_language",
            "unknown language 'xx'",
        ),
        ({"text": "12345 67890 !!", "target_language": "fr"}, "source_language", "could not tell"),
        ({"text": "Hello there my friend", "target_language": "fr", "to": "de"}, "to", "Extra inputs"),
        ({"text": "Hello there my friend", "target_language": "fr", "glossary": {"x": " "}}, "glossary", "empty"),
        ({"target_language": "fr"}, "text", "Field required"),
        ({"text": "word " * 400_001, "target_language": "fr"}, "text", "text is too long: 2000005 characters"),
    ],
)
def test_bad_requests_get_openai_errors(serve_fake, body, param, words):
    url, engine = serve_fake(reply=upper_translator)
    response = post(url, model="fake", **body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert words in error["message"]
    assert engine.requests == []


def test_unknown_model_is_404_even_when_streaming(serve_fake):
    url, _ = serve_fake(reply=upper_translator)
    response = post(url, text="Hello there my friend", target_language="fr", model="nope", stream=True)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
