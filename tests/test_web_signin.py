"""Signing in to the web UI (organization mode) in real headless Chromium over the fake engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from causerie.config import Settings
from causerie.services.container import Container
from tests.org_fixtures import PASSWORDS
from tests.web_fixtures import CATALOGS, screenshot

MEMBER = "member@acme.example"
ADMIN = "admin@acme.example"


@pytest.fixture
def acme(serve, tmp_path: Path) -> str:
    """A server in organization mode: Acme with an admin and a member, each with one conversation."""
    settings = Settings(data_dir=tmp_path, language_consistency=False)
    container = Container(settings)
    container.accounts.create_organization("Acme")
    keys = {}
    for email, role in ((ADMIN, "admin"), (MEMBER, "member")):
        container.accounts.add_user("Acme", email, PASSWORDS[role], role)
        keys[role] = container.accounts.create_key("Acme", user=email).key
    container.close_store()
    url, _ = serve(settings=settings)
    for role, title in (("member", "Member's notes"), ("admin", "Admin's plans")):
        created = httpx.post(
            f"{url}/v1/conversations", json={"title": title}, headers={"Authorization": f"Bearer {keys[role]}"}
        )
        assert created.status_code == 201, created.text
    return url


def sign_in(page: Page, email: str, password: str) -> None:
    expect(page.locator("#sign-in")).to_be_visible()
    page.fill("#sign-in-email", email)
    page.fill("#sign-in-password", password)
    page.click("#sign-in-form button[type=submit]")


@pytest.mark.parametrize("locale", ["fr-FR", "ja-JP"])
def test_sign_in_in_the_users_language_and_see_only_ones_own_conversations(
    acme: str, open_page: Callable[..., Page], locale: str
) -> None:
    catalog = CATALOGS[locale[:2]]
    page = open_page(acme, locale=locale)
    expect(page.locator("#sign-in h1")).to_have_text(catalog["signin.title"])
    expect(page.locator("#sign-in-form button[type=submit]")).to_have_text(catalog["signin.submit"])
    expect(page.locator(".layout")).to_be_hidden()
    screenshot(page, f"sign-in-{locale[:2]}")

    sign_in(page, MEMBER, "not the password")
    expect(page.locator("#sign-in-error")).to_have_text(catalog["signin.incorrect"])

    sign_in(page, MEMBER, PASSWORDS["member"])
    page.wait_for_selector("body[data-ready=true] .layout:not([hidden])")
    expect(page.locator("#conversations .conversation-link")).to_have_text(["Member's notes"])
    expect(page.locator("#signed-in-email")).to_have_text(MEMBER)
    expect(page.locator("#sign-out")).to_have_text(catalog["signin.sign_out"])
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["causerie_session"]["httpOnly"] and cookies["causerie_session"]["sameSite"] == "Lax"

    page.reload()  # the session outlives the page
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#conversations .conversation-link")).to_have_text(["Member's notes"])

    page.click("#sign-out")
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#sign-in h1")).to_have_text(catalog["signin.title"])
    assert "causerie_session" not in {cookie["name"] for cookie in page.context.cookies()}


def test_a_signed_in_browser_creates_conversations_through_the_csrf_token(
    acme: str, open_page: Callable[..., Page]
) -> None:
    page = open_page(acme)
    sign_in(page, ADMIN, PASSWORDS["admin"])
    page.wait_for_selector("body[data-ready=true] .layout:not([hidden])")
    page.fill("#prompt", "Hello there")
    page.press("#prompt", "Enter")
    page.wait_for_selector(".message.assistant:not(.streaming)")
    expect(page.locator("#error-banner")).to_be_hidden()
    forged = page.evaluate(
        """async () => (await fetch("/v1/conversations", {method: "POST", headers: {"Content-Type": "application/json"},
                                    body: JSON.stringify({title: "forged"})})).status"""
    )
    assert forged == 403, "the cookie alone (what another site's form would send) is not enough"


def test_personal_mode_shows_no_sign_in(serve, open_page: Callable[..., Page]) -> None:
    url, _ = serve()
    page = open_page(url)
    expect(page.locator("#sign-in")).to_be_hidden()
    expect(page.locator(".layout")).to_be_visible()
    expect(page.locator("#signed-in")).to_be_hidden()


def test_an_admin_creates_a_key_shown_once_and_revokes_it(acme: str, open_page: Callable[..., Page]) -> None:
    page = open_page(acme)
    sign_in(page, ADMIN, PASSWORDS["admin"])
    page.wait_for_selector("body[data-ready=true] .layout:not([hidden])")
    page.click("#open-admin")
    expect(page.locator("#admin-keys tr")).to_have_count(2)  # the keys the fixture made
    page.fill("#admin-key-name", "ci-bot")
    page.click("#admin-create-key")
    expect(page.locator("#admin-new-key")).to_be_visible()
    key = page.locator("#admin-new-key-value").inner_text()
    assert key.startswith("sk-cau-")
    row = page.locator("#admin-keys tr", has=page.locator(".key-name", has_text="ci-bot"))
    expect(row.locator("code")).to_have_text(key[:11] + "…")
    assert httpx.get(f"{acme}/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    screenshot(page, "admin-keys")

    page.click("#admin-dialog .dialog-actions button")
    page.click("#open-admin")
    expect(page.locator("#admin-keys tr")).to_have_count(3)
    expect(page.locator("#admin-new-key")).to_be_hidden()
    assert key not in page.content(), "shown once: the key left the page"

    row.locator(".revoke-key").click()
    expect(row.locator(".key-status")).to_have_text(CATALOGS["en"]["admin.key_revoked"])
    assert httpx.get(f"{acme}/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_a_member_has_no_admin_page(acme: str, open_page: Callable[..., Page]) -> None:
    page = open_page(acme)
    sign_in(page, MEMBER, PASSWORDS["member"])
    page.wait_for_selector("body[data-ready=true] .layout:not([hidden])")
    expect(page.locator("#open-admin")).to_be_hidden()


def test_an_ended_session_brings_back_the_sign_in_page(acme: str, open_page: Callable[..., Page]) -> None:
    page = open_page(acme)
    sign_in(page, MEMBER, PASSWORDS["member"])
    page.wait_for_selector("body[data-ready=true] .layout:not([hidden])")
    page.context.clear_cookies()  # as when the session has expired on the server
    page.context.add_cookies([{"name": "causerie_session", "value": "ended", "url": acme}])
    page.click("#conversations .conversation-link")
    expect(page.locator("#sign-in")).to_be_visible()
