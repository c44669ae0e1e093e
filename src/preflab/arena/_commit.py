"""Group commit: many concurrent writes share one durable transaction (one fsync).

Requests hand a write function to :meth:`GroupCommit.submit` (a future: async endpoints
await it without a thread) or :meth:`GroupCommit.run` (blocks) and are answered only after
*their* transaction has committed.  One writer thread per process takes everything queued, runs each
function inside its own SAVEPOINT (so one refused vote does not undo the others), applies the
pair-count increments of the whole batch in sorted key order (no lock-order deadlocks between
processes on PostgreSQL; rate-limit counters the writes will bump are locked first, also in
sorted order), commits once, and only then releases the waiting requests.  A vote
is therefore acknowledged only after the commit that contains it, exactly as with one
transaction per vote, but a disk that can do ~100 fsyncs per second still acknowledges
hundreds of votes per second.  This is the classic group commit of database engines.
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
            batch = list(self._drain(first))
            self._commit(batch)

    def _commit(self, batch: list[Item]) -> None:
        keys = sorted({k for _, _, ks in batch for k in ks})
        for attempt in range(self._retries + 1):
            outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
            try:
                with self._begin() as conn:
                    if keys and self._prelock is not None:
                        self._prelock(conn, keys)
                    if len(batch) == 1:
                        outcomes.append(self._run_alone(conn, *batch[0]))
                    else:
                        self._run_batch(conn, batch, outcomes)
            except _Refused:
                pass  # the only write was refused: its transaction rolled back
            except self._db_errors as exc:
                if attempt < self._retries and any(s in str(exc) for s in _RETRYABLE):
                    log.info("group commit retry %d after: %s", attempt + 1, exc)
                    time.sleep(0.001 * (attempt + 1))
                    continue
                for _, fut, _ in batch:
                    fut.set_exception(exc)
                return
            except BaseException as exc:  # noqa: BLE001 - never leave a caller waiting
                for _, fut, _ in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                return
            for fut, result, error in outcomes:  # committed (or rolled back): release callers
                if error is not None:
                    fut.set_exception(error)
                else:
                    fut.set_result(result)
            return

    def _run_alone(self, conn: Raw, fn: WriteFn, fut: Future[Any],
                   _keys: tuple[str, ...]) -> tuple[Future[Any], Any, BaseException | None]:
        """One write, no savepoint: a refusal rolls the whole transaction back."""
        bumps: Bumps = []
        try:
            result = fn(conn, bumps)
        except self._db_errors:
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            fut.set_exception(exc)
            raise _Refused from exc
        if bumps:
            self._apply_bumps(conn, bumps)
        return fut, result, None

    def _run_batch(self, conn: Raw, batch: list[Item],
                   outcomes: list[tuple[Future[Any], Any, BaseException | None]]) -> None:
        """Several writes, each in a SAVEPOINT so a refused one leaves the others intact."""
        bumps: Bumps = []
        for fn, fut, _keys in batch:
            mine: Bumps = []
            conn.execute("SAVEPOINT arena_write")
            try:
                result = fn(conn, mine)
            except self._db_errors:
                raise  # the transaction itself is in trouble: retry the batch
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                conn.execute("ROLLBACK TO SAVEPOINT arena_write")
                conn.execute("RELEASE SAVEPOINT arena_write")
                outcomes.append((fut, None, exc))
                continue
            conn.execute("RELEASE SAVEPOINT arena_write")
            bumps += mine
            outcomes.append((fut, result, None))
        if bumps:
            self._apply_bumps(conn, bumps)


class _Refused(Exception):
    """Raised to roll back a transaction whose only write was refused."""
