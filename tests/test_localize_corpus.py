"""Corpus intake: formats, normalization, language filter, duplicates, split, provenance, bad inputs."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from localize_fixtures import french_paragraph, write_french_corpus

from causerie.localize.corpus import CorpusOptions, normalize, passages_of, read_corpus
from causerie.localize.errors import LocalizeError

ENGLISH = (
    "The committee reviewed the annual budget and approved new funding for the public library. "
    "Several members asked for a detailed report on maintenance costs before the next meeting."
)


def test_reads_every_format_and_records_provenance(tmp_path: Path) -> None:
    root = write_french_corpus(tmp_path / "corpus", files=4, paragraphs=3)
    corpus = read_corpus(root, CorpusOptions(language="fr", passage_chars=300))
    report = corpus.report
    assert {Path(f.path).suffix for f in report.files} == {".txt", ".md", ".html", ".jsonl"}
    for record in report.files:
        data = (root / record.path).read_bytes()
        assert record.sha256 == hashlib.sha256(data).hexdigest() and record.bytes == len(data)
        assert record.status == "used" and record.kept > 0
    texts = [p.text for p in corpus.train + corpus.heldout]
    assert not any("<p>" in t or "var x" in t for t in texts), "HTML tags and scripts are stripped"
    titles = {p.title for p in corpus.train + corpus.heldout}
    assert "Page 2" in titles and "Récit numéro 1" in titles and "Article 3-0" in titles
    assert report.kept == len(texts) == report.train_passages + report.heldout_passages


def test_drops_other_languages_duplicates_and_short_text(tmp_path: Path) -> None:
    rng = random.Random(1)
    paragraphs = [french_paragraph(rng) for _ in range(6)]
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    (root / "copy.txt").write_text(paragraphs[0].upper(), encoding="utf-8")  # same text, other case: exact duplicate
    near = paragraphs[1].replace("avant le dîner", "avant le souper")
    (root / "near.txt").write_text(near, encoding="utf-8")
    (root / "en.md").write_text(ENGLISH, encoding="utf-8")
    (root / "short.txt").write_text("Oui.", encoding="utf-8")
    corpus = read_corpus(root, CorpusOptions(language="fr", passage_chars=400))
    assert corpus.report.dropped == {"exact duplicate": 1, "near duplicate": 1, "language en": 1, "too short": 1}
    assert corpus.report.kept == 6


def test_split_is_deterministic_and_independent_of_file_order(tmp_path: Path) -> None:
    rng = random.Random(2)
    paragraphs = [french_paragraph(rng, 3) for _ in range(40)]
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    for n, text in enumerate(paragraphs):
        (first / f"{n:02d}.txt").write_text(text, encoding="utf-8")
        (second / f"{39 - n:02d}.txt").write_text(text, encoding="utf-8")
    options = CorpusOptions(language="fr", heldout_fraction=0.25)
    a, b = read_corpus(first, options), read_corpus(second, options)
    assert {p.text for p in a.heldout} == {p.text for p in b.heldout}
    assert 0 < len(a.heldout) < 40 and not {p.text for p in a.heldout} & {p.text for p in a.train}


def test_normalization_forms() -> None:
    decomposed = "Cafe\u0301  ﬁn\r\n\n\n\nsuite\x07"
    assert normalize(decomposed, "NFC") == "Café ﬁn\n\nsuite"
    assert normalize(decomposed, "NFKC") == "Café fin\n\nsuite"


def test_long_paragraphs_are_cut_at_sentence_ends() -> None:
    text = " ".join(f"Phrase numéro {n} du texte." for n in range(60))
    pieces = passages_of(text, 200)
    assert all(len(p) <= 200 for p in pieces) and all(p.endswith(".") for p in pieces)
    assert " ".join(p.replace("\n\n", " ") for p in pieces) == text


def test_unreadable_binary_and_malformed_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    root = write_french_corpus(tmp_path / "c", files=2, paragraphs=8)
    (root / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (root / "latin1.txt").write_bytes("Déjà vu".encode("latin-1"))
    (root / "bad.jsonl").write_text('{"text": "ok"}\nnot json\n', encoding="utf-8")
    (root / "notes.pdf").write_bytes(b"%PDF-1.4")
    reasons = {
        r.path: r.reason for r in read_corpus(root, CorpusOptions(language="fr")).report.files if r.status == "skipped"
    }
    assert reasons["image.txt"] == "binary content"
    assert reasons["latin1.txt"].startswith("not UTF-8 text")
    assert reasons["bad.jsonl"].startswith("malformed .jsonl: line 2 is not JSON")
    assert reasons["notes.pdf"] == "unsupported file type '.pdf'"


def test_empty_corpus_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(LocalizeError, match="has no files"):
        read_corpus(tmp_path / "empty", CorpusOptions(language="fr"))
    with pytest.raises(LocalizeError, match="corpus not found"):
        read_corpus(tmp_path / "missing", CorpusOptions(language="fr"))


def test_wrong_language_only_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "en"
    root.mkdir()
    for n in range(3):
        (root / f"{n}.txt").write_text(f"{ENGLISH} Item {n} was discussed at length.", encoding="utf-8")
    with pytest.raises(LocalizeError, match=r"0 usable passage\(s\) in language 'fr'.*language en: 3") as info:
        read_corpus(root, CorpusOptions(language="fr"))
    assert info.value.param == "corpus"


def test_only_binary_files_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "bin"
    root.mkdir()
    (root / "a.txt").write_bytes(b"\x00\x01\x02" * 10)
    (root / "b.jsonl").write_text(json.dumps({"other": 1}) + "\n", encoding="utf-8")
    with pytest.raises(LocalizeError, match=r"no readable .*binary content"):
        read_corpus(root, CorpusOptions(language="fr"))
