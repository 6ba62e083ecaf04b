# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SyncWorks an older version left for cluster-scoped kinds, removed once their placement is gone.

Layer 4 of the engine; private to this collection. Before tenants were held to namespaced kinds
(issue 17), a WorkloadPlacement could list a cluster-scoped kind (a ClusterRole, a Namespace): its
SyncWorks name no source namespace, so no namespace's pass sees them, and nothing removed them when
their placement went. Such a SyncWork names its placement by name only (label ``tmc.kcp.io/placement``):
it is removed once no WorkloadPlacement of that name is left on the hub, in any namespace. While one
is, it stays (nothing moves without cause; the placement itself reads InvalidPlacement).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, render

#: The SyncWorks of a placement that name no source namespace: those of cluster-scoped kinds.
SELECTOR = f"{api.LABEL_PLACEMENT},!{render.LABEL_SOURCE_NAMESPACE}"


def abandoned(works: Iterable[Mapping], placements: Iterable[Mapping]) -> list[Mapping]:
    """Of ``works`` (SyncWorks without a source namespace), those in a cluster namespace whose
    placement label names no placement of ``placements`` (every namespace's), not being deleted yet."""
    living = {render.label_value(p["metadata"]["name"]) for p in placements}
    return [
        work
        for work in works
        if (work["metadata"].get("namespace") or "").startswith(api.CLUSTER_NAMESPACE_PREFIX)
        and not (work.get("spec") or {}).get("source", {}).get("namespace")
        and (work["metadata"].get("labels") or {}).get(api.LABEL_PLACEMENT) not in living
        and not work["metadata"].get("deletionTimestamp")
    ]


def remove_abandoned(hub) -> list[tuple[str, str]]:
    """Delete the SyncWorks ``abandoned`` finds on the hub (the syncer's finalizer then runs as for
    any SyncWork); their (namespace, name) keys."""
    works = hub.list(api.API_VERSION, api.KIND_SYNCWORK, label_selector=SELECTOR)
    if not works:
        return []
    placements = hub.list(api.API_VERSION, api.KIND_PLACEMENT)
    removed = []
    for work in abandoned(works, placements):
        meta = work["metadata"]
        hub.delete(api.API_VERSION, api.KIND_SYNCWORK, meta["name"], meta["namespace"])
        removed.append((meta["namespace"], meta["name"]))
    return removed
