"""The placement engine, by example: quantities, clusters, filters, scores, spread, replicas, gates, the index."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils import placement as P
from ansible_collections.tmc.multicluster.plugins.module_utils.placement import cel as cel_predicates

from .placement_examples import FLEET, NOW, REPO, cluster, names, wp

# --------------------------------------------------------------------------
# Quantities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100m", Decimal("0.1")),
        ("2", Decimal(2)),
        ("1.5", Decimal("1.5")),
        ("4Gi", Decimal(4 * 2**30)),
        ("512Mi", Decimal(512 * 2**20)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("1.5e-3", Decimal("0.0015")),
        ("1k", Decimal(1000)),
        ("1M", Decimal(10**6)),
        ("1Ki", Decimal(1024)),
        ("2Ti", Decimal(2 * 2**40)),
        ("1E", Decimal(10**18)),
        ("250n", Decimal("0.00000025")),
        ("5u", Decimal("0.000005")),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("+3", Decimal(3)),
        (" 7 ", Decimal(7)),
        (3, Decimal(3)),
        (0.25, Decimal("0.25")),
    ],
)
def test_parse_quantity(text, expected):
    assert P.parse_quantity(text) == expected


@pytest.mark.parametrize(
    "text", ["", "abc", "1.2.3", "Gi", "1 Gi", "1e", "1KiB", "1ki", "e3", "--1", "1e100", True, None, []]
)
def test_parse_quantity_rejects(text):
    with pytest.raises(api.SpecError) as err:
        P.parse_quantity(text, "status.allocatable.cpu")
    assert err.value.field == "status.allocatable.cpu"


def test_cpu_memory_and_pods_units():
    assert P.parse_cpu("100m") == pytest.approx(0.1)
    assert P.parse_cpu("1500m") == 1.5
    assert P.parse_cpu(4) == 4.0
    assert P.parse_memory("1.5") == 2  # bytes round up
    assert P.parse_memory("1k") == 1000
    assert P.parse_memory("0.5Ki") == 512
    assert P.parse_count("110") == 110
    assert isinstance(P.parse_memory("4Gi"), int)


# --------------------------------------------------------------------------
# Cluster views


def test_cluster_registration_object_is_parsed_once_into_a_view():
    obj = {
        "metadata": {"name": "east-1", "labels": {"tier": "prod", "gpu": True}},
        "spec": {
            "location": "us-east",
            "taints": [{"key": "maintenance", "effect": "NoSchedule"}],
            "capacity": {"cpu": "8"},
            "namespaceSelector": {"matchLabels": {"team": "a"}},
        },
        "status": {
            "allocatable": {"cpu": "12", "memory": "64Gi"},
            "capacity": {"cpu": "16", "memory": "128Gi", "pods": "110"},
            "taints": [{"key": "tmc.kcp.io/unreachable", "effect": "NoExecute", "timeAdded": "2024-05-01T11:00:00Z"}],
            "workloads": 7,
        },
    }
    view = P.cluster_view(obj)
    assert view.name == "east-1"
    assert view.labels == {"tier": "prod", "gpu": "true"}
    assert view.location == "us-east"
    assert view.capacity == P.Resources(cpu=8.0, memory=128 * 2**30, pods=110)  # declared cpu overrides measured
    assert view.allocatable == P.Resources(cpu=8.0, memory=64 * 2**30, pods=110)  # capped by declared, pods fall back
    assert [str(t) for t in view.taints] == ["maintenance:NoSchedule", "tmc.kcp.io/unreachable:NoExecute"]
    assert view.taints[1].time_added == datetime(2024, 5, 1, 11, 0, tzinfo=UTC).timestamp()
    assert view.workloads == 7
    assert view.namespace_selector.matches({"team": "a"})
    assert not view.plain


def test_simple_form_and_the_cel_variable():
    view = P.cluster_view(
        cluster("c1", {"tier": "prod"}, "eu", allocatable={"cpu": "500m", "memory": "1Gi"}, unschedulable=True)
    )
    assert view.cel_value == {
        "name": "c1",
        "labels": {"tier": "prod"},
        "location": "eu",
        "allocatable": {"cpu": 0.5, "memory": 2**30, "pods": 0},
        "capacity": {"cpu": 0.0, "memory": 0, "pods": 0},
        "taints": [],
        "unschedulable": True,
    }


def test_bad_cluster_data_names_the_field():
    """Unreadable cluster data makes that cluster ineligible with the reason (issue 17); it used to raise."""
    assert P.cluster_view(cluster("c1", allocatable={"cpu": "lots"})).unreadable.startswith(
        "clusters[c1].allocatable.cpu: "
    )
    assert P.cluster_view(cluster("c1", taints=[{"key": "k", "effect": "PreferNoSchedule"}])).unreadable.startswith(
        "clusters[c1].taints[0].effect: "
    )
    with pytest.raises(api.SpecError, match="appears twice"):
        P.decide({}, [cluster("c1", {"a": "1"}), cluster("c1", {"a": "2"})])


# --------------------------------------------------------------------------
# Selectors and locations


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"matchLabels": {"tier": "prod"}}, ["a-east", "b-west"]),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["dev", "prod"]}]},
            ["a-east", "b-west", "c-eu"],
        ),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["prod"]}]}, ["c-eu", "d-nolabel"]),
        ({"matchExpressions": [{"key": "region", "operator": "Exists"}]}, ["a-east", "b-west", "c-eu"]),
        ({"matchExpressions": [{"key": "region", "operator": "DoesNotExist"}]}, ["d-nolabel"]),
        ({}, ["a-east", "b-west", "c-eu", "d-nolabel"]),
    ],
)
def test_cluster_selector_operators(selector, expected):
    assert names(P.decide({"clusterSelector": selector}, FLEET)) == expected
    index = P.PlacementIndex(FLEET)
    assert names(index.decide(wp({"clusterSelector": selector}))) == expected


def test_locations_and_explanations_of_mismatches():
    result = P.decide({"clusterSelector": {"matchLabels": {"tier": "prod"}}, "locations": ["us-east"]}, FLEET)
    assert names(result) == ["a-east"]
    why = result.explanations
    assert set(why) == {"a-east", "b-west", "c-eu", "d-nolabel"}
    assert why["a-east"]["selected"] is True
    assert why["b-west"] == {"selected": False, "reasons": ["location: us-west is not in locations [us-east]"]}
    assert why["c-eu"]["reasons"] == [
        "label mismatch: clusterSelector requires tier In [prod], cluster has tier=dev",
        "location: eu-west is not in locations [us-east]",
    ]
    assert (
        why["d-nolabel"]["reasons"][0]
        == "label mismatch: clusterSelector requires tier In [prod], cluster has no tier label"
    )


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (
            {"clusterSelector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}},
            "spec.clusterSelector.matchExpressions[0].operator",
        ),
        (
            {"clusterSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
            "spec.clusterSelector.matchExpressions[0].values",
        ),
        (
            {"clusterSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}},
            "spec.clusterSelector.matchExpressions[0].values",
        ),
        ({"numberOfClusters": 0}, "spec.numberOfClusters"),
        ({"spreadConstraints": [{"maxSkew": 1}]}, "spec.spreadConstraints[0].topologyKey"),
        ({"spreadConstraints": [{"topologyKey": "zone", "maxSkew": 0}]}, "spec.spreadConstraints[0].maxSkew"),
        (
            {"spreadConstraints": [{"topologyKey": "zone", "minGroups": 3, "maxGroups": 2}]},
            "spec.spreadConstraints[0].maxGroups",
        ),
        (
            {"numberOfClusters": 2, "spreadConstraints": [{"topologyKey": "zone", "minGroups": 3}]},
            "spec.spreadConstraints",
        ),
        ({"replicaScheduling": {"type": "Spread"}}, "spec.replicaScheduling.type"),
        ({"replicaScheduling": {"weights": [{"cluster": "a", "weight": 1}]}}, "spec.replicaScheduling.weights"),
        (
            {
                "replicaScheduling": {
                    "type": "Divided",
                    "weights": [{"cluster": "a", "weight": 1}],
                    "dynamic": "AvailableCapacity",
                }
            },
            "spec.replicaScheduling.dynamic",
        ),
        (
            {"replicaScheduling": {"type": "Divided", "weights": [{"cluster": "a", "weight": -1}]}},
            "spec.replicaScheduling.weights[0].weight",
        ),
        ({"replicaScheduling": {"type": "Divided", "dynamic": "Random"}}, "spec.replicaScheduling.dynamic"),
        ({"tolerations": [{"key": "k", "operator": "Maybe"}]}, "spec.tolerations[0].operator"),
        (
            {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]},
            "spec.tolerations[0].tolerationSeconds",
        ),
        ({"tolerations": [{"operator": "Equal", "value": "v"}]}, "spec.tolerations[0].key"),
        ({"prioritizers": [{"name": "Luck"}]}, "spec.prioritizers[0].name"),
        ({"prioritizers": [{"name": "Balance", "weight": 101}]}, "spec.prioritizers[0].weight"),
        ({"predicates": ["cluster.labels["]}, "spec.predicates[0]"),
        ({"predicates": ["true", ""]}, "spec.predicates[1]"),
    ],
)
def test_bad_specs_name_the_field(spec, field):
    with pytest.raises(api.SpecError) as err:
        P.decide(spec, FLEET)
    assert err.value.field == field
    assert str(err.value).startswith(field + ": ")


# --------------------------------------------------------------------------
# Taints, tolerations, cordons, namespaces, capacity


def tainted(name, key, effect, value="", time_added=None, **extra):
    taint = {"key": key, "value": value, "effect": effect}
    if time_added:
        taint["timeAdded"] = time_added
    return cluster(name, {"tier": "prod"}, taints=[taint], **extra)


def test_no_schedule_taint_rejects_unless_tolerated():
    clusters = [tainted("t1", "dedicated", "NoSchedule", "gpu"), cluster("ok", {"tier": "prod"})]
    result = P.decide({}, clusters)
    assert names(result) == ["ok"]
    assert result.explanations["t1"]["reasons"] == ["taint not tolerated: dedicated=gpu:NoSchedule"]
    for toleration in (
        {"key": "dedicated", "operator": "Equal", "value": "gpu"},
        {"key": "dedicated", "operator": "Exists"},
        {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"},
        {"operator": "Exists"},
    ):
        assert names(P.decide({"tolerations": [toleration]}, clusters)) == ["ok", "t1"], toleration
    for toleration in (
        {"key": "dedicated", "operator": "Equal", "value": "cpu"},
        {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"},
        {"key": "other", "operator": "Exists"},
    ):
        assert names(P.decide({"tolerations": [toleration]}, clusters)) == ["ok"], toleration


def test_no_execute_toleration_seconds_expire_at_time_added_plus_seconds():
    clusters = [tainted("gone", "tmc.kcp.io/unreachable", "NoExecute", time_added="2024-05-01T11:58:00Z")]
    spec = {
        "tolerations": [
            {"key": "tmc.kcp.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ]
    }
    assert names(P.decide(spec, clusters, now=NOW)) == ["gone"]  # 2 of 5 minutes used
    later = "2024-05-01T12:03:00Z"
    result = P.decide(spec, clusters, now=later)
    assert names(result) == []
    assert result.explanations["gone"]["reasons"] == [
        "taint not tolerated: tmc.kcp.io/unreachable:NoExecute tolerationSeconds=300 expired at 2024-05-01T12:03:00Z"
    ]
    no_clock = P.decide(spec, clusters)
    assert names(no_clock) == []
    assert "no 'now' was given" in no_clock.explanations["gone"]["reasons"][0]
    forever = {"tolerations": [{"key": "tmc.kcp.io/unreachable", "operator": "Exists"}]}
    assert names(P.decide(forever, clusters, now=later)) == ["gone"]
    untimed = [tainted("x", "tmc.kcp.io/unreachable", "NoExecute")]
    assert names(P.decide(spec, untimed, now=later)) == ["x"]  # no timeAdded: the clock never started


def test_previous_clusters_stay_on_no_schedule_but_leave_on_no_execute():
    clusters = [
        tainted("soft", "tmc.kcp.io/unreachable", "NoSchedule"),
        tainted("hard", "tmc.kcp.io/unreachable", "NoExecute"),
        cluster("cordoned", {"tier": "prod"}, unschedulable=True),
    ]
    assert names(P.decide({}, clusters)) == []
    kept = P.decide({}, clusters, previous=["soft", "hard", "cordoned"])
    assert names(kept) == ["cordoned", "soft"]
    assert kept.explanations["hard"]["reasons"] == ["taint not tolerated: tmc.kcp.io/unreachable:NoExecute"]
    assert "does not evict" in kept.explanations["soft"]["reasons"][-2]


def test_unschedulable_is_a_cordon_tolerated_by_its_taint_key():
    clusters = [cluster("c", {}, unschedulable=True)]
    result = P.decide({}, clusters)
    assert names(result) == []
    assert result.explanations["c"]["reasons"][0].startswith("unschedulable: the cluster is cordoned")
    spec = {"tolerations": [{"key": api.TAINT_UNSCHEDULABLE, "operator": "Exists"}]}
    assert names(P.decide(spec, clusters)) == ["c"]


def test_namespace_selector_of_the_cluster_gates_namespaces():
    clusters = [
        cluster("team-only", namespaceSelector={"matchLabels": {"team": "a"}}),
        cluster("by-name", namespaceSelector={"matchLabels": {"kubernetes.io/metadata.name": "team-a"}}),
        cluster("open"),
    ]
    result = P.decide(wp({}), clusters, namespace_labels={"team": "b"})
    assert names(result) == ["by-name", "open"]
    assert result.explanations["team-only"]["reasons"] == [
        "namespace not allowed: the cluster's namespaceSelector (team In [a]) does not match namespace team-a"
    ]
    assert names(P.decide(wp({}), clusters, namespace_labels={"team": "a"})) == ["by-name", "open", "team-only"]
    assert names(P.decide(wp({}, namespace="other"), clusters, namespace_labels={"team": "a"})) == ["open", "team-only"]


def test_zero_allocatable_is_not_enough_capacity():
    clusters = [
        cluster("full", allocatable={"pods": 0, "cpu": "4"}),
        cluster("unknown"),
        cluster("fine", allocatable={"pods": 10}),
    ]
    result = P.decide({}, clusters)
    assert names(result) == ["fine", "unknown"]
    assert result.explanations["full"]["reasons"] == ["not enough capacity: allocatable pods is 0"]


# --------------------------------------------------------------------------
# CEL predicates


def test_predicates_filter_and_explain():
    clusters = [
        cluster("big", {"gpu": "h100"}, allocatable={"cpu": "32"}),
        cluster("small", {"gpu": "l4"}, allocatable={"cpu": "4"}),
        cluster("cpu-only", {}, allocatable={"cpu": "64"}),
    ]
    spec = {"predicates": ["cluster.allocatable.cpu >= 16", "!has(cluster.labels.gpu) || cluster.labels.gpu != 'l4'"]}
    result = P.decide(spec, clusters)
    assert names(result) == ["big", "cpu-only"]
    assert result.explanations["small"]["reasons"] == [
        "predicate false: spec.predicates[0] 'cluster.allocatable.cpu >= 16'"
    ]
    errors = P.decide({"predicates": ["cluster.labels['gpu'] == 'h100'"]}, clusters)
    assert names(errors) == ["big"]
    reason = errors.explanations["cpu-only"]["reasons"][0]
    assert reason.startswith("predicate error: spec.predicates[0] \"cluster.labels['gpu'] == 'h100'\": ")
    assert "gpu" in reason
    not_bool = P.decide({"predicates": ["cluster.name"]}, clusters)
    assert names(not_bool) == []
    assert "not true or false" in not_bool.explanations["big"]["reasons"][0]


def test_predicates_can_read_every_documented_field():
    clusters = [
        cluster(
            "c",
            {"env": "x"},
            "mars",
            taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}],
            capacity={"cpu": 2, "memory": "1Gi", "pods": 3},
        ),
    ]
    spec = {
        "tolerations": [{"operator": "Exists"}],
        "predicates": [
            "cluster.name == 'c' && cluster.location == 'mars' && cluster.labels.env == 'x'",
            "cluster.capacity.cpu == 2.0 && cluster.capacity.memory == 1073741824 && cluster.allocatable.pods == 3",
            "cluster.taints.exists(t, t.key == 'k' && t.value == 'v' && t.effect == 'NoSchedule')",
            "!cluster.unschedulable",
        ],
    }
    assert names(P.decide(spec, clusters)) == ["c"]


def test_programs_are_compiled_once_per_placement_generation():
    cache = cel_predicates.ProgramCache()
    first = wp({"predicates": ["cluster.name != ''", "true"]}, uid="u-1", generation=1)
    P.compile_placement(first, cache=cache)
    P.compile_placement(copy.deepcopy(first), cache=cache)
    assert cache.compiled == 2
    second = wp({"predicates": ["cluster.name != ''", "true"]}, uid="u-1", generation=2)
    P.compile_placement(second, cache=cache)
    assert cache.compiled == 4
    assert len(cache) == 2  # the older generation's programs were dropped


def test_index_compiles_each_generation_once():
    index = P.PlacementIndex([cluster("a")])
    placement = wp({"predicates": ["true"]}, uid="u-9")
    for _attempt in range(3):
        index.set_placement(placement)
        index.decide("team-a/web")
    assert index.cache.compiled == 1


def test_missing_cel_library_only_matters_when_predicates_are_used():
    script = """
import sys
sys.modules['cel'] = None  # as if common-expression-language were not installed
sys.path.insert(0, sys.argv[1])
from ansible_collections.tmc.multicluster.plugins.module_utils import api, placement
print(placement.decide({}, [{'name': 'a'}]).clusters)
try:
    placement.decide({'predicates': ['true']}, [{'name': 'a'}])
except api.SpecError as exc:
    print(exc)
"""
    out = subprocess.run(
        [sys.executable, "-c", script, str(REPO / ".build" / "collections")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    ).stdout.splitlines()
    assert out[0] == "['a']"
    assert out[1].startswith("spec.predicates[0]: CEL predicates need the Python package common-expression-language")


# --------------------------------------------------------------------------
# Scores, numberOfClusters, tie-breaking


def test_number_of_clusters_ties_break_by_name_and_explain_the_cut():
    clusters = [cluster(n) for n in ("delta", "alpha", "charlie", "bravo")]
    result = P.decide({"numberOfClusters": 2}, clusters)
    assert names(result) == ["alpha", "bravo"]
    assert result.explanations["charlie"]["reasons"] == [
        "cut by numberOfClusters=2: score 0 (Balance 1x0 + Steady 1x0), rank 3 of 4"
    ]
    assert result.decisions[0] == {
        "cluster": "alpha",
        "weight": 1,
        "reason": "Selected: ranked within numberOfClusters=2",
    }


def test_balance_prefers_fewer_workloads_and_steady_keeps_previous():
    clusters = [cluster("busy", workloads=90), cluster("idle", workloads=0), cluster("mid", workloads=50)]
    assert names(P.decide({"numberOfClusters": 1}, clusters)) == ["idle"]
    steady = {
        "numberOfClusters": 1,
        "prioritizers": [{"name": "Steady", "weight": 2}, {"name": "Balance", "weight": 1}],
    }
    assert names(P.decide(steady, clusters, previous=["busy"])) == ["busy"]  # 2x100 beats 1x100
    equal = {"numberOfClusters": 1, "prioritizers": [{"name": "Steady"}, {"name": "Balance"}]}
    assert names(P.decide(equal, clusters, previous=["mid"])) == ["mid"]  # 100 + 44.4 beats 0 + 100
    result = P.decide(equal, clusters, previous=[{"cluster": "mid", "weight": 1}])
    assert result.explanations["mid"]["reasons"][-1] == "score 144.44 (Balance 1x44.44 + Steady 1x100), rank 1 of 3"


def test_capacity_prefers_more_allocatable():
    clusters = [
        cluster("small", allocatable={"cpu": "4", "memory": "16Gi"}),
        cluster("large", allocatable={"cpu": "64", "memory": "256Gi"}),
        cluster("medium", allocatable={"cpu": "16", "memory": "64Gi"}),
    ]
    spec = {"numberOfClusters": 2, "prioritizers": [{"name": "Capacity"}]}
    assert names(P.decide(spec, clusters)) == ["large", "medium"]


# --------------------------------------------------------------------------
# Spread


def zones(count_per_zone, zone_names=("z1", "z2", "z3")):
    out = []
    for zone, count in zip(zone_names, count_per_zone, strict=False):
        out += [cluster(f"{zone}-{i}", {"zone": zone}, f"loc-{zone}") for i in range(count)]
    return out


def test_spread_evens_out_groups_within_max_skew():
    clusters = zones([4, 4, 1])
    result = P.decide({"numberOfClusters": 6, "spreadConstraints": [{"topologyKey": "zone", "maxSkew": 1}]}, clusters)
    per_zone = {z: sum(1 for n in names(result) if n.startswith(z)) for z in ("z1", "z2", "z3")}
    assert per_zone == {"z1": 2, "z2": 2, "z3": 1}  # z3 has one cluster: others stop at 1 + maxSkew
    assert len(names(result)) == 5
    reason = result.explanations["z1-3"]["reasons"][0]
    assert reason.startswith("spread limit: zone=z1 already has 2 selected cluster(s) and the least-used group 1")


def test_spread_by_location_min_and_max_groups():
    clusters = zones([3, 3, 3])
    spec = {"numberOfClusters": 4, "spreadConstraints": [{"topologyKey": "location", "maxSkew": 2, "maxGroups": 2}]}
    result = P.decide(spec, clusters)
    assert {n.split("-")[0] for n in names(result)} == {"z1", "z2"}
    assert result.explanations["z3-0"]["reasons"][0].startswith(
        "spread limit: location=loc-z3 would be group 3, over maxGroups=2"
    )
    spec = {"numberOfClusters": 3, "spreadConstraints": [{"topologyKey": "zone", "maxSkew": 5, "minGroups": 3}]}
    assert sorted(n.split("-")[0] for n in names(P.decide(spec, clusters))) == ["z1", "z2", "z3"]


def test_unmet_min_groups_selects_nothing_and_says_why():
    clusters = zones([3, 3]) + [cluster("nozone")]
    result = P.decide({"spreadConstraints": [{"topologyKey": "zone", "minGroups": 3}]}, clusters)
    assert result.decisions == []
    assert result.message.startswith("spread limit: minGroups=3 for topologyKey zone cannot be met")
    assert result.explanations["z1-0"]["reasons"] == [result.message]
    assert result.explanations["nozone"]["reasons"] == ["spread limit: the cluster has no value for topologyKey zone"]


# --------------------------------------------------------------------------
# Replicas


def test_divide_replicas_webster_ties_by_name():
    decisions = [{"cluster": c, "weight": 1} for c in ("c", "a", "b")]
    assert [d["replicas"] for d in P.divide_replicas(10, decisions)] == [3, 4, 3]  # a gets the extra one
    weighted = [{"cluster": "x", "weight": 2}, {"cluster": "y", "weight": 1}, {"cluster": "z", "weight": 0}]
    assert [d["replicas"] for d in P.divide_replicas(7, weighted)] == [5, 2, 0]  # 4.67 -> 5, 2.33 -> 2
    assert [
        d["replicas"] for d in P.divide_replicas(3, [{"cluster": "p", "weight": 0}, {"cluster": "q", "weight": 0}])
    ] == [2, 1]
    assert P.divide_replicas(5, []) == []
    assert [d["replicas"] for d in P.divide_replicas(0, decisions)] == [0, 0, 0]


def test_divide_replicas_caps_by_request_then_overcommits():
    decisions = [
        {"cluster": "tiny", "weight": 1, "allocatable": {"cpu": "1", "memory": "8Gi"}},
        {"cluster": "huge", "weight": 1, "allocatable": {"cpu": "64", "memory": "256Gi"}},
        {"cluster": "unknown", "weight": 1},
    ]
    out = P.divide_replicas(9, decisions, {"cpu": "500m", "memory": "1Gi"})
    assert {d["cluster"]: d["replicas"] for d in out} == {"tiny": 2, "huge": 4, "unknown": 3}
    full = [
        {"cluster": "a", "weight": 1, "allocatable": {"cpu": "1"}},
        {"cluster": "b", "weight": 3, "allocatable": {"cpu": "1"}},
    ]
    out = P.divide_replicas(10, full, {"cpu": "1"})
    assert [d["replicas"] for d in out] == [3, 7]  # 1 + 1 fit; the other 8 split 2:6 by weight
    with pytest.raises(api.SpecError, match="replicas"):
        P.divide_replicas(-1, decisions)
    with pytest.raises(api.SpecError, match=r"decisions\[0\]\.weight"):
        P.divide_replicas(1, [{"cluster": "a", "weight": -2}])


def test_divided_placements_carry_weights_and_replicas():
    clusters = [
        cluster("a", allocatable={"cpu": "8"}),
        cluster("b", allocatable={"cpu": "4"}),
        cluster("c", allocatable={"cpu": "2"}),
    ]
    static = {
        "replicaScheduling": {
            "type": "Divided",
            "weights": [{"cluster": "a", "weight": 3}, {"cluster": "b", "weight": 1}],
        }
    }
    result = P.decide(static, clusters, replicas=8)
    assert result.to_status() == [
        {"cluster": "a", "weight": 3, "replicas": 6, "reason": "Selected: eligible (no numberOfClusters limit)"},
        {"cluster": "b", "weight": 1, "replicas": 2, "reason": "Selected: eligible (no numberOfClusters limit)"},
        {"cluster": "c", "weight": 0, "replicas": 0, "reason": "Selected: eligible (no numberOfClusters limit)"},
    ]
    dynamic = {"replicaScheduling": {"type": "Divided", "dynamic": "AvailableCapacity"}}
    # Without a per-replica request the weight is the free pod slots (it was allocatable millicores: issue 20).
    slots = [{**c, "allocatable": {**c["allocatable"], "pods": p}} for c, p in zip(clusters, (80, 40, 20), strict=True)]
    result = P.decide(dynamic, slots, replicas=7)
    assert [(d["weight"], d["replicas"]) for d in result.decisions] == [(80, 4), (40, 2), (20, 1)]
    assert result.replicas_for(14) == {"a": 8, "b": 4, "c": 2}
    unknown = P.decide(dynamic, clusters, replicas=7)  # no cluster reports pod slots: even, and said so
    assert [(d["weight"], d["replicas"]) for d in unknown.decisions] == [(0, 3), (0, 2), (0, 2)]
    assert all("no selected cluster reports capacity" in d["reason"] for d in unknown.decisions)
    assert "no selected cluster reports capacity" in unknown.message
    fitting = P.decide(dynamic, clusters, per_replica_request={"cpu": "2"})
    assert [d["weight"] for d in fitting.decisions] == [4, 2, 1]
    assert P.decide({}, clusters, replicas=3).replicas_for(3) == {"a": 3, "b": 3, "c": 3}  # Duplicated
    assert [d["replicas"] for d in P.decide({}, clusters, replicas=3).decisions] == [3, 3, 3]


# --------------------------------------------------------------------------
# Feature gates


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"spreadConstraints": [{"topologyKey": "zone"}]}, "spec.spreadConstraints"),
        ({"prioritizers": [{"name": "Steady"}]}, "spec.prioritizers"),
        ({"predicates": ["true"]}, "spec.predicates"),
        (
            {"replicaScheduling": {"type": "Divided", "weights": [{"cluster": "a", "weight": 1}]}},
            "spec.replicaScheduling.weights",
        ),
        ({"replicaScheduling": {"type": "Divided", "dynamic": "AvailableCapacity"}}, "spec.replicaScheduling.dynamic"),
    ],
)
def test_advanced_placement_gate_off_refuses_advanced_fields(spec, field):
    gates = api.FeatureGates.from_overrides({"TMCAdvancedPlacement": False})
    with pytest.raises(api.FeatureGateError) as err:
        P.decide(spec, FLEET, gates=gates)
    assert field in str(err.value)
    assert "TMCAdvancedPlacement" in str(err.value)
    with pytest.raises(api.FeatureGateError):
        P.PlacementIndex(FLEET, gates=gates).set_placement(wp(spec))


def test_basic_placement_works_with_the_advanced_gate_off_but_not_with_tmc_off():
    basic = {
        "clusterSelector": {"matchLabels": {"tier": "prod"}},
        "numberOfClusters": 1,
        "replicaScheduling": {"type": "Divided"},
    }
    gates = api.FeatureGates.from_overrides({"TMCAdvancedPlacement": False})
    assert names(P.decide(basic, FLEET, gates=gates)) == ["a-east"]
    with pytest.raises(api.FeatureGateError, match="TMC"):
        P.decide(basic, FLEET, gates=api.FeatureGates.from_overrides({"TMC": False}))


# --------------------------------------------------------------------------
# Results


def test_to_status_has_exactly_the_contract_fields():
    result = P.decide(wp({"numberOfClusters": 1}), FLEET, replicas=2)
    assert result.to_status() == [
        {"cluster": "a-east", "weight": 1, "replicas": 2, "reason": "Selected: ranked within numberOfClusters=1"}
    ]
    status = result.to_status()
    status[0]["weight"] = 99
    assert result.decisions[0]["weight"] == 1  # copies
    assert result.message == "1 of 4 eligible clusters selected (4 clusters)"
    assert result.scheduled
    nowhere = P.decide({"clusterSelector": {"matchLabels": {"tier": "none"}}}, FLEET)
    assert nowhere.message == "no eligible cluster among 4"
    assert not nowhere.scheduled and nowhere.to_status() == []


def test_inputs_are_not_modified():
    clusters = copy.deepcopy(FLEET)
    spec = wp({"clusterSelector": {"matchLabels": {"tier": "prod"}}, "numberOfClusters": 1})
    frozen = copy.deepcopy(spec)
    P.decide(spec, clusters).explanations  # noqa: B018
    assert clusters == FLEET and spec == frozen
