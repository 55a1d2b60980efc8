"""Locale profiles: how the assistant addresses people in a locale, and how it writes dates and numbers.

A profile gives the system prompt conventions (language, formality such as *vous* or keigo) and
formats today's date and sample numbers with Babel (CLDR data), so the model sees the local
conventions. A profile applies to a request (``locale`` field) or to every request
(``CAUSERIE_DEFAULT_LOCALE``) and only when the conversation has no system message of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from causerie.errors import InvalidRequest
from causerie.protocol.openai import ChatMessage


class LocaleProfile(BaseModel):
    tag: str
    """BCP 47 tag: fr-FR, ja-JP, en-US."""
    language: str
    formality: Literal["vous", "keigo", "neutral"]
    currency: str
    prompt: str
    """System prompt with {date}, {short_date}, {number} and {price} placeholders."""

    @property
    def babel_locale(self) -> str:
        return self.tag.replace("-", "_")

    def format_date(self, day: dt.date, style: Literal["full", "long", "medium", "short"] = "full") -> str:
        from babel.dates import format_date

        return format_date(day, format=style, locale=self.babel_locale)

    def format_number(self, value: float) -> str:
        from babel.numbers import format_decimal

        return format_decimal(value, locale=self.babel_locale)

    def format_price(self, value: float) -> str:
        from babel.numbers import format_currency

        return format_currency(value, self.currency, locale=self.babel_locale)

    def system_prompt(self, today: dt.date | None = None) -> str:
        day = today or dt.date.today()
        return self.prompt.format(
            date=self.format_date(day),
            short_date=self.format_date(day, "short"),
            number=self.format_number(1234567.89),
            price=self.format_price(1234.5),
        )


PROFILES: dict[str, LocaleProfile] = {
    "fr-FR": LocaleProfile(
        tag="fr-FR",
        language="fr",
        formality="vous",
        currency="EUR",
        prompt=(
            "Vous êtes Causerie, un assistant serviable. Répondez en français et vouvoyez toujours"
            " l'utilisateur. Nous sommes le {date}. Écrivez les dates comme {short_date}, les nombres"
            " comme {number} et les prix comme {price}."
        ),
    ),
    "ja-JP": LocaleProfile(
        tag="ja-JP",
        language="ja",
        formality="keigo",
        currency="JPY",
        prompt=(
            "あなたは親切なアシスタントのCauserieです。日本語で、敬語（です・ます調）を使って丁寧に答えてください。"
            "今日は{date}です。日付は{short_date}、数字は{number}、金額は{price}のように書いてください。"
        ),
    ),
    "en-US": LocaleProfile(
        tag="en-US",
        language="en",
        formality="neutral",
        currency="USD",
        prompt=(
            "You are Causerie, a helpful assistant. Answer in English, in a friendly and neutral tone."
            " Today is {date}. Write dates like {short_date}, numbers like {number} and prices like {price}."
        ),
    ),
}


def get_profile(tag: str) -> LocaleProfile:
    """The profile for ``tag`` (case-insensitive, ``_`` or ``-``); ``InvalidRequest`` naming the known ones."""
    wanted = tag.replace("_", "-").lower()
    for key, profile in PROFILES.items():
        if key.lower() == wanted:
            return profile
    raise InvalidRequest(f"Unknown locale '{tag}'; available locales: {', '.join(PROFILES)}", param="locale")


def apply_locale(messages: Sequence[ChatMessage], tag: str | None, today: dt.date | None = None) -> list[ChatMessage]:
    """``messages`` with the profile's system prompt first, unless there is no locale or a system message exists."""
    if not tag:
        return list(messages)
    profile = get_profile(tag)
    if any(m.role in ("system", "developer") for m in messages):
        return list(messages)
    return [ChatMessage(role="system", content=profile.system_prompt(today)), *messages]
