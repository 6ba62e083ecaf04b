"""Replica division (issue 20, item 2): Webster one replica at a time, within quota, house monotone."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import placement as P
from ansible_collections.tmc.multicluster.plugins.module_utils.placement import apportion as A

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = [f"c{i:02d}" for i in range(12)]

# Weights the way the engine sees them: small static ones, and capacity weights where one cluster dominates.
weight = st.one_of(st.integers(0, 5), st.integers(0, 100), st.integers(1, 100_000))
weight_lists = st.lists(st.tuples(st.sampled_from(NAMES), weight), unique_by=lambda t: t[0], min_size=1, max_size=9)


def shares(total, weights, caps=None):
    decisions = []
    for i, (name, w) in enumerate(weights):
        d = {"cluster": name, "weight": w}
        if caps is not None and caps[i] is not None:
            d["allocatable"] = {"pods": caps[i]}
        decisions.append(d)
    return {d["cluster"]: d["replicas"] for d in P.divide_replicas(total, decisions)}


@SETTINGS
@given(weight_lists, st.integers(0, 150))
def test_every_share_is_within_one_replica_of_its_exact_quota_and_the_sum_is_exact(weights, total):
    got = shares(total, weights)
    assert sum(got.values()) == total and min(got.values()) >= 0
    whole = sum(w for _n, w in weights)
    for name, w in weights:
        exact = Fraction(total * w, whole) if whole else Fraction(total, len(weights))
        assert math.floor(exact) <= got[name] <= math.ceil(exact), (name, exact, got)


@SETTINGS
@given(weight_lists, st.integers(0, 120))
def test_house_monotone_scaling_up_never_takes_a_replica_away(weights, total):
    smaller, larger = shares(total, weights), shares(total + 1, weights)
    assert all(larger[n] >= smaller[n] for n in smaller), (smaller, larger)
    assert sum(larger[n] - smaller[n] for n in smaller) == 1


@SETTINGS
@given(weight_lists, st.integers(0, 60), st.randoms(use_true_random=False))
def test_ties_go_by_cluster_name_whatever_the_order_given(weights, total, rng):
    shuffled = list(weights)
    rng.shuffle(shuffled)
    assert shares(total, shuffled) == shares(total, weights)


@SETTINGS
@given(weight_lists, st.integers(0, 100), st.lists(st.one_of(st.none(), st.integers(0, 30)), min_size=9, max_size=9))
def test_with_room_scaling_up_still_never_takes_a_replica_away_and_room_is_used_first(weights, total, caps):
    smaller, larger = shares(total, weights, caps), shares(total + 1, weights, caps)
    assert all(larger[n] >= smaller[n] for n in smaller)
    assert sum(larger.values()) == total + 1
    takers = [(n, w, c) for (n, w), c in zip(weights, caps, strict=False) if w > 0] or [
        (n, 1, c) for (n, _w), c in zip(weights, caps, strict=False)
    ]
    room = sum(total if c is None else c for _n, _w, c in takers)
    if room >= total:  # enough room among the clusters with weight: nobody is pushed over its room
        for (name, _w), cap in zip(weights, caps, strict=False):
            if cap is not None:
                assert smaller[name] <= cap


def test_the_alabama_case_a_scale_up_keeps_the_only_replica():
    """Largest remainder gave 11 replicas over (6, 6, 2) as (5, 5, 1) but 12 as (6, 6, 0)... not any more."""
    weights = [("a", 6), ("b", 6), ("c", 2)]
    for total in range(1, 40):
        before, after = shares(total, weights), shares(total + 1, weights)
        assert all(after[n] >= before[n] for n in before), total


def test_a_dominant_cluster_stays_within_quota_where_plain_webster_does_not():
    weights = [("a", 5), ("b", 2), ("c", 5), ("d", 421)]
    got = shares(40, weights)  # plain Webster: (0, 0, 0, 40), though the quota of d is 38.9
    assert got == {"a": 1, "b": 0, "c": 0, "d": 39}


def test_large_totals_use_the_divisor_form_and_still_sum_exactly():
    got = A.apportion(A.EXACT_LIMIT + 7, [1, 2, 3])
    assert sum(got) == A.EXACT_LIMIT + 7
    assert got == (1668, 3336, 5003)
    assert A.apportion(50_000, [5, 0, 5], [100, None, None]) == (100, 0, 49_900)


# --------------------------------------------------------------------------
# What the decision says about capacity


def cluster(name, pods=None, cpu=None):
    allocatable = {}
    if pods is not None:
        allocatable["pods"] = pods
    if cpu is not None:
        allocatable["cpu"] = cpu
    return {"name": name, "allocatable": allocatable}


DYNAMIC = {"replicaScheduling": {"type": "Divided", "dynamic": "AvailableCapacity"}}


def test_dynamic_weights_are_free_pod_slots_without_a_request():
    result = P.decide(DYNAMIC, [cluster("a", pods=30), cluster("b", pods=10)], replicas=8)
    assert [(d["weight"], d["replicas"]) for d in result.decisions] == [(30, 6), (10, 2)]
    assert result.condition() == ("True", "Scheduled", "2 of 2 eligible clusters selected (2 clusters)")


def test_over_commit_is_never_silent():
    result = P.decide(DYNAMIC, [cluster("a", pods=3), cluster("b", pods=2)], replicas=9)
    assert sum(d["replicas"] for d in result.decisions) == 9
    status, reason, message = result.condition()
    assert (status, reason) == ("False", "InsufficientCapacity")
    assert "9 replicas, room for 5: 4 over capacity" in message
    division = result.division_for(9)
    assert division.over == {"a": 2, "b": 2} and division.room == {"a": 3, "b": 2}


def test_a_duplicated_workload_too_large_for_a_cluster_is_reported():
    result = P.decide({}, [cluster("a", pods=3), cluster("b", pods=50)], replicas=5)
    assert [d["replicas"] for d in result.decisions] == [5, 5]
    status, reason, message = result.condition()
    assert reason == "InsufficientCapacity" and "a 5 for room 3" in message


def test_some_clusters_without_capacity_get_no_dynamic_weight_and_the_decision_says_so():
    result = P.decide(DYNAMIC, [cluster("a", pods=10), cluster("b")], replicas=4)
    assert [(d["cluster"], d["weight"], d["replicas"]) for d in result.decisions] == [("a", 10, 4), ("b", 0, 0)]
    assert "no capacity reported by b: weight 0 there" in result.decisions[0]["reason"]
    assert "no capacity reported by b" in result.message


def test_capacity_lines_from_the_reconcile_layer_make_the_condition():
    result = P.decide({}, [cluster("a", pods=10)])
    assert result.condition(["Deployment/web: 12 replicas: 2 over capacity (a 12 for room 10)"])[:2] == (
        "False",
        "InsufficientCapacity",
    )


@pytest.mark.parametrize("total", [0, 1, 7])
def test_division_for_matches_replicas_for(total):
    result = P.decide({"replicaScheduling": {"type": "Divided"}}, [cluster("a"), cluster("b")])
    assert result.division_for(total).shares == result.replicas_for(total)
