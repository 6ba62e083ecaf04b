# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 1 of the sync pass (hub, read only): decide, select, render, compare.

Layer 4 of the engine; private to this collection. ``plan_works`` decides every
WorkloadPlacement of a namespace, selects its workloads, renders one manifest per
(workload, cluster) and compares the resulting SyncWorks with those on the hub. The
other steps: ``hub_writes`` (SyncWorks and placement status), ``apply`` (member),
``aggregate`` (sources' status, placement summaries); ``sync`` runs them all once
(push mode), the controller and the syncers on every change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import (
    api,
    health,
    kinds,
    kube,
    placement,
    render,
    status,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters as cluster_steps
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile.common import (
    object_key,
    source_key,
    source_of,
)

# ------------------------------------------------------------------ sources


def api_version_for(hub, group: str) -> str:
    if group in kinds.GROUP_VERSIONS:
        return f"{group}/{kinds.GROUP_VERSIONS[group]}" if group else kinds.GROUP_VERSIONS[group]
    found = hub.request("GET", f"/apis/{group}")
    return found["preferredVersion"]["groupVersion"]


def resources_of(spec: Mapping) -> list[tuple[str, str]]:
    listed = spec.get("resources") or [{"group": g, "kind": k} for g, k in kinds.DEFAULT_RESOURCES]
    return [(r.get("group", "") or "", r["kind"]) for r in listed]


def load_policy(hub) -> render.TenantPolicy:
    """The platform admin's tenant policy (ConfigMap tmc-system/tmc-policy); the defaults without it."""
    try:
        configmap = hub.get("v1", "ConfigMap", render.POLICY_CONFIGMAP, api.SYSTEM_NAMESPACE)
    except kube.KubeError as err:
        if err.status not in (403, 404):
            raise
        configmap = None  # not allowed to read it: the defaults, which allow less than any admin would
    return render.TenantPolicy.from_configmap(configmap)


def placeable_resources(hub, policy: render.TenantPolicy, spec: Mapping) -> tuple[list, list]:
    """(placed, refused): the kinds of ``spec.resources`` (group, kind) the placement places, and
    those the allow-list does not hold (no longer, or never: a hub without the admission policies).
    Raise api.SpecError naming ``spec.resources[i]`` for a cluster-scoped kind, whatever the
    allow-list says."""
    resources = resources_of(spec)
    for index, (group, kind) in enumerate(resources):
        try:
            namespaced = hub.resource(api_version_for(hub, group), kind).namespaced
        except (kube.KubeError, AttributeError, KeyError):
            continue  # not served by this hub (nothing to place), or a reader without discovery
        if not namespaced:
            raise api.SpecError(
                f"spec.resources[{index}]",
                f"{render.kind_key(group, kind)} is cluster-scoped: a WorkloadPlacement places namespaced kinds "
                "only (cluster-scoped kinds are not placed yet: see docs/concepts/security.md)",
            )
    placed = [rk for rk in resources if policy.allows(*rk)]
    return placed, [rk for rk in resources if rk not in placed]


def placed_spec(spec: Mapping, placed: Iterable[tuple[str, str]]) -> dict:
    """``spec`` with only the ``placed`` kinds in its resources (those the allow-list holds)."""
    return {**spec, "resources": [{"group": group, "kind": kind} for group, kind in placed]}


def list_sources(hub, namespace: str, resources: Iterable[tuple[str, str]]) -> dict:
    """Every object of the listed kinds in a hub namespace, keyed by (apiVersion, kind, name).

    Only objects of that namespace: a cluster-scoped kind listed "in" a namespace would return
    the whole hub's (placeable_resources refuses those kinds before; this holds without it too)."""
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
            if _placeable(obj) and obj["metadata"].get("namespace") == namespace:
                found[source_key(obj)] = obj
    return found


def get_sources(hub, namespace: str, keys: Iterable[tuple[str, str, str]]) -> dict:
    """Those of ``keys`` ((apiVersion, kind, name)) that exist in a hub namespace, as ``list_sources``
    would have found them: read one by one, for a pass over a few changed sources."""
    found: dict = {}
    for api_version, kind, name in keys:
        obj = hub.get(api_version, kind, name, namespace)
        if obj is not None and _placeable(obj) and obj["metadata"].get("namespace") == namespace:
            found[source_key(obj)] = obj
    return found


def _placeable(obj: Mapping) -> bool:
    """Not one of the objects a cluster makes for itself in every namespace (``kinds.is_self_made``):
    the hub's own are never placed, and a member's own are never taken over."""
    return not kinds.is_self_made(obj)


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
    # Per workload ("Kind/name") this pass divided: why its replicas do not fit, or None when they do.
    # None: this pass divided none of the placement's workloads.
    capacity: dict | None = field(default_factory=dict)
    scope: set | None = None  # the sources this pass looked at ((apiVersion, kind, name)); None: all
    # The kinds of spec.resources the allow-list does not hold ((group, kind)): not placed, and what the
    # placement placed of them before stays as it is (``frozen_work``). None: not known (invalid placement).
    refused: list | None = None


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
    policy: render.TenantPolicy = field(default_factory=render.TenantPolicy)
    untrusted: list = field(default_factory=list)  # (SyncWork key, reason): seen and ignored
    listed: dict = field(default_factory=dict)  # placement name -> the kinds its spec.resources lists

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
        # The sealed block (a Secret's ciphertext, up to a megabyte) is not kept either: the digest
        # covers what decides whether it must be sealed again.
        work["spec"] = {k: v for k, v in spec.items() if k not in ("manifest", "sealed")}
        work["spec"][SPEC_DIGEST] = render.manifest_hash(render.comparable_spec(spec))
    if isinstance(work.get("status"), dict):
        work["status"] = compact_status(work["status"])
    return work


def compact_status(current: Mapping) -> dict:
    """What the controller keeps of a SyncWork status (see ``compact_work``)."""
    kept = {k: current[k] for k in KEPT_STATUS if k in current}
    degraded = status.get_condition(current.get("conditions"), "Degraded")
    if degraded is not None and degraded.get("status") is not None:
        condition = {"type": "Degraded", "status": degraded["status"]}
        if degraded["status"] == status.TRUE:  # why, for the source's status (aggregate.cluster_status)
            condition.update({k: degraded[k] for k in ("reason", "message", "lastTransitionTime") if k in degraded})
        kept["conditions"] = [condition]
    return kept


def work_differs(desired: Mapping, current: Mapping) -> bool:
    current_spec = current.get("spec") or {}
    wanted = render.comparable_spec(desired.get("spec"))
    if SPEC_DIGEST in current_spec:
        if render.manifest_hash(wanted) != current_spec[SPEC_DIGEST]:
            return True
    elif render.canonical_json(wanted) != render.canonical_json(render.comparable_spec(current_spec)):
        return True
    labels = current["metadata"].get("labels") or {}
    return any(labels.get(k) != v for k, v in (desired["metadata"].get("labels") or {}).items())


def _cluster_labels(registrations: Iterable[Mapping]) -> dict[str, dict]:
    return {r["metadata"]["name"]: dict(r["metadata"].get("labels") or {}) for r in registrations}


def _dependency_sources(
    source: Mapping, sources: Mapping, hub, namespace: str, policy: render.TenantPolicy
) -> list[dict]:
    """What follows ``source`` (propagateDependencies): of the kinds the allow-list holds only."""
    found = []
    for kind, name in sorted(render.dependencies(source)):
        if not policy.allows("", kind):
            continue
        key = ("v1", kind, name)
        obj = sources.get(key)
        if obj is None:
            obj = hub.get("v1", kind, name, namespace)
        if obj is not None and _placeable(obj) and obj["metadata"].get("namespace") == namespace:
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
    policy: render.TenantPolicy | None = None,
) -> Plan:
    """Decide and render, reading only. Scope: one namespace, optionally one placement, some clusters,
    or some sources ((apiVersion, kind, name) keys: the controller's per-object passes).

    ``hub`` is anything with the read methods of ``kube.Kube`` (``list``, ``get``, ``request``):
    a client, or the controller's watch caches. ``policy``: the tenant policy (read from the hub
    when not given); a placement that breaks it is invalid and places nothing.
    """
    plan = Plan(namespace)
    plan.policy = policy = policy or load_policy(hub)
    plan.only_sources = only_sources
    gates = gates or api.FeatureGates.from_overrides()
    wanted_clusters = set(clusters) if clusters else None
    placements = sorted(
        hub.list(api.API_VERSION, api.KIND_PLACEMENT, namespace=namespace), key=lambda p: p["metadata"]["name"]
    )
    # A cluster being deregistered takes no new work; its SyncWorks are the deregistration's to remove.
    registrations = [r for r in hub.list(api.API_VERSION, api.KIND_CLUSTER) if not cluster_steps.deregistration_mode(r)]
    if thresholds is not None:
        # Decide on each cluster's health now (``renewed``: heartbeats this pass renewed, or would in check mode).
        leases = cluster_steps.heartbeat_leases(hub)
        stamp = {"spec": {"renewTime": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}
        leases.update({name: stamp for name in renewed or ()})
        registrations = cluster_steps.with_current_health(
            registrations, leases, now, thresholds, gates.is_enabled("TMCFailover")
        )
    labels_of = _cluster_labels(registrations)
    sealing_keys = _sealing_keys(registrations)
    ns_obj = hub.get("v1", "Namespace", namespace)
    if ns_obj is None:
        raise api.SpecError("namespace", f"hub namespace {namespace!r} does not exist")
    ns_labels = ns_obj["metadata"].get("labels") or {}
    plan.listed = {p["metadata"]["name"]: set(resources_of(p.get("spec") or {})) for p in placements}
    placed_kinds = {rk for listed in plan.listed.values() for rk in listed if policy.allows(*rk)}
    autoscalers = HPA in placed_kinds
    if only_sources is not None and autoscalers:
        only_sources = plan.only_sources = _with_scale_targets(hub, namespace, only_sources)
    if not placements:
        plan.sources = {}
    elif only_sources is not None:
        # Which placement takes a workload depends on the placements and that workload only: a pass
        # over some sources reads just those (O(changed), not O(namespace)).
        plan.sources = get_sources(hub, namespace, only_sources)
    else:
        plan.sources = list_sources(hub, namespace, placed_kinds)
    decided = []
    for wp in placements:
        name = wp["metadata"]["name"]
        try:
            placed, refused = placeable_resources(hub, policy, wp.get("spec") or {})
            result = placement.decide(
                wp, registrations, previous=wp.get("status"), namespace_labels=ns_labels, gates=gates, now=now
            )
        except api.TMCError as err:
            plan.placements.append(PlacementOutcome(wp, None, str(err)))
            plan.errors.append({"placement": name, "message": str(err)})
            plan.protected_placements.add(name)  # keep what runs; an invalid policy deletes nothing
            continue
        outcome = PlacementOutcome(wp, result, scope=only_sources, refused=refused)
        if refused:  # the kinds still allowed keep being placed; the others are not (the condition KindsAllowed)
            outcome.placement = {**wp, "spec": placed_spec(wp.get("spec") or {}, placed)}
        if placement_name is not None and name != placement_name:
            outcome.capacity = None  # not divided by this pass: what its status records stays
        plan.placements.append(outcome)
        decided.append(outcome)
    autoscaled = _autoscaled(hub, namespace, decided, plan.sources, only_sources) if autoscalers else {}
    claimed: dict = {}
    for outcome in decided:
        name = outcome.placement["metadata"]["name"]
        in_scope = placement_name is None or name == placement_name
        spec = outcome.placement.get("spec") or {}
        if outcome.refused and not spec["resources"]:
            continue  # every kind it lists is refused: it places nothing new
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
                _dependency_sources(source, plan.sources, hub, namespace, policy)
                if spec.get("propagateDependencies")
                else []
            )
            shares = _divide(plan, outcome, source, spec, outcome.result, name)
            # A cluster given 0 replicas of a Divided workload is no part of its decision: neither the
            # workload nor what follows it (propagateDependencies) goes there.
            runs_on = [c for c in outcome.result.clusters if shares is None or shares.get(c)]
            for obj in [source, *followers]:
                if obj is not source and source_key(obj) in claimed:
                    continue
                if obj is not source:
                    claimed[source_key(obj)] = name
                retained = _retained_on(obj, spec, autoscaled)
                _render_for_clusters(
                    plan,
                    obj,
                    spec,
                    runs_on,
                    name,
                    labels_of,
                    wanted_clusters,
                    retained,
                    shares if obj is source else None,
                    sealing_keys,
                )
    _diff_plan(hub, plan, namespace, placement_name, wanted_clusters)
    return plan


# The kind whose objects scale others: one of them placed beside a workload leaves its replicas to the member.
HPA = ("autoscaling", "HorizontalPodAutoscaler")


def _with_scale_targets(hub, namespace: str, only_sources: set) -> set:
    """``only_sources`` and the workloads its autoscalers scale: an autoscaler that comes or changes
    changes who owns its target's replica count, so the target is rendered again in the same pass."""
    found = set(only_sources)
    for api_version, kind, name in only_sources:
        if (kinds.group_of(api_version), kind) != HPA:
            continue
        hpa = hub.get(api_version, kind, name, namespace)
        ref = (((hpa or {}).get("spec") or {}).get("scaleTargetRef")) or {}
        if ref.get("apiVersion") and ref.get("kind") and ref.get("name"):
            found.add((ref["apiVersion"], ref["kind"], ref["name"]))
    return found


def _autoscaled(hub, namespace: str, decided: list, sources: Mapping, only_sources: set | None) -> dict:
    """(group, kind, name) of every workload that a placed autoscaler scales -> the clusters that
    autoscaler goes to (those of the first placement by name that selects it)."""
    if only_sources is None:
        hpas = [obj for key, obj in sources.items() if (kinds.group_of(key[0]), key[1]) == HPA]
    else:  # a pass over some sources: the autoscalers of the namespace are not among them
        hpas = list(list_sources(hub, namespace, [HPA]).values())
    found: dict = {}
    for hpa in sorted(hpas, key=source_key):
        target = kinds.scale_target(hpa)
        if target is None:
            continue
        for outcome in decided:
            if selected_sources(outcome.placement.get("spec") or {}, {source_key(hpa): hpa}):
                found.setdefault(target, set()).update(outcome.result.clusters)
                break
    return found


def _retained_on(source: Mapping, spec: Mapping, autoscaled: Mapping) -> Callable[[str], bool]:
    """Whether the member owns ``source``'s replica count on a cluster: the placement says so
    (``replicaScheduling.retainReplicas``), or an autoscaler placed there scales it."""
    known = kinds.spec_for(source.get("kind"), source.get("apiVersion"))
    has_replicas = bool(known.replicas) if known is not None else "replicas" in (source.get("spec") or {})
    if not has_replicas:
        return lambda _cluster: False
    if (spec.get("replicaScheduling") or {}).get("retainReplicas") is True:
        return lambda _cluster: True
    scaled_on = autoscaled.get((kinds.group_of(source["apiVersion"]), source["kind"], source["metadata"]["name"]), ())
    return lambda cluster: cluster in scaled_on


def _divide(plan: Plan, outcome: PlacementOutcome, source: Mapping, spec: Mapping, result, name: str) -> dict | None:
    """The source's replicas per cluster (Divided placements; None otherwise), and in ``outcome.capacity``
    whether they fit the room the clusters report (Duplicated too)."""
    total = (source.get("spec") or {}).get("replicas") if isinstance(source.get("spec"), Mapping) else None
    if isinstance(total, bool) or not isinstance(total, int):
        return None
    workload = f"{source['kind']}/{source['metadata']['name']}"
    divided = (spec.get("replicaScheduling") or {}).get("type") == "Divided"
    try:
        division = result.division_for(total, pod_request(source))
    except api.TMCError as err:  # an unreadable resource request: this workload's problem only
        outcome.capacity[workload] = f"cannot tell how its replicas fit: {err}"
        if not divided:
            return None
        plan.errors.append({"placement": name, "source": workload, "message": str(err)})
        for cluster in result.clusters:  # what runs stays as it is: an unreadable request deletes nothing
            plan.protected.add((api.cluster_namespace(cluster), render.syncwork_name(source, cluster)))
        return {}
    outcome.capacity[workload] = division.shortfall
    return division.shares if divided else None


def _sealing_keys(registrations: Iterable[Mapping]) -> dict[str, str]:
    """Each cluster's public sealing key, as its syncer (or cluster_registration) published it."""
    found = {}
    for registration in registrations:
        key = (((registration.get("status") or {}).get("sealing")) or {}).get("publicKey")
        if key:
            found[registration["metadata"]["name"]] = key
    return found


def _sealed(manifest: dict, source: Mapping, cluster: str, sealing_keys: Mapping) -> tuple[dict, dict | None]:
    """The manifest without its sensitive fields and their sealed block (a Secret), or as it is."""
    if not render.sensitive_fields(manifest):
        return manifest, None
    key = sealing_keys.get(cluster)
    if not key:
        raise api.SpecError(
            "cluster",
            f"{cluster} has published no sealing key yet: a {manifest['kind']} is placed there once its syncer "
            "(or cluster_registration in push mode) has published one on its ClusterRegistration",
        )
    return render.seal_manifest(manifest, cluster, key, source["metadata"].get("resourceVersion") or "")


def _render_for_clusters(
    plan: Plan,
    source: dict,
    spec: Mapping,
    clusters: Iterable[str],
    placement_name: str,
    labels_of: Mapping,
    wanted: set | None,
    retained: Callable[[str], bool],
    shares: Mapping | None = None,
    sealing_keys: Mapping | None = None,
) -> None:
    for cluster in clusters:
        if wanted is not None and cluster not in wanted:
            continue
        replicas = shares.get(cluster) if shares is not None else None
        retain = retained(cluster)
        try:
            manifest = render.render_manifest(
                source,
                cluster,
                replicas=replicas,
                overrides=spec.get("overrides") or (),
                cluster_labels=labels_of.get(cluster, {}),
                retain_replicas=retain,
            )
            manifest, sealed = _sealed(manifest, source, cluster, sealing_keys or {})
            work = render.build_syncwork(
                source,
                cluster,
                manifest,
                placement_name,
                spec.get("deletionPolicy", "Delete"),
                initial_replicas=(replicas if replicas is not None else kinds.replica_count(source))
                if retain
                else None,
                sealed=sealed,
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


def trusted_works(works: Iterable[Mapping], namespace: str | None = None, untrusted: list | None = None) -> list:
    """The SyncWorks a reader of status may believe (``render.untrusted_reason``), of the sources of
    hub namespace ``namespace`` when given; the others go to ``untrusted`` as (key, reason)."""
    kept = []
    for work in works:
        reason = render.untrusted_reason(work)
        if reason is None and namespace is not None and (work["spec"]["source"].get("namespace") != namespace):
            reason = f"its spec.source is in namespace {work['spec']['source'].get('namespace')!r}, not {namespace!r}"
        if reason is None:
            kept.append(work)
        elif untrusted is not None:
            untrusted.append((object_key(work), reason))
    return kept


def _diff_plan(hub, plan: Plan, namespace: str, placement_name: str | None, wanted: set | None) -> None:
    for work in trusted_works(_existing_works(hub, namespace, plan.only_sources), namespace, plan.untrusted):
        plan.existing[object_key(work)] = work
    for key, work in sorted(plan.desired.items()):
        current = plan.existing.get(key)
        if current is None:
            plan.create.append(work)
        elif current["metadata"].get("deletionTimestamp"):
            continue  # being deleted; re-created on a later pass
        elif work_differs(work, current):
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
            continue  # what runs stays as it is: an invalid placement or a failed render deletes nothing
        if frozen_work(plan, work):
            continue
        plan.delete.append(work)


def frozen_work(plan: Plan, work: Mapping) -> bool:
    """Whether ``work`` is of a kind the allow-list no longer holds, made by a placement that still
    lists that kind: kept as it is (narrowing the allow-list moves nothing; the placement's condition
    KindsAllowed says so). It goes with its placement, or when the placement stops listing the kind."""
    spec = work.get("spec") or {}
    source = spec.get("source") or {}
    kind = (str(source.get("apiVersion") or "").rpartition("/")[0], str(source.get("kind") or ""))
    return not plan.policy.allows(*kind) and kind in plan.listed.get(spec.get("placement"), ())
