"""Localization as a service: the API's jobs (paths confined to allowed folders) and the operator's runs.

A job of the HTTP API reads only what the operator allowed: corpora and English evaluation texts
under the corpus roots (uploaded corpora in ``<data_dir>/corpora`` and ``CAUSERIE_CORPUS_ROOTS``),
base models given as a path under the model folders (``<data_dir>/models`` and
``CAUSERIE_MODELS_DIR``); a registered model id is always fine. A path that is not allowed, does
not exist or is of the wrong kind gets one answer (``PathNotAllowed``), checked before the job is
queued. ``run`` is ``causerie localize``: the operator on their own machine, any local path.

A job belongs to the principal that submitted it, and the model it produces to that principal's
organization (written in the model's card): private to it unless it grants it to others.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from causerie.config import Settings
from causerie.localize.base_model import resolve_base
from causerie.localize.errors import PathNotAllowed
from causerie.localize.options import LocalizeOptions
from causerie.localize.paths import PathKind, confined
from causerie.localize.progress import ProgressSink, no_progress
from causerie.models.registry import ModelRegistry
from causerie.principal import PERSONAL, Principal
from causerie.services.jobs import Job, JobFunction, JobNotFound, JobRunner

if TYPE_CHECKING:
    from causerie.localize.pipeline import LocalizeResult

JOB_KIND = "localize"

# One answer per parameter, whatever the reason (outside the roots, missing, a folder for a file, a symlink out);
# the value is not echoed, so two refusals of the same parameter are the same bytes.
_CORPUS_REFUSED = (
    "corpus is not a file or folder that the server may read: give the name of a corpus uploaded with"
    " POST /v1/localize/corpora, or a path under the server's corpus folders"
)
_ENGLISH_REFUSED = (
    "eval.english_text is not a file that the server may read: give a path under the server's corpus folders"
    " (a file of an uploaded corpus is '<corpus>/<file>')"
)
_BASE_REFUSED = (
    "base_model is neither a registered model id nor a model file or folder that the server may read"
    " (paths must lie under the server's model folders)"
)


class LocalizeService:
    def __init__(self, settings: Settings, registry: ModelRegistry, jobs: JobRunner) -> None:
        self._settings = settings
        self._registry = registry
        self._jobs = jobs
        self.corpus_roots: tuple[Path, ...] = (settings.corpora_dir, *settings.corpus_roots)
        self.model_roots: tuple[Path, ...] = (
            settings.models_cache_dir,
            *([settings.models_dir] if settings.models_dir else []),
        )

    def submit(self, options: LocalizeOptions, principal: Principal, *, restart: bool = False) -> Job:
        """Check what can be known now (400s, not failed jobs), then queue the run for ``principal``."""
        return self._jobs.submit(JOB_KIND, self._job(self._confine(options), restart, principal), principal)

    def list_jobs(self, principal: Principal) -> list[Job]:
        return [job for job in self._jobs.list(principal) if job.kind == JOB_KIND]

    def get_job(self, job_id: str, principal: Principal) -> Job:
        job = self._jobs.get(job_id, principal)
        if job.kind != JOB_KIND:
            raise JobNotFound(f"No job with id '{job_id}'", param="job_id")
        return job

    def run(
        self, options: LocalizeOptions, *, progress: ProgressSink = no_progress, restart: bool = False
    ) -> LocalizeResult:
        """Run in this process, reading any local path (``causerie localize``: the operator's own machine)."""
        return self._run(options, progress, restart, None, PERSONAL)

    def _confine(self, options: LocalizeOptions) -> LocalizeOptions:
        """``options`` with every path the run will read replaced by its allowed real path."""
        corpus = _allowed(options.corpus, self.corpus_roots, "file or folder", "corpus", _CORPUS_REFUSED)
        english = options.eval.english_text
        if english is not None:
            english = _allowed(english, self.corpus_roots, "file", "eval.english_text", _ENGLISH_REFUSED)
        return options.model_copy(
            update={
                "corpus": corpus,
                "base_model": self._base_model(options.base_model),
                "eval": options.eval.model_copy(update={"english_text": english}),
            }
        )

    def _base_model(self, name: str) -> str:
        """A registered id as it is, else the real path of a model under the model folders; checked for use."""
        chosen = name
        if name not in self._registry.problems and all(spec.id != name for spec in self._registry.list()):
            chosen = str(_allowed(name, self.model_roots, "file or folder", "base_model", _BASE_REFUSED))
        resolve_base(chosen, self._registry)  # no weights, not a model folder, not a .gguf: said now, not in a job
        return chosen

    def _job(self, options: LocalizeOptions, restart: bool, principal: Principal) -> JobFunction:
        def run(progress: ProgressSink) -> dict[str, Any]:
            return self._run(options, progress, restart, self.corpus_roots, principal).model_dump(mode="json")

        return run

    def _run(
        self,
        options: LocalizeOptions,
        progress: ProgressSink,
        restart: bool,
        confine_to: Sequence[Path] | None,
        principal: Principal,
    ) -> LocalizeResult:
        from causerie.localize.pipeline import run_localize
        from causerie.models.localized import give_to, spec_from_folder

        result = run_localize(
            options, self._settings, registry=self._registry, progress=progress, restart=restart, confine_to=confine_to
        )
        if result.model_dir is not None:
            give_to(Path(result.model_dir), principal.organization_id)
            self._registry.register(spec_from_folder(Path(result.model_dir)))
        return result


def _allowed(value: str | Path, roots: Sequence[Path], kind: PathKind, param: str, refusal: str) -> Path:
    """The allowed real path of ``value``; else ``PathNotAllowed`` with ``refusal``, the same for every reason."""
    path = confined(value, roots, kind)
    if path is None:
        raise PathNotAllowed(refusal, param=param)
    return path
