"""Requests and responses of the code endpoints (``/v1/code/generate|fix|optimize``).

Requests validate their shape before any model runs: descriptions and code are not blank, optimize
has something to compare behaviour on, its inputs are expressions. That the language is one the
sandbox runs and that given code and tests parse is checked by the code service, which holds the
sandbox (a 400 naming ``language``, ``code`` or ``tests``), also before any model runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from causerie.protocol.base import RequestModel
from causerie.runs import Limits, RunResult


class _CodeRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="Model id; default: the server's default model.")
    language: str = Field(
        "python", description="Programming language the sandbox runs, e.g. python (another gets a 400 listing them)."
    )
    temperature: float = Field(0.2, ge=0, le=2)
    max_tokens: int = Field(1024, ge=16, le=8192, description="Longest model reply per attempt, in tokens.")
    limits: Limits = Field(default_factory=Limits, description="Sandbox limits for each run.")


def _not_blank(value: str, field: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "{field} must not be empty", {"field": field})
    return value


class CodeGenerateRequest(_CodeRequest):
    description: str = Field(description="What the code must do.")
    tests: str | None = Field(None, description="Code that checks the result (e.g. asserts); run after the code.")
    max_attempts: int = Field(3, ge=1, le=10, description="Model attempts, each fed the previous run's failure.")

    _description = field_validator("description")(lambda value: _not_blank(value, "description"))


class CodeFixRequest(_CodeRequest):
    code: str = Field(description="The code to fix (it may even fail to parse: that is then the error).")
    tests: str | None = Field(None, description="A test the fixed code must pass (e.g. asserts).")
    error: str | None = Field(None, description="The error message seen, when there is no test.")
    max_attempts: int = Field(3, ge=1, le=10)

    _code = field_validator("code")(lambda value: _not_blank(value, "code"))


class CodeOptimizeRequest(_CodeRequest):
    code: str = Field(description="The code to make faster without changing what it does.")
    tests: str | None = Field(None, description="Tests both versions must pass (e.g. asserts).")
    inputs: list[str] = Field(
        default_factory=list,
        max_length=50,
        validate_default=True,
        description="Expressions evaluated with each version (e.g. 'fib(25)'); their results must be equal, and they are timed.",
    )
    repeat: int = Field(3, ge=1, le=50, description="Timing runs per input; the best one counts.")
    max_attempts: int = Field(2, ge=1, le=10)

    @field_validator("inputs")
    @classmethod
    def _expressions(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if not value and not info.data.get("tests"):
            raise PydanticCustomError("missing", "give tests or inputs, so that both versions can be compared")
        if info.data.get("language") == "python":
            for index, source in enumerate(value):
                try:
                    compile(source, f"<inputs[{index}]>", "eval")
                except SyntaxError as exc:
                    raise PydanticCustomError(
                        "syntax_error",
                        "inputs[{index}] is not a Python expression: {problem}",
                        {"index": index, "problem": exc.msg},
                    ) from None
        return value


class CodeAttempt(BaseModel):
    """One candidate and what running it showed."""

    attempt: int = Field(description="0: the code as given; 1..N: the model's attempts.")
    code: str
    syntax_error: str | None = Field(None, description="Why the code did not parse (it was then not run).")
    run: RunResult | None = Field(None, description="The sandboxed run of the code with its tests.")
    passed: bool


class CodeResult(BaseModel):
    """What generate and fix return: the final code and every attempt that led to it."""

    object: Literal["code.generate", "code.fix"]
    model: str
    language: str
    code: str = Field(description="The passing code, else the last attempt.")
    passed: bool
    checked_by: Literal["tests", "run"] = Field(
        description="tests: the code passed the given tests; run: no tests, it ran without error."
    )
    original: CodeAttempt | None = Field(None, description="fix: the code as given, run first.")
    attempts: list[CodeAttempt]


class Measurement(BaseModel):
    """One version's behaviour and timing, measured in the sandbox."""

    code: str
    outputs: list[str] = Field(description="repr() of each input's result, in order.")
    tests_passed: bool | None = Field(None, description="None when no tests were given.")
    seconds: float | None = Field(None, description="Best-of-repeat time of the inputs (or the tests), summed.")
    run: RunResult
    error: str | None = None


class OptimizeAttempt(BaseModel):
    attempt: int
    measurement: Measurement | None = None
    syntax_error: str | None = None
    accepted: bool
    reason: str | None = Field(None, description="Why the attempt was rejected.")


class CodeOptimizeResult(BaseModel):
    object: Literal["code.optimize"] = "code.optimize"
    model: str
    language: str
    accepted: bool = Field(description="An attempt kept behaviour (equal outputs, tests pass).")
    code: str = Field(description="The accepted code, else the original.")
    original: Measurement
    optimized: Measurement | None = None
    speedup: float | None = Field(None, description="Original time / optimized time (>1: faster).")
    attempts: list[OptimizeAttempt]
