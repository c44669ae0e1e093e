"""Group commit: many concurrent writes share one durable transaction (one fsync).

Request threads hand a write function to :meth:`GroupCommit.run` and block until *their*
transaction has committed.  One writer thread per process takes everything queued, runs each
function inside its own SAVEPOINT (so one refused vote does not undo the others), applies the
pair-count increments of the whole batch in sorted key order (no lock-order deadlocks between
processes on PostgreSQL), commits once, and only then releases the waiting requests.  A vote
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

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

Bumps = list[tuple[str, str, str]]
WriteFn = Callable[[Connection, Bumps], Any]

_RETRYABLE = ("deadlock detected", "could not serialize", "database is locked")


class GroupCommit:
    """Run write functions in shared transactions on a dedicated writer thread."""

    def __init__(self, begin: Callable[[], AbstractContextManager[Connection]],
                 apply_bumps: Callable[[Connection, Bumps], None], *,
                 max_batch: int = 256, retries: int = 5) -> None:
        self._begin = begin
        self._apply_bumps = apply_bumps
        self._max_batch = max_batch
        self._retries = retries
        self._queue: queue.SimpleQueue[tuple[WriteFn, Future[Any]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, fn: WriteFn) -> Any:
        """Run ``fn(conn, bumps)`` in a committed transaction; returns its result or raises."""
        fut: Future[Any] = Future()
        self._ensure_thread()
        self._queue.put((fn, fut))
        return fut.result()

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

    def _drain(self, first: tuple[WriteFn, Future[Any]]) -> Iterator[tuple[WriteFn, Future[Any]]]:
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

    def _commit(self, batch: list[tuple[WriteFn, Future[Any]]]) -> None:
        for attempt in range(self._retries + 1):
            outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
            try:
                with self._begin() as conn:
                    if len(batch) == 1:
                        outcomes.append(self._run_alone(conn, *batch[0]))
                    else:
                        self._run_batch(conn, batch, outcomes)
            except _Refused:
                pass  # the only write was refused: its transaction rolled back
            except DBAPIError as exc:
                if attempt < self._retries and any(s in str(exc) for s in _RETRYABLE):
                    log.info("group commit retry %d after: %s", attempt + 1, exc.orig)
                    time.sleep(0.001 * (attempt + 1))
                    continue
                for _, fut in batch:
                    fut.set_exception(exc)
                return
            except BaseException as exc:  # noqa: BLE001 - never leave a caller waiting
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                return
            for fut, result, error in outcomes:  # committed (or rolled back): release callers
                if error is not None:
                    fut.set_exception(error)
                else:
                    fut.set_result(result)
            return

    def _run_alone(self, conn: Connection, fn: WriteFn,
                   fut: Future[Any]) -> tuple[Future[Any], Any, BaseException | None]:
        """One write, no savepoint: a refusal rolls the whole transaction back."""
        bumps: Bumps = []
        try:
            result = fn(conn, bumps)
        except DBAPIError:
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            fut.set_exception(exc)
            raise _Refused from exc
        if bumps:
            self._apply_bumps(conn, bumps)
        return fut, result, None

    def _run_batch(self, conn: Connection, batch: list[tuple[WriteFn, Future[Any]]],
                   outcomes: list[tuple[Future[Any], Any, BaseException | None]]) -> None:
        """Several writes, each in a SAVEPOINT so a refused one leaves the others intact."""
        bumps: Bumps = []
        for fn, fut in batch:
            mine: Bumps = []
            conn.exec_driver_sql("SAVEPOINT arena_write")
            try:
                result = fn(conn, mine)
            except DBAPIError:
                raise  # the transaction itself is in trouble: retry the batch
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                conn.exec_driver_sql("ROLLBACK TO SAVEPOINT arena_write")
                conn.exec_driver_sql("RELEASE SAVEPOINT arena_write")
                outcomes.append((fut, None, exc))
                continue
            conn.exec_driver_sql("RELEASE SAVEPOINT arena_write")
            bumps += mine
            outcomes.append((fut, result, None))
        if bumps:
            self._apply_bumps(conn, bumps)


class _Refused(Exception):
    """Raised to roll back a transaction whose only write was refused."""
