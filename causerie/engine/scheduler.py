"""Fair, cancellable scheduling of generations onto a fixed set of slots.

One worker thread owns all slots (a slot is whatever holds one sequence's state: a llama.cpp
context, a fake). Admitted sequences advance one *step* at a time in round-robin, so every
active stream makes progress; when all slots are busy, requests wait in FIFO order. A consumer
that goes away (client disconnect, break, cancellation) marks its job cancelled and the worker
frees the slot before its next step.

The step contract is the seam for continuous batching: a future scheduler can advance all
active sequences in one batched forward pass without changing the layers above.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from causerie.engine.base import GenerationEvent, GenerationFinish
from causerie.engine.observer import UNOBSERVED, RequestObserver

log = logging.getLogger(__name__)

SlotT = TypeVar("SlotT")
PayloadT = TypeVar("PayloadT")


class Stepper(Protocol):
    def step(self) -> tuple[list[GenerationEvent], bool]:
        """Advance the sequence a little; return new events and whether it has finished."""
        ...


@dataclass(eq=False)
class _Job(Generic[PayloadT]):
    payload: PayloadT
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[GenerationEvent | BaseException]
    observer: RequestObserver = UNOBSERVED
    cancelled: threading.Event = field(default_factory=threading.Event)
    stepper: Stepper | None = None
    slot_index: int = -1

    def deliver(self, item: GenerationEvent | BaseException) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the consumer's event loop is gone
            self.cancelled.set()


class SlotScheduler(Generic[SlotT, PayloadT]):
    """Runs jobs on ``slots`` through ``start(slot, payload) -> Stepper``.

    ``affinity(slot, payload)`` scores how well a free slot suits a job (for example the length
    of the prompt prefix already in its KV cache); the best-scoring free slot is chosen.
    """

    def __init__(
        self,
        slots: Sequence[SlotT],
        start: Callable[[SlotT, PayloadT], Stepper],
        affinity: Callable[[SlotT, PayloadT], int] = lambda slot, payload: 0,
        *,
        name: str = "engine",
    ) -> None:
        if not slots:
            raise ValueError("a scheduler needs at least one slot")
        self._slots = list(slots)
        self._free = list(range(len(self._slots)))
        self._start = start
        self._affinity = affinity
        self._pending: deque[_Job[PayloadT]] = deque()
        self._active: list[_Job[PayloadT]] = []
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"causerie-{name}", daemon=True)
        self._thread.start()

    @property
    def capacity(self) -> int:
        return len(self._slots)

    def load(self) -> tuple[int, int]:
        """(active sequences, waiting requests)."""
        with self._cv:
            return len(self._active), len(self._pending)

    async def run(
        self, payload: PayloadT, observer: RequestObserver = UNOBSERVED
    ) -> AsyncGenerator[GenerationEvent, None]:
        """Queue ``payload`` and stream its events; leaving the iteration cancels the job.

        ``observer.on_started`` is called when the job gets a slot.
        """
        job: _Job[PayloadT] = _Job(payload, asyncio.get_running_loop(), asyncio.Queue(), observer)
        with self._cv:
            if self._closed:
                raise RuntimeError("the engine is closed")
            self._pending.append(job)
            self._cv.notify()
        try:
            while True:
                item = await job.queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item, GenerationFinish):
                    return
        finally:
            job.cancelled.set()
            with self._cv:
                self._cv.notify()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(timeout=30)

    # -- worker thread -------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cv:
                self._reap_cancelled()
                self._admit()
                while not self._active and not self._closed:
                    self._cv.wait()
                    self._reap_cancelled()
                    self._admit()
                if self._closed:
                    self._fail_all(RuntimeError("the engine was shut down"))
                    return
                active = list(self._active)
            for job in active:
                if job.cancelled.is_set():
                    continue
                self._advance(job)

    def _advance(self, job: _Job[PayloadT]) -> None:
        try:
            if job.stepper is None:
                job.stepper = self._start(self._slots[job.slot_index], job.payload)
            events, finished = job.stepper.step()
        except Exception as exc:  # delivered to the waiting request, which maps it
            log.debug("generation failed", exc_info=True)
            job.deliver(exc)
            finished, events = True, []
        for event in events:
            job.deliver(event)
        if finished:
            with self._cv:
                self._release(job)

    def _admit(self) -> None:
        while self._pending and self._free:
            job = self._pending.popleft()
            if job.cancelled.is_set():
                continue
            best = max(self._free, key=lambda i: self._affinity(self._slots[i], job.payload))
            self._free.remove(best)
            job.slot_index = best
            self._active.append(job)
            job.observer.on_started()

    def _reap_cancelled(self) -> None:
        for job in [j for j in self._active if j.cancelled.is_set()]:
            self._release(job)
        self._pending = deque(j for j in self._pending if not j.cancelled.is_set())

    def _release(self, job: _Job[PayloadT]) -> None:
        if job in self._active:
            self._active.remove(job)
            self._free.append(job.slot_index)

    def _fail_all(self, exc: BaseException) -> None:
        for job in [*self._active, *self._pending]:
            job.deliver(exc)
        self._active.clear()
        self._pending.clear()
