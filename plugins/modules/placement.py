#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: placement
short_description: Manage a WorkloadPlacement and compute where its workloads go
version_added: 0.1.0
author:
  - Jesse Sanford (@jessesanford)
description:
  - Creates, updates or deletes a C(WorkloadPlacement) on the hub, then decides which member clusters its
    workloads go to and writes those decisions into its status, with an explanation for every cluster — why
    it was selected, or why not (label mismatch, location, predicate false, taint not tolerated, namespace not
    allowed, cordoned, not enough capacity, spread limit, cut by C(numberOfClusters)).
  - The same engine decides in the controller and in the M(tmc.multicluster.place) filter, so the three agree.
  - Decisions are deterministic and stable; with the C(Steady) prioritizer a placement keeps its clusters when an
    equally good one appears.
  - Syncing the workloads is M(tmc.multicluster.workload_sync)'s job (or the controller's).
options:
  name:
    description: Name of the WorkloadPlacement.
    type: str
    required: true
  namespace:
    description: The hub namespace; the placement governs workloads in this namespace.
    type: str
    required: true
  state:
    description: Whether the placement exists.
    type: str
    choices: [present, absent]
    default: present
  spec:
    description:
      - The WorkloadPlacement spec, with the field names of the API (camelCase), for example C(clusterSelector),
        C(numberOfClusters), C(replicaScheduling), C(spreadConstraints), C(predicates), C(tolerations),
        C(prioritizers), C(overrides). See the API reference (docs/api-reference/workloadplacement.md).
      - The API server validates it; an invalid spec fails with its message, which names the field.
    type: dict
    default: {}
  labels:
    description: Labels of the WorkloadPlacement object.
    type: dict
    default: {}
  explain:
    description: Return the per-cluster explanation (RV(explanations)).
    type: bool
    default: true
  heartbeat_threshold:
    description:
      - Seconds without heartbeat after which a cluster is tainted C(tmc.kcp.io/unreachable:NoSchedule).
      - Decisions use each cluster's health at the time of the run, computed from its heartbeat Lease.
    type: float
    default: 40
  eviction_timeout:
    description: Seconds without heartbeat after which a cluster is also tainted V(NoExecute).
    type: float
    default: 300
extends_documentation_fragment:
  - tmc.multicluster.hub_auth
attributes:
  check_mode:
    support: full
    description: Server-side dry run of the placement; decisions are computed but not written.
  diff_mode:
    support: full
    description: Returns the placement (spec and decisions) before and after.
  idempotent:
    support: full
    description: The same options and the same clusters give the same decisions and no change.
seealso:
  - module: tmc.multicluster.workload_sync
  - module: tmc.multicluster.cluster_info
"""

EXAMPLES = r"""
- name: Web on two production clusters in different locations, replicas split by capacity
  tmc.multicluster.placement:
    kubeconfig: ~/.kube/hub.kubeconfig
    name: web
    namespace: shop
    spec:
      workloadSelector:
        matchLabels:
          app: web
      clusterSelector:
        matchLabels:
          tier: prod
      numberOfClusters: 2
      spreadConstraints:
        - topologyKey: location
          maxSkew: 1
      replicaScheduling:
        type: Divided
        dynamic: AvailableCapacity
      prioritizers:
        - name: Steady
          weight: 10
        - name: Capacity
          weight: 1
  register: web_placement

- name: Why was each cluster chosen or not?
  ansible.builtin.debug:
    var: web_placement.explanations

- name: Training jobs only on clusters with a GPU and at least 8 CPUs free (CEL)
  tmc.multicluster.placement:
    name: training
    namespace: shop
    spec:
      workloadSelector:
        matchLabels:
          app: training
      predicates:
        - "cluster.labels['gpu'] == 'true' && cluster.allocatable.cpu >= 8.0"

- name: Remove that placement
  tmc.multicluster.placement:
    name: training
    namespace: shop
    state: absent
"""

RETURN = r"""
placement:
  description: The WorkloadPlacement after the run (in check mode, as it would be).
  returned: state=present
  type: dict
decisions:
  description: The chosen clusters, sorted by name.
  returned: state=present
  type: list
  elements: dict
  sample: [{cluster: member1, weight: 1, reason: "selected"}, {cluster: member3, weight: 1, reason: "selected"}]
explanations:
  description: For every registered cluster, whether it was selected and why (or why not).
  returned: state=present and O(explain=true)
  type: dict
  sample: {member2: {selected: false, reasons: ["label tier=dev does not match tier=prod"]}}
scheduled:
  description:
    - Whether the spec is fully met (the V(Scheduled) condition is V(True)) - clusters chosen, as many as
      C(spec.numberOfClusters) asks, with room for the replicas of its workloads.
    - False also when some clusters run the workloads but fewer than asked (see RV(reason)).
  returned: state=present
  type: bool
reason:
  description:
    - The V(Scheduled) condition's reason - V(Scheduled), V(InsufficientClusters), V(InsufficientCapacity),
      V(NoCluster) or V(Unsatisfiable).
  returned: state=present
  type: str
  sample: InsufficientClusters
message:
  description: One line about the decision with the numbers of any shortfall (the Scheduled condition's message).
  returned: state=present
  type: str
  sample: "2 of 2 eligible clusters selected (3 clusters); 2 of numberOfClusters=3 clusters chosen: only 2 of 3
    clusters are eligible"
"""

import datetime as dt

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube, placement, status
from ansible_collections.tmc.multicluster.plugins.module_utils.args import argspec
from ansible_collections.tmc.multicluster.plugins.module_utils.module import TMCModule
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters, hub_writes

FIELD_MANAGER = "tmc-multicluster"

ARGSPEC = argspec(
    name={"type": "str", "required": True},
    namespace={"type": "str", "required": True},
    state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    spec={"type": "dict", "default": {}},
    labels={"type": "dict", "default": {}},
    explain={"type": "bool", "default": True},
    heartbeat_threshold={"type": "float", "default": 40},
    eviction_timeout={"type": "float", "default": 300},
)


def _definition(p: dict) -> dict:
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND_PLACEMENT,
        "metadata": {
            "name": p["name"],
            "namespace": p["namespace"],
            "labels": {str(k): str(v) for k, v in p["labels"].items()},
        },
        "spec": p["spec"],
    }


def _present(m: TMCModule) -> dict:
    p = m.params
    hub = m.hub()
    definition = _definition(p)
    try:
        change = kube.ensure_applied(hub, definition, FIELD_MANAGER, m.check_mode)
    except kube.KubeError as err:
        if err.status == 404 and err.details.get("kind") == "namespaces":  # the same message in check mode
            raise api.SpecError("namespace", f"hub namespace {p['namespace']!r} does not exist") from None
        raise
    current = change.after or definition
    now = dt.datetime.now(dt.UTC)
    registrations = clusters.with_current_health(
        hub.list(api.API_VERSION, api.KIND_CLUSTER),
        clusters.heartbeat_leases(hub),
        now,
        health.Thresholds(p["heartbeat_threshold"], p["eviction_timeout"]),
        m.gates.is_enabled("TMCFailover"),
    )
    ns = hub.get("v1", "Namespace", p["namespace"]) or {"metadata": {}}
    result = placement.decide(
        current,
        registrations,
        previous=(change.before or {}).get("status"),
        namespace_labels=ns["metadata"].get("labels") or {},
        gates=m.gates,
        now=now,
    )
    new_status = hub_writes.decision_status(current, result, None, now)
    status_changed = _status_differs(current.get("status") or {}, new_status)
    hub_writes.write_placement_status(hub, current, new_status, m.check_mode)
    after = {**current, "status": new_status}
    out = {
        "changed": change.changed or status_changed,
        "placement": kube.comparable(after),
        "decisions": result.to_status(),
    }
    condition = status.get_condition(new_status.get("conditions"), "Scheduled") or {}
    out["scheduled"] = condition.get("status") == "True"
    out["reason"] = condition.get("reason", "")
    out["message"] = condition.get("message", result.message)
    if p["explain"]:
        out["explanations"] = result.explanations
    if m.diff_mode:
        out["diff"] = {"before": kube.comparable(change.before) or {}, "after": kube.comparable(after)}
    return out


def _status_differs(old: dict, new: dict, messages: bool = False) -> bool:
    """Decisions, generation or condition status changed (with ``messages``, their text too).

    A new message alone (say, one more eligible cluster) is written, but it is no change of the placement.
    """

    def essence(st):
        conditions = sorted(
            (c.get("type"), c.get("status"), c.get("message") if messages else None) for c in st.get("conditions") or []
        )
        return st.get("decisions") or [], st.get("observedGeneration"), conditions

    return essence(old) != essence(new)


def _absent(m: TMCModule) -> dict:
    change = kube.ensure_absent(m.hub(), _definition(m.params), m.check_mode)
    out = {"changed": change.changed}
    if m.diff_mode:
        out["diff"] = change.diff()
    return out


def run(m: TMCModule) -> dict:
    return _present(m) if m.params["state"] == "present" else _absent(m)


def main() -> None:
    TMCModule(ARGSPEC).run(run)


if __name__ == "__main__":
    main()
