# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole push-mode sync pass of one hub namespace, as ``workload_sync`` runs it once.

Layer 4 of the engine; private to this collection. ``push_pass`` renews the heartbeat of
every push-mode member it reaches, plans (``plan``), writes SyncWorks and decisions
(``hub_writes``), applies on each member in parallel (``apply``), writes the SyncWork
statuses back and aggregates (``aggregate``); with ``wait`` it repeats the member side
until everything is available. The controller and the syncers run the same steps on
every change.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube, redact, render
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import (
    aggregate,
    apply,
    clusters,
    hub_writes,
    sealing_keys,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan as planning
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile.common import now_utc, run_all


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


def member_keys(hub: kube.Kube, registration: Mapping) -> list:
    """A push-mode member's sealing keys, from its credentials Secret (none: its sealed Secrets do not open)."""
    ref = (registration.get("spec") or {}).get("credentialsSecretRef") or {}
    if not ref:
        return []
    secret = hub.get("v1", "Secret", ref["name"], ref.get("namespace") or api.SYSTEM_NAMESPACE)
    return sealing_keys.from_secret(secret) or []


def hub_works_for(hub: kube.Kube, cluster: str, namespace: str | None = None) -> list[dict]:
    """The trusted SyncWorks of ``cluster`` (of the sources of hub ``namespace`` when given)."""
    selector = f"{render.LABEL_SOURCE_NAMESPACE}={render.label_value(namespace)}" if namespace else None
    found = hub.list(
        api.API_VERSION, api.KIND_SYNCWORK, namespace=api.cluster_namespace(cluster), label_selector=selector
    )
    return planning.trusted_works(found, namespace)


def run_members(members: Mapping[str, Any], task, concurrency: int = 8) -> dict:
    """Run ``task(cluster, client)`` for every member in parallel (bounded); returns results by cluster."""
    names = list(members)
    jobs = [(lambda name: task(name, members[name]), name) for name in names]
    return dict(zip(names, run_all(jobs, concurrency), strict=True))


@dataclass(frozen=True)
class PushRequest:
    """What ``workload_sync`` asks for (its options, check and diff mode, feature gates)."""

    namespace: str
    placement: str | None = None
    clusters: tuple[str, ...] | None = None
    wait: bool = False
    wait_timeout: float = 300
    concurrency: int = 8
    fail_on_error: bool = True
    thresholds: health.Thresholds = field(default_factory=lambda: health.Thresholds(40, 300))
    check_mode: bool = False
    diff: bool = False
    gates: api.FeatureGates | None = None

    @classmethod
    def from_params(cls, params: Mapping, check_mode: bool, diff: bool, gates: api.FeatureGates) -> PushRequest:
        return cls(
            namespace=params["namespace"],
            placement=params.get("placement"),
            clusters=tuple(params["clusters"]) if params.get("clusters") else None,
            wait=params["wait"],
            wait_timeout=params["wait_timeout"],
            concurrency=params["concurrency"],
            fail_on_error=params["fail_on_error"],
            thresholds=health.Thresholds(params["heartbeat_threshold"], params["eviction_timeout"]),
            check_mode=check_mode,
            diff=diff,
            gates=gates,
        )


@dataclass
class PushOutcome:
    """The module's result, and why it fails (None: it does not)."""

    result: dict
    failure: str | None = None


def _target_clusters(plan: planning.Plan, wanted) -> list[str]:
    targets = {w["spec"]["cluster"] for w in list(plan.desired.values()) + plan.delete}
    targets |= {w["spec"]["cluster"] for w in plan.existing.values()}
    if wanted:
        targets &= set(wanted)
    return sorted(targets)


def sync_mode(registration: Mapping) -> str:
    return (registration.get("spec") or {}).get("syncMode", "Push")


def push_members(hub: kube.Kube, registrations: Iterable[Mapping], refused: dict, keys: dict | None = None) -> dict:
    """Clients of every push-mode member, from the credentials stored at its registration; why a
    member has none goes into ``refused`` (by cluster); their sealing keys go to ``keys`` (by cluster)
    when given."""
    members = {}
    for registration in registrations:
        if sync_mode(registration) != "Push":
            continue
        name = registration["metadata"]["name"]
        try:
            members[name] = member_client(hub, registration)
            if keys is not None:
                keys[name] = member_keys(hub, registration)
        except api.TMCError as err:
            refused[name] = str(err)
    return members


def selection_warnings(request: PushRequest, plan: planning.Plan, registered: Iterable[str]) -> list[str]:
    """What the user asked for that selects nothing: said, so an empty result is not taken for success."""
    namespace, warnings = request.namespace, []
    names = [o.placement["metadata"]["name"] for o in plan.placements]
    if not names:
        warnings.append(f"namespace {namespace} has no WorkloadPlacement: nothing is placed, so nothing was synced")
    elif request.placement is not None and request.placement not in names:
        warnings.append(
            f"WorkloadPlacement {request.placement} does not exist in namespace {namespace} "
            f"(it has: {', '.join(names)}): nothing was synced"
        )
    for outcome in plan.placements:
        name = outcome.placement["metadata"]["name"]
        if outcome.result is not None and not outcome.workloads and request.placement in (None, name):
            warnings.append(
                f"WorkloadPlacement {name} selects no workload in namespace {namespace}: no object of the kinds in "
                "its resources matches its workloadSelector, or each one that does follows an earlier placement"
            )
    unknown = sorted(set(request.clusters or ()) - set(registered))
    if unknown:
        warnings.append(f"not registered, so not synced: {', '.join(unknown)}")
    return warnings


def _member_pass(hub: kube.Kube, request: PushRequest, plan: planning.Plan, members: dict, now, diff: bool, keys: dict):
    """Apply on every member and write back SyncWork statuses; returns (reports, works, status writes)."""
    check_mode = request.check_mode
    works = {c: (plan.works_for(c) if check_mode else hub_works_for(hub, c, request.namespace)) for c in members}
    # A cluster being deregistered is the deregistration's: nothing is applied, deleted or released there
    # (read after its SyncWorks were: a deletion seen above came after the mark, so this read sees it).
    for cluster in clusters.being_deregistered(hub, list(members)):
        members = {c: client for c, client in members.items() if c != cluster}
        works.pop(cluster)

    def one(cluster, member):
        try:
            return apply.apply_works(member, cluster, works[cluster], now, check_mode, diff, keys=keys.get(cluster))
        except kube.KubeError as err:
            report = apply.MemberReport(cluster)
            report.errors.append({"cluster": cluster, "message": f"member {cluster}: {err}"})
            return report

    reports = run_members(members, one, request.concurrency)
    written = 0
    for cluster, report in reports.items():
        written += hub_writes.write_work_statuses(hub, works[cluster], report, check_mode)
        hub_writes.release_finished(hub, report, check_mode)
    flat = [w for ws in works.values() for w in ws]
    return reports, flat, written


def _all_available(flat_works: list) -> bool:
    live = [w for w in flat_works if not w["metadata"].get("deletionTimestamp")]
    return all((w.get("status") or {}).get("available") for w in live)


def _member_diffs(reports: dict) -> dict:
    """Before and after of every changed member object, keyed cluster/kind/name; Secret values hidden."""
    before, after = {}, {}
    for report in reports.values():
        for d in report.diffs:
            key = f"{d['cluster']}/{d['kind']}/{d['name']}"
            before[key], after[key] = redact.redact_diff(d["before"], d["after"])
    return {"before": before, "after": after}


def push_pass(
    hub: kube.Kube,
    request: PushRequest,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> PushOutcome:
    """One push-mode sync pass of ``request.namespace``; see the module ``workload_sync``.

    Push-mode members are applied here; a pull-mode member's SyncWorks are its syncer's to apply
    (reported as such, never an error), and count towards ``available`` once its syncer says so."""
    gates = request.gates or api.FeatureGates.from_overrides()
    check_mode = request.check_mode
    now = now_utc()
    errors: list = []
    registrations = hub.list(api.API_VERSION, api.KIND_CLUSTER)
    modes = {r["metadata"]["name"]: sync_mode(r) for r in registrations}
    refused: dict = {}
    keys: dict = {}
    members = push_members(hub, registrations, refused, keys)
    # Push mode: this run is what syncs these clusters, so it renews their heartbeats.
    renewed, unreachable = clusters.renew_reachable_heartbeats(hub, members, now, check_mode)

    def plan_now(at):
        return planning.plan_works(
            hub,
            request.namespace,
            at,
            request.placement,
            request.clusters,
            gates,
            thresholds=request.thresholds,
            renewed=renewed,
        )

    plan = plan_now(now)
    counts = hub_writes.write_works(hub, plan, now, check_mode)
    errors.extend(plan.errors + counts.errors)
    targets = set(_target_clusters(plan, request.clusters))
    for name in sorted(targets):
        if name not in modes:
            errors.append(
                {"cluster": name, "message": f"cluster {name} is not registered: its SyncWorks wait until it is"}
            )
        elif name in refused:
            errors.append({"cluster": name, "message": refused[name]})
        elif name in unreachable:
            errors.append({"cluster": name, "message": unreachable[name]})
    pulled = sorted(name for name in targets if modes.get(name) == "Pull")
    members = {name: client for name, client in members.items() if name in targets and name in renewed}
    reports, flat, written = _member_pass(hub, request, plan, members, now, request.diff, keys)
    flat += _pulled_works(hub, request.namespace, pulled)
    written += aggregate.aggregate_status(hub, plan, flat, now, check_mode, gates)
    deadline = monotonic() + request.wait_timeout
    while request.wait and not check_mode and not _all_available(flat) and monotonic() < deadline:
        sleep(1)
        now = now_utc()
        plan = plan_now(now)
        _wait_reports, flat, extra = _member_pass(hub, request, plan, members, now, False, keys)
        flat += _pulled_works(hub, request.namespace, pulled)
        written += extra + aggregate.aggregate_status(hub, plan, flat, now, False, gates)
    for report in reports.values():
        errors.extend({"cluster": report.cluster, **e} for e in report.errors)
    available = _all_available(flat)
    changed = bool(counts.created or counts.updated or counts.deleted) or any(
        r.created or r.updated or r.deleted for r in reports.values()
    )
    per_cluster = {c: {"sync_mode": "Push", **r.as_dict()} for c, r in reports.items()}
    for name in pulled:
        works = [w for w in flat if w["spec"]["cluster"] == name and not w["metadata"].get("deletionTimestamp")]
        per_cluster[name] = {
            "sync_mode": "Pull",
            "message": "applied by its syncer",
            "syncworks": len(works),
            "available": sum(bool((w.get("status") or {}).get("available")) for w in works),
        }
    result = {
        "changed": changed,
        "syncworks": {"created": counts.created, "updated": counts.updated, "deleted": counts.deleted},
        "clusters": dict(sorted(per_cluster.items())),
        "decisions": {
            o.placement["metadata"]["name"]: (o.result.to_status() if o.result else []) for o in plan.placements
        },
        "errors": errors,
        "status_updates": written,
        "available": available,
    }
    warnings = selection_warnings(request, plan, modes)
    if warnings:
        result["warnings"] = warnings
    if request.diff:
        result["diff"] = _member_diffs(reports)
    if request.wait and not check_mode and not available:
        return PushOutcome(result, f"timed out after {request.wait_timeout}s waiting for: {_pending(flat, pulled)}")
    if errors and request.fail_on_error:
        return PushOutcome(
            result, f"{len(errors)} object(s) could not be synced; see 'errors'. First: {errors[0].get('message')}"
        )
    return PushOutcome(result)


def _pulled_works(hub: kube.Kube, namespace: str, pulled: list[str]) -> list[dict]:
    """The SyncWorks of pull-mode clusters as the hub holds them (their syncers write their status)."""
    return [w for name in pulled for w in hub_works_for(hub, name, namespace)]


def _pending(flat: list[dict], pulled: list[str]) -> str:
    """What is not available yet (the first 20), a pull-mode cluster's named as its syncer's."""
    pending = [
        f"{w['spec']['cluster']}/{w['spec']['manifest']['kind']}/{w['spec']['manifest']['metadata']['name']}"
        + (" (pull mode: applied by its syncer)" if w["spec"]["cluster"] in pulled else "")
        for w in flat
        if not (w.get("status") or {}).get("available") and not w["metadata"].get("deletionTimestamp")
    ]
    return ", ".join(pending[:20])
