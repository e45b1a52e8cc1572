"""Background work of a simulator: notification attempts and delayed refund completions.

One daemon thread keeps a queue of jobs by due time and hands each due job to a small thread
pool, so a slow merchant endpoint holds up one worker, never the API request that caused the
notification. The thread starts on first use (a mounted sub-application gets no lifespan
events) and stops with :meth:`Dispatcher.close`. The queue is bounded.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

WORKERS = 4
PENDING_MAX = 10_000

log = logging.getLogger(__name__)

Job = Callable[[], None]


class Dispatcher:
    """Runs jobs at or after their due time, off the caller's thread."""

    def __init__(self, name: str, workers: int = WORKERS) -> None:
        self._name = name
        """Names the threads (``<name>-sim``) and the log lines."""
        self._workers = workers
        self._condition = threading.Condition()
        self._queue: list[tuple[float, int, Job]] = []
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    def call_later(self, delay_s: float, job: Job) -> None:
        """Run ``job`` in ``delay_s`` seconds (0: as soon as a worker is free)."""
        with self._condition:
            if self._closed:
                log.warning(
                    "the %s simulator is closed; a background job was discarded", self._name
                )
                return
            if len(self._queue) >= PENDING_MAX:
                log.error("more than %d background jobs pending; one was discarded", PENDING_MAX)
                return
            due = time.monotonic() + max(0.0, delay_s)
            heapq.heappush(self._queue, (due, next(self._sequence), job))
            if self._thread is None:
                self._pool = ThreadPoolExecutor(
                    self._workers, thread_name_prefix=f"{self._name}-sim"
                )
                self._thread = threading.Thread(
                    target=self._run, name=f"{self._name}-sim-dispatcher", daemon=True
                )
                self._thread.start()
            self._condition.notify()

    def pending(self) -> int:
        """Jobs waiting for their time."""
        with self._condition:
            return len(self._queue)

    def close(self) -> None:
        """Stop: pending jobs are dropped, running ones finish."""
        with self._condition:
            self._closed = True
            self._queue.clear()
            self._condition.notify()
            thread, pool = self._thread, self._pool
        if thread is not None:
            thread.join(timeout=5)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._closed and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    wait_s = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._condition.wait(wait_s)
                if self._closed:
                    return
                _, _, job = heapq.heappop(self._queue)
                pool = self._pool
            assert pool is not None
            pool.submit(self._guarded, job)

    def _guarded(self, job: Job) -> None:
        try:
            job()
        except Exception:
            log.exception("a %s simulator background job failed", self._name)
