"""The chat in the web UI, in real headless Chromium (Debian's), driven by Playwright, over the fake engine.

Screenshots of the main screens are saved under test-artifacts/ (fixtures: tests/web_fixtures.py).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from causerie.config import Settings
from tests.test_conversations_import import japanese_conversation
from tests.web_fixtures import (
    CATALOGS,
    STORY,
    assistant_texts,
    screenshot,
    send,
    wait_idle,
)


def test_a_reply_streams_then_persists_across_reload(serve, open_page):
    url, _ = serve(delay=0.04)
    page = open_page(url)
    send(page, "Tell me a story")
    page.wait_for_selector(".message.assistant.streaming[aria-busy=true]")  # announced once complete
    assert page.get_attribute("#messages", "aria-live") == "polite"
    observed: list[int] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        length = page.evaluate(
            "() => document.querySelector('.message.assistant.streaming .message-body')?.textContent.trim().length ?? -1"
        )
        if length < 0 and observed:
            break
        if length > 0 and (not observed or observed[-1] != length):
            observed.append(length)
        time.sleep(0.03)
    partial = [length for length in observed if length < len(STORY)]
    assert len(partial) >= 3, observed  # seen growing several times while streaming
    assert observed == sorted(observed)
    wait_idle(page)
    assert assistant_texts(page) == [STORY]
    assert page.text_content("#live-status") == CATALOGS["en"]["chat.reply_done"]
    assert page.locator(".message.user .message-body").inner_text() == "Tell me a story"
    assert re.search(r"#/c/conv_", page.url)
    send(page, "Fibonacci in Python, with code please")
    wait_idle(page)
    assert page.locator(".message.assistant h2").inner_text() == "Fibonacci"
    screenshot(page, "desktop-chat")

    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector(".message.assistant")
    assert assistant_texts(page)[0] == STORY and len(assistant_texts(page)) == 2
    conversation_id = page.url.rsplit("/", 1)[-1]
    assert page.locator(f'#conversations li[data-id="{conversation_id}"]').count() == 1

    page.goto(url)  # no conversation in the address: find it in the sidebar
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator(".message").count() == 0
    page.click(f'#conversations li[data-id="{conversation_id}"] a')
    page.wait_for_selector(".message.assistant")
    assert assistant_texts(page)[0] == STORY and len(assistant_texts(page)) == 2
    assert page.get_attribute(f'#conversations li[data-id="{conversation_id}"] a', "aria-current") == "page"

    page.click("#new-chat")
    page.wait_for_selector(".empty-state")
    assert "#/c/" not in page.url and page.inner_text("#chat-title") == CATALOGS["en"]["chat.new_chat"]
    assert page.locator("#conversations a[aria-current]").count() == 0


def test_language_switch_browser_default_and_memory(serve, open_page):
    url, _ = serve()
    page = open_page(url)
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("#new-chat") == CATALOGS["en"]["sidebar.new_chat"]
    send(page, "東京でおすすめの code を見せて")
    wait_idle(page)
    assert page.text_content(".message.user .message-role") == CATALOGS["en"]["message.role_user"]

    page.select_option("#language-select", "ja")
    page.wait_for_selector("html[lang=ja]")
    for selector, key in [
        ("#new-chat", "sidebar.new_chat"),
        ("#send-button", "composer.send"),
        ("#open-settings", "settings.open"),
        (".message.user .message-role", "message.role_user"),
        (".message.assistant .regenerate-button", "message.regenerate"),
        (".code-block .copy-button", "message.copy_code"),
    ]:
        assert page.text_content(selector).strip() == CATALOGS["ja"][key]
    assert page.get_attribute("#prompt", "placeholder") == CATALOGS["ja"]["composer.placeholder"]
    assert page.inner_text("#new-chat") == "新しいチャット"
    screenshot(page, "japanese-ui")

    page.select_option("#language-select", "fr")
    page.wait_for_selector("html[lang=fr]")
    assert page.inner_text("#new-chat") == CATALOGS["fr"]["sidebar.new_chat"] == "Nouvelle discussion"
    assert page.get_attribute("#search-input", "placeholder") == CATALOGS["fr"]["sidebar.search_placeholder"]
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.get_attribute("html", "lang") == "fr"  # the choice is remembered
    assert page.input_value("#language-select") == "fr"

    japanese_browser = open_page(url, locale="ja-JP")  # no choice made: the browser's language
    assert japanese_browser.get_attribute("html", "lang") == "ja"
    assert japanese_browser.inner_text("#send-button") == CATALOGS["ja"]["composer.send"]


IME_SEQUENCES = {
    # Chrome/Firefox: the confirming keydown comes first, flagged isComposing.
    "chrome": """(box) => {
        box.dispatchEvent(new CompositionEvent('compositionstart', {data: ''}));
        box.value = 'とうきょう';
        box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', isComposing: true, bubbles: true, cancelable: true}));
        box.value = '東京';
        box.dispatchEvent(new CompositionEvent('compositionend', {data: '東京'}));
    }""",
    # Safari: compositionend first, then a keydown Enter with isComposing false and keyCode 229.
    "safari": """(box) => {
        box.dispatchEvent(new CompositionEvent('compositionstart', {data: ''}));
        box.value = '東京';
        box.dispatchEvent(new CompositionEvent('compositionend', {data: '東京'}));
        const enter = new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', bubbles: true, cancelable: true});
        Object.defineProperty(enter, 'keyCode', {value: 229});
        box.dispatchEvent(enter);
    }""",
    # Safari without keyCode 229: the Enter right after compositionend is still the confirmation.
    "safari-13": """(box) => {
        box.dispatchEvent(new CompositionEvent('compositionstart', {data: ''}));
        box.value = '東京';
        box.dispatchEvent(new CompositionEvent('compositionend', {data: '東京'}));
        box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', keyCode: 13, bubbles: true, cancelable: true}));
    }""",
}


def test_enter_confirming_an_ime_composition_never_sends(serve, open_page):
    url, engines = serve()
    page = open_page(url)
    box = page.locator("#prompt")
    for name, sequence in IME_SEQUENCES.items():
        box.fill("")
        box.evaluate(sequence)
        page.wait_for_timeout(300)
        assert page.locator(".message.user").count() == 0, name
        assert box.input_value() == "東京", name

    # A real composition through Chromium's IME path (CDP), confirmed with Enter.
    box.fill("")
    box.focus()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.imeSetComposition", {"text": "とうきょう", "selectionStart": 5, "selectionEnd": 5})
    assert page.evaluate("() => document.querySelector('#prompt').value") == "とうきょう"
    for kind in ("rawKeyDown", "keyUp"):  # the IME consumes the Enter: no character event follows
        cdp.send("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13})
    cdp.send("Input.insertText", {"text": "東京"})  # the IME commits the converted text
    page.wait_for_timeout(300)
    assert page.locator(".message.user").count() == 0
    assert engines[0].requests == []

    box.press("Shift+Enter")  # a new line, not a send
    box.type("タワー")
    assert box.input_value() == "東京\nタワー"
    assert page.locator(".message.user").count() == 0

    box.press("Enter")  # a plain Enter sends
    page.wait_for_selector(".message.user")
    wait_idle(page)
    assert page.locator(".message.user .message-body").inner_text() == "東京\nタワー"
    assert box.input_value() == ""
    conversation = httpx.get(url + "/v1/conversations/" + page.url.rsplit("/", 1)[-1]).json()
    assert [m["content"] for m in conversation["messages"]] == ["東京\nタワー", "Reply 1 to: 東京\nタワー"]


def test_xss_in_a_reply_never_runs_and_code_is_highlighted_and_copyable(serve, open_page):
    url, _ = serve()
    page = open_page(url)
    send(page, "xss <img src=x onerror=\"window.__xss='user'\">")
    wait_idle(page)
    page.wait_for_timeout(300)  # give any injected handler a chance to fire
    assert page.evaluate("() => window.__xss") is None
    messages = page.locator("#messages")
    assert messages.locator("script").count() == 0
    assert messages.locator("[onerror]").count() == 0
    assert "javascript:" not in messages.inner_html()
    assert page.locator(".message.user .message-body").inner_text().startswith("xss <img")  # shown as text
    code = page.locator(".message.assistant pre code")
    assert code.inner_text().strip() == "print('hello')"
    assert code.locator("span[class^=hljs-]").count() > 0  # highlighted by highlight.js
    page.click(".code-block .copy-button")
    expect(page.locator(".code-block .copy-button")).to_have_text(CATALOGS["en"]["message.copied"])
    assert page.evaluate("() => navigator.clipboard.readText()").strip() == "print('hello')"

    page.reload()  # the stored reply is rendered again, still inert
    page.wait_for_selector(".message.assistant pre code")
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("#messages script, #messages [onerror]").count() == 0


def test_phone_width_has_no_horizontal_scroll(serve, open_page):
    url, _ = serve()
    page = open_page(url, width=375, height=740)
    no_overflow = "() => document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth"
    assert page.evaluate(no_overflow)
    assert not page.is_visible("#sidebar")  # collapsed on a phone
    send(page, "long " + "x" * 300 + " " + "https://example.com/" + "a" * 200)
    wait_idle(page)
    send(page, "Some code please")
    wait_idle(page)
    assert page.evaluate(no_overflow)
    assert page.evaluate(
        "() => document.querySelector('#messages').scrollWidth <= document.querySelector('#messages').clientWidth"
    )
    screenshot(page, "phone-chat")

    page.click("#toggle-sidebar")
    page.wait_for_selector("#sidebar", state="visible")
    page.wait_for_function("() => document.querySelector('#sidebar').getBoundingClientRect().left === 0")
    assert page.get_attribute("#toggle-sidebar", "aria-expanded") == "true"
    assert page.evaluate(no_overflow)
    screenshot(page, "phone-sidebar")
    page.keyboard.press("Escape")
    page.wait_for_selector("#sidebar", state="hidden")
    page.click("#new-chat-header")  # a new chat without opening the sidebar
    page.wait_for_selector(".empty-state")
    assert page.evaluate(no_overflow)


def branch_position(page: Page, role: str) -> str:
    return page.locator(f".message.{role} .branch-position").inner_text()


def test_stop_regenerate_edit_and_branch_navigation(serve, open_page):
    url, _ = serve(delay=0.05)
    page = open_page(url)
    send(page, "Tell me a story")
    page.wait_for_function(
        "() => (document.querySelector('.message.streaming .message-body')?.textContent.length ?? 0) > 20"
    )
    page.click("#stop-button")
    wait_idle(page)
    stopped = assistant_texts(page)[0]
    assert 0 < len(stopped) < len(STORY) and STORY.startswith(stopped.strip())
    assert page.get_attribute(".message.assistant", "data-status") == "incomplete"
    assert page.inner_text(".message.assistant .message-status") == CATALOGS["en"]["message.status_incomplete"]

    page.click(".message.assistant .regenerate-button")
    wait_idle(page)
    assert assistant_texts(page) == [STORY]
    assert branch_position(page, "assistant") == "2/2"
    page.click(".message.assistant .branch-prev")
    page.wait_for_function("() => document.querySelector('.message.assistant .branch-position')?.textContent === '1/2'")
    assert assistant_texts(page)[0] == stopped
    page.click(".message.assistant .branch-next")
    page.wait_for_function("() => document.querySelector('.message.assistant .branch-position')?.textContent === '2/2'")
    assert assistant_texts(page) == [STORY]

    page.click(".message.user .edit-button")
    page.fill(".edit-form textarea", "Say hello")
    page.click(".edit-form button[type=submit]")
    wait_idle(page)
    assert page.locator(".message.user .message-body").inner_text() == "Say hello"
    assert branch_position(page, "user") == "2/2"
    assert assistant_texts(page) == ["Reply 1 to: Say hello"]
    page.click(".message.user .branch-prev")
    page.wait_for_function("() => document.querySelector('.message.user .branch-position')?.textContent === '1/2'")
    assert page.locator(".message.user .message-body").inner_text() == "Tell me a story"
    assert assistant_texts(page) == [STORY]  # the branch's latest reply

    page.reload()  # the branch being viewed is stored server-side (current_message_id)
    page.wait_for_selector(".message.user .branch-position")
    assert branch_position(page, "user") == "1/2"
    assert branch_position(page, "assistant") == "2/2"


def test_sidebar_pages_search_rename_delete_and_export(serve, open_page):
    url, _ = serve()
    for i in range(34):
        conversation = httpx.post(f"{url}/v1/conversations", json={"title": f"Old chat {i}"}).json()
    httpx.post(
        f"{url}/v1/conversations/{conversation['id']}/messages",
        json={"content": "Où est la bibliothèque à Tōkyō ?", "stream": False},
    ).raise_for_status()
    page = open_page(url)
    items = page.locator("#conversations li")
    page.wait_for_function("() => document.querySelectorAll('#conversations li').length >= 20")
    for _ in range(10):  # scrolling to the end loads the next pages
        if items.count() == 34:
            break
        page.locator("#list-sentinel").scroll_into_view_if_needed()
        page.wait_for_timeout(200)
    assert items.count() == 34
    titles = items.locator("a").all_inner_texts()
    assert titles[0] != "Old chat 0" and "Old chat 0" in titles  # newest first

    page.fill("#search-input", "bibliotheque")  # accents ignored by the server's search
    page.wait_for_selector("#search-results .search-hit")
    assert page.is_hidden("#conversation-nav")
    page.click("#search-results .search-hit")
    page.wait_for_selector(".message.user")
    assert page.url.endswith(conversation["id"])
    page.fill("#search-input", "")
    page.wait_for_selector("#conversation-nav", state="visible")

    item = page.locator(f'#conversations li[data-id="{conversation["id"]}"]')
    item.locator(".rename-button").click()
    page.fill("#modal-input", "Bibliothèques de Tōkyō")
    page.press("#modal-input", "Enter")  # Enter confirms
    page.wait_for_function("() => document.querySelector('#chat-title').textContent === 'Bibliothèques de Tōkyō'")
    assert item.locator("a").inner_text() == "Bibliothèques de Tōkyō"
    assert httpx.get(f"{url}/v1/conversations/{conversation['id']}").json()["title"] == "Bibliothèques de Tōkyō"

    with page.expect_download() as download:
        page.click("#export-menu summary")
        page.click("#export-menu button[data-format=markdown]")
    exported = Path(download.value.path()).read_text("utf-8")
    assert "Où est la bibliothèque à Tōkyō ?" in exported

    item.locator(".delete-button").click()  # then confirm
    page.click("dialog.modal[open] button[value=confirm]")
    page.wait_for_selector(f'#conversations li[data-id="{conversation["id"]}"]', state="detached")
    assert httpx.get(f"{url}/v1/conversations/{conversation['id']}").status_code == 404
    assert page.locator(".message").count() == 0 and items.count() == 33


def test_model_picker_and_api_key_from_settings(serve, open_page, tmp_path):
    url, engines = serve("model-a", "model-b", settings=Settings(data_dir=tmp_path, api_keys=["sekret"]))
    page = open_page(url)
    page.wait_for_selector("#error-banner:not([hidden])")  # 401 before a key is set
    assert page.inner_text("#error-banner .error-text") == CATALOGS["en"]["errors.auth"]

    page.click("#open-settings")
    page.fill("#api-key", "wrong")
    page.click("#settings-dialog button[value=cancel]")  # cancelled: nothing saved
    assert page.evaluate("() => localStorage.getItem('causerie.apiKey')") is None
    page.click("#open-settings")
    assert page.input_value("#api-key") == ""
    page.fill("#api-key", "sekret")
    page.click("#settings-dialog button[value=save]")
    page.wait_for_function("() => document.querySelectorAll('#model-select option').length === 2")
    assert page.is_hidden("#error-banner")
    default = httpx.get(f"{url}/health").json()["default_model"]
    assert page.input_value("#model-select") == default  # until the user picks one
    page.select_option("#model-select", "model-b")
    send(page, "Bonjour")
    wait_idle(page)
    assert assistant_texts(page) == ["Reply 1 to: Bonjour"]
    assert engines[1].requests and not engines[0].requests
    conversation_id = page.url.rsplit("/", 1)[-1]
    headers = {"Authorization": "Bearer sekret"}
    assert httpx.get(f"{url}/v1/conversations/{conversation_id}", headers=headers).json()["model"] == "model-b"
    page.reload()
    page.wait_for_selector(".message.assistant")  # the key is remembered in this browser
    assert page.input_value("#model-select") == "model-b"


def test_import_a_chatgpt_export_and_export_everything(serve, open_page):
    url, _ = serve()
    page = open_page(url, locale="ja-JP")
    page.click("#open-settings")
    export = json.dumps([japanese_conversation()]).encode()
    page.set_input_files(
        "#import-file", files=[{"name": "conversations.json", "mimeType": "application/json", "buffer": export}]
    )
    expect(page.locator("#data-status")).to_have_text(CATALOGS["ja"]["settings.imported"].replace("{count}", "1"))
    page.keyboard.press("Escape")
    page.click("#conversations a:text-is('ラーメン')")
    page.wait_for_selector(".message.user")
    assert page.inner_text(".message.user .message-body") == "東京でおすすめのラーメン屋は？"

    page.click("#open-settings")
    with page.expect_download() as download:
        page.click("#settings-dialog button[data-export-all=json]")
    exported = json.loads(Path(download.value.path()).read_text("utf-8"))
    assert "ラーメン" in json.dumps(exported, ensure_ascii=False)
    assert "東京でおすすめのラーメン屋は？" in json.dumps(exported, ensure_ascii=False)

    page.set_input_files("#import-file", files=[{"name": "bad.json", "mimeType": "application/json", "buffer": b"{}"}])
    expect(page.locator("#data-status")).not_to_have_text(re.compile(r"^$|インポート中"))
    assert page.locator("#conversations li").count() == 1  # a refused file imports nothing


# ---------------------------------------------------------------- tools: translate, summarize, code


def test_first_paint_shows_no_catalog_keys_and_no_other_language(serve, browser):
    """Until the Japanese catalog is in, the page paints nothing: never `chat.new_chat`, never English."""
    url, _ = serve()
    context = browser.new_context(locale="ja-JP")
    held: list = []
    context.route("**/i18n/ja.json", lambda route: held.append(route))
    page = context.new_page()
    try:
        page.goto(url)
        page.wait_for_function("() => document.querySelector('.empty-title') !== null")
        assert held, "the catalog request was not held"
        assert page.evaluate("getComputedStyle(document.body).visibility") == "hidden"
        assert page.evaluate("document.documentElement.dataset.translated") is None
        held[0].continue_()
        page.wait_for_selector("body[data-ready=true]")
        assert page.evaluate("getComputedStyle(document.body).visibility") == "visible"
        assert page.inner_text(".empty-title") == CATALOGS["ja"]["chat.empty_title"]
        assert page.inner_text("#new-chat") == CATALOGS["ja"]["sidebar.new_chat"]
    finally:
        context.close()
