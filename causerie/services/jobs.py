"""A small local runner for long jobs (localization, and any other long task): status and progress.

Jobs run one at a time (by default) on daemon worker threads, started by ``start`` and stopped by
``shutdown`` (the app's lifespan calls both), so stopping the server never waits for a training
run; each job receives a progress sink that records its stage, position, metrics and an ETA. A
failed job keeps an OpenAI-style error object whose ``type`` tells a problem with the client's
input (``invalid_request_error``) from a failure of the server (``server_error``). A job's record
is also written as JSON under the runner's folder after each change, so the state of finished jobs
survives a restart (a job that was running when the process stopped is marked failed as
interrupted; a localize job resubmitted with the same options resumes from its last checkpoint).

Every job belongs to the principal that submitted it (``organization_id``, ``user_id`` in its
record): ``get`` and ``list`` show a principal only its own, and another owner's job is not found,
exactly like a missing one.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from causerie.errors import CauserieError
from causerie.principal import PERSONAL_ORGANIZATION_ID, Principal
from causerie.protocol.openai import ErrorBody

log = logging.getLogger(__name__)

JobStatus = Literal["queued", "running", "succeeded", "failed"]


class JobNotFound(CauserieError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "job_not_found"


class JobProgress(BaseModel):
    stage: str | None = None
    completed: int = 0
    total: int = 0
    metrics: dict[str, float] = Field(default_factory=dict)
    eta_seconds: float | None = None


class Job(BaseModel):
    id: str
    object: Literal["job"] = "job"
    kind: str
    status: JobStatus = "queued"
    created_at: int
    started_at: int | None = None
    finished_at: int | None = None
    progress: JobProgress = Field(default_factory=JobProgress)
    result: dict[str, Any] | None = None
    error: ErrorBody | None = None
    organization_id: str = Field(PERSONAL_ORGANIZATION_ID, exclude=True)
    user_id: str | None = Field(None, exclude=True)
    """The owner; kept in the record on disk, not shown in the API's job object."""


_INTERRUPTED = ErrorBody.of(
    CauserieError("interrupted: the server stopped while the job was running", code="interrupted")
)

JobFunction = Callable[[Callable[..., None]], dict[str, Any]]
"""Receives a progress sink ``(stage, completed, total, **metrics)`` and returns the job's result."""


class JobRunner:
    def __init__(self, folder: Path | None = None, *, workers: int = 1) -> None:
        self._folder = folder
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, JobFunction] | None] = queue.Queue()
        self._workers = [
            threading.Thread(target=self._work, name=f"causerie-job-{n}", daemon=True) for n in range(workers)
        ]

    def start(self) -> None:
        """Read the records of earlier runs, then start the workers (once). Until then the runner touches no file."""
        if self._folder is not None:
            self._load(self._folder)
        for worker in self._workers:
            worker.start()

    def submit(self, kind: str, function: JobFunction, owner: Principal) -> Job:
        job = Job(
            id=f"job-{uuid.uuid4().hex[:16]}",
            kind=kind,
            created_at=int(time.time()),
            organization_id=owner.organization_id,
            user_id=owner.user_id,
        )
        with self._lock:
            self._jobs[job.id] = job
            self._save(job)
        self._queue.put((job.id, function))
        return job.model_copy(deep=True)

    def get(self, job_id: str, principal: Principal) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not principal.owns(job.organization_id, job.user_id):
                raise JobNotFound(f"No job with id '{job_id}'", param="job_id")
            return job.model_copy(deep=True)

    def list(self, principal: Principal) -> list[Job]:
        with self._lock:
            return [
                job.model_copy(deep=True)
                for job in self._jobs.values()
                if principal.owns(job.organization_id, job.user_id)
            ]

    def wait(self, job_id: str, principal: Principal, timeout: float) -> Job:
        """The job once finished (or as it is after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while (job := self.get(job_id, principal)).status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.05)
        return job

    def shutdown(self) -> None:
        """Stop the workers once the jobs already queued are done (never waits)."""
        for _ in self._workers:
            self._queue.put(None)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            self._run(*item)

    def _run(self, job_id: str, function: JobFunction) -> None:
        started = time.monotonic()
        self._update(job_id, status="running", started_at=int(time.time()))
        stage_started: dict[str, float] = {}

        def progress(stage: str, completed: int, total: int, **metrics: float) -> None:
            now = time.monotonic()
            since = stage_started.setdefault(stage, now)
            eta = (now - since) / completed * (total - completed) if 0 < completed <= total else None
            self._update(
                job_id,
                progress=JobProgress(stage=stage, completed=completed, total=total, metrics=metrics, eta_seconds=eta),
            )

        try:
            result = function(progress)
        except CauserieError as exc:
            if exc.status_code >= 500:
                log.error("job %s failed: %s", job_id, exc.message)
            self._update(job_id, status="failed", error=ErrorBody.of(exc), finished_at=int(time.time()))
        except Exception as exc:  # a job must never take the worker down; the reason is kept for the client
            log.exception("job %s failed", job_id)
            error = ErrorBody.of(CauserieError(f"{type(exc).__name__}: {exc}"))
            self._update(job_id, status="failed", error=error, finished_at=int(time.time()))
        else:
            self._update(job_id, status="succeeded", result=result, finished_at=int(time.time()))
        log.info("job %s finished in %.0fs", job_id, time.monotonic() - started)

    def _update(self, job_id: str, **fields: Any) -> None:
        with self._lock:
            job = self._jobs[job_id].model_copy(update=fields)
            self._jobs[job_id] = job
            self._save(job)

    def adopt(self, organization_id: str) -> int:
        """Give the personal-mode jobs (in memory and on disk) to ``organization_id``; how many there were."""
        with self._lock:
            if self._folder is not None and self._folder.is_dir():
                for path in self._folder.glob("job-*.json"):
                    job = _read(path)
                    if job is not None and job.id not in self._jobs:
                        self._jobs[job.id] = job
            adopted = [job for job in self._jobs.values() if job.organization_id == PERSONAL_ORGANIZATION_ID]
            for job in adopted:
                self._jobs[job.id] = job.model_copy(update={"organization_id": organization_id})
                self._save(self._jobs[job.id])
            return len(adopted)

    def _save(self, job: Job) -> None:
        if self._folder is None:
            return
        self._folder.mkdir(parents=True, exist_ok=True)
        temp = self._folder / f".{job.id}.tmp"
        record = {**job.model_dump(mode="json"), "organization_id": job.organization_id, "user_id": job.user_id}
        temp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        temp.replace(self._folder / f"{job.id}.json")

    def _load(self, folder: Path) -> None:
        for path in sorted(folder.glob("job-*.json")):
            job = _read(path)
            if job is None or job.id in self._jobs:  # unreadable, or submitted before ``start``
                continue
            if job.status in ("queued", "running"):
                job = job.model_copy(update={"status": "failed", "error": _INTERRUPTED})
                self._save(job)
            self._jobs[job.id] = job


def _read(path: Path) -> Job | None:
    try:
        return Job.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable job record %s: %s", path, exc)
        return None
