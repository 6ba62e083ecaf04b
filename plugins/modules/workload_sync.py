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
  - A member registered in pull mode is not reached; its SyncWorks are written on the hub and its syncer applies
    them. It is reported in RV(clusters) as V(applied by its syncer), never as an error, and its SyncWorks count
    towards RV(available) (and O(wait)) once its syncer reports them available.
  - A request that selects nothing (a namespace without a WorkloadPlacement, a O(placement) that does not exist,
    a placement that selects no workload, O(clusters) that are not registered) returns a warning saying so.
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
  description:
    - Per member cluster the pass touched, its C(sync_mode) (V(Push) or V(Pull)).
    - A push-mode member has the objects created, updated, deleted and unchanged on it, and per-object errors.
    - A pull-mode member has C(message) V(applied by its syncer), how many SyncWorks it has for this namespace and
      how many of them its syncer reports available.
  returned: always
  type: dict
  sample:
    member1: {sync_mode: Push, created: 3, updated: 0, deleted: 0, unchanged: 0, errors: []}
    member2: {sync_mode: Pull, message: applied by its syncer, syncworks: 3, available: 3}
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
  description: Whether every synced object is available on its member (pull-mode members included).
  returned: always
  type: bool
diff:
  description:
    - Each changed object on each push-mode member, before and after, in diff mode. Keys are
      C(<cluster>/<kind>/<name>).
    - The values of a Secret's C(data) and C(stringData) are hidden. An unchanged value reads
      "VALUE_HIDDEN (unchanged)" on both sides; a changed one reads "VALUE_HIDDEN (old value)" before and
      "VALUE_HIDDEN (new value)" after.
  returned: diff mode
  type: dict
  contains:
    before:
      description: Each changed object as it was, by C(<cluster>/<kind>/<name>) (V({}) when it was created).
      type: dict
      returned: diff mode
    after:
      description: Each changed object as it is now (in check mode, as it would be).
      type: dict
      returned: diff mode
  sample:
    before: {member1/ConfigMap/web-config: {data: {greeting: hello}}}
    after: {member1/ConfigMap/web-config: {data: {greeting: hi}}}
"""

from ansible_collections.tmc.multicluster.plugins.module_utils.args import argspec
from ansible_collections.tmc.multicluster.plugins.module_utils.module import TMCModule
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import sync

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


def run(m: TMCModule) -> dict:
    request = sync.PushRequest.from_params(m.params, m.check_mode, m.diff_mode, m.gates)
    outcome = sync.push_pass(m.hub(), request)
    for warning in outcome.result.pop("warnings", ()):
        m.module.warn(warning)
    if outcome.failure:
        m.module.fail_json(msg=outcome.failure, **outcome.result)
    return outcome.result


def main() -> None:
    TMCModule(ARGSPEC).run(run)


if __name__ == "__main__":
    main()
