"""Chat replies in the user's language: detection, retry, translation, streaming policy, opt-outs."""

from __future__ import annotations

import json

from causerie.config import Settings
from causerie.engine.base import GenerationRequest
from tests.conftest import client_for
from tests.text_fakes import is_translation, upper_translator, user_text

QUESTION = [{"role": "user", "content": "Peux-tu m'expliquer comment fonctionne la photosynthèse des plantes ?"}]
ENGLISH = "Photosynthesis is the process by which green plants turn sunlight, water and carbon dioxide into sugar."
FRENCH = "La photosynthèse est le processus par lequel les plantes vertes transforment la lumière du soleil en sucre."
FIRM = "Réponds uniquement en français."


def stubborn(request: GenerationRequest) -> str:
    """Answers in English until told firmly to use French."""
    if is_translation(request):
        return upper_translator(request)
    return FRENCH if FIRM in user_text(request) else ENGLISH


def always_english(request: GenerationRequest) -> str:
    return upper_translator(request) if is_translation(request) else ENGLISH


def extra(completion) -> dict | None:
    """Causerie's extra top-level field, as the openai SDK exposes it."""
    return (completion.model_extra or {}).get("causerie")


def test_reply_in_the_right_language_costs_one_call(serve_fake):
    url, engine = serve_fake(reply=lambda r: FRENCH)
    result = client_for(url).chat.completions.create(model="fake", messages=QUESTION)
    assert result.choices[0].message.content == FRENCH
    assert extra(result) == {"language": "fr", "detected": "fr"}  # null fields are left out, like OpenAI
    assert len(engine.requests) == 1


def test_wrong_language_is_retried_with_a_firmer_instruction(serve_fake):
    url, engine = serve_fake(reply=stubborn)
    result = client_for(url).chat.completions.create(model="fake", messages=QUESTION)
    assert result.choices[0].message.content == FRENCH
    assert extra(result) == {"language": "fr", "detected": "en", "corrected": "retried"}
    assert len(engine.requests) == 2 and FIRM in engine.requests[1].prompt
    first_prompt = len(engine.requests[0].prompt.split())
    assert result.usage.prompt_tokens > first_prompt  # both attempts are counted
    # the English start was stopped as soon as its language was clear, and is not counted (as when streaming)
    assert result.usage.completion_tokens == len(FRENCH.split())


def test_still_wrong_after_the_retry_is_translated(serve_fake):
    url, engine = serve_fake(reply=always_english)
    result = client_for(url).chat.completions.create(model="fake", messages=QUESTION)
    assert result.choices[0].message.content == ENGLISH.upper()  # the fake translator upper-cases
    assert extra(result) == {"language": "fr", "detected": "en", "corrected": "translated"}
    assert is_translation(engine.requests[-1]) and "into French" in engine.requests[-1].prompt


def test_a_language_the_user_asked_for_is_accepted(serve_fake):
    url, engine = serve_fake(reply=lambda r: "海辺の町で、朝の光がとても静かに広がっています。")
    messages = [
        {"role": "user", "content": "Traduis en japonais : la lumière du matin se répand doucement sur la ville."}
    ]
    result = client_for(url).chat.completions.create(model="fake", messages=messages)
    assert extra(result) == {"language": "fr", "detected": "ja"}
    assert len(engine.requests) == 1


def test_tools_json_and_unclear_messages_are_not_checked(serve_fake):
    url, engine = serve_fake(reply=lambda r: ENGLISH)
    client = client_for(url)
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    with_tools = client.chat.completions.create(model="fake", messages=QUESTION, tools=[tool])
    as_json = client.chat.completions.create(model="fake", messages=QUESTION, response_format={"type": "json_object"})
    short = client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "Salut"}])
    for result in (with_tools, as_json, short):
        assert result.choices[0].message.content == ENGLISH and extra(result) is None
    assert len(engine.requests) == 3


def test_the_check_can_be_switched_off(serve_fake, tmp_path):
    url, _engine = serve_fake(Settings(data_dir=tmp_path, language_consistency=False), reply=stubborn)
    result = client_for(url).chat.completions.create(model="fake", messages=QUESTION)
    assert result.choices[0].message.content == ENGLISH and extra(result) is None


def _stream(url: str, **kwargs) -> tuple[str, list]:
    chunks = list(client_for(url).chat.completions.create(model="fake", messages=QUESTION, stream=True, **kwargs))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


def test_streaming_drops_a_wrong_start_and_streams_the_retry(serve_fake):
    url, engine = serve_fake(reply=stubborn)
    text, chunks = _stream(url, stream_options={"include_usage": True})
    assert text == FRENCH  # not one English word reached the client
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert extra(final) == {"language": "fr", "detected": "en", "corrected": "retried"}
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 5  # the retry really streams
    assert FIRM in engine.requests[1].prompt
    assert chunks[-1].usage.completion_tokens == len(FRENCH.split())  # the dropped start was cut short


def test_streaming_translates_a_retry_that_is_still_wrong(serve_fake):
    url, _ = serve_fake(reply=always_english)
    text, chunks = _stream(url)
    assert text == ENGLISH.upper()
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert extra(final)["corrected"] == "translated"


def test_streaming_in_the_right_language_is_released_after_the_first_words(serve_fake):
    url, engine = serve_fake(reply=lambda r: FRENCH + " " + FRENCH)
    text, chunks = _stream(url)
    assert text == FRENCH + " " + FRENCH and len(engine.requests) == 1
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 10  # held only until the language was clear, then token by token
    final = chunks[-1]
    assert extra(final) == {"language": "fr", "detected": "fr"}  # null fields are left out, like OpenAI


def test_the_raw_json_carries_the_report(serve_fake):
    import httpx

    url, _ = serve_fake(reply=stubborn)
    body = httpx.post(url + "/v1/chat/completions", json={"model": "fake", "messages": QUESTION}).json()
    assert body["causerie"] == {"language": "fr", "detected": "en", "corrected": "retried"}
    assert json.dumps(body)  # plain JSON, nothing exotic
