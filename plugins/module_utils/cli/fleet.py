# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read commands: ``clusters``, ``placements``, ``explain``, ``workloads``. Each is the engine call a module
makes (``cluster_info``, ``placement`` with ``explain``, ``workload_info``), rendered for a terminal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube, placement, render
from ansible_collections.tmc.multicluster.plugins.module_utils.cli.output import Result
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters, views
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan as planning


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _taints(view: Mapping) -> list[str]:
    return [f"{t['key']}:{t['effect']}" for t in view.get("taints") or []]


def cluster_views(hub: kube.Kube, thresholds: health.Thresholds, now: dt.datetime) -> list[dict]:
    """What ``cluster_info`` returns: every cluster's health judged now, capacity, taints, workloads."""
    registrations = hub.list(api.API_VERSION, api.KIND_CLUSTER)
    leases = clusters.heartbeat_leases(hub)
    counts = clusters.work_counts(hub)
    found = [
        clusters.cluster_view(r, leases.get(r["metadata"]["name"]), counts, now, thresholds) for r in registrations
    ]
    return sorted(found, key=lambda v: v["name"])


def clusters_command(hub: kube.Kube, thresholds: health.Thresholds) -> Result:
    found = cluster_views(hub, thresholds, now_utc())
    columns = [
        ("name", lambda v: v["name"]),
        ("ready", lambda v: v["ready"]),
        ("heartbeat", lambda v: None if v["heartbeat_age_seconds"] is None else f"{v['heartbeat_age_seconds']:g}s"),
        ("mode", lambda v: v["sync_mode"]),
        ("location", lambda v: v["location"]),
        ("taints", _taints),
        ("cpu", lambda v: v["allocatable"].get("cpu")),
        ("memory", lambda v: v["allocatable"].get("memory")),
        ("workloads", lambda v: v["workloads"]),
        ("available", lambda v: v["available"]),
    ]
    return Result({"clusters": found}, columns, found)


def _placements(hub: kube.Kube, namespace: str | None) -> list[dict]:
    found = hub.list(api.API_VERSION, api.KIND_PLACEMENT, namespace=namespace)
    return sorted(found, key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]))


def _condition(obj: Mapping, kind: str) -> str | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition.get("status")
    return None


def placements_command(hub: kube.Kube, namespace: str | None) -> Result:
    rows = []
    for wp in _placements(hub, namespace):
        state = wp.get("status") or {}
        rows.append(
            {
                "namespace": wp["metadata"]["namespace"],
                "name": wp["metadata"]["name"],
                "clusters": [d["cluster"] for d in state.get("decisions") or []],
                "decisions": state.get("decisions") or [],
                "scheduled": _condition(wp, "Scheduled"),
                "synced": _condition(wp, "Synced"),
                "available": _condition(wp, "Available"),
                "summary": state.get("summary") or [],
            }
        )
    columns = [
        ("namespace", lambda r: r["namespace"]),
        ("name", lambda r: r["name"]),
        ("clusters", lambda r: r["clusters"]),
        ("scheduled", lambda r: r["scheduled"]),
        ("synced", lambda r: r["synced"]),
        ("available", lambda r: r["available"]),
    ]
    return Result({"placements": rows}, columns, rows)


def decide_now(
    hub: kube.Kube,
    wp: Mapping,
    thresholds: health.Thresholds,
    gates: api.FeatureGates,
    now: dt.datetime,
    registrations: list[dict] | None = None,
    leases: Mapping | None = None,
):
    """The decision the placement module makes for ``wp`` now: clusters with their health of this
    moment (``clusters.with_current_health``), the previous decisions for Steady, the namespace's labels."""
    fresh = clusters.with_current_health(
        registrations if registrations is not None else hub.list(api.API_VERSION, api.KIND_CLUSTER),
        leases if leases is not None else clusters.heartbeat_leases(hub),
        now,
        thresholds,
        gates.is_enabled("TMCFailover"),
    )
    ns = hub.get("v1", "Namespace", wp["metadata"]["namespace"]) or {"metadata": {}}
    return placement.decide(
        wp,
        fresh,
        previous=wp.get("status"),
        namespace_labels=ns["metadata"].get("labels") or {},
        gates=gates,
        now=now,
    )


def _workload(hub: kube.Kube, wp: Mapping, name: str) -> dict:
    """The source named ``name`` among the kinds ``wp`` places (``kind/name`` or ``name``)."""
    kind, _slash, plain = name.rpartition("/")
    namespace = wp["metadata"]["namespace"]
    for group, resource_kind in planning.resources_of(wp.get("spec") or {}):
        if kind and resource_kind.lower() != kind.lower():
            continue
        found = hub.get(planning.api_version_for(hub, group), resource_kind, plain, namespace)
        if found is not None:
            return found
    raise api.SpecError("workload", f"no workload {name!r} of the kinds placement {wp['metadata']['name']} places")


def explain_command(
    hub: kube.Kube,
    namespace: str,
    name: str,
    workload: str | None,
    thresholds: health.Thresholds,
    gates: api.FeatureGates,
) -> Result:
    wp = hub.get(api.API_VERSION, api.KIND_PLACEMENT, name, namespace)
    if wp is None:
        raise api.SpecError("placement", f"no WorkloadPlacement {namespace}/{name} on the hub")
    result = decide_now(hub, wp, thresholds, gates, now_utc())
    data = {
        "placement": f"{namespace}/{name}",
        "message": result.message,
        "decisions": result.to_status(),
        "clusters": result.explanations,
    }
    notes = [f"\n{result.message}"]
    if workload:
        source = _workload(hub, wp, workload)
        selector = (wp.get("spec") or {}).get("workloadSelector") or {}
        selected = render.selector_matches(selector, source["metadata"].get("labels"), "spec.workloadSelector")
        replicas = (source.get("spec") or {}).get("replicas")
        shares = result.replicas_for(int(replicas), planning.pod_request(source)) if isinstance(replicas, int) else {}
        data["workload"] = {
            "name": f"{source['kind']}/{source['metadata']['name']}",
            "selected": selected,
            "replicas": shares,
        }
        notes.append(
            f"{source['kind']}/{source['metadata']['name']}: "
            + (
                "selected by this placement" + (f"; replicas {shares}" if shares else "")
                if selected
                else "NOT selected: its labels do not match spec.workloadSelector"
            )
        )
    rows = [{"cluster": c, **e} for c, e in result.explanations.items()]
    columns = [
        ("cluster", lambda r: r["cluster"]),
        ("selected", lambda r: r["selected"]),
        ("why", lambda r: "; ".join(r["reasons"])),
    ]
    return Result(data, columns, rows, notes)


def workloads_command(
    hub: kube.Kube, namespace: str, placement_name: str | None, cluster: str | None, kind: str | None
) -> Result:
    view = views.read_view(hub, namespace, placement_name, cluster, kind)
    rows = [
        {**w, "cluster": c["cluster"], "state": c}
        for w in view["workloads"]
        for c in (w["clusters"] or [{"cluster": None}])
    ]

    def state(row: Mapping) -> str:
        c = row["state"]
        if row["cluster"] is None:
            return "not placed"
        if c.get("degraded"):
            return f"Degraded: {c.get('message') or ''}".strip()
        return "Available" if c.get("available") else ("Applied" if c.get("applied") else "Pending")

    columns = [
        ("kind", lambda r: r["kind"]),
        ("name", lambda r: r["name"]),
        ("placement", lambda r: r["placement"]),
        ("cluster", lambda r: r["cluster"]),
        ("replicas", lambda r: r["state"].get("desired_replicas")),
        ("ready", lambda r: (r["state"].get("downstream") or {}).get("readyReplicas")),
        ("state", state),
    ]
    return Result(view, columns, rows)
