"""The placement index, by example: which placements a cluster change can affect, and the same decisions."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils import placement as P

from .placement_examples import FLEET, REPO, cluster, names, wp

# --------------------------------------------------------------------------
# The index


def test_index_reports_only_the_placements_a_cluster_change_can_affect():
    index = P.PlacementIndex(FLEET)
    index.set_placement(wp({"clusterSelector": {"matchLabels": {"region": "us"}}}, name="us"))
    index.set_placement(wp({"clusterSelector": {"matchLabels": {"region": "eu"}}}, name="eu"))
    index.set_placement(
        wp({"locations": ["eu-west"], "numberOfClusters": 1, "prioritizers": [{"name": "Capacity"}]}, name="eu-cap")
    )
    index.set_placement(
        wp(
            {"clusterSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}},
            name="all",
        )
    )
    assert index.placements == ("team-a/all", "team-a/eu", "team-a/eu-cap", "team-a/us")
    moved = cluster("c-eu", {"tier": "dev", "region": "us"}, "eu-west")
    assert index.update_cluster(moved) == {"team-a/us", "team-a/eu"}  # eu-cap and all: matched before and after
    assert index.update_cluster(moved) == frozenset()  # nothing changed
    busier = cluster("c-eu", {"tier": "dev", "region": "us"}, "eu-west", allocatable={"cpu": "2"})
    assert index.update_cluster(busier) == {"team-a/eu-cap"}  # Capacity reads allocatable
    assert index.remove_cluster("c-eu") == {"team-a/us", "team-a/eu-cap", "team-a/all"}
    assert index.remove_cluster("c-eu") == frozenset()
    assert names(index.decide("team-a/us")) == ["a-east", "b-west"]
    assert index.update_namespace("team-a", {"x": "y"}) == set(index.placements)
    every = index.decide_all({"team-a/us": ["b-west"]})
    assert sorted(every) == list(index.placements)
    assert names(every["team-a/eu-cap"]) == ["d-nolabel"]
    index.remove_placement("team-a/eu-cap")
    assert index.placements == ("team-a/all", "team-a/eu", "team-a/us")


def test_index_decisions_equal_one_shot_decisions_through_changes():
    placements = [
        wp({"clusterSelector": {"matchLabels": {"tier": "prod"}}, "numberOfClusters": 1}, name="top"),
        wp({"spreadConstraints": [{"topologyKey": "region"}], "numberOfClusters": 2}, name="spread"),
        wp({"predicates": ["cluster.labels.tier == 'prod'"]}, name="cel"),
    ]
    clusters = {c["name"]: c for c in copy.deepcopy(FLEET)}
    index = P.PlacementIndex(clusters.values(), placements)
    previous = {}
    changes = [
        cluster("e-new", {"tier": "prod", "region": "eu"}, "eu-west", workloads=0),
        cluster("a-east", {"tier": "prod", "region": "us"}, "us-east", workloads=10),
        cluster("c-eu", {"tier": "prod", "region": "eu"}, "eu-west", taints=[{"key": "k", "effect": "NoSchedule"}]),
        None,
        cluster("b-west", {"tier": "dev", "region": "us"}, "us-west"),
    ]
    for change in changes:
        if change is None:
            index.remove_cluster("e-new")
            clusters.pop("e-new")
        else:
            index.update_cluster(change)
            clusters[change["name"]] = change
        for placement in placements:
            key = P.placement_key(placement)
            got = index.decide(key, previous.get(key))
            want = P.decide(placement, clusters.values(), previous.get(key))
            assert got == want, (key, change)
            assert got.explanations == want.explanations
            previous[key] = got


def test_index_decide_rejects_unknown_keys_and_nameless_specs():
    index = P.PlacementIndex(FLEET)
    with pytest.raises(KeyError):
        index.decide("nope/nothing")
    with pytest.raises(api.SpecError, match="metadata.name"):
        index.set_placement({"numberOfClusters": 1})
    assert index.set_placement({"numberOfClusters": 1}, key="spec-only") == "spec-only"


def test_index_falls_back_to_a_full_decide_when_normalisation_bounds_move():
    # Without Steady (the default set keeps b, issue 20): Balance 1 + Capacity 2, cpu only.
    clusters = [
        cluster("a", workloads=0, allocatable={"cpu": "1"}),
        cluster("b", workloads=10, allocatable={"cpu": "16"}),
        cluster("c", workloads=5, allocatable={"cpu": "4"}),
    ]
    placement = wp({"numberOfClusters": 1, "prioritizers": [{"name": "Balance"}, {"name": "Capacity", "weight": 2}]})
    index = P.PlacementIndex(clusters, [placement])
    assert names(index.decide("team-a/web", ["b"])) == ["a"]  # a: 100 + 0, b: 0 + 100 -> a by name
    busier = cluster("c", workloads=20, allocatable={"cpu": "4"})  # the Balance maximum moves from 10 to 20
    assert index.update_cluster(busier) == {"team-a/web"}
    got = index.decide("team-a/web", ["b"])
    assert got == P.decide(placement, [clusters[0], clusters[1], busier], ["b"])
    assert names(got) == ["b"]  # b: 50 + 100 now beats a: 100


def test_index_spread_notices_an_untaken_head_that_kept_its_group_alive():
    # All scores equal: rank by name. z3's only cluster is never taken but keeps the skew minimum at 0.
    layout = {"a1": "z1", "a2": "z1", "a3": "z1", "b1": "z2", "b2": "z2", "c1": "z3"}
    clusters = [cluster(n, {"zone": z}) for n, z in layout.items()]
    placement = wp({"numberOfClusters": 4, "spreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}]})
    index = P.PlacementIndex(clusters, [placement])
    assert names(index.decide("team-a/web")) == ["a1", "a2", "b1", "b2"]
    assert index.remove_cluster("c1") == {"team-a/web"}
    got = index.decide("team-a/web")
    assert got == P.decide(placement, clusters[:-1])
    assert names(got) == ["a1", "a2", "a3", "b1"]


def test_cel_core_loads_without_the_library_cli_and_import_cel_still_works_after():
    script = """
import sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.tmc.multicluster.plugins.module_utils import placement
print(placement.decide({'predicates': ['cluster.name == "a"']}, [{'name': 'a'}, {'name': 'b'}]).clusters)
print('prompt_toolkit' in sys.modules)
import cel  # the package, as another module would import it: reuses the loaded core
print(cel.compile('1 + 1').execute({}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script, str(REPO / ".build" / "collections")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out == ["['a']", "False", "2"]


def test_index_replaces_a_selected_cluster_whose_score_falls_below_the_runner_up():
    clusters = [
        cluster("lo", workloads=0),
        cluster("a", workloads=1),
        cluster("b", workloads=2),
        cluster("hi", workloads=10),
    ]
    placement = wp({"numberOfClusters": 2, "prioritizers": [{"name": "Balance"}]})
    index = P.PlacementIndex(clusters, [placement])
    assert names(index.decide("team-a/web")) == ["a", "lo"]  # 100, 90 | runner-up b: 80
    busier = cluster("a", workloads=3)  # 70: now behind b; the bounds (0, 10) do not move
    assert index.update_cluster(busier) == {"team-a/web"}
    got = index.decide("team-a/web")
    assert names(got) == ["b", "lo"]
    assert got == P.decide(placement, [clusters[0], busier, clusters[2], clusters[3]])


def test_clusters_sharing_taints_are_judged_apart_when_only_one_was_selected_before():
    taint = [{"key": "tmc.kcp.io/unreachable", "effect": "NoSchedule"}]
    clusters = [cluster("new", taints=taint), cluster("old", taints=taint)]
    assert names(P.decide({}, clusters, previous=["old"])) == ["old"]
    assert names(P.decide({}, list(reversed(clusters)), previous=["old"])) == ["old"]
    assert names(P.PlacementIndex(clusters).decide(wp({}), ["old"])) == ["old"]
