# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When a syncer stops acting for its cluster: deregistration, and a member that is not its cluster.

Deregistration marks the ClusterRegistration first (``tmc.kcp.io/deregistration``: ``Orphan`` or
``Delete``) and deletes the cluster's SyncWorks after (``reconcile.deregistration``). The syncer reads
its registration on every heartbeat and stops applying once it sees the mark. Its caches may lag the
hub, so a destructive step is not decided from them: before it deletes an object on the member
because its SyncWork is being deleted, it reads the registration from the hub, in a read that
starts after that deletion was seen — the mark was written before the deletion, so that read sees
it. One such read answers for every deletion seen before it started (a burst of deletions costs
one read, not one each).

The syncer also reports its member's identity (the UID of ``kube-system``) into its registration's
``status.clusterID`` when none is recorded, and stands down when the registration records another
one (it was pointed at a cluster that is not the one registered under its name), or when the
controller found an older registration of the same member (condition ``IdentityConflict``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters, identity

ORPHAN, DELETE = "Orphan", "Delete"
GONE = "Gone"  # the registration is not there (deleted by hand): nothing on the member is touched
MISMATCH = "IdentityMismatch"  # the member is not the cluster registered under this name
CONFLICT = "IdentityConflict"  # an older registration has this member (the controller says so)


def mode_of(registration: dict | None) -> str | None:
    """What the registration says about this syncer acting: None (go on), or why it stands down."""
    if registration is None:
        return GONE
    mode = clusters.deregistration_mode(registration)
    if mode:
        return mode
    conditions = (registration.get("status") or {}).get("conditions") or []
    if any(c.get("type") == CONFLICT and c.get("status") == "True" for c in conditions):
        return CONFLICT
    return None


class StandDown:
    """The registration's word on what this syncer may still do, kept fresh enough for each decision."""

    def __init__(self, hub: kube.Kube, cluster: str, clock: Callable[[], float] = time.monotonic):
        self.hub, self.cluster, self.clock = hub, cluster, clock
        self._lock = threading.Lock()
        self.mode: str | None = None  # as last read (heartbeat loop or a confirmation)
        self.mismatch: str | None = None  # why the member is not this cluster, once found
        self._deletion_seen = 0.0  # when the latest SyncWork deletion was seen
        self._confirmed_at: float | None = None  # when the latest read that answered started
        self._confirmed: str | None = None

    # -- what the syncer sees

    def deletion_seen(self) -> None:
        with self._lock:
            self._deletion_seen = self.clock()

    @property
    def standing_down(self) -> bool:
        return self.mode is not None or self.mismatch is not None

    def _read(self) -> str | None:
        return mode_of(self.hub.get(api.API_VERSION, api.KIND_CLUSTER, self.cluster))

    def refresh(self) -> dict | None:
        """Read the registration (heartbeat loop); returns it (None when gone)."""
        started = self.clock()
        found = self.hub.get(api.API_VERSION, api.KIND_CLUSTER, self.cluster)
        self._record(started, mode_of(found))
        return found

    def _record(self, started: float, mode: str | None) -> None:
        with self._lock:
            self.mode = mode if self.mismatch is None else MISMATCH
            if self._confirmed_at is None or started > self._confirmed_at:
                self._confirmed_at, self._confirmed = started, mode

    def confirm(self) -> str | None:
        """The registration's deregistration mode as the hub has it after every deletion seen so far
        (None: not being deregistered). Raises KubeError when the hub cannot be read: then nothing
        is decided."""
        if self.mismatch is not None:
            return MISMATCH
        with self._lock:
            if self._confirmed_at is not None and self._confirmed_at > self._deletion_seen:
                return self._confirmed
        started = self.clock()
        mode = self._read()
        self._record(started, mode)
        return mode

    # -- identity

    def check_identity(self, member: kube.Kube, found: dict | None) -> str | None:
        """Report the member's identity when the registration has none; stand down when it has another.
        Returns the identity (None when it cannot be read now)."""
        if found is None:
            return None
        try:
            cluster_id = identity.read_cluster_id(member, f"member {self.cluster}")
        except kube.KubeError:
            return None
        recorded = identity.cluster_id_of(found)
        if recorded and recorded != cluster_id:
            self.mismatch = (
                f"the member this syncer reaches (identity {cluster_id}) is not the cluster registered as "
                f"{self.cluster} (identity {recorded}): it acts on nothing; point --downstream-kubeconfig at "
                "that cluster, or register this one"
            )
            self.mode = MISMATCH
            return cluster_id
        self.mismatch = None
        if not recorded:
            patch = {
                "apiVersion": api.API_VERSION,
                "kind": api.KIND_CLUSTER,
                "metadata": {"name": self.cluster},
                "status": {"clusterID": cluster_id},
            }
            # A field manager of its own: the capacity report's apply does not own (and so keeps) it.
            self.hub.apply(patch, f"{self.cluster}-syncer-identity", subresource="status")
        return cluster_id
