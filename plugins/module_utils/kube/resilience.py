# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retries (transient errors only, exponential backoff with full jitter) and the circuit breaker."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils.kube.errors import KubeError, NotLeader


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, for transient errors only."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        rng = rng or random.Random()
        for attempt in range(self.attempts - 1):
            yield rng.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


def is_transient(err: BaseException) -> bool:
    """Connection errors, 5xx and 429 are worth retrying; other answers are final, and so is a write
    the write gate held back (``NotLeader``)."""
    if isinstance(err, NotLeader):
        return False
    if isinstance(err, KubeError):
        return err.status == 0 or err.status == 429 or err.status >= 500
    return False


def retry_after(err: BaseException) -> float | None:
    if isinstance(err, KubeError):
        value = err.details.get("retry_after")
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None
    return None


def with_retries(call: Callable[[], Any], policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep):
    """Run ``call``; on a transient KubeError wait and try again, up to policy.attempts."""
    delays = policy.delays()
    while True:
        try:
            return call()
        except KubeError as err:
            if not is_transient(err):
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            sleep(max(delay, retry_after(err) or 0.0))


class CircuitBreaker:
    """Fails fast after ``threshold`` consecutive transient failures, for ``cooldown`` seconds.

    Closed: every call goes. Open: every call fails fast (``CircuitOpen``) for ``cooldown`` seconds.
    Half-open (the cooldown is over): exactly one call, the probe, is let through; every other call
    fails fast until the probe's answer is recorded: a success closes the circuit, a failure opens it
    again for another cooldown. Daemons give one to each API server so that a dead or very slow
    server costs no threads and no timeouts, and a server coming back gets one request, not a stampede.

    ``before_call`` returns whether the call is the probe; the caller hands that back to ``record``
    (always: a probe never recorded would keep the circuit half-open and failing fast).
    """

    def __init__(self, threshold: int = 5, cooldown: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trips = 0
        self._probing = False  # the half-open probe is out
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """True while calls fail fast (open, or half-open with the probe out)."""
        with self._lock:
            return self.opened_at is not None and (self._probing or self.clock() - self.opened_at < self.cooldown)

    def before_call(self, where: str) -> bool:
        """Let the call go (True when it is the half-open probe), or raise ``CircuitOpen``."""
        with self._lock:
            if self.opened_at is None:
                return False
            if not self._probing and self.clock() - self.opened_at >= self.cooldown:
                self._probing = True
                return True
            failures = self.failures
        raise KubeError(
            f"{where}: circuit open after {failures} consecutive failures; one probe every {self.cooldown:g}s",
            0,
            "CircuitOpen",
        )

    def record(self, ok: bool, probe: bool = False) -> None:
        """A call's outcome (``ok``: the server answered, even with an error of ours)."""
        with self._lock:
            if probe:
                self._probing = False
            if ok:
                self.failures, self.opened_at, self._probing = 0, None, False
                return
            self.failures += 1
            if probe or (self.opened_at is None and self.failures >= self.threshold):
                self.opened_at = self.clock()
                self.trips += 1
                self._probing = False
