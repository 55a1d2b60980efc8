"""Every knob of a localization run, validated once (CLI flags and the API body both build this).

Strict, as the API body is: JSON types as declared (paths, which JSON carries as strings, excepted)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from causerie.localize.corpus import CorpusOptions
from causerie.localize.factual import QaItem


class GateThresholds(BaseModel):
    """What the localized model must achieve, relative to its base, to be promoted."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_target_ppl_ratio: float = Field(
        0.85, gt=0, description="Held-out target-language perplexity, localized / base."
    )
    max_english_ppl_ratio: float = Field(1.05, gt=0, description="Other-domain English perplexity, localized / base.")
    min_right_language_delta: float = Field(
        0.0, ge=-1, le=1, description="Right-language answer rate, localized minus base, at least this."
    )
    max_repetition_delta: float = Field(
        0.0, ge=-1, le=1, description="Repetition rate of chat answers, localized minus base, at most this."
    )
    min_right_language_rate: float = Field(
        0.95, ge=0, le=1, description="Share of the localized model's chat answers in the target language."
    )
    min_qa_correct_delta: int = Field(
        0,
        description="Questions answered right (general knowledge, and cloze on held-out passages), localized "
        "minus base, at least this: 0 means the localized model may not know less than its base.",
    )


class TrainOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    max_steps: int = Field(30, ge=1)
    max_minutes: float | None = Field(None, gt=0, description="Stop training after this long (checkpointed).")
    batch_size: int = Field(8, ge=1)
    seq_len: int = Field(256, ge=16)
    learning_rate: float = Field(3e-4, gt=0)
    warmup_steps: int = Field(2, ge=0)
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    save_every: int = Field(5, ge=1, description="Checkpoint every N steps.")
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    chat_fraction: float = Field(
        0.5, ge=0, le=1, description="Share of training examples that are chat-formatted (tasks and replay)."
    )
    replay_answer_tokens: int = Field(96, ge=8, description="Longest base-model answer kept for replay.")


class EvalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    max_eval_chars: int = Field(20000, ge=100, description="Characters scored per perplexity measurement.")
    english_text: Path | None = Field(
        None,
        strict=False,
        description="English text from another domain than the corpus (regression check); skipped when absent.",
    )
    chat_prompts: list[str] | None = Field(
        None, description="Chat-quality prompts (default: a fixed set per language)."
    )
    answer_tokens: int = Field(96, ge=8)
    qa: list[QaItem] | None = Field(
        None,
        min_length=1,
        description="General-knowledge questions in the target language (default: the set shipped for it).",
    )
    cloze_questions: int = Field(12, ge=0, description="Cloze questions built from held-out passages.")
    qa_answer_tokens: int = Field(32, ge=4, description="Longest answer to a question.")


class LocalizeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    corpus: Path = Field(strict=False)
    language: str = Field(pattern=r"^[a-z]{2,3}$", description="ISO 639 code of the target language.")
    base_model: str = Field(description="A registered model id, a GGUF file or a Hugging Face model folder.")
    name: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="Id of the new model.")
    normalization: Literal["NFC", "NFKC"] = "NFC"
    heldout_fraction: float = Field(0.1, gt=0, lt=1)
    extend_tokens: int = Field(0, ge=0, description="New target-language tokens to learn (0: keep the tokenizer).")
    train: TrainOptions = Field(default_factory=TrainOptions)
    eval: EvalOptions = Field(default_factory=EvalOptions)
    gate: GateThresholds = Field(default_factory=GateThresholds)
    outtype: Literal["q8_0", "f16", "bf16", "f32"] = "q8_0"

    def corpus_options(self) -> CorpusOptions:
        return CorpusOptions(
            language=self.language, normalization=self.normalization, heldout_fraction=self.heldout_fraction
        )
