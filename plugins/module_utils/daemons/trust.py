# Copyright: (c) 2026, tmc.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller believes (docs/concepts/security.md): which SyncWorks count, and the platform
admin's tenant policy.

A SyncWork counts only where it belongs (render.untrusted_reason): the indexes below never hold one
that does not, so no pass or status aggregation that reads them can find it.

The ConfigMap tmc-system/tmc-policy (the hub role writes it from ``tmc_hub_allowed_kinds``) is read at
most every ``ttl`` seconds: a pass costs no extra request, and an edit takes effect within ``ttl``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, render
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.observability import log
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import common
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan as planning

POLICY_TTL = 10.0  # seconds an edit of the tenant policy takes to apply
SOURCE_INDEX = "source"  # SyncWorks by (source namespace label, apiVersion, kind, name)


def trusted_work(work: Mapping) -> bool:
    return render.untrusted_reason(work) is None


def _label_indexer(key: str, trusted: Callable[[Mapping], bool] = lambda _obj: True):
    def values(obj: Mapping) -> list:
        found = (obj["metadata"].get("labels") or {}).get(key)
        return [] if found is None or not trusted(obj) else [found]

    return values


def _syncwork_source(work: Mapping) -> list:
    """The source a SyncWork counts for; none for a SyncWork the controller must not believe, so that
    no index read (a pass's existing works, the status aggregation) ever finds one."""
    label = (work["metadata"].get("labels") or {}).get(render.LABEL_SOURCE_NAMESPACE)
    return [] if label is None or not trusted_work(work) else [(label, *common.source_of(work))]


def report_untrusted(metrics, event: str, obj: Mapping, reason: str) -> None:
    """Log and count a SyncWork the controller does not believe (once per change of it)."""
    if event in ("DELETED", "SYNC"):
        return
    meta = obj["metadata"]
    log(
        logging.WARNING,
        "ignoring an untrusted SyncWork",
        namespace=meta.get("namespace"),
        name=meta["name"],
        reason=reason,
    )
    if metrics.enabled:
        metrics.untrusted.labels(api.KIND_SYNCWORK).inc()


INDEXERS = {
    (api.API_VERSION, api.KIND_SYNCWORK): {
        f"label:{render.LABEL_SOURCE_NAMESPACE}": _label_indexer(render.LABEL_SOURCE_NAMESPACE, trusted_work),
        SOURCE_INDEX: _syncwork_source,
    },
}


class TenantPolicyCache:
    """The tenant policy, read from the hub at most every ``ttl`` seconds."""

    def __init__(self, hub, ttl: float = POLICY_TTL, clock: Callable[[], float] = time.monotonic):
        self.hub, self.ttl, self.clock = hub, ttl, clock
        self._expires, self._policy = 0.0, None

    def current(self) -> render.TenantPolicy:
        """The policy, read again from the hub once the copy is older than ``ttl``."""
        if self._policy is None or self.clock() >= self._expires:
            self._policy = planning.load_policy(self.hub)
            self._expires = self.clock() + self.ttl
        return self._policy

    def changed(self) -> render.TenantPolicy | None:
        """The new policy when a read finds it different from the one before (never on the first read);
        raises kube.KubeError when the hub cannot be read."""
        before = self._policy
        after = self.current()
        return after if before is not None and after != before else None
