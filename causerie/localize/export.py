"""Export: merge the LoRA into the base, write a GGUF that llama.cpp serves, patch in added tokens.

The conversion is llama.cpp's own ``convert_hf_to_gguf.py``, which ships in the llama-cpp-python
source distribution (not in the wheel). The sdist matching the installed engine is fetched once with
pip into a cache and the converter runs from there.

llama.cpp recognizes a BPE pre-tokenizer by hashing how it splits a fixed text; added tokens change
that hash. So an extended model is converted with its base tokenizer (the converter pads the new
rows with placeholder tokens) and the placeholders are then replaced by the new tokens, typed
USER_DEFINED (matched before pre-tokenization, as the Hugging Face tokenizer does with added tokens).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from causerie.localize.errors import LocalizeFailure

if TYPE_CHECKING:
    from gguf import GGUFReader, ReaderField
    from peft import PeftModel
    from transformers import PreTrainedTokenizerBase

_VENDOR = "vendor/llama.cpp/"
_NEEDED = ("convert_hf_to_gguf.py", "gguf-py/", "conversion/")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "causerie"


def converter_dir(cache: Path | None = None) -> Path:
    """The folder holding llama.cpp's converter for the installed llama-cpp-python, fetched on first use."""
    version = importlib.metadata.version("llama-cpp-python")
    target = (cache or cache_root()) / f"llama.cpp-convert-{version}"
    if (target / "convert_hf_to_gguf.py").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as temp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"llama-cpp-python=={version}",
            "-d",
            temp,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        archives = sorted(Path(temp).glob("llama_cpp_python-*.tar.gz"))
        if done.returncode != 0 or not archives:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no archive"]
            raise LocalizeFailure(
                f"cannot fetch the llama-cpp-python {version} source for its GGUF converter: {tail[0]}"
            )
        staging = Path(temp) / "converter"
        with tarfile.open(archives[0]) as archive:
            for member in archive.getmembers():
                _, _, inner = member.name.partition("/")
                if inner.startswith(_VENDOR) and inner[len(_VENDOR) :].startswith(_NEEDED):
                    member.name = inner[len(_VENDOR) :]
                    archive.extract(member, staging, filter="data")
        if not (staging / "convert_hf_to_gguf.py").is_file():
            raise LocalizeFailure(f"the llama-cpp-python {version} source has no convert_hf_to_gguf.py")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


def save_merged(model: PeftModel, tokenizer: PreTrainedTokenizerBase, base_folder: Path, folder: Path) -> None:
    """The LoRA merged into the weights, as a Hugging Face folder, with the base's tokenizer files.

    The extended tokenizer (if any) is saved under ``folder / 'tokenizer-extended'``.
    """
    merged = model.merge_and_unload()
    shutil.rmtree(folder, ignore_errors=True)
    merged.save_pretrained(folder)
    for name in _TOKENIZER_FILES:
        if (base_folder / name).is_file():
            shutil.copy2(base_folder / name, folder / name)
    tokenizer.save_pretrained(folder / "tokenizer-extended")


def convert(folder: Path, outfile: Path, outtype: str, *, cache: Path | None = None) -> None:
    """Run llama.cpp's converter on a Hugging Face folder."""
    script = converter_dir(cache) / "convert_hf_to_gguf.py"
    command = [sys.executable, str(script), str(folder), "--outfile", str(outfile), "--outtype", outtype]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not outfile.is_file():
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise LocalizeFailure(f"GGUF conversion failed: {lines[-1] if lines else 'no output'}")


def add_tokens_to_gguf(path: Path, first_id: int, tokens: Sequence[str]) -> None:
    """Replace the placeholder tokens ``first_id``… of a converted GGUF by ``tokens`` (USER_DEFINED)."""
    import gguf
    from gguf.scripts.gguf_new_metadata import MetadataDetails, copy_with_new_metadata

    reader = gguf.GGUFReader(path)
    names = list(_field(reader, gguf.Keys.Tokenizer.LIST).contents())
    kinds = list(_field(reader, gguf.Keys.Tokenizer.TOKEN_TYPE).contents())
    if len(names) != first_id + len(tokens):
        raise LocalizeFailure(f"the converted vocabulary has {len(names)} tokens, expected {first_id + len(tokens)}")
    names[first_id:] = list(tokens)
    kinds[first_id:] = [int(gguf.TokenType.USER_DEFINED)] * len(tokens)
    array = gguf.GGUFValueType.ARRAY
    metadata = {
        gguf.Keys.Tokenizer.LIST: MetadataDetails(array, names, sub_type=gguf.GGUFValueType.STRING),
        gguf.Keys.Tokenizer.TOKEN_TYPE: MetadataDetails(array, kinds, sub_type=gguf.GGUFValueType.INT32),
    }
    temp = path.with_name(path.name + ".tmp")
    writer = gguf.GGUFWriter(
        temp, arch=_field(reader, gguf.Keys.General.ARCHITECTURE).contents(), endianess=reader.endianess
    )
    alignment = reader.get_field(gguf.Keys.General.ALIGNMENT)
    if alignment is not None:
        writer.data_alignment = alignment.contents()
    copy_with_new_metadata(reader, writer, metadata, [])
    del reader
    os.replace(temp, path)


def _field(reader: GGUFReader, key: str) -> ReaderField:
    """A metadata field the converter always writes; its absence means the conversion went wrong."""
    field = reader.get_field(key)
    if field is None:
        raise LocalizeFailure(f"the converted GGUF has no {key} metadata")
    return field
