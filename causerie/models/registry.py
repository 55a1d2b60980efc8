"""The models this server can serve: embedded ones, configured GGUF files and a scanned folder."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from causerie.config import Settings
from causerie.engine.fleet import Fleet
from causerie.errors import ModelNotFound, ModelUnavailable
from causerie.models import embedded
from causerie.models import localized as localized_models
from causerie.models import upstream as upstream_models
from causerie.models.gguf_info import InvalidModelFile, read_gguf_info
from causerie.models.spec import ModelSource, ModelSpec, model_id_from_filename

__all__ = ["AUTO_MODEL", "ModelRegistry", "ModelSource", "ModelSpec", "model_id_from_filename"]

log = logging.getLogger(__name__)

AUTO_MODEL = "auto"
"""The model id that routes each request to the localized model for its language."""


def _configured_files(settings: Settings) -> list[tuple[Path, ModelSource]]:
    """``settings.model_paths`` in order, then the ``*.gguf`` files of ``settings.models_dir`` sorted by name."""
    files: list[tuple[Path, ModelSource]] = [(path.expanduser(), "file") for path in settings.model_paths]
    folder = settings.models_dir.expanduser() if settings.models_dir is not None else None
    if folder is not None and folder.is_dir():
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".gguf" and not p.name.startswith("."))
        files += [(path, "directory") for path in found]
    return files


class ModelRegistry:
    """Model ids mapped to specs, with a default and the models that were found but cannot be used."""

    def __init__(
        self,
        specs: Iterable[ModelSpec] = (),
        *,
        default_id: str | None = None,
        problems: Mapping[str, str] | None = None,
    ) -> None:
        self._specs: dict[str, ModelSpec] = {}
        self._problems: dict[str, str] = dict(problems or {})
        self._default_id: str | None = None
        self.fleet: Fleet | None = None
        """The upstream servers whose models are registered here (their health monitors run in the app)."""
        for spec in specs:
            self.register(spec)
        if default_id is not None:
            self._default_id = self.get(default_id).id

    @classmethod
    def discover(cls, settings: Settings) -> ModelRegistry:
        """Embedded models, ``settings.model_paths``, every ``*.gguf`` in ``settings.models_dir``, localized
        models, then the models of the upstreams (``settings.upstreams``, ``settings.engines_file``).

        A missing or corrupt file becomes a problem entry (logged once), never a crash. The default is
        ``settings.default_model`` (``ModelNotFound``/``ModelUnavailable`` unless it names a working
        model), else the first embedded model available, else the first model.
        """

        specs, problems = embedded.embedded_specs(settings)
        registry = cls(specs, problems=problems)
        seen = {spec.path.resolve() for spec in specs if spec.path is not None}
        for path, source in _configured_files(settings):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            registry._add_file(path, source)

        localized, broken = localized_models.localized_specs(settings)
        registry._problems.update(broken)
        for spec in localized:
            if spec.id in registry._specs:
                registry._problems[spec.id] = f"the localized model id {spec.id!r} is already taken; not served"
            else:
                registry.register(spec)
        registry.add_fleet(upstream_models.connect_fleet(settings))
        for message in registry.problems.values():
            log.warning("%s", message)
        if settings.default_model:
            registry._default_id = registry.get(settings.default_model).id
        return registry

    def add_fleet(self, fleet: Fleet | None) -> None:
        """Register the remote models of ``fleet`` (a local model keeps its id; the clash is a problem entry)."""
        self.fleet = fleet
        if fleet is None:
            return
        self._problems.update(fleet.problems)
        for spec in upstream_models.upstream_specs(fleet):
            if spec.id in self._specs:
                self._problems[f"{spec.id}@{spec.engine}"] = (
                    f"the upstream model id {spec.id!r} is already taken by a local model; give it another id "
                    "in engines.toml ([[upstream.models]] id = ...)"
                )
            else:
                self.register(spec)

    def _add_file(self, path: Path, source: ModelSource) -> None:
        model_id = self._free_id(model_id_from_filename(path.name), path)
        try:
            info = read_gguf_info(path)
        except InvalidModelFile as exc:
            self._problems[model_id] = exc.message
            return
        self.register(
            ModelSpec(
                id=model_id,
                path=path,
                source=source,
                created=int(path.stat().st_mtime),
                description=info.name or "",
                context_length=info.context_length,
                capability="embedding" if info.pools else "chat",
            )
        )

    def _free_id(self, base: str, path: Path) -> str:
        """``base``, or ``base-2``, ``base-3`` … when another model (working or not) already has it."""
        model_id, n = base, 1
        while model_id in self._specs or model_id in self._problems:
            n += 1
            model_id = f"{base}-{n}"
        if model_id != base:
            log.warning("Model id %r is already taken; serving %s as %r", base, path, model_id)
        return model_id

    def list(self, allowed: Collection[str] | None = None) -> list[ModelSpec]:
        """Working models (only the ``allowed`` ids, when given), in registration order."""
        return [spec for spec in self._specs.values() if allowed is None or spec.id in allowed]

    def get(self, model_id: str, allowed: Collection[str] | None = None) -> ModelSpec:
        """The spec for ``model_id``; ``ModelNotFound`` if unknown or not ``allowed``, ``ModelUnavailable`` if broken.

        A model outside ``allowed`` is answered exactly like one that does not exist.
        """
        spec = self._specs.get(model_id)
        if spec is not None and (allowed is None or model_id in allowed):
            return spec
        if spec is None and model_id in self._problems and allowed is None:
            raise ModelUnavailable(self._problems[model_id], param="model")
        available = ", ".join(spec.id for spec in self.list(allowed)) or "none"
        raise ModelNotFound(f"The model '{model_id}' does not exist; available models: {available}", param="model")

    def for_language(self, language: str | None, allowed: Collection[str] | None = None) -> ModelSpec | None:
        """The most recently created localized model for ``language`` (among ``allowed``), if any."""
        candidates = [s for s in self.list(allowed) if language and s.source == "localized" and s.language == language]
        return max(candidates, key=lambda s: s.created, default=None)

    def resolve(
        self, model_id: str | None, *, language: str | None = None, allowed: Collection[str] | None = None
    ) -> ModelSpec:
        """``get(model_id, allowed)``, or the default model when ``model_id`` is None or empty.

        ``auto`` picks the localized model for ``language`` (the detected language of the request),
        falling back to the default model; both only among ``allowed`` models when given (the default
        is then the first allowed model if the server's default is not).
        """
        if model_id == AUTO_MODEL and AUTO_MODEL not in self._specs:
            return self.for_language(language, allowed) or self.resolve(None, allowed=allowed)
        if model_id:
            return self.get(model_id, allowed)
        if allowed is not None and (self._default_id is None or self._default_id not in allowed):
            first = next(iter(self.list(allowed)), None)
            if first is None:
                raise ModelNotFound("No model is available to this organization", param="model")
            return first
        if self._default_id is None:
            details = "; ".join(self._problems.values())
            raise ModelUnavailable("No model is available" + (f": {details}" if details else ""), param="model")
        return self._specs[self._default_id]

    @property
    def default_id(self) -> str | None:
        return self._default_id

    @property
    def problems(self) -> dict[str, str]:
        """Model id -> why that model cannot be used."""
        return dict(self._problems)

    def reassign(self, old_owner: str, new_owner: str) -> int:
        """Give every model that ``old_owner`` owns to ``new_owner``; how many there were."""
        moved = [spec for spec in self._specs.values() if spec.organization_id == old_owner]
        for spec in moved:
            self._specs[spec.id] = replace(spec, organization_id=new_owner)
        return len(moved)

    def register(self, spec: ModelSpec, *, default: bool = False) -> None:
        """Add ``spec`` (it replaces a problem entry of the same id); the first chat model becomes the default."""
        if spec.id in self._specs:
            raise ValueError(f"a model with id {spec.id!r} is already registered")
        self._specs[spec.id] = spec
        self._problems.pop(spec.id, None)
        if spec.capability == "chat" and (default or self._default_id is None):
            self._default_id = spec.id
