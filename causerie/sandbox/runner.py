"""Run untrusted code in a sandbox and report exactly what happened.

``Sandbox.run`` writes the source into a fresh folder, runs it through the isolation of
``isolation.py`` with resource limits, a wall-clock timeout that kills the whole process tree,
and capped output, and returns a ``RunResult`` that says what ran, what it printed, how it
ended (exit status or signal), how long it took and, when a limit stopped it, which one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from causerie.runs import DEFAULT_MAXIMUMS, Limits, RunResult, StopReason
from causerie.sandbox.isolation import LAUNCH_ENV, NOBODY, Isolation, Rlimits, SandboxUnavailable, detect
from causerie.sandbox.languages import PYTHON, Language, get_language

_SIGNAL_REASONS: dict[int, StopReason] = {signal.SIGXCPU: "cpu", signal.SIGXFSZ: "file_size", signal.SIGKILL: "killed"}
_READ_CHUNK = 65536


def _rlimits(limits: Limits) -> Rlimits:
    return Rlimits(
        cpu_seconds=limits.cpu_seconds,
        memory_bytes=limits.memory_mb << 20,
        file_size_bytes=limits.file_size_mb << 20,
        processes=limits.processes,
        open_files=limits.open_files,
    )


class _Capture:
    """Reads one stream, keeping at most ``limit`` bytes; calls ``overflow`` once when it is passed."""

    def __init__(self, limit: int, overflow: asyncio.Event) -> None:
        self.limit, self.overflow = limit, overflow
        self.data = bytearray()
        self.truncated = False

    async def read(self, stream: asyncio.StreamReader) -> None:
        # Read to EOF even past the limit: on Python 3.11 ``Process.wait()`` returns only once every
        # pipe has seen EOF, which a paused (full) pipe never does.
        while chunk := await stream.read(_READ_CHUNK):
            room = self.limit - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if len(chunk) > room:
                self.truncated = True
                self.overflow.set()

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _ending(returncode: int) -> tuple[int | None, int | None]:
    """(exit status, signal number). bubblewrap reports a child killed by signal N as 128 + N."""
    if returncode < 0:
        return None, -returncode
    if returncode > 128 and returncode - 128 in signal.valid_signals():
        return None, returncode - 128
    return returncode, None


class Sandbox:
    """Runs code in isolation. ``limits`` are the defaults; each run may pass its own, none above ``maximums``."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        maximums: Limits = DEFAULT_MAXIMUMS,
        uid: int = NOBODY,
        gid: int = NOBODY,
    ) -> None:
        self.limits = limits or Limits()
        self.maximums = maximums
        self.uid, self.gid = uid, gid

    def isolation(self) -> Isolation:
        """The isolation in force; raises ``SandboxUnavailable`` when none is possible."""
        return detect(self.uid, self.gid)

    async def run(
        self,
        code: str,
        language: Language | str = PYTHON,
        *,
        stdin: str = "",
        limits: Limits | None = None,
    ) -> RunResult:
        """Run ``code`` as the language's main file in a fresh folder, ``stdin`` as its input.

        Raises ``InvalidRequest`` when ``limits`` ask for more than ``maximums`` (see ``Limits.within``).
        """
        lang = get_language(language) if isinstance(language, str) else language
        limits = (limits or self.limits).within(self.maximums)
        isolation = await asyncio.to_thread(self.isolation)
        interpreter = lang.interpreter()
        if interpreter is None:
            raise SandboxUnavailable(f"code execution is disabled: no {lang.name} interpreter found")
        argv = lang.argv(interpreter)
        workdir = Path(tempfile.mkdtemp(prefix="causerie-run-"))
        try:
            (workdir / lang.filename).write_text(code, encoding="utf-8")
            isolation.prepare(workdir)
            command = isolation.command(workdir, interpreter, argv, _rlimits(limits))
            return await self._execute(command, lang, argv, stdin, limits)
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _execute(
        self, command: list[str], lang: Language, argv: list[str], stdin: str, limits: Limits
    ) -> RunResult:
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as a whole
            close_fds=True,
            env=LAUNCH_ENV,
        )
        overflow = asyncio.Event()
        out, err = _Capture(limits.output_bytes, overflow), _Capture(limits.output_bytes, overflow)
        assert process.stdin and process.stdout and process.stderr
        feeder = asyncio.create_task(_feed(process.stdin, stdin))
        finished = asyncio.create_task(_finish(process, out, err))
        watcher = asyncio.create_task(overflow.wait())
        stopped: StopReason | None = None
        try:
            done, _ = await asyncio.wait(
                {finished, watcher}, timeout=limits.wall_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            if finished not in done:
                stopped = "output_limit" if watcher in done else "timeout"
                _kill_group(process)
                await finished
        finally:
            for task in (feeder, watcher, finished):
                task.cancel()
            if process.returncode is None:  # cancelled from outside: leave nothing running
                _kill_group(process)
                await process.wait()
        seconds = time.monotonic() - started
        exit_code, signum = _ending(await process.wait())  # it has exited: this returns its status at once
        stderr = err.text()
        if stopped is None and signum is not None:
            stopped = _SIGNAL_REASONS.get(signum)
        if stopped is None and exit_code not in (0, None):
            stopped = lang.diagnose(stderr)
        return RunResult(
            language=lang.name,
            command=[Path(argv[0]).name, *argv[1:]],
            stdout=out.text(),
            stderr=stderr,
            exit_code=exit_code,
            signal=signal.Signals(signum).name if signum else None,
            seconds=round(seconds, 4),
            stopped=stopped,
            truncated=out.truncated or err.truncated,
            limits=limits,
        )


async def _feed(stream: asyncio.StreamWriter, text: str) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        if text:
            stream.write(text.encode("utf-8"))
            await stream.drain()
        stream.close()


async def _finish(process: asyncio.subprocess.Process, out: _Capture, err: _Capture) -> None:
    assert process.stdout and process.stderr
    await asyncio.gather(out.read(process.stdout), err.read(process.stderr))
    await process.wait()
