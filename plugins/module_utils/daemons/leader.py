# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Leader election on a coordination.k8s.io Lease."""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.observability import Metrics, log


class LeaderElector:
    """Leader election on a Lease (coordination.k8s.io/v1)."""

    JITTER = 1.2

    def __init__(
        self,
        client: kube.Kube,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
    ):
        if lease_duration <= renew_deadline:
            raise api.SpecError("leader-elect-lease-duration", "must be greater than the renew deadline")
        if renew_deadline <= self.JITTER * retry_period:
            raise api.SpecError("leader-elect-renew-deadline", f"must be greater than {self.JITTER} x the retry period")
        if retry_period <= 0:
            raise api.SpecError("leader-elect-retry-period", "must be more than 0")
        self.client, self.namespace, self.name, self.identity = client, namespace, name, identity
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self.is_leader = threading.Event()

    @staticmethod
    def _now() -> str:
        return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _expired(self, spec: Mapping) -> bool:
        if not spec.get("holderIdentity"):
            return True  # released by a replica that stopped gracefully: free at once
        renew = spec.get("renewTime") or spec.get("acquireTime")
        if not renew:
            return True
        when = dt.datetime.fromisoformat(renew.replace("Z", "+00:00"))
        duration = spec.get("leaseDurationSeconds") or self.lease_duration
        return (dt.datetime.now(dt.UTC) - when).total_seconds() > duration

    def try_acquire_or_renew(self) -> bool:
        lease = self.client.get("coordination.k8s.io/v1", "Lease", self.name, self.namespace)
        now = self._now()
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration), "renewTime": now}
        if lease is None:
            try:
                self.client.create(
                    {
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": {"name": self.name, "namespace": self.namespace},
                        "spec": {**spec, "acquireTime": now, "leaseTransitions": 0},
                    }
                )
                return True
            except kube.KubeError as err:
                if err.status == 409:
                    return False
                raise
        current = lease.get("spec") or {}
        mine = current.get("holderIdentity") == self.identity
        if not mine and not self._expired(current):
            return False
        new_spec = {**current, **spec}
        if not mine:
            new_spec["acquireTime"] = now
            new_spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0) + 1
        lease["spec"] = new_spec
        try:
            self.client.request(
                "PUT",
                self.client.resource("coordination.k8s.io/v1", "Lease").path(self.namespace, self.name),
                body=lease,
                retry=kube.NO_RETRY,
            )
            return True
        except kube.KubeError as err:
            if err.status == 409:  # someone else wrote first
                return False
            raise

    def run(self, stop: threading.Event, metrics: Metrics | None = None) -> None:
        """Acquire, then renew. When renewals fail for longer than the renew deadline, step down
        (``is_leader`` cleared) and campaign again: the caches stay warm and the
        process is not restarted, so a long hub outage (its etcd restarting) costs no restart."""
        last_renew = None
        while not stop.is_set():
            try:
                ok = self.try_acquire_or_renew()
            except api.TMCError as err:
                log(logging.WARNING, "leader election call failed", error=str(err))
                ok = False
            now = time.monotonic()
            if ok:
                if not self.is_leader.is_set():
                    log(logging.INFO, "became leader", lease=f"{self.namespace}/{self.name}", identity=self.identity)
                self.is_leader.set()
                last_renew = now
            elif self.is_leader.is_set() and (last_renew is None or now - last_renew > self.renew_deadline):
                log(logging.ERROR, "lost leadership; standing by", lease=f"{self.namespace}/{self.name}")
                self.is_leader.clear()
                last_renew = None
            if metrics is not None and metrics.enabled:
                metrics.leader.set(1 if self.is_leader.is_set() else 0)
            stop.wait(self.retry_period * (1 + random.random() * 0.2))

    def release(self) -> None:
        """Give the lease up on a graceful stop so that a standby takes over at once."""
        if not self.is_leader.is_set():
            return
        try:
            lease = self.client.get("coordination.k8s.io/v1", "Lease", self.name, self.namespace)
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = ""
                lease["spec"]["renewTime"] = None
                self.client.request(
                    "PUT",
                    self.client.resource("coordination.k8s.io/v1", "Lease").path(self.namespace, self.name),
                    body=lease,
                    retry=kube.NO_RETRY,
                )
        except api.TMCError as err:
            log(logging.WARNING, "could not release the lease", error=str(err))


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"
