#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_info
short_description: List registered member clusters with their health, capacity and workloads
version_added: 0.1.0
author:
  - Jesse Sanford (@jessesanford)
description:
  - Lists the hub's C(ClusterRegistration)s, optionally filtered, with health computed at the time of the call
    from each cluster's heartbeat Lease (Ready, heartbeat age, taints), capacity, allocatable and workload counts.
  - Reads only; never changes anything. Credentials are never part of the result.
options:
  name:
    description: Only this cluster.
    type: str
  label_selector:
    description: Only clusters whose labels match this selector, for example V(tier=prod,gpu!=true).
    type: str
  location:
    description: Only clusters in this location.
    type: str
  ready_only:
    description: Only clusters that are Ready.
    type: bool
    default: false
  heartbeat_threshold:
    description: Seconds without heartbeat after which a cluster counts as not Ready.
    type: float
    default: 40
  eviction_timeout:
    description: Seconds without heartbeat after which a cluster counts as evicting (V(NoExecute) taint).
    type: float
    default: 300
extends_documentation_fragment:
  - tmc.multicluster.hub_auth
attributes:
  check_mode:
    support: full
    description: Reads only, so check mode changes nothing.
  diff_mode:
    support: none
    description: Reads only; there is nothing to diff.
  idempotent:
    support: full
    description: A repeated run with the same options reports no change.
seealso:
  - module: tmc.multicluster.cluster_registration
"""

EXAMPLES = r"""
- name: All clusters
  tmc.multicluster.cluster_info:
    kubeconfig: ~/.kube/hub.kubeconfig
  register: tmc_clusters

- name: Ready production clusters in us-east
  tmc.multicluster.cluster_info:
    label_selector: tier=prod
    location: us-east
    ready_only: true

- name: Show a table
  ansible.builtin.debug:
    msg: "{{ item.name }} {{ item.ready_status }} {{ item.allocatable.cpu }} cpu, {{ item.workloads }} workloads"
  loop: "{{ tmc_clusters.clusters }}"

- name: The names of the ready ones
  ansible.builtin.debug:
    msg: "{{ tmc_clusters.clusters | selectattr('ready') | map(attribute='name') | list }}"
"""

RETURN = r"""
clusters:
  description: One entry per cluster, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The cluster's name.
      type: str
    location:
      description: The cluster's location.
      type: str
    labels:
      description: The cluster's labels.
      type: dict
    ready:
      description:
        - Whether the cluster is Ready now (its Ready condition is V(True)), so that C(selectattr('ready'))
          selects the ready clusters.
        - Before 0.2.0 this was the condition's status as a string; that is now RV(clusters[].ready_status).
      type: bool
    ready_status:
      description: The Ready condition's status now (V(True), V(False) or V(Unknown)).
      type: str
    ready_reason:
      description: Why.
      type: str
    heartbeat_age_seconds:
      description: Seconds since the last heartbeat, or null when there was none.
      type: float
    last_heartbeat:
      description: Time of the last heartbeat (RFC 3339).
      type: str
    cordoned:
      description: Whether the cluster is unschedulable (cordoned).
      type: bool
    unschedulable:
      description:
        - The same as RV(clusters[].cordoned), under the API's name, so that the list feeds the
          P(tmc.multicluster.place#filter) filter.
      type: bool
    namespaceSelector:
      description: Which hub namespaces may place onto the cluster (null for all).
      type: dict
    schedulable:
      description: Whether new placements can land there (not cordoned, not tainted NoSchedule or NoExecute).
      type: bool
    taints:
      description: Effective taints (spec and health).
      type: list
    kubernetes_version:
      description: The member API server's version when last probed.
      type: str
    capacity:
      description: Summed node capacity.
      type: dict
    allocatable:
      description: Summed node allocatable.
      type: dict
    sync_mode:
      description: Push or Pull.
      type: str
    endpoint:
      description: The member API server URL.
      type: str
    workloads:
      description: Number of SyncWorks (workload objects) assigned to the cluster.
      type: int
    applied:
      description: Number of those applied on the member.
      type: int
    available:
      description: Number of those available on the member.
      type: int
"""

import datetime as dt

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health
from ansible_collections.tmc.multicluster.plugins.module_utils.args import argspec
from ansible_collections.tmc.multicluster.plugins.module_utils.module import TMCModule
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters

ARGSPEC = argspec(
    name={"type": "str"},
    label_selector={"type": "str"},
    location={"type": "str"},
    ready_only={"type": "bool", "default": False},
    heartbeat_threshold={"type": "float", "default": 40},
    eviction_timeout={"type": "float", "default": 300},
)


def run(m: TMCModule) -> dict:
    p = m.params
    thresholds = health.Thresholds(p["heartbeat_threshold"], p["eviction_timeout"])
    hub = m.hub()
    if p["name"]:
        one = hub.get(api.API_VERSION, api.KIND_CLUSTER, p["name"])
        registrations = [one] if one else []
    else:
        registrations = hub.list(api.API_VERSION, api.KIND_CLUSTER, label_selector=p["label_selector"])
    if p["location"]:
        registrations = [r for r in registrations if (r.get("spec") or {}).get("location") == p["location"]]
    leases = clusters.heartbeat_leases(hub)
    works = clusters.work_counts(hub)
    now = dt.datetime.now(dt.UTC)
    views = [clusters.cluster_view(r, leases.get(r["metadata"]["name"]), works, now, thresholds) for r in registrations]
    if p["ready_only"]:
        views = [v for v in views if v["ready"]]
    return {"changed": False, "clusters": sorted(views, key=lambda v: v["name"])}


def main() -> None:
    TMCModule(ARGSPEC).run(run)


if __name__ == "__main__":
    main()
