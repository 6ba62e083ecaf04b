"""Placement semantics a scheduler engineer would sign (issue 20): tolerations, locations, CEL errors in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils import placement as P
from ansible_collections.tmc.multicluster.plugins.module_utils.placement import cel, cel_cost

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
UNREACHABLE = "tmc.kcp.io/unreachable"


def cluster(name, labels=None, location="", **extra):
    return {"name": name, "labels": labels or {}, "location": location, **extra}


def names(result):
    return [d["cluster"] for d in result.decisions]


# --------------------------------------------------------------------------
# Tolerations: the Kubernetes taint-manager rule


def _gone(minutes_ago: float):
    """A cluster tainted unreachable:NoExecute ``minutes_ago`` before NOW."""
    added = (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")
    return cluster("gone", taints=[{"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": added}])


def test_a_catch_all_toleration_does_not_disable_timed_failover():
    """Minimum tolerationSeconds among the matching tolerations counts (Kubernetes, Karmada); was: the maximum."""
    spec = {
        "tolerations": [
            {"operator": "Exists"},  # tolerates everything, for ever
            {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
        ]
    }
    assert names(P.decide(spec, [_gone(0.5)], now=NOW)) == ["gone"]
    result = P.decide(spec, [_gone(5)], now=NOW)
    assert names(result) == []
    assert "tolerationSeconds=60 expired" in result.explanations["gone"]["reasons"][0]


def test_the_shortest_of_several_timed_tolerations_counts():
    spec = {
        "tolerations": [
            {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 600},
            {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 120},
        ]
    }
    assert names(P.decide(spec, [_gone(1)], now=NOW)) == ["gone"]
    assert names(P.decide(spec, [_gone(3)], now=NOW)) == []


def test_untimed_matching_tolerations_alone_tolerate_for_ever():
    spec = {"tolerations": [{"operator": "Exists"}, {"key": UNREACHABLE, "operator": "Exists"}]}
    assert names(P.decide(spec, [_gone(10_000)], now=NOW)) == ["gone"]


def test_zero_toleration_seconds_evicts_at_once():
    spec = {"tolerations": [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0}]}
    assert names(P.decide(spec, [_gone(0)], now=NOW)) == []


# --------------------------------------------------------------------------
# Empty means all


FLEET = [cluster("a", location="east"), cluster("b", location="west"), cluster("c")]


def test_empty_locations_select_every_location_as_the_crd_documents():
    assert names(P.decide({"locations": []}, FLEET)) == ["a", "b", "c"]
    assert names(P.decide({}, FLEET)) == ["a", "b", "c"]
    index = P.PlacementIndex(FLEET)
    assert names(index.decide({"metadata": {"name": "p", "namespace": "n"}, "spec": {"locations": []}})) == [
        "a",
        "b",
        "c",
    ]


# --------------------------------------------------------------------------
# CEL mistakes in the user's words (issue 18, found 5)


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("cluster.labels.gpu == 'a'", "no such key: 'gpu'"),
        ("cluster.labels['gpu'] == 'a'", "has(cluster.labels.gpu)"),
        ("cluster.allocatable.cpu * 2 > 1.0", "type mismatch: float * int"),
        ("1 / 0 == 1", "division by zero"),
        ("nope.x == 1", "unknown name or function 'nope'"),
        ("cluster.taints[3].key == 'x'", "list index out of range"),
        ("size(cluster.labels) > 'a'", "no such operation for these types"),
        ("cluster.name", "returned a string ('a'), not true or false"),
    ],
)
def test_cel_errors_are_explained_without_python_exception_names(expression, words):
    result = P.decide({"predicates": [expression]}, [cluster("a")])
    reason = result.explanations["a"]["reasons"][0]
    assert reason.startswith("predicate error: spec.predicates[0]"), reason
    assert words in reason, reason
    for python in ("KeyError", "TypeError", "ZeroDivisionError", "RuntimeError", "IndexError", "Exception"):
        assert python not in reason, reason


def test_cel_syntax_errors_name_the_field_and_the_column():
    with pytest.raises(api.SpecError) as err:
        P.decide({"predicates": ["true", "cluster.labels.gpu =="]}, [cluster("a")])
    text = str(err.value)
    assert text.startswith("spec.predicates[1]: invalid CEL expression")
    assert "syntax error at column 22" in text
    assert "<input>" not in text


# --------------------------------------------------------------------------
# One cluster's bad data stops nobody (issue 17, item 3)


def registration(name, status=None, spec=None, labels=None):
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"location": "east", **(spec or {})},
        "status": status or {},
    }


BAD_DATA = [
    {"allocatable": {"cpu": "1e999"}},
    {"allocatable": {"memory": "9" * 400}},
    {"allocatable": {"memory": 10**400}},
    {"capacity": {"pods": "5Ei"}},
    {"allocatable": {"cpu": "-3"}},
    {"allocatable": {"cpu": "lots"}},
    {"allocatable": {"cpu": float("inf")}},
    {"allocatable": "garbage"},
    {"workloads": -1},
    {"taints": [{"key": "k", "effect": "Sometimes"}]},
    {"taints": [{"key": "k", "effect": "NoExecute", "timeAdded": "yesterday"}]},
]


@pytest.mark.parametrize("status", BAD_DATA)
def test_a_cluster_with_unreadable_data_is_ineligible_with_a_reason_and_others_still_place(status):
    fleet = [registration("bad", status), registration("good", {"allocatable": {"cpu": "8", "memory": "32Gi"}})]
    spec = {
        "prioritizers": [{"name": "Capacity"}],
        "predicates": ["cluster.allocatable.cpu >= 0.0"],
        "replicaScheduling": {"type": "Divided", "dynamic": "AvailableCapacity"},
    }
    result = P.decide(spec, fleet, replicas=4)
    assert names(result) == ["good"]
    reason = result.explanations["bad"]["reasons"]
    assert len(reason) == 1 and reason[0].startswith("unreadable cluster data: clusters[bad].status."), reason
    index = P.PlacementIndex(fleet)
    assert index.decide({"metadata": {"name": "p", "namespace": "n"}, "spec": spec}, replicas=4) == P.decide(
        {"metadata": {"name": "p", "namespace": "n"}, "spec": spec}, fleet, replicas=4
    )


def test_a_corrected_cluster_becomes_eligible_again_through_the_index():
    index = P.PlacementIndex([registration("x", {"allocatable": {"cpu": "1e999"}})])
    key = index.set_placement({"metadata": {"name": "p", "namespace": "n"}, "spec": {}})
    assert names(index.decide(key)) == []
    affected = index.update_cluster(registration("x", {"allocatable": {"cpu": "8"}}))
    assert affected == {key}
    assert names(index.decide(key)) == ["x"]


@pytest.mark.parametrize(
    ("resource", "value", "ok"),
    [
        ("cpu", "1G", True),
        ("cpu", "1000000001", False),
        ("memory", "4Ei", True),
        ("memory", "4097Pi", False),
        ("pods", 1_000_000_000, True),
        ("pods", 1_000_000_001, False),
    ],
)
def test_quantity_bounds(resource, value, ok):
    view = P.cluster_view(registration("c", {"allocatable": {resource: value}}))
    assert (view.unreadable is None) == ok, view.unreadable
    if not ok:
        assert "is out of range (at most" in view.unreadable


def test_the_controller_replans_when_a_cluster_reports_new_capacity():
    """What the controller's ClusterRegistration watch asks (issue 17): status capacity feeds decisions."""
    broken = registration("c", {"allocatable": {"cpu": "1e999"}, "workloads": 3})
    fixed = registration("c", {"allocatable": {"cpu": "8"}, "workloads": 3})
    assert P.decision_inputs_changed(broken, fixed)
    assert P.decision_inputs_changed(fixed, registration("c", {"allocatable": {"cpu": "8"}, "capacity": {"pods": 9}}))
    assert P.decision_inputs_changed(
        fixed, registration("c", {"allocatable": {"cpu": "8"}, "taints": [{"key": "k", "effect": "NoSchedule"}]})
    )
    assert P.decision_inputs_changed(fixed, registration("c", {"allocatable": {"cpu": "8"}}, labels={"a": "b"}))
    assert P.decision_inputs_changed(None, fixed)
    # the workload count (rewritten by the controller after each decision) and heartbeat conditions do not
    same = registration("c", {"allocatable": {"cpu": "8"}, "workloads": 4, "conditions": [{"type": "Ready"}]})
    assert not P.decision_inputs_changed(fixed, same)
    # nor a change that leaves the cluster unreadable for the same reason
    assert not P.decision_inputs_changed(broken, registration("c", {"allocatable": {"cpu": "1e999"}, "workloads": 9}))


# --------------------------------------------------------------------------
# Ordered fallback: clusterAffinities (Karmada semantics, issue 20 item 7)


AFFINITY_FLEET = [
    cluster("p1", {"site": "primary"}),
    cluster("b1", {"site": "backup"}),
    cluster("b2", {"site": "backup"}),
]
AFFINITIES = {
    "numberOfClusters": 2,
    "clusterAffinities": [
        {"name": "primary", "clusterSelector": {"matchLabels": {"site": "primary"}}},
        {"name": "backup", "clusterSelector": {"matchLabels": {"site": "backup"}}},
    ],
}


def test_the_first_term_that_meets_the_spec_wins_and_says_why_the_earlier_failed():
    result = P.decide(AFFINITIES, AFFINITY_FLEET)
    assert names(result) == ["b1", "b2"]
    assert all("clusterAffinities term backup" in d["reason"] for d in result.decisions)
    status, reason, message = result.condition()
    assert (status, reason) == ("True", "Scheduled")
    assert "clusterAffinities[0] (primary) cannot meet the spec: 1 of 1 eligible clusters selected" in message
    assert "only 1 of 3 clusters are eligible" in message
    assert "clusterAffinities[1] (backup) is used" in message
    assert result.explanations["p1"]["reasons"][0].startswith("label mismatch: clusterSelector requires site In")


def test_an_earlier_term_wins_back_when_it_meets_the_spec_again():
    grown = [*AFFINITY_FLEET, cluster("p2", {"site": "primary"})]
    assert names(P.decide(AFFINITIES, grown, ["b1", "b2"])) == ["p1", "p2"]


def test_when_no_term_meets_the_spec_the_first_that_chooses_any_is_used():
    spec = {**AFFINITIES, "numberOfClusters": 3}
    result = P.decide(spec, AFFINITY_FLEET)
    assert names(result) == ["p1"]
    status, reason, message = result.condition()
    assert (status, reason) == ("False", "InsufficientClusters")
    assert "no term meets the spec; clusterAffinities[0] (primary) is used" in message


def test_affinities_through_the_index_equal_decide_and_follow_label_changes():
    obj = {"metadata": {"name": "p", "namespace": "n"}, "spec": AFFINITIES}
    index = P.PlacementIndex(AFFINITY_FLEET)
    key = index.set_placement(obj)
    assert index.decide(key) == P.decide(obj, AFFINITY_FLEET)
    moved = cluster("b2", {"site": "primary"})
    assert index.update_cluster(moved) == {key}
    fleet = [AFFINITY_FLEET[0], AFFINITY_FLEET[1], moved]
    assert names(index.decide(key)) == names(P.decide(obj, fleet)) == ["b2", "p1"]


def test_affinities_exclude_clusterselector_and_locations_as_the_crd_says():
    with pytest.raises(api.SpecError) as err:
        P.decide({**AFFINITIES, "locations": ["east"]}, AFFINITY_FLEET)
    assert err.value.field == "spec.clusterAffinities"
    with pytest.raises(api.FeatureGateError, match="TMCAdvancedPlacement"):
        P.decide(AFFINITIES, AFFINITY_FLEET, gates=api.FeatureGates.from_overrides({"TMCAdvancedPlacement": False}))


# --------------------------------------------------------------------------
# CEL cost budget (issue 17, item 4): known before anything runs


def numbers(n):
    return "[" + ",".join(str(i) for i in range(n)) + "]"


# CEL skips any of these between tokens; the CRD rule and the engine must see through every one.
SPACES = [" ", "\t", "\n", "\r", "\f", " \r\n "]


@pytest.mark.parametrize("space", SPACES, ids=repr)
def test_comprehensions_nested_too_deep_are_refused_at_compile_time_naming_the_field(space):
    """Three comprehensions: the CRD rule refuses them (as the API server does), whatever the spacing."""
    deep = f"{numbers(3)}{space}.{space}all(a, {numbers(3)}.{space}all(b, {numbers(3)}{space}.all{space}(c, true)))"
    assert cel.cel_module().compile(deep)  # valid CEL: only the rule stands in its way
    with pytest.raises(api.SpecError) as err:
        P.compile_placement({"predicates": ["true", deep]})
    assert err.value.field == "spec.predicates[1]"
    assert "at most 2 comprehensions" in str(err.value)


@pytest.mark.parametrize("space", SPACES, ids=repr)
def test_the_engine_measures_nesting_itself(space):
    """Defence in depth: the engine's own cost check refuses the nest without the CRD rule."""
    deep = f"{numbers(3)}{space}.{space}all(a, {numbers(3)}.all(b, {numbers(3)}.all(c, true)))"
    with pytest.raises(ValueError, match="nests comprehensions 3 deep"):
        cel_cost.check(deep)
    assert cel_cost.check(f"{numbers(3)}{space}.all(a, {numbers(3)}.all(b, true))").nesting == 2


def test_a_predicate_too_costly_per_cluster_is_refused_at_compile_time():
    P.compile_placement({"predicates": [f"{numbers(100)}.all(a, {numbers(100)}.all(b, a != b || a == b))"]})
    with pytest.raises(api.SpecError, match=r"would take about \d+ steps per cluster"):
        P.compile_placement({"predicates": [f"{numbers(150)}.all(a, {numbers(150)}.all(b, true))"]})


HEAVY = f"{numbers(100)}.all(a, {numbers(100)}.all(b, a != b || string(a) != cluster.name))"  # 10,526 steps


def test_a_placement_over_its_budget_fails_alone_and_explained():
    fleet = [cluster(f"c{i:04d}", {"tier": "prod"}) for i in range(60)]
    costly = {"predicates": [HEAVY]}  # 60 x 10,526 steps
    with pytest.raises(api.SpecError) as err:
        P.decide(costly, fleet)
    assert err.value.field == "spec.predicates"
    assert "would take about 631560 steps over the 60 clusters" in str(err.value)
    assert "over the budget of 500000 per decision" in str(err.value)
    assert "narrow the clusters first with clusterSelector" in str(err.value)
    # narrowed, the same predicate runs; and another placement over the same fleet is not affected
    narrowed = {**costly, "clusterSelector": {"matchExpressions": [{"key": "x", "operator": "Exists"}]}}
    assert names(P.decide(narrowed, fleet)) == []
    index = P.PlacementIndex(fleet)
    bad = index.set_placement({"metadata": {"name": "bad", "namespace": "t1"}, "spec": costly})
    good = index.set_placement({"metadata": {"name": "good", "namespace": "t2"}, "spec": {"numberOfClusters": 2}})
    with pytest.raises(api.SpecError, match="over the budget"):
        index.decide(bad)
    assert names(index.decide(good)) == ["c0000", "c0001"]


def test_a_cluster_with_more_labels_than_assumed_is_rejected_for_that_predicate_only():
    square = "cluster.labels.all(k, cluster.labels.exists(j, j == k))"  # labels x labels
    crowded = cluster("crowded", {f"l{i}": "v" for i in range(200)})
    plain = cluster("plain", {"a": "b"})
    result = P.decide({"predicates": [square]}, [crowded, plain])
    assert names(result) == ["plain"]
    reason = result.explanations["crowded"]["reasons"][0]
    assert "would take about 40" in reason and "over the budget of 20000 per evaluation" in reason


def test_the_index_keeps_the_budget_when_clusters_change_one_at_a_time():
    fleet = [cluster(f"c{i:04d}", {"tier": "prod"}) for i in range(47)]
    obj = {"metadata": {"name": "p", "namespace": "n"}, "spec": {"predicates": [HEAVY]}}
    index = P.PlacementIndex(fleet)
    key = index.set_placement(obj)
    assert index.decide(key) == P.decide(obj, fleet)  # 47 x 10,526 steps: within the budget
    for i in range(47, 49):  # each new cluster adds its steps; past the budget the index says so too
        index.update_cluster(cluster(f"c{i:04d}", {"tier": "prod"}))
        fleet.append(cluster(f"c{i:04d}", {"tier": "prod"}))
    with pytest.raises(api.SpecError, match="over the budget"):
        P.decide(obj, fleet)
    with pytest.raises(api.SpecError, match="over the budget"):
        index.decide(key)
