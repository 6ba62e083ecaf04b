"""The hub's CRDs and ClusterRoles, checked as files: structure, names, contract.

Pure tests over roles/hub/files; no cluster. What the API server itself accepts
and refuses is tested in tests/integration/test_crd_validation.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.tmc.multicluster.plugins.module_utils import api

REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "roles" / "hub" / "files"
CONTRACT = REPO / "docs" / "api-reference" / "contract.md"

CRD_FILES = {
    api.KIND_CLUSTER: FILES / "crds" / "clusterregistrations.yaml",
    api.KIND_PLACEMENT: FILES / "crds" / "workloadplacements.yaml",
    api.KIND_SYNCWORK: FILES / "crds" / "syncworks.yaml",
}
PLURALS = {
    api.KIND_CLUSTER: api.PLURAL_CLUSTER,
    api.KIND_PLACEMENT: api.PLURAL_PLACEMENT,
    api.KIND_SYNCWORK: api.PLURAL_SYNCWORK,
}
SHORT_NAMES = {api.KIND_CLUSTER: "creg", api.KIND_PLACEMENT: "wp", api.KIND_SYNCWORK: "sw"}
SCOPES = {api.KIND_CLUSTER: "Cluster", api.KIND_PLACEMENT: "Namespaced", api.KIND_SYNCWORK: "Namespaced"}
# Columns shown by a plain `kubectl get` (priority 0), in order.
COLUMNS = {
    api.KIND_CLUSTER: ["Location", "Ready", "Sync", "Age"],
    api.KIND_PLACEMENT: ["Clusters", "Scheduled", "Reason", "Available", "Age"],
    api.KIND_SYNCWORK: ["Cluster", "Kind", "Source", "Applied", "Available", "Reason", "Age"],
}
KINDS = list(CRD_FILES)

# Fields below the contract's top-level bullets, as paths into the schema
# ("[]" steps into list items). The top-level paths are read from contract.md.
NESTED_FIELDS = {
    api.KIND_CLUSTER: [
        "spec.credentialsSecretRef.name",
        "spec.credentialsSecretRef.namespace",
        "spec.taints[].key",
        "spec.taints[].value",
        "spec.taints[].effect",
        "spec.taints[].timeAdded",
        "spec.capacity.cpu",
        "spec.capacity.memory",
        "spec.capacity.pods",
        "spec.namespaceSelector.matchLabels",
        "spec.namespaceSelector.matchExpressions[].key",
        "spec.namespaceSelector.matchExpressions[].operator",
        "spec.namespaceSelector.matchExpressions[].values",
        "status.conditions[].type",
        "status.conditions[].status",
        "status.allocatable.cpu",
        "status.allocatable.memory",
        "status.allocatable.pods",
        "status.capacity.cpu",
        "status.capacity.memory",
        "status.capacity.pods",
        "status.taints[].key",
        "status.taints[].value",
        "status.taints[].effect",
        "status.taints[].timeAdded",
        "status.sealing.keyID",
        "status.sealing.publicKey",
        "status.sealing.rotation",
    ],
    api.KIND_PLACEMENT: [
        "spec.workloadSelector.matchLabels",
        "spec.workloadSelector.matchExpressions[].key",
        "spec.resources[].group",
        "spec.resources[].kind",
        "spec.clusterSelector.matchLabels",
        "spec.clusterSelector.matchExpressions[].key",
        "spec.clusterSelector.matchExpressions[].operator",
        "spec.clusterSelector.matchExpressions[].values",
        "spec.clusterAffinities[].name",
        "spec.clusterAffinities[].clusterSelector.matchLabels",
        "spec.clusterAffinities[].clusterSelector.matchExpressions[].key",
        "spec.clusterAffinities[].locations",
        "spec.spreadConstraints[].topologyKey",
        "spec.spreadConstraints[].maxSkew",
        "spec.spreadConstraints[].minGroups",
        "spec.spreadConstraints[].maxGroups",
        "spec.replicaScheduling.type",
        "spec.replicaScheduling.weights[].cluster",
        "spec.replicaScheduling.weights[].weight",
        "spec.replicaScheduling.dynamic",
        "spec.replicaScheduling.retainReplicas",
        "spec.tolerations[].key",
        "spec.tolerations[].operator",
        "spec.tolerations[].value",
        "spec.tolerations[].effect",
        "spec.tolerations[].tolerationSeconds",
        "spec.prioritizers[].name",
        "spec.prioritizers[].weight",
        "spec.overrides[].clusterSelector.matchLabels",
        "spec.overrides[].clusters",
        "spec.overrides[].jsonPatch[].op",
        "spec.overrides[].jsonPatch[].path",
        "spec.overrides[].jsonPatch[].value",
        "spec.overrides[].jsonPatch[].from",
        "spec.overrides[].mergePatch",
        "spec.overrides[].image.registry",
        "spec.overrides[].image.repository",
        "spec.overrides[].image.tag",
        "status.decisions[].cluster",
        "status.decisions[].weight",
        "status.decisions[].replicas",
        "status.decisions[].reason",
        "status.conditions[].type",
        "status.shortfalls[].workload",
        "status.shortfalls[].message",
        "status.summary[].cluster",
        "status.summary[].applied",
        "status.summary[].available",
        "status.summary[].degraded",
    ],
    api.KIND_SYNCWORK: [
        "spec.source.apiVersion",
        "spec.source.kind",
        "spec.source.namespace",
        "spec.source.name",
        "spec.source.uid",
        "spec.source.generation",
        "spec.sealed.algorithm",
        "spec.sealed.recipient",
        "spec.sealed.ephemeralKey",
        "spec.sealed.nonce",
        "spec.sealed.ciphertext",
        "spec.sealed.sourceResourceVersion",
        "status.conditions[].type",
    ],
}

# Enums and defaults exactly as contract.md states them.
ENUMS = {
    api.KIND_CLUSTER: {
        "spec.syncMode": ["Push", "Pull"],
        "spec.taints[].effect": ["NoSchedule", "NoExecute"],
        "status.taints[].effect": ["NoSchedule", "NoExecute"],
    },
    api.KIND_PLACEMENT: {
        "spec.clusterSelector.matchExpressions[].operator": ["In", "NotIn", "Exists", "DoesNotExist"],
        "spec.replicaScheduling.type": ["Duplicated", "Divided"],
        "spec.replicaScheduling.dynamic": ["AvailableCapacity"],
        "spec.tolerations[].operator": ["Equal", "Exists"],
        "spec.tolerations[].effect": ["", "NoSchedule", "NoExecute"],
        "spec.prioritizers[].name": ["Balance", "Steady", "Capacity"],
        "spec.deletionPolicy": ["Delete", "Orphan"],
    },
    api.KIND_SYNCWORK: {"spec.deletionPolicy": ["Delete", "Orphan"]},
}
DEFAULTS = {
    api.KIND_CLUSTER: {"spec.syncMode": "Push", "spec.unschedulable": False},
    api.KIND_PLACEMENT: {
        "spec.resources": [{"group": g, "kind": k} for g, k in api.DEFAULT_RESOURCES],
        "spec.spreadConstraints[].maxSkew": 1,
        "spec.replicaScheduling.type": "Duplicated",
        "spec.tolerations[].operator": "Equal",
        "spec.prioritizers[].weight": 1,
        "spec.propagateDependencies": False,
        "spec.deletionPolicy": "Delete",
    },
    api.KIND_SYNCWORK: {"spec.deletionPolicy": "Delete"},
}


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module", params=KINDS)
def kind(request):
    return request.param


def crd_of(kind: str) -> dict:
    docs = load_all(CRD_FILES[kind])
    assert len(docs) == 1, f"{CRD_FILES[kind].name} must hold exactly one document"
    return docs[0]


def version_of(kind: str) -> dict:
    (version,) = crd_of(kind)["spec"]["versions"]
    return version


def schema_of(kind: str) -> dict:
    return version_of(kind)["schema"]["openAPIV3Schema"]


def node_at(schema: dict, path: str) -> dict:
    """The schema node of a dotted path such as spec.taints[].key."""
    node = schema
    for step in path.split("."):
        is_list = step.endswith("[]")
        name = step[:-2] if is_list else step
        props = node.get("properties") or {}
        assert name in props, f"{path}: no property {name!r}"
        node = props[name]
        if is_list:
            assert node.get("type") == "array", f"{path}: {name} is not a list"
            node = node["items"]
    return node


def walk(node: dict, path: str = ""):
    """Yield (path, node) for every schema node below and including node."""
    yield path, node
    for name, prop in (node.get("properties") or {}).items():
        yield from walk(prop, f"{path}.{name}" if path else name)
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def contract_paths() -> dict[str, set[str]]:
    """Field paths (spec.x, status.y, with [] for lists) named by contract.md's bullets, per kind."""
    paths: dict[str, set[str]] = {}
    current = None
    for line in CONTRACT.read_text().splitlines():
        heading = re.match(r"^## (\w+)", line)
        if heading:
            current = heading.group(1)
            paths[current] = set()
            continue
        if line.startswith("### "):
            current = None
        if current and line.startswith("- "):
            for match in re.finditer(r"\b((?:spec|status)(?:\.\w+)+)(\[\])?", line):
                paths[current].add(match.group(1) + (match.group(2) or ""))
    return paths


# ---------------------------------------------------------------- identity


def test_contract_names_the_three_kinds():
    assert set(contract_paths()) == set(KINDS)


def test_crd_identity(kind):
    crd = crd_of(kind)
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{PLURALS[kind]}.{api.GROUP}"
    spec = crd["spec"]
    assert spec["group"] == api.GROUP
    assert spec["scope"] == SCOPES[kind]
    names = spec["names"]
    assert names["kind"] == kind
    assert names["listKind"] == kind + "List"
    assert names["plural"] == PLURALS[kind]
    assert names["singular"] == kind.lower()
    assert names["shortNames"] == [SHORT_NAMES[kind]]
    assert names["categories"] == ["tmc"]


def test_one_served_storage_version_with_status(kind):
    version = version_of(kind)
    assert version["name"] == api.VERSION
    assert version["served"] is True
    assert version["storage"] is True
    assert version["subresources"] == {"status": {}}


def test_printer_columns(kind):
    columns = version_of(kind)["additionalPrinterColumns"]
    default_columns = [c["name"] for c in columns if not c.get("priority")]
    assert default_columns == COLUMNS[kind]
    age = next(c for c in columns if c["name"] == "Age")
    assert age == {**age, "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    schema = schema_of(kind)
    for column in columns:
        assert column["type"] in {"string", "integer", "number", "boolean", "date"}
        assert column.get("description"), f"column {column['name']} needs a description"
        path = column["jsonPath"]
        if path.startswith(".metadata."):
            continue
        # .status.conditions[?(@.type=="Ready")].status -> status.conditions[].status
        field = re.sub(r"\[\?\(@\.type==\"\w+\"\)\]", "[]", path.lstrip("."))
        node_at(schema, field)


def test_selectable_fields_exist(kind):
    for field in version_of(kind).get("selectableFields", []):
        node = node_at(schema_of(kind), field["jsonPath"].lstrip("."))
        assert node.get("type") in {"string", "integer", "boolean"}


# ---------------------------------------------------------------- structural schema


def test_schema_is_structural(kind):
    """Every node is typed (or int-or-string, or explicitly free-form); objects say what they hold."""
    schema = schema_of(kind)
    assert schema["type"] == "object"
    assert schema["properties"]["metadata"]["type"] == "object"
    for path, node in walk(schema):
        where = f"{kind} {path or '<root>'}"
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node, where
            assert node.get("anyOf") == [{"type": "integer"}, {"type": "string"}], where
            continue
        if "type" not in node:
            assert node.get("x-kubernetes-preserve-unknown-fields") is True, f"{where}: no type"
            assert not node.get("properties") and not node.get("items"), where
            continue
        assert node["type"] in {"object", "array", "string", "integer", "number", "boolean"}, where
        if node["type"] == "object" and path != "metadata":
            free_form = node.get("x-kubernetes-preserve-unknown-fields") is True
            assert node.get("properties") or node.get("additionalProperties") or free_form, (
                f"{where}: an object needs properties, additionalProperties or x-kubernetes-preserve-unknown-fields"
            )
        if node["type"] == "array":
            assert isinstance(node.get("items"), dict), f"{where}: an array needs items"
            assert node.get("x-kubernetes-list-type") in {"atomic", "set", "map"}, where
            if node["x-kubernetes-list-type"] == "map":
                keys = node["x-kubernetes-list-map-keys"]
                item = node["items"]
                for key in keys:
                    assert key in item.get("required", []) or "default" in item["properties"][key], (
                        f"{where}: list-map key {key} must be required or defaulted"
                    )
        for forbidden in ("$ref", "oneOf", "not", "additionalItems", "uniqueItems", "patternProperties"):
            assert forbidden not in node, f"{where}: {forbidden} is not allowed in a structural schema"


def test_every_field_has_a_description(kind):
    for path, node in walk(schema_of(kind)):
        if path == "metadata" or path.startswith("metadata."):
            continue  # the API server forbids anything on metadata but name and generateName
        assert node.get("description"), f"{kind} {path or '<root>'} needs a description"


def test_spec_is_bounded_for_the_cel_cost_budget(kind):
    """Lists and strings of the spec carry maxItems / maxLength, so CEL rules stay within budget."""
    for path, node in walk(schema_of(kind)["properties"]["spec"], "spec"):
        if node.get("type") == "array":
            assert isinstance(node.get("maxItems"), int), f"{kind} {path}: maxItems"
        if node.get("type") == "string":
            bounded = "maxLength" in node or "enum" in node or node.get("format") == "date-time"
            assert bounded, f"{kind} {path}: maxLength or enum"
        if node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
            assert isinstance(node.get("maxProperties"), int), f"{kind} {path}: maxProperties"


def test_validation_rules_are_well_formed(kind):
    reasons = {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}
    count = 0
    for path, node in walk(schema_of(kind)):
        for rule in node.get("x-kubernetes-validations", []):
            count += 1
            where = f"{kind} {path or '<root>'}: {rule['rule']}"
            assert rule.get("message") or rule.get("messageExpression"), f"{where}: message"
            assert rule.get("reason", "FieldValueInvalid") in reasons, where
            assert set(rule) <= {"rule", "message", "messageExpression", "fieldPath", "reason", "optionalOldSelf"}
            if "fieldPath" in rule:
                assert rule["fieldPath"].startswith("."), where
                node_at(node, rule["fieldPath"][1:])
    assert count > 0


def test_label_selectors_match_kubernetes_label_selector():
    selectors = [
        (api.KIND_CLUSTER, "spec.namespaceSelector"),
        (api.KIND_PLACEMENT, "spec.workloadSelector"),
        (api.KIND_PLACEMENT, "spec.clusterSelector"),
        (api.KIND_PLACEMENT, "spec.overrides[].clusterSelector"),
    ]
    for kind, path in selectors:
        node = node_at(schema_of(kind), path)
        assert node["type"] == "object"
        assert set(node["properties"]) == {"matchLabels", "matchExpressions"}, path
        assert node.get("x-kubernetes-map-type") == "atomic", path
        labels = node["properties"]["matchLabels"]
        assert labels["type"] == "object" and labels["additionalProperties"]["type"] == "string", path
        expressions = node["properties"]["matchExpressions"]
        assert expressions["type"] == "array", path
        item = expressions["items"]
        assert set(item["properties"]) == {"key", "operator", "values"}, path
        assert sorted(item["required"]) == ["key", "operator"], path
        assert item["properties"]["operator"]["enum"] == ["In", "NotIn", "Exists", "DoesNotExist"], path
        values = item["properties"]["values"]
        assert values["type"] == "array" and values["items"]["type"] == "string", path


def test_quantities_are_int_or_string():
    for kind, group in (
        (api.KIND_CLUSTER, "spec.capacity"),
        (api.KIND_CLUSTER, "status.allocatable"),
        (api.KIND_CLUSTER, "status.capacity"),
    ):
        for field in ("cpu", "memory", "pods"):
            node = node_at(schema_of(kind), f"{group}.{field}")
            assert node["x-kubernetes-int-or-string"] is True


def test_conditions_are_metav1_conditions(kind):
    conditions = node_at(schema_of(kind), "status.conditions")
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    item = conditions["items"]
    assert set(item["properties"]) == {
        "type",
        "status",
        "observedGeneration",
        "lastTransitionTime",
        "reason",
        "message",
    }
    assert item["properties"]["status"]["enum"] == ["True", "False", "Unknown"]


def test_syncwork_manifest_is_an_embedded_free_form_object():
    node = node_at(schema_of(api.KIND_SYNCWORK), "spec.manifest")
    assert node["type"] == "object"
    assert node["x-kubernetes-preserve-unknown-fields"] is True
    assert node["x-kubernetes-embedded-resource"] is True
    assert node_at(schema_of(api.KIND_SYNCWORK), "status.downstreamStatus")["x-kubernetes-preserve-unknown-fields"]


def test_list_map_keys_forbid_duplicates():
    weights = node_at(schema_of(api.KIND_PLACEMENT), "spec.replicaScheduling.weights")
    assert weights["x-kubernetes-list-type"] == "map"
    assert weights["x-kubernetes-list-map-keys"] == ["cluster"]


def test_cluster_registration_name_rule():
    schema = schema_of(api.KIND_CLUSTER)
    assert schema["properties"]["metadata"]["properties"]["name"]["maxLength"] == 63 - len(api.CLUSTER_NAMESPACE_PREFIX)
    rules = [r["rule"] for r in schema["x-kubernetes-validations"]]
    assert any("self.metadata.name" in r for r in rules)


# ---------------------------------------------------------------- contract


def test_every_contract_field_is_in_the_schema(kind):
    schema = schema_of(kind)
    paths = contract_paths()[kind]
    assert paths, f"no fields for {kind} found in contract.md"
    for path in sorted(paths | set(NESTED_FIELDS[kind])):
        node_at(schema, path)


def test_no_field_outside_the_contract(kind):
    """The schema adds no spec or status field that contract.md does not name."""
    named = set()
    for path in contract_paths()[kind] | set(NESTED_FIELDS[kind]):
        steps = path.replace("[]", "").split(".")
        named.update(".".join(steps[: i + 1]) for i in range(len(steps)))
    schema = schema_of(kind)
    for top in ("spec", "status"):
        for path, _node in walk(schema["properties"][top], top):
            if "{}" in path or path == top:
                continue
            plain = path.replace("[]", "")
            # selectors, conditions and quantity groups bring their own well-known sub-fields
            if plain in named or any(plain.startswith(n + ".") for n in named if _is_typed_group(n)):
                continue
            raise AssertionError(f"{kind}: {path} is not in contract.md")


def _is_typed_group(plain: str) -> bool:
    leaf = plain.rsplit(".", 1)[-1]
    return leaf in {
        "namespaceSelector",
        "workloadSelector",
        "clusterSelector",
        "conditions",
        "capacity",
        "allocatable",
        "matchExpressions",
    }


def test_enums_match_the_contract(kind):
    for path, values in ENUMS[kind].items():
        assert node_at(schema_of(kind), path)["enum"] == values, path


def test_defaults_match_the_contract(kind):
    for path, value in DEFAULTS[kind].items():
        assert node_at(schema_of(kind), path)["default"] == value, path


def test_defaults_validate_against_their_schema(kind):
    jsonschema = pytest.importorskip("jsonschema")

    def plain(node: dict) -> dict:
        keep = {k: v for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "default"}
        if "properties" in keep:
            keep["properties"] = {k: plain(v) for k, v in keep["properties"].items()}
        if isinstance(keep.get("items"), dict):
            keep["items"] = plain(keep["items"])
        if isinstance(keep.get("additionalProperties"), dict):
            keep["additionalProperties"] = plain(keep["additionalProperties"])
        keep.pop("format", None)
        return keep

    for _path, node in walk(schema_of(kind)):
        if "default" in node:
            jsonschema.validate(node["default"], plain(node))


# ---------------------------------------------------------------- ClusterRoles


def test_clusterroles_aggregate_and_carry_their_rules():
    """Tenant roles: placements to read (view) and write (edit, admin), registrations to read, and no
    SyncWork at all (docs/concepts/security.md)."""
    (documents,) = load_all(FILES / "clusterroles.yaml")  # one document: a list
    roles = {doc["metadata"]["name"]: doc for doc in documents}
    assert set(roles) == {"tmc-admin", "tmc-edit", "tmc-view"}
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    expected_labels = {
        "tmc-view": {"view", "edit", "admin"},
        "tmc-edit": {"edit", "admin"},
        "tmc-admin": {"admin"},
    }
    for name, role in roles.items():
        assert role["apiVersion"] == "rbac.authorization.k8s.io/v1" and role["kind"] == "ClusterRole"
        labels = role["metadata"]["labels"]
        targets = {k[len(aggregate) :] for k, v in labels.items() if k.startswith(aggregate) and v == "true"}
        assert targets == expected_labels[name], name
        assert "aggregationRule" not in role
        granted: dict[str, set[str]] = {}
        for rule in role["rules"]:
            assert rule["apiGroups"] == [api.GROUP]
            assert "resourceNames" not in rule
            for resource in rule["resources"]:
                granted.setdefault(resource, set()).update(rule["verbs"])
        assert not any(r.startswith(api.PLURAL_SYNCWORK) for r in granted), name
        writes = {"create", "update", "patch", "delete", "deletecollection"}
        assert not writes & granted.get(api.PLURAL_CLUSTER, set()), name
        assert not any(r.endswith("/status") and writes & v for r, v in granted.items()), name
        assert bool(writes & granted.get(api.PLURAL_PLACEMENT, set())) == (name != "tmc-view"), name
    view = {r for rule in roles["tmc-view"]["rules"] for r in rule["resources"]}
    assert view == {
        api.PLURAL_CLUSTER,
        api.PLURAL_PLACEMENT,
        api.PLURAL_CLUSTER + "/status",
        api.PLURAL_PLACEMENT + "/status",
    }


# ---------------------------------------------------------------- reference pages

PAGES = {
    api.KIND_CLUSTER: "clusterregistration.md",
    api.KIND_PLACEMENT: "workloadplacement.md",
    api.KIND_SYNCWORK: "syncwork.md",
}


def test_reference_page_documents_every_field_and_column(kind):
    text = (CONTRACT.parent / PAGES[kind]).read_text()
    for path in sorted(contract_paths()[kind] | set(NESTED_FIELDS[kind])):
        if ".conditions[]." in path:
            continue  # metav1.Condition's own fields
        leaf = path.rsplit(".", 1)[-1].removesuffix("[]")
        assert f"`{leaf}" in text or f".{leaf}`" in text or f"{leaf}`" in text, f"{PAGES[kind]}: {path}"
    for column in version_of(kind)["additionalPrinterColumns"]:
        assert f"| {column['name']} |" in text, f"{PAGES[kind]}: column {column['name']}"
    for path, values in ENUMS[kind].items():
        for value in values:
            if value:
                assert f"`{value}`" in text or f'"{value}"' in text, f"{PAGES[kind]}: {path} = {value}"
