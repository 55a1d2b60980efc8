"""The language policy as one component: it wraps a choice's reply stream (fake engine, no server).

The scripted sources record how much of a reply the policy pulled before it let the first piece
through, which is what a client waits for.
"""

from __future__ import annotations

import asyncio
import re
import statistics
from pathlib import Path

import pytest

from causerie.config import Settings
from causerie.engine.base import GenerationFinish, GenerationRequest
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry
from causerie.principal import PERSONAL
from causerie.protocol.openai import ChatCompletionRequest, ChatMessage
from causerie.services.consistency import (
    HOLD_LETTERS,
    LanguagePlan,
    LanguagePolicy,
    Verdict,
    firm_instruction,
    judge,
    plan_for,
)
from causerie.services.container import Container
from causerie.services.reply_stream import ChoiceEnd, Content, ReplyEvent, ReplyStream, collect
from tests.conftest import fake_spec
from tests.text_fakes import is_translation, upper_translator, user_text

FRENCH_QUESTION = "Peux-tu m'expliquer comment fonctionne la photosynthèse des plantes ?"
ENGLISH_QUESTION = "Can you explain to me how photosynthesis works in plants?"
JAPANESE_QUESTION = "富士山について一文で教えてください。日本で一番高い山ですか？"
ENGLISH = "Photosynthesis is the process by which green plants turn sunlight, water and carbon dioxide into sugar."
FRENCH = "La photosynthèse est le processus par lequel les plantes vertes transforment la lumière du soleil en sucre."
JAPANESE = "富士山は日本で一番高い山で、標高は三千七百七十六メートルです。"
FIRM = "Réponds uniquement en français."

# Reply starts, some opening with the other language's words: what EARLY_LETTERS and EARLY_MARGIN were chosen on.
ENGLISH_STARTS = [
    ENGLISH,
    "Sure! Here is a simple explanation of how photosynthesis works in plants.",
    "The capital of France is Paris, which is also its largest city.",
    "Of course. To make a crêpe, you need flour, eggs, milk and a pinch of salt.",
    "I'm sorry, but I cannot help with that request.",
    "Certainly! Paris is known for the Eiffel Tower, the Louvre and its cafés.",
    "Bonjour! Photosynthesis is how plants make food from light.",
    "Le Monde is a French newspaper founded in 1944 in Paris.",
    "Yes, the Louvre is open every day except Tuesday.",
    "Great question! The Eiffel Tower was built for the 1889 World's Fair.",
    "Here are three tips: drink water, sleep well and exercise regularly.",
    "Hello there, how can I help you today?",
    "Madame Curie was a physicist and chemist who conducted pioneering research on radioactivity.",
    "Quelque chose is French for something, and it is used often.",
    "In summary, plants use chlorophyll to capture energy from the sun.",
    "Bien sûr! Photosynthesis is the way plants make sugar from light.",
    "Voici the answer: plants convert light into chemical energy.",
    "La photosynthèse, or photosynthesis, is how plants make food.",
    "Absolutely, I can explain that. Plants use sunlight to make glucose.",
    "Plants make their food through a process called photosynthesis.",
    "Photosynthesis occurs in the chloroplasts of plant cells.",
    "Well, it depends on the plant, but most use sunlight.",
    "To answer your question, plants absorb light with chlorophyll.",
    "As a language model, I can tell you that photosynthesis is fascinating.",
    "OK, let me explain photosynthesis step by step.",
    "Merci for your question! Photosynthesis is a chemical process.",
    "Paris, Lyon and Marseille are the largest cities in France.",
    "Chlorophyll absorbs mostly blue and red light.",
    "Step 1: The plant absorbs sunlight through its leaves.",
    "1. Light absorption: chlorophyll captures photons.",
    "**Photosynthesis** is the process used by plants.",
    "Good morning! Today we will talk about plants.",
    "The answer is simple: plants need light, water and air.",
    "Sunlight, water and carbon dioxide are needed for photosynthesis.",
    "Plants use photosynthesis to convert sunlight into energy. They take in carbon dioxide.",
    "Plants make food from sunlight in a process called photosynthesis.",
    "The Eiffel Tower is located in Paris and was completed in 1889.",
    "Water boils at 100 degrees Celsius at sea level.",
    "A computer program is a set of instructions that a computer follows.",
    "There are many ways to learn a new language, such as reading books.",
    "Python is a popular programming language known for its simplicity.",
    "The French Revolution began in 1789 and changed the country forever.",
    "Mount Fuji is the highest mountain in Japan, at 3,776 meters.",
    "To bake bread, you need flour, water, yeast and salt.",
]
FRENCH_STARTS = [
    FRENCH,
    "Bien sûr ! Voici une explication simple du fonctionnement de la photosynthèse.",
    "La capitale de la France est Paris, qui est aussi sa plus grande ville.",
    "Pour faire une crêpe, il faut de la farine, des œufs, du lait et une pincée de sel.",
    "Je suis désolé, mais je ne peux pas vous aider avec cette demande.",
    "Oui, le Louvre est ouvert tous les jours sauf le mardi.",
    "Paris est connue pour la tour Eiffel, le Louvre et ses cafés.",
    "Excellente question ! La tour Eiffel a été construite pour l'Exposition universelle de 1889.",
    "Voici trois conseils : buvez de l'eau, dormez bien et faites de l'exercice.",
    "Bonjour, comment puis-je vous aider aujourd'hui ?",
    "Marie Curie était une physicienne et chimiste qui a mené des recherches pionnières sur la radioactivité.",
    "En résumé, les plantes utilisent la chlorophylle pour capter l'énergie du soleil.",
    "D'accord. Le système solaire compte huit planètes.",
    "Python est un langage de programmation très populaire.",
    "Les plantes ont besoin de lumière, d'eau et de dioxyde de carbone.",
    "OK, voici comment fonctionne la photosynthèse.",
    "Hello ! Je vais vous expliquer la photosynthèse.",
    "Certainement. La photosynthèse se déroule dans les chloroplastes.",
    "Étape 1 : la plante absorbe la lumière du soleil.",
    "1. Absorption de la lumière : la chlorophylle capte les photons.",
    "**La photosynthèse** est le processus utilisé par les plantes.",
    "Les feuilles captent la lumière grâce à la chlorophylle.",
    "C'est une excellente question. Les plantes fabriquent leur nourriture.",
    "En bref, la lumière devient de l'énergie chimique.",
    "Le soleil fournit l'énergie nécessaire aux plantes.",
    "Tout d'abord, il faut comprendre le rôle de la chlorophylle.",
    "Il existe deux phases : la phase claire et la phase sombre.",
    "Absolument ! Les plantes utilisent la lumière pour produire du glucose.",
    "Salut ! La photosynthèse, c'est la cuisine des plantes.",
    "Dans les feuilles, les chloroplastes transforment la lumière.",
    "Les plantes utilisent la photosynthèse pour convertir la lumière en énergie.",
    "La tour Eiffel se trouve à Paris et a été achevée en 1889.",
    "L'eau bout à 100 degrés Celsius au niveau de la mer.",
    "Un programme informatique est un ensemble d'instructions.",
    "Il existe plusieurs façons d'apprendre une nouvelle langue.",
    "Python est un langage de programmation connu pour sa simplicité.",
    "La Révolution française a commencé en 1789.",
    "Le mont Fuji est la plus haute montagne du Japon.",
    "Pour faire du pain, il faut de la farine, de l'eau, de la levure et du sel.",
]


def words(text: str) -> list[str]:
    """Word-sized pieces, as the fake engine streams them."""
    return re.findall(r"\s*\S+", text)


def letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


class Scripted:
    """A reply stream of ``pieces`` that records what the consumer pulled and whether it was closed."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.pulled: list[str] = []
        self.finished = False

    async def events(self) -> ReplyStream:
        for piece in self.pieces:
            self.pulled.append(piece)
            yield Content(piece)
        self.finished = True
        yield ChoiceEnd("stop", generations=(GenerationFinish("stop", 10, len(self.pieces)),))

    @property
    def pulled_text(self) -> str:
        return "".join(self.pulled)


def plan(question: str) -> LanguagePlan:
    found = plan_for(ChatCompletionRequest(messages=[ChatMessage(role="user", content=question)]))
    assert found is not None
    return found


def translating_policy(tmp_path: Path) -> tuple[LanguagePolicy, FakeEngine]:
    """The policy as the container builds it, its translator on a fake engine that upper-cases."""
    engine = FakeEngine(reply=upper_translator)
    container = Container(Settings(data_dir=tmp_path), ModelRegistry([fake_spec(engine)]))
    return container.language_policy, engine


async def first_release(
    policy: LanguagePolicy, question: str, source: Scripted, retries: list[Scripted] | None = None
) -> tuple[str | None, list[ReplyEvent]]:
    """(what the source had produced when the first piece came out, every event out)."""
    asked: list[list[ChatMessage]] = []

    def retry(messages: list[ChatMessage]) -> ReplyStream:
        asked.append(messages)
        assert retries, "the policy asked again where it should not have"
        return retries.pop(0).events()

    out: list[ReplyEvent] = []
    at_first: str | None = None
    messages = [ChatMessage(role="user", content=question)]
    async for event in policy.apply(
        plan(question), source.events(), retry=retry, messages=messages, model="fake", principal=PERSONAL
    ):
        if isinstance(event, Content) and at_first is None:
            at_first = source.pulled_text
        out.append(event)
    if asked:
        assert asked[0][-1].content == question + "\n\n" + firm_instruction(plan(question).expected)
    return at_first, out


def shown(events: list[ReplyEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, Content))


def end_of(events: list[ReplyEvent]) -> ChoiceEnd:
    assert isinstance(events[-1], ChoiceEnd) and not any(isinstance(e, ChoiceEnd) for e in events[:-1])
    return events[-1]


# ---------------------------------------------------------------- judging a start


@pytest.mark.parametrize(
    ("question", "wrong", "right"),
    [(FRENCH_QUESTION, ENGLISH_STARTS, FRENCH_STARTS), (ENGLISH_QUESTION, FRENCH_STARTS, ENGLISH_STARTS)],
    ids=["french user", "english user"],
)
def test_a_start_in_another_language_is_never_accepted_early(question, wrong, right):
    expected = plan(question)
    for sentence in wrong:
        pieces = words(sentence)
        for end in range(1, len(pieces) + 1):
            start = "".join(pieces[:end])
            verdict = judge(expected, start)
            assert verdict is None or not verdict.accepted, start
            assert verdict is None or letters(start) >= HOLD_LETTERS  # refused only with the ordinary care


@pytest.mark.parametrize(("question", "right"), [(FRENCH_QUESTION, FRENCH_STARTS), (ENGLISH_QUESTION, ENGLISH_STARTS)])
def test_a_start_in_the_users_language_is_mostly_accepted_within_a_few_words(question, right):
    expected = plan(question)
    decided_after: list[int] = []
    for sentence in right:
        pieces = words(sentence)
        verdicts = [(judge(expected, "".join(pieces[:i])), "".join(pieces[:i])) for i in range(1, len(pieces) + 1)]
        verdict, start = next(((v, start) for v, start in verdicts if v is not None), (None, sentence))
        assert verdict is None or verdict.accepted, start  # never refused
        decided_after.append(letters(start))
    assert statistics.median(decided_after) <= 24  # was 40 for every one
    assert sum(after < HOLD_LETTERS for after in decided_after) >= 0.75 * len(decided_after)


def test_east_asian_scripts_decide_in_a_few_characters():
    japanese, french = plan(JAPANESE_QUESTION), plan(FRENCH_QUESTION)
    korean = plan("한국어로 대답해 주세요. 서울은 어떤 도시인가요?")
    assert judge(japanese, "はい、そう") == judge(japanese, "富士山は") == Verdict(True, "ja")  # kana: Japanese
    assert judge(korean, "네, 서울은") == Verdict(True, "ko")
    assert judge(korean, "はい、そう") == Verdict(False, "ja")
    assert not judge(french, "はい、そう").accepted
    assert not judge(french, "富士山").accepted  # Chinese characters, to a user who writes none
    assert judge(french, "北京") is None  # two letters: not yet
    assert judge(japanese, "富士山") is None  # Chinese or Japanese: the detector needs a little more


def test_an_unclear_reply_is_judged_whole_at_its_end():
    french = plan(FRENCH_QUESTION)
    assert judge(french, "OK") is None
    assert judge(french, "OK", final=True).accepted


# ---------------------------------------------------------------- the component over a stream


def test_a_reply_in_the_users_language_is_released_without_the_long_hold(tmp_path):
    policy, translator = translating_policy(tmp_path)
    source = Scripted(words(FRENCH + " " + FRENCH))
    at_first, events = asyncio.run(first_release(policy, FRENCH_QUESTION, source))
    assert at_first is not None and letters(at_first) < 25 and len(at_first) < 30  # not 40 letters
    assert shown(events) == FRENCH + " " + FRENCH and source.finished
    assert end_of(events).language.model_dump() == {"language": "fr", "detected": "fr", "corrected": None}
    assert translator.requests == []


def test_a_japanese_reply_is_released_after_a_few_characters(tmp_path):
    policy, _ = translating_policy(tmp_path)
    source = Scripted(list(JAPANESE))  # one character a piece
    at_first, events = asyncio.run(first_release(policy, JAPANESE_QUESTION, source))
    assert at_first == JAPANESE[:4]  # the first kana
    assert shown(events) == JAPANESE and end_of(events).language.detected == "ja"


def test_a_japanese_reply_to_a_french_user_is_stopped_after_a_few_characters(tmp_path):
    policy, _ = translating_policy(tmp_path)
    source, retry = Scripted(list(JAPANESE)), Scripted(words(FRENCH))
    _, events = asyncio.run(first_release(policy, FRENCH_QUESTION, source, [retry]))
    assert source.pulled_text == JAPANESE[:3] and not source.finished  # the wrong start was cut off
    assert shown(events) == FRENCH and retry.finished
    assert end_of(events).language.corrected == "retried"


def test_english_to_a_french_user_is_retried_then_translated(tmp_path):
    policy, translator = translating_policy(tmp_path)
    first, retry = Scripted(words(ENGLISH)), Scripted(words(ENGLISH))
    _, events = asyncio.run(first_release(policy, FRENCH_QUESTION, first, [retry]))
    assert not first.finished and letters(first.pulled_text) < letters(ENGLISH)  # stopped once it was clear
    assert retry.finished
    assert [e.text for e in events if isinstance(e, Content)] == [ENGLISH.upper()]  # not one English word shown
    end = end_of(events)
    assert end.language.model_dump() == {"language": "fr", "detected": "en", "corrected": "translated"}
    assert len(translator.requests) == 1 and "into French" in translator.requests[0].prompt
    assert end.generations == (GenerationFinish("stop", 10, len(words(ENGLISH))),)  # the retry; the start was cut
    assert end.extra_completion_tokens == len(words(ENGLISH.upper())) and end.extra_prompt_tokens > 0


# ---------------------------------------------------------------- where the policy applies


def stubborn(request: GenerationRequest) -> str:
    """Answers in English until told firmly to use French; translates by upper-casing."""
    if is_translation(request):
        return upper_translator(request)
    return FRENCH if FIRM in user_text(request) else ENGLISH


def chat_container(tmp_path: Path, reply, **settings) -> tuple[Container, FakeEngine]:
    engine = FakeEngine(reply=reply)
    return Container(Settings(data_dir=tmp_path, **settings), ModelRegistry([fake_spec(engine)])), engine


def french_request(**fields) -> ChatCompletionRequest:
    return ChatCompletionRequest(model="fake", messages=[{"role": "user", "content": FRENCH_QUESTION}], **fields)


def test_streamed_and_collected_replies_go_through_the_same_policy(tmp_path):
    container, engine = chat_container(tmp_path, stubborn)
    chat = container.chat

    async def both():
        completion = await chat.complete(await chat.prepare(french_request(), PERSONAL))
        chunks = [chunk async for chunk in chat.stream(await chat.prepare(french_request(stream=True), PERSONAL))]
        return completion, chunks

    completion, chunks = asyncio.run(both())
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert completion.choices[0].message.content == streamed == FRENCH
    assert completion.causerie == chunks[-1].causerie
    assert completion.causerie.model_dump() == {"language": "fr", "detected": "en", "corrected": "retried"}
    assert [FIRM in r.prompt for r in engine.requests] == [False, True, False, True]


def test_code_answers_are_not_checked(tmp_path):
    container, engine = chat_container(tmp_path, stubborn)
    messages = [{"role": "user", "content": FRENCH_QUESTION}]
    reply = asyncio.run(container.code.ask(messages, PERSONAL, model="fake", temperature=0, max_tokens=64))
    assert reply.text == ENGLISH and len(engine.requests) == 1  # neither retried nor translated
    assert container.code.chat is container.chat and container.chat.language is container.language_policy


def test_the_setting_switches_the_policy_off_and_the_translator_is_shared(tmp_path):
    off, _ = chat_container(tmp_path, stubborn, language_consistency=False)
    assert off.chat.language is None
    on, _ = chat_container(tmp_path, stubborn)
    assert on.chat.language.translator is on.translation is on.summarization.translator


def test_several_choices_report_once_with_the_strongest_correction(tmp_path):
    calls = {"n": 0}

    def english_once(request: GenerationRequest) -> str:
        calls["n"] += 1
        return ENGLISH if calls["n"] == 1 else FRENCH  # first choice retried, second right at once

    container, _ = chat_container(tmp_path, english_once)
    chat = container.chat
    completion = asyncio.run(_complete(chat, french_request(n=2)))
    assert [c.message.content for c in completion.choices] == [FRENCH, FRENCH]
    assert completion.causerie.model_dump() == {"language": "fr", "detected": "en", "corrected": "retried"}


async def _complete(chat, request):
    return await chat.complete(await chat.prepare(request, PERSONAL))


def test_collect_reads_a_whole_choice():
    async def events() -> ReplyStream:
        yield Content("a")
        yield Content("b")
        yield ChoiceEnd("length")

    collected = asyncio.run(collect(events()))
    assert collected.content == "ab" and collected.end.reason == "length"
