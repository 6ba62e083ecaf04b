"""Honest conditions (issue 20, item 4): what a pass writes into a WorkloadPlacement's status."""

from __future__ import annotations

import datetime as dt

from ansible_collections.tmc.multicluster.plugins.module_utils import placement as P
from ansible_collections.tmc.multicluster.plugins.module_utils import status
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import hub_writes, plan

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
FLEET = [{"name": "a", "allocatable": {"pods": 4}}, {"name": "b", "allocatable": {"pods": 2}}]


def wp(spec, status_=None):
    return {
        "apiVersion": "tmc.kcp.io/v1alpha1",
        "kind": "WorkloadPlacement",
        "metadata": {"name": "web", "namespace": "shop", "generation": 3},
        "spec": spec,
        "status": status_ or {},
    }


def scheduled(new):
    condition = status.get_condition(new["conditions"], "Scheduled")
    return condition["status"], condition["reason"], condition["message"]


def test_fewer_clusters_than_asked_is_insufficient_clusters_with_numbers():
    placement = wp({"numberOfClusters": 3})
    new = hub_writes.decision_status(placement, P.decide(placement, FLEET), None, NOW)
    state, reason, message = scheduled(new)
    assert (state, reason) == ("False", "InsufficientClusters")
    assert "2 of numberOfClusters=3 clusters chosen: only 2 of 2 clusters are eligible" in message
    assert [d["cluster"] for d in new["decisions"]] == ["a", "b"]  # the chosen ones still run the workloads


def test_a_fully_met_spec_is_scheduled():
    placement = wp({"numberOfClusters": 2})
    assert scheduled(hub_writes.decision_status(placement, P.decide(placement, FLEET), None, NOW))[:2] == (
        "True",
        "Scheduled",
    )


def test_capacity_shortfalls_are_kept_across_passes_over_other_sources():
    placement = wp({"replicaScheduling": {"type": "Divided"}})
    result = P.decide(placement, FLEET)
    web = ("apps/v1", "Deployment", "web")
    api_ = ("apps/v1", "Deployment", "api")
    short = result.division_for(9).shortfall
    assert short == "9 replicas, room for 6: 3 over capacity (a 5 for room 4, b 4 for room 2)"
    first = hub_writes.decision_status(placement, result, None, NOW, {"Deployment/web": short}, {web})
    assert first["shortfalls"] == [{"workload": "Deployment/web", "message": short}]
    assert scheduled(first)[:2] == ("False", "InsufficientCapacity")
    # a pass over another source keeps web's line and its condition
    second = hub_writes.decision_status(
        wp(placement["spec"], first), result, None, NOW, {"Deployment/api": None}, {api_}
    )
    assert second["shortfalls"] == first["shortfalls"]
    assert scheduled(second)[:2] == ("False", "InsufficientCapacity")
    # web scaled down: its pass clears it
    third = hub_writes.decision_status(
        wp(placement["spec"], second), result, None, NOW, {"Deployment/web": None}, {web}
    )
    assert third["shortfalls"] == []
    assert scheduled(third)[:2] == ("True", "Scheduled")
    # the placement module divides nothing: it keeps what is recorded
    kept = hub_writes.decision_status(wp(placement["spec"], first), result, None, NOW)
    assert kept["shortfalls"] == first["shortfalls"]


def test_a_full_pass_replaces_every_line():
    placement = wp({}, {"shortfalls": [{"workload": "Deployment/gone", "message": "old"}]})
    result = P.decide(placement, FLEET)
    new = hub_writes.decision_status(placement, result, None, NOW, {}, None)
    assert new["shortfalls"] == []


def test_a_zero_share_places_neither_the_workload_nor_its_dependants():
    """A cluster with 0 replicas of a Divided workload is no part of that workload's decision (issue 20)."""
    placement = wp({"replicaScheduling": {"type": "Divided", "weights": [{"cluster": "a", "weight": 1}]}})
    result = P.decide(placement, FLEET)
    outcome = plan.PlacementOutcome(placement, result)
    source = {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}}
    shares = plan._divide(plan.Plan("shop"), outcome, source, placement["spec"], result, "web")
    assert shares == {"a": 2, "b": 0}
    assert [c for c in result.clusters if shares.get(c)] == ["a"]
