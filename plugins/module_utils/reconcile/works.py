# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One pass of workload sync: decide, render SyncWorks, apply them, aggregate status.

Layer 4 of the engine; private to this collection. ``workload_sync`` runs each
step once (push mode); the controller and the syncers run the same steps on
every change.

1. ``plan_works`` (hub, read only): decide every WorkloadPlacement of a namespace,
   select its workloads, render one manifest per (workload, cluster) and compare
   the resulting SyncWorks with those on the hub.
2. ``write_works`` (hub): create, update and delete SyncWorks; write placement decisions.
3. ``apply_works`` (member): server-side apply each SyncWork's manifest with field
   manager ``tmc-syncer``, create namespaces on demand, revert drift, delete per the
   finalizer protocol, and compute each SyncWork's status. An object the member refuses
   is reported for that object and stops nothing else.
4. ``write_work_statuses`` (hub) and ``aggregate_status`` (hub): SyncWork status, then
   the sources' status and each placement's summary.

A no-op pass makes no write: a SyncWork whose manifest hash and downstream
fingerprint (generation, or resourceVersion for kinds without one) match what
was last applied is left alone, so repeats cost one list per kind and cluster.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube, placement, render, status
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters as cluster_steps

CONTROLLER = api.CONTROLLER_FIELD_MANAGER
SYNCER = api.FIELD_MANAGER
WP_STATUS_MANAGER = "tmc-placement"

# Where the default source kinds live (group -> version); other groups are discovered.
KNOWN_VERSIONS = {"": "v1", "apps": "v1", "batch": "v1", "networking.k8s.io": "v1", "policy": "v1", "autoscaling": "v2"}
# Kinds whose hub source has a status that TMC aggregates.
STATUS_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "Service", "Ingress"})


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def object_key(obj: Mapping) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]


def source_key(obj: Mapping) -> tuple[str, str, str]:
    return obj["apiVersion"], obj["kind"], obj["metadata"]["name"]


# ------------------------------------------------------------------ sources


def api_version_for(hub, group: str) -> str:
    if group in KNOWN_VERSIONS:
        return f"{group}/{KNOWN_VERSIONS[group]}" if group else "v1"
    found = hub.request("GET", f"/apis/{group}")
    return found["preferredVersion"]["groupVersion"]


def resources_of(spec: Mapping) -> list[tuple[str, str]]:
    listed = spec.get("resources") or [{"group": g, "kind": k} for g, k in api.DEFAULT_RESOURCES]
    return [(r.get("group", "") or "", r["kind"]) for r in listed]


def list_sources(hub, namespace: str, resources: Iterable[tuple[str, str]]) -> dict:
    """Every object of the listed kinds in a hub namespace, keyed by (apiVersion, kind, name)."""
    found: dict = {}
    for group, kind in sorted(set(resources)):
        try:
            version = api_version_for(hub, group)
            items = hub.list(version, kind, namespace=namespace)
        except kube.KubeError as err:
            if err.status == 404:
                continue  # a kind this hub does not serve: nothing to place
            raise
        for obj in items:
            if _placeable(obj):
                found[source_key(obj)] = obj
    return found


def get_sources(hub, namespace: str, keys: Iterable[tuple[str, str, str]]) -> dict:
    """Those of ``keys`` ((apiVersion, kind, name)) that exist in a hub namespace, as ``list_sources``
    would have found them: read one by one, for a pass over a few changed sources."""
    found: dict = {}
    for api_version, kind, name in keys:
        obj = hub.get(api_version, kind, name, namespace)
        if obj is not None and _placeable(obj):
            found[source_key(obj)] = obj
    return found


def _placeable(obj: Mapping) -> bool:
    """Not one of the objects Kubernetes makes in every namespace (token Secrets, the root CA)."""
    return not _is_service_account_token(obj) and obj["metadata"]["name"] != "kube-root-ca.crt"


def _is_service_account_token(obj: Mapping) -> bool:
    return obj.get("kind") == "Secret" and obj.get("type") == "kubernetes.io/service-account-token"


def selected_sources(spec: Mapping, sources: Mapping) -> list[dict]:
    kinds = {kind for _group, kind in resources_of(spec)}
    selector = spec.get("workloadSelector") or {}
    chosen = [
        obj
        for key, obj in sources.items()
        if key[1] in kinds and render.selector_matches(selector, obj["metadata"].get("labels"), "spec.workloadSelector")
    ]
    return sorted(chosen, key=source_key)


def pod_request(source: Mapping) -> dict | None:
    """Summed container requests of one replica ({cpu, memory} quantities), or None."""
    template = ((source.get("spec") or {}).get("template") or {}).get("spec") or {}
    cpu = memory = 0.0
    for container in template.get("containers", []) or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        if "cpu" in requests:
            cpu += placement.parse_cpu(requests["cpu"])
        if "memory" in requests:
            memory += placement.parse_memory(requests["memory"])
    if not cpu and not memory:
        return None
    return {"cpu": f"{int(cpu * 1000)}m", "memory": str(int(memory))}


# ------------------------------------------------------------------ plan


@dataclass
class PlacementOutcome:
    placement: dict
    result: Any  # placement.PlacementResult, or None when the placement is invalid
    error: str | None = None
    workloads: int = 0


@dataclass
class Plan:
    namespace: str
    desired: dict = field(default_factory=dict)  # (ns, name) -> SyncWork
    existing: dict = field(default_factory=dict)  # (ns, name) -> SyncWork on the hub
    create: list = field(default_factory=list)
    update: list = field(default_factory=list)
    delete: list = field(default_factory=list)
    placements: list = field(default_factory=list)
    sources: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    only_sources: set | None = None
    protected: set = field(default_factory=set)  # SyncWork keys kept as they are (their render failed)
    protected_placements: set = field(default_factory=set)  # placements whose decision failed

    def works_for(self, cluster: str) -> list[dict]:
        """What a member should hold after this plan (deleted works marked for deletion)."""
        ns = api.cluster_namespace(cluster)
        live = [w for (wns, _name), w in self.desired.items() if wns == ns]
        gone = [
            {
                **w,
                "metadata": {**w["metadata"], "deletionTimestamp": w["metadata"].get("deletionTimestamp") or "pending"},
            }
            for w in self.delete
            if w["metadata"]["namespace"] == ns
        ]
        return live + gone


# Where ``compact_work`` keeps the digest of the spec whose manifest it dropped (never on the hub).
SPEC_DIGEST = "tmc.specDigest"


# What the controller reads of a SyncWork's status: the summaries (work_state) and the aggregation.
KEPT_STATUS = ("applied", "available", "observedGeneration", "downstreamStatus")
# Metadata the controller never reads back from a cached SyncWork: it writes SyncWorks from its plan,
# deletes them by name, and compares labels and the spec digest only. Without them a cached SyncWork
# takes 179 bytes instead of 261 (make bench-cache).
DROPPED_METADATA = ("annotations", "uid", "creationTimestamp")


def compact_work(work: dict) -> dict:
    """A SyncWork as the controller caches it: the manifest (most of its size) replaced by the
    digest of the whole spec, which is all that comparing it with a desired SyncWork needs; of its
    metadata all but ``DROPPED_METADATA``; of its status only what the summaries and the
    aggregation read (``KEPT_STATUS`` and whether it is Degraded)."""
    meta = work.get("metadata")
    if isinstance(meta, dict):
        for key in DROPPED_METADATA:
            meta.pop(key, None)
    spec = work.get("spec")
    if isinstance(spec, dict) and "manifest" in spec:
        work["spec"] = {k: v for k, v in spec.items() if k != "manifest"}
        work["spec"][SPEC_DIGEST] = render.manifest_hash(spec)
    if isinstance(work.get("status"), dict):
        work["status"] = compact_status(work["status"])
    return work


def compact_status(current: Mapping) -> dict:
    """What the controller keeps of a SyncWork status (see ``compact_work``)."""
    kept = {k: current[k] for k in KEPT_STATUS if k in current}
    degraded = status.condition_status(current.get("conditions"), "Degraded")
    if degraded is not None:
        kept["conditions"] = [{"type": "Degraded", "status": degraded}]
    return kept


def _work_differs(desired: Mapping, current: Mapping) -> bool:
    current_spec = current.get("spec") or {}
    if SPEC_DIGEST in current_spec:
        if render.manifest_hash(desired.get("spec")) != current_spec[SPEC_DIGEST]:
            return True
    elif render.canonical_json(desired.get("spec")) != render.canonical_json(current_spec):
        return True
    labels = current["metadata"].get("labels") or {}
    return any(labels.get(k) != v for k, v in (desired["metadata"].get("labels") or {}).items())


def _cluster_labels(registrations: Iterable[Mapping]) -> dict[str, dict]:
    return {r["metadata"]["name"]: dict(r["metadata"].get("labels") or {}) for r in registrations}


def _dependency_sources(source: Mapping, sources: Mapping, hub, namespace: str) -> list[dict]:
    found = []
    for kind, name in sorted(render.dependencies(source)):
        key = ("v1", kind, name)
        obj = sources.get(key)
        if obj is None:
            obj = hub.get("v1", kind, name, namespace)
        if obj is not None and not _is_service_account_token(obj):
            found.append(obj)
    return found


def plan_works(
    hub,
    namespace: str,
    now: dt.datetime,
    placement_name: str | None = None,
    clusters: Iterable[str] | None = None,
    gates: api.FeatureGates | None = None,
    only_sources: set | None = None,
    thresholds: health.Thresholds | None = None,
    renewed: set | None = None,
) -> Plan:
    """Decide and render, reading only. Scope: one namespace, optionally one placement, some clusters,
    or some sources ((apiVersion, kind, name) keys: the controller's per-object passes).

    ``hub`` is anything with the read methods of ``kube.Kube`` (``list``, ``get``, ``request``):
    a client, or the controller's watch caches.
    """
    plan = Plan(namespace)
    plan.only_sources = only_sources
    gates = gates or api.FeatureGates.from_overrides()
    wanted_clusters = set(clusters) if clusters else None
    placements = sorted(
        hub.list(api.API_VERSION, api.KIND_PLACEMENT, namespace=namespace), key=lambda p: p["metadata"]["name"]
    )
    registrations = hub.list(api.API_VERSION, api.KIND_CLUSTER)
    if thresholds is not None:
        # Decide on each cluster's health now (``renewed``: heartbeats this pass renewed, or would in check mode).
        leases = cluster_steps.heartbeat_leases(hub)
        stamp = {"spec": {"renewTime": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}
        leases.update({name: stamp for name in renewed or ()})
        registrations = cluster_steps.with_current_health(
            registrations, leases, now, thresholds, gates.is_enabled("TMCFailover")
        )
    labels_of = _cluster_labels(registrations)
    ns_obj = hub.get("v1", "Namespace", namespace)
    if ns_obj is None:
        raise api.SpecError("namespace", f"hub namespace {namespace!r} does not exist")
    ns_labels = ns_obj["metadata"].get("labels") or {}
    kinds = {rk for p in placements for rk in resources_of(p.get("spec") or {})}
    if not placements:
        plan.sources = {}
    elif only_sources is not None:
        # Which placement takes a workload depends on the placements and that workload only: a pass
        # over some sources reads just those (O(changed), not O(namespace)).
        plan.sources = get_sources(hub, namespace, only_sources)
    else:
        plan.sources = list_sources(hub, namespace, kinds)
    claimed: dict = {}
    for wp in placements:
        name = wp["metadata"]["name"]
        in_scope = placement_name is None or name == placement_name
        spec = wp.get("spec") or {}
        try:
            result = placement.decide(
                wp, registrations, previous=wp.get("status"), namespace_labels=ns_labels, gates=gates, now=now
            )
        except api.TMCError as err:
            plan.placements.append(PlacementOutcome(wp, None, str(err)))
            plan.errors.append({"placement": name, "message": str(err)})
            plan.protected_placements.add(name)  # keep what runs; an invalid policy deletes nothing
            continue
        outcome = PlacementOutcome(wp, result)
        plan.placements.append(outcome)
        for source in selected_sources(spec, plan.sources):
            key = source_key(source)
            if key in claimed:
                if in_scope:
                    plan.errors.append(
                        {
                            "placement": name,
                            "source": "/".join(key[1:]),
                            "message": f"already placed by WorkloadPlacement {claimed[key]}; "
                            "a workload follows the first placement by name",
                        }
                    )
                continue
            claimed[key] = name
            outcome.workloads += 1
            if not in_scope or (only_sources is not None and key not in only_sources):
                continue
            followers = (
                _dependency_sources(source, plan.sources, hub, namespace) if spec.get("propagateDependencies") else []
            )
            for obj in [source, *followers]:
                if obj is not source and source_key(obj) in claimed:
                    continue
                if obj is not source:
                    claimed[source_key(obj)] = name
                _render_for_clusters(plan, obj, spec, result, name, labels_of, wanted_clusters)
    _diff_plan(hub, plan, namespace, placement_name, wanted_clusters)
    return plan


def _render_for_clusters(
    plan: Plan, source: dict, spec: Mapping, result, placement_name: str, labels_of: Mapping, wanted: set | None
) -> None:
    total = (source.get("spec") or {}).get("replicas") if isinstance(source.get("spec"), Mapping) else None
    divided = (spec.get("replicaScheduling") or {}).get("type") == "Divided"
    shares = result.replicas_for(total, pod_request(source)) if divided and isinstance(total, int) else None
    for cluster in result.clusters:
        if wanted is not None and cluster not in wanted:
            continue
        replicas = shares.get(cluster) if shares is not None else None
        if shares is not None and replicas == 0:
            continue  # a zero share places nothing there
        try:
            manifest = render.render_manifest(
                source,
                cluster,
                replicas=replicas,
                overrides=spec.get("overrides") or (),
                cluster_labels=labels_of.get(cluster, {}),
            )
            work = render.build_syncwork(
                source, cluster, manifest, placement_name, spec.get("deletionPolicy", "Delete")
            )
        except api.TMCError as err:
            plan.errors.append(
                {
                    "placement": placement_name,
                    "cluster": cluster,
                    "source": f"{source['kind']}/{source['metadata']['name']}",
                    "message": str(err),
                }
            )
            # What runs there stays as it is: a manifest that cannot be rendered deletes nothing.
            plan.protected.add((api.cluster_namespace(cluster), render.syncwork_name(source, cluster)))
            continue
        plan.desired[object_key(work)] = work


def _existing_works(hub, namespace: str, only_sources: set | None) -> list[dict]:
    """The namespace's SyncWorks on the hub; only those of ``only_sources`` when the hub is the
    controller's cache, whose index finds them without a scan."""
    if only_sources is not None and hasattr(hub, "works_of"):
        return [w for source in sorted(only_sources) for w in hub.works_of(namespace, source)]
    selector = f"{render.LABEL_SOURCE_NAMESPACE}={render.label_value(namespace)}"
    return hub.list(api.API_VERSION, api.KIND_SYNCWORK, label_selector=selector)


def _diff_plan(hub, plan: Plan, namespace: str, placement_name: str | None, wanted: set | None) -> None:
    for work in _existing_works(hub, namespace, plan.only_sources):
        plan.existing[object_key(work)] = work
    for key, work in sorted(plan.desired.items()):
        current = plan.existing.get(key)
        if current is None:
            plan.create.append(work)
        elif current["metadata"].get("deletionTimestamp"):
            continue  # being deleted; re-created on a later pass
        elif _work_differs(work, current):
            plan.update.append(work)
    for key, work in sorted(plan.existing.items()):
        if key in plan.desired or work["metadata"].get("deletionTimestamp"):
            continue
        labels = work["metadata"].get("labels") or {}
        if placement_name is not None and labels.get(api.LABEL_PLACEMENT) != render.label_value(placement_name):
            continue
        if wanted is not None and (work.get("spec") or {}).get("cluster") not in wanted:
            continue
        if plan.only_sources is not None and source_of(work) not in plan.only_sources:
            continue
        if key in plan.protected or (work.get("spec") or {}).get("placement") in plan.protected_placements:
            continue
        plan.delete.append(work)


# ------------------------------------------------------------------ write (hub)


@dataclass
class HubCounts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    placements_updated: int = 0
    errors: list = field(default_factory=list)
    transient: int = 0  # errors worth a retry (the API server was unavailable, not the object refused)


HUB_WRITE_CONCURRENCY = 8  # parallel writes to the hub in one pass
MEMBER_APPLY_CONCURRENCY = 8  # parallel applies to one member in one pass


def write_works(
    hub: kube.Kube, plan: Plan, now: dt.datetime, check_mode: bool = False, concurrency: int = HUB_WRITE_CONCURRENCY
) -> HubCounts:
    """Make the hub's SyncWorks match the plan (writes in parallel, bounded) and record each placement's
    decisions."""
    counts = HubCounts()

    def create(work: dict) -> str:
        try:
            hub.create(work, dry_run=check_mode)
        except kube.KubeError as err:
            if check_mode and err.status == 404 and err.details.get("kind") == "namespaces":
                return "created"  # the cluster's namespace is created by its registration
            if err.status == 409:  # there already: what we planned from (a daemon's cache) lags behind the hub
                return update(work)
            raise
        return "created"

    def update(work: dict) -> str:
        hub.apply(_without_finalizers(work), CONTROLLER, dry_run=check_mode)
        return "updated"

    def delete(work: dict) -> str:
        meta = work["metadata"]
        hub.delete(api.API_VERSION, api.KIND_SYNCWORK, meta["name"], meta["namespace"], dry_run=check_mode)
        return "deleted"

    jobs = [(create, w) for w in plan.create] + [(update, w) for w in plan.update] + [(delete, w) for w in plan.delete]
    for (_step, work), outcome in zip(jobs, _run_bounded(jobs, concurrency), strict=True):
        if isinstance(outcome, kube.KubeError):
            counts.errors.append(_work_error(work, outcome))
            counts.transient += kube.is_transient(outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            setattr(counts, outcome, getattr(counts, outcome) + 1)
    for outcome in plan.placements:
        if _write_placement_decisions(hub, outcome, now, check_mode):
            counts.placements_updated += 1
    return counts


def _run_bounded(jobs: list, concurrency: int) -> list:
    """``step(work)`` for each ``(step, work)`` job, at most ``concurrency`` at once; each result or the
    exception it raised, in order."""

    def attempt(job):
        step, work = job
        try:
            return step(work)
        except Exception as err:  # noqa: BLE001 - handed back to the caller, in order
            return err

    if len(jobs) <= 1 or concurrency <= 1:
        return [attempt(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(jobs))) as pool:
        return list(pool.map(attempt, jobs))


def _run_all(jobs: list, concurrency: int) -> list:
    """Like ``_run_bounded``, but the first exception (in job order) is raised once all have run."""
    outcomes = _run_bounded(jobs, concurrency)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes


def _without_finalizers(work: Mapping) -> dict:
    meta = {k: v for k, v in work["metadata"].items() if k != "finalizers"}
    return {**work, "metadata": meta}


def _work_error(work: Mapping, err: Exception) -> dict:
    spec = work.get("spec") or {}
    manifest = spec.get("manifest") or {}
    return {
        "cluster": spec.get("cluster"),
        "kind": manifest.get("kind"),
        "name": (manifest.get("metadata") or {}).get("name"),
        "message": str(err),
    }


def _write_placement_decisions(hub: kube.Kube, outcome: PlacementOutcome, now: dt.datetime, check_mode: bool) -> bool:
    wp = outcome.placement
    current = wp.get("status") or {}
    conditions = current.get("conditions") or []
    if outcome.result is None:
        decisions = current.get("decisions") or []
        conditions = status.set_condition(
            conditions, "Scheduled", "False", "InvalidPlacement", outcome.error or "", now
        )
    else:
        decisions = outcome.result.to_status()
        scheduled = outcome.result.scheduled
        conditions = status.set_condition(
            conditions,
            "Scheduled",
            "True" if scheduled else "False",
            "Scheduled" if scheduled else "NoCluster",
            outcome.result.message,
            now,
        )
    new = {
        **current,
        "observedGeneration": wp["metadata"].get("generation"),
        "decisions": decisions,
        "conditions": conditions,
    }
    return _apply_status(hub, wp, current, new, check_mode)


def status_differs(current: Mapping, new: Mapping) -> bool:
    """True when writing status ``new`` over status ``current`` would change it."""
    return render.canonical_json(current) != render.canonical_json(new)


def _apply_status(
    hub: kube.Kube, obj: Mapping, current: Mapping, new: Mapping, check_mode: bool, manager: str = WP_STATUS_MANAGER
) -> bool:
    if not status_differs(current, new):
        return False
    if not check_mode:
        meta = obj["metadata"]
        patch = {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "metadata": {"name": meta["name"], **({"namespace": meta["namespace"]} if meta.get("namespace") else {})},
            "status": dict(new),
        }
        hub.apply(patch, manager, subresource="status")
    return True


# ------------------------------------------------------------------ apply (member)


@dataclass
class MemberReport:
    cluster: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    errors: list = field(default_factory=list)
    statuses: dict = field(default_factory=dict)  # (ns, name) of SyncWork -> new status
    finished: list = field(default_factory=list)  # SyncWorks whose finalizer can go
    diffs: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "errors": self.errors,
        }


def fingerprint(obj: Mapping | None) -> str | None:
    """What changes when anyone changes the object's spec (or data, for kinds without generation)."""
    if not obj:
        return None
    meta = obj.get("metadata") or {}
    generation = meta.get("generation")
    return f"g{generation}" if generation else f"rv{meta.get('resourceVersion')}"


def _live_index(member: kube.Kube, cluster: str, works: list[Mapping]) -> dict:
    """Live managed objects on the member, one list per kind, keyed by (apiVersion, kind, ns, name)."""
    kinds = sorted({(w["spec"]["manifest"]["apiVersion"], w["spec"]["manifest"]["kind"]) for w in works})
    selector = f"{api.LABEL_MANAGED}=true,{api.LABEL_CLUSTER}={cluster}"
    index = {}
    for api_version, kind in kinds:
        try:
            items = member.list(api_version, kind, label_selector=selector)
        except kube.KubeError as err:
            if err.status == 404:
                continue
            raise
        for obj in items:
            index[(api_version, kind, obj["metadata"].get("namespace") or "", obj["metadata"]["name"])] = obj
    return index


def manifest_key(manifest: Mapping) -> tuple:
    meta = manifest["metadata"]
    return manifest["apiVersion"], manifest["kind"], meta.get("namespace") or "", meta["name"]


def _ensure_namespace(member: kube.Kube, namespace: str, known: set, check_mode: bool) -> None:
    if not namespace or namespace in known:
        return
    if member.get("v1", "Namespace", namespace) is None and not check_mode:
        try:
            member.create(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": namespace,
                        "labels": {api.LABEL_MANAGED: "true"},
                        "annotations": {api.ANNOTATION_CREATED_NAMESPACE: "true"},
                    },
                }
            )
        except kube.KubeError as err:
            if err.status != 409:
                raise
    known.add(namespace)


def _work_status(
    work: Mapping, live: Mapping | None, now: dt.datetime, error: str | None = None, applied_hash: str | None = None
) -> dict:
    current = work.get("status") or {}
    manifest = work["spec"]["manifest"]
    conditions = current.get("conditions") or []
    new = dict(current)
    new["observedGeneration"] = work["metadata"].get("generation")
    if error is not None:
        new.update({"applied": False, "available": False, "message": error[:4000]})
        conditions = status.set_condition(conditions, "Applied", "False", "ApplyFailed", error[:1000], now)
        conditions = status.set_condition(conditions, "Degraded", "True", "ApplyFailed", error[:1000], now)
        new["conditions"] = conditions
        return new
    available = status.is_available(manifest["kind"], live) if live else False
    new.update(
        {
            "applied": True,
            "available": bool(available),
            "message": "",
            "downstreamStatus": status.downstream_status(live) if live else {},
            "downstreamFingerprint": fingerprint(live) or "",
            "downstreamUID": live["metadata"].get("uid", "") if live else "",
        }
    )
    if applied_hash:
        new["appliedManifestHash"] = applied_hash
        new["lastAppliedTime"] = status.format_time(now)
    conditions = status.set_condition(conditions, "Applied", "True", "Applied", "", now)
    conditions = status.set_condition(
        conditions, "Available", "True" if available else "False", "Available" if available else "NotAvailable", "", now
    )
    conditions = status.set_condition(conditions, "Degraded", "False", "Healthy", "", now)
    new["conditions"] = conditions
    return new


def apply_works(
    member: kube.Kube,
    cluster: str,
    works: list[Mapping],
    now: dt.datetime,
    check_mode: bool = False,
    diff: bool = False,
    live: Mapping | None = None,
    concurrency: int = MEMBER_APPLY_CONCURRENCY,
    namespaces: set | None = None,
) -> MemberReport:
    """Make the member hold exactly the manifests of ``works`` (the SyncWorks of ``cluster``):
    deletions first, then the applies, ``concurrency`` at a time.

    ``live``: the member's managed objects keyed by (apiVersion, kind, namespace, name) when the
    caller has them cached (the syncer's watches); else they are listed, one call per kind.
    ``namespaces``: member namespaces known to exist, kept by a caller that runs many passes (the
    syncer), so that a namespace is looked up once, not once per apply.
    """
    report = MemberReport(cluster)
    live = _live_index(member, cluster, works) if live is None else live
    namespaces = set() if namespaces is None else namespaces
    ordered = sorted(works, key=object_key)
    for work in [w for w in ordered if w["metadata"].get("deletionTimestamp")]:  # deletions first, in order
        manifest = work["spec"]["manifest"]
        try:
            _finish_deleted(member, work, live.get(manifest_key(manifest)), report, check_mode)
        except kube.KubeError as err:
            _record_error(report, work, err, now)

    def apply(work: Mapping) -> MemberReport:
        part = MemberReport(cluster)
        try:
            _apply_one(
                member, work, live.get(manifest_key(work["spec"]["manifest"])), namespaces, part, now, check_mode, diff
            )
        except kube.KubeError as err:
            _record_error(part, work, err, now)
        return part

    applies = [(apply, w) for w in ordered if not w["metadata"].get("deletionTimestamp")]
    for part in _run_all(applies, concurrency):
        _merge_report(report, part)
    return report


def _record_error(report: MemberReport, work: Mapping, err: kube.KubeError, now: dt.datetime) -> None:
    key = manifest_key(work["spec"]["manifest"])
    report.errors.append(
        {"kind": key[1], "namespace": key[2], "name": key[3], "status": err.status, "message": str(err)}
    )
    report.statuses[object_key(work)] = _work_status(work, None, now, error=str(err))


def _merge_report(report: MemberReport, part: MemberReport) -> None:
    for counter in ("created", "updated", "deleted", "unchanged"):
        setattr(report, counter, getattr(report, counter) + getattr(part, counter))
    report.errors += part.errors
    report.statuses.update(part.statuses)
    report.finished += part.finished
    report.diffs += part.diffs


def _apply_one(
    member: kube.Kube,
    work: Mapping,
    current: Mapping | None,
    namespaces: set,
    report: MemberReport,
    now: dt.datetime,
    check_mode: bool,
    diff: bool,
) -> None:
    manifest = work["spec"]["manifest"]
    wanted_hash = render.manifest_hash(manifest)
    previous = work.get("status") or {}
    if (
        current is not None
        and previous.get("appliedManifestHash") == wanted_hash
        and previous.get("downstreamFingerprint") == fingerprint(current)
    ):
        report.unchanged += 1
        report.statuses[object_key(work)] = _work_status(work, current, now)
        return
    namespace = manifest["metadata"].get("namespace") or ""
    _ensure_namespace(member, namespace, namespaces, check_mode)
    try:
        result = member.apply(manifest, SYNCER, force=True, dry_run=check_mode)
    except kube.KubeError as err:
        if not (err.status == 404 and err.details.get("kind") == "namespaces"):
            raise
        if check_mode:
            result = dict(manifest)  # its namespace would be created first
        else:  # known, but deleted since: create it again
            namespaces.discard(namespace)
            _ensure_namespace(member, namespace, namespaces, check_mode)
            result = member.apply(manifest, SYNCER, force=True)
    if current is None:
        report.created += 1
    elif kube.comparable(result) != kube.comparable(current):
        report.updated += 1
    else:
        report.unchanged += 1
    if diff and (current is None or kube.comparable(result) != kube.comparable(current)):
        report.diffs.append(
            {
                "cluster": report.cluster,
                "kind": manifest["kind"],
                "name": manifest["metadata"]["name"],
                "before": kube.comparable(current) or {},
                "after": kube.comparable(result) or {},
            }
        )
    report.statuses[object_key(work)] = _work_status(
        work, result if not check_mode else current or result, now, applied_hash=wanted_hash
    )


def _finish_deleted(
    member: kube.Kube, work: Mapping, current: Mapping | None, report: MemberReport, check_mode: bool
) -> None:
    """Finalizer protocol: delete the downstream object (policy Delete), then the SyncWork may go."""
    manifest = work["spec"]["manifest"]
    if work["spec"].get("deletionPolicy", "Delete") == "Delete" and current is not None:
        meta = manifest["metadata"]
        member.delete(manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace"), dry_run=check_mode)
        report.deleted += 1
        if not check_mode and member.get(manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace")):
            return  # still there (its own finalizers): the finalizer stays until it is gone
    report.finished.append(work)


def release_finished(hub: kube.Kube, report: MemberReport, check_mode: bool = False) -> None:
    """Remove the syncer finalizer from SyncWorks whose downstream side is done."""
    if check_mode:
        return
    for work in report.finished:
        current = hub.get(api.API_VERSION, api.KIND_SYNCWORK, work["metadata"]["name"], work["metadata"]["namespace"])
        if current is None:
            continue
        finalizers = [f for f in current["metadata"].get("finalizers") or [] if f != api.FINALIZER_SYNCER]
        hub.patch(
            api.API_VERSION,
            api.KIND_SYNCWORK,
            current["metadata"]["name"],
            {"metadata": {"finalizers": finalizers or None, "resourceVersion": current["metadata"]["resourceVersion"]}},
            namespace=current["metadata"]["namespace"],
        )


def write_work_statuses(
    hub: kube.Kube, works: Iterable[Mapping], report: MemberReport, check_mode: bool = False
) -> int:
    """Write the SyncWork statuses a member pass computed (in parallel, bounded); returns how many changed."""

    def write(work: dict) -> bool:
        new = report.statuses[object_key(work)]
        if _apply_status(hub, work, work.get("status") or {}, new, check_mode, manager=SYNCER):
            work["status"] = new
            return True
        return False

    jobs = [
        (write, work)
        for work in works
        if object_key(work) in report.statuses
        and not work["metadata"].get("deletionTimestamp")
        and work["metadata"].get("uid") is not None  # check mode: the SyncWork does not exist yet
    ]
    return sum(_run_all(jobs, HUB_WRITE_CONCURRENCY))


# ------------------------------------------------------------------ push mode


def member_client(hub: kube.Kube, registration: Mapping) -> kube.Kube:
    """The member's client from its push-mode credentials Secret on the hub."""
    name = registration["metadata"]["name"]
    ref = (registration.get("spec") or {}).get("credentialsSecretRef") or {}
    if not ref:
        raise api.SpecError(f"ClusterRegistration {name}", "has no credentialsSecretRef: it is not in push mode")
    secret = hub.get("v1", "Secret", ref["name"], ref.get("namespace") or api.SYSTEM_NAMESPACE)
    data = ((secret or {}).get("data") or {}).get("kubeconfig")
    if not data:
        raise api.SpecError(
            f"ClusterRegistration {name}",
            f"credentials Secret {ref.get('namespace')}/{ref['name']} is missing or has no kubeconfig",
        )
    config = json.loads(base64.b64decode(data))
    return kube.client_for(kube.ClientConfig(kubeconfig=config))


def hub_works_for(hub: kube.Kube, cluster: str, namespace: str | None = None) -> list[dict]:
    selector = f"{render.LABEL_SOURCE_NAMESPACE}={render.label_value(namespace)}" if namespace else None
    return hub.list(
        api.API_VERSION, api.KIND_SYNCWORK, namespace=api.cluster_namespace(cluster), label_selector=selector
    )


def run_members(members: Mapping[str, Any], task, concurrency: int = 8) -> dict:
    """Run ``task(cluster, client)`` for every member in parallel (bounded); returns results by cluster."""
    names = list(members)
    jobs = [(lambda name: task(name, members[name]), name) for name in names]
    return dict(zip(names, _run_all(jobs, concurrency), strict=True))


# ------------------------------------------------------------------ aggregate (hub)


def source_of(work: Mapping) -> tuple:
    src = (work.get("spec") or {}).get("source") or {}
    return src.get("apiVersion"), src.get("kind"), src.get("name")


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
            if not placed or source["kind"] not in STATUS_KINDS:
                continue
            if only_sources is not None and key not in only_sources:
                continue
            per_cluster = {w["spec"]["cluster"]: (w.get("status") or {}).get("downstreamStatus") or {} for w in placed}
            new = status.aggregate_status(source["kind"], per_cluster, now, source["metadata"].get("generation"))
            if not status_differs(source.get("status") or {}, new) or (defer is not None and defer(key)):
                continue
            jobs.append((_write_source_status, (hub, source, new, check_mode)))
        written += sum(_run_all(jobs, HUB_WRITE_CONCURRENCY))

    for outcome in plan.placements if placements else ():
        placed = by_placement.get(outcome.placement["metadata"]["name"], [])
        if write_placement_summary(hub, outcome.placement, status.summarize(placed), now, check_mode):
            written += 1
    return written


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
    return _apply_status(hub, fresh, base, merged, check_mode)


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
        return _apply_status(hub, source, source.get("status") or {}, new, check_mode, manager=CONTROLLER)
    except kube.KubeError as err:
        if err.status != 404:
            raise
        return False


def _merge_conditions(base: Mapping, conditions: list) -> list:
    """Keep the freshest Scheduled (written by the decision step) and our Synced/Available."""
    scheduled = [c for c in base.get("conditions") or [] if c.get("type") == "Scheduled"]
    ours = [c for c in conditions if c.get("type") != "Scheduled"]
    return scheduled + ours
