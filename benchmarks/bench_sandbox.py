#!/usr/bin/env python
"""What the sandbox costs: a trivial Python program run bare vs. through ``causerie.sandbox``.

Both run ``python3 -I -B`` on the same file, one after the other, ``--runs`` times; prints the
median and p90 wall time of each and the ratio (sandbox / bare). The difference is the price of
bubblewrap's namespaces, the mounts, setpriv and prlimit on every run.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_sandbox.py [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from causerie.sandbox import PYTHON, Sandbox

PROGRAM = "print(sum(range(1000)))\n"


async def measure(interpreter: Path, runs: int) -> tuple[list[float], list[float]]:
    """Alternate bare and sandboxed runs, so that load on the machine hits both alike."""
    sandbox = Sandbox()
    await sandbox.run("pass")  # detection and probe happen once, outside the measurement
    bare, boxed = [], []
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "main.py"
        source.write_text(PROGRAM)
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([str(interpreter), "-I", "-B", str(source)], check=True, capture_output=True)  # noqa: ASYNC221 (the bare baseline)
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            result = await sandbox.run(PROGRAM)
            boxed.append(time.perf_counter() - start)
            assert result.ok and result.stdout == "499500\n", result
    return bare, boxed


def summary(name: str, times: list[float]) -> float:
    median = statistics.median(times)
    p90 = statistics.quantiles(times, n=10)[-1]
    print(f"{name:<10} median {median * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms   ({len(times)} runs)")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    interpreter = PYTHON.interpreter()
    assert interpreter is not None, "no python3 interpreter found"
    bare, boxed = asyncio.run(measure(interpreter, args.runs))
    base, boxed_median = summary("bare", bare), summary("sandbox", boxed)
    print(f"ratio      sandbox / bare = {boxed_median / base:.2f}x  (+{(boxed_median - base) * 1000:.1f} ms per run)")


if __name__ == "__main__":
    main()
