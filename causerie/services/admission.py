"""Admission control: a bounded wait queue per model, and the counts behind its gauges and ``/health``.

A generation is *waiting* from its admission until the engine gives it capacity (``on_started``, see
``engine.observer``), then *running* until it ends. At most ``max_queued`` generations of a model
wait at once; one more is refused with ``Overloaded`` (503 and ``Retry-After``), never piled up.
Services check when they prepare a request (``check``), before a stream's first byte, so a full
queue is a clean 503; ``admit`` enforces the bound again for requests that were prepared at once.
"""

from __future__ import annotations

import math
import threading
import time

from causerie.errors import Overloaded
from causerie.services.metrics import ModelMetrics

_LATENCY_WEIGHT = 0.2
"""Weight of the newest generation in the running mean of their durations (for ``Retry-After``)."""
_MAX_RETRY_AFTER = 60


class Admission:
    """One generation's passage: waiting, then running, then ended; the engine may start it from any thread."""

    def __init__(self, load: ModelLoad) -> None:
        self._load = load
        self.admitted = time.monotonic()
        self.started: float | None = None
        self.ended = False

    def on_started(self) -> None:
        self._load.started(self)


class ModelLoad:
    """What one model is doing in this process, and the gate in front of its wait queue."""

    def __init__(self, metrics: ModelMetrics, max_queued: int) -> None:
        self.metrics = metrics
        self.max_queued = max_queued
        self.waiting = 0
        self.running = 0
        self._mean_seconds = 1.0
        self._lock = threading.Lock()

    def check(self) -> None:
        """Refuse a new request while the wait queue is full."""
        with self._lock:
            self._refuse_if_full()

    def admit(self) -> Admission:
        """A new generation, waiting; ``Overloaded`` when the queue is full."""
        with self._lock:
            self._refuse_if_full()
            self.waiting += 1
            self.metrics.num_requests_waiting.inc()
        return Admission(self)

    def started(self, admission: Admission) -> None:
        with self._lock:
            if admission.started is not None or admission.ended:
                return
            admission.started = time.monotonic()
            self.waiting -= 1
            self.running += 1
            self.metrics.num_requests_waiting.dec()
            self.metrics.num_requests_running.inc()
        self.metrics.request_queue_time.observe(admission.started - admission.admitted)

    def ended(self, admission: Admission) -> float:
        """The generation is over (finished, failed or abandoned); returns seconds since its admission."""
        seconds = time.monotonic() - admission.admitted
        with self._lock:
            if admission.ended:
                return seconds
            admission.ended = True
            if admission.started is None:
                self.waiting -= 1
                self.metrics.num_requests_waiting.dec()
            else:
                self.running -= 1
                self.metrics.num_requests_running.dec()
                self._mean_seconds += _LATENCY_WEIGHT * (seconds - self._mean_seconds)
        return seconds

    def _refuse_if_full(self) -> None:
        if self.waiting < self.max_queued:
            return
        self.metrics.admission_rejections.inc()
        raise Overloaded(
            f"Model '{self.metrics.model_id}' has {self.waiting} requests waiting, as many as it queues. "
            "Please try again later.",
            retry_after=self._retry_after(),
        )

    def _retry_after(self) -> int:
        """Seconds until a place is likely free: the queue ahead, served ``running`` at a time."""
        estimate = self._mean_seconds * (self.waiting + 1) / max(self.running, 1)
        return max(1, min(_MAX_RETRY_AFTER, math.ceil(estimate)))
