"""Retrieval check and throughput of the embedded embedding model (multilingual-e5-small), in-process.

Data: Django's human-translated interface strings (the ``django`` package, eval extra): each English
string is a query, the French (or Japanese) translations are the passages, and the right passage is the
query's own translation, among ``--pairs`` candidates. Recall@1 and MRR are printed for the model and,
in the same run, for a lexical baseline (TF-IDF over character 3-grams), then texts/s of the model.

    flock /tmp/model.lock .venv/bin/python benchmarks/bench_embeddings.py --pairs 300
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from pathlib import Path

import django
import numpy as np
import polib

from causerie.config import Settings
from causerie.engine.llamacpp_embedding import LlamaCppEmbedder
from causerie.models import E5_ID, prepare_e5


def pairs(language: str, limit: int) -> list[tuple[str, str]]:
    """(English, translation) pairs from Django's catalogs: distinct, plain strings of a few words."""
    found: dict[str, str] = {}
    for po in sorted(Path(django.__file__).parent.rglob(f"locale/{language}/LC_MESSAGES/django.po")):
        for entry in polib.pofile(str(po)):
            text, translated = entry.msgid.strip(), entry.msgstr.strip()
            if translated and not entry.obsolete and "%" not in text and "{" not in text and len(text.split()) >= 3:
                found.setdefault(text, translated)
    return sorted(found.items())[:limit]


def scores_of(ranks: list[int]) -> tuple[float, float]:
    return float(np.mean([r == 1 for r in ranks])), float(np.mean([1 / r for r in ranks]))


def ranks_for(similarity: np.ndarray) -> list[int]:
    """Rank of the right passage (the diagonal) for each query row."""
    right = np.diag(similarity)
    return [int((row > right[i]).sum()) + 1 for i, row in enumerate(similarity)]


def lexical(queries: list[str], passages: list[str]) -> np.ndarray:
    def grams(text: str) -> Counter[str]:
        text = f" {text.lower()} "
        return Counter(text[i : i + 3] for i in range(len(text) - 2))

    q, p = [grams(t) for t in queries], [grams(t) for t in passages]
    df = Counter(g for bag in q + p for g in bag)
    vocab = {g: i for i, g in enumerate(df)}
    idf = np.log((len(q) + len(p)) / np.array([df[g] for g in vocab]))

    def matrix(bags: list[Counter[str]]) -> np.ndarray:
        out = np.zeros((len(bags), len(vocab)))
        for row, bag in enumerate(bags):
            for g, n in bag.items():
                out[row, vocab[g]] = n * idf[vocab[g]]
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    return matrix(q) @ matrix(p).T


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=300)
    args = parser.parse_args()
    path = prepare_e5(Settings().models_cache_dir)
    embedder = LlamaCppEmbedder(E5_ID, path, context_length=512)
    print(f"model {E5_ID}: {path.stat().st_size / 1e6:.1f} MB GGUF, {embedder.dimensions} dimensions")
    texts = 0
    elapsed = 0.0
    for language in ("fr", "ja"):
        data = pairs(language, args.pairs)
        queries = [f"query: {en}" for en, _ in data]
        passages = [f"passage: {tr}" for _, tr in data]
        start = time.perf_counter()
        tokens = [embedder.tokenize(t) for t in queries + passages]
        vectors = np.concatenate([await embedder.embed(tokens[i : i + 64]) for i in range(0, len(tokens), 64)])
        elapsed += time.perf_counter() - start
        texts += len(tokens)
        model = scores_of(ranks_for(vectors[: len(data)] @ vectors[len(data) :].T))
        base = scores_of(ranks_for(lexical([en for en, _ in data], [tr for _, tr in data])))
        print(
            f"EN -> {language.upper()} ({len(data)} candidates): e5 recall@1 {model[0]:.3f} MRR {model[1]:.3f} | "
            f"lexical char-3-gram TF-IDF recall@1 {base[0]:.3f} MRR {base[1]:.3f}"
        )
    print(f"throughput: {texts / elapsed:.1f} texts/s ({texts} short texts, batches of 64, {elapsed:.1f} s)")
    await embedder.aclose()


if __name__ == "__main__":
    asyncio.run(main())
