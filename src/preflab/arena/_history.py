"""What each voter has already been shown, cached per worker and read incrementally.

Matchmaking avoids repeats, so every new battle needs the voter's history.  Reading and
decoding all of it on every page costs time linear in the number of battles the voter has
seen; instead each worker keeps, per recent voter, what the history implies (the pairs and
``(prompt, models)`` sets seen) and asks the database only for the voter's battles created
since the newest one it knows, minus a margin so that a battle committed late by another
worker is still picked up.  The newest battle comes back with its current status on every
read, which is what the vote page needs to show an open battle again on reload.

Trade-off: a battle another worker commits more than ``MARGIN`` seconds after its time stamp
(only possible for one voter's concurrent requests on a stalled server) is missed by this
worker's cache, so that voter could later be shown that pair again; repeats are avoided,
not forbidden, and nothing else depends on the cache (votes are checked in the database).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from preflab.arena._battles import Battle, _models

MARGIN = 2.0  # seconds: a battle may commit this long after its ``created`` stamp
Row = tuple[Any, ...]  # (id, prompt_id, models JSON, status, created)


@dataclass
class Seen:
    """The voter's history as matchmaking needs it (indices of one catalog version)."""

    version: str
    pairs: dict[tuple[int, int], int] = field(default_factory=dict)  # (i < j) -> battles
    exhausted: set[tuple[int, int]] = field(default_factory=set)  # every shared prompt seen
    sets: set[tuple[str, frozenset[int]]] = field(default_factory=set)
    recent: dict[str, float] = field(default_factory=dict)  # id -> created, within MARGIN
    newest: float = float("-inf")

    def add(self, b: Battle, index: dict[str, int], together: NDArray[np.int64]) -> None:
        ids = [index[x] for x in b.models if x in index]
        self.sets.add((b.prompt_id, frozenset(ids)))
        if len(ids) == 2:
            key = (min(ids), max(ids))
            n = self.pairs.get(key, 0) + 1
            self.pairs[key] = n
            if n >= together[key]:
                self.exhausted.add(key)

    def available(self, together: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Pairs the voter may still be shown: sharing more prompts than battles seen."""
        avail: NDArray[np.bool_] = together > 0
        for i, j in self.exhausted:
            avail[i, j] = avail[j, i] = False
        return avail


class VoterHistory:
    """An LRU of :class:`Seen` per voter, refreshed from ``read(voter, since)`` (rows)."""

    def __init__(self, read: Callable[[str, float], list[Row]], *,
                 max_voters: int = 20_000) -> None:
        self._read = read
        self._max = max_voters
        self._voters: OrderedDict[str, Seen] = OrderedDict()
        self._lock = threading.Lock()

    def refresh(self, voter: str, version: str, index: dict[str, int],
                together: NDArray[np.int64]) -> tuple[Seen, Battle | None]:
        """The voter's seen-state and newest battle, after reading what is new."""
        with self._lock:
            seen = self._voters.pop(voter, None)
        if seen is None or seen.version != version:
            seen = Seen(version)
        rows = self._read(voter, seen.newest - MARGIN)
        for r in rows:  # oldest first; only the few not seen before are decoded
            bid, created = str(r[0]), float(r[4])
            if bid not in seen.recent:
                seen.add(_battle(voter, r), index, together)
                seen.recent[bid] = created
            seen.newest = max(seen.newest, created)
        cutoff = seen.newest - MARGIN
        if len(seen.recent) > 8:
            seen.recent = {k: t for k, t in seen.recent.items() if t >= cutoff}
        newest = _battle(voter, max(rows, key=lambda r: float(r[4]))) if rows else None
        self._keep(voter, seen)
        return seen, newest

    def _keep(self, voter: str, seen: Seen) -> None:
        with self._lock:
            self._voters[voter] = seen
            while len(self._voters) > self._max:
                self._voters.popitem(last=False)


def _battle(voter: str, r: Row) -> Battle:
    return Battle(str(r[0]), voter, str(r[1]), _models(r[2]), str(r[3]), float(r[4]))
