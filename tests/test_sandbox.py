"""Sandbox containment: each hostile snippet is stopped, reported, and leaves the test process unharmed.

These run as root in CI (and here): the sandbox then drops to an unprivileged uid, which is
what makes RLIMIT_NPROC and file permissions bite.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import textwrap
from pathlib import Path

import pytest

from causerie.errors import InvalidRequest
from causerie.sandbox import Limits, RunResult, Sandbox, SandboxUnavailable
from causerie.sandbox import isolation as isolation_module

FAST = Limits(wall_seconds=5, cpu_seconds=2, memory_mb=256, processes=16, output_bytes=4096)


def run(code: str, limits: Limits = FAST, **kwargs) -> RunResult:
    return asyncio.run(Sandbox(limits).run(textwrap.dedent(code), **kwargs))


def sandbox_processes() -> list[int]:
    """Processes still running the sandbox's main file (there must be none after a run)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"main.py" in cmdline and b"-I" in cmdline:
                found.append(int(entry.name))
    return found


def assert_host_unharmed() -> None:
    assert subprocess.run(["true"]).returncode == 0  # we can still start processes
    assert sandbox_processes() == []


def test_runs_python_and_reports_what_ran():
    result = run(
        """
        import sys
        print("out", sys.stdin.read())
        print("err", file=sys.stderr)
        raise SystemExit(3)
    """,
        stdin="given",
    )
    assert result.stdout == "out given\n"
    assert result.stderr == "err\n"
    assert (result.exit_code, result.signal, result.stopped, result.ok) == (3, None, None, False)
    assert result.command[0].startswith("python3") and result.command[-1] == "main.py"
    assert result.language == "python" and result.limits == FAST and result.seconds > 0


def test_program_runs_unprivileged_in_its_own_folder_with_a_scrubbed_environment(monkeypatch):
    monkeypatch.setenv("CAUSERIE_TEST_SECRET", "s3cret")
    result = run("""
        import os
        print(os.getuid() != 0, os.getcwd(), os.environ.get("HOME"), "CAUSERIE_TEST_SECRET" in os.environ)
        open("mine.txt", "w").write("ok")
        print(open("mine.txt").read())
    """)
    assert result.ok, result.stderr
    assert result.stdout.split() == ["True", "/sandbox", "/sandbox", "False", "ok"]


def test_server_environment_is_not_leaked_through_proc(monkeypatch):
    """bubblewrap's own init is PID 1 inside: its /proc/1/environ is the environment the chain started with."""
    secret = "sk-canary-" + os.urandom(8).hex()
    monkeypatch.setenv("CAUSERIE_API_KEYS", secret)
    monkeypatch.setenv("CAUSERIE_DATABASE_URL", f"postgresql://causerie:{secret}@db/causerie")
    result = run(
        """
        import glob
        paths = {"/proc/1/environ", "/proc/self/environ", "/proc/1/cmdline", "/proc/self/cmdline"}
        paths.update(glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline")
                     + glob.glob("/proc/*/task/*/environ") + glob.glob("/proc/*/task/*/cmdline"))
        for path in sorted(paths):
            try:
                print("READ", path, open(path, "rb").read())
            except OSError as exc:
                print("REFUSED", path, exc.errno)
    """,
        Limits(output_bytes=1 << 20),
    )
    assert result.ok, result.stderr
    read = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("READ")}
    assert {"/proc/1/environ", "/proc/self/environ", "/proc/1/cmdline"} <= read  # the program could look
    assert secret not in result.stdout and secret not in result.stderr


def test_server_files_are_out_of_sight(tmp_path: Path):
    data_dir = tmp_path / "data"  # like CAUSERIE_DATA_DIR: the SQLite store, the models
    data_dir.mkdir()
    database = data_dir / "causerie.db"
    database.write_text("secret rows")
    for path, mode in ((tmp_path, 0o755), (data_dir, 0o755), (database, 0o644)):
        os.chmod(path, mode)  # readable by anyone on the host: only the mount namespace hides it
    result = run(f"""
        import os
        for path in {[str(database), str(data_dir), str(Path.home()), os.getcwd()]!r}:
            print(path, os.path.exists(path))
        print(*os.listdir("/"))
    """)
    assert result.ok, result.stderr
    *seen, top = result.stdout.splitlines()
    assert [line.rsplit(" ", 1)[-1] for line in seen] == ["False"] * 4, result.stdout
    assert set(top.split()) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "proc", "sandbox", "sbin", "usr"}


def test_infinite_loop_is_stopped_by_the_cpu_limit():
    result = run("while True:\n    pass\n", Limits(wall_seconds=20, cpu_seconds=1))
    assert result.stopped == "cpu" and result.signal == "SIGXCPU"
    assert result.seconds < 10
    assert_host_unharmed()


def test_sleeping_program_is_killed_at_the_wall_clock_timeout():
    result = run("import time\ntime.sleep(60)\n", Limits(wall_seconds=1))
    assert result.stopped == "timeout" and result.exit_code is None
    assert 1 <= result.seconds < 5
    assert_host_unharmed()


def test_fork_bomb_is_contained():
    result = run(
        """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """,
        Limits(wall_seconds=2, cpu_seconds=2, processes=16),
    )
    assert result.stopped in ("timeout", "cpu", "processes")
    assert_host_unharmed()


def test_fork_bomb_that_gives_up_reports_the_process_limit():
    result = run("import os\nwhile True:\n    os.fork()\n", Limits(wall_seconds=5, processes=8))
    assert result.stopped == "processes", result.stderr
    assert "Resource temporarily unavailable" in result.stderr
    assert_host_unharmed()


def test_huge_allocation_hits_the_memory_limit():
    result = run("block = bytearray(4 * 1024 ** 3)\n", Limits(memory_mb=256))
    assert result.stopped == "memory" and result.exit_code == 1
    assert result.stderr.rstrip().endswith("MemoryError")
    assert_host_unharmed()


def test_network_is_unreachable_even_on_loopback():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        result = run(f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3)
                print("connected")
            except OSError as exc:
                print("refused", type(exc).__name__)
        """)
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing ever reached the host's listener
    assert result.ok and result.stdout.startswith("refused"), result.stdout + result.stderr


def test_writes_outside_the_folder_are_refused(tmp_path: Path):
    os.chmod(tmp_path, 0o777)  # even a world-writable host folder is out of reach
    targets = [
        str(tmp_path / "escaped"),
        "/tmp/causerie-escaped",
        "/etc/causerie-escaped",
        "/escaped",
        "/usr/causerie-escaped",
        "/dev/shm/escaped",
    ]
    result = run(f"""
        for path in {targets!r}:
            try:
                open(path, "w").write("x")
                print("WROTE", path)
            except OSError as exc:
                print("refused", path, exc.errno)
    """)
    assert result.ok, result.stderr
    assert "WROTE" not in result.stdout and result.stdout.count("refused") == len(targets)
    for target in targets:
        assert not Path(target).exists()


def test_file_size_limit():
    result = run("open('big', 'wb').write(b'x' * (8 << 20))\n", Limits(file_size_mb=1))
    assert result.stopped == "file_size"
    assert "File too large" in result.stderr


def test_output_flood_is_cut_and_stopped():
    result = run(
        "import sys\nwhile True:\n    sys.stdout.write('x' * 100_000)\n", Limits(output_bytes=2048, wall_seconds=10)
    )
    assert result.stopped == "output_limit" and result.truncated
    assert len(result.stdout) == 2048
    assert result.seconds < 5
    assert_host_unharmed()


def test_a_cancelled_run_leaves_nothing_running():
    async def cancel_midway() -> None:
        task = asyncio.create_task(Sandbox(Limits(wall_seconds=30)).run("import time\ntime.sleep(60)\n"))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    assert_host_unharmed()


def test_a_run_above_the_sandboxs_maximums_is_refused():
    with pytest.raises(InvalidRequest, match=r"limits.processes is 64, above this server's maximum of 16") as caught:
        asyncio.run(Sandbox(maximums=FAST).run("print('must not run')", limits=Limits(processes=64)))
    assert caught.value.param == "limits.processes"


def test_unknown_language_lists_the_known_ones():
    with pytest.raises(InvalidRequest, match="unknown language 'cobol'; available: python"):
        run("x", language="cobol")


def test_fails_closed_without_bubblewrap(monkeypatch):
    isolation_module.detect.cache_clear()
    real_which = isolation_module.shutil.which
    monkeypatch.setattr(isolation_module.shutil, "which", lambda name: None if name == "bwrap" else real_which(name))
    try:
        with pytest.raises(SandboxUnavailable, match="bubblewrap"):
            run("print('must not run')")
    finally:
        isolation_module.detect.cache_clear()
