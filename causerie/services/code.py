"""Code work: generate, fix and optimize, every claim checked by running the code in the sandbox.

The model writes; the sandbox judges. ``generate`` and ``fix`` loop up to ``max_attempts``
times, feeding the model what the last run printed. ``optimize`` accepts a rewrite only when
it gives the same results on every input and passes the tests, and reports the timing ratio
measured in the sandbox.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Literal

from causerie.errors import InvalidRequest
from causerie.principal import Principal
from causerie.protocol.code import (
    CodeAttempt,
    CodeFixRequest,
    CodeGenerateRequest,
    CodeOptimizeRequest,
    CodeOptimizeResult,
    CodeResult,
    Measurement,
    OptimizeAttempt,
)
from causerie.protocol.openai import ChatCompletionRequest, ChatMessage
from causerie.sandbox import Language, Limits, Sandbox, get_language
from causerie.services.chat import ChatService
from causerie.services.code_text import extract_code

_FEEDBACK_CHARS = 2000


def _system(language: Language) -> str:
    return (
        f"You are an expert {language.name} programmer. Answer with the complete {language.name} code "
        "in a single fenced code block, then nothing else."
    )


def _fenced(language: Language, code: str) -> str:
    return f"```{language.name}\n{code.rstrip()}\n```"


def _tail(text: str) -> str:
    return text if len(text) <= _FEEDBACK_CHARS else "…" + text[-_FEEDBACK_CHARS:]


def describe_failure(attempt: CodeAttempt) -> str:
    """What went wrong with an attempt, in words a model (or a person) can act on."""
    if attempt.syntax_error:
        return f"The code does not parse: {attempt.syntax_error}"
    run = attempt.run
    assert run is not None
    if run.stopped:
        why = f"it was stopped by the sandbox ({run.stopped})"
    elif run.signal:
        why = f"it was killed by {run.signal}"
    else:
        why = f"it exited with status {run.exit_code}"
    output = _tail((run.stderr or run.stdout).strip()) or "(no output)"
    return f"Running it failed: {why}. Output:\n```\n{output}\n```"


@dataclass
class Reply:
    model: str
    text: str


class CodeService:
    def __init__(self, chat: ChatService, sandbox: Sandbox) -> None:
        self.chat = chat
        self.sandbox = sandbox

    async def ask(
        self,
        messages: list[dict[str, str]],
        principal: Principal,
        *,
        model: str | None,
        temperature: float,
        max_tokens: int,
    ) -> Reply:
        """One model reply (through the chat service: same templates, context checks and errors).

        The reply's language is not checked: it is code, which the sandbox judges (see ``consistency``).
        """
        request = ChatCompletionRequest(
            model=model,
            messages=[ChatMessage.model_validate(message) for message in messages],
            temperature=temperature,
            max_tokens=max_tokens,
        )
        completion = await self.chat.complete(await self.chat.prepare(request, principal, check_language=False))
        return Reply(completion.model, completion.choices[0].message.content or "")

    async def check(self, index: int, code: str, language: Language, tests: str | None, limits: Limits) -> CodeAttempt:
        """Parse, then run the code (with its tests) in the sandbox."""
        problem = language.syntax_error(code)
        if problem:
            return CodeAttempt(attempt=index, code=code, syntax_error=problem, passed=False)
        program = language.with_tests(code, tests) if tests else code
        run = await self.sandbox.run(program, language, limits=limits)
        return CodeAttempt(attempt=index, code=code, run=run, passed=run.ok)

    async def _iterate(
        self,
        request: CodeGenerateRequest | CodeFixRequest,
        messages: list[dict[str, str]],
        language: Language,
        principal: Principal,
    ) -> tuple[str, list[CodeAttempt]]:
        """Ask, extract, check; on failure tell the model what happened and ask again."""
        attempts: list[CodeAttempt] = []
        model = request.model
        for index in range(1, request.max_attempts + 1):
            reply = await self.ask(
                messages, principal, model=request.model, temperature=request.temperature, max_tokens=request.max_tokens
            )
            model = reply.model
            code = extract_code(reply.text, language.name)
            attempt = await self.check(index, code, language, request.tests, request.limits)
            attempts.append(attempt)
            if attempt.passed:
                break
            messages = [
                *messages,
                {"role": "assistant", "content": reply.text},
                {
                    "role": "user",
                    "content": describe_failure(attempt)
                    + "\nFix it and answer with the complete corrected code in one fenced code block.",
                },
            ]
        return model or "", attempts

    def _checked(
        self, request: CodeGenerateRequest | CodeFixRequest | CodeOptimizeRequest, **sources: str | None
    ) -> Language:
        """The request's language, once it is one the sandbox runs, the limits are within the sandbox's
        maximums (each run applies them too) and ``sources`` (code or tests given as input) parse: each is
        refused with a 400 naming its parameter before any model runs."""
        language = get_language(request.language)
        request.limits.within(self.sandbox.maximums)
        for param, source in sources.items():
            problem = language.syntax_error(source) if source is not None else None
            if problem:
                raise InvalidRequest(
                    f"{param} does not parse as {language.name}: {problem}", param=param, code="syntax_error"
                )
        return language

    async def generate(self, request: CodeGenerateRequest, principal: Principal) -> CodeResult:
        language = self._checked(request, tests=request.tests)
        prompt = request.description.strip()
        if request.tests:
            prompt += "\n\nThe code must pass these tests, which are run after it:\n" + _fenced(language, request.tests)
        messages = [{"role": "system", "content": _system(language)}, {"role": "user", "content": prompt}]
        model, attempts = await self._iterate(request, messages, language, principal)
        return _result("code.generate", model, language, request.tests, attempts)

    async def fix(self, request: CodeFixRequest, principal: Principal) -> CodeResult:
        language = self._checked(request, tests=request.tests)
        original = await self.check(0, request.code, language, request.tests, request.limits)
        failure_seen = not original.passed or (request.error is not None and not request.tests)
        if not failure_seen:
            model = self.chat.pool.resolve(request.model, principal).id
            return _result("code.fix", model, language, request.tests, [], original)
        prompt = f"This {language.name} code is broken:\n{_fenced(language, request.code)}\n"
        if request.tests:
            prompt += f"\nIt must pass these tests:\n{_fenced(language, request.tests)}\n"
        if request.error:
            prompt += f"\nThe reported error:\n```\n{_tail(request.error.strip())}\n```\n"
        if not original.passed:
            prompt += "\n" + describe_failure(original) + "\n"
        prompt += "\nFix the code. Keep its names and behaviour otherwise."
        messages = [{"role": "system", "content": _system(language)}, {"role": "user", "content": prompt}]
        model, attempts = await self._iterate(request, messages, language, principal)
        return _result("code.fix", model, language, request.tests, attempts, original)

    async def measure(self, code: str, language: Language, request: CodeOptimizeRequest) -> Measurement:
        """Run ``code`` on the inputs and tests, timed inside the sandbox."""
        marker = f"@@causerie-{secrets.token_hex(8)}@@"
        program = language.measure(code, request.inputs, request.tests, request.repeat, marker)
        run = await self.sandbox.run(program, language, limits=request.limits)
        _, found, tail = run.stdout.rpartition(marker)
        if not run.ok or not found:
            error = describe_failure(CodeAttempt(attempt=0, code=code, run=run, passed=False))
            return Measurement(
                code=code, outputs=[], tests_passed=False if request.tests else None, run=run, error=error
            )
        data = json.loads(tail.strip())
        return Measurement(
            code=code, outputs=data["outputs"], tests_passed=data["tests_passed"], seconds=data["seconds"], run=run
        )

    async def optimize(self, request: CodeOptimizeRequest, principal: Principal) -> CodeOptimizeResult:
        language = self._checked(request, code=request.code, tests=request.tests)
        original = await self.measure(request.code, language, request)
        model = self.chat.pool.resolve(request.model, principal).id
        if original.error:
            return CodeOptimizeResult(
                model=model, language=language.name, accepted=False, code=request.code, original=original, attempts=[]
            )
        prompt = (
            f"Make this {language.name} code faster. Keep every function's name, signature and results exactly "
            f"the same.\n{_fenced(language, request.code)}"
        )
        messages = [{"role": "system", "content": _system(language)}, {"role": "user", "content": prompt}]
        attempts: list[OptimizeAttempt] = []
        for index in range(1, request.max_attempts + 1):
            reply = await self.ask(
                messages, principal, model=request.model, temperature=request.temperature, max_tokens=request.max_tokens
            )
            model = reply.model
            code = extract_code(reply.text, language.name)
            attempt = await self._judge(index, code, language, request, original)
            attempts.append(attempt)
            if attempt.accepted:
                optimized = attempt.measurement
                assert optimized is not None and optimized.seconds is not None and original.seconds is not None
                speedup = original.seconds / optimized.seconds if optimized.seconds > 0 else None
                return CodeOptimizeResult(
                    model=model,
                    language=language.name,
                    accepted=True,
                    code=code,
                    original=original,
                    optimized=optimized,
                    speedup=round(speedup, 3) if speedup else None,
                    attempts=attempts,
                )
            messages = [
                *messages,
                {"role": "assistant", "content": reply.text},
                {"role": "user", "content": f"Rejected: {attempt.reason}\nTry again; answer with the complete code."},
            ]
        return CodeOptimizeResult(
            model=model, language=language.name, accepted=False, code=request.code, original=original, attempts=attempts
        )

    async def _judge(
        self, index: int, code: str, language: Language, request: CodeOptimizeRequest, original: Measurement
    ) -> OptimizeAttempt:
        problem = language.syntax_error(code)
        if problem:
            return OptimizeAttempt(
                attempt=index, syntax_error=problem, accepted=False, reason=f"the code does not parse: {problem}"
            )
        measured = await self.measure(code, language, request)
        if measured.error:
            reason = measured.error
        elif measured.outputs != original.outputs:
            changed = [
                f"{source} -> {new} (was {old})"
                for source, old, new in zip(request.inputs, original.outputs, measured.outputs, strict=False)
                if old != new
            ]
            reason = "behaviour changed: " + "; ".join(changed)
        else:
            reason = None
        return OptimizeAttempt(attempt=index, measurement=measured, accepted=reason is None, reason=reason)


def _result(
    kind: Literal["code.generate", "code.fix"],
    model: str,
    language: Language,
    tests: str | None,
    attempts: list[CodeAttempt],
    original: CodeAttempt | None = None,
) -> CodeResult:
    passing = next((attempt for attempt in attempts if attempt.passed), None)
    final = passing or (attempts[-1] if attempts else original)
    assert final is not None
    return CodeResult(
        object=kind,
        model=model,
        language=language.name,
        code=final.code,
        passed=final.passed,
        checked_by="tests" if tests else "run",
        original=original,
        attempts=attempts,
    )
