"""Scripted model behaviour for the text tests: a fake translator and a fake summarizer.

The FakeEngine renders prompts as ``<|system|>…\\n<|user|>…\\n<|assistant|>``; these helpers read
the parts back and answer the way a (perfect or flawed) model would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx

from causerie.engine.base import GenerationRequest


def system_text(request: GenerationRequest) -> str:
    match = re.search(r"<\|system\|>(.*?)\n<\|(?:user|assistant)\|>", request.prompt, re.S)
    return match.group(1) if match else ""


def user_text(request: GenerationRequest) -> str:
    """The last user message of the prompt."""
    return request.prompt.rsplit("<|user|>", 1)[1].rsplit("\n<|assistant|>", 1)[0]


def is_translation(request: GenerationRequest) -> bool:
    return "professional translator" in system_text(request)


def upper_translator(request: GenerationRequest) -> str:
    """'Translates' by upper-casing, which leaves ``{1}`` markers as they are."""
    return user_text(request).upper()


def glossary_translator(request: GenerationRequest) -> str:
    """Upper-cases, then applies the glossary the system prompt asks for."""
    text = upper_translator(request)
    for source, target in re.findall(r"“([^”]+)” → “([^”]+)”", system_text(request)):
        text = re.sub(re.escape(source), target, text, flags=re.I)
    return text


def marker_dropper(times: int) -> Callable[[GenerationRequest], str]:
    """Loses the markers of the first ``times`` calls, then translates properly."""
    calls = {"n": 0}

    def reply(request: GenerationRequest) -> str:
        calls["n"] += 1
        text = upper_translator(request)
        return re.sub(r"\{\d+\}", "", text) if calls["n"] <= times else text

    return reply


def sse_events(response: httpx.Response) -> list[dict | str]:
    """The ``data:`` payloads of a server-sent events response (JSON decoded, ``[DONE]`` as is)."""
    events: list[dict | str] = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events
