"""Localized models: folders under ``<data_dir>/models/localized/`` holding a GGUF and its model card.

The card (``model.json``) says what the model is: its id, language, base, corpus provenance,
training parameters and the evaluation gate's figures. Models are discovered at start-up; a folder
with a broken card or file is reported as a problem, never a crash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from causerie.config import Settings
from causerie.models.gguf_info import InvalidModelFile, read_gguf_info
from causerie.models.spec import ModelSpec
from causerie.principal import PERSONAL_ORGANIZATION_ID

CARD_FILE = "model.json"


class ModelCardFile(BaseModel):
    """What ``causerie localize`` writes next to a localized GGUF."""

    id: str
    language: str
    gguf: str
    """File name of the GGUF, in the card's folder."""
    base: dict[str, Any]
    corpus: dict[str, Any]
    parameters: dict[str, Any]
    metrics: dict[str, Any]
    created: int
    description: str = ""
    organization_id: str = PERSONAL_ORGANIZATION_ID
    """The organization whose run produced it: the model is private to it (and to the organizations granted it)."""


def localized_dir(settings: Settings) -> Path:
    return settings.data_dir / "models" / "localized"


def read_card(folder: Path) -> ModelCardFile:
    return ModelCardFile.model_validate_json((folder / CARD_FILE).read_text(encoding="utf-8"))


def spec_from_folder(folder: Path) -> ModelSpec:
    """The registry entry for one localized model folder; raises ``InvalidModelFile``, ``OSError`` or ``ValueError``."""
    card = read_card(folder)
    path = folder / card.gguf
    info = read_gguf_info(path)
    return ModelSpec(
        id=card.id,
        path=path,
        source="localized",
        created=card.created,
        description=card.description,
        context_length=info.context_length,
        language=card.language,
        organization_id=card.organization_id,
    )


def localized_specs(settings: Settings) -> tuple[list[ModelSpec], dict[str, str]]:
    """A spec per valid localized model folder (sorted by name), and a problem per broken one."""
    root = localized_dir(settings)
    specs: list[ModelSpec] = []
    problems: dict[str, str] = {}
    if not root.is_dir():
        return specs, problems
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            specs.append(spec_from_folder(folder))
        except InvalidModelFile as exc:
            problems[folder.name] = exc.message
        except (OSError, ValueError) as exc:
            problems[folder.name] = f"the localized model in {folder} has no valid {CARD_FILE}: {exc}"
    return specs, problems


def write_card(folder: Path, card: ModelCardFile) -> None:
    temp = folder / f".{CARD_FILE}.tmp"
    temp.write_text(json.dumps(card.model_dump(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    temp.replace(folder / CARD_FILE)


def give_to(folder: Path, organization_id: str) -> None:
    """Record in the model's card which organization owns it."""
    card = read_card(folder)
    if card.organization_id != organization_id:
        write_card(folder, card.model_copy(update={"organization_id": organization_id}))


def adopt_localized(settings: Settings, organization_id: str) -> int:
    """Give every localized model of personal mode to ``organization_id``; how many there were."""
    root = localized_dir(settings)
    adopted = 0
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            card = read_card(folder)
        except (OSError, ValueError):
            continue  # broken folders are reported by discovery
        if card.organization_id == PERSONAL_ORGANIZATION_ID:
            give_to(folder, organization_id)
            adopted += 1
    return adopted
