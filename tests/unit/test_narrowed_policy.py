"""What a narrower allow-list does to placements that used a kind (pure parts; the testbed side is
tests/integration/test_security_narrowing.py): their SyncWorks of the refused kinds are kept as they
are, the placement's condition KindsAllowed names the kinds, and cluster-scoped SyncWorks an older
version left go once no placement of their name is left."""

from __future__ import annotations

import datetime as dt

from ansible_collections.tmc.multicluster.plugins.module_utils import render, status
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import hub_writes, leftovers
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan as planning

NOW = dt.datetime(2026, 12, 8, tzinfo=dt.UTC)
PDB = ("policy", "PodDisruptionBudget")


def work_of(kind=PDB, placement="web", namespace="tmc-cluster-m1", source_namespace="team-a"):
    group, name = kind
    source = {"apiVersion": f"{group}/v1" if group else "v1", "kind": name, "name": "x"}
    if source_namespace:
        source["namespace"] = source_namespace
    return {
        "metadata": {"name": "w", "namespace": namespace, "labels": {"tmc.kcp.io/placement": placement}},
        "spec": {"placement": placement, "source": source},
    }


def plan_with(allowed, listed):
    plan = planning.Plan("team-a")
    plan.policy = render.TenantPolicy(frozenset(allowed))
    plan.listed = listed
    return plan


def test_a_refused_kind_its_placement_still_lists_is_kept():
    plan = plan_with({("apps", "Deployment")}, {"web": {("apps", "Deployment"), PDB}})
    assert planning.frozen_work(plan, work_of())


def test_an_allowed_kind_is_not_frozen_it_follows_its_placement():
    plan = plan_with({("apps", "Deployment"), PDB}, {"web": {PDB}})
    assert not planning.frozen_work(plan, work_of())


def test_a_refused_kind_goes_with_its_placement_or_when_the_placement_stops_listing_it():
    assert not planning.frozen_work(plan_with(set(), {}), work_of())  # the placement is gone
    assert not planning.frozen_work(plan_with(set(), {"web": {("apps", "Deployment")}}), work_of())


def test_placeable_spec_keeps_only_the_placed_kinds():
    spec = {"resources": [{"group": "apps", "kind": "Deployment"}, {"group": "policy", "kind": "PodDisruptionBudget"}]}
    assert planning.resources_of(planning.placed_spec(spec, [("apps", "Deployment")])) == [("apps", "Deployment")]


def test_kinds_allowed_names_the_refused_kinds_and_clears_once_they_are_allowed():
    refused = hub_writes.kinds_allowed_condition([], [PDB, ("", "ConfigMap")], NOW)
    condition = status.get_condition(refused, "KindsAllowed")
    assert condition["status"] == "False" and condition["reason"] == "KindsNotAllowed"
    assert "policy/PodDisruptionBudget, ConfigMap are not" in condition["message"]
    assert "nothing is deleted" in condition["message"]
    cleared = status.get_condition(hub_writes.kinds_allowed_condition(refused, [], NOW), "KindsAllowed")
    assert cleared["status"] == "True" and cleared["reason"] == "AllKindsAllowed"


def test_a_placement_that_never_had_a_refused_kind_carries_no_kinds_allowed_condition():
    assert hub_writes.kinds_allowed_condition([], [], NOW) == []


def placement_named(name, namespace="team-b"):
    return {"metadata": {"name": name, "namespace": namespace}}


def test_a_cluster_scoped_leftover_goes_once_no_placement_of_its_name_is_left():
    left = work_of(("rbac.authorization.k8s.io", "ClusterRole"), "gone", source_namespace=None)
    assert leftovers.abandoned([left], [placement_named("web")]) == [left]
    assert leftovers.abandoned([left], [placement_named("gone")]) == []  # one of that name is left somewhere


def test_leftovers_leave_namespaced_and_misplaced_syncworks_and_those_being_deleted():
    namespaced = work_of(placement="gone")
    misplaced = work_of(("rbac.authorization.k8s.io", "ClusterRole"), "gone", "team-a", source_namespace=None)
    deleting = work_of(("rbac.authorization.k8s.io", "ClusterRole"), "gone", source_namespace=None)
    deleting["metadata"]["deletionTimestamp"] = "2026-12-08T00:00:00Z"
    assert leftovers.abandoned([namespaced, misplaced, deleting], []) == []
