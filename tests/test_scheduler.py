"""SlotScheduler on its own: scripted steppers on plain slots, no model, no HTTP.

A job whose ``hold`` is set blocks its start until the test opens the gate, so the worker thread is
parked at a known point while the test queues the other jobs: what follows is deterministic.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import pytest

from causerie.engine.base import GenerationChunk, GenerationEvent, GenerationFinish
from causerie.engine.scheduler import SlotScheduler


@dataclass(frozen=True)
class Job:
    name: str
    steps: int = 3
    """Steps until it finishes; 0: it never does."""
    fail_at: int | None = None
    """The step that raises (0: starting it raises)."""
    prompt: str = ""
    hold: bool = False


@dataclass
class Slot:
    name: str
    history: str = ""


class Boom(Exception):
    pass


def shared_prefix(slot: Slot, job: Job) -> int:
    count = 0
    while count < min(len(slot.history), len(job.prompt)) and slot.history[count] == job.prompt[count]:
        count += 1
    return count


class Script:
    """Starts jobs on slots and logs every step ("A1", "B1", "A2"...)."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.starts: list[tuple[str, str]] = []
        """(job, slot) in the order the scheduler started them."""
        self.gate = threading.Event()

    def start(self, slot: Slot, job: Job) -> _Stepper:
        self.starts.append((job.name, slot.name))
        if job.hold:
            assert self.gate.wait(timeout=10), "the test never opened the gate"
        if job.fail_at == 0:
            raise Boom(f"{job.name} failed to start")
        return _Stepper(job, self.log)

    def steps_of(self, name: str) -> int:
        return sum(1 for entry in self.log if entry.rstrip("0123456789") == name)


class _Stepper:
    def __init__(self, job: Job, log: list[str]) -> None:
        self.job, self.log, self.done = job, log, 0

    def step(self) -> tuple[list[GenerationEvent], bool]:
        self.done += 1
        self.log.append(f"{self.job.name}{self.done}")
        if self.job.fail_at == self.done:
            raise Boom(f"{self.job.name} failed at step {self.done}")
        chunk = GenerationChunk(f"{self.job.name}{self.done}")
        if self.job.steps and self.done >= self.job.steps:
            return [chunk, GenerationFinish("stop", prompt_tokens=1, completion_tokens=self.done)], True
        if not self.job.steps:
            time.sleep(0.001)  # an endless job: do not spin the CPU
        return [chunk], False


async def collect(scheduler: SlotScheduler[Slot, Job], job: Job) -> list[str]:
    """The texts a job streamed, then ``"finish"``."""
    texts = []
    async for event in scheduler.run(job):
        texts.append(event.text if isinstance(event, GenerationChunk) else "finish")
    return texts


async def until(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the scheduler"
        await asyncio.sleep(0.001)


def scenario(
    slots: int | list[Slot],
    body: Callable[[SlotScheduler[Slot, Job], Script], Coroutine[Any, Any, None]],
    *,
    affinity: Callable[[Slot, Job], int] = lambda slot, job: 0,
) -> Script:
    """Run ``body`` on a fresh scheduler (closed afterwards); returns the script's record."""
    script = Script()
    slot_list = [Slot(f"s{i}") for i in range(slots)] if isinstance(slots, int) else slots

    async def main() -> None:
        scheduler = SlotScheduler(slot_list, script.start, affinity, name="test-scheduler")
        try:
            await asyncio.wait_for(body(scheduler, script), timeout=20)
        finally:
            script.gate.set()
            scheduler.close()

    asyncio.run(main())
    return script


def test_a_scheduler_needs_slots():
    with pytest.raises(ValueError, match="at least one slot"):
        SlotScheduler([], Script().start)


def test_active_jobs_take_turns_one_step_each_and_the_third_waits():
    results: dict[str, list[str]] = {}

    async def body(scheduler: SlotScheduler[Slot, Job], script: Script) -> None:
        assert scheduler.capacity == 2
        a = asyncio.create_task(collect(scheduler, Job("A", hold=True)))
        await until(lambda: len(script.starts) == 1)  # the worker is parked in A's start
        b = asyncio.create_task(collect(scheduler, Job("B")))
        c = asyncio.create_task(collect(scheduler, Job("C")))
        await until(lambda: scheduler.load() == (1, 2))
        script.gate.set()
        results.update(zip("ABC", await asyncio.gather(a, b, c), strict=True))
        assert scheduler.load() == (0, 0)

    script = scenario(2, body)
    assert script.log == ["A1", "A2", "B1", "A3", "B2", "B3", "C1", "C2", "C3"]  # round-robin; C gets A's slot
    assert script.starts == [("A", "s0"), ("B", "s1"), ("C", "s0")]
    assert results == {name: [f"{name}1", f"{name}2", f"{name}3", "finish"] for name in "ABC"}


def test_waiting_jobs_are_admitted_in_arrival_order():
    async def body(scheduler: SlotScheduler[Slot, Job], script: Script) -> None:
        first = asyncio.create_task(collect(scheduler, Job("A", steps=1, hold=True)))
        await until(lambda: len(script.starts) == 1)
        others = []
        for name in "BCDE":
            others.append(asyncio.create_task(collect(scheduler, Job(name, steps=1))))
            await until(lambda: scheduler.load()[1] == len(others))  # queued before the next one arrives
        script.gate.set()
        await asyncio.gather(first, *others)

    script = scenario(1, body)
    assert [name for name, _ in script.starts] == ["A", "B", "C", "D", "E"]
    assert script.log == ["A1", "B1", "C1", "D1", "E1"]


def test_a_job_goes_to_the_free_slot_that_holds_the_longest_prefix_of_its_prompt():
    slots = [Slot("s0", history="aaaa"), Slot("s1", history="bbbb"), Slot("s2", history="aab")]

    async def body(scheduler: SlotScheduler[Slot, Job], script: Script) -> None:
        x = asyncio.create_task(collect(scheduler, Job("X", prompt="aabx", hold=True)))
        await until(lambda: len(script.starts) == 1)
        y = asyncio.create_task(collect(scheduler, Job("Y", prompt="aaax")))  # s0 (3) beats s2 (3, busy) and s1
        z = asyncio.create_task(collect(scheduler, Job("Z", prompt="bbx")))  # s1 is the only good one left
        await until(lambda: scheduler.load() == (1, 2))
        script.gate.set()
        await asyncio.gather(x, y, z)

    script = scenario(slots, body, affinity=shared_prefix)
    assert script.starts == [("X", "s2"), ("Y", "s0"), ("Z", "s1")]


def test_a_slot_that_suits_no_one_is_still_used():
    slots = [Slot("s0", history="aaaa"), Slot("s1", history="zzzz")]

    async def body(scheduler: SlotScheduler[Slot, Job], script: Script) -> None:
        a = asyncio.create_task(collect(scheduler, Job("A", prompt="aa", hold=True)))
        await until(lambda: len(script.starts) == 1)
        b = asyncio.create_task(collect(scheduler, Job("B", prompt="ab")))  # its best slot (s0) is busy
        await until(lambda: scheduler.load() == (1, 1))
        script.gate.set()
        await asyncio.gather(a, b)

    script = scenario(slots, body, affinity=shared_prefix)
    assert script.starts == [("A", "s0"), ("B", "s1")]
    assert script.log[:3] == ["A1", "A2", "B1"]  # B ran beside A instead of waiting for s0


@pytest.mark.parametrize("fail_at", [0, 2], ids=["in-start", "in-step"])
def test_a_failing_job_raises_to_its_consumer_only_and_frees_its_slot(fail_at):
    async def body(scheduler: SlotScheduler[Slot, Job], script: Script) -> None:
        a = asyncio.create_task(collect(scheduler, Job("A", hold=True)))
        await until(lambda: len(script.starts) == 1)
        b = asyncio.create_task(collect(scheduler, Job("B", fail_at=fail_at)))
        c = asyncio.create_task(collect(scheduler, Job("C")))
        await until(lambda: scheduler.load() == (1, 2))
        script.gate.set()
        a_texts, b_error, c_texts = await asyncio.gather(a, b, c, return_exceptions=True)
        assert isinstance(b_error, Boom) and str(b_error).startswith("B failed")
        assert a_texts == ["A1", "A2", "A3", "finish"] and c_texts == ["C1", "C2", "C3", "finish"]
        assert scheduler.load() == (0, 0)
        assert await collect(scheduler, Job("D", steps=1)) == ["D1", "finish"]  # the worker lives on

    script = scenario(2, body)
    assert script.steps_of("B") == fail_at


def test_a_request_cancelled_while_waiting_never_starts():
    async def body(scheduler: SlotScheduler[Slot, Job], script: Script) -> None:
        a = asyncio.create_task(collect(scheduler, Job("A", hold=True)))
        await until(lambda: len(script.starts) == 1)
        b = asyncio.create_task(collect(scheduler, Job("B")))
        await until(lambda: scheduler.load() == (1, 1))
        b.cancel()
        with pytest.raises(asyncio.CancelledError):
            await b
        script.gate.set()
        await a
        await until(lambda: scheduler.load() == (0, 0))
        assert await collect(scheduler, Job("C", steps=1)) == ["C1", "finish"]

    script = scenario(1, body)
    assert [name for name, _ in script.starts] == ["A", "C"]


@pytest.mark.parametrize("how", ["break", "cancel"])
def test_a_request_abandoned_while_running_frees_its_slot_at_once(how):
    async def body(scheduler: SlotScheduler[Slot, Job], script: Script) -> None:
        endless = Job("A", steps=0)
        if how == "break":
            async with aclosing(scheduler.run(endless)) as events:
                async for event in events:
                    assert isinstance(event, GenerationChunk)
                    if event.text == "A2":
                        break
        else:
            started = asyncio.Event()

            async def consume() -> None:
                async for event in scheduler.run(endless):
                    if isinstance(event, GenerationChunk) and event.text == "A2":
                        started.set()

            task = asyncio.create_task(consume())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        # the only slot serves the next request: the endless job was released
        assert await collect(scheduler, Job("B", steps=2)) == ["B1", "B2", "finish"]
        steps = script.steps_of("A")
        await asyncio.sleep(0.05)
        assert script.steps_of("A") == steps  # and is never stepped again
        assert scheduler.load() == (0, 0)

    scenario(1, body)


def test_close_fails_every_request_and_stops_the_worker():
    async def body(scheduler: SlotScheduler[Slot, Job], script: Script) -> None:
        running = [asyncio.create_task(collect(scheduler, Job(name, steps=0))) for name in "AB"]
        waiting = asyncio.create_task(collect(scheduler, Job("C")))
        await until(lambda: scheduler.load() == (2, 1) and script.steps_of("A") > 0 and script.steps_of("B") > 0)
        await asyncio.to_thread(scheduler.close)
        for outcome in await asyncio.gather(*running, waiting, return_exceptions=True):
            assert isinstance(outcome, RuntimeError) and "shut down" in str(outcome)
        assert "causerie-test-scheduler" not in [thread.name for thread in threading.enumerate()]
        with pytest.raises(RuntimeError, match="closed"):
            await collect(scheduler, Job("D"))

    script = scenario(2, body)
    assert script.steps_of("C") == 0
