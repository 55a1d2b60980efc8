"""The localization pipeline on a tiny random Llama (SmolLM2's tokenizer): training, resume, gate, export, registry."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from localize_fixtures import make_tiny_model, write_french_corpus
from typer.testing import CliRunner

from causerie.config import Settings
from causerie.localize.options import EvalOptions, GateThresholds, LocalizeOptions, TrainOptions
from causerie.models.localized import localized_dir, read_card
from causerie.models.registry import ModelRegistry


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_french_corpus(tmp_path_factory.mktemp("corpus") / "fr", files=8, paragraphs=10)


def _options(corpus: Path, tiny: Path, **changes) -> LocalizeOptions:
    base = dict(
        corpus=corpus,
        language="fr",
        base_model=str(tiny),
        name="tiny-fr",
        train=TrainOptions(
            max_steps=8,
            batch_size=4,
            seq_len=64,
            learning_rate=3e-2,
            save_every=4,
            lora_r=8,
            lora_alpha=16,
            replay_answer_tokens=8,
        ),
        eval=EvalOptions(max_eval_chars=3000, answer_tokens=8),
        gate=GateThresholds(
            max_target_ppl_ratio=0.99,
            max_repetition_delta=1.0,
            min_right_language_delta=-1.0,
            min_right_language_rate=0.0,
            min_qa_correct_delta=-100,
        ),
        outtype="f32",
    )
    return LocalizeOptions(**{**base, **changes})


def test_localize_job_promotes_registers_and_serves_the_model(
    tmp_path: Path, corpus: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the API: uploaded corpus, base under the models dir, job with progress, gate passed, GGUF served
    by llama.cpp, listed, and chosen by model=auto."""
    import httpx
    from conftest import fake_spec, live_server
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    from causerie.engine.fake import FakeEngine

    settings = Settings(data_dir=tmp_path / "data", models_dir=tiny.parent)
    with live_server(settings, ModelRegistry([fake_spec(FakeEngine("fake"))])) as url:
        files = [("files", (path.name, path.read_bytes())) for path in sorted(corpus.iterdir())]
        uploaded = httpx.post(f"{url}/v1/localize/corpora", data={"name": "fr-stories"}, files=files)
        assert uploaded.status_code == 201, uploaded.text
        body = {
            **json.loads(_options(corpus, tiny).model_dump_json()),
            "corpus": uploaded.json()["corpus"],
            "base_model": tiny.name,  # a model folder under CAUSERIE_MODELS_DIR, named relatively
        }
        created = httpx.post(f"{url}/v1/localize/jobs", json=body)
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        stages: set[str] = set()
        deadline = time.monotonic() + 900
        while (job := httpx.get(f"{url}/v1/localize/jobs/{job_id}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, job
            stages.add(job["progress"]["stage"] or "")
            time.sleep(0.2)
        assert job["status"] == "succeeded", job["error"]
        assert "train" in stages and job["progress"]["stage"] == "export"
        result = job["result"]
        assert result["promoted"] and result["report"]["passed"]
        base, loc = result["report"]["base"], result["report"]["localized"]
        assert loc["target_ppl"] < 0.99 * base["target_ppl"], "training lowered held-out perplexity"
        assert result["train"]["steps"] == 8 and result["train"]["losses"][-1] < result["train"]["losses"][0]

        listed = {m["id"]: m for m in httpx.get(f"{url}/v1/models").json()["data"]}
        assert "tiny-fr" in listed and "localized" in listed["tiny-fr"]["description"]
        french = {
            "model": "auto",
            "max_tokens": 4,
            "messages": [{"role": "user", "content": "Bonjour, pouvez-vous me raconter une histoire ?"}],
        }
        answer = httpx.post(f"{url}/v1/chat/completions", json=french, timeout=120)
        assert answer.status_code == 200 and answer.json()["model"] == "tiny-fr", answer.text
        english = {**french, "messages": [{"role": "user", "content": "Hello, could you tell me a story please?"}]}
        assert httpx.post(f"{url}/v1/chat/completions", json=english, timeout=120).json()["model"] == "fake"

    folder = Path(result["model_dir"])
    card = read_card(folder)
    assert card.id == "tiny-fr" and card.language == "fr" and card.base["id"] == "tiny-llama"
    assert {f["path"] for f in card.corpus["files"]} == {p.name for p in corpus.iterdir()}
    assert all(len(f["sha256"]) == 64 for f in card.corpus["files"])
    assert card.parameters["train"]["max_steps"] == 8 and card.metrics["target_ppl"]["localized"] == pytest.approx(
        loc["target_ppl"]
    )
    assert "PASSED" in (folder / "report.md").read_text()
    report = json.loads(Path(result["work_dir"], "report.json").read_text())
    assert report["passed"] is True and {c["name"] for c in report["checks"]} >= {
        "target_ppl_ratio",
        "repetition_delta",
        "right_language_rate",
        "qa_correct_delta",
    }
    assert report["base"]["qa"]["total"] == report["localized"]["qa"]["total"] == 23, "the French set shipped"
    assert "## Answers side by side" in (folder / "report.md").read_text()

    # Discovered at start-up (what `causerie models` and /v1/models list).
    monkeypatch.setattr("causerie.models.embedded.embedded_specs", lambda settings: ([], {}))
    discovered = ModelRegistry.discover(settings)
    assert [s.id for s in discovered.list()] == ["tiny-fr"] and discovered.resolve(
        "auto", language="fr"
    ).id == "tiny-fr"

    # llama.cpp splits text exactly as the training tokenizer did.
    llm = Llama(model_path=str(folder / card.gguf), n_ctx=256, n_threads=2, verbose=False)
    hf = AutoTokenizer.from_pretrained(tiny)
    sentence = "Le facteur répare la vieille horloge."
    assert llm.tokenize(sentence.encode(), add_bos=False) == hf.encode(sentence, add_special_tokens=False)
    assert llm.n_vocab() == len(hf)
    llm.close()


def test_gate_failure_keeps_the_model_out_of_the_registry(
    tmp_path: Path, corpus: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from causerie.cli.main import app

    monkeypatch.setenv("CAUSERIE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("causerie.models.embedded.embedded_specs", lambda settings: ([], {}))
    args = [
        "localize",
        str(corpus),
        "-l",
        "fr",
        "--base",
        str(tiny),
        "--name",
        "tiny-strict",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--seq-len",
        "64",
        "--max-target-ppl-ratio",
        "0.01",
        "--outtype",
        "f32",
        "--eval-chars",
        "500",
        "--answer-tokens",
        "8",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    assert "Gate: **FAILED**" in result.output and "Not promoted" in result.output
    settings = Settings(data_dir=tmp_path / "data")
    assert not localized_dir(settings).exists() or not any(localized_dir(settings).iterdir())
    assert (settings.data_dir / "localize" / "tiny-strict" / "export" / "model.json").is_file(), "kept for inspection"
    assert [s.id for s in ModelRegistry.discover(settings).list()] == []


def test_cli_reports_bad_input_in_one_line(
    tmp_path: Path, corpus: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from causerie.cli.main import app

    monkeypatch.setenv("CAUSERIE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("causerie.models.embedded.embedded_specs", lambda settings: ([], {}))
    empty = tmp_path / "empty"
    empty.mkdir()
    runner = CliRunner()
    result = runner.invoke(app, ["localize", str(empty), "-l", "fr", "--base", str(tiny)])
    assert result.exit_code == 1 and "has no files" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["localize", str(empty), "-l", "french", "--base", str(tiny)])
    assert result.exit_code == 2 and "invalid language" in result.output
    result = runner.invoke(app, ["localize", str(corpus), "-l", "fr", "--base", "nope"])
    assert result.exit_code == 1 and "unknown base model 'nope'" in result.output
    questions = tmp_path / "qa.jsonl"
    questions.write_text('{"question": "Capitale ?", "answers": ["Paris"]}\n{"question": "Vide ?", "answers": []}\n')
    result = runner.invoke(app, ["localize", str(corpus), "-l", "fr", "--base", str(tiny), "--qa-file", str(questions)])
    assert result.exit_code == 2 and "qa.jsonl, line 2" in result.output and "Traceback" not in result.output


def _examples(tiny: Path, corpus: Path):
    from causerie.localize.base_model import load_model
    from causerie.localize.chatmix import build_mix, replay_examples
    from causerie.localize.corpus import CorpusOptions, read_corpus

    model, tokenizer = load_model(tiny, "cpu")
    data = read_corpus(corpus, CorpusOptions(language="fr"))
    replay = replay_examples(["Bonjour ?"], ["Bonjour, comment puis-je vous aider ?"])
    examples = build_mix(tokenizer, data.train, replay, language="fr", seq_len=64, chat_fraction=0.5, seed=0)
    return model, tokenizer, examples


def test_training_resumes_after_an_interruption_exactly(tmp_path: Path, corpus: Path, tiny: Path) -> None:
    from causerie.localize.train import attach_lora, latest_checkpoint, train

    options = TrainOptions(
        max_steps=6, batch_size=2, seq_len=64, learning_rate=1e-2, save_every=4, lora_r=4, lora_alpha=8
    )

    def run(folder: Path, progress):
        torch.manual_seed(0)
        model, tokenizer, examples = _examples(tiny, corpus)
        return train(
            attach_lora(model, options),
            examples,
            options,
            folder,
            pad_id=tokenizer.pad_token_id,
            device="cpu",
            progress=progress,
        )

    straight = run(tmp_path / "straight", lambda *a, **m: None)
    assert straight.resumed_from is None and len(straight.losses) == 6

    def interrupt(stage: str, completed: int, total: int, **metrics: float) -> None:
        if completed == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "broken", interrupt)
    assert latest_checkpoint(tmp_path / "broken").name == "step-3", "the interruption saved the steps done"
    resumed = run(tmp_path / "broken", lambda *a, **m: None)
    assert resumed.resumed_from == 3 and resumed.steps == 6
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-4), "resumed training follows the same path"


def test_mix_keeps_chat_examples_with_loss_on_answers_only(corpus: Path, tiny: Path) -> None:
    from causerie.localize.chatmix import IGNORE

    _, tokenizer, examples = _examples(tiny, corpus)
    kinds = {e.kind for e in examples}
    assert {"text", "replay", "continue"} <= kinds
    replay = next(e for e in examples if e.kind == "replay")
    answer = tokenizer.decode([t for t, label in zip(replay.input_ids, replay.labels, strict=True) if label != IGNORE])
    assert answer.startswith("Bonjour, comment puis-je vous aider ?") and "Bonjour ?" not in answer
    text = next(e for e in examples if e.kind == "text")
    assert text.labels == text.input_ids


def test_tokenizer_extension_lowers_tokens_per_char_and_exports(tmp_path: Path, corpus: Path, tiny: Path) -> None:
    from llama_cpp import Llama

    from causerie.localize.base_model import load_model
    from causerie.localize.corpus import CorpusOptions, read_corpus
    from causerie.localize.export import add_tokens_to_gguf, convert
    from causerie.localize.tokens import extend_tokenizer, learn_tokens, tokens_per_kchar

    model, tokenizer = load_model(tiny, "cpu")
    data = read_corpus(corpus, CorpusOptions(language="fr"))
    texts = [p.text for p in data.train]
    before = tokens_per_kchar(tokenizer, texts)
    base_vocab = len(tokenizer)
    pieces = {t: tokenizer.encode(t, add_special_tokens=False) for t in learn_tokens(tokenizer, texts, 40)}
    assert len(pieces) == 40 and all(len(ids) >= 2 for ids in pieces.values())
    embeddings = model.get_input_embeddings().weight.detach().clone()
    ids = extend_tokenizer(model, tokenizer, list(pieces))
    assert ids == list(range(base_vocab, base_vocab + 40))
    after = tokens_per_kchar(tokenizer, texts)
    assert after < 0.9 * before
    new_rows = model.get_input_embeddings().weight.detach()
    for new_id, sub in zip(ids, pieces.values(), strict=True):
        assert torch.allclose(new_rows[new_id], embeddings[sub].mean(dim=0))

    # Converted with the base tokenizer, then the placeholders replaced: llama.cpp splits text the same way.
    folder = tmp_path / "extended"
    model.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (tiny / name).is_file():
            (folder / name).write_bytes((tiny / name).read_bytes())
    gguf_path = tmp_path / "extended.gguf"
    convert(folder, gguf_path, "f32")
    add_tokens_to_gguf(gguf_path, base_vocab, list(pieces))
    llm = Llama(model_path=str(gguf_path), n_ctx=128, n_threads=2, verbose=False)
    sample = texts[0][:200]
    assert llm.n_vocab() == len(tokenizer)
    assert llm.tokenize(sample.encode(), add_bos=False, special=False) == tokenizer.encode(
        sample, add_special_tokens=False
    )
    llm.close()


def test_a_gguf_base_is_loaded_through_a_cached_trainable_folder(tmp_path: Path, tiny: Path) -> None:
    from transformers import AutoModelForCausalLM

    from causerie.localize.base_model import load_model, prepare_base
    from causerie.localize.export import convert

    gguf_path = tmp_path / "Tiny-Llama.F32.gguf"
    convert(tiny, gguf_path, "f32")
    base = prepare_base(str(gguf_path), ModelRegistry(), tmp_path / "cache")
    assert base.id == "tiny-llama" and base.sha256 and base.folder.parent == tmp_path / "cache"
    assert "quantization_config" not in json.loads((base.folder / "config.json").read_text())
    loaded, _ = load_model(base.folder, "cpu")
    original = AutoModelForCausalLM.from_pretrained(tiny)
    ids = torch.tensor([[1, 200, 3000, 45]])
    with torch.no_grad():
        assert torch.allclose(loaded(ids).logits, original(ids).logits, atol=1e-4)
    assert prepare_base(str(gguf_path), ModelRegistry(), tmp_path / "cache").folder == base.folder, "converted once"


def test_a_work_folder_resumes_only_with_the_same_options_and_corpus(tmp_path: Path, corpus: Path, tiny: Path) -> None:
    from causerie.localize.corpus import CorpusOptions, read_corpus
    from causerie.localize.errors import LocalizeError
    from causerie.localize.pipeline import _check_work_dir

    options = _options(corpus, tiny)
    data = read_corpus(corpus, CorpusOptions(language="fr"))
    work = tmp_path / "work"
    _check_work_dir(work, options, data, restart=False)
    (work / "checkpoints").mkdir()
    longer = options.model_copy(
        update={"train": options.train.model_copy(update={"max_steps": 80, "max_minutes": 5.0})}
    )
    _check_work_dir(work, longer, data, restart=False)  # a bigger budget resumes
    assert (work / "checkpoints").is_dir()
    other = options.model_copy(update={"train": options.train.model_copy(update={"learning_rate": 0.5})})
    with pytest.raises(LocalizeError, match="other options or corpus files"):
        _check_work_dir(work, other, data, restart=False)
    changed = data.model_copy(update={"report": data.report.model_copy(update={"files": data.report.files[1:]})})
    with pytest.raises(LocalizeError, match="--restart"):
        _check_work_dir(work, longer, changed, restart=False)
    _check_work_dir(work, other, data, restart=True)
    assert not (work / "checkpoints").exists()
