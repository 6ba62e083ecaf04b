# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work queue and its workers (client-go's workqueue): keys, not objects.

A key is handled by one worker at a time, in order; a key added while it is handled is handled
again afterwards; failed keys come back after an exponential backoff with jitter.
"""

from __future__ import annotations

import collections
import heapq
import logging
import random
import threading
import time
from collections.abc import Callable

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.observability import Metrics, log


class WorkQueue:
    """A de-duplicating, per-key-ordered queue with delayed and rate-limited adds.

    Urgent keys (a spec change) go before ordinary ones (a status change), so that a stream of
    status updates does not hold back the next desired state.
    """

    def __init__(
        self,
        name: str,
        metrics: Metrics | None = None,
        base_delay: float = 0.1,
        max_delay: float = 30.0,
        key_type: Callable[[object], str] = lambda _key: "object",
        clock: Callable[[], float] = time.monotonic,
    ):
        """``key_type``: a key's type, the ``key_type`` label of the queue and reconcile metrics.
        ``clock``: monotonic seconds (injectable: tests move time instead of sleeping)."""
        self.name = name
        self.clock = clock
        self.key_type = key_type
        self.metrics = metrics
        self.base_delay, self.max_delay = base_delay, max_delay
        self._cond = threading.Condition()
        self._queue: collections.deque = collections.deque()
        self._urgent: collections.deque = collections.deque()
        self._urgent_keys: set = set()  # dirty keys that go to the urgent lane
        self._dirty: set = set()
        self._processing: set = set()
        self._delayed: list = []  # heap of (when, seq, key); at most one live entry per key
        self._due: dict = {}  # key -> seq of its live delayed entry
        self._seq = 0
        self._failures: dict = {}
        self._added: dict = {}  # dirty key -> when it was first added (tmc_workqueue_queue_duration_seconds)
        self._shutdown = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._urgent)

    def _depth(self) -> None:
        if self.metrics is not None and self.metrics.enabled:
            self.metrics.queue_depth.labels(self.name).set(len(self._queue) + len(self._urgent))

    def add(self, key, urgent: bool = False) -> None:
        with self._cond:
            if self._shutdown:
                return
            if key in self._dirty:
                if urgent and key not in self._urgent_keys:
                    self._urgent_keys.add(key)
                    if key not in self._processing and key in self._queue:
                        self._queue.remove(key)
                        self._urgent.append(key)
                return
            self._dirty.add(key)
            self._added.setdefault(key, self.clock())
            if urgent:
                self._urgent_keys.add(key)
            if key not in self._processing:
                (self._urgent if urgent else self._queue).append(key)
                self._depth()
                self._cond.notify()

    def add_after(self, key, delay: float) -> None:
        """Add ``key`` after ``delay`` seconds; a key keeps one pending delayed add, the earliest."""
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutdown:
                return
            when = self.clock() + delay
            live = self._due.get(key)
            if live is not None and live[0] <= when:
                return
            self._seq += 1
            self._due[key] = (when, self._seq)
            heapq.heappush(self._delayed, (when, self._seq, key))
            self._cond.notify()

    def backoff(self, failures: int, max_delay: float | None = None) -> float:
        """The delay after ``failures`` earlier failures: exponential with full jitter, capped at
        ``max_delay`` (default: the queue's)."""
        ceiling = min(max_delay or self.max_delay, self.base_delay * 2 ** min(failures, 32))
        return random.uniform(self.base_delay, max(self.base_delay, ceiling))

    def retry(self, key, max_delay: float | None = None) -> float:
        """Add ``key`` back after its next backoff (capped at ``max_delay``); returns the delay."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay = self.backoff(failures, max_delay)
        self.add_after(key, delay)
        return delay

    def forget(self, key) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def _promote_due(self) -> float | None:
        now = self.clock()
        while self._delayed and self._delayed[0][0] <= now:
            _when, seq, key = heapq.heappop(self._delayed)
            if self._due.get(key, (None, None))[1] != seq:
                continue  # superseded by an earlier add_after of the same key
            del self._due[key]
            if key not in self._dirty:
                self._dirty.add(key)
                self._added.setdefault(key, now)
                if key not in self._processing:
                    self._queue.append(key)
        self._depth()
        return self._delayed[0][0] - now if self._delayed else None

    def get(self, timeout: float | None = None):
        """The next key (marked processing), or None on shutdown/timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                wait = self._promote_due()
                if self._urgent or self._queue:
                    key = (self._urgent or self._queue).popleft()
                    self._dirty.discard(key)
                    self._urgent_keys.discard(key)
                    self._processing.add(key)
                    self._depth()
                    self._waited(key)
                    return key
                if self._shutdown:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                waits = [w for w in (wait, remaining) if w is not None]
                self._cond.wait(min(waits) if waits else None)

    def _waited(self, key) -> None:
        added = self._added.pop(key, None)
        if added is not None and self.metrics is not None and self.metrics.enabled:
            self.metrics.queue_seconds.labels(self.name, self.key_type(key)).observe(self.clock() - added)

    def done(self, key) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                (self._urgent if key in self._urgent_keys else self._queue).append(key)
                self._depth()
                self._cond.notify()

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and not self._urgent and not self._processing

    def has_urgent(self) -> bool:
        """Whether urgent keys (new desired states) wait to be taken."""
        return bool(self._urgent)

    @property
    def is_shut_down(self) -> bool:
        return self._shutdown

    def shutdown(self, drop_pending: bool = True) -> None:
        """Stop handing out keys (pending ones are dropped: the next start re-lists anyway)."""
        with self._cond:
            self._shutdown = True
            if drop_pending:
                self._queue.clear()
                self._urgent.clear()
                self._urgent_keys.clear()
                self._dirty.clear()
                self._added.clear()
                self._delayed.clear()
                self._due.clear()
            self._cond.notify_all()


CACHE_RETRY = 1.0  # seconds before a key that waits for a cache comes back


class CacheNotSynced(api.TMCError):
    """A key needs a watch cache whose first list has not finished. It waits for it: the worker
    puts the key back after ``CACHE_RETRY`` seconds, with no failure counted, rather than work from
    a part of the kind or list the whole kind from the API server in the cache's place (per key:
    at 10,000 workloads, a restarted controller that did so held 850 MB)."""

    def __init__(self, kind: str):
        super().__init__(f"the {kind} cache has not finished its first list")
        self.kind = kind


class Backoff(api.TMCError):
    """A key failed in a way its handler has already reported (a SyncWork's condition says why, and
    one log line when that changed): it comes back after its backoff, capped at ``max_delay``, and
    each retry is logged at debug level only."""

    def __init__(self, message: str, max_delay: float):
        super().__init__(message)
        self.max_delay = max_delay


def filled(cache, what: str):
    """``cache`` (a Reflector or ReflectorSet) once it has its first list; ``CacheNotSynced``, naming
    ``what``, before."""
    if not cache.synced.is_set():
        raise CacheNotSynced(what)
    return cache


def process_key(
    queue: WorkQueue,
    handle: Callable[[object], None],
    key,
    waited_for: set,
    metrics: Metrics | None = None,
    kind: str = "key",
) -> None:
    """Handle one key taken from ``queue`` and mark it done: a failure comes back after its backoff
    (quietly for a ``Backoff``: its handler reported it), a key whose write the write gate held back
    (``NotLeader``) is dropped, a key that waits for a
    cache (``CacheNotSynced``) comes back after ``CACHE_RETRY`` seconds, with no failure counted
    (``waited_for``: the caches already said to be waited for, one log line each)."""
    started = time.monotonic()
    try:
        handle(key)
        queue.forget(key)
    except kube.NotLeader:
        queue.forget(key)  # leadership was lost mid-pass: dropped, the next leader's first pass redoes it
        log(logging.DEBUG, "not leading: key dropped", key=str(key))
    except Backoff as err:
        delay = queue.retry(key, err.max_delay)
        log(logging.DEBUG, "failed as reported; will retry", key=str(key), error=str(err), retry_in_s=round(delay, 2))
    except CacheNotSynced as err:
        queue.add_after(key, CACHE_RETRY)
        if err.kind not in waited_for:
            waited_for.add(err.kind)
            log(logging.INFO, "waiting for a cache", key=str(key), cache=err.kind, retry_in_s=CACHE_RETRY)
    except Exception as err:  # noqa: BLE001 - one key's failure must not kill the worker
        delay = queue.retry(key)
        log(
            logging.WARNING if isinstance(err, api.TMCError) else logging.ERROR,
            "reconcile failed; will retry",
            key=str(key),
            error=str(err),
            retry_in_s=round(delay, 2),
        )
    finally:
        queue.done(key)
        if metrics is not None and metrics.enabled:
            metrics.reconcile_seconds.labels(f"{kind}/{queue.key_type(key)}").observe(time.monotonic() - started)


def run_workers(
    queue: WorkQueue, handle: Callable[[object], None], count: int, metrics: Metrics | None = None, kind: str = "key"
) -> list[threading.Thread]:
    """Start ``count`` threads that take keys and call ``handle`` (``process_key``).

    The threads end when the queue is shut down, each after finishing the key it holds.
    """

    waited_for: set = set()  # caches already said to be waited for: one line each, not one per key

    def worker():
        while True:
            key = queue.get(timeout=0.5)
            if key is None:
                if queue.is_shut_down:
                    return
                continue
            try:
                process_key(queue, handle, key, waited_for, metrics, kind)
            except Exception as err:  # noqa: BLE001 - a failure around the handler (logging, metrics) neither
                log(logging.ERROR, "worker error", key=str(key), error=str(err))  # kills the worker

    threads = [threading.Thread(target=worker, name=f"{queue.name}-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads


def drain(queue: WorkQueue, threads: list[threading.Thread], timeout: float = 20.0) -> None:
    """Stop taking keys; let the keys in flight finish (up to ``timeout``)."""
    deadline = time.monotonic() + timeout
    queue.shutdown()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
