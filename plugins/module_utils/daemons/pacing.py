# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hub status writes at a bounded rate (``StatusPacer``), spec first (``StatusHold``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class StatusPacer:
    """At most ``rate`` writes per second on average and ``burst`` at once (a token bucket), with
    a slot per waiting key: a write over the rate is given the next free slot (a reservation, as
    in golang.org/x/time/rate), and asking again for the same key returns the time left to its
    slot, so a key waits once, however often it is asked for meanwhile, and is then written once.

    ``rate`` 0 or less: no limit. ``on_slot`` is called for every slot given (a metric);
    ``clock`` is injectable for tests. ``hold``: a ``StatusHold`` asked first (spec first); a held
    write waits for it, not for a slot.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        on_slot: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        hold: StatusHold | None = None,
    ):
        self.rate, self.burst = rate, max(1, int(burst))
        self.hold = hold if hold is not None else StatusHold(0.0, lambda: False)  # limit 0: never holds
        self._on_slot = on_slot
        self._clock = clock
        self._tokens = float(self.burst)
        self._last = clock()
        self._slots: dict = {}
        self._lock = threading.Lock()

    def wait(self, key) -> float:
        """Seconds ``key``'s write must wait (for its hold, or for its slot); 0.0: write it now (its
        token is taken)."""
        held = self.hold.wait(key)
        if held > 0 or self.rate <= 0:
            return held
        with self._lock:
            now = self._clock()
            slot = self._slots.get(key)
            if slot is not None:
                if slot > now:
                    return slot - now
                del self._slots[key]
                return 0.0
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            if self._tokens >= 0.0:
                return 0.0
            delay = -self._tokens / self.rate
            self._slots[key] = now + delay
        if self._on_slot is not None:
            self._on_slot()
        return delay

    def held(self, key) -> float:
        """Seconds left to ``key``'s slot or of its hold (0.0: neither, or their time has come); takes
        nothing."""
        with self._lock:
            slot = self._slots.get(key)
            left = 0.0 if slot is None else max(0.0, slot - self._clock())
        return max(left, self.hold.remaining(key))

    def release(self) -> list:
        """The keys held for new desired states, once there are none (``StatusHold.release``)."""
        return self.hold.release()

    def forget(self, key) -> None:
        """``key`` will not be written (its object is gone): drop its slot and its hold."""
        with self._lock:
            self._slots.pop(key, None)
        self.hold.forget(key)

    def waiting(self) -> int:
        """How many keys hold a slot."""
        with self._lock:
            return len(self._slots)


class StatusHold:
    """Spec first: while a daemon has new desired states waiting (``busy()``), its status writes wait
    for them, each at most ``limit`` seconds from the first time it was asked for.

    At 10,000 workloads the hub spends most of its time on status writes (a SyncWork's status changes
    when it is applied and again when the member's controllers have seen it, a source's with each of
    its clusters), and every one of them delays the creates that put workloads on the members. A
    held write is made once, with the status as it is by then. A quiet daemon is never busy, so its
    writes are not held (the status latency of a single change is unchanged).

    ``wait(key)`` says how long a write must still wait; ``release()`` hands back the held keys once
    the daemon is no longer busy, to be written at once: a released key's next ``wait`` is 0.0 even
    if the daemon is busy again by then (a daemon whose bursts come and go would otherwise hold a
    write again and again, past the limit). ``clock`` is injectable for tests.
    """

    def __init__(self, limit: float, busy: Callable[[], bool], clock: Callable[[], float] = time.monotonic):
        self.limit, self.busy, self._clock = limit, busy, clock
        self._since: dict = {}  # held key -> when it was first held
        self._released: set = set()  # keys let go by release(), not yet asked for again
        self._lock = threading.Lock()

    def wait(self, key) -> float:
        """Seconds ``key``'s status write must wait; 0.0: write it now (it is no longer held)."""
        if self.limit <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            if key in self._released:
                self._released.discard(key)
                return 0.0
            since = self._since.get(key)
            if not self.busy() or (since is not None and now - since >= self.limit):
                self._since.pop(key, None)
                return 0.0
            if since is None:
                self._since[key] = since = now
            return since + self.limit - now

    def remaining(self, key) -> float:
        """Seconds left of ``key``'s hold (0.0: not held, or no longer); starts none."""
        with self._lock:
            since = self._since.get(key)
            if since is None or not self.busy():
                return 0.0
            return max(0.0, since + self.limit - self._clock())

    def release(self) -> list:
        """The held keys, once the daemon is not busy (none while it is); they are no longer held."""
        with self._lock:
            if not self._since or self.busy():
                return []
            keys, self._since = list(self._since), {}
            self._released.update(keys)
            return keys

    def forget(self, key) -> None:
        """``key`` will not be written (its object is gone)."""
        with self._lock:
            self._since.pop(key, None)
            self._released.discard(key)

    def held(self) -> int:
        """How many keys are held."""
        with self._lock:
            return len(self._since)
