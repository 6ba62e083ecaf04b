#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: workload_sync
short_description: Sync a hub namespace's workloads to the member clusters once (push mode)
version_added: 0.1.0
author:
  - Jesse Sanford (@jessesanford)
description:
  - Runs one pass of TMC's sync for a hub namespace, the same pass the controller and syncers run continuously
    (decide, render, apply, aggregate).
  - Decides every C(WorkloadPlacement) of the namespace, renders one C(SyncWork) per workload and chosen cluster
    (overrides applied, replica share set for V(Divided)), creates, updates and deletes SyncWorks on the hub,
    then server-side applies each manifest on its member (field manager C(tmc-syncer); namespaces created on
    demand; drift on the fields TMC manages is reverted), deletes what no placement selects any more (or leaves
    it, with C(deletionPolicy=Orphan)), and writes the members' status back onto the hub workloads.
  - Members are reached with the credentials that M(tmc.multicluster.cluster_registration) stored in push mode,
    in parallel with bounded concurrency and one connection pool per cluster.
  - An object a member refuses is reported for that object (in the result and in its SyncWork's status) and
    does not stop the others; nothing already running is deleted because of it.
options:
  namespace:
    description: The hub namespace whose workloads are synced.
    type: str
    required: true
  placement:
    description: Only the workloads of this WorkloadPlacement.
    type: str
  clusters:
    description: Only these member clusters.
    type: list
    elements: str
  wait:
    description: Wait until every synced object is available on its member.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait when O(wait=true).
    type: int
    default: 300
  concurrency:
    description: How many members are synced at the same time.
    type: int
    default: 8
  heartbeat_threshold:
    description:
      - Seconds without heartbeat after which a cluster is not Ready (and tainted V(NoSchedule)).
      - This run renews the heartbeat of every push-mode member it reaches, then decides on each cluster's
        health at that moment.
    type: float
    default: 40
  eviction_timeout:
    description: Seconds without heartbeat after which a cluster's workloads fail over (V(NoExecute)).
    type: float
    default: 300
  fail_on_error:
    description:
      - Fail the task when any object could not be synced (after all others were). With V(false) the errors are
        only reported in RV(errors).
    type: bool
    default: true
extends_documentation_fragment:
  - tmc.multicluster.hub_auth
attributes:
  check_mode:
    support: full
    description: Server-side dry run on the hub and on every member; nothing is written.
  diff_mode:
    support: full
    description: Returns, per cluster, each object before and after; Secret values are hidden.
  idempotent:
    support: full
    description: A repeat with no change on the hub or the members makes no write and reports no change.
seealso:
  - module: tmc.multicluster.workload_info
  - module: tmc.multicluster.placement
"""

EXAMPLES = r"""
- name: Sync the workloads of namespace shop to the members and wait until they run
  tmc.multicluster.workload_sync:
    kubeconfig: ~/.kube/hub.kubeconfig
    namespace: shop
    wait: true

- name: Preview what syncing one placement to member2 would change
  tmc.multicluster.workload_sync:
    namespace: shop
    placement: web
    clusters: [member2]
  check_mode: true
  diff: true
"""

RETURN = r"""
syncworks:
  description: SyncWorks created, updated and deleted on the hub.
  returned: always
  type: dict
  sample: {created: 9, updated: 0, deleted: 0}
clusters:
  description: Per member cluster, objects created, updated, deleted and unchanged, and per-object errors.
  returned: always
  type: dict
  sample: {member1: {created: 3, updated: 0, deleted: 0, unchanged: 0, errors: []}}
decisions:
  description: Per WorkloadPlacement, the clusters chosen (with weights and reasons).
  returned: always
  type: dict
errors:
  description: Everything that could not be done, each naming the placement, cluster or object.
  returned: always
  type: list
  elements: dict
status_updates:
  description: How many SyncWork, workload and placement statuses were written (bookkeeping; not a change).
  returned: always
  type: int
available:
  description: Whether every synced object is available on its member.
  returned: always
  type: bool
diff:
  description:
    - Per-object before and after on each member, in diff mode.
    - The values of a Secret's C(data) and C(stringData) are hidden; each reads V(VALUE_HIDDEN (unchanged)) on
      both sides, or V(VALUE_HIDDEN (old value)) before and V(VALUE_HIDDEN (new value)) after a change.
  returned: diff mode
  type: dict
"""

import time

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube, redact
from ansible_collections.tmc.multicluster.plugins.module_utils.args import argspec
from ansible_collections.tmc.multicluster.plugins.module_utils.module import TMCModule
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import works as sync

ARGSPEC = argspec(
    namespace={"type": "str", "required": True},
    placement={"type": "str"},
    clusters={"type": "list", "elements": "str"},
    wait={"type": "bool", "default": False},
    wait_timeout={"type": "int", "default": 300},
    concurrency={"type": "int", "default": 8},
    fail_on_error={"type": "bool", "default": True},
    heartbeat_threshold={"type": "float", "default": 40},
    eviction_timeout={"type": "float", "default": 300},
)


def _target_clusters(plan: sync.Plan, wanted: list | None) -> list[str]:
    clusters = {w["spec"]["cluster"] for w in list(plan.desired.values()) + plan.delete}
    clusters |= {w["spec"]["cluster"] for w in plan.existing.values()}
    if wanted:
        clusters &= set(wanted)
    return sorted(clusters)


def _push_members(hub: kube.Kube, errors: list) -> dict:
    """Clients of every push-mode member, from the credentials stored at its registration."""
    members = {}
    for registration in hub.list(api.API_VERSION, api.KIND_CLUSTER):
        if (registration.get("spec") or {}).get("syncMode", "Push") != "Push":
            continue
        name = registration["metadata"]["name"]
        try:
            members[name] = sync.member_client(hub, registration)
        except api.TMCError as err:
            errors.append({"cluster": name, "message": str(err)})
    return members


def _member_pass(m: TMCModule, hub: kube.Kube, plan: sync.Plan, members: dict, now, diff: bool):
    """Apply on every member and write back SyncWork statuses; returns (reports, works, status writes)."""
    namespace = m.params["namespace"]
    works = {c: (plan.works_for(c) if m.check_mode else sync.hub_works_for(hub, c, namespace)) for c in members}

    def one(cluster, member):
        try:
            return sync.apply_works(member, cluster, works[cluster], now, m.check_mode, diff)
        except kube.KubeError as err:
            report = sync.MemberReport(cluster)
            report.errors.append({"cluster": cluster, "message": f"member {cluster}: {err}"})
            return report

    reports = sync.run_members(members, one, m.params["concurrency"])
    written = 0
    for cluster, report in reports.items():
        written += sync.write_work_statuses(hub, works[cluster], report, m.check_mode)
        sync.release_finished(hub, report, m.check_mode)
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


def run(m: TMCModule) -> dict:
    p = m.params
    hub = m.hub()
    now = sync.now_utc()
    thresholds = health.Thresholds(p["heartbeat_threshold"], p["eviction_timeout"])
    errors: list = []
    members = _push_members(hub, errors)
    # Push mode: this run is what syncs these clusters, so it renews their heartbeats.
    renewed, unreachable = clusters.renew_reachable_heartbeats(hub, members, now, m.check_mode)
    errors.extend({"cluster": name, "message": message} for name, message in sorted(unreachable.items()))

    def plan_now(at):
        return sync.plan_works(
            hub, p["namespace"], at, p["placement"], p["clusters"], m.gates, thresholds=thresholds, renewed=renewed
        )

    plan = plan_now(now)
    counts = sync.write_works(hub, plan, now, m.check_mode)
    errors.extend(plan.errors + counts.errors)
    targets = set(_target_clusters(plan, p["clusters"]))
    for name in sorted(targets - set(members)):
        errors.append(
            {
                "cluster": name,
                "message": f"cluster {name} is not registered in push mode: its SyncWorks wait for its syncer",
            }
        )
    members = {name: client for name, client in members.items() if name in targets and name in renewed}
    reports, flat, written = _member_pass(m, hub, plan, members, now, m.diff_mode)
    written += sync.aggregate_status(hub, plan, flat, now, m.check_mode, m.gates)
    deadline = time.monotonic() + p["wait_timeout"]
    while p["wait"] and not m.check_mode and not _all_available(flat) and time.monotonic() < deadline:
        time.sleep(1)
        now = sync.now_utc()
        plan = plan_now(now)
        _wait_reports, flat, extra = _member_pass(m, hub, plan, members, now, False)
        written += extra + sync.aggregate_status(hub, plan, flat, now, False, m.gates)
    for report in reports.values():
        errors.extend({"cluster": report.cluster, **e} for e in report.errors)
    available = _all_available(flat)
    changed = bool(counts.created or counts.updated or counts.deleted) or any(
        r.created or r.updated or r.deleted for r in reports.values()
    )
    result = {
        "changed": changed,
        "syncworks": {"created": counts.created, "updated": counts.updated, "deleted": counts.deleted},
        "clusters": {c: r.as_dict() for c, r in sorted(reports.items())},
        "decisions": {
            o.placement["metadata"]["name"]: (o.result.to_status() if o.result else []) for o in plan.placements
        },
        "errors": errors,
        "status_updates": written,
        "available": available,
    }
    if m.diff_mode:
        result["diff"] = _member_diffs(reports)
    if p["wait"] and not m.check_mode and not available:
        pending = [
            f"{w['spec']['cluster']}/{w['spec']['manifest']['kind']}/{w['spec']['manifest']['metadata']['name']}"
            for w in flat
            if not (w.get("status") or {}).get("available")
        ]
        m.module.fail_json(msg=f"timed out after {p['wait_timeout']}s waiting for: {', '.join(pending[:20])}", **result)
    if errors and p["fail_on_error"]:
        m.module.fail_json(
            msg=f"{len(errors)} object(s) could not be synced; see 'errors'. First: {errors[0].get('message')}",
            **result,
        )
    return result


def main() -> None:
    TMCModule(ARGSPEC).run(run)


if __name__ == "__main__":
    main()
