"""``causerie localize`` end to end: corpus → base → (tokens) → LoRA → gate → GGUF → registered model.

Everything a run produces lives in its work folder (``<data_dir>/localize/<model id>/``): the corpus
report, base measurements and replay answers (reused on resume), checkpoints, the gate report
(JSON and Markdown) and the exported model. Only a model that passes the gate is promoted: its
folder is moved into ``<data_dir>/models/localized/`` where the registry discovers it.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel

from causerie.config import Settings
from causerie.localize import evaluate as ev
from causerie.localize import factual
from causerie.localize.base_model import BaseWeights, load_model, model_summary, pick_device, prepare_base
from causerie.localize.chatmix import build_mix, replay_examples, replay_prompts
from causerie.localize.corpus import Corpus, passages_of, read_corpus
from causerie.localize.errors import LocalizeError, LocalizeFailure
from causerie.localize.export import add_tokens_to_gguf, convert, save_merged
from causerie.localize.options import LocalizeOptions
from causerie.localize.progress import ProgressSink, no_progress
from causerie.localize.prompts import EVAL_PROMPTS, prompts_for
from causerie.localize.tokens import extend_tokenizer, learn_tokens, tokens_per_kchar
from causerie.localize.train import TrainResult, attach_lora, train
from causerie.models.localized import ModelCardFile, localized_dir, write_card
from causerie.models.registry import ModelRegistry

if TYPE_CHECKING:
    from llama_cpp.llama_types import CreateChatCompletionResponse
    from peft import PeftModel
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

_BUDGET_FIELDS = {"max_steps", "max_minutes"}


class LocalizeResult(BaseModel):
    model_id: str
    promoted: bool
    work_dir: str
    model_dir: str | None
    """Where the promoted model lives (None when the gate failed)."""
    report: ev.GateReport
    train: TrainResult
    corpus: dict[str, Any]
    tokenizer: dict[str, Any]
    served_check: str
    """A short llama.cpp generation from the exported GGUF (proof that it serves)."""


def model_id_for(options: LocalizeOptions, base_id: str) -> str:
    return options.name or f"{base_id}-{options.language}"


def work_dir_for(settings: Settings, model_id: str) -> Path:
    return settings.data_dir / "localize" / model_id


def _check_work_dir(work: Path, options: LocalizeOptions, corpus: Corpus, restart: bool) -> None:
    """A work folder is resumed only by a run with the same options and corpus files (budgets may change)."""
    saved = work / "options.json"
    fingerprint = hashlib.sha256("".join(f"{f.path}:{f.sha256}\n" for f in corpus.report.files).encode()).hexdigest()
    now = {**json.loads(options.model_dump_json()), "corpus_fingerprint": fingerprint}
    if restart:
        shutil.rmtree(work, ignore_errors=True)
    elif saved.is_file() and _without_budgets(json.loads(saved.read_text())) != _without_budgets(now):
        raise LocalizeError(
            f"{work} holds a run with other options or corpus files; pass restart (--restart) to start over",
            param="options",
        )
    work.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(now, indent=2) + "\n")


def _without_budgets(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "train": {k: v for k, v in record.get("train", {}).items() if k not in _BUDGET_FIELDS}}


def _cached(path: Path, compute: Callable[[], Any]) -> Any:
    if path.is_file():
        return json.loads(path.read_text())
    value = compute()
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n")
    return value


def _english(options: LocalizeOptions) -> list[str] | None:
    path = options.eval.english_text
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LocalizeError(
            f"cannot read the English evaluation text {path}: {exc}", param="eval.english_text"
        ) from None
    return passages_of(text, 1200) or None


@dataclass(frozen=True)
class EvalSets:
    """What both models are measured on, chosen once per run."""

    heldout: list[str]
    english: list[str] | None
    qa: list[factual.QaItem]
    cloze: list[factual.QaItem]

    @classmethod
    def of(cls, options: LocalizeOptions, corpus: Corpus, english: list[str] | None) -> EvalSets:
        """Raise ``LocalizeError`` (before any training) when the language has no factual question set."""
        language, chars = options.language, options.eval.max_eval_chars
        return cls(
            heldout=ev.eval_texts([p.text for p in corpus.heldout], chars),
            english=ev.eval_texts(english, chars) if english else None,
            qa=options.eval.qa or factual.packaged_set(language),
            cloze=factual.cloze_set([p.text for p in corpus.heldout], language, options.eval.cloze_questions),
        )


def _measure(
    model: PreTrainedModel | PeftModel,
    tokenizer: PreTrainedTokenizerBase,
    options: LocalizeOptions,
    sets: EvalSets,
    reference_tokens: dict[str, int] | None,
) -> tuple[ev.Measurements, dict[str, int]]:
    """Measurements, and the token counts they were divided by (the base's counts are the reference)."""
    from causerie.language import detect_language

    seq, language = options.train.seq_len, options.language
    loss, count = ev.total_nll(model, tokenizer, sets.heldout, seq_len=seq)
    counts = {"target": count}
    english_ppl = None
    if sets.english:
        e_loss, counts["english"] = ev.total_nll(model, tokenizer, sets.english, seq_len=seq)
        english_ppl = math.exp(e_loss / (reference_tokens or counts)["english"])
    prompts = options.eval.chat_prompts or prompts_for(EVAL_PROMPTS, language)
    answers = ev.chat_answers(model, tokenizer, prompts, max_new_tokens=options.eval.answer_tokens)

    def asked(items: list[factual.QaItem], questions: list[str]) -> factual.QaScore:
        replies = ev.chat_answers(model, tokenizer, questions, max_new_tokens=options.eval.qa_answer_tokens)
        return factual.score(items, replies, language)

    measurements = ev.Measurements(
        target_ppl=math.exp(loss / (reference_tokens or counts)["target"]),
        english_ppl=english_ppl,
        tokens_per_kchar=tokens_per_kchar(tokenizer, sets.heldout),
        chat=ev.chat_quality(answers, language, detect_language),
        qa=asked(sets.qa, [factual.briefly(item.question, language) for item in sets.qa]),
        cloze=asked(sets.cloze, [item.question for item in sets.cloze]),
    )
    return measurements, counts


def run_localize(
    options: LocalizeOptions,
    settings: Settings,
    *,
    registry: ModelRegistry | None = None,
    progress: ProgressSink = no_progress,
    restart: bool = False,
    confine_to: Sequence[Path] | None = None,
) -> LocalizeResult:
    """Run the whole pipeline; raise ``LocalizeError`` on bad input, ``LocalizeFailure`` when a step fails.

    Resumes an interrupted run of the same options. ``registry`` (default: discovered from
    ``settings``) resolves the base model and the taken ids; ``confine_to`` keeps the corpus
    reader inside those folders (see ``read_corpus``).
    """
    registry = registry or ModelRegistry.discover(settings)
    progress("corpus", 0, 1)
    corpus = read_corpus(options.corpus, options.corpus_options(), confine_to=confine_to)
    progress("corpus", 1, 1)
    english = _english(options)
    sets = EvalSets.of(options, corpus, english)
    base = prepare_base(options.base_model, registry, settings.data_dir / "localize" / "base-cache")
    model_id = model_id_for(options, base.id)
    if model_id in {spec.id for spec in registry.list()} or model_id in registry.problems:
        raise LocalizeError(f"a model named '{model_id}' already exists; choose another name", param="name")
    work = work_dir_for(settings, model_id)
    _check_work_dir(work, options, corpus, restart)
    (work / "corpus.json").write_text(corpus.report.model_dump_json(indent=2) + "\n")

    import torch

    device = pick_device(options.train.device)
    torch.manual_seed(options.train.seed)
    model, tokenizer = load_model(base.folder, device)
    progress("evaluate base", 0, 1)
    base_record = _cached(work / "base_measurements.json", lambda: _base_record(model, tokenizer, options, sets))
    base_measurements = ev.Measurements.model_validate(base_record["measurements"])
    progress("evaluate base", 1, 1)

    prompts = replay_prompts(options.language)
    progress("replay", 0, 1)
    answers = _cached(
        work / "replay.json",
        lambda: ev.chat_answers(model, tokenizer, prompts, max_new_tokens=options.train.replay_answer_tokens),
    )
    progress("replay", 1, 1)

    base_vocab = len(tokenizer)
    new_tokens = learn_tokens(tokenizer, [p.text for p in corpus.train], options.extend_tokens)
    new_ids = extend_tokenizer(model, tokenizer, new_tokens) if new_tokens else []
    examples = build_mix(
        tokenizer,
        corpus.train,
        replay_examples(prompts, answers),
        language=options.language,
        seq_len=options.train.seq_len,
        chat_fraction=options.train.chat_fraction,
        seed=options.train.seed,
    )
    peft_model = attach_lora(model, options.train, new_ids)
    trained = train(
        peft_model,
        examples,
        options.train,
        work / "checkpoints",
        pad_id=tokenizer.pad_token_id,
        device=device,
        progress=progress,
    )

    progress("evaluate localized", 0, 1)
    reference = base_record["token_counts"] if new_ids else None
    localized, _ = _measure(peft_model, tokenizer, options, sets, reference)
    report = ev.gate(options.language, base_measurements, localized, options.gate)
    (work / "report.json").write_text(report.model_dump_json(indent=2) + "\n")
    (work / "report.md").write_text(
        ev.markdown(report, f"Localization of {base.id} to '{options.language}': {model_id}")
    )
    progress("evaluate localized", 1, 1)

    progress("export", 0, 1)
    export = work / "export"
    shutil.rmtree(export, ignore_errors=True)
    export.mkdir()
    gguf_name = f"{model_id}.{options.outtype}.gguf"
    save_merged(peft_model, tokenizer, base.folder, work / "merged")
    convert(work / "merged", export / gguf_name, options.outtype)
    if new_tokens:
        add_tokens_to_gguf(export / gguf_name, base_vocab, new_tokens)
    served = served_check(export / gguf_name, prompts_for(EVAL_PROMPTS, options.language)[0])
    tokenizer_info = {
        "added_tokens": len(new_tokens),
        "tokens_per_kchar": {"base": base_measurements.tokens_per_kchar, "localized": localized.tokens_per_kchar},
    }
    write_card(export, _card(model_id, options, base, corpus, trained, report, gguf_name, tokenizer_info, model))
    shutil.copy2(work / "report.md", export / "report.md")
    progress("export", 1, 1)

    model_dir = None
    if report.passed:
        model_dir = localized_dir(settings) / model_id
        model_dir.parent.mkdir(parents=True, exist_ok=True)
        if model_dir.exists():
            raise LocalizeError(f"{model_dir} already exists; the new model stays in {export}", param="name")
        export.rename(model_dir)
    return LocalizeResult(
        model_id=model_id,
        promoted=report.passed,
        work_dir=str(work),
        model_dir=str(model_dir) if model_dir else None,
        report=report,
        train=trained,
        corpus=corpus.report.model_dump(exclude={"files"}),
        tokenizer=tokenizer_info,
        served_check=served,
    )


def _base_record(model: Any, tokenizer: Any, options: LocalizeOptions, sets: EvalSets) -> dict[str, Any]:
    measurements, counts = _measure(model, tokenizer, options, sets, None)
    return {"measurements": measurements.model_dump(), "token_counts": counts}


def served_check(path: Path, prompt: str) -> str:
    """Load the GGUF with llama.cpp and generate a few tokens; raise ``LocalizeFailure`` if it cannot serve."""
    from llama_cpp import Llama

    try:
        llm = Llama(model_path=str(path), n_ctx=512, n_threads=2, verbose=False)
        # Typed as a response or a stream whatever ``stream`` is; without stream=True it is the response.
        out = cast(
            "CreateChatCompletionResponse",
            llm.create_chat_completion([{"role": "user", "content": prompt}], max_tokens=24, temperature=0),
        )
    except (ValueError, RuntimeError) as exc:
        raise LocalizeFailure(f"llama.cpp cannot serve the exported model {path}: {exc}") from exc
    text = out["choices"][0]["message"]["content"] or ""
    llm.close()
    return text


def _card(
    model_id: str,
    options: LocalizeOptions,
    base: BaseWeights,
    corpus: Corpus,
    trained: TrainResult,
    report: ev.GateReport,
    gguf_name: str,
    tokenizer_info: dict[str, Any],
    model: Any,
) -> ModelCardFile:
    ratio = report.localized.target_ppl / report.base.target_ppl
    return ModelCardFile(
        id=model_id,
        language=options.language,
        gguf=gguf_name,
        base={"id": base.id, "source": str(base.source), "sha256": base.sha256, **model_summary(model)},
        corpus=corpus.report.model_dump(),
        parameters={
            **options.model_dump(mode="json"),
            "trained_steps": trained.steps,
            "train_seconds": round(trained.seconds, 1),
        },
        metrics={
            **ev.summary(report),
            "tokenizer": tokenizer_info,
            "final_loss": trained.losses[-1] if trained.losses else None,
        },
        created=int(time.time()),
        description=f"{base.id} localized to '{options.language}' (held-out perplexity x{ratio:.2f})",
    )
