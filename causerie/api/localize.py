"""Localization as background jobs: ``POST /v1/localize/jobs`` starts one, ``GET`` follows its progress.

``POST /v1/localize/corpora`` uploads a corpus (multipart: a ``name`` and one or more ``files``)
that a job then names as its ``corpus``. Which server paths a job may read is the service's rule
(``causerie.services.localize``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, ConfigDict

from causerie.api.deps import CorporaDep, LocalizeDep, PrincipalDep
from causerie.api.errors import error_responses
from causerie.localize.options import LocalizeOptions
from causerie.protocol.base import RequestModel
from causerie.services.corpora import CORPUS_NAME_PATTERN, UploadedCorpus
from causerie.services.jobs import Job

router = APIRouter(prefix="/v1/localize", responses=error_responses(400, 404, 409), tags=["localize"])


class LocalizeJobRequest(RequestModel, LocalizeOptions):
    model_config = ConfigDict(extra="forbid")

    restart: bool = False
    """Discard an earlier run of the same model id instead of resuming it."""

    def options(self) -> LocalizeOptions:
        return LocalizeOptions.model_validate(self.model_dump(exclude={"restart"}))


class JobList(BaseModel):
    object: str = "list"
    data: list[Job]


@router.post("/corpora", response_model=UploadedCorpus, status_code=201)
def upload_corpus(
    name: Annotated[str, Form(pattern=CORPUS_NAME_PATTERN, description="The corpus's name (a job's `corpus`).")],
    files: Annotated[list[UploadFile], File(description="Text files: .txt, .md, .html or .jsonl.")],
    corpora: CorporaDep,
) -> UploadedCorpus:
    return corpora.save(name, [(upload.filename or "", upload.file) for upload in files])


@router.post("/jobs", response_model=Job, status_code=202)
def create_job(body: LocalizeJobRequest, localize: LocalizeDep, principal: PrincipalDep) -> Job:
    return localize.submit(body.options(), principal, restart=body.restart)


@router.get("/jobs", response_model=JobList)
def list_jobs(localize: LocalizeDep, principal: PrincipalDep) -> JobList:
    return JobList(data=localize.list_jobs(principal))


@router.get("/jobs/{job_id}", response_model=Job)
def get_job(job_id: str, localize: LocalizeDep, principal: PrincipalDep) -> Job:
    return localize.get_job(job_id, principal)
