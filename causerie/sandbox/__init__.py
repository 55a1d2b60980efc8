"""Running untrusted code: a separate process in namespaces, with rlimits, no network, a temporary folder."""

from causerie.sandbox.isolation import SandboxUnavailable
from causerie.sandbox.languages import LANGUAGES, PYTHON, Language, StopReason, get_language
from causerie.sandbox.runner import DEFAULT_MAXIMUMS, Limits, RunResult, Sandbox

__all__ = [
    "DEFAULT_MAXIMUMS",
    "LANGUAGES",
    "PYTHON",
    "Language",
    "Limits",
    "RunResult",
    "Sandbox",
    "SandboxUnavailable",
    "StopReason",
    "get_language",
]
