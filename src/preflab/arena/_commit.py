"""Group commit: many concurrent writes share one durable transaction (one fsync).

Requests hand a write function to :meth:`GroupCommit.submit` (a future: async endpoints
await it without a thread) or :meth:`GroupCommit.run` (blocks) and are answered only after
*their* transaction has committed.  One writer thread per process takes everything queued,
locks the rate-limit counters the writes will bump (sorted, so processes never wait on each
other in opposite orders on PostgreSQL), runs the write functions in order, applies the
pair-count increments of the whole batch in sorted key order (same reason), commits once,
and only then releases the waiting requests.  A vote is therefore acknowledged only after
the commit that contains it, exactly as with one transaction per vote, but a disk that can do
~100 fsyncs per second still acknowledges hundreds of votes per second.  This is the classic
group commit of database engines.

A write may be *refused* (a second vote on a battle, a full rate limit): it raises.  Refusals
are rare, so there are no per-write savepoints (two more statements, i.e. round trips on
PostgreSQL, per write); instead the whole transaction rolls back and the batch reruns without
the refused write, which gets its exception.  The outcome is the same as running the writes
one after another: a write refused because of an earlier one in the batch stays refused.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any

log = logging.getLogger(__name__)

Bumps = list[tuple[str, str, str]]
Raw = Any  # a DBAPI connection (sqlite3 or psycopg) inside an open write transaction
WriteFn = Callable[[Raw, Bumps], Any]
Item = tuple[WriteFn, "Future[Any]", tuple[str, ...]]

_RETRYABLE = ("deadlock detected", "could not serialize", "database is locked")


class GroupCommit:
    """Run write functions in shared transactions on a dedicated writer thread."""

    def __init__(self, begin: Callable[[], AbstractContextManager[Raw]],
                 apply_bumps: Callable[[Raw, Bumps], None], *,
                 db_errors: tuple[type[BaseException], ...],
                 prelock: Callable[[Raw, list[str]], None] | None = None,
                 max_batch: int = 256, retries: int = 5) -> None:
        self._begin = begin
        self._apply_bumps = apply_bumps
        self._db_errors = db_errors
        self._prelock = prelock
        self._max_batch = max_batch
        self._retries = retries
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: WriteFn, keys: tuple[str, ...] = ()) -> Future[Any]:
        """Queue ``fn(conn, bumps)``; the future resolves once its transaction committed.

        ``keys`` are the rate-limit counters ``fn`` will bump (locked up front, see
        ``prelock``).
        """
        fut: Future[Any] = Future()
        self._ensure_thread()
        self._queue.put((fn, fut, keys))
        return fut

    def run(self, fn: WriteFn, keys: tuple[str, ...] = ()) -> Any:
        """Run ``fn(conn, bumps)`` in a committed transaction; returns its result or raises."""
        return self.submit(fn, keys).result()

    def close(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self._queue.put(None)
                self._thread.join(timeout=30)
            self._thread = None

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="arena-group-commit",
                                                daemon=True)
                self._thread.start()

    def _drain(self, first: Item) -> Iterator[Item]:
        yield first
        for _ in range(self._max_batch - 1):
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is None:
                self._queue.put(None)  # stop after this batch
                return
            yield item

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            # a caller that gave up (a cancelled request) is dropped before its write runs;
            # the others can then no longer be cancelled, so their results always land
            batch = [item for item in self._drain(first)
                     if item[1].set_running_or_notify_cancel()]
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[Item]) -> None:
        pending = list(batch)
        attempt = 0
        while pending:
            results: list[Any] = []
            try:
                with self._begin() as conn:
                    keys = sorted({k for _, _, ks in pending for k in ks})
                    if keys and self._prelock is not None:
                        self._prelock(conn, keys)
                    bumps: Bumps = []
                    for i, (fn, _fut, _keys) in enumerate(pending):
                        mine: Bumps = []
                        try:
                            results.append(fn(conn, mine))
                        except self._db_errors:
                            raise  # the transaction itself is in trouble: retry below
                        except Exception as exc:  # noqa: BLE001 - handed to the caller
                            raise _Refused(i, exc) from exc
                        bumps += mine
                    if bumps:
                        self._apply_bumps(conn, bumps)
            except _Refused as refused:  # rolled back: drop the refused write, rerun the rest
                pending.pop(refused.index)[1].set_exception(refused.error)
                continue
            except self._db_errors as exc:
                if attempt < self._retries and any(s in str(exc) for s in _RETRYABLE):
                    attempt += 1
                    log.info("group commit retry %d after: %s", attempt, exc)
                    time.sleep(0.001 * attempt)
                    continue
                for _, fut, _ in pending:
                    fut.set_exception(exc)
                return
            except BaseException as exc:  # noqa: BLE001 - never leave a caller waiting
                for _, fut, _ in pending:
                    if not fut.done():
                        fut.set_exception(exc)
                return
            for (_, fut, _), result in zip(pending, results, strict=True):  # committed
                fut.set_result(result)
            return


class _Refused(Exception):
    """One write of the batch refused: roll the transaction back and rerun without it."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error
