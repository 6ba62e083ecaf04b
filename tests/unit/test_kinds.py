"""The registry of synced kinds (plugins/module_utils/kinds.py) and the layers that read it.

Adding a kind is one KindSpec; these tests say what each field makes the engine do, and that
the tables kept outside Python (the roles' RBAC plurals) agree with the registry.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kinds, render, status
from ansible_collections.tmc.multicluster.plugins.module_utils.render import strip

REPO = Path(__file__).resolve().parents[2]
WITH_REPLICAS = [k for k in kinds.KINDS if k.replicas]
WITH_POD_SPEC = [k for k in kinds.KINDS if k.pod_spec]


def _obj(kind_spec: kinds.KindSpec, name: str = "x", **fields) -> dict:
    meta = {"name": name, "uid": "u-1", **({"namespace": "shop"} if kind_spec.namespaced else {})}
    return {"apiVersion": kind_spec.api_version, "kind": kind_spec.kind, "metadata": meta, **fields}


def _nest(path: tuple[str, ...], value) -> dict:
    for key in reversed(path):
        value = {key: value}
    return value


def test_one_entry_per_group_and_kind_with_a_lowercase_plural():
    keys = [(k.group, k.kind) for k in kinds.KINDS]
    assert len(keys) == len(set(keys))
    for spec in kinds.KINDS:
        assert spec.plural == spec.plural.lower() and spec.plural.endswith("s")
        assert kinds.spec_for(spec.kind, spec.api_version) is spec


def test_the_default_resources_are_the_documented_eight():
    assert kinds.DEFAULT_RESOURCES == api.DEFAULT_RESOURCES
    assert set(kinds.DEFAULT_RESOURCES) == {
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
        ("", "Service"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("networking.k8s.io", "Ingress"),
    }


def test_a_kind_of_another_group_is_not_taken_for_a_known_one():
    assert kinds.spec_for("Job", "example.com/v1") is None
    assert kinds.spec_for("Deployment", "apps/v1").replicas == ("spec", "replicas")


@pytest.mark.parametrize("spec", [k for k in kinds.KINDS if k.strip], ids=lambda k: k.kind)
def test_every_strip_rule_a_kind_names_exists(spec):
    assert set(spec.strip) <= set(strip.RULES)


@pytest.mark.parametrize("spec", WITH_REPLICAS, ids=lambda k: k.kind)
def test_a_divided_share_lands_on_the_kinds_replica_path(spec):
    source = _obj(spec, **_nest(spec.replicas, 9))
    manifest = render.render_manifest(source, "member1", replicas=3)
    assert kinds.replica_count(manifest) == 3


def test_a_share_leaves_a_kind_without_replicas_alone():
    source = _obj(kinds.spec_for("ConfigMap"), data={"a": "b"})
    assert "spec" not in render.render_manifest(source, "member1", replicas=3)


@pytest.mark.parametrize("spec", WITH_POD_SPEC, ids=lambda k: k.kind)
def test_dependencies_are_found_where_the_kind_keeps_its_pod_spec(spec):
    pod = {"containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "settings"}}]}]}
    source = _obj(spec, **_nest(spec.pod_spec, pod))
    assert render.dependencies(source) == {("ConfigMap", "settings")}


@pytest.mark.parametrize("spec", [k for k in kinds.KINDS if k.counters], ids=lambda k: k.kind)
def test_a_kinds_counters_come_back_from_members_and_are_summed(spec):
    counts = {key: 2 for key in spec.counters}
    obj = _obj(spec, status={**counts, "unknownField": 7})
    assert {k: v for k, v in status.downstream_status(obj).items() if k in counts} == counts
    assert "unknownField" not in status.downstream_status(obj)
    summed = status.aggregate_status(spec.kind, {"a": counts, "b": counts}, "2024-01-01T00:00:00Z")
    assert {k: summed[k] for k in spec.counters} == {key: 4 for key in spec.counters}


@pytest.mark.parametrize("spec", [k for k in kinds.KINDS if k.observed_generation], ids=lambda k: k.kind)
def test_observed_generation_is_the_hubs_for_kinds_that_have_it(spec):
    out = status.aggregate_status(spec.kind, {"a": {"observedGeneration": 40}}, "2024-01-01T00:00:00Z", generation=3)
    assert out["observedGeneration"] == 3


@pytest.mark.parametrize(
    ("kind", "name", "extra", "self_made"),
    [
        ("ServiceAccount", "default", {}, True),
        ("ServiceAccount", "app", {}, False),
        ("ConfigMap", "kube-root-ca.crt", {}, True),
        ("ConfigMap", "settings", {}, False),
        ("Secret", "app-token-x", {"type": "kubernetes.io/service-account-token"}, True),
        ("Secret", "default", {"type": "Opaque"}, False),
        ("Deployment", "default", {}, False),
    ],
)
def test_the_objects_a_cluster_makes_for_itself(kind, name, extra, self_made):
    assert kinds.is_self_made(_obj(kinds.spec_for(kind), name, **extra)) is self_made


def test_an_autoscalers_target():
    hpa = _obj(
        kinds.spec_for("HorizontalPodAutoscaler"),
        spec={"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}},
    )
    assert kinds.scale_target(hpa) == ("apps", "Deployment", "web")
    assert kinds.scale_target(_obj(kinds.spec_for("Deployment"))) is None


def test_only_secrets_are_sealed():
    assert [k.kind for k in kinds.KINDS if k.sealed] == ["Secret"]


@pytest.mark.parametrize("role", ["controller", "syncer"])
def test_the_roles_plurals_agree_with_the_registry(role):
    table = yaml.safe_load((REPO / "roles" / role / "vars" / "main.yml").read_text())[f"_{role}_plurals"]
    registry = {k.kind: k.plural for k in kinds.KINDS}
    assert {kind: registry[kind] for kind in table} == table


def test_the_controller_role_grants_status_on_the_aggregated_kinds():
    table = yaml.safe_load((REPO / "roles" / "controller" / "vars" / "main.yml").read_text())
    assert set(table["_controller_status_kinds"]) == {k.kind for k in kinds.KINDS if k.aggregated}
