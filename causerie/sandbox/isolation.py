"""How a sandboxed process is walled off: bubblewrap namespaces, an unprivileged uid, rlimits.

The command line built here runs, from the outside in:

1. ``setpriv`` (only when we are root): drop to a dedicated unprivileged uid/gid with no
   supplementary groups, so the program owns nothing on the host and, above all, so
   ``RLIMIT_NPROC`` applies (the kernel never enforces it on uid 0).
2. ``bwrap`` (bubblewrap, the sandbox Flatpak uses): fresh user, network, PID, IPC, UTS and
   mount namespaces. The new root is read-only and holds only ``/usr`` (+ the usual symlinks),
   ``/etc`` read-only, a private ``/proc`` and ``/dev``, and the run's folder read-write at
   ``/sandbox``. The network namespace has only its own loopback, so nothing on the host or
   beyond can be reached. A fresh user namespace also gives the program a fresh
   ``RLIMIT_NPROC`` count, so a fork bomb cannot starve the server's own user.
3. ``prlimit`` (util-linux): CPU time, address space, file size, process count and open files.

The chain itself starts with an empty environment (``LAUNCH_ENV``): bubblewrap's ``--clearenv``
clears only the program's, while bubblewrap's own init (PID 1 inside, whose ``/proc/1/environ``
the program can read) keeps whatever the chain was started with.

Nothing here falls back to running unconfined: when bubblewrap is missing or cannot create
namespaces, ``check`` raises ``SandboxUnavailable`` with what to do about it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from causerie.errors import CauserieError

SANDBOX_DIR = "/sandbox"
NOBODY = 65534
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
LAUNCH_ENV: Mapping[str, str] = MappingProxyType({})
"""The environment the whole chain is started with: none of the server's (its keys, database URL)."""


class SandboxUnavailable(CauserieError):
    """Code cannot be run safely on this machine; nothing was run."""

    status_code = 503
    error_type = "server_error"
    code = "sandbox_unavailable"


@dataclass(frozen=True)
class Rlimits:
    cpu_seconds: int
    memory_bytes: int
    file_size_bytes: int
    processes: int
    open_files: int

    def prlimit_args(self) -> list[str]:
        # CPU: SIGXCPU at the soft limit, SIGKILL one second later at the hard one.
        return [
            f"--cpu={self.cpu_seconds}:{self.cpu_seconds + 1}",
            f"--as={self.memory_bytes}",
            f"--fsize={self.file_size_bytes}",
            f"--nproc={self.processes}",
            f"--nofile={self.open_files}",
            "--core=0",
        ]


@dataclass(frozen=True)
class Isolation:
    """The tools found on this machine and who the sandboxed program runs as."""

    bwrap: str
    prlimit: str
    setpriv: str | None
    uid: int
    gid: int

    @property
    def drops_privileges(self) -> bool:
        return self.setpriv is not None

    def prepare(self, workdir: Path) -> Path:
        """Make ``workdir`` the sandboxed user's own (when we switch users)."""
        if self.drops_privileges:
            os.chown(workdir, self.uid, self.gid)
            for path in workdir.rglob("*"):
                os.chown(path, self.uid, self.gid, follow_symlinks=False)
        return workdir

    def command(self, workdir: Path, interpreter: Path, argv: list[str], limits: Rlimits) -> list[str]:
        """The full command that runs ``argv`` (inside the sandbox, from ``/sandbox``)."""
        outer = [self.setpriv, f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"] if self.setpriv else []
        mounts = ["--ro-bind", "/usr", "/usr", "--ro-bind-try", "/etc", "/etc"]
        for name in ("bin", "lib", "lib32", "lib64", "sbin"):
            path = Path("/") / name
            if path.is_symlink():  # merged /usr: /bin -> usr/bin
                mounts += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                mounts += ["--ro-bind", str(path), str(path)]
        prefix = interpreter.resolve().parent.parent
        if not prefix.is_relative_to("/usr"):
            mounts += ["--ro-bind", str(prefix), str(prefix)]
        bwrap = [
            self.bwrap,
            "--unshare-all",  # user, ipc, pid, net, uts, cgroup namespaces
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            *mounts,
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--bind",
            str(workdir),
            SANDBOX_DIR,
            "--remount-ro",
            "/dev",
            "--remount-ro",
            "/",
            "--chdir",
            SANDBOX_DIR,
            "--clearenv",
            "--setenv",
            "PATH",
            _SAFE_PATH,
            "--setenv",
            "HOME",
            SANDBOX_DIR,
            "--setenv",
            "TMPDIR",
            SANDBOX_DIR,
            "--setenv",
            "LANG",
            "C.UTF-8",
            "--setenv",
            "PYTHONIOENCODING",
            "utf-8",
            "--",
        ]
        return [*outer, *bwrap, self.prlimit, *limits.prlimit_args(), "--", *argv]


def _probe(isolation: Isolation) -> str | None:
    """Run ``true`` through the whole wrapper once; the reason it fails, or None."""
    with tempfile.TemporaryDirectory(prefix="causerie-probe-") as folder:
        workdir = isolation.prepare(Path(folder))
        command = isolation.command(
            workdir, Path("/usr/bin/true"), ["/usr/bin/true"], Rlimits(5, 1 << 28, 1 << 20, 16, 16)
        )
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, env=LAUNCH_ENV
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
    return None if result.returncode == 0 else (result.stderr.strip() or f"exit status {result.returncode}")


@lru_cache(maxsize=4)
def detect(uid: int = NOBODY, gid: int = NOBODY) -> Isolation:
    """The isolation this machine supports, checked by running it once; else ``SandboxUnavailable``."""
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
    if not bwrap:
        raise SandboxUnavailable(
            "code execution is disabled: bubblewrap (bwrap) is not installed; install it with "
            "`apt-get install bubblewrap` (scripts/install.sh does this)"
        )
    if not prlimit:
        raise SandboxUnavailable("code execution is disabled: prlimit (util-linux) is not installed")
    setpriv = None
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if not setpriv:
            raise SandboxUnavailable("code execution is disabled: running as root but setpriv (util-linux) is missing")
    isolation = Isolation(bwrap, prlimit, setpriv, uid, gid)
    problem = _probe(isolation)
    if problem:
        raise SandboxUnavailable(
            "code execution is disabled: cannot create a sandbox with namespaces "
            f"(are unprivileged user namespaces allowed? sysctl user.max_user_namespaces): {problem}"
        )
    return isolation
