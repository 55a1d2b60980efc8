"""The training mix: raw corpus text, chat tasks built from it, and replay of the base model's answers.

Raw text alone teaches the language but turns a chat model into a text continuer. So part of every
batch is chat-formatted: tasks made from corpus passages (continue, title, one-sentence summary) in
the target language, and the base model's own answers to general prompts (English and the target
language), which keep its assistant manner. Chat examples are trained on the answer tokens only.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from causerie.localize.corpus import Passage
from causerie.localize.prompts import REPLAY_PROMPTS, TASK_WORDING, prompts_for
from causerie.localize.tokens import decode

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

IGNORE = -100
_SENTENCE = re.compile(r"(.+?[.!?。！？])(?:\s|$)", re.DOTALL)


class ChatExample(BaseModel):
    kind: str
    messages: list[dict[str, str]]


class Example(BaseModel):
    """One training sequence; ``labels`` is IGNORE where no loss is taken."""

    kind: str
    input_ids: list[int]
    labels: list[int]


def first_sentence(text: str) -> str | None:
    match = _SENTENCE.match(" ".join(text.split()))
    return match.group(1).strip() if match and len(match.group(1)) >= 20 else None


def corpus_tasks(passages: Sequence[Passage], language: str, seed: int) -> list[ChatExample]:
    """One chat task per passage, cycling continue / title / summary where the passage allows it."""
    wording = TASK_WORDING.get(language, TASK_WORDING["en"])
    rng = random.Random(seed)
    tasks: list[ChatExample] = []
    for index, passage in enumerate(passages):
        text = passage.text
        choice = ("continue", "title", "summary")[index % 3]
        if choice == "title" and passage.title and passage.title not in text[:200]:
            prompt, answer = wording["title"].format(text=text), passage.title
        elif choice == "summary" and (lead := first_sentence(text)) and len(lead) < len(text) // 2:
            prompt, answer = wording["summary"].format(text=text), lead
        else:
            cut = _cut_point(text, rng)
            prompt, answer = wording["continue"].format(text=text[:cut].rstrip()), text[cut:].strip()
            choice = "continue"
        tasks.append(
            ChatExample(
                kind=choice, messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
            )
        )
    return tasks


def _cut_point(text: str, rng: random.Random) -> int:
    middle = int(len(text) * rng.uniform(0.35, 0.6))
    space = text.rfind(" ", 0, middle)
    return space if space > len(text) // 4 else middle


def replay_prompts(language: str) -> list[str]:
    prompts = list(prompts_for(REPLAY_PROMPTS, "en"))
    return prompts + (prompts_for(REPLAY_PROMPTS, language) if language in REPLAY_PROMPTS and language != "en" else [])


def replay_examples(prompts: Sequence[str], answers: Sequence[str]) -> list[ChatExample]:
    return [
        ChatExample(kind="replay", messages=[{"role": "user", "content": p}, {"role": "assistant", "content": a}])
        for p, a in zip(prompts, answers, strict=True)
        if a.strip()
    ]


def pack_text(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], seq_len: int) -> list[Example]:
    """Raw passages, separated by EOS, packed into full ``seq_len`` windows (the last partial one kept)."""
    stream: list[int] = []
    eos = tokenizer.eos_token_id
    for text in texts:
        stream.extend(tokenizer.encode(text, add_special_tokens=False))
        if eos is not None:
            stream.append(eos)
    windows = [stream[i : i + seq_len] for i in range(0, len(stream), seq_len)]
    return [Example(kind="text", input_ids=w, labels=list(w)) for w in windows if len(w) >= 8]


def encode_chat(tokenizer: PreTrainedTokenizerBase, example: ChatExample, seq_len: int) -> Example | None:
    """The whole conversation; loss on the assistant turn only. None when the prompt alone fills the window."""
    prompt_ids = _ids(tokenizer.apply_chat_template(example.messages[:-1], add_generation_prompt=True, tokenize=True))
    full_ids = _ids(tokenizer.apply_chat_template(example.messages, tokenize=True))
    if full_ids[: len(prompt_ids)] != prompt_ids or len(prompt_ids) >= seq_len - 8:
        return None
    full_ids = full_ids[:seq_len]
    labels = [IGNORE] * len(prompt_ids) + full_ids[len(prompt_ids) :]
    return Example(kind=example.kind, input_ids=full_ids, labels=labels)


def _ids(encoded: Any) -> list[int]:
    """apply_chat_template returns a list, or a BatchEncoding in recent transformers."""
    if isinstance(encoded, list):
        return [int(i) for i in encoded]
    return [int(i) for i in encoded["input_ids"]]


def _clip(tokenizer: PreTrainedTokenizerBase, text: str, tokens: int) -> str:
    """``text`` cut to about ``tokens`` tokens, at a space when there is one, so a task fits a training window."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) <= tokens:
        return text
    head = decode(tokenizer, ids[:tokens])
    space = head.rfind(" ")
    return head[:space] if space > len(head) // 2 else head


def build_mix(
    tokenizer: PreTrainedTokenizerBase,
    train: Sequence[Passage],
    replay: Sequence[ChatExample],
    *,
    language: str,
    seq_len: int,
    chat_fraction: float,
    seed: int,
) -> list[Example]:
    """Raw windows plus chat examples (replay first, then corpus tasks) up to ``chat_fraction`` of the mix, shuffled."""
    text = pack_text(tokenizer, [p.text for p in train], seq_len)
    clipped = [p.model_copy(update={"text": _clip(tokenizer, p.text, seq_len * 2 // 3)}) for p in train]
    chats = [
        e for e in (encode_chat(tokenizer, c, seq_len) for c in [*replay, *corpus_tasks(clipped, language, seed)]) if e
    ]
    wanted = round(len(text) * chat_fraction / (1 - chat_fraction)) if chat_fraction < 1 else len(chats)
    wanted = max(wanted, len([c for c in chats if c.kind == "replay"])) if chat_fraction > 0 else 0
    mix = text + chats[:wanted]
    random.Random(seed).shuffle(mix)
    return mix
