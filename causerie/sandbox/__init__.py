"""Running untrusted code: a separate process in namespaces, with rlimits, no network, a temporary folder."""

from causerie.runs import DEFAULT_MAXIMUMS, Limits, RunResult, StopReason
from causerie.sandbox.isolation import SandboxUnavailable
from causerie.sandbox.languages import LANGUAGES, PYTHON, Language, get_language
from causerie.sandbox.runner import Sandbox

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
