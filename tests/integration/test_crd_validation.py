"""The hub's CRDs on the real API server of the testbed: bad specs refused, good ones defaulted.

Installs roles/hub/files/crds/*.yaml with the kubernetes client (create or
replace, then wait for Established), then creates objects for real. Every
invalid spec below breaks exactly one rule, because the API server evaluates
the CEL rules only on objects that pass the OpenAPI schema. The CRDs are left
installed (they are the hub's API, which other tests use); every object and
the namespace made here are deleted.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from pathlib import Path

import pytest
import yaml

from ansible_collections.tmc.multicluster.plugins.module_utils import api

pytestmark = pytest.mark.testbed

client = pytest.importorskip("kubernetes.client")
ApiException = pytest.importorskip("kubernetes.client.rest").ApiException

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "roles" / "hub" / "files" / "crds"
TIMEOUT = 30
SUFFIX = uuid.uuid4().hex[:6]
# SyncWorks live in tmc-cluster-<cluster> for <cluster> (the hub role's admission policy
# tmc-syncwork-location, installed when another test ran the role): this module's objects go there.
CLUSTER = f"crdv-{SUFFIX}"
NAMESPACE = f"tmc-cluster-{CLUSTER}"
PLURAL = {
    api.KIND_CLUSTER: api.PLURAL_CLUSTER,
    api.KIND_PLACEMENT: api.PLURAL_PLACEMENT,
    api.KIND_SYNCWORK: api.PLURAL_SYNCWORK,
}


# ---------------------------------------------------------------- fixtures


def _install_crd(ext, crd: dict) -> None:
    name = crd["metadata"]["name"]
    for _attempt in range(5):
        try:
            ext.create_custom_resource_definition(crd, _request_timeout=TIMEOUT)
            return
        except ApiException as exc:
            if exc.status != 409:
                raise
        try:
            current = ext.read_custom_resource_definition(name, _request_timeout=TIMEOUT)
            body = copy.deepcopy(crd)
            body["metadata"]["resourceVersion"] = current.metadata.resource_version
            ext.replace_custom_resource_definition(name, body, _request_timeout=TIMEOUT)
            return
        except ApiException as exc:
            if exc.status not in (404, 409):  # deleted or changed meanwhile: try again
                raise
    raise AssertionError(f"could not install {name}")


def _wait_established(ext, custom, name: str, plural: str, namespaced: bool) -> None:
    deadline = time.monotonic() + 60
    while True:
        crd = ext.read_custom_resource_definition(name, _request_timeout=TIMEOUT)
        conditions = {c.type: c.status for c in (crd.status.conditions or [])}
        if conditions.get("Established") == "True":
            try:  # served as well: discovery and the REST handler can lag behind the condition
                if namespaced:
                    custom.list_namespaced_custom_object(api.GROUP, api.VERSION, "default", plural, limit=1)
                else:
                    custom.list_cluster_custom_object(api.GROUP, api.VERSION, plural, limit=1)
                return
            except ApiException as exc:
                if exc.status != 404:
                    raise
        if time.monotonic() > deadline:
            raise AssertionError(f"CRD {name} not Established: {conditions}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def crds(hub_api_client):
    ext = client.ApiextensionsV1Api(hub_api_client)
    custom = client.CustomObjectsApi(hub_api_client)
    installed = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        (crd,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
        _install_crd(ext, crd)
        installed[crd["spec"]["names"]["kind"]] = crd
    for crd in installed.values():
        _wait_established(
            ext, custom, crd["metadata"]["name"], crd["spec"]["names"]["plural"], crd["spec"]["scope"] == "Namespaced"
        )
    return installed


@pytest.fixture(scope="module")
def namespace(hub_api_client, crds):
    core = client.CoreV1Api(hub_api_client)
    core.create_namespace({"metadata": {"name": NAMESPACE}}, _request_timeout=TIMEOUT)
    yield NAMESPACE
    try:
        core.delete_namespace(NAMESPACE, _request_timeout=TIMEOUT)
    except ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture(scope="module")
def objects(hub_api_client, namespace):
    """Creates objects for real and deletes every one that the server accepted."""
    custom = client.CustomObjectsApi(hub_api_client)
    created = []

    def create(kind: str, body: dict) -> dict:
        body = {"apiVersion": api.API_VERSION, "kind": kind, **copy.deepcopy(body)}
        if kind == api.KIND_CLUSTER:
            result = custom.create_cluster_custom_object(
                api.GROUP, api.VERSION, PLURAL[kind], body, _request_timeout=TIMEOUT
            )
        else:
            result = custom.create_namespaced_custom_object(
                api.GROUP, api.VERSION, namespace, PLURAL[kind], body, _request_timeout=TIMEOUT
            )
        created.append((kind, result["metadata"]["name"]))
        return result

    create.custom = custom
    create.namespace = namespace
    yield create
    for kind, name in reversed(created):
        try:
            if kind == api.KIND_CLUSTER:
                custom.delete_cluster_custom_object(api.GROUP, api.VERSION, PLURAL[kind], name)
            else:
                custom.delete_namespaced_custom_object(api.GROUP, api.VERSION, namespace, PLURAL[kind], name)
        except ApiException as exc:
            if exc.status != 404:
                raise


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------- invalid specs

SOURCE = {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "team-a", "name": "web"}
MANIFEST = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "team-a"}}
SELECTOR = {"matchLabels": {"env": "prod"}}

# (id, kind, metadata.name or None for a generated one, spec, field path named, words of the message)
INVALID = [
    # ClusterRegistration
    ("creg-name-not-dns-label", api.KIND_CLUSTER, "dotted.name", {}, "metadata.name", "DNS label"),
    ("creg-name-too-long", api.KIND_CLUSTER, "c" * 52, {}, "metadata.name", "51"),
    ("creg-syncmode-enum", api.KIND_CLUSTER, None, {"syncMode": "Sideways"}, "spec.syncMode", "Unsupported value"),
    (
        "creg-taint-effect-enum",
        api.KIND_CLUSTER,
        None,
        {"taints": [{"key": "gpu", "effect": "PreferNoSchedule"}]},
        "spec.taints[0].effect",
        "Unsupported value",
    ),
    (
        "creg-taint-key-required",
        api.KIND_CLUSTER,
        None,
        {"taints": [{"value": "x", "effect": "NoSchedule"}]},
        "spec.taints[0].key",
        "Required value",
    ),
    (
        "creg-taint-duplicate",
        api.KIND_CLUSTER,
        None,
        {"taints": [{"key": "gpu", "effect": "NoSchedule"}, {"key": "gpu", "value": "b", "effect": "NoSchedule"}]},
        "spec.taints[1]",
        "Duplicate value",
    ),
    (
        "creg-credentials-only-push",
        api.KIND_CLUSTER,
        None,
        {"syncMode": "Pull", "credentialsSecretRef": {"name": "member", "namespace": "tmc-system"}},
        "spec.credentialsSecretRef",
        "syncMode Push",
    ),
    ("creg-endpoint-https", api.KIND_CLUSTER, None, {"endpoint": "http://10.0.0.1:6443"}, "spec.endpoint", "https"),
    # Issue 17: what the hub refused only by convention.
    (
        "creg-push-needs-credentials",
        api.KIND_CLUSTER,
        None,
        {"location": "us-east"},
        "spec.credentialsSecretRef",
        "required with syncMode Push",
    ),
    (
        "creg-credentials-in-tmc-system",
        api.KIND_CLUSTER,
        None,
        {"credentialsSecretRef": {"name": "member", "namespace": "team-a"}},
        "spec.credentialsSecretRef.namespace",
        "must be tmc-system",
    ),
    (
        "creg-location-control-characters",
        api.KIND_CLUSTER,
        None,
        {"syncMode": "Pull", "location": "us-east\n\x1b[31mred"},
        "spec.location",
        "control characters",
    ),
    (
        "sw-manifest-needs-name",
        api.KIND_SYNCWORK,
        None,
        {"cluster": "east", "source": SOURCE, "manifest": {"apiVersion": "apps/v1", "kind": "Deployment"}},
        "spec.manifest",
        "metadata.name is required",
    ),
    (
        "sw-manifest-required",
        api.KIND_SYNCWORK,
        None,
        {"cluster": "east", "source": SOURCE},
        "spec.manifest",
        "Required value",
    ),
    ("creg-capacity-quantity", api.KIND_CLUSTER, None, {"capacity": {"cpu": "lots"}}, "spec.capacity.cpu", "match"),
    ("creg-capacity-range", api.KIND_CLUSTER, None, {"capacity": {"cpu": "2G"}}, "spec.capacity.cpu", "at most 1G"),
    ("creg-capacity-int-range", api.KIND_CLUSTER, None, {"capacity": {"pods": 10**10}}, "spec.capacity.pods", "at"),
    ("creg-capacity-exponent", api.KIND_CLUSTER, None, {"capacity": {"memory": "1e999"}}, "spec.capacity.memory", ""),
    ("creg-capacity-negative", api.KIND_CLUSTER, None, {"capacity": {"memory": "-1Gi"}}, "spec.capacity.memory", ""),
    ("creg-unschedulable-type", api.KIND_CLUSTER, None, {"unschedulable": "yes"}, "spec.unschedulable", "boolean"),
    # WorkloadPlacement
    (
        "wp-weights-only-divided",
        api.KIND_PLACEMENT,
        None,
        {"replicaScheduling": {"type": "Duplicated", "weights": [{"cluster": "east", "weight": 1}]}},
        "spec.replicaScheduling.weights",
        "only allowed with type Divided",
    ),
    (
        "wp-dynamic-only-divided",
        api.KIND_PLACEMENT,
        None,
        {"replicaScheduling": {"dynamic": "AvailableCapacity"}},
        "spec.replicaScheduling.dynamic",
        "only allowed with type Divided",
    ),
    (
        "wp-weights-and-dynamic",
        api.KIND_PLACEMENT,
        None,
        {
            "replicaScheduling": {
                "type": "Divided",
                "dynamic": "AvailableCapacity",
                "weights": [{"cluster": "east", "weight": 1}],
            }
        },
        "spec.replicaScheduling.dynamic",
        "not both",
    ),
    (
        "wp-weights-duplicate",
        api.KIND_PLACEMENT,
        None,
        {
            "replicaScheduling": {
                "type": "Divided",
                "weights": [{"cluster": "east", "weight": 1}, {"cluster": "east", "weight": 2}],
            }
        },
        "spec.replicaScheduling.weights[1]",
        "Duplicate value",
    ),
    (
        "wp-weight-negative",
        api.KIND_PLACEMENT,
        None,
        {"replicaScheduling": {"type": "Divided", "weights": [{"cluster": "east", "weight": -1}]}},
        "spec.replicaScheduling.weights[0].weight",
        "greater than or equal to 0",
    ),
    (
        "wp-maxskew-at-least-1",
        api.KIND_PLACEMENT,
        None,
        {"spreadConstraints": [{"topologyKey": "location", "maxSkew": 0}]},
        "spec.spreadConstraints[0].maxSkew",
        "greater than or equal to 1",
    ),
    (
        "wp-maxgroups-ge-mingroups",
        api.KIND_PLACEMENT,
        None,
        {"spreadConstraints": [{"topologyKey": "location", "minGroups": 3, "maxGroups": 2}]},
        "spec.spreadConstraints[0].maxGroups",
        "minGroups",
    ),
    (
        "wp-topologykey-required",
        api.KIND_PLACEMENT,
        None,
        {"spreadConstraints": [{"maxSkew": 2}]},
        "spec.spreadConstraints[0].topologyKey",
        "Required value",
    ),
    (
        "wp-number-of-clusters-at-least-1",
        api.KIND_PLACEMENT,
        None,
        {"numberOfClusters": 0},
        "spec.numberOfClusters",
        "greater than or equal to 1",
    ),
    (
        "wp-number-of-clusters-type",
        api.KIND_PLACEMENT,
        None,
        {"numberOfClusters": "two"},
        "spec.numberOfClusters",
        "must be of type integer",
    ),
    (
        "wp-toleration-effect-enum",
        api.KIND_PLACEMENT,
        None,
        {"tolerations": [{"key": "gpu", "effect": "Sometimes"}]},
        "spec.tolerations[0].effect",
        "Unsupported value",
    ),
    (
        "wp-toleration-seconds-only-noexecute",
        api.KIND_PLACEMENT,
        None,
        {"tolerations": [{"key": "gpu", "effect": "NoSchedule", "tolerationSeconds": 30}]},
        "spec.tolerations[0].tolerationSeconds",
        "only allowed with effect NoExecute",
    ),
    (
        "wp-toleration-exists-no-value",
        api.KIND_PLACEMENT,
        None,
        {"tolerations": [{"key": "gpu", "operator": "Exists", "value": "a100"}]},
        "spec.tolerations[0].value",
        "must be empty when operator is Exists",
    ),
    (
        "wp-toleration-key-unless-exists",
        api.KIND_PLACEMENT,
        None,
        {"tolerations": [{"value": "a100"}]},
        "spec.tolerations[0].key",
        "required unless operator is Exists",
    ),
    (
        "wp-override-needs-clusters",
        api.KIND_PLACEMENT,
        None,
        {"overrides": [{"image": {"tag": "1.2.3"}}]},
        "spec.overrides[0].clusters",
        "clusters or a clusterSelector",
    ),
    (
        "wp-override-needs-a-change",
        api.KIND_PLACEMENT,
        None,
        {"overrides": [{"clusters": ["east"]}]},
        "spec.overrides[0].jsonPatch",
        "jsonPatch, mergePatch, image",
    ),
    (
        "wp-override-image-empty",
        api.KIND_PLACEMENT,
        None,
        {"overrides": [{"clusters": ["east"], "image": {}}]},
        "spec.overrides[0].image",
        "registry, repository, tag",
    ),
    (
        "wp-jsonpatch-move-needs-from",
        api.KIND_PLACEMENT,
        None,
        {"overrides": [{"clusterSelector": SELECTOR, "jsonPatch": [{"op": "move", "path": "/spec/x"}]}]},
        "spec.overrides[0].jsonPatch[0].from",
        "from is required",
    ),
    (
        "wp-selector-in-needs-values",
        api.KIND_PLACEMENT,
        None,
        {"clusterSelector": {"matchExpressions": [{"key": "env", "operator": "In"}]}},
        "spec.clusterSelector.matchExpressions[0].values",
        "non-empty",
    ),
    (
        "wp-selector-operator-enum",
        api.KIND_PLACEMENT,
        None,
        {"clusterSelector": {"matchExpressions": [{"key": "env", "operator": "Gt", "values": ["1"]}]}},
        "spec.clusterSelector.matchExpressions[0].operator",
        "Unsupported value",
    ),
    (
        "wp-prioritizer-name-enum",
        api.KIND_PLACEMENT,
        None,
        {"prioritizers": [{"name": "Random"}]},
        "spec.prioritizers[0].name",
        "Unsupported value",
    ),
    (
        "wp-prioritizer-weight-max",
        api.KIND_PLACEMENT,
        None,
        {"prioritizers": [{"name": "Balance", "weight": 101}]},
        "spec.prioritizers[0].weight",
        "less than or equal to 100",
    ),
    (
        "wp-deletion-policy-enum",
        api.KIND_PLACEMENT,
        None,
        {"deletionPolicy": "Keep"},
        "spec.deletionPolicy",
        "Unsupported value",
    ),
    # SyncWork
    (
        "sw-source-required",
        api.KIND_SYNCWORK,
        None,
        {"cluster": "east", "manifest": MANIFEST},
        "spec.source",
        "Required value",
    ),
    (
        "sw-cluster-dns-label",
        api.KIND_SYNCWORK,
        None,
        {"cluster": "East_1", "source": SOURCE, "manifest": MANIFEST},
        "spec.cluster",
        "should match",
    ),
    (
        "sw-manifest-matches-source",
        api.KIND_SYNCWORK,
        None,
        {"cluster": "east", "source": SOURCE, "manifest": {**MANIFEST, "kind": "StatefulSet"}},
        "spec.manifest",
        "spec.source",
    ),
    (
        "sw-manifest-needs-kind",
        api.KIND_SYNCWORK,
        None,
        {"cluster": "east", "source": SOURCE, "manifest": {"apiVersion": "apps/v1", "metadata": {"name": "web"}}},
        "spec.manifest.kind",
        "Required value",
    ),
]


@pytest.mark.parametrize(
    ("kind", "name", "spec", "field", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in INVALID],
)
def test_invalid_spec_is_refused_naming_the_field(objects, kind, name, spec, field, words):
    body = {"metadata": {"name": name or _name("bad")}, "spec": spec}
    with pytest.raises(ApiException) as refused:
        objects(kind, body)
    exc = refused.value
    assert exc.status == 422, exc.body
    status = json.loads(exc.body)
    message = status["message"]
    assert field in message, message
    assert words in message, message
    causes = [c.get("field") for c in status.get("details", {}).get("causes", [])]
    assert field in causes, causes


def test_enough_rules_are_covered():
    assert len(INVALID) >= 12
    assert {case[1] for case in INVALID} == {api.KIND_CLUSTER, api.KIND_PLACEMENT, api.KIND_SYNCWORK}


# ---------------------------------------------------------------- valid specs, defaults


def test_minimal_cluster_registration_gets_defaults(objects):
    created = objects(api.KIND_CLUSTER, {"metadata": {"name": _name("east")}, "spec": {"syncMode": "Pull"}})
    spec = created["spec"]
    assert spec == {"syncMode": "Pull", "unschedulable": False}
    credentials = {"name": "east-credentials", "namespace": "tmc-system"}
    pushed = objects(
        api.KIND_CLUSTER, {"metadata": {"name": _name("east")}, "spec": {"credentialsSecretRef": credentials}}
    )
    assert pushed["spec"] == {"syncMode": "Push", "unschedulable": False, "credentialsSecretRef": credentials}


def test_full_cluster_registration_is_accepted(objects):
    name = "c" * 42 + _name("")  # 51 characters, the longest name allowed
    assert len(name) == 51
    body = {
        "metadata": {"name": name, "labels": {"env": "prod", "region": "us"}},
        "spec": {
            "location": "us-east",
            "endpoint": "https://10.0.0.1:6443",
            "credentialsSecretRef": {"name": "east-kubeconfig", "namespace": "tmc-system"},
            "taints": [
                {"key": "gpu", "value": "a100", "effect": "NoSchedule"},
                {"key": "gpu", "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z"},
            ],
            "capacity": {"cpu": 64, "memory": "256Gi", "pods": 500},
            "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]},
        },
    }
    created = objects(api.KIND_CLUSTER, body)
    read = objects.custom.get_cluster_custom_object(api.GROUP, api.VERSION, api.PLURAL_CLUSTER, name)
    assert read["spec"]["syncMode"] == "Push"
    assert read["spec"]["unschedulable"] is False
    assert read["spec"]["capacity"] == {"cpu": 64, "memory": "256Gi", "pods": 500}
    assert read["spec"]["taints"] == body["spec"]["taints"]
    assert created["metadata"]["uid"] == read["metadata"]["uid"]


def test_minimal_workload_placement_gets_defaults(objects):
    created = objects(api.KIND_PLACEMENT, {"metadata": {"name": _name("all")}})
    read = objects.custom.get_namespaced_custom_object(
        api.GROUP, api.VERSION, objects.namespace, api.PLURAL_PLACEMENT, created["metadata"]["name"]
    )
    spec = read["spec"]
    assert spec["resources"] == [{"group": g, "kind": k} for g, k in api.DEFAULT_RESOURCES]
    assert spec["replicaScheduling"] == {"type": "Duplicated"}
    assert spec["propagateDependencies"] is False
    assert spec["deletionPolicy"] == "Delete"


def test_full_workload_placement_gets_nested_defaults(objects):
    body = {
        "metadata": {"name": _name("web")},
        "spec": {
            "workloadSelector": {"matchLabels": {"app": "web"}},
            "resources": [{"group": "apps", "kind": "Deployment"}, {"kind": "Service"}],
            "clusterSelector": {
                "matchLabels": {"env": "prod"},
                "matchExpressions": [{"key": "region", "operator": "In", "values": ["us", "eu"]}],
            },
            "locations": ["us-east", "eu-west"],
            "predicates": ["cluster.allocatable.cpu >= 8.0"],
            "numberOfClusters": 2,
            "spreadConstraints": [{"topologyKey": "location", "minGroups": 2, "maxGroups": 2}],
            "replicaScheduling": {
                "type": "Divided",
                "weights": [{"cluster": "east", "weight": 2}, {"cluster": "west", "weight": 1}],
            },
            "tolerations": [
                {"key": "gpu", "value": "a100", "effect": "NoSchedule"},
                {
                    "key": "tmc.kcp.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
            "prioritizers": [{"name": "Steady", "weight": 10}, {"name": "Balance"}],
            "overrides": [
                {"clusters": ["west"], "image": {"registry": "registry.eu.example.com", "tag": "1.2.3"}},
                {
                    "clusterSelector": {"matchLabels": {"region": "us"}},
                    "jsonPatch": [
                        {"op": "replace", "path": "/spec/replicas", "value": 5},
                        {"op": "copy", "from": "/metadata/labels", "path": "/spec/template/metadata/labels"},
                    ],
                    "mergePatch": {"metadata": {"annotations": {"region": "us"}}},
                },
            ],
            "propagateDependencies": True,
            "deletionPolicy": "Orphan",
        },
    }
    created = objects(api.KIND_PLACEMENT, body)
    spec = created["spec"]
    assert spec["resources"][1] == {"group": "", "kind": "Service"}
    assert spec["spreadConstraints"][0]["maxSkew"] == 1
    assert spec["tolerations"][0]["operator"] == "Equal"
    assert spec["prioritizers"][1] == {"name": "Balance", "weight": 1}
    assert spec["overrides"][1]["jsonPatch"][0]["value"] == 5
    assert spec["overrides"][1]["mergePatch"] == {"metadata": {"annotations": {"region": "us"}}}
    assert spec["deletionPolicy"] == "Orphan"


def test_dynamic_division_is_accepted(objects):
    created = objects(
        api.KIND_PLACEMENT,
        {
            "metadata": {"name": _name("dyn")},
            "spec": {"replicaScheduling": {"type": "Divided", "dynamic": "AvailableCapacity"}},
        },
    )
    assert created["spec"]["replicaScheduling"] == {"type": "Divided", "dynamic": "AvailableCapacity"}


def test_syncwork_keeps_the_manifest_and_gets_defaults(objects):
    manifest = {
        **MANIFEST,
        "metadata": {"name": "web", "namespace": "team-a", "labels": {api.LABEL_MANAGED: "true"}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
    }
    body = {
        "metadata": {"name": _name("web"), "labels": {api.LABEL_CLUSTER: CLUSTER}},
        "spec": {
            "cluster": CLUSTER,
            "manifest": manifest,
            "source": {**SOURCE, "uid": str(uuid.uuid4()), "generation": 4},
            "placement": "web",
        },
    }
    created = objects(api.KIND_SYNCWORK, body)
    assert created["spec"]["deletionPolicy"] == "Delete"
    assert created["spec"]["manifest"] == manifest
    assert created["spec"]["source"]["generation"] == 4


def test_status_is_a_subresource_and_is_validated(objects):
    name = _name("status")
    objects(api.KIND_PLACEMENT, {"metadata": {"name": name}})
    custom = objects.custom
    status = {
        "observedGeneration": 1,
        "decisions": [{"cluster": "east", "weight": 1, "replicas": 2, "reason": "Selected"}],
        "conditions": [
            {
                "type": "Scheduled",
                "status": "True",
                "reason": "Scheduled",
                "message": "1 cluster",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
        "summary": [{"cluster": "east", "applied": 1, "available": 1, "degraded": 0}],
    }
    patched = custom.patch_namespaced_custom_object_status(
        api.GROUP, api.VERSION, objects.namespace, api.PLURAL_PLACEMENT, name, {"status": status}
    )
    assert patched["status"] == status
    bad = copy.deepcopy(status)
    bad["conditions"][0]["status"] = "Maybe"
    with pytest.raises(ApiException) as refused:
        custom.patch_namespaced_custom_object_status(
            api.GROUP, api.VERSION, objects.namespace, api.PLURAL_PLACEMENT, name, {"status": bad}
        )
    assert refused.value.status == 422
    assert "status.conditions[0].status" in json.loads(refused.value.body)["message"]


def test_printer_columns_are_served(objects):
    objects(
        api.KIND_CLUSTER, {"metadata": {"name": _name("cols")}, "spec": {"location": "us-east", "syncMode": "Pull"}}
    )
    expected = {
        api.PLURAL_CLUSTER: ["Name", "Location", "Ready", "Sync", "Age"],
        api.PLURAL_PLACEMENT: ["Name", "Clusters", "Scheduled", "Reason", "Available", "Age"],
        api.PLURAL_SYNCWORK: ["Name", "Cluster", "Kind", "Source", "Applied", "Available", "Reason", "Age"],
    }
    for plural, columns in expected.items():
        data = objects.custom.list_cluster_custom_object(
            api.GROUP,
            api.VERSION,
            plural,
            _headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
            _request_timeout=TIMEOUT,
        )
        assert data["kind"] == "Table", data.get("kind")
        shown = [c["name"] for c in data["columnDefinitions"] if c["priority"] == 0]
        assert shown == columns, plural


def test_short_names_and_category_are_discoverable(hub_api_client, crds):
    resources = client.CustomObjectsApi(hub_api_client).get_api_resources(api.GROUP, api.VERSION)
    found = {r.name: r for r in resources.resources}
    for plural, short in (
        (api.PLURAL_CLUSTER, "creg"),
        (api.PLURAL_PLACEMENT, "wp"),
        (api.PLURAL_SYNCWORK, "sw"),
    ):
        assert found[plural].short_names == [short]
        assert found[plural].categories == ["tmc"]
    assert f"{api.PLURAL_SYNCWORK}/status" in found


# ---------------------------------------------------------------- the reference pages' examples

DOCS = REPO / "docs" / "api-reference"


def _doc_examples():
    for page in ("clusterregistration", "workloadplacement", "syncwork"):
        text = (DOCS / f"{page}.md").read_text()
        for index, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, re.S)):
            doc = yaml.safe_load(block)
            if isinstance(doc, dict) and doc.get("apiVersion") == api.API_VERSION:
                yield pytest.param(doc, id=f"{page}-{index}")


@pytest.mark.parametrize("example", list(_doc_examples()))
def test_reference_page_example_is_accepted(objects, example):
    body = copy.deepcopy(example)
    kind = body.pop("kind")
    body.pop("apiVersion")
    body["metadata"].pop("finalizers", None)  # nothing would remove it here
    if kind != api.KIND_CLUSTER:
        body["metadata"]["namespace"] = objects.namespace
    if kind == api.KIND_SYNCWORK:
        body["spec"]["cluster"] = CLUSTER  # the cluster of objects.namespace
    body["metadata"]["name"] = _name(body["metadata"]["name"].split(".")[0])[:51]
    created = objects(kind, body)
    assert created["metadata"]["uid"]
