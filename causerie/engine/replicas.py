"""Choosing the replica of a remote model that takes a request.

- A request with an affinity key (a conversation, a user) goes to the replica that weighted
  rendezvous hashing gives that key among the available ones, so a conversation's turns hit the same
  server's prefix cache; when that server goes out of service only its own keys move.
- Any other request goes to the replica with the fewest outstanding requests for its weight (ties:
  the one that served the fewest), so load spreads even when requests come one at a time.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from causerie.engine.upstream import Upstream


@dataclass(frozen=True)
class Replica:
    """One upstream serving the model under its own name there."""

    upstream: Upstream
    model: str
    context_length: int


def _rendezvous(key: str, replica: Replica) -> float:
    """Weighted rendezvous score (Schindelhauer and Schomaker): the largest wins."""
    digest = hashlib.sha256(f"{key}\0{replica.upstream.label}".encode()).digest()
    unit = (int.from_bytes(digest[:8], "big") + 1) / (2**64 + 2)  # in (0, 1)
    return -replica.upstream.weight / math.log(unit)


def choose(replicas: Sequence[Replica], affinity: str | None, exclude: Iterable[Upstream] = ()) -> Replica | None:
    """The replica for this request among the available ones not in ``exclude``; None when there is none."""
    skipped = set(map(id, exclude))
    candidates = [r for r in replicas if id(r.upstream) not in skipped and r.upstream.available()]
    if not candidates:
        return None
    if affinity is not None:
        return max(candidates, key=lambda r: _rendezvous(affinity, r))
    return min(candidates, key=lambda r: ((r.upstream.outstanding + 1) / r.upstream.weight, r.upstream.served))
