"""Turning a stream of token bytes into text: UTF-8 reassembly and stop sequences."""

from __future__ import annotations

import codecs
from collections.abc import Sequence


class StopMatcher:
    """Feeds text through and cuts it at the first stop sequence.

    Text that could be the beginning of a stop sequence is held back until it is clear
    that it is not, so a stop sequence never leaks to the client, even across chunks.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Return the text that is safe to emit now."""
        if self.stopped:
            return ""
        buffer = self._held + text
        cut = min((i for i in (buffer.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._held = ""
            return buffer[:cut]
        keep = max((self._partial_suffix(buffer, s) for s in self._stops), default=0)
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        """Release held-back text when generation ends without a stop."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    @staticmethod
    def _partial_suffix(text: str, stop: str) -> int:
        """Length of the longest suffix of ``text`` that is a proper prefix of ``stop``."""
        for size in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:size]):
                return size
        return 0


class Utf8Assembler:
    """Accumulates token bytes and releases only complete UTF-8 characters."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> str:
        return self._decoder.decode(data)

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)
