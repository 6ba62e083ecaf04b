# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workspace view of one hub namespace: what is placed where, and how it runs.

Layer 4 of the engine; private to this collection. ``workload_info`` calls
``read_view`` (reads only); ``build_view`` is the pure part, over the objects read.

What is read, once per call: the namespace, its WorkloadPlacements (one list), the
SyncWorks of its workloads in every cluster namespace (one list, by the label
``tmc.kcp.io/source-namespace``) and the hub sources (one list per kind). Counting
reuses ``status.summarize`` and ``status.work_state``, so the numbers are those the
sync pass writes into each placement's ``status.summary``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube, render, status
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan as planning

PLACEMENT_CONDITIONS = ("Scheduled", "Synced", "Available")


def _group(api_version: str | None) -> str:
    return str(api_version or "").rpartition("/")[0]


def _workload_key(api_version: str | None, kind: str | None, name: str | None) -> tuple[str, str, str]:
    """(group, kind, name): a source and its SyncWorks agree on it even when versions differ."""
    return _group(api_version), str(kind or ""), str(name or "")


def _is_deleting(obj: Mapping) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _kind_matches(wanted: str | None, kind: str) -> bool:
    return wanted is None or wanted.lower() == kind.lower()


def _counters(kind: str, state: Mapping | None) -> dict:
    """The counters of ``kind`` present in a status (status.COUNTERS), in their Kubernetes names."""
    state = state or {}
    return {k: state[k] for k in status.COUNTERS.get(kind, ()) if isinstance(state.get(k), int)}


def _hub_status(kind: str, source: Mapping | None) -> dict:
    """A summary of the aggregated status TMC wrote on the hub source: counters and condition states."""
    if source is None:
        return {}
    state = source.get("status") or {}
    summary = _counters(kind, state)
    conditions = {
        c["type"]: c.get("status")
        for c in state.get("conditions") or ()
        if isinstance(c, Mapping) and isinstance(c.get("type"), str)
    }
    if conditions:
        summary["conditions"] = conditions
    ingress = ((state.get("loadBalancer") or {}).get("ingress")) or []
    if ingress:
        summary["loadBalancer"] = {"ingress": [dict(i) for i in ingress]}
    return summary


def _replicas(obj: Mapping | None) -> int | None:
    value = ((obj or {}).get("spec") or {}).get("replicas")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _cluster_entry(work: Mapping) -> dict:
    spec = work.get("spec") or {}
    manifest = spec.get("manifest") or {}
    state = work.get("status") or {}
    applied, available, degraded = status.work_state(work)
    return {
        "cluster": spec.get("cluster"),
        "syncwork": work["metadata"]["name"],
        "applied": applied,
        "available": available,
        "degraded": degraded,
        "desired_replicas": _replicas(manifest),
        "downstream": _counters(str(manifest.get("kind") or ""), state.get("downstreamStatus")),
        "message": state.get("message") or "",
        "last_applied": state.get("lastAppliedTime"),
    }


def claims(placements: Iterable[Mapping], sources: Mapping) -> dict:
    """Which placement selects each source, keyed like ``sources``: the first by name, as the sync pass does."""
    claimed: dict = {}
    for wp in sorted(placements, key=lambda p: p["metadata"]["name"]):
        for source in planning.selected_sources(wp.get("spec") or {}, sources):
            claimed.setdefault(
                (source["apiVersion"], source["kind"], source["metadata"]["name"]), wp["metadata"]["name"]
            )
    return claimed


def _placement_view(wp: Mapping, placed: list[Mapping], workloads: int, cluster: str | None) -> dict:
    meta = wp["metadata"]
    state = wp.get("status") or {}
    summary = status.summarize(placed)["summary"]
    if cluster is not None:
        summary = [row for row in summary if row["cluster"] == cluster]
    conditions = {}
    for ctype in PLACEMENT_CONDITIONS:
        condition = status.get_condition(state.get("conditions"), ctype)
        conditions[ctype] = (
            {k: condition.get(k, "") for k in ("status", "reason", "message")}
            if condition
            else {"status": status.UNKNOWN, "reason": "NotReported", "message": ""}
        )
    return {
        "name": meta["name"],
        "generation": meta.get("generation"),
        "observed_generation": state.get("observedGeneration"),
        "decisions": [dict(d) for d in state.get("decisions") or ()],
        "conditions": conditions,
        "shortfalls": [dict(s) for s in state.get("shortfalls") or ()],
        "workloads": workloads,
        "summary": summary,
    }


def build_view(
    namespace: str,
    placements: Iterable[Mapping],
    syncworks: Iterable[Mapping],
    sources: Mapping,
    placement: str | None = None,
    cluster: str | None = None,
    kind: str | None = None,
) -> dict:
    """The workspace view (pure): per kind, per cluster, per workload and per placement.

    ``sources`` are the hub objects keyed by (apiVersion, kind, name), as
    ``plan.list_sources`` returns them. ``placement``, ``cluster`` and ``kind`` narrow
    the kinds, clusters and workloads; placements are narrowed by ``placement`` only (and
    their summary rows by ``cluster``). A workload is available everywhere when it is
    placed and its object is available on every cluster it is placed on, whatever
    ``cluster`` says. SyncWorks being deleted are counted only in ``totals.deleting``.
    """
    placements = sorted(placements, key=lambda p: p["metadata"]["name"])
    claimed = claims(placements, sources)
    by_key = {_workload_key(*key): obj for key, obj in sources.items()}
    live, deleting = [], []
    for work in syncworks:
        src = (work.get("spec") or {}).get("source") or {}
        if src.get("namespace", namespace) != namespace:
            continue
        (deleting if _is_deleting(work) else live).append(work)

    # Every workload: those with SyncWorks, and those a placement selects that are placed nowhere yet.
    workloads: dict[tuple, dict] = {}
    for work in live:
        spec = work["spec"]
        src = spec.get("source") or {}
        key = _workload_key(src.get("apiVersion"), src.get("kind"), src.get("name"))
        entry = workloads.setdefault(
            key,
            {"api_version": src.get("apiVersion"), "kind": src.get("kind"), "name": src.get("name"), "works": []},
        )
        entry["works"].append(work)
        if not entry.get("placement"):
            entry["placement"] = spec.get("placement")
    for (api_version, source_kind, name), owner in claimed.items():
        entry = workloads.setdefault(
            _workload_key(api_version, source_kind, name),
            {"api_version": api_version, "kind": source_kind, "name": name, "works": []},
        )
        if not entry.get("placement"):
            entry["placement"] = owner

    rows, chosen_works = [], []
    for key in sorted(workloads, key=lambda k: (k[1], k[2], k[0])):
        entry = workloads[key]
        if placement is not None and entry["placement"] != placement:
            continue
        if not _kind_matches(kind, entry["kind"]):
            continue
        placed = sorted(entry["works"], key=lambda w: str(w["spec"].get("cluster")))
        shown = [w for w in placed if cluster is None or w["spec"].get("cluster") == cluster]
        if cluster is not None and not shown:
            continue
        chosen_works.extend(shown)
        source = by_key.get(key)
        rows.append(
            {
                "kind": entry["kind"],
                "api_version": entry["api_version"],
                "name": entry["name"],
                "placement": entry["placement"],
                "on_hub": source is not None,
                "desired_replicas": _replicas(source),
                "clusters": [_cluster_entry(w) for w in shown],
                "hub_status": _hub_status(entry["kind"], source),
                "available_everywhere": bool(placed) and all(status.work_state(w)[1] for w in placed),
            }
        )

    counts = status.summarize(chosen_works)
    sources_per_kind: dict[str, int] = {}
    for row in rows:
        sources_per_kind[row["kind"]] = sources_per_kind.get(row["kind"], 0) + 1
    kinds = {
        row["kind"]: {"kind": row["kind"], "sources": sources_per_kind.get(row["kind"], 0), **row}
        for row in counts["kinds"]
    }
    for name, number in sources_per_kind.items():
        kinds.setdefault(
            name, {"kind": name, "workloads": 0, "applied": 0, "available": 0, "degraded": 0, "sources": number}
        )
    per_cluster: dict[str, int] = {}
    for work in chosen_works:
        per_cluster[work["spec"].get("cluster")] = per_cluster.get(work["spec"].get("cluster"), 0) + 1
    clusters = [
        {"cluster": row["cluster"], "workloads": per_cluster.get(row["cluster"], 0), **row} for row in counts["summary"]
    ]

    by_placement: dict[str, list] = {}
    sources_of_placement: dict[str, int] = {}
    for entry in workloads.values():
        by_placement.setdefault(entry["placement"], []).extend(entry["works"])
        sources_of_placement[entry["placement"]] = sources_of_placement.get(entry["placement"], 0) + 1
    placement_rows = [
        _placement_view(
            wp,
            by_placement.get(wp["metadata"]["name"], []),
            sources_of_placement.get(wp["metadata"]["name"], 0),
            cluster,
        )
        for wp in placements
        if placement is None or wp["metadata"]["name"] == placement
    ]

    totals = {
        "sources": len(rows),
        "workloads": len(chosen_works),
        "applied": sum(c["applied"] for c in clusters),
        "available": sum(c["available"] for c in clusters),
        "degraded": sum(c["degraded"] for c in clusters),
        "deleting": sum(
            1
            for w in deleting
            if (placement is None or w["spec"].get("placement") == placement)
            and (cluster is None or w["spec"].get("cluster") == cluster)
            and _kind_matches(kind, str((w["spec"].get("source") or {}).get("kind") or ""))
        ),
    }
    return {
        "namespace": namespace,
        "totals": totals,
        "available": bool(rows) and all(r["available_everywhere"] for r in rows),
        "kinds": [kinds[k] for k in sorted(kinds)],
        "clusters": clusters,
        "workloads": rows,
        "placements": placement_rows,
    }


# ------------------------------------------------------------------ reads (hub)


def _source_kinds(placements: Iterable[Mapping], syncworks: Iterable[Mapping], kind: str | None) -> set:
    """(group, kind) of every source the view may show: the placements' resources and the SyncWorks' sources."""
    wanted = {rk for wp in placements for rk in planning.resources_of(wp.get("spec") or {})}
    for work in syncworks:
        src = (work.get("spec") or {}).get("source") or {}
        if src.get("kind"):
            wanted.add((_group(src.get("apiVersion")), src["kind"]))
    return {(group, k) for group, k in wanted if _kind_matches(kind, k)}


def list_sources(hub: kube.Kube, namespace: str, kinds: Iterable[tuple[str, str]]) -> dict:
    """``plan.list_sources``, one kind at a time, skipping kinds (or groups) the hub does not serve."""
    found: dict = {}
    for group_kind in sorted(set(kinds)):
        try:
            found.update(planning.list_sources(hub, namespace, [group_kind]))
        except kube.KubeError as err:
            if err.status != 404:
                raise
    return found


def read_view(
    hub: kube.Kube,
    namespace: str,
    placement: str | None = None,
    cluster: str | None = None,
    kind: str | None = None,
) -> dict:
    """Read the namespace's placements, SyncWorks and sources from the hub, and build the view."""
    if hub.get("v1", "Namespace", namespace) is None:
        raise api.SpecError("namespace", f"hub namespace {namespace!r} does not exist")
    placements = hub.list(api.API_VERSION, api.KIND_PLACEMENT, namespace=namespace)
    selector = f"{render.LABEL_SOURCE_NAMESPACE}={render.label_value(namespace)}"
    warnings = []
    try:
        # Only the SyncWorks the controller itself believes (render.untrusted_reason).
        syncworks = planning.trusted_works(
            hub.list(api.API_VERSION, api.KIND_SYNCWORK, label_selector=selector), namespace
        )
    except kube.KubeError as err:
        if err.status != 403:
            raise
        # Tenants may not read SyncWorks (docs/concepts/security.md): the view then has the placements'
        # decisions and summaries and the workloads' aggregated status, without per-object cluster rows.
        syncworks = []
        warnings.append(
            "this identity may not read SyncWorks: per-cluster rows of each workload are left out "
            "(the placements' summaries and the workloads' aggregated status are shown)"
        )
    sources = list_sources(hub, namespace, _source_kinds(placements, syncworks, kind))
    view = build_view(namespace, placements, syncworks, sources, placement, cluster, kind)
    registered = _registered(hub, cluster)
    unreadable = bool(warnings)  # SyncWorks this identity may not read: what the placements recorded instead
    if unreadable:
        _from_placement_status(view, placements, cluster)
    warnings += view_warnings(view, placements, placement, cluster, None if unreadable else kind, registered)
    return {**view, "warnings": warnings} if warnings else view


def _registered(hub: kube.Kube, cluster: str | None) -> bool:
    """Whether ``cluster`` is registered; taken as registered when this identity may not read registrations."""
    if cluster is None:
        return True
    try:
        return hub.get(api.API_VERSION, api.KIND_CLUSTER, cluster) is not None
    except kube.KubeError as err:
        if err.status != 403:
            raise
        return True


def view_warnings(
    view: Mapping,
    placements: Iterable[Mapping],
    placement: str | None,
    cluster: str | None,
    kind: str | None,
    registered: bool,
) -> list[str]:
    """Why a view is empty, when what was asked for does not exist: said, so that an empty answer is
    not read as 'nothing is wrong'."""
    namespace, warnings = view["namespace"], []
    names = sorted(p["metadata"]["name"] for p in placements)
    if not names:
        warnings.append(f"namespace {namespace} has no WorkloadPlacement: nothing in it is placed")
    elif placement is not None and placement not in names:
        warnings.append(
            f"WorkloadPlacement {placement} does not exist in namespace {namespace} (it has: {', '.join(names)})"
        )
    if cluster is not None and not registered:
        warnings.append(f"cluster {cluster} is not registered")
    if kind is not None and not view["workloads"] and names:
        scope = "".join(
            f" {label} {value}" for label, value in (("for placement", placement), ("on cluster", cluster)) if value
        )
        warnings.append(f"no workload of kind {kind} is placed in namespace {namespace}{scope}")
    return warnings


def _from_placement_status(view: dict, placements: Iterable[Mapping], cluster: str | None) -> None:
    """Without SyncWorks: each placement's summary as the controller wrote it, and "available" from
    the placements' Available conditions."""
    recorded = {wp["metadata"]["name"]: (wp.get("status") or {}) for wp in placements}
    for row in view["placements"]:
        summary = [dict(r) for r in recorded.get(row["name"], {}).get("summary") or ()]
        row["summary"] = [r for r in summary if cluster is None or r.get("cluster") == cluster]
    view["available"] = bool(view["placements"]) and all(
        row["conditions"]["Available"]["status"] == "True" for row in view["placements"]
    )
