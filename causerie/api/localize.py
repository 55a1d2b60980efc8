"""Localization as background jobs: ``POST /v1/localize/jobs`` starts one, ``GET`` follows its progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictBool

from causerie.api.deps import PoolDep, SettingsDep, require_api_key
from causerie.api.errors import error_responses
from causerie.config import Settings
from causerie.localize.errors import LocalizeError
from causerie.localize.options import LocalizeOptions
from causerie.models.registry import ModelRegistry
from causerie.protocol.base import RequestModel
from causerie.services.engines import EnginePool
from causerie.services.jobs import Job, JobRunner

_errors = error_responses(400, 401, 404)
router = APIRouter(prefix="/v1/localize", dependencies=[Depends(require_api_key)], responses=_errors, tags=["localize"])

JOB_KIND = "localize"


class LocalizeJobRequest(RequestModel, LocalizeOptions):
    model_config = ConfigDict(extra="forbid")

    restart: StrictBool = False
    """Discard an earlier run of the same model id instead of resuming it."""


class JobList(BaseModel):
    object: str = "list"
    data: list[Job]


def get_jobs(request: Request) -> JobRunner:
    """The app's job runner, created on first use (its records live under ``<data_dir>/jobs``)."""
    state = request.app.state
    if getattr(state, "jobs", None) is None:
        state.jobs = JobRunner(state.settings.data_dir / "jobs")
    return state.jobs


JobsDep = Annotated[JobRunner, Depends(get_jobs)]


def _check_inputs(body: LocalizeJobRequest, registry: ModelRegistry) -> None:
    """Errors that can be known now are 400s, not failed jobs."""
    from causerie.localize.base_model import resolve_base

    if not body.corpus.exists():
        raise LocalizeError(f"corpus not found on the server: {body.corpus}", param="corpus")
    if body.eval.english_text is not None and not body.eval.english_text.is_file():
        raise LocalizeError(f"English evaluation text not found: {body.eval.english_text}", param="eval.english_text")
    resolve_base(body.base_model, registry)


def _job(body: LocalizeJobRequest, settings: Settings, pool: EnginePool) -> Any:
    options = LocalizeOptions.model_validate(body.model_dump(exclude={"restart"}))

    def run(progress: Any) -> dict[str, Any]:
        from causerie.localize.pipeline import run_localize
        from causerie.models.localized import spec_from_folder

        result = run_localize(options, settings, registry=pool.registry, progress=progress, restart=body.restart)
        if result.model_dir is not None:
            pool.registry.register(spec_from_folder(Path(result.model_dir)))
        return result.model_dump(mode="json")

    return run


@router.post("/jobs", response_model=Job, status_code=202)
async def create_job(body: LocalizeJobRequest, settings: SettingsDep, pool: PoolDep, jobs: JobsDep) -> JSONResponse:
    _check_inputs(body, pool.registry)
    job = jobs.submit(JOB_KIND, _job(body, settings, pool))
    return JSONResponse(job.model_dump(mode="json"), status_code=202)


@router.get("/jobs", response_model=JobList)
async def list_jobs(jobs: JobsDep) -> JobList:
    return JobList(data=[job for job in jobs.list() if job.kind == JOB_KIND])


@router.get("/jobs/{job_id}", response_model=Job)
async def get_job(job_id: str, jobs: JobsDep) -> Job:
    return jobs.get(job_id)
