"""The model registry: embedded models, GGUF discovery and metadata."""

from causerie.models.embedded import (
    E5_ID,
    QWEN_ID,
    QWEN_SHA256,
    QWEN_SIZE,
    SMOLLM_ID,
    EmbeddedModelError,
    assemble_qwen,
    embedded_specs,
    locate_e5,
    locate_smollm2,
    prepare_e5,
    qwen_part_files,
)
from causerie.models.gguf_info import GGUFInfo, InvalidModelFile, read_gguf_info
from causerie.models.registry import ModelRegistry, ModelSource, ModelSpec, model_id_from_filename

__all__ = [
    "E5_ID",
    "QWEN_ID",
    "QWEN_SHA256",
    "QWEN_SIZE",
    "SMOLLM_ID",
    "EmbeddedModelError",
    "GGUFInfo",
    "InvalidModelFile",
    "ModelRegistry",
    "ModelSource",
    "ModelSpec",
    "assemble_qwen",
    "embedded_specs",
    "locate_e5",
    "locate_smollm2",
    "model_id_from_filename",
    "prepare_e5",
    "qwen_part_files",
    "read_gguf_info",
]
