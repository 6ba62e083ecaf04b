# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Leader election on a coordination.k8s.io Lease, with client-go's semantics (DESIGN.md section 4).

- **Bounded attempts.** Each acquire/renew attempt (a GET, then a create or an update carrying the
  resourceVersion read) is bounded by the renew deadline as a whole, on a client of its own with no
  retries and no circuit breaker, so a hanging hub costs one attempt, never more.
- **Observed time.** Another holder's lease is judged expired when this replica has seen its record
  unchanged for ``leaseDurationSeconds`` of its own monotonic clock, never by comparing that
  holder's ``renewTime`` with the local clock: clock skew between replicas changes nothing.
- **A leader stops first.** The leader's write window ends ``renew_deadline`` seconds after the
  start of its last successful renewal, judged by the monotonic clock at the moment of each write
  (``write_gate``), not by a thread that could be stalled. The others can take over only
  ``lease_duration`` seconds after they saw that renewal, which is later: renew deadline < lease
  duration, and the difference covers a write already on the wire.
- **Timings validated** as client-go does: lease duration > renew deadline > 1.2 x retry period.

What no lease can do (client-go's doc says so too): fence a write that has already left the
process. A write is sent only inside the window, with a timeout no longer than what is left of it.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.observability import Metrics, log

LEASE_API = "coordination.k8s.io/v1"
JITTER = 1.2  # client-go's JitterFactor: acquire attempts every retry period x [1, 1.2)


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def validate_timings(lease_duration: float, renew_deadline: float, retry_period: float) -> None:
    """client-go's rules (NewLeaderElector), naming the flag at fault."""
    if retry_period <= 0:
        raise api.SpecError("leader-elect-retry-period", "must be more than 0")
    if renew_deadline <= JITTER * retry_period:
        raise api.SpecError("leader-elect-renew-deadline", f"must be greater than {JITTER} x the retry period")
    if lease_duration <= renew_deadline:
        raise api.SpecError("leader-elect-lease-duration", "must be greater than the renew deadline")


class LeaderElector:
    """One replica's side of the election. ``client``: a client for the election only (no retries,
    no breaker: see ``connection.elector_client``). ``clock``: monotonic seconds, ``wall``: the
    RFC 3339 time written into the record (informational: nobody judges expiry by it); both
    injectable for tests."""

    def __init__(
        self,
        client: kube.Kube,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], str] = _utc_now,
    ):
        validate_timings(lease_duration, renew_deadline, retry_period)
        if not identity:
            raise api.SpecError("id", "must not be empty")
        self.client, self.namespace, self.name, self.identity = client, namespace, name, identity
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self.clock, self.wall = clock, wall
        self.collection = f"/apis/{LEASE_API}/namespaces/{namespace}/leases"
        self.path = f"{self.collection}/{name}"
        self._lock = threading.Lock()
        self._observed: dict | None = None  # the record's spec as last read or written
        self._observed_at = 0.0  # monotonic time it was first seen as it is
        self._lead_until: float | None = None  # monotonic end of this replica's write window
        self._reported = False  # leading, as last logged
        self.is_leader = threading.Event()  # leading as of the elector's last turn (the gate judges by the clock)

    # -- the write window

    def remaining(self) -> float:
        """Seconds left of this replica's write window (0.0: it does not lead)."""
        with self._lock:
            until = self._lead_until
        return 0.0 if until is None else max(0.0, until - self.clock())

    def leading(self) -> bool:
        return self.remaining() > 0

    def write_gate(self, what: str) -> float:
        """The hub client's write gate: the seconds a write may take, or ``NotLeader`` (nothing sent)."""
        left = self.remaining()
        if left <= 0:
            raise kube.NotLeader(f"{what}: not sent: {self.identity} does not lead {self.namespace}/{self.name}")
        return left

    # -- one attempt

    def _call(self, method: str, path: str, deadline: float, body: Mapping | None = None):
        left = deadline - self.clock()
        if left <= 0:
            raise kube.KubeError(f"{method} {path}: the attempt is past its renew deadline", 0, "Timeout")
        return self.client.request(method, path, body=body, timeout=left, retry=kube.NO_RETRY)

    def _observe(self, spec: Mapping) -> None:
        """Remember the record and when it was first seen as it is (client-go's observedTime)."""
        with self._lock:
            if spec != self._observed:
                self._observed, self._observed_at = dict(spec), self.clock()

    def _expired(self, spec: Mapping) -> bool:
        if not spec.get("holderIdentity"):
            return True  # released: free at once
        duration = spec.get("leaseDurationSeconds") or self.lease_duration
        with self._lock:
            return self.clock() >= self._observed_at + duration

    def _won(self, started: float, spec: Mapping) -> None:
        with self._lock:
            self._lead_until = started + self.renew_deadline
            self._observed, self._observed_at = dict(spec), started

    def try_acquire_or_renew(self) -> bool:
        """One attempt, bounded by the renew deadline; True when this replica holds the lease (its
        write window then runs for ``renew_deadline`` seconds from the attempt's start)."""
        started = self.clock()
        deadline = started + self.renew_deadline
        now = self.wall()
        mine = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": math.ceil(self.lease_duration),
            "renewTime": now,
        }
        try:
            lease = self._call("GET", self.path, deadline)
        except kube.KubeError as err:
            if err.status != 404:
                raise
            lease = None
        if lease is None:
            spec = {**mine, "acquireTime": now, "leaseTransitions": 0}
            body = {
                "apiVersion": LEASE_API,
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": spec,
            }
            return self._write("POST", self.collection, deadline, body, started)
        current = lease.get("spec") or {}
        self._observe(current)
        holder = current.get("holderIdentity") or ""
        if holder != self.identity and not self._expired(current):
            return False
        spec = {**current, **mine}
        if holder != self.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0) + 1
        # The update carries the resourceVersion read: if anyone wrote since, it fails (409).
        return self._write("PUT", self.path, deadline, {**lease, "spec": spec}, started)

    def _write(self, method: str, path: str, deadline: float, body: Mapping, started: float) -> bool:
        try:
            self._call(method, path, deadline, body)
        except kube.KubeError as err:
            if err.status == 409:  # someone else wrote first
                return False
            raise
        self._won(started, body["spec"])
        return True

    # -- the loop

    def run(self, stop: threading.Event, metrics: Metrics | None = None) -> None:
        """Acquire, then renew every retry period. A leader whose renewals fail stops writing when its
        window ends (the gate), and campaigns again: the caches stay warm and the process is not
        restarted, so a long hub outage (its etcd restarting) costs no restart."""
        if metrics is not None and metrics.enabled:
            metrics.leader.set_function(lambda: 1.0 if self.leading() else 0.0)
        while not stop.is_set():
            try:
                self.try_acquire_or_renew()
            except api.TMCError as err:
                log(logging.WARNING, "leader election attempt failed", identity=self.identity, error=str(err))
            self._report()
            period = self.retry_period if self.leading() else self.retry_period * (1 + random.random() * (JITTER - 1))
            stop.wait(period)
        self._report()

    def _report(self) -> None:
        leading = self.leading()
        (self.is_leader.set if leading else self.is_leader.clear)()
        if leading == self._reported:
            return
        self._reported = leading
        lease = f"{self.namespace}/{self.name}"
        if leading:
            log(logging.INFO, "became leader", lease=lease, identity=self.identity)
        else:
            log(logging.ERROR, "lost leadership; standing by", lease=lease, identity=self.identity)

    def release(self) -> None:
        """Give the lease up on a graceful stop, after this replica's last write, so that a standby
        takes over at once. The window closes first: nothing is written after the release."""
        if not self.leading():
            return
        started = self.clock()
        with self._lock:
            self._lead_until = None
        try:
            lease = self._call("GET", self.path, started + self.renew_deadline)
            spec = (lease or {}).get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            released = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": self.wall()}
            self._call("PUT", self.path, started + self.renew_deadline, {**lease, "spec": released})
            log(logging.INFO, "released the lease", lease=f"{self.namespace}/{self.name}", identity=self.identity)
        except api.TMCError as err:
            log(logging.WARNING, "could not release the lease", error=str(err))
        finally:
            self.is_leader.clear()
            self._reported = False


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"
