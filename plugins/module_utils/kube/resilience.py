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

from ansible_collections.tmc.multicluster.plugins.module_utils.kube.errors import KubeError


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
    """Connection errors, 5xx and 429 are worth retrying; other answers are final."""
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

    After the cooldown one call is let through (half-open); its success closes
    the circuit, its failure opens it again. Daemons give one to each API server
    so that a dead or very slow server costs no threads and no timeouts.
    """

    def __init__(self, threshold: int = 5, cooldown: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trips = 0
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self.opened_at is not None and self.clock() - self.opened_at < self.cooldown

    def before_call(self, where: str) -> None:
        if self.is_open:
            raise KubeError(
                f"{where}: circuit open after {self.failures} consecutive failures; retrying after {self.cooldown:g}s",
                0,
                "CircuitOpen",
            )

    def record(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self.failures, self.opened_at = 0, None
                return
            self.failures += 1
            if self.failures >= self.threshold:
                if self.opened_at is None or self.clock() - self.opened_at >= self.cooldown:
                    self.trips += 1
                self.opened_at = self.clock()
