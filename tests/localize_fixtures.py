"""Helpers for the localization tests: a tiny random Llama with SmolLM2's tokenizer, small corpora."""

from __future__ import annotations

import random
from pathlib import Path

_SUBJECTS = [
    "Le chat",
    "La voisine",
    "Mon grand-père",
    "Le facteur",
    "Une étudiante",
    "Le boulanger",
    "La maire",
    "Notre équipe",
]
_VERBS = ["regarde", "prépare", "raconte", "découvre", "répare", "dessine", "explique", "choisit"]
_OBJECTS = [
    "une histoire étonnante",
    "le jardin fleuri",
    "la vieille horloge",
    "un gâteau aux pommes",
    "les fenêtres de la maison",
    "une lettre importante",
    "le chemin de la forêt",
    "la carte du village",
]
_ENDS = [
    "avant le dîner",
    "pendant les vacances",
    "chaque matin",
    "sous la pluie",
    "avec beaucoup de patience",
    "sans dire un mot",
    "près de la rivière",
    "au début de l'hiver",
]


def french_paragraph(rng: random.Random, sentences: int = 4) -> str:
    return " ".join(
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_ENDS)}."
        for _ in range(sentences)
    )


def write_french_corpus(folder: Path, files: int = 6, paragraphs: int = 8, seed: int = 0) -> Path:
    """Distinct French paragraphs spread over .txt, .md, .html and .jsonl files."""
    import json

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        paras = [french_paragraph(rng) for _ in range(paragraphs)]
        kind = n % 4
        if kind == 0:
            (folder / f"doc{n}.txt").write_text("\n\n".join(paras), encoding="utf-8")
        elif kind == 1:
            (folder / f"doc{n}.md").write_text(f"# Récit numéro {n}\n\n" + "\n\n".join(paras), encoding="utf-8")
        elif kind == 2:
            body = "".join(f"<p>{p}</p>" for p in paras)
            html = f"<html><head><title>Page {n}</title><style>p {{}}</style></head><body>{body}<script>var x=1;</script></body></html>"
            (folder / f"page{n}.html").write_text(html, encoding="utf-8")
        else:
            lines = [
                json.dumps({"title": f"Article {n}-{i}", "text": p}, ensure_ascii=False) for i, p in enumerate(paras)
            ]
            (folder / f"articles{n}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def make_tiny_model(folder: Path) -> Path:
    """A randomly initialized 2-layer Llama (hidden 32) with SmolLM2's tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from causerie.models.embedded import SMOLLM_FILE
    from tests.conftest import smollm2_path

    gguf = smollm2_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=SMOLLM_FILE)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
