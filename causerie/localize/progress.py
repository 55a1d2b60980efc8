"""How long-running steps report progress: a callable the CLI draws and the job runner records."""

from __future__ import annotations

from typing import Protocol


class ProgressSink(Protocol):
    def __call__(self, stage: str, completed: int, total: int, **metrics: float) -> None:
        """``stage`` ('corpus', 'train', 'evaluate'…) is at ``completed`` of ``total``; metrics such as loss."""
        ...


def no_progress(stage: str, completed: int, total: int, **metrics: float) -> None:
    """A sink that discards everything."""
