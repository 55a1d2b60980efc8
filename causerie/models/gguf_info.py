"""Read the metadata of a GGUF model file and check that the file is whole.

Only the header is parsed, from a read-only memory map: tensor data is never read. The header is
walked here with ``struct`` rather than with ``gguf.GGUFReader``, which builds numpy views for every
vocabulary entry and takes seconds on a 150k-token vocabulary; the ``gguf`` package still supplies
the format's constants (value types, tensor types and their sizes).
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf.constants import (
    GGML_QUANT_SIZES,
    GGUF_DEFAULT_ALIGNMENT,
    GGMLQuantizationType,
    GGUFValueType,
    PoolingType,
)

from causerie.errors import ModelUnavailable

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
GGML_MAX_DIMS = 4
_SCALAR_FORMATS = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}
Scalar = int | float | bool | bytes
_POOLED = (PoolingType.MEAN, PoolingType.CLS, PoolingType.LAST)


class InvalidModelFile(ModelUnavailable):
    """A model file that cannot be used: missing, not a GGUF, truncated or corrupt."""

    def __init__(self, path: Path, reason: str, *, param: str | None = None) -> None:
        super().__init__(f"cannot load model file {path}: {reason}", param=param)
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    architecture: str
    name: str | None
    context_length: int | None
    """Training context from ``{architecture}.context_length``."""
    chat_template: str | None
    size_bytes: int
    pools: bool = False
    """``{architecture}.pooling_type`` is mean, CLS or last: an embedding model (llama.cpp's embedding mode)."""


def read_gguf_info(path: Path) -> GGUFInfo:
    """Parse ``path``'s GGUF header; raise ``InvalidModelFile`` for any problem with the file."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size < len(GGUF_MAGIC) or file.read(len(GGUF_MAGIC)) != GGUF_MAGIC:
                raise InvalidModelFile(path, "not a GGUF file (bad magic bytes)" if size else "the file is empty")
            with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
                metadata, data_end = _parse_header(_Cursor(data))
    except FileNotFoundError as exc:
        raise InvalidModelFile(path, "the file does not exist") from exc
    except PermissionError as exc:
        raise InvalidModelFile(path, "permission denied when reading it") from exc
    except IsADirectoryError as exc:
        raise InvalidModelFile(path, "it is a directory, not a file") from exc
    except OSError as exc:
        raise InvalidModelFile(path, f"the file cannot be read ({exc.strerror or exc})") from exc
    except struct.error as exc:
        raise InvalidModelFile(path, "truncated: the file ends inside its GGUF header") from exc
    except _CorruptHeader as exc:
        raise InvalidModelFile(path, f"corrupt GGUF header ({exc})") from exc

    architecture = _text(metadata.get("general.architecture"))
    if not architecture:
        raise InvalidModelFile(path, "no general.architecture in the GGUF metadata")
    if data_end is None:
        raise InvalidModelFile(path, "the GGUF file holds no tensors (a vocabulary-only file?)")
    if data_end > size:
        raise InvalidModelFile(path, f"truncated: its tensors need {data_end:,} bytes but the file has only {size:,}")
    context_length = metadata.get(f"{architecture}.context_length")
    return GGUFInfo(
        path=path,
        architecture=architecture,
        name=_text(metadata.get("general.name")),
        context_length=context_length if type(context_length) is int and context_length > 0 else None,
        chat_template=_text(metadata.get("tokenizer.chat_template")),
        size_bytes=size,
        pools=metadata.get(f"{architecture}.pooling_type") in _POOLED,
    )


class _CorruptHeader(Exception):
    pass


class _Cursor:
    """Reads little- or big-endian GGUF values from a buffer; ``struct.error`` past its end."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.offset = 0
        self.endian = "<"

    def unpack(self, fmt: str) -> tuple[Scalar, ...]:
        return self._unpack(fmt)

    def integers(self, fmt: str) -> tuple[int, ...]:
        """Counts, sizes and type ids: ``fmt`` has integer codes only."""
        return self._unpack(fmt)

    def _unpack(self, fmt: str) -> tuple[Any, ...]:
        layout = struct.Struct(self.endian + fmt)
        values = layout.unpack_from(self.data, self.offset)
        self.offset += layout.size
        return values

    def string(self) -> bytes:
        (length,) = self.integers("Q")
        self.skip(length)
        return self.data[self.offset - length : self.offset]

    def skip(self, n: int) -> None:
        self.offset += n
        if self.offset > len(self.data):
            raise struct.error("offset past the end of the file")

    def value(self, raw_type: int) -> Scalar | None:
        """Read one metadata value; arrays are skipped (None), strings come back as bytes."""
        value_type = _value_type(raw_type)
        if value_type is GGUFValueType.STRING:
            return self.string()
        if value_type is not GGUFValueType.ARRAY:
            return self.unpack(_SCALAR_FORMATS[value_type])[0]
        item_type, count = self.integers("IQ")
        item = _value_type(item_type)
        if item in _SCALAR_FORMATS:
            self.skip(count * struct.calcsize(_SCALAR_FORMATS[item]))
        elif item is GGUFValueType.STRING:  # vocabularies: the hot loop, kept tight
            length, offset, data = struct.Struct(self.endian + "Q"), self.offset, self.data
            for _ in range(count):
                offset += 8 + length.unpack_from(data, offset)[0]
            self.offset = offset
            self.skip(0)
        else:
            for _ in range(count):
                self.value(item)
        return None


def _value_type(raw: int) -> GGUFValueType:
    try:
        return GGUFValueType(raw)
    except ValueError:
        raise _CorruptHeader(f"unknown metadata value type {raw}") from None


def _parse_header(cursor: _Cursor) -> tuple[dict[str, Scalar], int | None]:
    """Metadata scalars and strings (arrays left out), and where the last tensor's data ends."""
    cursor.skip(len(GGUF_MAGIC))
    (version,) = cursor.integers("I")
    if version & 0xFFFF == 0:  # written on a big-endian machine
        cursor.endian = ">"
        version = struct.unpack(">I", struct.pack("<I", version))[0]
    if version not in SUPPORTED_VERSIONS:
        raise _CorruptHeader(f"unsupported GGUF version {version}")
    tensor_count, kv_count = cursor.integers("QQ")
    metadata: dict[str, Scalar] = {}
    for _ in range(kv_count):
        key = cursor.string().decode("utf-8", errors="replace")
        (raw_type,) = cursor.integers("I")
        value = cursor.value(raw_type)
        if value is not None:
            metadata[key] = value
    tensors: list[tuple[int, int]] = []  # (offset in the data section, size in bytes)
    for _ in range(tensor_count):
        name = cursor.string()
        (n_dims,) = cursor.integers("I")
        if n_dims > GGML_MAX_DIMS:
            raise _CorruptHeader(f"tensor {name.decode(errors='replace')} has {n_dims} dimensions")
        dims = cursor.integers(f"{n_dims}Q")
        raw_type, offset = cursor.integers("IQ")
        try:
            block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(raw_type)]
        except (ValueError, KeyError):
            raise _CorruptHeader(f"tensor {name.decode(errors='replace')} has unknown type {raw_type}") from None
        n_elements = 1
        for dim in dims:
            n_elements *= dim
        tensors.append((offset, n_elements * type_size // block_size))
    alignment = metadata.get("general.alignment", GGUF_DEFAULT_ALIGNMENT)
    if type(alignment) is not int or alignment <= 0:
        raise _CorruptHeader(f"invalid general.alignment {alignment!r}")
    data_start = -(-cursor.offset // alignment) * alignment
    data_end = max((data_start + offset + n_bytes for offset, n_bytes in tensors), default=None)
    return metadata, data_end


def _text(value: Scalar | None) -> str | None:
    if not isinstance(value, bytes):
        return None
    return value.decode("utf-8", errors="replace")
