"""What a sandboxed run may use and what it reports.

Value types shared by the sandbox, the settings (the operator's maximums) and the code endpoints' HTTP
schemas; they live below all three so that none of them imports another.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from causerie.errors import InvalidRequest

StopReason = Literal["timeout", "cpu", "memory", "file_size", "processes", "output_limit", "killed"]
"""The limit that stopped a program."""

# The range each limit, and each operator's maximum (``Settings.sandbox_max_*``), must lie in.
WallSeconds = Annotated[float, Field(gt=0, le=300)]
CpuSeconds = Annotated[int, Field(ge=1, le=300)]
MemoryMiB = Annotated[int, Field(ge=64, le=16384)]
FileSizeMiB = Annotated[int, Field(ge=1, le=4096)]
ProcessCount = Annotated[int, Field(ge=1, le=1024)]
OpenFileCount = Annotated[int, Field(ge=16, le=4096)]
OutputBytes = Annotated[int, Field(ge=1024, le=16 << 20)]


class Limits(BaseModel):
    """Resources one run may use; a server caps each with its maximums (``within``).

    Strict, as it is part of the code endpoints' request bodies: ``true`` or ``"512"`` is not a number.
    """

    model_config = ConfigDict(strict=True)

    wall_seconds: WallSeconds = Field(10.0, description="Wall-clock time before the whole run is killed.")
    cpu_seconds: CpuSeconds = Field(5, description="CPU time (RLIMIT_CPU).")
    memory_mb: MemoryMiB = Field(512, description="Address space per process (RLIMIT_AS), MiB.")
    file_size_mb: FileSizeMiB = Field(16, description="Largest file the program may write (RLIMIT_FSIZE), MiB.")
    processes: ProcessCount = Field(32, description="Processes and threads (RLIMIT_NPROC).")
    open_files: OpenFileCount = Field(64, description="Open file descriptors (RLIMIT_NOFILE).")
    output_bytes: OutputBytes = Field(65536, description="Stdout or stderr beyond this stops the run.")

    def within(self, maximums: Limits) -> Limits:
        """These limits under ``maximums``: one asked for above its maximum is refused (a 400 naming
        ``limits.<name>``); one left at its default is lowered to its maximum when that is lower."""
        lowered: dict[str, float | int] = {}
        for name in type(self).model_fields:
            value, most = getattr(self, name), getattr(maximums, name)
            if value <= most:
                continue
            if name in self.model_fields_set:
                raise InvalidRequest(
                    f"limits.{name} is {value}, above this server's maximum of {most}", param=f"limits.{name}"
                )
            lowered[name] = most
        return self.model_copy(update=lowered)


DEFAULT_MAXIMUMS = Limits(
    wall_seconds=30,
    cpu_seconds=10,
    memory_mb=1024,
    file_size_mb=64,
    processes=64,
    open_files=256,
    output_bytes=1 << 20,
)
"""The most a run may ask for unless the operator says otherwise (the defaults of ``Settings.sandbox_max_*``)."""


class RunResult(BaseModel):
    """One sandboxed run, as reported to callers."""

    language: str
    command: list[str] = Field(description="What ran, from the sandbox's folder.")
    stdout: str
    stderr: str
    exit_code: int | None = Field(description="The program's exit status; None when a signal ended it.")
    signal: str | None = Field(None, description="The signal that ended the program (e.g. SIGKILL).")
    seconds: float = Field(description="Wall-clock time of the run.")
    stopped: StopReason | None = Field(
        None,
        description="The limit that stopped the program: timeout, cpu, memory, file_size, processes, output_limit.",
    )
    truncated: bool = Field(False, description="Output beyond the limit was cut.")
    limits: Limits

    @property
    def ok(self) -> bool:
        """It ran to completion and exited with status 0."""
        return self.exit_code == 0 and self.stopped is None
