"""One validation (issue 20, item 6): the engine checks a spec with the CRD's own schema and CEL rules.

What the API server itself says about the same specs is compared in
tests/integration/test_placement_validation.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils import placement as P
from ansible_collections.tmc.multicluster.plugins.module_utils.placement import schema
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.validate import validate_spec

REPO = Path(__file__).resolve().parents[2]
CLUSTERS = [{"name": "a", "labels": {"zone": "z1"}}, {"name": "b", "labels": {"zone": "z2"}}]


def generator():
    spec = importlib.util.spec_from_file_location("gen_placement_schema", REPO / "hack" / "gen_placement_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_schema_is_the_crds():
    gen = generator()
    assert gen.spec_schema() == schema.SPEC, "run: python hack/gen_placement_schema.py (make schema)"
    assert (REPO / "plugins/module_utils/placement/schema.py").read_text() == gen.render()


def refused(spec):
    with pytest.raises(api.SpecError) as err:
        P.compile_placement(spec)
    return err.value


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        # what the engine accepted though the CRD refuses it (issue 20, found 7)
        (
            {"replicaScheduling": {"type": "Divided", "weights": [{"cluster": "a", "weight": 10001}]}},
            "spec.replicaScheduling.weights[0].weight",
            "should be less than or equal to 10000",
        ),
        (
            {"spreadConstraints": [{"topologyKey": "zone"}, {"topologyKey": "zone", "maxSkew": 2}]},
            "spec.spreadConstraints[1]",
            'Duplicate value: {"topologyKey":"zone"}',
        ),
        ({"tolerations": [{"operator": "Exists"}] * 33}, "spec.tolerations", "must have at most 32 items"),
        ({"locations": ["east", "east"]}, "spec.locations[1]", 'Duplicate value: "east"'),
        ({"predicates": ["x" * 1025]}, "spec.predicates[0]", "may not be more than 1024"),
        ({"numberOfClusters": "3"}, "spec.numberOfClusters", "must be of type integer"),
        ({"numberOfClusters": True}, "spec.numberOfClusters", "must be of type integer"),
        ({"deletionPolicy": "Keep"}, "spec.deletionPolicy", 'Unsupported value: "Keep"'),
        (
            {"replicaScheduling": {"type": "Divided", "weights": [{"cluster": "Not_A_Label", "weight": 1}]}},
            "spec.replicaScheduling.weights[0].cluster",
            "should match",
        ),
        (
            {"replicaScheduling": {"type": "Divided", "weights": [{"weight": 1}]}},
            "spec.replicaScheduling.weights[0].cluster",
            "Required value",
        ),
        # unknown and misspelled fields
        ({"numberOfCluster": 2}, "spec.numberOfCluster", "did you mean 'numberOfClusters'?"),
        (
            {"tolerations": [{"key": "k", "operator": "Exists", "tolerationSecond": 5}]},
            "spec.tolerations[0].tolerationSecond",
            "did you mean 'tolerationSeconds'?",
        ),
        (
            {"clusterSelector": {"matchLabel": {"a": "b"}}},
            "spec.clusterSelector.matchLabel",
            "did you mean 'matchLabels'?",
        ),
        ({"banana": 1}, "spec.banana", 'unknown field "banana"'),
        # CEL rules of the CRD
        (
            {"spreadConstraints": [{"topologyKey": "zone", "minGroups": 3, "maxGroups": 2}]},
            "spec.spreadConstraints[0].maxGroups",
            "maxGroups must be greater than or equal to minGroups",
        ),
        (
            {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]},
            "spec.tolerations[0].tolerationSeconds",
            "Forbidden: tolerationSeconds is only allowed with effect NoExecute",
        ),
        (
            {"numberOfClusters": 1, "spreadConstraints": [{"topologyKey": "zone", "minGroups": 2}]},
            "spec.spreadConstraints",
            "minGroups cannot exceed numberOfClusters",
        ),
    ],
)
def test_refused_as_the_api_server_refuses_naming_the_field(spec, field, words):
    error = refused(spec)
    assert error.field == field, str(error)
    assert words in str(error), str(error)


def test_defaults_are_applied_first_as_in_the_api_server():
    out = validate_spec({"spreadConstraints": [{"topologyKey": "zone"}], "tolerations": [{"key": "k"}]})
    assert out["spreadConstraints"][0]["maxSkew"] == 1
    assert out["tolerations"][0]["operator"] == "Equal"
    assert out["replicaScheduling"] == {"type": "Duplicated"}
    assert out["deletionPolicy"] == "Delete"


def test_every_error_is_counted_in_the_message():
    error = refused({"numberOfClusters": 0, "banana": 1})
    assert error.field in ("spec.numberOfClusters", "spec.banana")
    assert "and 1 more" in str(error)


def test_the_module_filter_and_index_refuse_the_same_way():
    spec = {"numberOfCluster": 2}
    for decide in (
        lambda: P.decide(spec, CLUSTERS),
        lambda: P.PlacementIndex(CLUSTERS).decide({"metadata": {"name": "p", "namespace": "n"}, "spec": spec}),
    ):
        with pytest.raises(api.SpecError, match="did you mean 'numberOfClusters'"):
            decide()


def test_a_valid_full_spec_passes():
    spec = {
        "workloadSelector": {"matchLabels": {"app": "web"}},
        "resources": [{"group": "apps", "kind": "Deployment"}],
        "clusterSelector": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1", "z2"]}]},
        "locations": [],
        "predicates": ["cluster.allocatable.cpu >= 0.0"],
        "numberOfClusters": 2,
        "spreadConstraints": [{"topologyKey": "zone", "maxSkew": 1, "minGroups": 1, "maxGroups": 2}],
        "replicaScheduling": {"type": "Divided", "weights": [{"cluster": "a", "weight": 2}]},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}],
        "prioritizers": [{"name": "Steady", "weight": 2}],
        "propagateDependencies": True,
        "deletionPolicy": "Orphan",
    }
    assert [d["cluster"] for d in P.decide(spec, CLUSTERS).decisions] == ["a", "b"]
