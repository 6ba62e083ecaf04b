#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_registration
short_description: Register a member cluster with the TMC hub, or deregister it
version_added: 0.1.0
author:
  - Jesse Sanford (@jessesanford)
description:
  - Registers a member Kubernetes cluster with the hub so that workloads can be placed on it, keeps its
    registration (labels, location, taints, cordon) up to date, and removes it again.
  - With O(state=present) the module checks that the member answers (version, summed node capacity and
    allocatable), then creates or updates the C(ClusterRegistration), the hub namespace C(tmc-cluster-<name>),
    the syncer identity of that cluster (a ServiceAccount allowed only that namespace's SyncWorks and Events,
    its own heartbeat Lease and its own registration's status), the heartbeat Lease, and in push mode a Secret
    in C(tmc-system) with the member's credentials. Switching a cluster to V(Pull) deletes that Secret.
  - A cluster's identity is the UID of its C(kube-system) namespace. It is recorded in the registration's
    C(status.clusterID) and on the member (KEP-2149 C(ClusterProperty) objects when that API is served, else the
    ConfigMap C(tmc-system/tmc-cluster-properties)). Registering a member that another registration already has,
    or pointing an existing registration at a different member, fails and names the existing registration;
    O(rekey=true) accepts a new member for a real migration.
  - The hub validates the registration before anything is written; when a write fails half way, what the run
    created is deleted again.
  - With O(state=absent) the registration is first marked as going, so that the controller and the syncer stand
    down for the cluster. Then each SyncWork is deleted and its object dealt with on the member, by this module
    when it can reach the member (O(member), or the credentials stored for push mode), otherwise by the cluster's
    running syncer. O(drain=true) deletes the objects and then the namespaces TMC created on the member that
    are left empty. O(drain=false) leaves every object running on the member, released from TMC (its
    C(tmc.kcp.io/) labels, annotations and the syncer's field ownership removed), so that nothing treats it as
    TMC's any more. Then the registration, its namespace and identity go. A run that failed half way can be
    repeated and picks up where it stopped.
  - The syncer's kubeconfig is written to O(syncer_kubeconfig_dest) (mode 0600) and never returned or logged.
options:
  name:
    description:
      - The cluster's name, a DNS label (lowercase letters, digits and C(-)) of at most 51 characters, so that
        the hub namespace C(tmc-cluster-<name>) is one too.
    type: str
    required: true
  state:
    description: Whether the cluster is registered.
    type: str
    choices: [present, absent]
    default: present
  labels:
    description: Labels of the cluster; placements select clusters by them.
    type: dict
    default: {}
  location:
    description: Where the cluster is, for example V(us-east). Placements can select by location and spread over it.
    type: str
  sync_mode:
    description:
      - V(Push) — the controller (or M(tmc.multicluster.workload_sync)) writes to the member with the credentials
        stored on the hub.
      - V(Pull) — a syncer running next to the member pulls its work from the hub; no member credentials are stored.
    type: str
    choices: [Push, Pull]
    default: Push
  taints:
    description: Taints; placements that do not tolerate a taint avoid the cluster.
    type: list
    elements: dict
    default: []
    suboptions:
      key:
        description: The taint key.
        type: str
        required: true
      value:
        description: The taint value.
        type: str
      effect:
        description: V(NoSchedule) keeps new placements away; V(NoExecute) also moves workloads off.
        type: str
        choices: [NoSchedule, NoExecute]
        required: true
  unschedulable:
    description: Cordon the cluster — no new placements, running workloads stay.
    type: bool
    default: false
  capacity:
    description: Declared capacity (C(cpu), C(memory), C(pods)); overrides what the member's nodes report.
    type: dict
  namespace_selector:
    description: A label selector over hub namespaces that may place onto this cluster. Default all.
    type: dict
  endpoint:
    description: The member API server URL to record. Defaults to the URL the O(member) options reach.
    type: str
  heartbeat:
    description:
      - Renew the cluster's heartbeat Lease (push mode without a syncer), so that the cluster is Ready now; in
        push mode M(tmc.multicluster.workload_sync) renews it on every pass after that.
      - The renewal is a liveness signal, not a change of the registration, so it does not make the task
        C(changed) (RV(heartbeat_renewed) says it happened).
    type: bool
    default: false
  heartbeat_threshold:
    description: Seconds without heartbeat after which the cluster is not Ready and tainted V(NoSchedule).
    type: float
    default: 40
  eviction_timeout:
    description: Seconds without heartbeat after which the cluster is also tainted V(NoExecute) (failover).
    type: float
    default: 300
  drain:
    description:
      - With O(state=absent), delete the cluster's workloads from the member first, and the namespaces TMC created
        there once they are empty.
      - V(false) leaves them running on the member, released from TMC.
      - Draining needs the member (O(member), or the credentials stored for push mode) or the cluster's syncer
        running.
    type: bool
    default: true
  drain_timeout:
    description:
      - Seconds to wait for each downstream object to disappear when draining, and for the cluster's syncer to
        finish when the module cannot reach the member itself.
    type: int
    default: 120
  rekey:
    description:
      - Accept that the member reached now is a different cluster from the one this registration was made for
        (its identity changed), or that the member's own record names another registration or hub. Use it for a
        real migration; the objects on the old member stay there, no longer managed.
    type: bool
    default: false
  take_over:
    description:
      - When another registration already has this member, deregister it first with O(drain=false) (its objects
        stay on the member, released from TMC) and register this one. A member moves to a new name in one step,
        and a lab can register the same clusters under a scenario's names. Without it such a registration fails
        and names the other one.
      - Never two registrations of one member at a time either way.
    type: bool
    default: false
  syncer_kubeconfig_dest:
    description:
      - Write the syncer's hub kubeconfig (its own token; only its namespace) to this path, mode 0600.
      - The token is never part of the module's result or log.
    type: path
  syncer_hub_url:
    description: The hub URL to put in the syncer's kubeconfig. Defaults to the URL this module reached the hub at.
    type: str
  rotate_sealing_key:
    description:
      - Make a new sealing key for the cluster. Secrets placed on a cluster travel in their SyncWorks encrypted to
        its key (see C(docs/concepts/security.md)); the previous key is kept until the controller has sealed them
        again.
      - In V(Pull) mode the module asks the cluster's syncer, which holds the private key, to make it
        (C(spec.sealingKeyRotation)); in V(Push) mode it makes it in the credentials Secret in C(tmc-system).
      - Each run with V(true) rotates again, so the task reports C(changed).
    type: bool
    default: false
extends_documentation_fragment:
  - tmc.multicluster.hub_auth
  - tmc.multicluster.hub_auth.member
attributes:
  check_mode:
    support: full
    description: Server-side dry run; nothing is written.
  diff_mode:
    support: full
    description: Returns the object before and after.
  idempotent:
    support: full
    description: A repeated run reports no change (a heartbeat renewal is not a change).
seealso:
  - module: tmc.multicluster.cluster_info
"""

EXAMPLES = r"""
# Push mode: the module (and workload_sync) write to the member. heartbeat: true makes it Ready now;
# workload_sync renews the heartbeat on each pass after that.
- name: Register member1 in push mode and write its syncer's kubeconfig
  tmc.multicluster.cluster_registration:
    kubeconfig: ~/.kube/hub.kubeconfig
    name: member1
    location: us-east
    labels:
      tier: prod
      gpu: "false"
    member:
      kubeconfig: ~/.kube/member1.kubeconfig
    heartbeat: true
    syncer_kubeconfig_dest: ~/.config/tmc/member1-syncer.kubeconfig

# Each run states the whole registration (server-side apply): repeat the labels
# and location when you only mean to cordon, or they are removed.
- name: Cordon member2 (no new placements; running workloads stay)
  tmc.multicluster.cluster_registration:
    name: member2
    location: us-west
    labels:
      tier: prod
    unschedulable: true
    member:
      kubeconfig: ~/.kube/member2.kubeconfig

- name: Deregister member3, removing its workloads from it first
  tmc.multicluster.cluster_registration:
    name: member3
    state: absent
    member:
      kubeconfig: ~/.kube/member3.kubeconfig

- name: Deregister member3 but leave its workloads running there, released from TMC
  tmc.multicluster.cluster_registration:
    name: member3
    state: absent
    drain: false
    member:
      kubeconfig: ~/.kube/member3.kubeconfig

- name: Move the registration member1 to a rebuilt cluster (a new identity)
  tmc.multicluster.cluster_registration:
    name: member1
    location: us-east
    labels:
      tier: prod
      gpu: "false"
    member:
      kubeconfig: ~/.kube/member1-rebuilt.kubeconfig
    rekey: true
"""

RETURN = r"""
registration:
  description: The ClusterRegistration after the run (in check mode, as it would be). Holds no credential.
  returned: state=present
  type: dict
member:
  description: What the member reported.
  returned: state=present and the member answered
  type: dict
  contains:
    version:
      description: The member API server's version.
      type: str
      sample: v1.36.3
    nodes:
      description: Number of nodes.
      type: int
    ready_nodes:
      description: Number of Ready nodes.
      type: int
    capacity:
      description: Summed node capacity.
      type: dict
      sample: {cpu: "48", memory: 192Gi, pods: "1500"}
    allocatable:
      description: Summed node allocatable.
      type: dict
health:
  description:
    - The cluster's Ready condition and taints after the run. C(ready) is a boolean (true when the condition is
      V(True)); C(status) is the condition's status (V(True), V(False) or V(Unknown)), C(reason) why.
  returned: state=present
  type: dict
  sample: {ready: true, status: "True", reason: ClusterReady, taints: []}
changes:
  description: Every object the run created, updated or deleted (kind/name).
  returned: always
  type: list
  elements: str
  sample: [ClusterRegistration/member1, Namespace/tmc-cluster-member1]
heartbeat_renewed:
  description: Whether the run renewed the cluster's heartbeat Lease (O(heartbeat=true)).
  returned: state=present
  type: bool
syncer_kubeconfig_path:
  description: Where the syncer's kubeconfig was written.
  returned: when O(syncer_kubeconfig_dest) is set
  type: str
cluster_id:
  description: The member's identity (the UID of its C(kube-system) namespace), when the module could reach it.
  returned: state=present and the member answered
  type: str
  sample: 6a3c1f0e-6a8d-4a5e-9d55-0d1b8f2f6f11
drain:
  description:
    - What deregistration did. C(works_deleted) SyncWorks removed, C(downstream_deleted) objects deleted from the
      member, C(orphaned) objects left there (released from TMC), C(namespaces_deleted) empty TMC-created
      namespaces removed, C(namespaces_kept) those that stay with what keeps them, C(by) who dealt with the
      member (V(module), V(syncer) or V(nobody) when neither could).
  returned: state=absent
  type: dict
  sample:
    works_deleted: 3
    downstream_deleted: 3
    orphaned: 0
    namespaces_deleted: [shop]
    namespaces_kept: {}
    by: module
diff:
  description: The registration before and after, in diff mode.
  returned: diff mode
  type: dict
"""

import datetime as dt
import json
import re

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube, kubeconfig
from ansible_collections.tmc.multicluster.plugins.module_utils.args import MEMBER_SPEC, argspec
from ansible_collections.tmc.multicluster.plugins.module_utils.module import TMCModule
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import (
    clusters,
    deregistration,
    identity,
    registration,
)

# At most 51 characters, so that the hub namespace tmc-cluster-<name> is a DNS label too.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,49}[a-z0-9])?$")

ARGSPEC = argspec(
    MEMBER_SPEC,
    name={"type": "str", "required": True},
    state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    labels={"type": "dict", "default": {}},
    location={"type": "str"},
    sync_mode={"type": "str", "choices": ["Push", "Pull"], "default": "Push"},
    taints={
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "key": {"type": "str", "required": True, "no_log": False},
            "value": {"type": "str"},
            "effect": {"type": "str", "choices": ["NoSchedule", "NoExecute"], "required": True},
        },
    },
    unschedulable={"type": "bool", "default": False},
    capacity={"type": "dict"},
    namespace_selector={"type": "dict"},
    endpoint={"type": "str"},
    heartbeat={"type": "bool", "default": False},
    heartbeat_threshold={"type": "float", "default": 40},
    eviction_timeout={"type": "float", "default": 300},
    drain={"type": "bool", "default": True},
    drain_timeout={"type": "int", "default": 120},
    syncer_kubeconfig_dest={"type": "path"},
    rotate_sealing_key={"type": "bool", "default": False},
    syncer_hub_url={"type": "str"},
    rekey={"type": "bool", "default": False},
    take_over={"type": "bool", "default": False},
)


def _spec(params: dict) -> clusters.ClusterSpec:
    name = params["name"]
    if not DNS_LABEL.match(name):
        raise api.SpecError(
            "name",
            f"{name!r} is not a DNS label: use lowercase letters, digits and '-', "
            "start and end with a letter or digit, at most 51 characters",
        )
    taints = tuple({k: v for k, v in t.items() if v is not None} for t in params["taints"])
    return clusters.ClusterSpec(
        name=name,
        labels={str(k): str(v) for k, v in params["labels"].items()},
        location=params["location"],
        sync_mode=params["sync_mode"],
        taints=taints,
        unschedulable=params["unschedulable"],
        capacity=params["capacity"],
        namespace_selector=params["namespace_selector"],
        endpoint=params["endpoint"],
        rotate_sealing_key=params["rotate_sealing_key"],
    )


def _present(m: TMCModule) -> dict:
    p = m.params
    spec = _spec(p)
    thresholds = health.Thresholds(p["heartbeat_threshold"], p["eviction_timeout"])
    hub = m.hub()
    member = m.member() if p.get("member") else None
    flattened = kube.flatten_kubeconfig(member, spec.name) if member is not None and spec.sync_mode == "Push" else None
    before = hub.get(api.API_VERSION, api.KIND_CLUSTER, spec.name)
    now = dt.datetime.now(dt.UTC)
    taken: list[str] = []
    while True:
        try:
            outcome = registration.register_cluster(
                hub,
                member,
                spec,
                flattened,
                now,
                thresholds,
                heartbeat=p["heartbeat"],
                check_mode=m.check_mode,
                rekey=p["rekey"],
                taking_over=frozenset(taken),
            )
            break
        except identity.IdentityConflict as err:
            if not p["take_over"] or not err.other or err.other in taken:
                raise
            # One registration per member: the one that has it goes first, its objects left running, released.
            deregistration.deregister_cluster(hub, member, err.other, False, p["drain_timeout"], m.check_mode)
            taken.append(err.other)
    changes = [f"{kind}/{name}" for kind, name, change in outcome.changes if change.changed]
    changes += [f"{api.KIND_CLUSTER}/{name} (taken over: deregistered, drain false)" for name in taken]
    result: dict = {"changed": outcome.changed or bool(taken), "registration": outcome.registration, "changes": changes}
    if outcome.cluster_id:
        result["cluster_id"] = outcome.cluster_id
    result["heartbeat_renewed"] = outcome.heartbeat_renewed
    if outcome.member:
        info = outcome.member
        result["member"] = {
            "version": info.version,
            "nodes": info.nodes,
            "ready_nodes": info.ready_nodes,
            "capacity": info.capacity,
            "allocatable": info.allocatable,
        }
    status = (outcome.registration or {}).get("status", {})
    ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
    result["health"] = {
        "ready": ready.get("status") == "True",
        "status": ready.get("status", "Unknown"),
        "reason": ready.get("reason"),
        "taints": status.get("taints", []),
    }
    if p["syncer_kubeconfig_dest"]:
        if m.check_mode and before is None:
            wrote = True  # the identity does not exist yet: a real run would write it
        else:
            config = clusters.syncer_kubeconfig(hub, spec.name, p["syncer_hub_url"])
            wrote = kubeconfig.write_private_file(
                p["syncer_kubeconfig_dest"], json.dumps(config, indent=2), m.check_mode
            )
        if wrote:
            changes.append(f"file/{p['syncer_kubeconfig_dest']}")
            result["changed"] = True
        result["syncer_kubeconfig_path"] = p["syncer_kubeconfig_dest"]
    if m.diff_mode:
        result["diff"] = {"before": kube.comparable(before) or {}, "after": kube.comparable(outcome.registration) or {}}
    return result


def _absent(m: TMCModule) -> dict:
    p = m.params
    _spec(p)
    hub = m.hub()
    member = m.member() if p.get("member") else None
    before = hub.get(api.API_VERSION, api.KIND_CLUSTER, p["name"])
    outcome = deregistration.deregister_cluster(hub, member, p["name"], p["drain"], p["drain_timeout"], m.check_mode)
    for warning in outcome.warnings:
        m.module.warn(warning)
    result = {
        "changed": outcome.changed,
        "changes": outcome.removed,
        "drain": {
            "works_deleted": outcome.works_deleted,
            "downstream_deleted": outcome.downstream_deleted,
            "orphaned": outcome.orphaned,
            "namespaces_deleted": outcome.namespaces_deleted,
            "namespaces_kept": outcome.namespaces_kept,
            "by": outcome.by,
        },
    }
    if m.diff_mode:
        result["diff"] = {"before": kube.comparable(before) or {}, "after": {}}
    return result


def run(m: TMCModule) -> dict:
    return _present(m) if m.params["state"] == "present" else _absent(m)


def main() -> None:
    TMCModule(ARGSPEC).run(run)


if __name__ == "__main__":
    main()
