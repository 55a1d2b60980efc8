"""What the browser tests share: Debian's Chromium through Playwright, live servers over scripted fake
engines, pages that fail their test on any JavaScript error, and helpers to drive the chat.

Loaded as a plugin by tests/conftest.py (fixtures ``browser``, ``serve``, ``open_page``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from causerie.config import Settings
from causerie.engine.base import GenerationRequest
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry
from tests.conftest import fake_spec, live_server
from tests.conversation_fixtures import is_title_request
from tests.text_fakes import is_translation, system_text, upper_translator

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CATALOGS = {
    lang: json.loads((ROOT / "causerie/web/i18n" / f"{lang}.json").read_text("utf-8")) for lang in ("en", "fr", "ja")
}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

STORY = " ".join(f"word{i}" for i in range(40)) + "."
XSS_REPLY = (
    "Careful:\n\n<script>window.__xss = 'script';</script>\n\n"
    "<img src=x onerror=\"window.__xss = 'onerror'\">\n\n"
    "<a href=\"javascript:window.__xss='link'\">click</a>\n\n"
    "```python\nprint('hello')\n```\n"
)
CODE_REPLY = (
    "## Fibonacci\n\nAn iterative version, in **linear** time:\n\n"
    "```python\ndef fib(n: int) -> int:\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n```\n\n"
    "- `fib(10)` is `55`\n- works for `n >= 0`\n"
)
SUMMARY_REPLY = (
    "The **village** keeps its old traditions alive through the seasons.\n\n"
    "- Farmers prepare the fields in spring and repair their tools\n"
    "- The Saturday market brings every family of the village together\n\n"
    "<img src=x onerror=\"window.__xss = 'summary'\">"
)
ADD_REPLY = "Here it is:\n```python\ndef add(a, b):\n    return a + b\n```"
TIMEOUT_MS = 15_000


def last_user_text(prompt: str) -> str:
    return prompt.rsplit("<|user|>", 1)[-1].rsplit("\n<|assistant|>", 1)[0].strip()


class Script:
    """Replies picked by keywords of the last user message; numbered so that a regeneration differs."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, request: GenerationRequest) -> str:
        text = last_user_text(request.prompt)
        if is_translation(request):  # upper-cases: ignores any glossary, keeps markers
            return upper_translator(request)
        if "Summarize the text the user sends" in system_text(request):
            return SUMMARY_REPLY
        if "expert python programmer" in system_text(request).lower():
            return ADD_REPLY
        if is_title_request(request):
            return f"Title: {text[:30]}"
        if "xss" in text:
            return XSS_REPLY
        if "story" in text:
            return STORY
        if "code" in text:
            return CODE_REPLY
        self.count += 1
        return f"Reply {self.count} to: {text}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("Debian's chromium is missing: run `bash scripts/install.sh --test`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[str, list[FakeEngine]]]]:
    """A live server over one or more scripted fake engines (one model each)."""
    contexts: list = []

    def start(*model_ids: str, delay: float = 0.0, settings: Settings | None = None) -> tuple[str, list[FakeEngine]]:
        engines = [FakeEngine(model_id, reply=Script(), delay=delay) for model_id in (model_ids or ("fake",))]
        context = live_server(settings or Settings(data_dir=tmp_path), ModelRegistry([fake_spec(e) for e in engines]))
        contexts.append(context)
        return context.__enter__(), engines

    yield start
    for context in reversed(contexts):
        context.__exit__(None, None, None)


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """A fresh browser context (own localStorage) per page, at the given size and locale.

    Any uncaught JavaScript error on a page fails the test.
    """
    contexts = []
    errors: list[str] = []

    def open_(url: str, width: int = 1280, height: int = 800, locale: str = "en-US") -> Page:
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], errors


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def send(page: Page, text: str) -> None:
    page.fill("#prompt", text)
    page.press("#prompt", "Enter")


def wait_idle(page: Page) -> None:
    """Wait until no reply streams and the view was re-rendered from the server."""
    page.wait_for_selector("#send-button:not([disabled])", state="visible")
    page.wait_for_selector(".message.assistant.streaming", state="detached")


def assistant_texts(page: Page) -> list[str]:
    return page.locator(".message.assistant .message-body").all_inner_texts()
