# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 4 of the sync pass (hub): what the members run, brought back onto the hub.

Layer 4 of the engine; private to this collection. ``aggregate_status`` writes each
source's aggregated status (``status.aggregate_status`` of its SyncWorks' downstream
status) and each placement's summary and Synced/Available conditions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kinds, kube, status
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile.common import (
    HUB_WRITE_CONCURRENCY,
    run_all,
    source_of,
    status_differs,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile.hub_writes import (
    CONTROLLER,
    apply_status,
    write_placement_status,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile.plan import Plan


def _aggregated(source: Mapping) -> bool:
    """Whether TMC writes this hub source's status (``kinds.KindSpec.aggregated``)."""
    spec = kinds.spec_for(source.get("kind"), source.get("apiVersion"))
    return spec is not None and spec.aggregated


def aggregate_status(
    hub: kube.Kube,
    plan: Plan,
    works: Iterable[Mapping],
    now: dt.datetime,
    check_mode: bool = False,
    gates: api.FeatureGates | None = None,
    only_sources: set | None = None,
    placements: bool = True,
    defer: Callable[[tuple], bool] | None = None,
) -> int:
    """Write the sources' aggregated status and each placement's summary; returns writes.

    ``only_sources`` limits the pass to some sources; ``placements`` False skips the summaries.
    ``defer(source key)``: asked for each source whose status changed; True leaves it unwritten
    (the caller writes it in a later pass: the controller's status pacing).
    """
    gates = gates or api.FeatureGates.from_overrides()
    by_source: dict = {}
    by_placement: dict = {}
    for work in works:
        if work["metadata"].get("deletionTimestamp"):
            continue
        by_source.setdefault(source_of(work), []).append(work)
        by_placement.setdefault((work.get("spec") or {}).get("placement"), []).append(work)
    written = 0
    if gates.is_enabled("TMCStatusAggregation"):
        jobs = []
        for key, source in plan.sources.items():
            placed = by_source.get(key)
            if not placed or not _aggregated(source):
                continue
            if only_sources is not None and key not in only_sources:
                continue
            per_cluster = {w["spec"]["cluster"]: cluster_status(w) for w in placed}
            new = status.aggregate_status(source["kind"], per_cluster, now, source["metadata"].get("generation"))
            if not status_differs(source.get("status") or {}, new) or (defer is not None and defer(key)):
                continue
            jobs.append((_write_source_status, (hub, source, new, check_mode)))
        written += sum(run_all(jobs, HUB_WRITE_CONCURRENCY))

    for outcome in plan.placements if placements else ():
        placed = by_placement.get(outcome.placement["metadata"]["name"], [])
        if write_placement_summary(hub, outcome.placement, status.summarize(placed), now, check_mode):
            written += 1
    return written


def cluster_status(work: Mapping) -> dict:
    """What one cluster adds to its source's aggregated status: its object's status (empty when the
    member holds none), and, when its SyncWork could not be applied, a Degraded condition with the
    SyncWork's reason and message (so a source never reads healthy while a cluster cannot run it)."""
    current = work.get("status") or {}
    downstream = dict(current.get("downstreamStatus") or {})
    degraded = status.get_condition(current.get("conditions"), "Degraded")
    if degraded is None or degraded.get("status") != status.TRUE:
        return downstream
    condition = {"type": "Degraded", "status": status.TRUE}
    condition.update({k: degraded[k] for k in ("reason", "message", "lastTransitionTime") if degraded.get(k)})
    others = [c for c in downstream.get("conditions") or () if c.get("type") != "Degraded"]
    downstream["conditions"] = [*others, condition]
    return downstream


def write_placement_summary(
    hub: kube.Kube, wp: Mapping, summary: Mapping, now: dt.datetime, check_mode: bool = False
) -> bool:
    """A placement's ``status.summary`` and its Synced/Available conditions, from ``summary``
    (``status.summarize`` of its SyncWorks); True when written."""
    current = wp.get("status") or {}
    total = sum(row["workloads"] for row in summary["kinds"])
    applied = sum(row["applied"] for row in summary["summary"])
    available = sum(row["available"] for row in summary["summary"])
    conditions = current.get("conditions") or []
    conditions = _count_condition(conditions, "Synced", "Pending", applied, total, "applied", now)
    conditions = _count_condition(conditions, "Available", "NotAvailable", available, total, "available", now)
    fresh = (
        hub.get(api.API_VERSION, api.KIND_PLACEMENT, wp["metadata"]["name"], wp["metadata"]["namespace"])
        if not check_mode
        else wp
    )
    if fresh is None:
        return False
    base = fresh.get("status") or {}
    merged = {**base, "summary": summary["summary"], "conditions": _merge_conditions(base, conditions)}
    if not summary["summary"]:
        del merged["summary"]  # an empty list reads back as absent: written as absent, or every pass rewrites it
    return write_placement_status(hub, fresh, merged, check_mode)


def _count_condition(
    conditions: list, ctype: str, short_reason: str, done: int, total: int, what: str, now: dt.datetime
) -> list:
    """Condition ``ctype``: True (reason ``ctype``) when every one of ``total`` objects is ``what``,
    else False (reason ``short_reason``); the message counts them."""
    whole = done == total
    return status.set_condition(
        conditions,
        ctype,
        "True" if whole else "False",
        ctype if whole else short_reason,
        f"{done}/{total} workload objects {what}",
        now,
    )


def _write_source_status(job: tuple) -> bool:
    """One source's aggregated status; False when unchanged or the source is gone (404: deleted
    meanwhile, its SyncWorks go next)."""
    hub, source, new, check_mode = job
    try:
        return apply_status(hub, source, source.get("status") or {}, new, check_mode, manager=CONTROLLER)
    except kube.KubeError as err:
        if err.status != 404:
            raise
        return False


def _merge_conditions(base: Mapping, conditions: list) -> list:
    """Keep the freshest Scheduled (written by the decision step) and our Synced/Available."""
    scheduled = [c for c in base.get("conditions") or [] if c.get("type") == "Scheduled"]
    ours = [c for c in conditions if c.get("type") != "Scheduled"]
    return scheduled + ours
