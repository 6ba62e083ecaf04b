"""One validation (issue 20, item 6): the engine and the real API server agree on every spec.

Each spec goes to the hub as a server-side dry run with strict field validation (what
``kubectl apply`` does) and to the engine's ``compile_placement``; both must accept it, or
both refuse it naming the same field.
"""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils import placement as P

DEEP = "[1].all(a, [2].all(b, [3].all(c, true)))"
# CEL skips \r and \f between tokens too: the CRD rule must not be fooled by them.
DEEP_SPACED = "[1]\r.\fall(a, [2].\rall(b, [3]\f.all\r(c, true)))"

VALID = [
    {},
    {"locations": []},
    {"numberOfClusters": 2, "spreadConstraints": [{"topologyKey": "zone", "maxSkew": 2, "minGroups": 2}]},
    {"replicaScheduling": {"type": "Divided", "weights": [{"cluster": "a", "weight": 10000}]}},
    {"replicaScheduling": {"type": "Divided", "dynamic": "AvailableCapacity", "retainReplicas": True}},
    {
        "tolerations": [
            {"operator": "Exists"},
            {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0},
        ]
    },
    {"predicates": ["cluster.labels.all(k, k != '') && cluster.taints.exists(t, t.key == 'x')"]},
    {
        "numberOfClusters": 1,
        "clusterAffinities": [
            {"name": "primary", "clusterSelector": {"matchLabels": {"site": "a"}}},
            {"name": "backup", "locations": ["east"]},
        ],
    },
]

INVALID = [
    ({"numberOfClusters": 0}, "spec.numberOfClusters"),
    ({"numberOfCluster": 2}, "spec.numberOfCluster"),
    (
        {"tolerations": [{"key": "k", "operator": "Exists", "tolerationSecond": 5}]},
        "spec.tolerations[0].tolerationSecond",
    ),
    (
        {"replicaScheduling": {"type": "Divided", "weights": [{"cluster": "a", "weight": 10001}]}},
        "spec.replicaScheduling.weights[0].weight",
    ),
    ({"replicaScheduling": {"weights": [{"cluster": "a", "weight": 1}]}}, "spec.replicaScheduling.weights"),
    (
        {
            "replicaScheduling": {
                "type": "Divided",
                "dynamic": "AvailableCapacity",
                "weights": [{"cluster": "a", "weight": 1}],
            }
        },
        "spec.replicaScheduling.dynamic",
    ),
    ({"spreadConstraints": [{"topologyKey": "zone"}, {"topologyKey": "zone"}]}, "spec.spreadConstraints[1]"),
    (
        {"spreadConstraints": [{"topologyKey": "zone", "minGroups": 3, "maxGroups": 2}]},
        "spec.spreadConstraints[0].maxGroups",
    ),
    ({"numberOfClusters": 1, "spreadConstraints": [{"topologyKey": "zone", "minGroups": 2}]}, "spec.spreadConstraints"),
    ({"tolerations": [{"operator": "Exists"}] * 33}, "spec.tolerations"),
    ({"tolerations": [{"operator": "Equal", "value": "v"}]}, "spec.tolerations[0].key"),
    (
        {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]},
        "spec.tolerations[0].tolerationSeconds",
    ),
    ({"locations": ["east", "east"]}, "spec.locations[1]"),
    ({"predicates": [""]}, "spec.predicates[0]"),
    ({"predicates": [DEEP]}, "spec.predicates[0]"),
    ({"predicates": ["true", DEEP_SPACED]}, "spec.predicates[1]"),
    ({"prioritizers": [{"name": "Balance", "weight": 101}]}, "spec.prioritizers[0].weight"),
    ({"deletionPolicy": "Keep"}, "spec.deletionPolicy"),
    (
        {"clusterSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
        "spec.clusterSelector.matchExpressions[0].values",
    ),
    (
        {"clusterAffinities": [{"name": "a", "clusterSelector": {}}], "locations": ["east"]},
        "spec.clusterAffinities",
    ),
    ({"clusterAffinities": [{"name": "a"}, {"name": "a"}]}, "spec.clusterAffinities[1]"),
]


def api_server_verdict(custom, namespace, spec):
    body = {
        "apiVersion": f"{api.GROUP}/{api.VERSION}",
        "kind": api.KIND_PLACEMENT,
        "metadata": {"name": "validation-probe", "namespace": namespace},
        "spec": spec,
    }
    try:
        custom.create_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.PLURAL_PLACEMENT, body, dry_run="All", field_validation="Strict"
        )
    except ApiException as err:
        assert err.status in (400, 422), err.body
        status = json.loads(err.body)
        causes = [c.get("field") for c in status.get("details", {}).get("causes", [])]
        return False, causes, status.get("message", "")
    return True, [], ""


def engine_verdict(spec):
    try:
        P.compile_placement({"metadata": {"name": "validation-probe", "namespace": "x"}, "spec": spec})
    except api.SpecError as err:
        return False, err.field, str(err)
    return True, None, ""


@pytest.fixture(scope="module")
def custom(tmc_hub, hub_api_client):
    return client.CustomObjectsApi(hub_api_client)


@pytest.mark.parametrize("spec", VALID, ids=lambda s: json.dumps(s)[:60])
def test_both_accept(custom, spec):
    assert api_server_verdict(custom, "default", spec)[0], spec
    assert engine_verdict(spec)[0], spec


@pytest.mark.parametrize(("spec", "field"), INVALID, ids=lambda v: json.dumps(v)[:60] if isinstance(v, dict) else v)
def test_both_refuse_naming_the_same_field(custom, spec, field):
    accepted, causes, message = api_server_verdict(custom, "default", spec)
    assert not accepted, spec
    engine_ok, engine_field, engine_message = engine_verdict(spec)
    assert not engine_ok, spec
    # strict field validation reports unknown fields as `.spec.x` / `spec.x` in the message, not in causes
    where = [c.lstrip(".") for c in causes if c] or [message]
    assert engine_field == field, engine_message
    assert any(field in w for w in where), (where, message)
