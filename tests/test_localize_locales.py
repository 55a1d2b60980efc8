"""Locale profiles (Babel formats, formality) and how requests pick them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest

from causerie.config import Settings
from causerie.errors import InvalidRequest
from causerie.protocol.openai import ChatMessage
from causerie.services.locales import PROFILES, apply_locale, get_profile

DAY = dt.date(2026, 11, 25)


def test_profiles_format_dates_and_numbers_the_local_way() -> None:
    fr, ja, en = get_profile("fr-FR"), get_profile("ja_JP"), get_profile("EN-us")
    assert fr.format_date(DAY) == "mercredi 25 novembre 2026"
    assert ja.format_date(DAY) == "2026年11月25日水曜日"
    assert en.format_date(DAY) == "Wednesday, November 25, 2026"
    assert fr.format_number(1234567.89) == "1\u202f234\u202f567,89"
    assert en.format_number(1234567.89) == "1,234,567.89"
    assert ja.format_price(1234.5) == "￥1,234"  # yen have no decimals
    assert fr.format_price(1234.5) == "1\u202f234,50\u00a0€"


def test_system_prompts_carry_formality_and_formats() -> None:
    fr = PROFILES["fr-FR"].system_prompt(DAY)
    assert "vouvoyez" in fr and "25 novembre 2026" in fr and "25/11/2026" in fr
    ja = PROFILES["ja-JP"].system_prompt(DAY)
    assert "敬語" in ja and "2026年11月25日" in ja and "2026/11/25" in ja
    assert PROFILES["fr-FR"].formality == "vous" and PROFILES["ja-JP"].formality == "keigo"


def test_apply_locale_adds_a_system_prompt_only_when_none_exists() -> None:
    user = [ChatMessage(role="user", content="Bonjour")]
    applied = apply_locale(user, "fr-FR", DAY)
    assert applied[0].role == "system" and "vouvoyez" in applied[0].text() and applied[1:] == user
    own = [ChatMessage(role="system", content="Sois bref."), *user]
    assert apply_locale(own, "fr-FR", DAY) == own
    assert apply_locale(user, None) == user
    with pytest.raises(InvalidRequest, match="Unknown locale 'xx-YY'; available locales: fr-FR, ja-JP, en-US") as info:
        apply_locale(user, "xx-YY")
    assert info.value.param == "locale"


def test_request_locale_and_default_locale_reach_the_prompt(serve_fake, tmp_path: Path) -> None:
    url, engine = serve_fake(Settings(data_dir=tmp_path, default_locale="ja-JP"))
    body = {"model": "fake", "messages": [{"role": "user", "content": "Bonjour"}]}
    assert httpx.post(f"{url}/v1/chat/completions", json={**body, "locale": "fr-FR"}).status_code == 200
    assert "vouvoyez" in engine.requests[-1].prompt
    assert httpx.post(f"{url}/v1/chat/completions", json=body).status_code == 200
    assert "敬語" in engine.requests[-1].prompt
    bad = httpx.post(f"{url}/v1/chat/completions", json={**body, "locale": "tlh"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "locale"
