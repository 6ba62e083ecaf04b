#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: workload_info
short_description: Show where the workloads of a hub namespace run and how they are doing (the workspace view)
version_added: 0.1.0
author:
  - Jesse Sanford (@jessesanford)
description:
  - Reads a hub namespace's WorkloadPlacements, the SyncWorks of its workloads in every cluster and the
    workloads themselves, and returns the aggregated view of the namespace.
  - Per kind and per member cluster, how many workload objects (one per workload and cluster) are applied,
    available and degraded; per workload, the clusters it runs on with the status each member reported and the
    status TMC aggregated onto the hub object; per placement, its decisions and its V(Scheduled), V(Synced) and
    V(Available) conditions.
  - Workloads that a placement selects but that run nowhere yet are listed with no clusters.
  - The view is what the last sync pass (the controller, or M(tmc.multicluster.workload_sync)) recorded on the hub;
    the members are not contacted.
  - Reads only; never changes anything. Credentials are never part of the result.
  - Asking for what does not exist returns the (empty) view with a warning that says so, rather than nothing
    silently; a namespace without a WorkloadPlacement, a O(placement) that does not exist, a O(cluster) that is
    not registered, a O(kind) of which nothing is placed.
options:
  namespace:
    description: The hub namespace to show.
    type: str
    required: true
  placement:
    description:
      - Only the workloads of this WorkloadPlacement, and only this placement in RV(placements).
    type: str
  cluster:
    description:
      - Only what runs on this member cluster, in RV(kinds), RV(clusters), RV(workloads) and the placements' summary.
      - RV(workloads[].available_everywhere) still considers every cluster a workload is placed on.
    type: str
  kind:
    description:
      - Only workloads of this kind, for example V(Deployment) (case does not matter).
      - Narrows RV(kinds), RV(clusters) and RV(workloads); the placements' summaries count every kind.
    type: str
extends_documentation_fragment:
  - tmc.multicluster.hub_auth
attributes:
  check_mode:
    support: full
    description: Reads only, so check mode returns the same result and changes nothing.
  diff_mode:
    support: none
    description: Reads only; there is nothing to diff.
  idempotent:
    support: full
    description: A repeated run with the same options reports no change.
notes:
  - Workload counts in RV(kinds), RV(clusters) and RV(totals) count workload objects, one per workload and cluster
    (SyncWorks), the way a placement's C(status.summary) does. RV(kinds[].sources) and RV(totals.sources) count
    the workloads on the hub.
  - A SyncWork status written for an older generation of the SyncWork counts as neither applied nor available.
seealso:
  - module: tmc.multicluster.workload_sync
  - module: tmc.multicluster.cluster_info
"""

EXAMPLES = r"""
- name: The workspace view of namespace shop
  tmc.multicluster.workload_info:
    kubeconfig: ~/.kube/hub.kubeconfig
    namespace: shop
  register: shop

- name: Show each workload and where it is available
  ansible.builtin.debug:
    msg: >-
      {{ item.kind }}/{{ item.name }}:
      {{ item.clusters | selectattr('available') | map(attribute='cluster') | join(', ') }}
      (everywhere: {{ item.available_everywhere }})
  loop: "{{ shop.workloads }}"
  loop_control:
    label: "{{ item.kind }}/{{ item.name }}"

- name: Deployments of placement web on member2
  tmc.multicluster.workload_info:
    namespace: shop
    placement: web
    cluster: member2
    kind: Deployment

- name: Wait until everything in shop is available on every cluster
  tmc.multicluster.workload_info:
    namespace: shop
  register: view
  until: view.available
  retries: 30
  delay: 10
"""

RETURN = r"""
namespace:
  description: The hub namespace shown.
  returned: always
  type: str
  sample: shop
available:
  description: Whether there is at least one workload and every workload shown is available on every cluster it is
    placed on.
  returned: always
  type: bool
totals:
  description: Counts over what is shown.
  returned: always
  type: dict
  contains:
    sources:
      description: Workloads (hub objects).
      type: int
    workloads:
      description: Workload objects, one per workload and cluster (SyncWorks).
      type: int
    applied:
      description: Workload objects applied on their member.
      type: int
    available:
      description: Workload objects available on their member.
      type: int
    degraded:
      description: Workload objects whose member refused them or reports them degraded.
      type: int
    deleting:
      description: SyncWorks of the namespace being deleted (not counted anywhere else).
      type: int
  sample: {sources: 3, workloads: 9, applied: 9, available: 9, degraded: 0, deleting: 0}
kinds:
  description: One row per kind, sorted by kind.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: The kind, for example V(Deployment).
      type: str
    sources:
      description: Workloads of this kind on the hub.
      type: int
    workloads:
      description: Workload objects of this kind, one per workload and cluster.
      type: int
    applied:
      description: How many of them are applied.
      type: int
    available:
      description: How many of them are available.
      type: int
    degraded:
      description: How many of them are degraded.
      type: int
  sample: [{kind: Deployment, sources: 1, workloads: 3, applied: 3, available: 3, degraded: 0}]
clusters:
  description: One row per member cluster that holds workload objects of the namespace, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    cluster:
      description: The member cluster.
      type: str
    workloads:
      description: Workload objects placed there.
      type: int
    applied:
      description: How many of them are applied.
      type: int
    available:
      description: How many of them are available.
      type: int
    degraded:
      description: How many of them are degraded.
      type: int
  sample: [{cluster: member1, workloads: 3, applied: 3, available: 3, degraded: 0}]
workloads:
  description: One entry per workload, sorted by kind and name.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: The workload's kind.
      type: str
    api_version:
      description: The workload's apiVersion.
      type: str
    name:
      description: The workload's name.
      type: str
    placement:
      description: The WorkloadPlacement that places it (the first by name when several select it).
      type: str
    on_hub:
      description: Whether the workload still exists on the hub (V(false) while its SyncWorks await the next sync).
      type: bool
    desired_replicas:
      description: C(spec.replicas) of the hub object, or null for kinds without replicas.
      type: int
    clusters:
      description: The clusters it is placed on, sorted by name; empty when a placement selects it but it runs nowhere
        yet.
      type: list
      elements: dict
      contains:
        cluster:
          description: The member cluster.
          type: str
        syncwork:
          description: Name of the SyncWork in the hub namespace C(tmc-cluster-<cluster>).
          type: str
        applied:
          description: Whether the object is applied on the member.
          type: bool
        available:
          description: Whether the object is available on the member.
          type: bool
        degraded:
          description: Whether the member refused the object or reports it degraded.
          type: bool
        desired_replicas:
          description: The replicas this cluster is asked to run (its share with V(Divided)), or null.
          type: int
        downstream:
          description: The counters the member reported (C(status.downstreamStatus) of the SyncWork), in Kubernetes'
            names, for example C(replicas), C(readyReplicas), C(availableReplicas).
          type: dict
        message:
          description: The last error applying the object there, or an empty string.
          type: str
        last_applied:
          description: When the object was last applied (RFC 3339), or null.
          type: str
    hub_status:
      description: The status TMC aggregated onto the hub object (summed over clusters) in Kubernetes' names, for
        example C(replicas) and C(availableReplicas), with C(conditions) as a map of condition type to status, and
        C(loadBalancer) for Services with ingress addresses. Empty for kinds without status.
      type: dict
    available_everywhere:
      description: Whether it is placed and available on every cluster it is placed on.
      type: bool
  sample:
    - kind: Deployment
      api_version: apps/v1
      name: web
      placement: web
      on_hub: true
      desired_replicas: 6
      clusters:
        - {cluster: member1, syncwork: deployment.shop.web, applied: true, available: true, degraded: false,
           desired_replicas: 2, downstream: {replicas: 2, readyReplicas: 2, availableReplicas: 2, updatedReplicas: 2},
           message: "", last_applied: "2025-01-31T12:00:00Z"}
      hub_status: {replicas: 6, readyReplicas: 6, availableReplicas: 6, updatedReplicas: 6,
                   conditions: {Available: "True", Progressing: "True"}}
      available_everywhere: true
placements:
  description: The namespace's WorkloadPlacements, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The placement's name.
      type: str
    generation:
      description: Its C(metadata.generation).
      type: int
    observed_generation:
      description: The generation its decisions are for, or null before the first decision.
      type: int
    decisions:
      description: The chosen clusters (C(status.decisions)), with weight, replicas and reason.
      type: list
      elements: dict
    conditions:
      description: V(Scheduled), V(Synced) and V(Available), each with C(status), C(reason) and C(message);
        C(status=Unknown) and C(reason=NotReported) when not written yet. V(Scheduled) is V(False) with reason
        V(InsufficientClusters) or V(InsufficientCapacity) (the numbers in C(message)) when the fleet cannot
        meet the spec.
      type: dict
    shortfalls:
      description: Workloads whose replicas do not fit the room the chosen clusters report,
        C({workload, message}) (C(status.shortfalls)).
      type: list
      elements: dict
    workloads:
      description: How many workloads (hub objects) it places.
      type: int
    summary:
      description: Per cluster, its workload objects applied, available and degraded, counted now.
      type: list
      elements: dict
  sample:
    - name: web
      generation: 1
      observed_generation: 1
      decisions: [{cluster: member1, weight: 1, replicas: 2, reason: Selected}]
      conditions:
        Scheduled: {status: "True", reason: Scheduled, message: ""}
        Synced: {status: "True", reason: Synced, message: 3/3 workload objects applied}
        Available: {status: "True", reason: Available, message: 3/3 workload objects available}
      workloads: 3
      summary: [{cluster: member1, applied: 3, available: 3, degraded: 0}]
"""

from ansible_collections.tmc.multicluster.plugins.module_utils.args import argspec
from ansible_collections.tmc.multicluster.plugins.module_utils.module import TMCModule
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import views

ARGSPEC = argspec(
    namespace={"type": "str", "required": True},
    placement={"type": "str"},
    cluster={"type": "str"},
    kind={"type": "str"},
)


def run(m: TMCModule) -> dict:
    p = m.params
    view = views.read_view(m.hub(), p["namespace"], p["placement"], p["cluster"], p["kind"])
    for warning in view.pop("warnings", ()):
        m.module.warn(warning)
    return {"changed": False, **view}


def main() -> None:
    TMCModule(ARGSPEC).run(run)


if __name__ == "__main__":
    main()
