"""Languages the sandbox can run: how to check a source file, name it, and run it.

Only Python is registered today; another language is one more ``Language`` in ``LANGUAGES``
(e.g. ``node main.js`` or ``bash main.sh``) plus its interpreter in the sandbox's read-only view.
"""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from causerie.errors import InvalidRequest
from causerie.runs import StopReason

# CPython turns a refused allocation, fork or oversized write into an exception whose last line says so.
_PYTHON_DIAGNOSES: tuple[tuple[re.Pattern[str], StopReason], ...] = (
    (re.compile(r"^MemoryError\b", re.M), "memory"),
    (re.compile(r"\[Errno 27\] File too large", re.M), "file_size"),
    (re.compile(r"^BlockingIOError: \[Errno 11\] Resource temporarily unavailable", re.M), "processes"),
)


def _python_syntax_error(code: str) -> str | None:
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # e.g. source with NUL bytes
        return str(exc)
    return None


def _system_python() -> Path | None:
    """An interpreter every user can read (not a virtualenv's or one under /root)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if Path(candidate).exists():
            return Path(candidate)
    found = shutil.which("python3")
    return Path(found) if found else None


def _python_with_tests(code: str, tests: str) -> str:
    return f"{code.rstrip()}\n\n\n# ---- tests ----\n{tests.rstrip()}\n"


_PYTHON_MEASURE = """

def _causerie_measure():
    import json, sys, time
    namespace = globals()
    inputs, tests_source = {inputs!r}, {tests!r}
    outputs, seconds = [], 0.0
    for source in inputs:
        best = None
        for _ in range({repeat}):
            start = time.perf_counter()
            value = eval(source, namespace)
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        outputs.append(repr(value))
        seconds += best
    tests_passed = None
    if tests_source is not None:
        tests = compile(tests_source, "<tests>", "exec")
        best = None
        for _ in range({repeat}):
            start = time.perf_counter()
            exec(tests, namespace)
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        tests_passed = True
        if not inputs:
            seconds = best
    sys.stdout.write("\\n" + {marker!r} + json.dumps({{"outputs": outputs, "seconds": seconds, "tests_passed": tests_passed}}) + "\\n")


_causerie_measure()
"""


def _python_measure(code: str, inputs: list[str], tests: str | None, repeat: int, marker: str) -> str:
    return code.rstrip() + "\n" + _PYTHON_MEASURE.format(inputs=inputs, tests=tests, repeat=repeat, marker=marker)


@dataclass(frozen=True)
class Language:
    name: str
    filename: str
    """What the source file is called inside the sandbox's folder."""
    interpreter: Callable[[], Path | None]
    """Where the interpreter is on the host (its folder is mounted read-only); None: not installed."""
    arguments: tuple[str, ...]
    """Arguments after the interpreter; ``{file}`` stands for the source file."""
    syntax_error: Callable[[str], str | None]
    """A one-line description of why the source does not parse, or None when it does."""
    with_tests: Callable[[str, str], str]
    """One program: the code, then the tests that check it."""
    measure: Callable[[str, list[str], str | None, int, str], str]
    """(code, input expressions, tests, repeat, marker) -> a program that prints, after ``marker``, a JSON
    line with each input's result (``outputs``), the best-of-``repeat`` time (``seconds``) and whether the
    tests passed (``tests_passed``)."""
    diagnoses: tuple[tuple[re.Pattern[str], StopReason], ...] = ()
    """Patterns on stderr that reveal which resource limit stopped a program."""

    def argv(self, interpreter: Path) -> list[str]:
        return [str(interpreter), *(arg.replace("{file}", self.filename) for arg in self.arguments)]

    def diagnose(self, stderr: str) -> StopReason | None:
        return next((reason for pattern, reason in self.diagnoses if pattern.search(stderr)), None)


PYTHON = Language(
    name="python",
    filename="main.py",
    interpreter=_system_python,
    arguments=("-I", "-B", "{file}"),  # isolated: no user site, no PYTHON* variables, no cwd on sys.path
    syntax_error=_python_syntax_error,
    with_tests=_python_with_tests,
    measure=_python_measure,
    diagnoses=_PYTHON_DIAGNOSES,
)

LANGUAGES: dict[str, Language] = {PYTHON.name: PYTHON}


def get_language(name: str) -> Language:
    """The language called ``name``; a miss lists the valid names."""
    try:
        return LANGUAGES[name]
    except KeyError:
        valid = ", ".join(sorted(LANGUAGES))
        raise InvalidRequest(f"unknown language '{name}'; available: {valid}", param="language") from None
